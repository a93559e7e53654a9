//! State shared by a group's future, its `TaskGroup` handles and its children.
//!
//! Completion and error reporting never take a lock:
//! - `state` counts live children and holds the `CLOSED` bit. Spawning increments it
//!   unless `CLOSED`; a child decrements it after its future is dropped; the group
//!   closes with one CAS from "zero children, open" to `CLOSED`.
//! - `errors` is a Treiber stack: children push, the group drains it once when it
//!   exits (and sorts it into completion order). There is no pop of single nodes, so
//!   there is no ABA.
//!
//! The child that takes the count to zero wakes the group through its scope node's
//! waker; the group registers that waker before it reads the count (see
//! `loom-tests/group.rs`).
//!
//! A group dropped where it cannot wait for its running children (see `future.rs`,
//! `teardown`) sets the `HANDED` bit: from then on, each child whose future goes looks
//! whether none is left, and the one that finds none (or the teardown itself, which
//! looks once after setting the bit) takes the bit and lets the groups around go (see
//! [`drained_and_taken`] and `loom-tests/drain.rs`).

use std::mem::MaybeUninit;
use std::num::NonZeroUsize;
use std::ptr;
use std::sync::Arc as StdArc;

use super::error::TaskError;
use super::limit::Limit;
use crate::cancel::node::{Below, Label, ListClosed, Released, ScopeNode};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use crate::runtime::Handle;
use crate::task::{Notified, Task};

/// Bit 0: the group has exited. Bit 1: it was dropped without waiting for its running
/// children, which release the groups around it once they are gone. Bits 2..: live
/// children.
const CLOSED: usize = 1;
const HANDED: usize = 2;
const CHILD_ONE: usize = 4;

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

    /// Takes every error pushed so far, in the order the failures happened (see
    /// `TaskError::completed`): a failure may be pushed well after it happened (a
    /// starting child's, held for its caller until the caller went away).
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
        // Pushed in about that order already: the sort only moves the late ones.
        errors.sort_by_key(TaskError::completed);
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
    #[inline]
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

    /// A child is gone.
    #[must_use]
    #[inline]
    pub fn remove(&self) -> Removed {
        let prev = self.0.fetch_sub(CHILD_ONE, Ordering::AcqRel);
        debug_assert!(prev >= CHILD_ONE);
        Removed(prev)
    }

    /// The group cannot wait for its children: the one whose future goes last releases
    /// the groups around it (see the module docs).
    pub fn hand_over(&self) {
        self.0.fetch_or(HANDED, Ordering::AcqRel);
    }

    /// Whether the group was handed over, read by a read-modify-write so that it is
    /// ordered with [`hand_over`](Self::hand_over) whichever comes first: a child that
    /// changed `held` before this either sees the bit, or the teardown that set it sees
    /// that change.
    pub fn is_handed_over(&self) -> bool {
        self.0.fetch_add(0, Ordering::AcqRel) & HANDED != 0
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

    /// Whether the group has closed: it drained and ended, or is being torn down.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.0.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Closes the group to new children whatever its count (teardown).
    pub fn close(&self) {
        self.0.fetch_or(CLOSED, Ordering::AcqRel);
    }

    /// Number of live children.
    pub fn live(&self) -> usize {
        self.0.load(Ordering::Acquire) / CHILD_ONE
    }
}

/// What [`ChildCounter::remove`] found.
#[derive(Clone, Copy)]
pub struct Removed(usize);

impl Removed {
    /// The child was the last one.
    pub fn last(self) -> bool {
        self.0 & !(CLOSED | HANDED) == CHILD_ONE
    }

    /// The group was handed over (see [`ChildCounter::hand_over`]).
    pub fn handed_over(self) -> bool {
        self.0 & HANDED != 0
    }
}

/// A child's future is gone and it is counted out (`GroupShared::count_out`): whether
/// it was the last child, and whether this call releases a handed-over group (see
/// [`drained_and_taken`]).
#[inline]
pub fn count_out(children: &ChildCounter, held: &AtomicUsize) -> (bool, bool) {
    let removed = children.remove();
    let release = removed.handed_over() && drained_and_taken(children, held);
    (removed.last(), release)
}

/// A starting child's future is gone but it stays counted in, held for its caller
/// (`GroupShared::hold_count`): whether this call releases a handed-over group.
pub fn hold_count(children: &ChildCounter, held: &AtomicUsize) -> bool {
    held.fetch_add(1, Ordering::AcqRel);
    children.is_handed_over() && drained_and_taken(children, held)
}

/// The caller of `start` has taken a held child's error (`GroupShared::release_held`):
/// the child is counted out, as [`count_out`] does.
pub fn release_held(children: &ChildCounter, held: &AtomicUsize) -> (bool, bool) {
    held.fetch_sub(1, Ordering::AcqRel);
    count_out(children, held)
}

/// A teardown cannot wait for the group's children (`GroupShared::hand_over`):
/// whether this call releases the group, none being left.
pub fn hand_over(children: &ChildCounter, held: &AtomicUsize) -> bool {
    children.hand_over();
    drained_and_taken(children, held)
}

/// No child future of a closed group is left, and this call took the `HANDED` bit:
/// exactly one of the calls made after the last future went (or after the bit was set)
/// returns true. `held`: the children counted in whose futures are gone (see
/// `GroupShared::held`). Read the count first: after the group closed, a count can
/// only move from live to held, so equal values prove no live future.
fn drained_and_taken(children: &ChildCounter, held: &AtomicUsize) -> bool {
    let counted = children.live();
    counted == held.load(Ordering::Acquire)
        && children.0.fetch_and(!HANDED, Ordering::AcqRel) & HANDED != 0
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

/// The state of one group. Every child reads the fields between `head` and `apart`
/// (which nobody writes after the group opens: a limit's state is in its own box), and
/// writes the counts of the `Arc` around it (one clone, one drop) and `children` (one
/// add, one remove), often from two workers at once. `repr(C)` and the two unused
/// spans keep the three on different cache lines, so that the reads do not miss on
/// every write from the other worker: on the fan-out and ping-pong benches that miss
/// cost about a tenth of a child's time. (Aligning the fields to cache lines instead
/// would over-align the allocation, which the system allocator serves slowly.)
#[repr(C)]
pub(crate) struct GroupShared {
    /// Past the `Arc`'s two counts (16 bytes), up to 128 bytes from the allocation's
    /// start.
    head: MaybeUninit<[u8; 112]>,
    pub(crate) scope: crate::CancelScope,
    /// Behind a pointer: most groups have no limit, and every group's state is copied
    /// into its allocation as it is made. Shared with the handles of children that may
    /// wait in its queue.
    pub(crate) limit: Option<Arc<Limit>>,
    pub(crate) handle: Handle,
    /// Feature `tracing`: the group's span (empty without the feature).
    pub(crate) span: crate::debug::trace::GroupSpan,
    /// At least a cache line between the fields above and `children`.
    apart: MaybeUninit<[u8; 64]>,
    pub(crate) children: ChildCounter,
    pub(crate) errors: ErrorStack,
    /// Children counted in `children` whose futures are gone but whose error waits
    /// for the caller of their `start` (who counts them out once it has the error).
    held: AtomicUsize,
    /// A child or the body was dropped because the group's scope (or one above it)
    /// was cancelled.
    pub(crate) cut_short: AtomicBool,
    /// The group has drained and closed, but waits for the futures of a group dropped
    /// below it that could not wait for them (see `ScopeNode::hold_above`). Only the
    /// group's future touches it.
    pub(crate) outlasting: AtomicBool,
}

impl Drop for GroupShared {
    fn drop(&mut self) {
        // Every child and every handle held this state: none can start a child now, so
        // the runtime's list may let go of the node.
        self.node().mark_group_gone();
    }
}

impl GroupShared {
    /// The state of a group being opened on the current runtime, its node entered
    /// below `parent`. Panics outside a runtime.
    pub(crate) fn open(
        limit: Option<NonZeroUsize>,
        parent: Option<Arc<ScopeNode>>,
    ) -> Arc<GroupShared> {
        Arc::new(GroupShared {
            head: MaybeUninit::uninit(),
            scope: crate::CancelScope::from_node(ScopeNode::entered(parent, Label::Group)),
            limit: limit.map(|limit| Arc::new(Limit::new(limit.get()))),
            handle: crate::runtime::context::handle("`task_group`"),
            span: crate::debug::trace::GroupSpan::open(),
            apart: MaybeUninit::uninit(),
            children: ChildCounter::new(),
            errors: ErrorStack::new(),
            held: AtomicUsize::new(0),
            cut_short: AtomicBool::new(false),
            outlasting: AtomicBool::new(false),
        })
    }

    #[inline]
    pub(crate) fn node(&self) -> &Arc<ScopeNode> {
        self.scope.node()
    }

    /// A task failed: keep its error and cancel everything else in the group. A
    /// failure of cleanup code (`cleanup`: a `Drop` of work that was dropped, or work
    /// that a cancel had reached) is marked if it came once the group's scope was
    /// cancelled, so that it does not make a cancelled group a failed one. Work that
    /// returns an error or panics is a failure whenever it comes.
    pub(crate) fn report(&self, mut error: TaskError, cleanup: bool) {
        if cleanup {
            error.set_after_cancel(self.node().cancel_flag_set());
        }
        self.errors.push(error);
        self.node().cancel();
    }

    /// The node of a new child that can be cancelled alone (through its handle, or by
    /// its `start` caller), entered below the group's (linked there by `launch`).
    pub(crate) fn child_node(&self, name: Option<StdArc<str>>) -> Arc<ScopeNode> {
        ScopeNode::entered(Some(self.node().clone()), Label::Task(name))
    }

    /// Links a new child's own scope below the group's, with its task's waker (through
    /// which a cancel wakes the task and a teardown drops it), and schedules its first
    /// run (queued behind the limit, if any).
    pub(crate) fn launch(&self, node: Arc<ScopeNode>, notified: Notified, task: Task, slot: Slot) {
        node.put_waker(crate::task::into_waker(task));
        // A limit that queues the child drops it unrun if its scope is cancelled first.
        let queued = self.limit.as_ref().map(|_| node.clone());
        self.node()
            .link_child(Below::Scope(node), &|| self.record(), self.handle.shard());
        self.schedule(notified, slot, queued);
    }

    /// [`launch`](Self::launch) for a child that runs in the group's scope (it has
    /// none of its own until it enters one): its task is linked below the group's
    /// node directly.
    pub(crate) fn launch_in_scope(
        &self,
        name: Option<StdArc<str>>,
        notified: Notified,
        task: Task,
        slot: Slot,
    ) {
        let waker = crate::task::into_waker(task);
        self.node().link_child(
            Below::Task { waker, name },
            &|| self.record(),
            self.handle.shard(),
        );
        self.schedule(notified, slot, None);
    }

    /// Records the group's node in its runtime's list of groups, through which the
    /// runtime's shutdown drops every child's future (called by the first child's
    /// link).
    fn record(&self) -> Result<Released, ListClosed> {
        self.handle.record_group(self.node().clone())
    }

    /// `node`: the child's own scope, if it has one, for a limit that queues it.
    fn schedule(&self, notified: Notified, slot: Slot, node: Option<Arc<ScopeNode>>) {
        match (&self.limit, slot) {
            (Some(limit), Slot::Queue) => limit.start_or_queue(&self.handle, notified, node),
            _ => self.handle.spawn(notified),
        }
    }

    /// A child's future is gone: frees its slot of the limit. `ran`: it was polled, so
    /// it held one (a child that never ran was torn down with the group, where slots
    /// no longer matter).
    #[inline]
    pub(crate) fn release_slot(&self, ran: bool) {
        if ran {
            if let Some(limit) = &self.limit {
                limit.release(&self.handle);
            }
        }
    }

    /// Counts a gone child out, waking the group if it was the last.
    #[inline]
    pub(crate) fn count_out(&self) {
        self.counted_out(count_out(&self.children, &self.held));
    }

    /// After a count-out: wakes the group if that was its last child, and lets the
    /// groups around go if it released a handed-over group.
    #[inline]
    fn counted_out(&self, (last, release): (bool, bool)) {
        if last {
            self.node().wake();
        }
        if release {
            self.release();
        }
    }

    /// A starting child is gone, but its error waits for the caller of `start`: it
    /// stays counted in, so the group cannot drain before the error is taken.
    pub(crate) fn hold_count(&self) {
        if hold_count(&self.children, &self.held) {
            self.release();
        }
    }

    /// The group is dropped where it cannot wait for the children still running (see
    /// `future.rs`, `teardown`): the groups around it hold on until their futures are
    /// gone, which the last of them, or this call, sees.
    pub(crate) fn hand_over(&self) {
        self.node().hold_above();
        if hand_over(&self.children, &self.held) {
            self.release();
        }
    }

    /// A handed-over group's last child future is gone: the groups around it may end,
    /// and the group's node drops its links as a teardown does.
    fn release(&self) {
        let node = self.node();
        node.release_above();
        drop(node.take_links());
    }

    /// The caller of `start` has taken a held child's error (or given it to the
    /// group): counts the child out.
    pub(crate) fn release_held(&self) {
        self.counted_out(release_held(&self.children, &self.held));
    }

    /// How many child futures are left (children whose error waits for a `start`
    /// caller may still be counted in). Read the count first: after the group closed,
    /// a count can only move from live to held, so the difference is never too small.
    pub(crate) fn futures_left(&self) -> usize {
        let counted = self.children.live();
        counted.saturating_sub(self.held.load(Ordering::Acquire))
    }
}
