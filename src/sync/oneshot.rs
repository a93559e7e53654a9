//! A oneshot channel: one value, sent once, from one task to another.
//!
//! ```
//! use pride::sync::oneshot;
//!
//! futures_lite::future::block_on(async {
//!     let (tx, rx) = oneshot::channel();
//!     std::thread::spawn(move || tx.send(42).unwrap());
//!     assert_eq!(rx.await, Ok(42));
//! });
//! ```
//!
//! There is one waiter on each side, so this needs no waiter list: the state is a
//! value slot and two wakers behind one lock.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::{Arc, Mutex};
// Wakers are woken after the lock is released through `WakeList`, as every primitive's
// are, so a panicking waker unwinds the same way everywhere.
use crate::sync::waiters::WakeList;

struct State<T> {
    value: Option<T>,
    /// The sender has sent or been dropped: no value will come any more.
    sender_done: bool,
    receiver_gone: bool,
    receiver_waker: Option<Waker>,
    sender_waker: Option<Waker>,
}

/// Makes a oneshot channel.
///
/// ```
/// pride::run(async {
///     let (tx, rx) = pride::sync::oneshot::channel();
///     pride::task_group(async |tg| {
///         tg.start_soon(async move {
///             let _ = tx.send(6 * 7);
///         });
///         assert_eq!(rx.await, Ok(42));
///     })
///     .await
///     .unwrap();
/// });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let state = Arc::new(Mutex::new(State {
        value: None,
        sender_done: false,
        receiver_gone: false,
        receiver_waker: None,
        sender_waker: None,
    }));
    (
        Sender {
            state: state.clone(),
        },
        Receiver { state },
    )
}

/// The sending half of a oneshot [`channel`].
///
/// ```
/// let (tx, mut rx) = pride::sync::oneshot::channel();
/// tx.send("done").unwrap();
/// assert_eq!(rx.try_recv(), Ok(Some("done")));
/// ```
pub struct Sender<T> {
    state: Arc<Mutex<State<T>>>,
}

impl<T> Sender<T> {
    /// Sends `value`; hands it back as `Err` if the receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(1), Err(1)); // handed back: nobody is listening
    /// ```
    pub fn send(self, value: T) -> Result<(), T> {
        let waker = {
            let mut state = self.state.lock();
            if state.receiver_gone {
                return Err(value);
            }
            state.value = Some(value);
            state.sender_done = true;
            state.receiver_waker.take()
        };
        WakeList::of(waker).wake();
        Ok(())
    }

    /// Whether the receiver is gone (a send would fail).
    ///
    /// ```
    /// let (tx, rx) = pride::sync::oneshot::channel::<u32>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.state.lock().receiver_gone
    }

    /// Waits until the receiver is gone: lets a producer stop early when nobody
    /// wants its answer any more.
    ///
    /// ```
    /// pride::run(async {
    ///     let (mut tx, rx) = pride::sync::oneshot::channel::<u64>();
    ///     drop(rx); // e.g. the caller gave up waiting
    ///     // A producer stops early instead of computing an unwanted answer.
    ///     tx.closed().await;
    ///     assert!(tx.is_closed());
    /// });
    /// ```
    pub fn closed(&mut self) -> ClosedFuture<'_, T> {
        ClosedFuture { sender: self }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.state.lock();
            if state.sender_done {
                return;
            }
            state.sender_done = true;
            state.receiver_waker.take()
        };
        WakeList::of(waker).wake();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender").finish_non_exhaustive()
    }
}

/// The future of [`Sender::closed`].
#[must_use = "futures do nothing unless awaited"]
pub struct ClosedFuture<'a, T> {
    sender: &'a mut Sender<T>,
}

impl<T> Future for ClosedFuture<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let mut state = self.sender.state.lock();
            if state.receiver_gone {
                return Poll::Ready(());
            }
            let replaced = store_waker(&mut state.sender_waker, cx.waker());
            drop(state);
            drop(replaced);
            crate::debug::task::waits(cx, crate::debug::task::WaitOn::Queue);
            Poll::Pending
        })
    }
}

impl<T> fmt::Debug for ClosedFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClosedFuture").finish_non_exhaustive()
    }
}

/// The receiving half of a oneshot [`channel`]: a future of the value.
///
/// It resolves to `Err(RecvError)` if the sender was dropped without sending (and so
/// does a poll after it resolved: the value is gone). Dropping it (cancelling the
/// wait) makes later sends fail and hand their value back.
///
/// ```
/// pride::run(async {
///     let (tx, rx) = pride::sync::oneshot::channel::<u32>();
///     drop(tx); // dropped without sending
///     assert!(rx.await.is_err());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Receiver<T> {
    state: Arc<Mutex<State<T>>>,
}

impl<T> Receiver<T> {
    /// Takes the value if it has been sent: `Ok(None)` if not yet, `Err` if it never
    /// will be (the sender was dropped without sending, or the value was already
    /// taken).
    ///
    /// ```
    /// let (tx, mut rx) = pride::sync::oneshot::channel();
    /// assert_eq!(rx.try_recv(), Ok(None)); // not yet
    /// tx.send(5).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(Some(5)));
    /// assert!(rx.try_recv().is_err()); // taken: no value will come
    /// ```
    pub fn try_recv(&mut self) -> Result<Option<T>, RecvError> {
        let mut state = self.state.lock();
        match state.value.take() {
            Some(value) => Ok(Some(value)),
            None if state.sender_done => Err(RecvError),
            None => Ok(None),
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let mut state = self.state.lock();
            if let Some(value) = state.value.take() {
                return Poll::Ready(Ok(value));
            }
            if state.sender_done {
                return Poll::Ready(Err(RecvError));
            }
            let replaced = store_waker(&mut state.receiver_waker, cx.waker());
            drop(state);
            drop(replaced);
            crate::debug::task::waits(cx, crate::debug::task::WaitOn::Queue);
            Poll::Pending
        })
    }
}

/// Makes `waker` the one in `slot` and returns the one it replaces, which the caller
/// drops after the lock: it may own the other end of this channel, whose drop takes
/// the lock.
fn store_waker(slot: &mut Option<Waker>, waker: &Waker) -> Option<Waker> {
    match slot {
        Some(stored) if stored.will_wake(waker) => None,
        _ => slot.replace(waker.clone()),
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (value, waker, own) = {
            let mut state = self.state.lock();
            state.receiver_gone = true;
            // Its own waker too: nothing will wake it now, and it may own the sender
            // (a cycle that would keep both alive).
            let own = state.receiver_waker.take();
            (state.value.take(), state.sender_waker.take(), own)
        };
        drop(value);
        drop(own);
        WakeList::of(waker).wake();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver").finish_non_exhaustive()
    }
}

/// No value will come from a oneshot channel: the sender was dropped without sending,
/// or the value was already received.
///
/// ```
/// use pride::sync::oneshot::{self, RecvError};
///
/// pride::run(async {
///     let (tx, rx) = oneshot::channel::<u32>();
///     drop(tx);
///     assert_eq!(rx.await, Err(RecvError));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "no value will come from this oneshot channel: the sender was dropped without \
             sending, or the value was already received",
        )
    }
}

impl Error for RecvError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Counter;

    #[test]
    fn send_wakes_receiver_once() {
        let (tx, mut rx) = channel();
        let c = Counter::new();
        assert!(c.poll(&mut rx).is_pending());
        assert!(c.poll(&mut rx).is_pending());
        tx.send(5).unwrap();
        assert_eq!(c.wakes(), 1);
        assert_eq!(c.poll(&mut rx), Poll::Ready(Ok(5)));
    }

    #[test]
    fn dropped_sender_is_an_error() {
        let (tx, mut rx) = channel::<u8>();
        let c = Counter::new();
        assert!(c.poll(&mut rx).is_pending());
        drop(tx);
        assert_eq!(c.wakes(), 1);
        assert_eq!(c.poll(&mut rx), Poll::Ready(Err(RecvError)));
        assert_eq!(rx.try_recv(), Err(RecvError));
    }

    #[test]
    fn dropped_receiver_fails_send_and_wakes_closed() {
        let (mut tx, rx) = channel();
        let c = Counter::new();
        {
            let mut closed = tx.closed();
            assert!(c.poll(&mut closed).is_pending());
        }
        assert!(!tx.is_closed());
        drop(rx);
        assert_eq!(c.wakes(), 1);
        assert!(tx.is_closed());
        assert!(c.poll(&mut tx.closed()).is_ready());
        assert_eq!(tx.send(3), Err(3));
    }

    #[test]
    fn value_sent_to_a_dropped_receiver_is_dropped() {
        let item = std::sync::Arc::new(());
        let (tx, rx) = channel();
        tx.send(item.clone()).unwrap();
        drop(rx);
        assert_eq!(std::sync::Arc::strong_count(&item), 1);
    }
}
