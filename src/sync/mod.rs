//! Sync: the primitives tasks use to wait for each other — [`Event`], [`Lock`],
//! [`RwLock`], [`Semaphore`], [`CapacityLimiter`], [`Notify`], [`Barrier`], [`Queue`],
//! the MPMC [`channel`], [`oneshot`], [`watch`] (the latest value, to many) and
//! [`broadcast`] (every message, to many).
//!
//! They are plain futures over `std::task::Waker` and know nothing about the scheduler,
//! task groups or cancel scopes, so they work under any executor; pride's cancellation
//! reaches them the only way it reaches anything, by dropping a waiting future.
//!
//! # Guarantees (every primitive keeps all three, streams excepted)
//!
//! - **Every wait is cancel-safe.** Dropping a waiting future (which is what a
//!   cancelled task does) loses nothing: a lock, permits, a token or an item that had
//!   already been handed to it passes on to the next waiter (an item goes back to the
//!   front of its queue), and a `put`/`send` that had not completed has not enqueued.
//! - **Fair FIFO.** Waiters are served in the order they first waited, and nobody jumps
//!   the line: a `try_*` call fails while others are waiting for the same thing.
//!   Resources are handed directly to the waiter at the front, not left for whoever
//!   polls first.
//! - **Wake only who can proceed.** A put wakes one getter, an unlock one waiter, a
//!   release of `k` permits only the waiters those permits satisfy. Only broadcasts
//!   ([`Event::set`], [`Notify::notify_waiters`], a completed [`Barrier`] round, a
//!   `watch` or `broadcast` send, closing a queue) wake many.
//!
//! The exception is the `Stream` side of a queue or channel ([`Queue::stream`], a
//! channel [`Receiver`] polled as a stream): it is neither FIFO nor wake-one. A waiting
//! stream is woken for an item rather than handed one, so that a `next()` dropped by a
//! `select` or a timeout, or a stream never polled again, holds no item back. So a put
//! that finds no `get` waiting wakes *every* waiting stream, and the first to poll
//! takes the item; the others wait on. Waiting gets are served before waiting streams,
//! in FIFO order and one wake per item: use `get()`/`recv()` where fairness matters.
//!
//! # Sharing
//!
//! [`Event`], [`Queue`], [`CapacityLimiter`] and the channel ends are cheap handles:
//! `clone()` gives another handle to the same object, ready to move into a `'static`
//! task. [`Lock`] and [`Semaphore`] own their state like `std::sync::Mutex` does; share
//! them by reference or in an `Arc` (the semaphore has `*_owned` methods for that), as
//! are [`RwLock`], [`Notify`] and [`Barrier`].

//!
//! # Details
//!
//! - `Queue::with_maxsize(0)` and `channel(0)` panic: there is no rendezvous queue
//!   (use [`oneshot`] or an [`Event`] for a hand-shake).
//! - Errors of queues and channels: [`WouldBlock<T = ()>`](WouldBlock) is `Full(T)` /
//!   `Empty` / `Closed(T)` for the non-blocking calls; [`Closed<T = ()>`](Closed) for
//!   the waiting ones (a get returns `Closed(())`, a put `Closed(value)`). [`oneshot`],
//!   [`watch`] and [`broadcast`] have errors of their own, which say what happened in
//!   their terms.
//! - A put that has not completed when its queue is closed fails, even one that had
//!   just been given a slot. Gets keep draining a closed queue.
//! - A put holds its item until it has a slot, so `len()` counts only items really in
//!   the queue, and a cancelled put never enqueued.
//! - [`CapacityLimiter`] borrowers are caller-chosen ids ([`Borrower`]); `acquire()`
//!   needs none (each [`CapacityToken`] is its own borrower). At least one token, as in
//!   AnyIO.
//! - Polling an acquire/get/put future again after it completed panics.
//! - [`broadcast`] sends never wait: a full ring overwrites its oldest message and a
//!   receiver that fell behind is told how many it missed. [`watch`] keeps only the
//!   latest value. A broadcast send with no receiver alive hands its value back
//!   ([`broadcast::SendError`]; the channel stays open, and a receiver subscribed
//!   later gets the next sends); a watch send always stores its value.
//! - [`Barrier::new(0)`](Barrier::new) acts as `Barrier::new(1)`; a cancelled barrier
//!   wait leaves its round rather than counting as arrived.
//! - A waker that panics when woken (a foreign executor's bug) does not keep the
//!   other waiters from being woken: the call that wakes them (a set, a send, a
//!   release, a close, a drop) wakes them all, then resumes the first panic. What the
//!   call did has taken effect. A call that hands out a value it took (a `get`, a
//!   `get_nowait`, a broadcast `recv`) lets the waker's panic go instead, which the
//!   panic hook has reported: resumed there, it would lose that value. So does a drop
//!   that runs while its thread is already unwinding. A waker whose drop panics is
//!   treated the same way.
//! - A wait re-polled under a waker whose clone panics passes the panic on and keeps
//!   its place in line under its old waker; dropped, it leaves the line like any
//!   cancelled wait.
//! - No primitive drops a waker while it holds its own lock, so a waker may own a
//!   handle to the primitive it waits on (its last sender, a permit).

// How the primitives work: one FIFO waiter list (a slab threaded by a linked list)
// behind each primitive's lock, in `waiters.rs`. A waiter is registered on its first
// `Pending` poll, its waker refreshed on re-polls, and it is removed when its future
// completes or is dropped; a grant it never saw is passed on.

mod barrier;
pub mod broadcast;
mod channel;
mod error;
mod event;
mod limiter;
mod lock;
mod notify;
pub mod oneshot;
mod queue;
mod rwlock;
mod semaphore;
pub(crate) mod waiters;
pub mod watch;

#[cfg(pride_loom)]
#[doc(hidden)]
pub mod loom_api;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult};
pub use channel::{Receiver, RecvFuture, SendFuture, Sender, channel, unbounded_channel};
pub use error::{BorrowError, Closed, WouldBlock};
pub use event::{Event, WaitFuture};
pub use limiter::{
    AcquireOnBehalfFuture, AcquireTokenFuture, Borrower, CapacityLimiter, CapacityToken,
};
pub use lock::{Lock, LockFuture, LockGuard};
pub use notify::{Notified, Notify};
pub use queue::{GetFuture, PutFuture, Queue, QueueStream};
pub use rwlock::{ReadFuture, RwLock, RwLockReadGuard, RwLockWriteGuard, WriteFuture};
pub use semaphore::{
    AcquireFuture, AcquireOwnedFuture, OwnedSemaphorePermit, Semaphore, SemaphorePermit,
};
