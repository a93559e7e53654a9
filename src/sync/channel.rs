//! The MPMC [`channel`]: a [`Queue`](super::Queue)'s core with counted ends.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::WouldBlock;
use crate::sync::queue::{Core, GetFuture, PutFuture, StreamWait};

/// The future of [`Sender::send`] (a queue put).
pub type SendFuture<'a, T> = PutFuture<'a, T>;

/// The future of [`Receiver::recv`] (a queue get).
pub type RecvFuture<'a, T> = GetFuture<'a, T>;

struct Chan<T> {
    core: Core<T>,
    senders: AtomicUsize,
    receivers: AtomicUsize,
}

/// A multi-producer, multi-consumer channel holding at most `capacity` items.
///
/// Both ends can be cloned. When the last [`Sender`] is dropped, receivers drain what
/// is left and then get [`Closed`](super::Closed); when the last [`Receiver`] is dropped, sends fail
/// and hand their value back, and the items still queued are dropped. Like a
/// [`Queue`](super::Queue), it is fair and cancel-safe.
///
/// # Panics
///
/// If `capacity` is 0.
///
/// # Example
///
/// ```
/// use pride::sync::channel;
///
/// futures_lite::future::block_on(async {
///     let (tx, rx) = channel(4);
///     let tx2 = tx.clone();
///     tx.send(1).await.unwrap();
///     tx2.send(2).await.unwrap();
///     drop((tx, tx2));
///     assert_eq!(rx.recv().await, Ok(1));
///     assert_eq!(rx.recv().await, Ok(2));
///     assert!(rx.recv().await.is_err());
/// });
/// ```
#[doc(alias("mpsc", "open_memory_channel", "create_memory_object_stream"))]
#[track_caller]
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity >= 1,
        "pride: a channel needs capacity >= 1 (use oneshot::channel for a single hand-off)"
    );
    ends(Some(capacity))
}

/// An MPMC channel without a size limit: sends never wait.
///
/// # Example
///
/// ```
/// use pride::sync::unbounded_channel;
///
/// let (tx, rx) = unbounded_channel();
/// for i in 0..1000 {
///     tx.try_send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 1000);
/// ```
pub fn unbounded_channel<T>() -> (Sender<T>, Receiver<T>) {
    ends(None)
}

fn ends<T>(maxsize: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        core: Core::new(maxsize),
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
    });
    (
        Sender { chan: chan.clone() },
        Receiver {
            chan,
            wait: StreamWait::default(),
        },
    )
}

/// The sending end of a [`channel`]; clone it for more producers.
///
/// ```
/// use pride::sync::channel;
///
/// pride::run(async {
///     let (tx, rx) = channel(8);
///     pride::task_group(async |tg| {
///         for id in 0..3 {
///             let tx = tx.clone();
///             tg.start_soon(async move { tx.send(id).await.map_err(|_| "closed") });
///         }
///         drop(tx); // the channel closes once every producer is done
///         let mut got = Vec::new();
///         while let Ok(id) = rx.recv().await {
///             got.push(id);
///         }
///         got.sort();
///         assert_eq!(got, [0, 1, 2]);
///         Ok::<_, pride::BoxError>(())
///     })
///     .await
///     .unwrap();
/// });
/// ```
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full. Fails with the value once
    /// every receiver is gone.
    ///
    /// ```
    /// pride::run(async {
    ///     let (tx, rx) = pride::sync::channel(1);
    ///     tx.send("first").await.unwrap();
    ///     assert_eq!(rx.try_recv().unwrap(), "first");
    ///     drop(rx);
    ///     assert!(tx.send("unheard").await.is_err()); // every receiver is gone
    /// });
    /// ```
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        PutFuture::new(&self.chan.core, value)
    }

    /// Sends `value` if there is room now and no send is waiting.
    ///
    /// ```
    /// let (tx, _rx) = pride::sync::channel(1);
    /// tx.try_send(1).unwrap();
    /// assert!(tx.try_send(2).is_err()); // full: the value comes back in the error
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), WouldBlock<T>> {
        self.chan.core.put_nowait(value)
    }

    /// Whether every receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::channel::<u32>(1);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.core.is_closed()
    }

    /// The number of items queued.
    ///
    /// ```
    /// let (tx, _rx) = pride::sync::channel(4);
    /// tx.try_send(1).unwrap();
    /// tx.try_send(2).unwrap();
    /// assert_eq!(tx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.core.len()
    }

    /// Whether no item is queued.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::channel(4);
    /// assert!(tx.is_empty());
    /// tx.try_send(1).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.core.close();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The receiving end of a [`channel`]; clone it for more consumers. It is also a
/// [`Stream`] that ends once every sender is gone and the channel is drained; a
/// `next()` dropped mid-wait (by a `select` or a timeout) holds no item back, and a
/// waiting [`recv`](Receiver::recv) is served before a waiting stream. As a stream it
/// is woken for an item, not handed one: a send that finds no `recv` waiting wakes
/// every receiver waiting as a stream, and the first to poll takes the item (`recv`
/// keeps FIFO order and wakes one per item).
///
/// ```
/// use futures_lite::StreamExt;
///
/// pride::run(async {
///     let (tx, mut rx) = pride::sync::unbounded_channel();
///     for i in 0..3 {
///         tx.try_send(i).unwrap();
///     }
///     drop(tx);
///     // As a stream: ends once every sender is gone and the channel is drained.
///     let all: Vec<i32> = (&mut rx).collect().await;
///     assert_eq!(all, [0, 1, 2]);
/// });
/// ```
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// The wait of the `Stream` side.
    wait: StreamWait,
}

impl<T> Receiver<T> {
    /// Receives the next item, waiting while the channel is empty. Fails once every
    /// sender is gone and the channel is drained.
    ///
    /// ```
    /// pride::run(async {
    ///     let (tx, rx) = pride::sync::channel(1);
    ///     tx.send(7).await.unwrap();
    ///     drop(tx);
    ///     assert_eq!(rx.recv().await.unwrap(), 7); // queued items are still delivered
    ///     assert!(rx.recv().await.is_err()); // then: closed
    /// });
    /// ```
    pub fn recv(&self) -> RecvFuture<'_, T> {
        GetFuture::new(&self.chan.core)
    }

    /// Receives the next item if there is one. `Closed` once every sender is gone and
    /// the channel is drained; while an item handed to a waiting `recv` may still come
    /// back, `Empty`.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::channel(1);
    /// assert!(rx.try_recv().is_err()); // empty
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv().unwrap(), 1);
    /// ```
    pub fn try_recv(&self) -> Result<T, WouldBlock> {
        self.chan.core.get_nowait()
    }

    /// Whether every sender is gone (items may still be queued).
    ///
    /// ```
    /// let (tx, rx) = pride::sync::channel(1);
    /// tx.try_send(1).unwrap();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// assert_eq!(rx.try_recv().unwrap(), 1); // still drained
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.core.is_closed()
    }

    /// The number of items queued.
    ///
    /// ```
    /// let (tx, rx) = pride::sync::channel(4);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.core.len()
    }

    /// Whether no item is queued.
    ///
    /// ```
    /// let (_tx, rx) = pride::sync::channel::<u32>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        this.wait.poll_next(&this.chan.core, cx)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Self {
            chan: self.chan.clone(),
            wait: StreamWait::default(),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.wait.cancel(&self.chan.core);
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.core.close_and_clear();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Closed;
    use crate::test_util::Counter;
    use std::future::Future;
    use std::task::Waker;

    #[test]
    fn last_sender_closes_after_drain() {
        let (tx, rx) = channel(2);
        let tx2 = tx.clone();
        tx.try_send(1).unwrap();
        drop(tx);
        assert!(!rx.is_closed());
        tx2.try_send(2).unwrap();
        drop(tx2);
        assert!(rx.is_closed());
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(WouldBlock::Closed(())));
    }

    #[test]
    fn last_sender_wakes_waiting_receiver() {
        let (tx, rx) = channel::<u8>(1);
        let c = Counter::new();
        let mut recv = rx.recv();
        assert!(c.poll(&mut recv).is_pending());
        drop(tx);
        assert_eq!(c.wakes(), 1);
        assert_eq!(c.poll(&mut recv), Poll::Ready(Err(Closed(()))));
    }

    #[test]
    fn last_receiver_fails_sends_and_drops_items() {
        let item = std::sync::Arc::new(());
        let (tx, rx) = channel(1);
        tx.try_send(item.clone()).unwrap();
        let c = Counter::new();
        let mut send = tx.send(item.clone());
        assert!(c.poll(&mut send).is_pending());
        let rx2 = rx.clone();
        drop(rx);
        assert!(!tx.is_closed());
        drop(rx2);
        assert!(tx.is_closed());
        assert_eq!(c.wakes(), 1);
        let Poll::Ready(Err(Closed(back))) = c.poll(&mut send) else {
            panic!("send must fail and hand the value back")
        };
        drop(back);
        drop(send);
        assert_eq!(std::sync::Arc::strong_count(&item), 1);
        assert!(tx.try_send(item.clone()).unwrap_err().is_closed());
    }

    #[test]
    fn receiver_is_a_stream() {
        let (tx, mut rx) = unbounded_channel();
        let next = |rx: &mut Receiver<i32>| {
            Pin::new(rx).poll_next(&mut Context::from_waker(&Waker::noop().clone()))
        };
        assert!(next(&mut rx).is_pending());
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(next(&mut rx), Poll::Ready(Some(1)));
        assert_eq!(next(&mut rx), Poll::Ready(Some(2)));
        drop(tx);
        assert_eq!(next(&mut rx), Poll::Ready(None));
    }

    fn _assert_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Sender<u8>>();
        send_sync::<Receiver<u8>>();
        send_sync::<SendFuture<'static, u8>>();
        send_sync::<RecvFuture<'static, u8>>();
        fn is_future<F: Future>() {}
        is_future::<SendFuture<'static, u8>>();
    }
}
