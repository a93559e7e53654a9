//! A group's concurrency limit (Go's `errgroup.SetLimit`): at most `max` children run
//! at once. A child started beyond the limit is created and counted (so it keeps the
//! group open, and a teardown reaches it) but its first run is queued here, and it is
//! scheduled when a running child finishes. A `start_soon_wait` caller waits in a line
//! of its own, behind the queued children: a freed slot is handed to the front waiter,
//! and one that goes away unused is passed on. All of it sits behind one short lock,
//! taken only by limited groups: when a child starts or finishes, and by the waiters.
//! A group torn down (dropped before it finished) closes its limit: the queued children
//! are dropped without running, a child queued later is dropped at once, and every
//! waiter, now or later, finds the group closed instead of waiting for a slot.
//! A queued child with a scope of its own that was cancelled before its turn came (by
//! its handle, or by its `start` caller's cancel, whose child it still was) never runs:
//! whoever cancelled it takes it out of the queue where it can, and a slot passed on
//! skips, and drops, one still found there.

use std::collections::VecDeque;
use std::task::{Poll, Waker};

use crate::cancel::node::ScopeNode;
use crate::loom::sync::{Arc, Mutex};
use crate::runtime::Handle;
use crate::sync::waiters::{Removed, WaiterId, WaiterList, WakeList};
use crate::task::Notified;

pub(crate) struct Limit {
    max: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    /// Slots taken: by running children, and by waiters granted a slot they have not
    /// yet used.
    running: usize,
    /// Children started past the limit, in order.
    queued: VecDeque<Queued>,
    /// `start_soon_wait` callers waiting for a free slot. A freed slot is handed to the
    /// front waiter as its grant, so no later caller can take it first; a waiter that
    /// goes away with a grant it never used passes the slot on.
    waiters: WaiterList<(), ()>,
    /// The group was torn down: nothing queues or waits any more.
    closed: bool,
}

/// A child queued behind the limit.
struct Queued {
    task: Notified,
    /// The child's own scope, if it has one: cancelled before the child's turn (by its
    /// handle, or by its `start` caller's cancel while it was still the caller's), the
    /// child is dropped instead of run. A cancel that reaches the child during a walk
    /// of the cancel tree cannot take it out of the queue there (the child's `Drop`
    /// must not run inside the walk); this catches it.
    node: Option<Arc<ScopeNode>>,
}

impl Queued {
    fn is_cancelled(&self) -> bool {
        self.node
            .as_ref()
            .is_some_and(|node| node.cancel_flag_set())
    }
}

impl Inner {
    /// Takes a slot if one is free and nobody queued or waiting is ahead of the caller.
    fn take_free(&mut self, max: usize) -> bool {
        let free = self.running < max && self.queued.is_empty() && self.waiters.is_empty();
        if free {
            self.running += 1;
        }
        free
    }

    /// Passes a slot that is no longer used on: to the first queued child (returned, to
    /// be spawned once the lock is dropped), else to the front waiter (whose waker is
    /// returned), else frees it. A queued child cancelled before its turn is skipped,
    /// and goes to `unrun`, to be dropped once the lock is dropped.
    fn pass_on(&mut self, unrun: &mut Vec<Notified>) -> Next {
        while let Some(queued) = self.queued.pop_front() {
            if !queued.is_cancelled() {
                return Next::Spawn(queued.task);
            }
            unrun.push(queued.task);
        }
        if let Some(waker) = self.waiters.grant_front(|()| ()) {
            return Next::Wake(waker);
        }
        self.running -= 1;
        Next::Nothing
    }
}

/// The group was torn down: no slot will come.
pub(crate) struct Closed;

/// Where a slot passed on schedules the child it goes to: the group's runtime (under
/// `cfg(pride_loom)`, also a loom model's own queue).
pub(crate) trait Spawn {
    fn spawn(&self, task: Notified);
}

impl Spawn for Handle {
    fn spawn(&self, task: Notified) {
        Handle::spawn(self, task);
    }
}

/// Who a slot that was passed on went to; acted on after the lock is dropped.
#[must_use]
enum Next {
    Spawn(Notified),
    Wake(Waker),
    Nothing,
}

impl Next {
    fn run(self, handle: &impl Spawn) {
        match self {
            Next::Spawn(task) => handle.spawn(task),
            Next::Wake(waker) => waker.wake(),
            Next::Nothing => {}
        }
    }
}

impl Limit {
    pub(crate) fn new(max: usize) -> Limit {
        Limit {
            max,
            inner: Mutex::new(Inner {
                running: 0,
                queued: VecDeque::new(),
                waiters: WaiterList::new(),
                closed: false,
            }),
        }
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Runs `task` now if a slot is free, else queues it behind the others; drops it
    /// (its child never runs) if the group was torn down. `node`: the child's own
    /// scope, if it has one; cancelled while the child is queued, the child never runs.
    pub(crate) fn start_or_queue(
        &self,
        handle: &impl Spawn,
        task: Notified,
        node: Option<Arc<ScopeNode>>,
    ) {
        let mut inner = self.inner.lock();
        if inner.closed {
            drop(inner);
            drop(task);
        } else if inner.take_free(self.max) {
            drop(inner);
            handle.spawn(task);
        } else {
            inner.queued.push_back(Queued { task, node });
        }
    }

    /// The group is torn down: its queued children are dropped without running (each
    /// counts itself out as its future goes), and every waiter is woken to find the
    /// group closed.
    pub(crate) fn close(&self) {
        let mut wakers = WakeList::new();
        let queued = {
            let mut inner = self.inner.lock();
            inner.closed = true;
            inner.waiters.wakers_of_queued(&mut wakers);
            std::mem::take(&mut inner.queued)
        };
        // Outside the lock: this runs the children's `Drop`.
        drop(queued);
        wakers.wake();
    }

    /// Takes the queued child whose own scope is `node` out of the queue if that scope
    /// is cancelled (by its handle, or by its `start` caller's cancel, before it ever
    /// ran). Dropping the returned task drops the child.
    pub(crate) fn unqueue_cancelled(&self, node: &Arc<ScopeNode>) -> Option<Notified> {
        let mut inner = self.inner.lock();
        let at = inner.queued.iter().position(|queued| {
            queued
                .node
                .as_ref()
                .is_some_and(|queued| Arc::ptr_eq(queued, node))
        })?;
        if !inner.queued[at].is_cancelled() {
            return None;
        }
        inner.queued.remove(at).map(|queued| queued.task)
    }

    /// Takes a slot if one is free (for `try_start_now`); `Err` once the group was
    /// torn down.
    pub(crate) fn try_acquire(&self) -> Result<bool, Closed> {
        let mut inner = self.inner.lock();
        if inner.closed {
            return Err(Closed);
        }
        Ok(inner.take_free(self.max))
    }

    /// Takes a slot for a `start_soon_wait` caller: at once if one is free, else by
    /// queueing `waiter` (or refreshing its waker) until a freed slot is granted to it.
    /// `waiter` keeps its id until the grant is taken, also when cloning `waker` panics,
    /// so a waiter that goes away before `Ready` must call
    /// [`cancel_wait`](Self::cancel_wait) with the id it holds. `Err` once the group was
    /// torn down: the waiter has left the line.
    pub(crate) fn poll_acquire(
        &self,
        handle: &impl Spawn,
        waiter: &mut Option<WaiterId>,
        waker: &Waker,
    ) -> Poll<Result<(), Closed>> {
        let mut wakers = WakeList::new();
        let mut inner = self.inner.lock();
        if inner.closed {
            let mut unrun = Vec::new();
            let next = match waiter.take().map(|id| inner.waiters.leave(id, &mut wakers)) {
                Some(Removed::Granted(())) => inner.pass_on(&mut unrun),
                _ => Next::Nothing,
            };
            drop(inner);
            wakers.wake();
            next.run(handle);
            drop(unrun);
            return Poll::Ready(Err(Closed));
        }
        let granted = match waiter {
            Some(id) => inner.waiters.poll(id, waker, &mut wakers),
            None if inner.take_free(self.max) => Poll::Ready(()),
            None => {
                *waiter = Some(inner.waiters.push_back((), waker));
                Poll::Pending
            }
        };
        if granted.is_ready() {
            *waiter = None;
        }
        drop(inner);
        wakers.wake();
        granted.map(Ok)
    }

    /// A waiter went away: it leaves the line, and a slot granted to it that it never
    /// used goes to the next in line.
    pub(crate) fn cancel_wait(&self, handle: &impl Spawn, waiter: WaiterId) {
        let mut wakers = WakeList::new();
        let mut unrun = Vec::new();
        let mut inner = self.inner.lock();
        let next = match inner.waiters.leave(waiter, &mut wakers) {
            Removed::Granted(()) => inner.pass_on(&mut unrun),
            Removed::Queued(()) => Next::Nothing,
        };
        drop(inner);
        wakers.wake();
        next.run(handle);
        // Outside the lock: this runs the children's `Drop`.
        drop(unrun);
    }

    /// A running child finished (or a slot taken for a child went unused): its slot
    /// goes to the first queued child not cancelled before its turn (those before it
    /// are dropped without running), else to the first waiter, else is freed.
    pub(crate) fn release(&self, handle: &impl Spawn) {
        let mut unrun = Vec::new();
        let next = self.inner.lock().pass_on(&mut unrun);
        next.run(handle);
        // Outside the lock: this runs the children's `Drop`.
        drop(unrun);
    }

    /// Children running now; none once the group was torn down (its teardown cancels
    /// every child, and one cancelled before it first ran never gave its slot back).
    pub(crate) fn running(&self) -> usize {
        let inner = self.inner.lock();
        if inner.closed { 0 } else { inner.running }
    }
}

/// What `loom-tests/group_limit.rs` drives: the limit itself, without a runtime (a
/// child a slot goes to is handed to a function of the model's). Only under
/// `cfg(pride_loom)`; reached as `pride::__loom::limit`.
#[cfg(pride_loom)]
pub(crate) mod loom_api {
    use std::task::{Poll, Waker};

    use crate::cancel::node::ScopeNode;
    use crate::loom::sync::Arc;
    use crate::sync::waiters::WaiterId;
    use crate::task::Notified;

    /// The model's function, as the runtime a slot's child is spawned on.
    struct Spawner<'a>(&'a dyn Fn(Notified));

    impl super::Spawn for Spawner<'_> {
        fn spawn(&self, task: Notified) {
            (self.0)(task);
        }
    }

    /// A group's concurrency limit. `spawn`: where a child given a slot goes.
    pub struct Limit(super::Limit);

    /// The group was torn down: no slot will come.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Closed;

    /// A `start_soon_wait`'s place in the limit's line of waiters.
    #[derive(Default)]
    pub struct Waiter(Option<WaiterId>);

    impl Limit {
        /// A limit of `max` children.
        pub fn new(max: usize) -> Limit {
            Limit(super::Limit::new(max))
        }

        /// A child launched (`GroupShared::schedule`), with its own scope if it has one.
        pub fn start_or_queue(
            &self,
            spawn: &dyn Fn(Notified),
            task: Notified,
            node: Option<Arc<ScopeNode>>,
        ) {
            self.0.start_or_queue(&Spawner(spawn), task, node);
        }

        /// The group was torn down (`TaskGroupFuture`'s teardown).
        pub fn close(&self) {
            self.0.close();
        }

        /// What a cancel by a child's handle, or by its `start` caller, takes out of
        /// the queue.
        pub fn unqueue_cancelled(&self, node: &Arc<ScopeNode>) -> Option<Notified> {
            self.0.unqueue_cancelled(node)
        }

        /// `try_start_now`'s slot: `Err` once the group was torn down.
        pub fn try_acquire(&self) -> Result<bool, Closed> {
            self.0.try_acquire().map_err(|_| Closed)
        }

        /// `StartSoonWait::poll`'s wait for a slot: `Err` once the group was torn down.
        pub fn poll_acquire(
            &self,
            spawn: &dyn Fn(Notified),
            waiter: &mut Waiter,
            waker: &Waker,
        ) -> Poll<Result<(), Closed>> {
            self.0
                .poll_acquire(&Spawner(spawn), &mut waiter.0, waker)
                .map(|acquired| acquired.map_err(|_| Closed))
        }

        /// `StartSoonWait::drop`.
        pub fn cancel_wait(&self, spawn: &dyn Fn(Notified), mut waiter: Waiter) {
            if let Some(id) = waiter.0.take() {
                self.0.cancel_wait(&Spawner(spawn), id);
            }
        }

        /// A running child finished (`GroupShared::release_slot`).
        pub fn release(&self, spawn: &dyn Fn(Notified)) {
            self.0.release(&Spawner(spawn));
        }

        /// `TaskGroup::running`.
        pub fn running(&self) -> usize {
            self.0.running()
        }

        /// Children queued now.
        pub fn queued(&self) -> usize {
            self.0.inner.lock().queued.len()
        }

        /// Whether the child whose own scope is `node` is queued now.
        pub fn is_queued(&self, node: &Arc<ScopeNode>) -> bool {
            self.0.inner.lock().queued.iter().any(|queued| {
                queued
                    .node
                    .as_ref()
                    .is_some_and(|queued| Arc::ptr_eq(queued, node))
            })
        }
    }
}
