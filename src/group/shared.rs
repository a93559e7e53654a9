//! State shared by a group's future, its `TaskGroup` handles and its children.
//!
//! Completion and error reporting never take a lock:
//! - `state` counts live children and holds the `CLOSED` bit. Spawning increments it
//!   unless `CLOSED`; a child decrements it after its future is dropped; the group
//!   closes with one CAS from "zero children, open" to `CLOSED`.
//! - `errors` is a Treiber stack: children push, the group drains it once when it
//!   exits (and reverses it into completion order). There is no pop of single nodes,
//!   so there is no ABA.
//!
//! The child that takes the count to zero wakes the group through its scope node's
//! waker; the group registers that waker before it reads the count (see
//! `loom-tests/group.rs`).

use std::num::NonZeroUsize;
use std::ptr;

use super::error::TaskError;
use super::limit::Limit;
use crate::cancel::node::{Enclosing, ParentLoan, ScopeNode};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use crate::runtime::Handle;
use crate::task::{Notified, Task};

/// Bit 0: the group has exited. Bits 1..: live children.
const CLOSED: usize = 1;
const CHILD_ONE: usize = 2;

struct ErrorNode {
    error: TaskError,
    next: *mut ErrorNode,
}

/// A lock-free stack of errors; drained once.
pub struct ErrorStack {
    head: AtomicPtr<ErrorNode>,
}

impl ErrorStack {
    /// An empty stack.
    pub fn new() -> ErrorStack {
        ErrorStack {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes one error; lock-free, callable from any thread.
    pub fn push(&self, error: TaskError) {
        let node = Box::into_raw(Box::new(ErrorNode {
            error,
            next: ptr::null_mut(),
        }));
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` is ours until the CAS publishes it.
            unsafe { (*node).next = head };
            // Release: the node (its error and `next`) is complete for whoever acquires
            // it in `has_any` or `take_all`. A child's push is also ordered before the
            // group's drain by the child counter (the child counts itself out with
            // AcqRel after pushing, and the group drains only after it closed), but a
            // push made by a task outside the group (a cancelled `start` caller handing
            // over its child's error) has only this edge.
            match self
                .head
                .compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Whether any error has been pushed (and not drained).
    #[inline]
    pub fn has_any(&self) -> bool {
        !self.head.load(Ordering::Acquire).is_null()
    }

    /// Takes every error pushed so far, oldest first.
    #[inline]
    pub fn drain(&self) -> Vec<TaskError> {
        // Most groups end without errors: a load spares them the swap.
        if !self.has_any() {
            return Vec::new();
        }
        self.take_all()
    }

    fn take_all(&self) -> Vec<TaskError> {
        let mut node = self.head.swap(ptr::null_mut(), Ordering::Acquire);
        let mut errors = Vec::new();
        while !node.is_null() {
            // SAFETY: the swap took the whole list out of the stack; each node was made
            // by `Box::into_raw` in `push` and published with Release, which our
            // Acquire swap synchronises with. Nobody else can reach these nodes.
            let boxed = unsafe { Box::from_raw(node) };
            node = boxed.next;
            errors.push(boxed.error);
        }
        errors.reverse();
        errors
    }
}

impl Default for ErrorStack {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ErrorStack {
    fn drop(&mut self) {
        drop(self.drain());
    }
}

/// The lock-free child counter with the `CLOSED` bit.
pub struct ChildCounter(AtomicUsize);

impl ChildCounter {
    /// No children, open.
    pub fn new() -> ChildCounter {
        ChildCounter(AtomicUsize::new(0))
    }

    /// Counts a new child; fails once the group is closed.
    pub fn try_add(&self) -> bool {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            if cur & CLOSED != 0 {
                return false;
            }
            assert!(
                cur < usize::MAX / 2,
                "pride: too many children in one task group"
            );
            match self.0.compare_exchange_weak(
                cur,
                cur + CHILD_ONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// A child is gone. Returns true if it was the last one.
    #[must_use]
    pub fn remove(&self) -> bool {
        let prev = self.0.fetch_sub(CHILD_ONE, Ordering::AcqRel);
        debug_assert!(prev >= CHILD_ONE);
        prev & !CLOSED == CHILD_ONE
    }

    /// Closes the group if it has no children (or is already closed).
    #[inline]
    pub fn try_close(&self) -> bool {
        match self
            .0
            .compare_exchange(0, CLOSED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(actual) => actual == CLOSED,
        }
    }

    /// The group's wait for its last child: closes the group if no child is left;
    /// otherwise calls `register` (which makes the group's waker the one the last
    /// child wakes) and looks again, since the last child may have finished between
    /// the first look and the registration without seeing the new waker. True: closed,
    /// no child left; false: the last child will wake the registered waker.
    #[inline]
    pub fn close_or_register(&self, register: impl FnOnce()) -> bool {
        if self.try_close() {
            return true;
        }
        register();
        self.try_close()
    }

    /// Closes the group to new children whatever its count (teardown).
    pub(crate) fn close(&self) {
        self.0.fetch_or(CLOSED, Ordering::AcqRel);
    }

    /// Number of live children.
    pub fn live(&self) -> usize {
        self.0.load(Ordering::Acquire) / CHILD_ONE
    }
}

impl Default for ChildCounter {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a new child already holds a slot of the group's limit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Take a slot, or queue behind the limit.
    Queue,
    /// The caller already took one.
    Held,
}

pub(crate) struct GroupShared {
    pub(crate) scope: crate::CancelScope,
    pub(crate) limit: Option<Limit>,
    pub(crate) handle: Handle,
    pub(crate) children: ChildCounter,
    pub(crate) errors: ErrorStack,
    /// Children counted in `children` whose futures are gone but whose error waits
    /// for the caller of their `start` (who counts them out once it has the error).
    held: AtomicUsize,
    /// A child or the body was dropped because the group's scope (or one above it)
    /// was cancelled.
    pub(crate) cut_short: AtomicBool,
    /// Feature `tracing`: the group's span (empty without the feature).
    pub(crate) span: crate::debug::trace::GroupSpan,
}

#[cfg(not(pride_loom))]
thread_local! {
    /// Finished groups' states kept for reuse on this thread (see `pool.rs`). Each
    /// holds the handle of the runtime it last ran on: a state taken on another runtime
    /// swaps it (`make`), and the list, with the handles, is dropped when the thread
    /// exits, so a dropped runtime's queues and driver outlive it only as long as a
    /// thread that ran its groups keeps states it has not reused since.
    static FREE_GROUPS: crate::pool::FreeList<GroupShared> = const { std::cell::RefCell::new(Vec::new()) };
}

// SAFETY: nothing ever downgrades an `Arc<GroupShared>`.
unsafe impl crate::pool::NoWeak for GroupShared {}

impl GroupShared {
    /// The state of a group being opened on the current runtime, its node entered
    /// below `parent` (privately: the caller keeps the loan until its poll ends).
    /// Reuses a finished group's state from this thread's free list when it has one.
    /// Panics outside a runtime.
    #[inline]
    pub(crate) fn open(
        limit: Option<NonZeroUsize>,
        parent: Enclosing,
    ) -> (Arc<GroupShared>, ParentLoan) {
        let mut shared = GroupShared::make(limit);
        let loan = match crate::pool::unique_mut(&mut shared) {
            Some(private) => ScopeNode::enter_private(private.scope.node_mut(), parent),
            // Only under loom, where no state is ever seen as unique: entered through
            // a second reference, so with an owned link, whose loan has nothing to end.
            None => ScopeNode::enter_private(&mut shared.node().clone(), parent),
        };
        shared.node().set_label(crate::cancel::node::Label::Group);
        shared.span.open();
        (shared, loan)
    }

    /// A fresh state, its node not entered.
    #[inline]
    fn make(limit: Option<NonZeroUsize>) -> Arc<GroupShared> {
        // A listed state may be of another runtime (a group dropped on this thread
        // after it left one, during that runtime's shutdown): then it takes this one's.
        // Until then a listed state keeps that runtime's handle, and with it the
        // runtime's shared state (queues, the reactor's descriptors), alive after the
        // runtime is dropped: at most one free list's worth of states per thread, until
        // the thread runs groups on a runtime again or exits. Dropping the handle when
        // a state is listed would free it at once, but costs every reused group a
        // handle clone and release.
        #[cfg(not(pride_loom))]
        if let Some(shared) = crate::pool::take(&FREE_GROUPS, |fresh| {
            let same_runtime = crate::runtime::context::with_current(|current| {
                current.map(|current| current.ptr_eq(&fresh.handle))
            });
            if same_runtime != Some(true) {
                fresh.handle = crate::runtime::context::handle("`task_group`");
            }
            if limit.is_some() || fresh.limit.is_some() {
                fresh.limit = limit.map(|limit| Limit::new(limit.get()));
            }
        }) {
            return shared;
        }
        Arc::new(GroupShared {
            scope: crate::CancelScope::from_node(ScopeNode::new()),
            limit: limit.map(|limit| Limit::new(limit.get())),
            handle: crate::runtime::context::handle("`task_group`"),
            children: ChildCounter::new(),
            errors: ErrorStack::new(),
            held: AtomicUsize::new(0),
            cut_short: AtomicBool::new(false),
            span: crate::debug::trace::GroupSpan::new(),
        })
    }

    /// The group has exited: gives its state back for reuse if nothing else holds it
    /// (no handle, no child), else just drops this reference.
    #[inline]
    pub(crate) fn recycle(shared: Arc<GroupShared>) {
        GroupShared::put_back::<false>(shared);
    }

    /// [`recycle`](Self::recycle) for a group that [finished alone](Self::is_finished_alone)
    /// on its first poll, with the loan of that poll: its counter, errors and flags
    /// are already as a fresh group's.
    #[inline]
    pub(crate) fn recycle_untouched(shared: Arc<GroupShared>, loan: ParentLoan) {
        // The reset below drops the link (`renew_entered`).
        loan.settle_before_reset(shared.node());
        GroupShared::put_back::<true>(shared);
    }

    /// Both recycles; `UNTOUCHED` picks the light reset at compile time.
    #[inline]
    fn put_back<const UNTOUCHED: bool>(shared: Arc<GroupShared>) {
        #[cfg(not(pride_loom))]
        crate::pool::put(&FREE_GROUPS, shared, |group| {
            if UNTOUCHED {
                ScopeNode::renew_entered(group.scope.node_mut());
            } else {
                ScopeNode::renew(group.scope.node_mut());
                *group.children.0.get_mut() = 0;
                if group.errors.has_any() {
                    drop(group.errors.drain());
                }
                *group.cut_short.get_mut() = false;
                debug_assert_eq!(*group.held.get_mut(), 0, "a drained group holds no count");
            }
            if group.limit.is_some() {
                group.limit = None;
            }
        });
        #[cfg(pride_loom)]
        drop(shared);
    }

    #[inline]
    pub(crate) fn node(&self) -> &Arc<ScopeNode> {
        self.scope.node()
    }

    /// Nothing but the group's own future holds the state or its node (no child, not
    /// even a finished one whose stale link is still there, no nested scope, no
    /// `CancelScope` clone), no child is counted in, and nothing failed: a group whose
    /// body just returned is then complete, with nothing linked to clear.
    #[inline]
    pub(crate) fn is_finished_alone(shared: &Arc<GroupShared>) -> bool {
        #[cfg(not(pride_loom))]
        {
            GroupShared::alone_without_children(shared)
                && Arc::strong_count(shared.node()) == 1
                && !shared.errors.has_any()
                && !shared.node().cancel_called()
        }
        #[cfg(pride_loom)]
        {
            let _ = shared;
            false
        }
    }

    /// The group's wait for its last child (see [`ChildCounter::close_or_register`]).
    /// When this is the state's only reference (no handle, no child), nobody can add a
    /// child, so a plain store closes it.
    #[inline]
    pub(crate) fn close_or_register(shared: &Arc<GroupShared>, register: impl FnOnce()) -> bool {
        #[cfg(not(pride_loom))]
        if GroupShared::alone_without_children(shared) {
            shared.children.0.store(CLOSED, Ordering::Relaxed);
            return true;
        }
        shared.children.close_or_register(register)
    }

    /// Only the group's own future holds the state (no handle, and no child that could
    /// start one) and no child is counted in.
    #[cfg(not(pride_loom))]
    #[inline]
    fn alone_without_children(shared: &Arc<GroupShared>) -> bool {
        Arc::strong_count(shared) == 1 && shared.children.0.load(Ordering::Acquire) == 0
    }

    /// A task failed: keep its error and cancel everything else in the group.
    pub(crate) fn report(&self, error: TaskError) {
        self.errors.push(error);
        self.node().cancel();
    }

    /// Enters a new child's scope below the group's, with its task reference for
    /// teardown, and schedules its first run (queued behind the limit, if any).
    pub(crate) fn launch(&self, node: &Arc<ScopeNode>, notified: Notified, task: Task, slot: Slot) {
        ScopeNode::enter(node, Some(self.node().clone()), Some(task));
        match (&self.limit, slot) {
            (Some(limit), Slot::Queue) => limit.start_or_queue(&self.handle, notified),
            _ => self.handle.spawn(notified),
        }
    }

    /// A child's future is gone: frees its slot of the limit. `ran`: it was polled, so
    /// it held one (a child that never ran was torn down with the group, where slots
    /// no longer matter).
    pub(crate) fn release_slot(&self, ran: bool) {
        if ran {
            if let Some(limit) = &self.limit {
                limit.release(&self.handle);
            }
        }
    }

    /// Counts a gone child out, waking the group if it was the last.
    pub(crate) fn count_out(&self) {
        if self.children.remove() {
            self.node().wake();
        }
    }

    /// A starting child is gone, but its error waits for the caller of `start`: it
    /// stays counted in, so the group cannot drain before the error is taken.
    pub(crate) fn hold_count(&self) {
        self.held.fetch_add(1, Ordering::AcqRel);
    }

    /// The caller of `start` has taken a held child's error (or given it to the
    /// group): counts the child out.
    pub(crate) fn release_held(&self) {
        self.held.fetch_sub(1, Ordering::AcqRel);
        self.count_out();
    }

    /// No child future is left (children whose error waits for a `start` caller may
    /// still be counted in). Read the count first: after the group closed, a count
    /// can only move from live to held, so equal values prove no live future.
    pub(crate) fn no_future_left(&self) -> bool {
        let counted = self.children.live();
        counted == self.held.load(Ordering::Acquire)
    }
}
