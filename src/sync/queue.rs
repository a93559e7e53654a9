//! [`Queue`]: a fair, cancel-safe FIFO queue; its [`Core`] also carries the channels.
//!
//! How the pieces move (all under the one lock of [`Core`]):
//!
//! - `occupied` counts the slots in use: items in the buffer, items handed to a getter
//!   that has not yet seen them, and slots reserved for putters that have not yet put.
//!   It never exceeds `maxsize`.
//! - A put takes a slot (at once if one is free and no putter waits, else by waiting
//!   in `putters` until a slot is reserved for it) and then delivers its item: straight
//!   to the oldest waiting getter if there is one, else to the back of the buffer. So
//!   the buffer is empty whenever a getter waits.
//! - A get takes the front item (at once, or by being handed one while it waits) and
//!   frees its slot, which goes straight to the oldest waiting putter.
//! - A getter dropped with an item it never saw hands the item on to the next waiting
//!   getter, or puts it back at the *front* of the buffer (it was older than all of
//!   it). A putter dropped with a reserved slot hands the slot to the next putter. A
//!   putter keeps its item until it has a slot, so a dropped put never enqueued.
//! - A stream (the `Stream` side of a queue or receiver) is never handed an item: its
//!   wait lives in the stream, not in the `next()` future a `select` or a timeout may
//!   drop, so an item handed to it could sit there unseen. A waiting stream is a
//!   *watcher*: an item that finds no waiting getter goes to the buffer and wakes every
//!   watcher, and each takes from the buffer when polled.
//! - The queue is *drained* once it is closed, its buffer is empty and no item is on
//!   its way to a getter (granted, not yet seen: a dropped getter would give it back).
//!   Only then does a get or a stream see the end; the getter that collects the last
//!   item in flight wakes the others to see it.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::sync::waiters::{Removed, WaiterId, WaiterList, WakeList};
use crate::sync::{Closed, WouldBlock};

/// The shared state of a queue or channel.
pub(crate) struct Core<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    items: VecDeque<T>,
    /// `None`: unbounded.
    maxsize: Option<usize>,
    occupied: usize,
    closed: bool,
    /// Getters waiting for an item; a grant is the item.
    getters: WaiterList<(), T>,
    /// Putters waiting for a slot; a grant is a slot reserved for them.
    putters: WaiterList<(), ()>,
    /// Streams waiting for an item; a grant is only a wake-up.
    watchers: WaiterList<(), ()>,
    /// The most items the buffer ever held, for the capacity tests.
    #[cfg(test)]
    high_water: usize,
}

impl<T> State<T> {
    fn has_free_slot(&self) -> bool {
        self.maxsize.is_none_or(|max| self.occupied < max)
    }

    /// Places an item whose slot is already counted in `occupied`: to the oldest
    /// waiting getter, or at the back of the buffer (waking the streams).
    fn deliver(&mut self, value: T, wakers: &mut WakeList) {
        if self.getters.is_empty() {
            self.items.push_back(value);
            self.check();
            self.watchers.grant_all(|()| (), wakers);
        } else {
            let waker = self.getters.grant_front(|()| value);
            wakers.push(waker.expect("a getter is queued"));
        }
    }

    /// Places an item that a dropped getter was handed and never saw: to the next
    /// waiting getter, or back at the *front* of the buffer (it is older than all of
    /// it).
    fn give_back(&mut self, value: T, wakers: &mut WakeList) {
        if self.getters.is_empty() {
            self.items.push_front(value);
            self.check();
            self.watchers.grant_all(|()| (), wakers);
        } else {
            self.deliver(value, wakers);
        }
    }

    /// Closed, and no item is left: none in the buffer, none on its way to a getter.
    fn drained(&self) -> bool {
        self.closed && self.items.is_empty() && self.getters.granted() == 0
    }

    /// Wakes every waiting getter and stream to look again (they stay queued).
    fn wake_readers(&mut self, wakers: &mut WakeList) {
        self.getters.wakers_of_queued(wakers);
        self.watchers.grant_all(|()| (), wakers);
    }

    /// A getter has seen the item it was handed: frees its slot, and once that was
    /// the last item of a closed queue, wakes the readers that wait for it to be seen.
    fn collected(&mut self, wakers: &mut WakeList) {
        self.release_slot(wakers);
        if self.drained() {
            self.wake_readers(wakers);
        }
    }

    /// An item left the queue: its slot goes to the oldest putter, or becomes free.
    fn release_slot(&mut self, wakers: &mut WakeList) {
        let granted = if self.closed {
            None
        } else {
            self.putters.grant_front(|()| ())
        };
        match granted {
            Some(waker) => wakers.push(waker),
            None => self.occupied -= 1,
        }
    }

    /// A putter leaves the line: a slot reserved for it goes to the next putter.
    fn leave_putters(&mut self, id: WaiterId, wakers: &mut WakeList) {
        if let Removed::Granted(()) = self.putters.leave(id, wakers) {
            self.release_slot(wakers);
        }
    }

    /// Checks the slot accounting (tests only).
    fn check(&mut self) {
        #[cfg(test)]
        {
            assert!(self.items.len() <= self.occupied);
            assert!(self.maxsize.is_none_or(|max| self.occupied <= max));
            self.high_water = self.high_water.max(self.items.len());
        }
    }

    fn try_put(&mut self, value: T, wakers: &mut WakeList) -> Result<(), WouldBlock<T>> {
        if self.closed {
            return Err(WouldBlock::Closed(value));
        }
        if !self.putters.is_empty() || !self.has_free_slot() {
            return Err(WouldBlock::Full(value));
        }
        self.occupied += 1;
        self.deliver(value, wakers);
        Ok(())
    }

    fn try_get(&mut self, wakers: &mut WakeList) -> Result<T, WouldBlock> {
        match self.items.pop_front() {
            Some(value) => {
                self.release_slot(wakers);
                Ok(value)
            }
            None if self.drained() => Err(WouldBlock::Closed(())),
            // Closed or not, an item still on its way to a getter may come back.
            None => Err(WouldBlock::Empty),
        }
    }
}

impl<T> Core<T> {
    pub(crate) fn new(maxsize: Option<usize>) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::new(),
                maxsize,
                occupied: 0,
                closed: false,
                getters: WaiterList::new(),
                putters: WaiterList::new(),
                watchers: WaiterList::new(),
                #[cfg(test)]
                high_water: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock()
    }

    pub(crate) fn put_nowait(&self, value: T) -> Result<(), WouldBlock<T>> {
        let mut wakers = WakeList::new();
        let result = self.lock().try_put(value, &mut wakers);
        wakers.wake();
        result
    }

    pub(crate) fn get_nowait(&self) -> Result<T, WouldBlock> {
        let mut wakers = WakeList::new();
        let result = self.lock().try_get(&mut wakers);
        wakers.wake_handing_out();
        result
    }

    /// Closes the queue and wakes every waiter; returns `false` if it was closed.
    pub(crate) fn close(&self) -> bool {
        let mut wakers = WakeList::new();
        {
            let mut state = self.lock();
            if state.closed {
                return false;
            }
            state.closed = true;
            // They stay queued; each sees `closed` on its next poll and leaves (a
            // reader once the queue is drained).
            state.wake_readers(&mut wakers);
            state.putters.wakers_of_queued(&mut wakers);
        }
        wakers.wake();
        true
    }

    /// Closes the queue and drops what it holds (outside the lock): the receiving side
    /// is gone for good.
    pub(crate) fn close_and_clear(&self) {
        self.close();
        let items = {
            let mut state = self.lock();
            let items = std::mem::take(&mut state.items);
            state.occupied -= items.len();
            items
        };
        drop(items);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        !self.lock().has_free_slot()
    }

    pub(crate) fn maxsize(&self) -> Option<usize> {
        self.lock().maxsize
    }
}

#[track_caller]
fn check_maxsize(maxsize: usize) -> usize {
    assert!(
        maxsize >= 1,
        "pride: a queue needs maxsize >= 1 (pride has no rendezvous queue; use a oneshot or an \
         Event for a hand-shake)"
    );
    maxsize
}

#[derive(Debug)]
enum Step {
    Start,
    Waiting(WaiterId),
    Done,
}

/// One wait for an item: the part of every get future that talks to the queue. Its
/// owner must call [`cancel`](GetWait::cancel) when dropped.
#[derive(Debug)]
pub(crate) struct GetWait(Step);

impl GetWait {
    pub(crate) const fn new() -> Self {
        Self(Step::Start)
    }

    /// Ready with an item, or `Closed` once the queue is drained.
    pub(crate) fn poll<T>(
        &mut self,
        core: &Core<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, Closed>> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let mut wakers = WakeList::new();
            let mut state = core.lock();
            let poll = match &self.0 {
                Step::Start => match state.try_get(&mut wakers) {
                    Ok(value) => Poll::Ready(Ok(value)),
                    Err(WouldBlock::Empty) => {
                        self.0 = Step::Waiting(state.getters.push_back((), cx.waker()));
                        Poll::Pending
                    }
                    Err(_) => Poll::Ready(Err(Closed(()))),
                },
                // Drained means no item is on its way to a getter: this one is still queued.
                Step::Waiting(_) if state.drained() => {
                    if let Step::Waiting(id) = std::mem::replace(&mut self.0, Step::Done) {
                        let _ = state.getters.leave(id, &mut wakers);
                    }
                    Poll::Ready(Err(Closed(())))
                }
                Step::Waiting(id) => match state.getters.poll(id, cx.waker(), &mut wakers) {
                    Poll::Ready(value) => {
                        state.collected(&mut wakers);
                        Poll::Ready(Ok(value))
                    }
                    Poll::Pending => Poll::Pending,
                },
                Step::Done => {
                    panic!(
                        "pride: a `Queue::get` or channel `recv` future polled after it completed"
                    )
                }
            };
            match poll {
                Poll::Ready(_) => self.0 = Step::Done,
                Poll::Pending => crate::debug::task::waits(cx, crate::debug::task::WaitOn::Queue),
            }
            drop(state);
            if matches!(poll, Poll::Ready(Ok(_))) {
                wakers.wake_handing_out();
            } else {
                wakers.wake();
            }
            poll
        })
    }

    /// Leaves the line; an item handed over but never seen goes to the next getter or
    /// back to the front of the queue.
    pub(crate) fn cancel<T>(&mut self, core: &Core<T>) {
        let Step::Waiting(id) = std::mem::replace(&mut self.0, Step::Done) else {
            return;
        };
        let mut wakers = WakeList::new();
        {
            let mut state = core.lock();
            if let Removed::Granted(value) = state.getters.leave(id, &mut wakers) {
                state.give_back(value, &mut wakers);
            }
        }
        wakers.wake();
    }
}

/// The future of a put: holds the item until it has a slot.
#[must_use = "futures do nothing unless awaited"]
pub struct PutFuture<'a, T> {
    core: &'a Core<T>,
    value: Option<T>,
    id: Option<WaiterId>,
}

impl<'a, T> PutFuture<'a, T> {
    pub(crate) fn new(core: &'a Core<T>, value: T) -> Self {
        Self {
            core,
            value: Some(value),
            id: None,
        }
    }
}

// The item is never pinned: it is moved into the queue by value.
impl<T> Unpin for PutFuture<'_, T> {}

impl<T> Future for PutFuture<'_, T> {
    type Output = Result<(), Closed<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let this = &mut *self;
            let mut wakers = WakeList::new();
            let mut state = this.core.lock();
            let poll = match &this.id {
                None => match state.try_put(this.take_value(), &mut wakers) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(WouldBlock::Full(value)) => {
                        this.value = Some(value);
                        this.id = Some(state.putters.push_back((), cx.waker()));
                        crate::debug::task::waits(cx, crate::debug::task::WaitOn::Queue);
                        Poll::Pending
                    }
                    Err(WouldBlock::Closed(value)) => Poll::Ready(Err(Closed(value))),
                    Err(WouldBlock::Empty) => unreachable!("a put never finds the queue empty"),
                },
                // A put that was given a slot but completes after `close` fails all the same.
                Some(_) if state.closed => {
                    if let Some(id) = this.id.take() {
                        state.leave_putters(id, &mut wakers);
                    }
                    Poll::Ready(Err(Closed(this.take_value())))
                }
                Some(id) => match state.putters.poll(id, cx.waker(), &mut wakers) {
                    Poll::Ready(()) => {
                        this.id = None;
                        state.deliver(this.take_value(), &mut wakers);
                        Poll::Ready(Ok(()))
                    }
                    Poll::Pending => {
                        crate::debug::task::waits(cx, crate::debug::task::WaitOn::Queue);
                        Poll::Pending
                    }
                },
            };
            drop(state);
            wakers.wake();
            poll
        })
    }
}

impl<T> PutFuture<'_, T> {
    fn take_value(&mut self) -> T {
        self.value
            .take()
            .expect("pride: a `Queue::put` or channel `send` future polled after it completed")
    }
}

impl<T> Drop for PutFuture<'_, T> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let mut wakers = WakeList::new();
        self.core.lock().leave_putters(id, &mut wakers);
        wakers.wake();
        // The item in `self.value` is dropped after the lock is released.
    }
}

impl<T> fmt::Debug for PutFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutFuture")
            .field("waiting", &self.id.is_some())
            .finish_non_exhaustive()
    }
}

/// The future of a get.
#[must_use = "futures do nothing unless awaited"]
pub struct GetFuture<'a, T> {
    core: &'a Core<T>,
    wait: GetWait,
}

impl<'a, T> GetFuture<'a, T> {
    pub(crate) fn new(core: &'a Core<T>) -> Self {
        Self {
            core,
            wait: GetWait::new(),
        }
    }
}

impl<T> Future for GetFuture<'_, T> {
    type Output = Result<T, Closed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.wait.poll(this.core, cx)
    }
}

impl<T> Drop for GetFuture<'_, T> {
    fn drop(&mut self) {
        self.wait.cancel(self.core);
    }
}

impl<T> fmt::Debug for GetFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetFuture").finish_non_exhaustive()
    }
}

/// The wait of a stream: a place among the watchers while it has found no item. It
/// is never handed an item, so a `next()` that is dropped leaves none behind. Its
/// owner must call [`cancel`](StreamWait::cancel) when dropped.
#[derive(Debug, Default)]
pub(crate) struct StreamWait(Option<WaiterId>);

impl StreamWait {
    /// The next item, or `None` once the queue is drained.
    pub(crate) fn poll_next<T>(&mut self, core: &Core<T>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let mut wakers = WakeList::new();
            let mut state = core.lock();
            let poll = match state.try_get(&mut wakers) {
                Ok(value) => Poll::Ready(Some(value)),
                Err(WouldBlock::Empty) => {
                    // Queued still, or woken by an item another reader took: wait (again).
                    if let Some(id) = &self.0 {
                        if state.watchers.poll(id, cx.waker(), &mut wakers).is_ready() {
                            self.0 = None;
                        }
                    }
                    if self.0.is_none() {
                        self.0 = Some(state.watchers.push_back((), cx.waker()));
                    }
                    crate::debug::task::waits(cx, crate::debug::task::WaitOn::Queue);
                    Poll::Pending
                }
                Err(_) => Poll::Ready(None),
            };
            if poll.is_ready() {
                if let Some(id) = self.0.take() {
                    let _ = state.watchers.leave(id, &mut wakers);
                }
            }
            drop(state);
            wakers.wake();
            poll
        })
    }

    /// Leaves the watchers (a wake-up it was given carries nothing to pass on).
    pub(crate) fn cancel<T>(&mut self, core: &Core<T>) {
        if let Some(id) = self.0.take() {
            let mut wakers = WakeList::new();
            let _ = core.lock().watchers.leave(id, &mut wakers);
            wakers.wake();
        }
    }
}

/// A fair, cancel-safe FIFO queue shared between tasks, bounded or not.
///
/// - [`put`](Queue::put) waits while the queue is full, [`get`](Queue::get) while it is
///   empty; both serve waiters in FIFO order and wake exactly one waiter per item or
///   freed slot.
/// - Cancel-safe: a `get` dropped after an item was handed to it gives the item to the
///   next getter (or back to the front of the queue); a `put` dropped before it
///   completed did not enqueue.
/// - [`close`](Queue::close) wakes everyone. Puts then fail, handing their item back
///   (this includes puts that were waiting, even one that had just been given a slot);
///   gets drain what is left and then return [`Closed`]. An item already handed to a
///   waiting get counts as left until that get has seen it: if the get is dropped
///   instead, the item goes to another get, never past one that has seen the end.
/// - The [`stream`](Queue::stream) side is woken for an item rather than handed one,
///   so a `next()` dropped by a `select` or a timeout holds no item back. It is the
///   exception to FIFO and wake-one: a put wakes every waiting stream, and the first to
///   poll takes the item. Gets waiting in [`get`](Queue::get) are served before
///   waiting streams.
///
/// `Queue` is a cheap handle: `clone()` shares the same queue. For separate sending
/// and receiving ends that close the queue when one side is gone, use
/// [`channel`](super::channel).
///
/// # Example
///
/// ```
/// use pride::sync::Queue;
///
/// futures_lite::future::block_on(async {
///     let q = Queue::with_maxsize(2);
///     let producer = {
///         let q = q.clone();
///         std::thread::spawn(move || {
///             futures_lite::future::block_on(async {
///                 for i in 0..10 {
///                     q.put(i).await.unwrap();
///                 }
///                 q.close();
///             })
///         })
///     };
///     let mut got = Vec::new();
///     while let Ok(i) = q.get().await {
///         got.push(i);
///     }
///     producer.join().unwrap();
///     assert_eq!(got, (0..10).collect::<Vec<_>>());
/// });
/// ```
#[doc(alias("open_memory_channel", "mpsc", "MemoryObjectStream"))]
pub struct Queue<T> {
    core: Arc<Core<T>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Self {
            core: self.core.clone(),
        }
    }
}

impl<T> Queue<T> {
    /// A queue holding at most `maxsize` items.
    ///
    /// # Panics
    ///
    /// If `maxsize` is 0: pride has no rendezvous queue.
    #[track_caller]
    pub fn with_maxsize(maxsize: usize) -> Self {
        Self {
            core: Arc::new(Core::new(Some(check_maxsize(maxsize)))),
        }
    }

    /// A queue without a size limit: `put` never waits.
    pub fn unbounded() -> Self {
        Self {
            core: Arc::new(Core::new(None)),
        }
    }

    /// Puts `value` at the back, waiting while the queue is full. Fails with the value
    /// if the queue is closed.
    pub fn put(&self, value: T) -> PutFuture<'_, T> {
        PutFuture::new(&self.core, value)
    }

    /// Takes the front item, waiting while the queue is empty. Fails once the queue is
    /// closed and drained: empty, with no item handed to another get that has not yet
    /// seen it (such a get, kept alive unpolled, holds the end back).
    pub fn get(&self) -> GetFuture<'_, T> {
        GetFuture::new(&self.core)
    }

    /// Puts `value` if there is room now and no put is waiting.
    pub fn put_nowait(&self, value: T) -> Result<(), WouldBlock<T>> {
        self.core.put_nowait(value)
    }

    /// Takes the front item if there is one. `Closed` once the queue is closed and
    /// drained; while an item handed to a waiting get may still come back, `Empty`.
    pub fn get_nowait(&self) -> Result<T, WouldBlock> {
        self.core.get_nowait()
    }

    /// Closes the queue, waking every waiting task. Idempotent.
    pub fn close(&self) {
        self.core.close();
    }

    /// Whether [`close`](Queue::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// The number of items in the queue.
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether the queue holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a put would have to wait now.
    pub fn is_full(&self) -> bool {
        self.core.is_full()
    }

    /// The size limit, `None` for an unbounded queue.
    pub fn maxsize(&self) -> Option<usize> {
        self.core.maxsize()
    }

    /// The receiving side as a [`Stream`] of items that ends once the queue is closed
    /// and drained.
    pub fn stream(&self) -> QueueStream<T> {
        QueueStream {
            queue: self.clone(),
            wait: StreamWait::default(),
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.core.lock();
        f.debug_struct("Queue")
            .field("len", &state.items.len())
            .field("maxsize", &state.maxsize)
            .field("closed", &state.closed)
            .finish()
    }
}

/// The [`Stream`] of [`Queue::stream`]; a `next()` dropped mid-wait, or the stream
/// itself, holds no item back.
///
/// A waiting stream is woken for an item, not handed one, so streams are the
/// exception to the queue's FIFO, wake-one service: a put that finds no
/// [`get`](Queue::get) waiting wakes every waiting stream, and the first to poll takes
/// the item (the others wait on). Waiting gets are served first, oldest first, one
/// wake per item.
///
/// ```
/// use futures_lite::StreamExt;
/// use std::time::Duration;
///
/// pride::run(async {
///     let q = pride::Queue::unbounded();
///     let mut items = q.stream();
///     // A wait for the next item that times out takes nothing with it.
///     assert!(pride::move_on_after(Duration::from_millis(1), items.next()).await.is_none());
///     q.put_nowait(1).unwrap();
///     assert_eq!(q.get_nowait().unwrap(), 1);
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct QueueStream<T> {
    queue: Queue<T>,
    wait: StreamWait,
}

impl<T> Stream for QueueStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        this.wait.poll_next(&this.queue.core, cx)
    }
}

impl<T> Drop for QueueStream<T> {
    fn drop(&mut self) {
        self.wait.cancel(&self.queue.core);
    }
}

impl<T> fmt::Debug for QueueStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueStream").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
