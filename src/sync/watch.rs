//! A watch channel: one sender publishes a value, many receivers see its latest version.
//!
//! ```
//! use pride::sync::watch;
//!
//! futures_lite::future::block_on(async {
//!     let (tx, mut rx) = watch::channel("starting");
//!     let watcher = std::thread::spawn(move || {
//!         futures_lite::future::block_on(async {
//!             while rx.changed().await.is_ok() {
//!                 if *rx.borrow_and_update() == "ready" {
//!                     return true;
//!                 }
//!             }
//!             false
//!         })
//!     });
//!     tx.send("loading");
//!     tx.send("ready");
//!     assert!(watcher.join().unwrap());
//! });
//! ```
//!
//! Receivers see only the latest value, never a backlog: a receiver that falls behind
//! skips the versions it missed. Each receiver remembers the version it last saw;
//! [`Receiver::changed`] waits for a newer one; a send wakes every receiver waiting
//! (they can all proceed).
//!
//! Borrows of the value ([`Receiver::borrow`], [`Sender::borrow`]) are shared: any
//! number may be held at once, on any threads, and while they are held every other
//! use of the channel goes on, except a send, which waits until they are dropped.

// The value sits behind a read-write lock of its own, borrowed with `read_recursive`
// so that a thread already holding a `Ref` can take another even while a send waits
// for the lock. A send bumps `version` while it holds the lock for writing, so the
// version read under a borrow is the borrowed value's. The receivers' bookkeeping and
// the waiters live behind a separate mutex that no `Ref` holds: a send changes the
// value, then takes that mutex to wake the waiters, so a `changed` that sees the old
// version under the mutex has queued its waiter before the send grants them all.
//
// The read-write lock is `parking_lot`'s even under loom: the facade has no
// read-write lock, and no loom model exercises this channel.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use parking_lot::{RwLock, RwLockReadGuard};

use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::sync::waiters::{WaiterId, WaiterList, WakeList};

struct Shared<T> {
    value: RwLock<T>,
    /// Bumped by every send while it holds `value` for writing; a receiver has seen the
    /// value if its version matches.
    version: AtomicU64,
    state: Mutex<State>,
}

/// Everything but the value, behind a lock that no borrow of the value holds.
struct State {
    /// The sender is gone: no new version will come.
    closed: bool,
    receivers: usize,
    /// Receivers waiting in `changed()`; every grant is a broadcast.
    waiters: WaiterList<(), ()>,
}

impl<T> Shared<T> {
    fn borrow(&self) -> Ref<'_, T> {
        Ref {
            value: self.value.read_recursive(),
        }
    }

    fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

/// Makes a watch channel holding `init`, which receivers see as already seen.
///
/// Receivers on several threads borrow the value at once, so the channel's ends are
/// `Send` and `Sync` only when `T` is both.
///
/// ```
/// let (tx, rx) = pride::sync::watch::channel("starting");
/// assert_eq!(*rx.borrow(), "starting");
/// tx.send("ready");
/// assert_eq!(*rx.borrow(), "ready");
/// ```
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: RwLock::new(init),
        version: AtomicU64::new(0),
        state: Mutex::new(State {
            closed: false,
            receivers: 1,
            waiters: WaiterList::new(),
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

/// The sending half of a watch [`channel`]; dropping it closes the channel.
///
/// ```
/// let (tx, mut rx) = pride::sync::watch::channel(0);
/// tx.send(1);
/// drop(tx);
/// pride::run(async {
///     assert!(rx.changed().await.is_ok()); // the last value is still seen
///     assert!(rx.changed().await.is_err()); // then: closed
/// });
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Publishes `value` as a new version and wakes every receiver waiting for one,
    /// returning the value it replaces. It is stored even if no receiver is left (a
    /// later [`subscribe`](Sender::subscribe) sees it).
    ///
    /// The send waits, blocking its thread, until every [`Ref`] borrowed from this
    /// channel is dropped; a send on a thread that holds one never returns.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::watch::channel(1);
    /// assert_eq!(tx.send(2), 1); // the value it replaced
    /// assert_eq!(*rx.borrow(), 2);
    /// ```
    pub fn send(&self, value: T) -> T {
        let mut old = None;
        self.send_modify(|current| old = Some(std::mem::replace(current, value)));
        old.expect("send_modify ran the closure")
    }

    /// Changes the value in place and publishes it as a new version. Like
    /// [`send`](Sender::send), it waits until every [`Ref`] is dropped.
    ///
    /// If `modify` panics, the panic goes on to the caller and nothing is published:
    /// what the closure changed before it panicked stays in the value (a borrow sees
    /// it), but the version stays the same, so no receiver is woken and
    /// [`has_changed`](Receiver::has_changed) does not report it until the next send.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::watch::channel(vec![1]);
    /// tx.send_modify(|v| v.push(2));
    /// assert_eq!(*rx.borrow(), [1, 2]);
    /// ```
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        {
            let mut value = self.shared.value.write();
            modify(&mut value);
            self.shared.version.fetch_add(1, Ordering::Release);
        }
        let mut wakers = WakeList::new();
        let mut state = self.shared.state.lock();
        state.waiters.grant_all(|()| (), &mut wakers);
        drop(state);
        wakers.wake();
    }

    /// The current value. Holding the guard blocks sends (see [`Ref`]) and nothing
    /// else.
    ///
    /// ```
    /// let (tx, _rx) = pride::sync::watch::channel(String::from("config v1"));
    /// assert_eq!(tx.borrow().as_str(), "config v1");
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        self.shared.borrow()
    }

    /// A new receiver that has seen the current value.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::watch::channel(1);
    /// drop(rx);
    /// let mut rx = tx.subscribe();
    /// assert!(!rx.has_changed()); // it has seen the current value
    /// tx.send(2);
    /// assert!(rx.has_changed());
    /// assert_eq!(*rx.borrow_and_update(), 2);
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        let mut state = self.shared.state.lock();
        state.receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            seen: self.shared.version(),
        }
    }

    /// How many receivers are alive.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::watch::channel(());
    /// let rx2 = rx.clone();
    /// assert_eq!(tx.receiver_count(), 2);
    /// drop((rx, rx2));
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.state.lock().receivers
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut wakers = WakeList::new();
        {
            let mut state = self.shared.state.lock();
            state.closed = true;
            state.waiters.grant_all(|()| (), &mut wakers);
        }
        wakers.wake();
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.borrow();
        f.debug_struct("watch::Sender")
            .field("value", &*value)
            .field("version", &self.shared.version())
            .finish()
    }
}

/// A receiving half of a watch [`channel`]. Clones start from the version the
/// original has seen.
///
/// ```
/// let (tx, mut rx) = pride::sync::watch::channel(0);
/// pride::run(async move {
///     pride::task_group(async |tg| {
///         tg.start_soon(async move {
///             for i in 1..=3 {
///                 tx.send(i);
///                 pride::checkpoint().await;
///             }
///         });
///         // Sees the latest value; values sent in between may be skipped.
///         while rx.changed().await.is_ok() {
///             let value = *rx.borrow_and_update();
///             assert!((1..=3).contains(&value));
///         }
///         assert_eq!(*rx.borrow(), 3);
///     })
///     .await
///     .unwrap();
/// });
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver last saw.
    seen: u64,
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen. Holding the guard blocks sends
    /// (see [`Ref`]) and nothing else: other borrows, on this thread or any other,
    /// [`has_changed`](Receiver::has_changed), clones and drops of receivers go on.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::watch::channel(1);
    /// tx.send(2);
    /// assert_eq!(*rx.borrow(), 2);
    /// assert!(rx.has_changed()); // still unseen
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        self.shared.borrow()
    }

    /// The current value, marking it seen: [`changed`](Receiver::changed) then waits
    /// for a newer one.
    ///
    /// ```
    /// let (tx, mut rx) = pride::sync::watch::channel(1);
    /// tx.send(2);
    /// assert_eq!(*rx.borrow_and_update(), 2);
    /// assert!(!rx.has_changed()); // marked seen
    /// ```
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let value = self.shared.borrow();
        // No send can bump the version while the value is borrowed.
        self.seen = self.shared.version();
        value
    }

    /// Whether a version newer than the last one seen has been sent.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::watch::channel(1);
    /// assert!(!rx.has_changed());
    /// tx.send(1); // same value, still a new version
    /// assert!(rx.has_changed());
    /// ```
    pub fn has_changed(&self) -> bool {
        self.shared.version() != self.seen
    }

    /// Waits for a version newer than the last one seen and marks it seen; read it
    /// with [`borrow_and_update`](Receiver::borrow_and_update), which also marks seen a
    /// version sent in between (so the next `changed` does not report a value already
    /// read). Fails with [`RecvError`] once the sender is gone and every version has been
    /// seen.
    ///
    /// Cancel-safe: a dropped `changed()` marks nothing seen, so the change is still
    /// there for the next call.
    ///
    /// ```
    /// let (tx, mut rx) = pride::sync::watch::channel("idle");
    /// pride::run(async move {
    ///     tx.send("busy");
    ///     rx.changed().await.unwrap();
    ///     assert_eq!(*rx.borrow(), "busy");
    /// });
    /// ```
    pub fn changed(&mut self) -> Changed<'_, T> {
        Changed {
            receiver: self,
            id: None,
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.state.lock().receivers -= 1;
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.borrow();
        f.debug_struct("watch::Receiver")
            .field("value", &*value)
            .field("seen", &self.seen)
            .field("version", &self.shared.version())
            .finish()
    }
}

/// The value of a watch channel, borrowed.
///
/// Any number of `Ref`s may be held at once, on one thread or many. While one is
/// held, a send ([`Sender::send`], [`Sender::send_modify`]) waits for it, blocking
/// its thread, and nothing else does. So drop a `Ref` before an `.await` (a sending
/// task would block its worker until then) and never send while holding one (the
/// send would wait for itself).
#[must_use = "the guard borrows the value; dropping it at once is pointless"]
pub struct Ref<'a, T> {
    value: RwLockReadGuard<'a, T>,
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The future of [`Receiver::changed`].
#[must_use = "futures do nothing unless awaited"]
pub struct Changed<'a, T> {
    receiver: &'a mut Receiver<T>,
    id: Option<WaiterId>,
}

impl<T> Future for Changed<'_, T> {
    type Output = Result<(), RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), RecvError>> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let this = &mut *self;
            let shared = &this.receiver.shared;
            let mut wakers = WakeList::new();
            let mut state = shared.state.lock();
            let poll = 'poll: {
                if let Some(id) = &this.id {
                    // Every send grants all waiters under this lock after bumping the
                    // version, and so does the close: a waiter not yet granted is woken by
                    // the send or close to come.
                    if state.waiters.poll(id, cx.waker(), &mut wakers).is_pending() {
                        crate::debug::task::waits(cx, crate::debug::task::WaitOn::Queue);
                        break 'poll Poll::Pending;
                    }
                    this.id = None;
                }
                let version = shared.version();
                if version != this.receiver.seen {
                    this.receiver.seen = version;
                    break 'poll Poll::Ready(Ok(()));
                }
                if state.closed {
                    break 'poll Poll::Ready(Err(RecvError));
                }
                this.id = Some(state.waiters.push_back((), cx.waker()));
                crate::debug::task::waits(cx, crate::debug::task::WaitOn::Queue);
                Poll::Pending
            };
            drop(state);
            wakers.wake();
            poll
        })
    }
}

impl<T> Drop for Changed<'_, T> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            // Every grant is a broadcast: nothing to pass on.
            let shared = &self.receiver.shared;
            let mut wakers = WakeList::new();
            let _ = shared.state.lock().waiters.leave(id, &mut wakers);
            wakers.wake();
        }
    }
}

impl<T> fmt::Debug for Changed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Changed").finish_non_exhaustive()
    }
}

/// Why [`Receiver::changed`] failed: the sender was dropped, and this receiver has
/// seen every version it sent, so no new one will come.
///
/// ```
/// use pride::sync::watch::{self, RecvError};
///
/// pride::run(async {
///     let (tx, mut rx) = watch::channel(0);
///     drop(tx);
///     assert_eq!(rx.changed().await, Err(RecvError));
///     assert_eq!(*rx.borrow(), 0); // the last value stays readable
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the watch sender was dropped")
    }
}

impl Error for RecvError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Counter;

    #[test]
    fn changed_waits_for_a_newer_version_and_skips_missed_ones() {
        let (tx, mut rx) = channel(0);
        let c = Counter::new();
        let mut changed = rx.changed();
        assert!(c.poll(&mut changed).is_pending());
        tx.send(1);
        tx.send(2);
        assert_eq!(c.wakes(), 1);
        assert_eq!(c.poll(&mut changed), Poll::Ready(Ok(())));
        drop(changed);
        assert_eq!(*rx.borrow(), 2);
        assert!(c.poll(&mut rx.changed()).is_pending());
    }

    #[test]
    fn a_cancelled_changed_loses_no_change() {
        let (tx, mut rx) = channel(0);
        let c = Counter::new();
        let mut changed = rx.changed();
        assert!(c.poll(&mut changed).is_pending());
        tx.send(1);
        drop(changed);
        assert!(rx.has_changed());
        assert_eq!(c.poll(&mut rx.changed()), Poll::Ready(Ok(())));
        assert!(rx.shared.state.lock().waiters.is_empty());
    }

    #[test]
    fn closing_wakes_and_fails_only_after_the_last_change() {
        let (tx, mut rx) = channel(0);
        let mut rx2 = rx.clone();
        let c = Counter::new();
        let mut changed = rx2.changed();
        assert!(c.poll(&mut changed).is_pending());
        tx.send(1);
        drop(tx);
        assert_eq!(c.poll(&mut changed), Poll::Ready(Ok(())));
        drop(changed);
        assert_eq!(c.poll(&mut rx2.changed()), Poll::Ready(Err(RecvError)));
        // The unseen change still comes first.
        assert_eq!(c.poll(&mut rx.changed()), Poll::Ready(Ok(())));
        assert_eq!(c.poll(&mut rx.changed()), Poll::Ready(Err(RecvError)));
    }

    #[test]
    fn a_panicking_send_modify_keeps_its_change_but_publishes_nothing() {
        let (tx, mut rx) = channel(vec![1]);
        let c = Counter::new();
        let mut changed = rx.changed();
        assert!(c.poll(&mut changed).is_pending());
        let modified = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tx.send_modify(|v| {
                v.push(2);
                panic!("modify boom");
            })
        }));
        assert!(modified.is_err());
        assert_eq!(c.wakes(), 0);
        assert!(c.poll(&mut changed).is_pending());
        drop(changed);
        assert_eq!(*rx.borrow(), [1, 2]);
        assert!(!rx.has_changed());
        tx.send_modify(|v| v.push(3));
        assert!(rx.has_changed());
    }

    #[test]
    fn subscribe_and_counts() {
        let (tx, rx) = channel("a");
        tx.send("b");
        let mut late = tx.subscribe();
        assert!(!late.has_changed());
        assert_eq!(*late.borrow_and_update(), "b");
        assert_eq!(tx.receiver_count(), 2);
        drop((rx, late));
        assert_eq!(tx.receiver_count(), 0);
        assert_eq!(tx.send("c"), "b");
    }

    fn _assert_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Sender<u32>>();
        send_sync::<Receiver<u32>>();
        send_sync::<Changed<'static, u32>>();
    }
}
