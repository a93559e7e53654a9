//! The cancel tree: one [`ScopeNode`] per entered cancel scope, task-group scope and
//! group child.
//!
//! Invariants:
//! - A node links up to its parent (a strong reference, or one borrowed for its
//!   wrapper's first poll: see `Parent`), so asking "am I cancelled?" walks up with
//!   atomic loads only, stopping at the first shielded node (past 16 levels, it reads
//!   per-node cached answers: see `catch.rs`). That is the hot path: it runs on every
//!   poll of a child task and of every scope wrapper.
//! - A node links down to the nodes entered inside it (`children`, behind a short lock)
//!   only to *wake* them: cancelling a node wakes every task inside it, down through
//!   nested groups, but not into shielded subtrees (they are not cancelled).
//! - A node's `waker` is the waker of the task that runs inside it (for a child node,
//!   the child task; for a group node, the task polling the group's body).
//! - A scope's node removes itself from its parent's links when its scope exits, so
//!   the `Arc` cycle parent -> child -> parent never outlives the scope. A group
//!   child's node only marks itself `DETACHED` when its task finishes (no lock on the
//!   finishing worker); the group's node drops such stale links when it next links a
//!   child into a full table (a sweep, amortised O(1) per link), or when it is reset.
//!   Stale links are harmless: waking or cancelling a finished task does nothing.
//!   Their cost is memory: a sweep leaves at most twice the live children's links
//!   (and 64 more) before it runs again, but a group that stops starting children
//!   keeps its finished children's links, and their tasks' cells, until it exits.
//! - Exited nodes and finished groups' states are reused through per-thread free
//!   lists (`pool.rs`); the sweep hands swept child nodes to the spawning thread's
//!   list, where the next child takes them.
//!
//! Submodules: `parent.rs`, the link to the parent (borrowed for a wrapper's first
//! poll); `links.rs`, the links down and the sweep; `catch.rs`, which scope catches
//! a cancel.
//!
//! Unsafe code here: `OwnedNode`'s drop (its rules are on the type); the parent link's
//! is in `parent.rs`.

mod catch;
mod links;
mod parent;

use std::mem::ManuallyDrop;
use std::sync::{Arc as StdArc, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

use super::deadline::Spec;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::task::Task;
pub use catch::Catcher;
use catch::Reach;
use links::{Links, UNLINKED};
use parent::Parent;
pub(crate) use parent::{Enclosing, ParentLoan};

/// `cancel()` was called (by hand, by a deadline, or by a failing sibling).
const CANCELLED: u32 = 1 << 0;
/// Cancellation from outside does not reach inside.
const SHIELD: u32 = 1 << 1;
/// This scope dropped work because it was cancelled.
const CAUGHT: u32 = 1 << 2;
/// The cancel came from the scope's own deadline.
const DEADLINE: u32 = 1 << 3;
/// The scope has been entered (a scope is entered at most once).
const ENTERED: u32 = 1 << 4;
/// The node has been linked into its parent's links (once; only its wrapper links it).
const LINKED: u32 = 1 << 5;
/// A deadline or timeout has been given (it may have been removed since). Without it,
/// entering need not look at the deadline.
const TIMED: u32 = 1 << 6;
/// A group child whose task has finished: its link in the group's node is stale, and
/// the next sweep there drops it (see `link`).
const DETACHED: u32 = 1 << 7;
/// The scope has exited: its deadline can no longer change anything.
const EXITED: u32 = 1 << 8;

/// One scope in the cancel tree.
pub struct ScopeNode {
    flags: AtomicU32,
    /// Set once, when the scope is entered (a group's and a child's node are entered
    /// at creation). Read with one atomic load by `cancelled_by`.
    parent: Parent,
    /// `cancelled_by`'s cached answer for a deep tree (see `catch.rs`).
    reach: Reach,
    /// Our index in the parent's `slots`, while linked.
    slot: AtomicUsize,
    links: Mutex<Links>,
    /// Why it was cancelled, if the canceller said (first reason wins).
    reason: OnceLock<StdArc<str>>,
    /// The deadline, and a version bumped on every change so that the wrapper's timer
    /// re-reads it only when it changed.
    deadline: Mutex<Spec>,
    deadline_version: AtomicU64,
    /// What the debug dump calls this node: a group, or a named child task. Set once
    /// after creation; scopes and unnamed children leave it empty.
    label: OnceLock<Label>,
}

/// What a node is, for the debug dump (`pride::debug::dump`).
pub(crate) enum Label {
    Group,
    Task(StdArc<str>),
}

/// A scope is being entered with deadline `spec`: a timeout starts counting now and
/// becomes a deadline. Returns whether `spec` changed, and a deadline that may already
/// have passed (an absolute one, or a zero timeout), which the caller checks.
fn resolve_at_entry(spec: &mut Spec) -> (bool, Option<Instant>) {
    match *spec {
        Spec::None => (false, None),
        Spec::At(deadline) => (false, Some(deadline)),
        Spec::After(timeout) => {
            let Some(now) = super::deadline::now() else {
                *spec = Spec::None;
                return (true, None);
            };
            let deadline = crate::time::deadline_after(now, timeout);
            *spec = Spec::At(deadline);
            (true, timeout.is_zero().then_some(deadline))
        }
    }
}

// SAFETY: nothing ever downgrades an `Arc<ScopeNode>` (a timer's waker holds a `Weak`
// to a wrapper around one, not to the node).
unsafe impl crate::pool::NoWeak for ScopeNode {}

/// A wrapper's own reference to its scope's node (a `CancelScope::run`, a group's
/// child): dropping it offers the node back for reuse ([`ScopeNode::recycle`]), which
/// takes it only if nothing else holds it.
pub(crate) struct OwnedNode(ManuallyDrop<Arc<ScopeNode>>);

impl OwnedNode {
    pub(crate) fn new(node: Arc<ScopeNode>) -> OwnedNode {
        OwnedNode(ManuallyDrop::new(node))
    }
}

impl std::ops::Deref for OwnedNode {
    type Target = Arc<ScopeNode>;

    #[inline]
    fn deref(&self) -> &Arc<ScopeNode> {
        &self.0
    }
}

impl std::ops::DerefMut for OwnedNode {
    #[inline]
    fn deref_mut(&mut self) -> &mut Arc<ScopeNode> {
        &mut self.0
    }
}

impl Drop for OwnedNode {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once, and nothing reads the field after it.
        let node = unsafe { ManuallyDrop::take(&mut self.0) };
        ScopeNode::recycle(node);
    }
}

#[cfg(not(pride_loom))]
thread_local! {
    /// Exited nodes kept for reuse on this thread.
    static FREE_NODES: crate::pool::FreeList<ScopeNode> = const { std::cell::RefCell::new(Vec::new()) };
}

impl ScopeNode {
    /// A node not yet entered: it has no parent until [`enter`](Self::enter).
    pub fn new() -> Arc<ScopeNode> {
        ScopeNode::with_spec(Spec::None)
    }

    /// A node not yet entered, with a deadline.
    pub(crate) fn with_deadline(deadline: Instant) -> Arc<ScopeNode> {
        ScopeNode::with_spec(Spec::At(deadline))
    }

    /// A node not yet entered, with a timeout counted from entry.
    pub(crate) fn with_timeout(timeout: Duration) -> Arc<ScopeNode> {
        ScopeNode::with_spec(Spec::After(timeout))
    }

    /// A node not yet entered, with `spec`. Reuses a node from this thread's free list
    /// when it has one (see `pool.rs`).
    ///
    /// Inlined into the three constructors above, which take the deadline or the
    /// timeout by value, in registers: a `Spec` handed to a call through memory is
    /// stored in pieces by the caller and loaded whole by the callee, a load the CPU
    /// cannot forward from those stores (the stall was a fifth of a ready
    /// `fail_after`).
    #[inline(always)]
    fn with_spec(spec: Spec) -> Arc<ScopeNode> {
        #[cfg(not(pride_loom))]
        if let Some(node) = crate::pool::take(&FREE_NODES, |fresh| {
            *fresh.flags.get_mut() = Self::timed(spec);
            *fresh.deadline.get_mut() = spec;
        }) {
            return node;
        }
        ScopeNode::fresh(spec)
    }

    /// A newly allocated node (the free list is empty).
    #[cold]
    fn fresh(spec: Spec) -> Arc<ScopeNode> {
        Arc::new(ScopeNode {
            flags: AtomicU32::new(Self::timed(spec)),
            parent: Parent::new(),
            reach: Reach::new(),
            slot: AtomicUsize::new(UNLINKED),
            links: Mutex::new(Links::default()),
            reason: OnceLock::new(),
            deadline: Mutex::new(spec),
            deadline_version: AtomicU64::new(0),
            label: OnceLock::new(),
        })
    }

    #[inline]
    fn timed(spec: Spec) -> u32 {
        if spec == Spec::None { 0 } else { TIMED }
    }

    /// Gives a node whose scope has exited back for reuse, if nothing else holds it
    /// (see `pool.rs`); otherwise just drops this reference.
    #[inline]
    pub(crate) fn recycle(node: Arc<ScopeNode>) {
        #[cfg(not(pride_loom))]
        crate::pool::put(&FREE_NODES, node, ScopeNode::reset);
        #[cfg(pride_loom)]
        drop(node);
    }

    /// Makes `node` a fresh node: resets it in place if nothing else holds it, else
    /// replaces this reference with a new node.
    #[cfg(not(pride_loom))]
    #[inline]
    pub(crate) fn renew(node: &mut Arc<ScopeNode>) {
        match crate::pool::unique_mut(node) {
            Some(unique) => unique.reset(),
            None => *node = ScopeNode::new(),
        }
    }

    /// [`renew`](Self::renew) for a node that was only entered (no link, waker, cancel,
    /// deadline or reason): clearing the entry and the parent is enough.
    #[cfg(not(pride_loom))]
    #[inline]
    pub(crate) fn renew_entered(node: &mut Arc<ScopeNode>) {
        match crate::pool::unique_mut(node) {
            Some(unique) if unique.flags.load(Ordering::Relaxed) == ENTERED => {
                *unique.flags.get_mut() = 0;
                unique.parent.clear();
                unique.reach.clear();
            }
            Some(unique) => unique.reset(),
            None => *node = ScopeNode::new(),
        }
    }

    /// Back to the state [`new`](Self::new) makes, keeping small allocations.
    #[cfg(not(pride_loom))]
    #[inline]
    fn reset(&mut self) {
        /// Link slots kept across reuse; a node that held a big group's children
        /// gives its table back instead.
        const KEEP_SLOTS: usize = 64;
        *self.flags.get_mut() = 0;
        self.parent.clear();
        self.reach.clear();
        *self.slot.get_mut() = UNLINKED;
        let links = self.links.get_mut();
        if links.waker.is_some() {
            links.waker = None;
        }
        if links.slots.capacity() > KEEP_SLOTS {
            *links = Links::default();
        } else if !links.slots.is_empty() || !links.free.is_empty() {
            links.slots.clear();
            links.free.clear();
            links.sweep_at = links::SWEEP_MIN;
        }
        if self.reason.get().is_some() {
            self.reason = OnceLock::new();
        }
        if self.label.get().is_some() {
            self.label = OnceLock::new();
        }
        *self.deadline.get_mut() = Spec::None;
    }

    /// Enters the scope below `parent` (the scope current where it is entered) and
    /// links it there, with `task` if it is the root of a group's child task. Panics if
    /// the scope was already entered.
    #[track_caller]
    pub fn enter(node: &Arc<ScopeNode>, parent: Option<Arc<ScopeNode>>, task: Option<Task>) {
        ScopeNode::enter_unlinked(node, parent);
        node.flags.fetch_or(LINKED, Ordering::AcqRel);
        if let Some(parent) = node.parent.get() {
            parent.link(node.clone(), task);
        }
    }

    /// Enters the scope below `parent` without linking it there yet: a wrapper links
    /// only once its work first suspends ([`link_into_parent`](Self::link_into_parent)).
    /// Until then a cancel of a scope around it wakes this same task, whose outer
    /// wrapper then catches; tasks that other threads already run below it (a group's
    /// children) are woken by the link, if it finds the scope cancelled. A timeout
    /// starts counting now; a deadline already past cancels the scope now.
    #[track_caller]
    #[inline]
    pub fn enter_unlinked(node: &Arc<ScopeNode>, parent: Option<Arc<ScopeNode>>) {
        let prev = node.flags.fetch_or(ENTERED, Ordering::AcqRel);
        assert!(
            prev & ENTERED == 0,
            "pride: a CancelScope can be entered only once; create a new scope for each use"
        );
        if let Some(parent) = parent {
            // We set `ENTERED` above, so we are the one thread that ever sets it.
            node.parent.set(parent);
        }
        if prev & TIMED != 0 {
            ScopeNode::enter_deadline(node);
        }
    }

    /// Entry of a scope given a deadline or timeout: resolves a timeout, and cancels
    /// the scope now if its deadline has already passed.
    fn enter_deadline(node: &ScopeNode) {
        let mut spec = node.deadline.lock();
        let (resolved, check) = resolve_at_entry(&mut spec);
        drop(spec);
        if resolved {
            node.deadline_version.fetch_add(1, Ordering::AcqRel);
        }
        if let Some(deadline) = check {
            node.cancel_if_past(deadline);
        }
    }

    fn cancel_if_past(&self, deadline: Instant) {
        if super::deadline::now().is_some_and(|now| deadline <= now) {
            self.cancel_by_deadline();
        }
    }

    /// [`enter_unlinked`](Self::enter_unlinked) for a node nobody else holds (a group's
    /// own node as the group opens, a `fail_after`'s private scope): plain stores
    /// instead of atomic updates and the deadline's lock, and the parent borrowed (see
    /// [`Parent`]) under the returned loan, which the caller keeps until its poll ends.
    #[inline]
    pub(crate) fn enter_private(node: &mut Arc<ScopeNode>, parent: Enclosing) -> ParentLoan {
        let loan = ParentLoan::new(node);
        if let Some(private) = crate::pool::unique_mut(node) {
            let flags = private.flags.load(Ordering::Relaxed);
            if flags & ENTERED == 0 {
                private.flags.store(flags | ENTERED, Ordering::Relaxed);
                private.parent.set_borrowed(parent);
                // The loan is live from here: if the deadline's entry unwinds, it ends
                // the borrow.
                if flags & TIMED != 0 {
                    private.enter_deadline_private();
                }
                return loan;
            }
        }
        // Not ours to borrow for: the node is shared (or already entered, and then
        // this panics). A loan for a link we did not borrow must not exist, lest its
        // drop end another wrapper's borrow; after a successful entry our link is
        // owned, and the loan has nothing to end.
        std::mem::forget(loan);
        ScopeNode::enter_unlinked(node, parent.to_owned());
        ParentLoan::new(node)
    }

    /// `enter_deadline` with `&mut`: nobody else can see the node.
    fn enter_deadline_private(&mut self) {
        let (resolved, check) = resolve_at_entry(self.deadline.get_mut());
        if resolved {
            let version = self.deadline_version.load(Ordering::Relaxed);
            self.deadline_version.store(version + 1, Ordering::Relaxed);
        }
        if let Some(deadline) = check {
            self.cancel_if_past(deadline);
        }
    }

    /// Names the node for the debug dump (the first label given stays).
    #[inline]
    pub(crate) fn set_label(&self, label: Label) {
        if self.label.get().is_none() {
            let _ = self.label.set(label);
        }
    }

    pub(crate) fn label(&self) -> Option<&Label> {
        self.label.get()
    }

    /// Records the waker of the task running inside this scope.
    pub fn set_waker(&self, waker: &Waker) {
        let mut links = self.links.lock();
        if !links.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            links.waker = Some(waker.clone());
        }
    }

    /// Wakes the task running inside this scope.
    pub fn wake(&self) {
        let waker = self.links.lock().waker.clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Cancels this scope: everything inside it is dropped at its next suspension
    /// point. Idempotent. Returns true the first time.
    pub fn cancel(&self) -> bool {
        if self.flags.fetch_or(CANCELLED, Ordering::AcqRel) & CANCELLED != 0 {
            return false;
        }
        catch::invalidate();
        crate::debug::trace::cancelled(self.reason().map(|r| &**r), self.deadline_fired());
        self.wake_subtree();
        true
    }

    /// Cancels with a reason that shows in the group's error.
    pub(crate) fn cancel_with_reason(&self, reason: StdArc<str>) {
        let _ = self.reason.set(reason);
        self.cancel();
    }

    #[inline]
    pub(crate) fn reason(&self) -> Option<&StdArc<str>> {
        self.reason.get()
    }

    /// Whether `self` was entered directly below the scope `current` (by pointer).
    #[inline]
    pub(crate) fn is_child_of(&self, current: *const ScopeNode) -> bool {
        match self.parent.get() {
            Some(parent) => std::ptr::eq(parent, current),
            None => current.is_null(),
        }
    }

    /// The deadline, once known (a timeout is known from entry).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match *self.deadline.lock() {
            Spec::At(deadline) => Some(deadline),
            Spec::None | Spec::After(_) => None,
        }
    }

    /// Whether the scope was ever given a deadline or timeout.
    #[inline]
    pub(crate) fn is_timed(&self) -> bool {
        self.flags.load(Ordering::Acquire) & TIMED != 0
    }

    #[inline]
    pub(crate) fn deadline_version(&self) -> u64 {
        self.deadline_version.load(Ordering::Acquire)
    }

    /// Sets the deadline (or a timeout counted from entry), re-arming at once: a
    /// deadline already past cancels the scope now, and the wrapper is woken to arm
    /// its timer for a future one. A cancel is never undone by a later deadline.
    pub(crate) fn set_deadline(&self, spec: Spec) {
        if self.flags.load(Ordering::Acquire) & EXITED != 0 {
            return;
        }
        // Marked before the spec is stored: an entry that does not see `TIMED` (and so
        // skips the deadline) is ordered before this, and we see it as entered.
        let entered = self.flags.fetch_or(TIMED, Ordering::AcqRel) & ENTERED != 0;
        let spec = match spec {
            Spec::After(timeout) if entered => match super::deadline::now() {
                Some(now) => Spec::At(crate::time::deadline_after(now, timeout)),
                None => Spec::After(timeout),
            },
            spec => spec,
        };
        *self.deadline.lock() = spec;
        self.deadline_version.fetch_add(1, Ordering::AcqRel);
        if let Spec::At(deadline) = spec {
            if entered && super::deadline::now().is_some_and(|now| deadline <= now) {
                self.cancel_by_deadline();
                return;
            }
        }
        self.wake();
    }

    /// The earliest deadline of this scope and the scopes around it, up to the first
    /// shield.
    pub(crate) fn effective_deadline(&self) -> Option<Instant> {
        let mut node = self;
        let mut earliest: Option<Instant> = None;
        loop {
            if let Some(deadline) = node.deadline() {
                earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
            }
            if node.is_shielded() {
                return earliest;
            }
            match node.parent.get() {
                Some(parent) => node = parent,
                None => return earliest,
            }
        }
    }

    /// This scope's deadline passed. Scopes around it (up to a shield) whose deadlines
    /// have passed too are cancelled first, outermost first, so that when the task
    /// inside runs, the outermost of them catches however the timers that
    /// fire in the same tick are ordered.
    pub(crate) fn deadline_passed(&self) {
        if let Some(now) = super::deadline::now() {
            let mut expired = Vec::new();
            let mut node = self;
            while !node.is_shielded() {
                let Some(parent) = node.parent.get() else {
                    break;
                };
                if parent.deadline().is_some_and(|d| d <= now) {
                    expired.push(parent);
                }
                node = parent;
            }
            for scope in expired.iter().rev() {
                scope.cancel_by_deadline();
            }
        }
        self.cancel_by_deadline();
    }

    /// Cancels because the deadline passed.
    pub(crate) fn cancel_by_deadline(&self) {
        self.flags.fetch_or(DEADLINE, Ordering::AcqRel);
        self.cancel();
    }

    /// Wakes every task inside this scope, not descending into shielded scopes.
    pub(crate) fn wake_subtree(&self) {
        crate::runtime::wake_many(|| self.wake_inside());
    }

    /// [`wake_subtree`](Self::wake_subtree): a walk with its own stack (a tree may be
    /// thousands of levels deep), in which a shielded scope below the top stops the
    /// descent.
    ///
    /// The shield is read under the scope's `links` lock, and `set_shield` flips it
    /// under the same lock. A cancel above and an unshield here otherwise race as a
    /// store-buffering pair (each writes its flag, then reads the other's), and with
    /// only acquire/release both could read the old values: the cancel sees the shield
    /// and skips us, the task woken by the unshield does not see the cancel, and nobody
    /// wakes it again (found by `loom-tests/cancel_tree.rs`). Under the lock, either the
    /// cancel reads the lifted shield and wakes us, or the unshield comes after the
    /// cancel's read, so after its `CANCELLED` store, and the task it wakes sees it.
    fn wake_inside(&self) {
        let mut pending: Vec<Arc<ScopeNode>> = Vec::new();
        let visit = |node: &ScopeNode, top: bool, pending: &mut Vec<Arc<ScopeNode>>| {
            let waker = {
                let links = node.links.lock();
                if !top && node.is_shielded() {
                    return;
                }
                pending.extend(links.slots.iter().flatten().map(|l| l.node.clone()));
                links.waker.clone()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        };
        visit(self, true, &mut pending);
        while let Some(node) = pending.pop() {
            visit(&node, false, &mut pending);
        }
    }

    /// Whether `cancel()` was called on this scope itself.
    #[inline]
    pub fn cancel_called(&self) -> bool {
        self.flags.load(Ordering::Acquire) & CANCELLED != 0
    }

    /// Whether the scope is shielded now.
    #[inline]
    pub fn is_shielded(&self) -> bool {
        self.flags.load(Ordering::Acquire) & SHIELD != 0
    }

    /// Shields or unshields. Unshielding wakes the tasks inside, which may now be
    /// cancelled from outside.
    pub fn set_shield(&self, shield: bool) {
        // Under the links lock: see `wake_inside`.
        let prev = {
            let _links = self.links.lock();
            if shield {
                self.flags.fetch_or(SHIELD, Ordering::AcqRel)
            } else {
                self.flags.fetch_and(!SHIELD, Ordering::AcqRel)
            }
        };
        if (prev & SHIELD != 0) != shield {
            catch::invalidate();
        }
        if !shield && prev & SHIELD != 0 {
            self.wake_subtree();
        }
    }

    /// The scope's wrapper is done: a deadline set from now on changes nothing.
    #[inline]
    pub(crate) fn mark_exited(&self) {
        self.flags.fetch_or(EXITED, Ordering::AcqRel);
    }

    #[inline]
    pub(crate) fn mark_caught(&self) {
        self.flags.fetch_or(CAUGHT, Ordering::AcqRel);
    }

    #[inline]
    pub(crate) fn cancelled_caught(&self) -> bool {
        self.flags.load(Ordering::Acquire) & CAUGHT != 0
    }

    #[inline]
    pub(crate) fn deadline_fired(&self) -> bool {
        self.flags.load(Ordering::Acquire) & DEADLINE != 0
    }
}

impl std::fmt::Debug for ScopeNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeNode")
            .field("cancel_called", &self.cancel_called())
            .field("shield", &self.is_shielded())
            .field("cancelled_caught", &self.cancelled_caught())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::links::SWEEP_MIN;
    use super::*;

    fn linked_children(parent: &ScopeNode) -> usize {
        parent.links.lock().slots.iter().flatten().count()
    }

    fn child_of(parent: &Arc<ScopeNode>) -> Arc<ScopeNode> {
        let child = ScopeNode::new();
        ScopeNode::enter(&child, Some(parent.clone()), None);
        child
    }

    #[test]
    fn finished_children_are_swept_when_the_table_fills_and_live_ones_stay() {
        let parent = ScopeNode::new();
        let live: Vec<_> = (0..10).map(|_| child_of(&parent)).collect();
        for _ in 10..SWEEP_MIN {
            child_of(&parent).detach();
        }
        assert_eq!(linked_children(&parent), SWEEP_MIN);
        // The table is full at `SWEEP_MIN`: the next link sweeps the detached ones.
        let next = child_of(&parent);
        assert_eq!(linked_children(&parent), 11);
        for child in live.iter().chain([&next]) {
            assert_ne!(child.slot.load(Ordering::Relaxed), UNLINKED);
        }
        // A cancel still reaches every live child (each sees it through its parent).
        parent.cancel();
        assert!(live.iter().all(|c| c.cancelled_by().is_some()));
        for child in live.iter().chain([&next]) {
            drop(ScopeNode::unlink(child));
        }
        assert_eq!(linked_children(&parent), 0);
    }

    #[test]
    fn the_sweep_threshold_follows_the_live_children() {
        let parent = ScopeNode::new();
        let live: Vec<_> = (0..100).map(|_| child_of(&parent)).collect();
        // 100 live children in a full table: the sweep keeps them all and waits for
        // twice as many before looking again, so linking stays amortised O(1).
        for _ in 0..300 {
            child_of(&parent).detach();
        }
        let linked = linked_children(&parent);
        assert!(linked >= 100, "a live child was swept");
        assert!(
            linked <= 100 + 2 * 100 + SWEEP_MIN,
            "stale links piled up: {linked}"
        );
        for child in &live {
            drop(ScopeNode::unlink(child));
        }
        // What a group does when it ends: its remaining (stale) links go, which frees
        // the detached children (each held its parent: a cycle otherwise; Miri
        // reports the leak if this is left out).
        drop(parent.take_links());
    }

    /// A walk through a chain deeper than it reads directly answers from the caches,
    /// which every cancel and shield change invalidates.
    #[test]
    fn a_deep_chain_sees_each_cancel_and_shield_change() {
        let root = ScopeNode::new();
        let mut chain = vec![root.clone()];
        for _ in 0..100 {
            let next = child_of(chain.last().unwrap());
            chain.push(next);
        }
        let (bottom, middle) = (chain[100].clone(), chain[50].clone());
        assert_eq!(bottom.cancelled_by(), None);
        root.cancel();
        assert_eq!(bottom.cancelled_by(), Some(Catcher::Outer));
        assert_eq!(chain[90].cancelled_by(), Some(Catcher::Outer));
        middle.set_shield(true);
        assert_eq!(
            bottom.cancelled_by(),
            None,
            "a cached answer crossed a shield"
        );
        assert_eq!(root.cancelled_by(), Some(Catcher::This));
        middle.set_shield(false);
        assert_eq!(bottom.cancelled_by(), Some(Catcher::Outer));
        middle.set_shield(true);
        chain[40].cancel();
        assert_eq!(bottom.cancelled_by(), None);
        chain[60].cancel();
        assert_eq!(bottom.cancelled_by(), Some(Catcher::Outer));
        assert_eq!(chain[60].cancelled_by(), Some(Catcher::This));
        for node in chain.iter().rev() {
            drop(ScopeNode::unlink(node));
        }
    }
}
