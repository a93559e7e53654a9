//! The cancel tree: one [`ScopeNode`] per entered cancel scope and task-group scope,
//! and per group child that has a scope of its own: one that can be cancelled alone
//! (through its handle, or by its `start` caller), or whose work entered a scope,
//! opened a group or called `start`. Any other child runs in its group's scope, and
//! the group's node links its task directly.
//!
//! Invariants:
//! - A node links up to its parent (a strong reference, set once at entry), so asking
//!   "am I cancelled?" walks up with atomic loads only, stopping at the first shielded
//!   node (past 16 levels, it reads per-node cached answers: see `catch.rs`). That is
//!   the hot path: it runs on every poll of a child task and of every scope wrapper.
//! - A node links down to the nodes entered inside it, and a group's node to its
//!   children (behind short locks: see `links.rs`), only to *wake* them: cancelling a
//!   node wakes every task inside it, down through nested groups, but not into
//!   shielded subtrees (they are not cancelled).
//! - A node's `waker` is the waker of the task that runs inside it (for a group
//!   child's node, the child task's own waker, set when the node is linked; for a
//!   group node, the task polling the group's body).
//! - A node leaves its parent's links once its scope has exited, so the `Arc` cycle
//!   parent -> child -> parent never outlives the scope: a scope wrapper unlinks as it
//!   exits; a group child's node is only marked exited when its task finishes (no lock
//!   taken on the finishing worker), and its parent drops the links of exited nodes,
//!   and of child tasks that have completed, when a link fills one of its tables,
//!   amortised O(1) per link (see `links.rs`). Such a link is harmless meanwhile:
//!   waking a finished task does nothing. Its cost is memory: a group that stops
//!   starting children keeps its finished children's links, and through their wakers
//!   their tasks' cells, until it exits.
//!
//! Submodules: `links.rs`, the links down; `catch.rs`, which scope catches a cancel.

mod catch;
mod links;

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc as StdArc, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

use super::deadline::Spec;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};
pub use catch::Catcher;
use catch::Reach;

/// A start in progress, as its caller node sees it (see
/// [`ScopeNode::set_start_child`]).
pub(crate) trait StartChild: Send + Sync {
    /// A walk that wakes what is inside a scope (a cancel's, or an unshield's) reached
    /// the caller node: if a cancel of the caller's scopes stands and the child has
    /// not been handed over to its group (decided under the start's lock, where
    /// `started` decides too), returns the child's node, which the walk cancels and
    /// goes on into. The walk cancels it, not the start: starts nest as deep as groups
    /// do, and a cancel made here would walk the child's scopes in a call of its own,
    /// one call deeper per level of nested starts.
    fn look(&self) -> Option<Arc<ScopeNode>>;
}

pub(crate) use links::{Below, ListClosed, Released};
use links::{Children, Links, UNLINKED};

/// `cancel()` was called (by hand, by a deadline, or by a failing sibling).
const CANCELLED: u32 = 1 << 0;
/// Cancellation from outside does not reach inside.
const SHIELD: u32 = 1 << 1;
/// This scope dropped work because it was cancelled.
const CAUGHT: u32 = 1 << 2;
/// The cancel came from the scope's own deadline: set with `CANCELLED`, by the call
/// that cancelled the scope, never after (see `cancel_marking`).
const DEADLINE: u32 = 1 << 3;
/// The scope has been entered (a scope is entered at most once).
const ENTERED: u32 = 1 << 4;
/// The node has been linked into its parent's links (once; only its wrapper links it).
const LINKED: u32 = 1 << 5;
/// A deadline or timeout has been given (it may have been removed since). Without it,
/// entering need not look at the deadline.
const TIMED: u32 = 1 << 6;
/// The scope has exited: its deadline can no longer change anything.
const EXITED: u32 = 1 << 7;
/// A group child's task has been linked below this (a group's) node directly.
const TASKS: u32 = 1 << 8;
/// The group whose node this is is gone (its state was dropped): nothing can start a
/// child below it any more.
const GROUP_GONE: u32 = 1 << 9;
/// The cancel gave a reason (`cancel_with_reason`): set with `CANCELLED`, by the call
/// that cancelled the scope, never after (see `cancel_marking`).
const REASON: u32 = 1 << 10;

/// One scope in the cancel tree.
pub struct ScopeNode {
    flags: AtomicU32,
    /// The scope this one was entered in.
    parent: Parent,
    /// `cancelled_by`'s cached answer for a deep tree (see `catch.rs`).
    reach: Reach,
    /// Our index in the parent's table of scopes, while linked there (a group child's
    /// own node, linked in a table of children, has none).
    slot: AtomicUsize,
    links: Mutex<Links>,
    /// A group's node: the tables of the children that shards other than the home one
    /// start, made by the first such child.
    children: OnceLock<Children>,
    /// Why it was cancelled, if the canceller said (first reason wins).
    reason: OnceLock<StdArc<str>>,
    /// The deadline, and a version bumped on every change so that the wrapper's timer
    /// re-reads it only when it changed.
    deadline: Mutex<Spec>,
    deadline_version: AtomicU64,
    /// What the debug dump calls this node: a group, or a group's child task (a plain
    /// scope has none).
    label: Option<Label>,
    /// A group's node: how many groups dropped somewhere below it left child futures
    /// they could not wait for (see [`hold_above`](Self::hold_above)). The group does
    /// not end before they are gone.
    leftovers: AtomicU32,
}

/// A node's parent: a group's and a group child's node know it when they are made; a
/// scope made before it is entered learns it once, at entry.
enum Parent {
    Made(Option<Arc<ScopeNode>>),
    AtEntry(OnceLock<Arc<ScopeNode>>),
}

impl Parent {
    fn take(&mut self) -> Option<Arc<ScopeNode>> {
        match self {
            Parent::Made(parent) => parent.take(),
            Parent::AtEntry(cell) => cell.take(),
        }
    }
}

impl Drop for ScopeNode {
    /// Scopes nest as deep as the groups that open them (thousands of levels), and a
    /// node may outlive every level above it (a handle's copy of a failure, a scope the
    /// user kept): the last owner of a chain lets go of it one node after another, not
    /// by a call per level. A parent someone else still holds is theirs to drop.
    fn drop(&mut self) {
        let mut parent = self.parent.take();
        while let Some(node) = parent {
            parent = crate::loom::arc_into_inner(node).and_then(|mut node| node.parent.take());
        }
    }
}

/// What a node is, for the debug dump (`pride::debug::dump`).
pub(crate) enum Label {
    Group,
    /// A group's child task, with its name if it has one.
    Task(Option<StdArc<str>>),
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

    /// Inlined into the three constructors above, which take the deadline or the
    /// timeout by value, in registers: a `Spec` handed to a call through memory is
    /// stored in pieces by the caller and loaded whole by the callee, a load the CPU
    /// cannot forward from those stores.
    #[inline(always)]
    fn with_spec(spec: Spec) -> Arc<ScopeNode> {
        let flags = if spec == Spec::None { 0 } else { TIMED };
        ScopeNode::make(flags, Parent::AtEntry(OnceLock::new()), spec, None)
    }

    /// A group's node, or a group child's, entered below `parent` as it is made (not
    /// linked there yet: see [`link_into_parent`](Self::link_into_parent)).
    pub(crate) fn entered(parent: Option<Arc<ScopeNode>>, label: Label) -> Arc<ScopeNode> {
        ScopeNode::make(ENTERED, Parent::Made(parent), Spec::None, Some(label))
    }

    #[inline(always)]
    fn make(flags: u32, parent: Parent, spec: Spec, label: Option<Label>) -> Arc<ScopeNode> {
        Arc::new(ScopeNode {
            flags: AtomicU32::new(flags),
            parent,
            reach: Reach::new(),
            slot: AtomicUsize::new(UNLINKED),
            links: Mutex::new(Links::default()),
            children: OnceLock::new(),
            reason: OnceLock::new(),
            deadline: Mutex::new(spec),
            deadline_version: AtomicU64::new(0),
            label,
            leftovers: AtomicU32::new(0),
        })
    }

    /// Enters the scope below `parent` (the scope current where it is entered) and
    /// links it there. Panics if the scope was already entered.
    #[track_caller]
    pub fn enter(node: &Arc<ScopeNode>, parent: Option<Arc<ScopeNode>>) {
        ScopeNode::enter_unlinked(node, parent);
        ScopeNode::link_new(node);
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
        if let (Some(parent), Parent::AtEntry(cell)) = (parent, &node.parent) {
            // We set `ENTERED` above, so we are the one thread that ever sets it.
            let _ = cell.set(parent);
        }
        if prev & TIMED != 0 {
            ScopeNode::enter_deadline(node);
        }
    }

    /// Entry of a scope given a deadline or timeout: resolves a timeout, and cancels
    /// the scope now if its deadline has already passed.
    ///
    /// # Panics
    ///
    /// Outside a runtime, where no clock would ever fire the deadline (unless it was
    /// cleared before entry).
    #[track_caller]
    fn enter_deadline(node: &ScopeNode) {
        let Some(now) = super::deadline::now() else {
            assert!(
                *node.deadline.lock() == Spec::None,
                "pride: a deadline or timeout (`move_on_*`, `fail_*`, a `CancelScope` made \
                 `with_deadline` or `with_timeout`) needs a runtime's clock: poll it from \
                 within a pride runtime (inside `Runtime::block_on` or `pride::run`)"
            );
            return;
        };
        let mut spec = node.deadline.lock();
        let deadline = match *spec {
            Spec::None => return,
            Spec::At(deadline) => deadline,
            Spec::After(timeout) => {
                // A timeout counts from entry: it becomes a deadline now.
                let deadline = crate::time::deadline_after(now, timeout);
                *spec = Spec::At(deadline);
                node.deadline_version.fetch_add(1, Ordering::AcqRel);
                deadline
            }
        };
        drop(spec);
        if deadline <= now {
            node.cancel_by_deadline();
        }
    }

    /// The scope this one was entered in (none before entry, or for a root scope).
    #[inline]
    pub(crate) fn parent(&self) -> Option<&ScopeNode> {
        match &self.parent {
            Parent::Made(parent) => parent.as_deref(),
            Parent::AtEntry(cell) => cell.get().map(|parent| &**parent),
        }
    }

    pub(crate) fn label(&self) -> Option<&Label> {
        self.label.as_ref()
    }

    /// Records the waker of the task running inside this scope.
    pub fn set_waker(&self, waker: &Waker) {
        debug_assert!(
            !matches!(self.label, Some(Label::Task(_))),
            "a group child's node keeps its task's own waker"
        );
        let mut links = self.links.lock();
        if !links.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            links.waker = Some(waker.clone());
        }
    }

    /// [`set_waker`](Self::set_waker) for a node that has none yet, taking `waker`.
    pub(crate) fn put_waker(&self, waker: Waker) {
        self.links.lock().waker = Some(waker);
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
        self.cancel_marking(0)
    }

    /// Cancels because the deadline passed. Returns true if this call cancelled the
    /// scope; a scope already cancelled (by hand, say, with shielded work still running
    /// inside it as the deadline passes) stays cancelled by whatever did it first.
    pub fn cancel_by_deadline(&self) -> bool {
        self.cancel_marking(DEADLINE)
    }

    /// [`cancel`](Self::cancel), recording `why` (the cause: `DEADLINE`, `REASON`, or
    /// none) with `CANCELLED` in one step, and only if `CANCELLED` was clear. Only the
    /// call that cancels the scope says why: a reader that sees `CANCELLED` sees the
    /// cause too, and the cause never changes after.
    fn cancel_marking(&self, why: u32) -> bool {
        if !self.mark_cancelled(why) {
            return false;
        }
        self.wake_subtree();
        true
    }

    /// [`cancel_marking`](Self::cancel_marking) without waking anything: sets
    /// `CANCELLED` (with `why`) if it was clear, and returns whether it was. The caller
    /// wakes what is inside.
    fn mark_cancelled(&self, why: u32) -> bool {
        let first = self
            .flags
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |flags| {
                (flags & CANCELLED == 0).then_some(flags | CANCELLED | why)
            });
        if first.is_err() {
            return false;
        }
        catch::invalidate();
        crate::debug::trace::cancelled(self.reason().map(|r| &**r), why & DEADLINE != 0);
        true
    }

    /// Cancels with a reason that shows in the group's error. The reason says why the
    /// scope was cancelled, so only the call that cancels it gives one: a scope already
    /// cancelled (by a failure, its deadline, or another cancel) keeps its cause, and
    /// of two reasons the first stored wins.
    pub(crate) fn cancel_with_reason(&self, reason: StdArc<str>) {
        if self.flags.load(Ordering::Acquire) & CANCELLED == 0 {
            // Stored before the cancel, shown only if the cancel is this call's.
            let _ = self.reason.set(reason);
            self.cancel_marking(REASON);
        }
    }

    /// The reason the scope was cancelled with, if the call that cancelled it gave one.
    #[inline]
    pub(crate) fn reason(&self) -> Option<&StdArc<str>> {
        if self.flags.load(Ordering::Acquire) & REASON == 0 {
            return None;
        }
        self.reason.get()
    }

    /// Whether `self` was entered directly below the scope `current` (by pointer).
    #[inline]
    pub(crate) fn is_child_of(&self, current: *const ScopeNode) -> bool {
        match self.parent() {
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
    ///
    /// "Already past" (and "from entry", for a timeout set after entry) is read on the
    /// clock of the runtime the *calling thread* is in: the node does not know the
    /// clock of the runtime it was entered in (only the wrapper's timer, armed there,
    /// does). Called from the scope's own runtime, or between runtimes on the system
    /// clock, that is the scope's clock. From a thread outside any runtime nothing is
    /// judged here: the woken wrapper arms its timer on the scope's clock, and a past
    /// deadline fires it at once, so the scope is cancelled when its task next runs,
    /// not within this call. From a task of a runtime on another (mock) clock, that
    /// clock judges, and may cancel the scope before its deadline on its own clock.
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
    /// shield (a starting child's shield, which keeps out its group, goes on to its
    /// caller's scopes).
    pub(crate) fn effective_deadline(&self) -> Option<Instant> {
        // Starts nest as deep as groups do: a loop over the caller nodes, not a call
        // per level.
        let (mut earliest, mut caller) = self.deadline_up_to_shield();
        while let Some(here) = caller {
            let (deadline, next) = here.deadline_up_to_shield();
            earliest = match (earliest, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            caller = next;
        }
        earliest
    }

    /// The earliest deadline of this scope and the scopes around it up to the first
    /// shield, and the start caller node behind that shield, if it is a starting
    /// child's.
    fn deadline_up_to_shield(&self) -> (Option<Instant>, Option<Arc<ScopeNode>>) {
        let mut node = self;
        let mut earliest: Option<Instant> = None;
        loop {
            if let Some(deadline) = node.deadline() {
                earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
            }
            if node.is_shielded() {
                return (earliest, node.links.lock().start_caller.clone());
            }
            match node.parent() {
                Some(parent) => node = parent,
                None => return (earliest, None),
            }
        }
    }

    /// The timer of this scope's deadline fired at `now`. It cancels the scope only if
    /// the scope's deadline, as it is now, has passed: `set_deadline` re-arms at once,
    /// so a timer armed for a deadline since moved later or removed cancels nothing
    /// (the wrapper re-arms it when next polled). A mock clock at its end (`at_end`)
    /// is past every deadline it fires a timer for, even one beyond its last instant.
    /// Scopes around it (up to a shield) whose deadlines have passed too are cancelled
    /// first, outermost first, so that when the task inside runs, the outermost of
    /// them catches however the timers that fire in the same tick are ordered.
    /// A scope that has exited is not cancelled by its deadline any more.
    pub(crate) fn deadline_passed(&self, now: Instant, at_end: bool) {
        if self.has_exited() {
            return;
        }
        if self.deadline().is_some_and(|d| d <= now || at_end) {
            self.cancel_passed_deadlines(now);
            // Past the clock's last instant: not cancelled by the walk.
            self.cancel_by_deadline();
        }
    }

    /// Cancels this scope and the scopes around it (up to a shield) whose deadlines
    /// have passed by `now`, outermost first (see [`deadline_passed`](Self::deadline_passed)),
    /// and says whether there were any (cancelled before or now).
    /// Also called where a deadline may have passed with no timer to fire it yet: a
    /// scope arms its timer only when its work suspends, and a sleep that ends may be
    /// polled before the timer of a deadline that passed with it cancels its scope.
    pub(crate) fn cancel_passed_deadlines(&self, now: Instant) -> bool {
        let mut expired = Vec::new();
        let mut node = self;
        loop {
            if node.is_timed() && node.deadline().is_some_and(|d| d <= now) {
                expired.push(node);
            }
            if node.is_shielded() {
                break;
            }
            match node.parent() {
                Some(parent) => node = parent,
                None => break,
            }
        }
        for scope in expired.iter().rev() {
            scope.cancel_by_deadline();
        }
        !expired.is_empty()
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
    ///
    /// A waker that panics does not stop the walk: every other task inside is woken,
    /// and the first panic is then resumed, to reach the caller (as from `Event::set`).
    ///
    /// A start's caller node met on the way stands for the starting child, which is
    /// not below it in the tree (it is below its group, shielded from it): the start is
    /// told, and if the child is still the caller's, the walk cancels the child's node
    /// and goes on into it as into a scope of its own (its shield, which keeps out its
    /// group, does not stop this walk), so that the cancel reaches the child and what
    /// runs inside it at once, as it reaches a scope inside. Starts nested in starts
    /// are met the same way, in this one walk.
    fn wake_inside(&self) {
        // Each with whether it is the top of a walk: this scope, or a starting child's
        // node cancelled on the way.
        let mut pending: Vec<(Arc<ScopeNode>, bool)> = Vec::new();
        let mut wakers: Vec<Waker> = Vec::new();
        let mut panic = None;
        let mut visit = |node: &ScopeNode, top: bool, pending: &mut Vec<(Arc<ScopeNode>, bool)>| {
            let starting = {
                let links = node.links.lock();
                if !top && node.is_shielded() {
                    return;
                }
                wakers.extend(links.waker.clone());
                node.for_each_link_locked(&links, |below| match below {
                    Below::Scope(node) => pending.push((node.clone(), false)),
                    Below::Task { waker, .. } => wakers.push(waker.clone()),
                });
                links.start_child.clone()
            };
            let mut keep = |outcome: std::thread::Result<()>| {
                if let Err(payload) = outcome {
                    match panic {
                        None => panic = Some(payload),
                        // Only the first goes on; another's drop could panic too.
                        Some(_) => std::mem::forget(payload),
                    }
                }
            };
            for waker in wakers.drain(..) {
                keep(catch_unwind(AssertUnwindSafe(|| waker.wake())));
            }
            if let Some(start) = starting {
                let child = catch_unwind(AssertUnwindSafe(|| start.look())).map(|child| {
                    // Marked before its walk: a start nested in the child, met below,
                    // sees its caller's scopes cancelled. A child cancelled already
                    // was walked by whoever cancelled it.
                    if let Some(child) = child.filter(|child| child.mark_cancelled(0)) {
                        pending.push((child, true));
                    }
                });
                keep(child);
            }
        };
        visit(self, true, &mut pending);
        while let Some((node, top)) = pending.pop() {
            visit(&node, top, &mut pending);
        }
        if let Some(panic) = panic {
            resume_unwind(panic);
        }
    }

    /// Whether `cancel()` was called on this scope itself. A deadline passing is such a
    /// call: an entered scope whose deadline has passed is cancelled here, if its timer
    /// has not done it yet (its work may not have suspended since, to arm it). An
    /// unentered scope is not, nor an exited one.
    ///
    /// "Passed" is read on the clock of the runtime the calling thread is in, as in
    /// [`set_deadline`](Self::set_deadline): the scope's own clock when its task (or
    /// any task of its runtime, or of a runtime on the system clock when it is on the
    /// system clock too) asks. From a thread outside any runtime this only reports the
    /// cancel (the scope's timer makes it at the deadline); from a task of a runtime on
    /// another (mock) clock, that clock judges.
    #[inline]
    pub fn cancel_called(&self) -> bool {
        let flags = self.flags.load(Ordering::Acquire);
        if flags & CANCELLED != 0 {
            return true;
        }
        flags & (TIMED | ENTERED | EXITED) == TIMED | ENTERED && self.cancel_if_past_deadline()
    }

    /// Whether the scope is marked cancelled, without looking at the clock (see
    /// [`cancel_called`](Self::cancel_called)): for the runtime's own reads, which must
    /// not cancel anything.
    #[inline]
    pub(crate) fn cancel_flag_set(&self) -> bool {
        self.flags.load(Ordering::Acquire) & CANCELLED != 0
    }

    /// [`cancel_called`](Self::cancel_called) of an entered scope given a deadline:
    /// cancels it, and the scopes around it whose deadlines have passed, if its own
    /// has passed on the clock of the runtime this thread is in (none outside a
    /// runtime: see `cancel_called` for why not the scope's own).
    #[cold]
    fn cancel_if_past_deadline(&self) -> bool {
        let Some(now) = super::deadline::now() else {
            return false;
        };
        if self.deadline().is_some_and(|d| d <= now) {
            self.cancel_passed_deadlines(now);
        }
        self.flags.load(Ordering::Acquire) & CANCELLED != 0
    }

    /// Whether the scope is shielded now.
    #[inline]
    pub fn is_shielded(&self) -> bool {
        self.flags.load(Ordering::Acquire) & SHIELD != 0
    }

    /// Until its child has started, a start's child node (shielded from its group) is
    /// inside its caller's scopes: it sees their deadlines through `caller`, the node
    /// that stands for them. `None` once the start is over.
    pub(crate) fn set_start_caller(&self, caller: Option<Arc<ScopeNode>>) {
        let old = std::mem::replace(&mut self.links.lock().start_caller, caller);
        // Outside the lock: it may be the caller node's last reference.
        drop(old);
    }

    /// A start's caller node: `start` is told when a cancel reaches this node, so that
    /// the cancel reaches the starting child at once, as it reaches a scope inside (the
    /// child is below its group in the tree, shielded from it, not below this node).
    /// `None` once the start is over (the link holds the start, which holds this node).
    pub(crate) fn set_start_child(&self, start: Option<std::sync::Arc<dyn StartChild>>) {
        let old = std::mem::replace(&mut self.links.lock().start_child, start);
        drop(old);
    }

    /// Shields or unshields. Unshielding wakes the tasks inside, which may now be
    /// cancelled from outside.
    pub fn set_shield(&self, shield: bool) {
        // Under the node's lock: see `wake_inside`.
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

    /// A group whose node this is was dropped where it could not wait for every child
    /// future (see `group/future.rs`, `teardown`): every group around it holds on until
    /// [`release_above`](Self::release_above), so that none ends before those futures
    /// are gone.
    pub(crate) fn hold_above(&self) {
        for group in self.groups_above() {
            let held = group
                .leftovers
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1));
            assert!(
                held.is_ok(),
                "pride: too many groups dropped below one group"
            );
        }
    }

    /// The futures that [`hold_above`](Self::hold_above) held on for are gone: the
    /// groups around this one may end (the last release wakes each). Release: a group
    /// that sees no hold left sees everything those futures did.
    pub(crate) fn release_above(&self) {
        for group in self.groups_above() {
            if group.leftovers.fetch_sub(1, Ordering::AcqRel) == 1 {
                group.wake();
            }
        }
    }

    /// Whether a group dropped below this (a group's) node left futures this group
    /// must outlast. Acquire: see [`release_above`](Self::release_above).
    #[inline]
    pub(crate) fn has_leftovers(&self) -> bool {
        self.leftovers.load(Ordering::Acquire) != 0
    }

    /// The nodes of the groups this node is nested in, innermost first.
    fn groups_above(&self) -> impl Iterator<Item = &ScopeNode> {
        std::iter::successors(self.parent(), |node| node.parent())
            .filter(|node| matches!(node.label, Some(Label::Group)))
    }

    /// Whether `outer` is this scope or a scope around it, a starting child's caller's
    /// scopes included (until it has started, the child is inside both its group and
    /// its caller's scopes).
    pub(crate) fn lies_within(&self, outer: &ScopeNode) -> bool {
        fn walk(from: &ScopeNode, outer: &ScopeNode, callers: &mut Vec<Arc<ScopeNode>>) -> bool {
            let mut node = Some(from);
            while let Some(here) = node {
                if std::ptr::eq(here, outer) {
                    return true;
                }
                // A starting child's node is shielded (from its group).
                if here.is_shielded() {
                    callers.extend(here.links.lock().start_caller.clone());
                }
                node = here.parent();
            }
            false
        }
        let mut callers = Vec::new();
        if walk(self, outer, &mut callers) {
            return true;
        }
        while let Some(caller) = callers.pop() {
            if walk(&caller, outer, &mut callers) {
                return true;
            }
        }
        false
    }

    /// Whether the code running on this thread is inside this (a group's) scope, and
    /// if so, whether it runs in one of the group's children: `None` outside;
    /// `Some(true)` in a child (the current scope is this one, as in a child with no
    /// scope of its own, or the scope below this one on the way up is a child's);
    /// `Some(false)` elsewhere inside (in the group's body, say).
    pub(crate) fn runs_inside(&self) -> Option<bool> {
        let current = super::current::current_to_read()?;
        let mut below: Option<&ScopeNode> = None;
        let mut node = Some(&*current);
        while let Some(here) = node {
            if std::ptr::eq(here, self) {
                return Some(below.is_none_or(|below| matches!(below.label, Some(Label::Task(_)))));
            }
            below = Some(here);
            node = here.parent();
        }
        None
    }

    /// The scope's wrapper is done: a deadline set from now on changes nothing.
    #[inline]
    pub(crate) fn mark_exited(&self) {
        self.flags.fetch_or(EXITED, Ordering::AcqRel);
    }

    /// Whether a group child's task was ever linked below this node directly (see
    /// [`link_child`](Self::link_child)). Ordered for a group that has drained: its
    /// children's tasks were linked before they ran, and they counted themselves out
    /// after.
    #[inline]
    pub(crate) fn has_linked_tasks(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & TASKS != 0
    }

    /// The group whose node this is is gone: see [`is_group_gone`](Self::is_group_gone).
    pub(crate) fn mark_group_gone(&self) {
        self.flags.fetch_or(GROUP_GONE, Ordering::Relaxed);
    }

    /// Whether the group whose node this is is gone, so that no child can be linked
    /// below it any more. Only the runtime's list of groups reads it, to let go of the
    /// node; nothing is ordered by it.
    #[inline]
    pub(crate) fn is_group_gone(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & GROUP_GONE != 0
    }

    #[inline]
    pub(crate) fn has_exited(&self) -> bool {
        self.flags.load(Ordering::Acquire) & EXITED != 0
    }

    #[inline]
    pub(crate) fn mark_caught(&self) {
        self.flags.fetch_or(CAUGHT, Ordering::AcqRel);
    }

    #[inline]
    pub(crate) fn cancelled_caught(&self) -> bool {
        self.flags.load(Ordering::Acquire) & CAUGHT != 0
    }

    /// Whether the scope's own deadline is what cancelled it.
    #[inline]
    pub fn deadline_fired(&self) -> bool {
        self.flags.load(Ordering::Acquire) & DEADLINE != 0
    }
}

impl std::fmt::Debug for ScopeNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeNode")
            .field("cancel_called", &self.cancel_flag_set())
            .field("shield", &self.is_shielded())
            .field("cancelled_caught", &self.cancelled_caught())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;

    fn child_of(parent: &Arc<ScopeNode>) -> Arc<ScopeNode> {
        let child = ScopeNode::new();
        ScopeNode::enter(&child, Some(parent.clone()));
        child
    }

    fn linked_below(parent: &ScopeNode) -> usize {
        parent.link_count()
    }

    #[test]
    fn exited_children_are_swept_when_the_table_fills_and_live_ones_stay() {
        let parent = ScopeNode::new();
        let live: Vec<_> = (0..2).map(|_| child_of(&parent)).collect();
        for _ in 2..links::SWEEP_MIN {
            child_of(&parent).mark_exited();
        }
        assert_eq!(linked_below(&parent), links::SWEEP_MIN);
        // The table is full at `SWEEP_MIN`: the next link sweeps the exited ones.
        let next = child_of(&parent);
        assert_eq!(linked_below(&parent), 3);
        // A cancel still reaches every live child (each sees it through its parent).
        parent.cancel();
        assert!(live.iter().all(|c| c.cancelled_by().is_some()));
        for child in live.iter().chain([&next]) {
            ScopeNode::unlink(child);
        }
        assert_eq!(linked_below(&parent), 0);
    }

    /// Runs a task's poll as soon as it is scheduled.
    struct RunNow;

    impl crate::task::Schedule for RunNow {
        fn schedule(&self, task: crate::task::Notified) {
            task.run();
        }
    }

    /// The waker of a task polled once: completed if `future` finished.
    fn polled_task(future: impl std::future::Future<Output = ()> + Send + 'static) -> Waker {
        let (notified, task) = crate::task::new_task(future, RunNow);
        notified.run();
        crate::task::into_waker(task)
    }

    #[test]
    fn completed_child_tasks_are_swept_when_the_table_fills_and_live_ones_stay() {
        let group = ScopeNode::new();
        let live: Vec<Waker> = (0..2)
            .map(|_| polled_task(std::future::pending()))
            .collect();
        for waker in &live {
            group.link_task(waker.clone(), None);
        }
        for _ in 2..links::SWEEP_MIN {
            group.link_task(polled_task(async {}), None);
        }
        assert_eq!(linked_below(&group), links::SWEEP_MIN);
        // The table is full: the next link sweeps the completed tasks out.
        group.link_task(polled_task(std::future::pending()), None);
        assert_eq!(linked_below(&group), 3);
        for below in group.take_links() {
            if let Below::Task { waker, .. } = below {
                crate::task::with_task(&waker, crate::task::Task::cancel);
            }
        }
    }

    /// Threads start a group's children into tables of their own (the first thread's
    /// is the node's). A full table sweeps the others that no child was linked into
    /// since it last looked, so the finished children of a thread that stopped starting
    /// any are not kept until the group exits.
    fn an_idle_table_is_swept_by_a_full_one(full_is_home: bool) {
        let group = ScopeNode::new();
        let pending = || polled_task(std::future::pending());
        let mut in_full = 0;
        if full_is_home {
            group.link_task_in(pending(), 2, 0);
            in_full += 1;
        }
        for _ in 0..5 {
            group.link_task_in(polled_task(async {}), 2, 1);
        }
        // The first sweep finds the idle table linked into since the last look (there
        // was none), and only marks it; it sets the room to twice the live links.
        while in_full < 2 * links::SWEEP_MIN {
            group.link_task_in(pending(), 2, 0);
            in_full += 1;
        }
        assert_eq!(linked_below(&group), in_full + 5);
        // The second sweeps it.
        group.link_task_in(pending(), 2, 0);
        assert_eq!(linked_below(&group), in_full + 1);
        for below in group.take_links() {
            if let Below::Task { waker, .. } = below {
                crate::task::with_task(&waker, crate::task::Task::cancel);
            }
        }
    }

    #[test]
    fn a_full_table_sweeps_the_idle_home_table() {
        an_idle_table_is_swept_by_a_full_one(false);
    }

    #[test]
    fn the_full_home_table_sweeps_an_idle_table() {
        an_idle_table_is_swept_by_a_full_one(true);
    }

    #[test]
    fn the_sweep_threshold_follows_the_live_children() {
        let parent = ScopeNode::new();
        let live: Vec<_> = (0..100).map(|_| child_of(&parent)).collect();
        // 100 live children in a full table: the sweep keeps them all and waits for
        // twice as many before looking again, so linking stays amortised O(1).
        for _ in 0..300 {
            child_of(&parent).mark_exited();
        }
        let linked = linked_below(&parent);
        assert!(linked >= 100, "a live child was swept");
        assert!(
            linked <= 100 + 2 * 100 + links::SWEEP_MIN,
            "exited links piled up: {linked}"
        );
        for child in &live {
            ScopeNode::unlink(child);
        }
        // What a group does when it ends: its remaining (exited) links go, which frees
        // those children (each held its parent: a cycle otherwise; Miri reports the
        // leak if this is left out).
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
            ScopeNode::unlink(node);
        }
    }
}
