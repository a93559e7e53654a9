//! A broadcast channel: every receiver gets every message, from many senders.
//!
//! ```
//! use pride::sync::broadcast;
//!
//! futures_lite::future::block_on(async {
//!     let (tx, mut rx1) = broadcast::channel(16);
//!     let mut rx2 = tx.subscribe();
//!     tx.send("hello").unwrap();
//!     drop(tx);
//!     assert_eq!(rx1.recv().await, Ok("hello"));
//!     assert_eq!(rx2.recv().await, Ok("hello"));
//!     assert_eq!(rx1.recv().await, Err(broadcast::RecvError::Closed));
//! });
//! ```
//!
//! The channel keeps the messages some receiver has yet to read in a ring of at most
//! `capacity` messages. The capacity is a bound, not a reservation: the ring grows as
//! unread messages pile up (`usize::MAX` makes it as large as the backlog). Sending
//! never waits: when the ring is full the oldest message is overwritten, and a receiver
//! that had not read it yet *lags*: its next `recv` reports how many messages it missed
//! ([`RecvError::Lagged`]) and then goes on from the oldest one still kept. So a slow
//! receiver cannot hold up the senders or the other receivers.
//!
//! A message is cloned out to each receiver that reads it (`T: Clone`), except the
//! last, which takes it. So a message is dropped as soon as every receiver that was
//! alive when it was sent has read it or been dropped (or when it is overwritten).
//! Neither a clone nor a drop happens under the channel's lock, so a message's `Clone`
//! and `Drop` may use the channel: a message may carry a sender for replies, and once
//! read it does not keep the channel open.
//!
//! Each receiver keeps its own position; the state (the ring, the positions it spans,
//! the counts of both ends and a waiter list of receivers) sits behind one lock. A send
//! wakes every waiting receiver: each of them has a new message to read.

// Each message in the ring counts the receivers that will still read it: those alive
// when it was sent, plus clones of them made before they read it, less those that
// have read it or been dropped. A receiver reads in order, so a receiver counted on
// a message is counted on every later one: the counts never fall from the front of
// the ring to the back, a message whose count reaches 0 is at the front, and it
// leaves the ring at once. A lagging receiver is counted on every message kept.

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc as StdArc;

use crate::loom::sync::{Arc, Mutex};
use crate::sync::waiters::{WaiterId, WaiterList, WakeList};

struct Shared<T> {
    /// The messages some receiver will still read, oldest first; `ring[0]` has
    /// position `first`. Grown as needed, up to `capacity`.
    ring: VecDeque<Slot<T>>,
    capacity: usize,
    /// The position of `ring[0]`; positions count every message ever sent.
    first: u64,
    senders: usize,
    receivers: usize,
    /// Receivers waiting in `recv()`; every grant is a broadcast.
    waiters: WaiterList<(), ()>,
}

/// A message in the ring.
struct Slot<T> {
    /// Shared, so that a receiver clones its copy, and a message is dropped, outside
    /// the lock: user `Clone` and `Drop` code may use the channel (a message that owns
    /// a sender).
    value: StdArc<T>,
    /// How many receivers will still read it; never 0 (see the top of this file).
    unread: usize,
}

impl<T> Shared<T> {
    /// The position the next message will get.
    fn end(&self) -> u64 {
        self.first + self.ring.len() as u64
    }

    /// The index in `ring` of a receiver's next message, 0 for a lagging receiver.
    fn index_of(&self, next: u64) -> usize {
        next.saturating_sub(self.first) as usize
    }
}

/// Makes a broadcast channel whose receivers may fall up to `capacity` messages
/// behind before they lag. Nothing is reserved up front: the ring holds only the
/// messages some receiver has yet to read.
///
/// # Panics
///
/// If `capacity` is zero.
///
/// ```
/// let (tx, mut rx) = pride::sync::broadcast::channel(16);
/// let mut rx2 = tx.subscribe();
/// tx.send("hello").unwrap();
/// assert_eq!(rx.try_recv(), Ok("hello"));
/// assert_eq!(rx2.try_recv(), Ok("hello")); // every receiver gets every message
/// ```
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "pride: a broadcast channel needs a capacity of at least 1"
    );
    let shared = Arc::new(Mutex::new(Shared {
        ring: VecDeque::new(),
        capacity,
        first: 0,
        senders: 1,
        receivers: 1,
        waiters: WaiterList::new(),
    }));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

/// A sending half of a broadcast [`channel`]; clone it for more senders. The channel
/// closes when the last sender is dropped.
///
/// ```
/// let (tx, mut rx) = pride::sync::broadcast::channel(4);
/// let tx2 = tx.clone();
/// tx.send(1).unwrap();
/// tx2.send(2).unwrap();
/// drop((tx, tx2)); // the last sender gone closes the channel
/// assert_eq!(rx.try_recv(), Ok(1));
/// assert_eq!(rx.try_recv(), Ok(2));
/// assert_eq!(rx.try_recv(), Err(pride::sync::broadcast::TryRecvError::Closed));
/// ```
pub struct Sender<T> {
    shared: Arc<Mutex<Shared<T>>>,
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver alive now, returning how many there are. Never
    /// waits: a full ring drops its oldest message. With no receiver alive the value
    /// is handed back as `Err(SendError(value))`; the channel is not closed by that (a
    /// receiver from [`subscribe`](Sender::subscribe) gets the next sends).
    ///
    /// ```
    /// let (tx, rx) = pride::sync::broadcast::channel(4);
    /// let _rx2 = tx.subscribe();
    /// assert_eq!(tx.send("news").unwrap(), 2); // two receivers alive
    /// drop((rx, _rx2));
    /// assert_eq!(tx.send("unheard").unwrap_err().0, "unheard");
    /// ```
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let mut wakers = WakeList::new();
        let value = StdArc::new(value);
        // The message a full ring overwrites is dropped after the lock is released.
        let mut overwritten = None;
        let receivers = {
            let mut shared = self.shared.lock();
            if shared.receivers == 0 {
                drop(shared);
                let value = StdArc::into_inner(value).expect("the message was not shared yet");
                return Err(SendError(value));
            }
            if shared.ring.len() == shared.capacity {
                overwritten = shared.ring.pop_front();
                shared.first += 1;
            }
            let unread = shared.receivers;
            shared.ring.push_back(Slot { value, unread });
            shared.waiters.grant_all(|()| (), &mut wakers);
            shared.receivers
        };
        drop(overwritten);
        wakers.wake();
        Ok(receivers)
    }

    /// A new receiver that gets every message sent from now on.
    ///
    /// ```
    /// let (tx, _rx) = pride::sync::broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// let mut late = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(late.try_recv(), Ok(2)); // 1 was sent before it subscribed
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        let mut shared = self.shared.lock();
        shared.receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            next: shared.end(),
        }
    }

    /// How many receivers are alive.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::broadcast::channel::<u32>(4);
    /// assert_eq!(tx.receiver_count(), 1);
    /// drop(rx);
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.lock().receivers
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut wakers = WakeList::new();
        {
            let mut shared = self.shared.lock();
            shared.senders -= 1;
            if shared.senders == 0 {
                shared.waiters.grant_all(|()| (), &mut wakers);
            }
        }
        wakers.wake();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Sender").finish_non_exhaustive()
    }
}

/// A receiving half of a broadcast [`channel`]. A clone starts at the same position
/// as the original.
///
/// ```
/// let (tx, mut rx) = pride::sync::broadcast::channel(4);
/// tx.send(1).unwrap();
/// let mut copy = rx.clone(); // starts at the same place as `rx`
/// assert_eq!(rx.try_recv(), Ok(1));
/// assert_eq!(copy.try_recv(), Ok(1));
/// ```
pub struct Receiver<T> {
    shared: Arc<Mutex<Shared<T>>>,
    /// The position of the next message this receiver reads.
    next: u64,
}

/// A [`Sender::send`] found no receiver alive; here is the message back.
///
/// Not final: the channel stays open while a sender is alive, and a receiver from
/// [`Sender::subscribe`] gets the next messages.
///
/// ```
/// use pride::sync::broadcast::{self, SendError};
///
/// let (tx, rx) = broadcast::channel(4);
/// drop(rx);
/// assert_eq!(tx.send("unheard"), Err(SendError("unheard")));
/// let mut rx = tx.subscribe();
/// assert_eq!(tx.send("heard"), Ok(1));
/// assert_eq!(rx.try_recv(), Ok("heard"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The message the send hands back.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no broadcast receiver is alive to get the message")
    }
}

impl<T> Error for SendError<T> {}

/// Why [`Receiver::recv`] returned no message.
///
/// ```
/// use pride::sync::broadcast::{self, RecvError};
///
/// pride::run(async {
///     let (tx, mut rx) = broadcast::channel(1);
///     tx.send(1).unwrap();
///     tx.send(2).unwrap(); // overwrites 1
///     assert_eq!(rx.recv().await, Err(RecvError::Lagged(1)));
///     assert_eq!(rx.recv().await, Ok(2));
///     drop(tx);
///     assert_eq!(rx.recv().await, Err(RecvError::Closed));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Every sender is gone and every message kept has been read.
    Closed,
    /// This receiver fell behind and missed this many messages, which were
    /// overwritten; the next `recv` returns the oldest message still kept.
    Lagged(u64),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("the broadcast channel is closed"),
            RecvError::Lagged(n) => write!(f, "the receiver lagged behind by {n} messages"),
        }
    }
}

impl Error for RecvError {}

/// Why [`Receiver::try_recv`] returned no message.
///
/// ```
/// use pride::sync::broadcast::{self, TryRecvError};
///
/// let (tx, mut rx) = broadcast::channel::<u32>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No new message now.
    Empty,
    /// Every sender is gone and every message kept has been read.
    Closed,
    /// As [`RecvError::Lagged`].
    Lagged(u64),
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no message in the broadcast channel"),
            TryRecvError::Closed => RecvError::Closed.fmt(f),
            TryRecvError::Lagged(n) => RecvError::Lagged(*n).fmt(f),
        }
    }
}

impl Error for TryRecvError {}

impl<T: Clone> Receiver<T> {
    /// Takes the next message if there is one.
    ///
    /// The last receiver to read a message takes it without a clone, and the ring lets
    /// it go.
    ///
    /// ```
    /// use pride::sync::broadcast::{self, TryRecvError};
    ///
    /// let (tx, mut rx) = broadcast::channel(2);
    /// for i in 0..3 {
    ///     tx.send(i).unwrap();
    /// }
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1))); // 0 was overwritten
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Ok(2));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let taken = Self::take(&mut self.next, &mut self.shared.lock());
        taken.map(StdArc::unwrap_or_clone)
    }

    /// Reads the message at `next`, or says why not. The caller clones it out (or
    /// takes it, if the ring let it go) once the lock is released.
    fn take(next: &mut u64, shared: &mut Shared<T>) -> Result<StdArc<T>, TryRecvError> {
        if *next < shared.first {
            let missed = shared.first - *next;
            *next = shared.first;
            return Err(TryRecvError::Lagged(missed));
        }
        let index = shared.index_of(*next);
        let Some(slot) = shared.ring.get_mut(index) else {
            return Err(if shared.senders == 0 {
                TryRecvError::Closed
            } else {
                TryRecvError::Empty
            });
        };
        *next += 1;
        slot.unread -= 1;
        if slot.unread > 0 {
            return Ok(StdArc::clone(&slot.value));
        }
        // Read by the last receiver that will: it is at the front, and leaves.
        debug_assert_eq!(index, 0, "a message nobody will read is at the front");
        shared.first += 1;
        Ok(shared
            .ring
            .pop_front()
            .expect("the message just read")
            .value)
    }

    /// Waits for the next message.
    ///
    /// Cancel-safe: a dropped `recv()` has taken nothing, so the message it was waiting
    /// for is the next call's.
    ///
    /// ```
    /// pride::run(async {
    ///     let (tx, mut rx) = pride::sync::broadcast::channel(16);
    ///     pride::task_group(async |tg| {
    ///         tg.start_soon(async move {
    ///             for i in 0..3 {
    ///                 tx.send(i).unwrap();
    ///             }
    ///             // dropping `tx` closes the channel
    ///         });
    ///         let mut got = Vec::new();
    ///         while let Ok(i) = rx.recv().await {
    ///             got.push(i);
    ///         }
    ///         assert_eq!(got, [0, 1, 2]);
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv {
            receiver: self,
            id: None,
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        let mut shared = self.shared.lock();
        shared.receivers += 1;
        // The clone will read what the original has yet to read.
        let from = shared.index_of(self.next);
        for slot in shared.ring.range_mut(from..) {
            slot.unread += 1;
        }
        drop(shared);
        Receiver {
            shared: self.shared.clone(),
            next: self.next,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // The messages only this receiver would still have read, dropped once the
        // lock is released.
        let unread: Vec<Slot<T>> = {
            let mut shared = self.shared.lock();
            shared.receivers -= 1;
            let from = shared.index_of(self.next);
            for slot in shared.ring.range_mut(from..) {
                slot.unread -= 1;
            }
            let gone = shared
                .ring
                .iter()
                .take_while(|slot| slot.unread == 0)
                .count();
            shared.first += gone as u64;
            shared.ring.drain(..gone).collect()
        };
        drop(unread);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// The future of [`Receiver::recv`].
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
    id: Option<WaiterId>,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let this = &mut *self;
            let mut wakers = WakeList::new();
            let mut shared = this.receiver.shared.lock();
            let poll = 'poll: {
                if let Some(id) = &this.id {
                    // Every send and the close grant all waiters under this lock, so a
                    // waiter not yet granted has nothing new to read.
                    if shared
                        .waiters
                        .poll(id, cx.waker(), &mut wakers)
                        .is_pending()
                    {
                        crate::debug::task::waits(cx, crate::debug::task::WaitOn::Queue);
                        break 'poll Poll::Pending;
                    }
                    this.id = None;
                }
                match Receiver::take(&mut this.receiver.next, &mut shared) {
                    Ok(value) => Poll::Ready(Ok(value)),
                    Err(TryRecvError::Closed) => Poll::Ready(Err(RecvError::Closed)),
                    Err(TryRecvError::Lagged(n)) => Poll::Ready(Err(RecvError::Lagged(n))),
                    Err(TryRecvError::Empty) => {
                        this.id = Some(shared.waiters.push_back((), cx.waker()));
                        crate::debug::task::waits(cx, crate::debug::task::WaitOn::Queue);
                        Poll::Pending
                    }
                }
            };
            drop(shared);
            if matches!(poll, Poll::Ready(Ok(_))) {
                wakers.wake_handing_out();
            } else {
                wakers.wake();
            }
            poll.map_ok(StdArc::unwrap_or_clone)
        })
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            // Every grant is a broadcast: nothing to pass on.
            let mut wakers = WakeList::new();
            let _ = self.receiver.shared.lock().waiters.leave(id, &mut wakers);
            wakers.wake();
        }
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Counter;

    #[test]
    fn every_receiver_gets_every_message_in_order() {
        let (tx, mut rx1) = channel(8);
        let mut rx2 = tx.subscribe();
        let tx2 = tx.clone();
        assert_eq!(tx.send(1), Ok(2));
        assert_eq!(tx2.send(2), Ok(2));
        for rx in [&mut rx1, &mut rx2] {
            assert_eq!(rx.try_recv(), Ok(1));
            assert_eq!(rx.try_recv(), Ok(2));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        }
        drop(tx);
        assert_eq!(rx1.try_recv(), Err(TryRecvError::Empty), "tx2 is alive");
        drop(tx2);
        assert_eq!(rx1.try_recv(), Err(TryRecvError::Closed));
    }

    /// A message that, when cloned or dropped, checks that its channel's lock is free
    /// (its `Clone` and `Drop` use the channel, through the sender it owns).
    struct OwnsSender(Option<Sender<OwnsSender>>);

    impl Clone for OwnsSender {
        fn clone(&self) -> Self {
            if let Some(tx) = &self.0 {
                assert!(
                    tx.shared.try_lock().is_some(),
                    "a message was cloned under its channel's lock"
                );
            }
            OwnsSender(self.0.clone())
        }
    }

    impl Drop for OwnsSender {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                if tx.shared.try_lock().is_none() {
                    // Dropping the sender would lock the channel again: a deadlock.
                    std::mem::forget(tx);
                    panic!("a message was dropped under its channel's lock");
                }
            }
        }
    }

    #[test]
    fn messages_are_cloned_and_dropped_outside_the_lock() {
        let (tx, mut rx) = channel(1);
        let mut rx2 = tx.subscribe();
        assert_eq!(tx.send(OwnsSender(Some(tx.clone()))).ok(), Some(2));
        // Read by one of two receivers: cloned out of the ring.
        let received = rx.try_recv().expect("a message");
        assert_eq!(Arc::strong_count(&tx.shared), 5);
        drop(received);
        // The ring is full: this send drops the message rx2 had not read.
        assert_eq!(tx.send(OwnsSender(None)).ok(), Some(2));
        assert_eq!(
            Arc::strong_count(&tx.shared),
            3,
            "the overwritten sender is gone"
        );
        assert_eq!(rx2.try_recv().err(), Some(TryRecvError::Lagged(1)));
        drop((rx.try_recv(), rx2.try_recv()));
        // Dropped with the last receivers that would read it.
        assert_eq!(tx.send(OwnsSender(Some(tx.clone()))).ok(), Some(2));
        drop(rx);
        assert_eq!(Arc::strong_count(&tx.shared), 3, "rx2 will read it");
        drop(rx2);
        assert_eq!(Arc::strong_count(&tx.shared), 1, "nobody will read it");
    }

    #[test]
    fn a_message_leaves_the_ring_once_every_receiver_that_will_read_it_has() {
        let (tx, mut rx) = channel(8);
        tx.send(1).unwrap();
        let mut late = tx.subscribe(); // will not read 1
        let mut twin = rx.clone(); // will read 1
        tx.send(2).unwrap();
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(tx.shared.lock().ring.len(), 2, "twin has yet to read 1");
        assert_eq!(twin.try_recv(), Ok(1));
        assert_eq!(tx.shared.lock().ring.len(), 1);
        assert_eq!(late.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Ok(2));
        drop(twin); // it would have read 2
        let shared = tx.shared.lock();
        assert!(shared.ring.is_empty());
        assert_eq!((shared.first, shared.end()), (2, 2));
    }

    #[test]
    fn a_send_wakes_every_waiting_receiver() {
        let (tx, mut rx1) = channel(8);
        let mut rx2 = tx.subscribe();
        let (c1, c2) = (Counter::new(), Counter::new());
        let mut r1 = rx1.recv();
        let mut r2 = rx2.recv();
        assert!(c1.poll(&mut r1).is_pending());
        assert!(c2.poll(&mut r2).is_pending());
        assert!(c1.poll(&mut r1).is_pending(), "a re-poll keeps waiting");
        tx.send('x').unwrap();
        assert_eq!((c1.wakes(), c2.wakes()), (1, 1));
        assert_eq!(c1.poll(&mut r1), Poll::Ready(Ok('x')));
        assert_eq!(c2.poll(&mut r2), Poll::Ready(Ok('x')));
    }

    #[test]
    fn a_cancelled_recv_loses_no_message() {
        let (tx, mut rx) = channel(8);
        let c = Counter::new();
        let mut r = rx.recv();
        assert!(c.poll(&mut r).is_pending());
        tx.send(7).unwrap();
        drop(r);
        assert!(rx.shared.lock().waiters.is_empty());
        assert_eq!(c.poll(&mut rx.recv()), Poll::Ready(Ok(7)));
    }

    #[test]
    fn a_slow_receiver_lags_and_resumes_at_the_oldest_kept() {
        let (tx, mut rx) = channel(3);
        for i in 0..10 {
            tx.send(i).unwrap();
        }
        let c = Counter::new();
        assert_eq!(
            c.poll(&mut rx.recv()),
            Poll::Ready(Err(RecvError::Lagged(7)))
        );
        let rest: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(rest, [7, 8, 9]);
    }

    #[test]
    fn subscribers_start_at_the_end_and_clones_where_they_are() {
        let (tx, mut rx) = channel(4);
        tx.send(1).unwrap();
        let mut late = tx.subscribe();
        let mut twin = rx.clone();
        tx.send(2).unwrap();
        assert_eq!(late.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(twin.try_recv(), Ok(1));
    }

    #[test]
    fn send_without_receivers_hands_the_value_back() {
        let (tx, rx) = channel(1);
        drop(rx);
        assert_eq!(tx.send(5), Err(SendError(5)));
        assert_eq!(tx.receiver_count(), 0);
    }

    #[test]
    #[should_panic(expected = "capacity of at least 1")]
    fn zero_capacity_panics() {
        let _ = channel::<u8>(0);
    }

    fn _assert_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Sender<u32>>();
        send_sync::<Receiver<u32>>();
        send_sync::<Recv<'static, u32>>();
    }
}
