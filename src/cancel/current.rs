//! What the running code is inside, tracked in thread-locals during a poll.
//!
//! - `CURRENT`: the scope the running code is inside. Every scope wrapper (group body,
//!   group child, `CancelScope::run`) sets it for the duration of its inner poll; a
//!   task group opened there takes it as its parent. A group child started without a
//!   handle has no scope of its own until its work enters one (or opens a group, or
//!   calls `start`): while it has none, `CURRENT` names a [`Deferred`] (the pointer
//!   tagged in its low bit), and the first [`current`] call makes the child's scope,
//!   below the group's, and names that.
//! - `PROTECTED`: whether the work just polled *suspended inside a shield*. A wrapper
//!   that returns `Pending` reports upward whether its suspension is shielded (its own
//!   scope is shielded, or something below it reported so). The wrapper around it then
//!   knows that cancellation from outside cannot reach the suspended work, so it must
//!   not drop it, however cancelled the outer scopes are.
//! - `IN_SCOPE`: whether the work just polled suspended inside a scope's wrapper (any
//!   scope, shielded or not), which decides for itself, live, what a cancel does to
//!   the work in it. Set by every wrapper that returns `Pending`; read by `select!`,
//!   which under a cancel polls only the branches that have suspended so.
//!
//! Unsafe code here: [`current`] makes a strong reference from the `CURRENT` pointer,
//! or reads the `Deferred` it names. Its rule: `CURRENT` holds a node or a `Deferred`
//! only while [`enter`] or [`enter_deferred`] runs the inner poll of the wrapper that
//! owns it (a node in an `Arc`, or a `Deferred`, that the wrapper keeps for the whole
//! poll), or the body of a piece of a `par` call made in that node (the call keeps
//! the `Arc`, and the body returns before its job sets its latch, after which the call
//! may be gone), on this thread, and they put the previous value back when the poll
//! or body returns or unwinds; so a non-null `CURRENT` always points at a live node in
//! an `Arc` or, tagged, at a live `Deferred`.

use std::cell::{Cell, OnceCell};
use std::ptr;
use std::sync::Arc as StdArc;

use super::node::{Label, ScopeNode};
use crate::loom::sync::Arc;

thread_local! {
    /// A `*const ScopeNode`, or a `*const Deferred` with bit 0 set.
    static CURRENT: Cell<*const ()> = const { Cell::new(ptr::null()) };
    static PROTECTED: Cell<bool> = const { Cell::new(false) };
    static IN_SCOPE: Cell<bool> = const { Cell::new(false) };
}

/// Restores the previous state when dropped (also on unwind).
struct Restore {
    current: *const (),
    protected: bool,
}

impl Drop for Restore {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.current));
        PROTECTED.with(|p| p.set(self.protected));
    }
}

/// Runs `f` (a wrapper's inner poll) with `node` as the current scope. Returns `f`'s
/// output and whether the work inside suspended within a shield (see the module docs).
#[inline]
pub(crate) fn enter<R>(node: &Arc<ScopeNode>, f: impl FnOnce() -> R) -> (R, bool) {
    enter_tagged(Arc::as_ptr(node).cast(), f)
}

/// [`enter`] for a group child whose scope is not made yet: the work inside runs in
/// `deferred.parent`'s scope, and asking for the current scope makes the child's.
#[inline]
pub(crate) fn enter_deferred<R>(deferred: &Deferred<'_>, f: impl FnOnce() -> R) -> (R, bool) {
    let tagged = ptr::from_ref(deferred)
        .cast::<()>()
        .map_addr(|addr| addr | DEFERRED);
    enter_tagged(tagged, f)
}

/// Runs `f` (a piece of a `par` call made outside every scope) with no current scope.
#[inline]
pub(crate) fn enter_none<R>(f: impl FnOnce() -> R) -> R {
    enter_tagged(ptr::null(), f).0
}

#[inline]
fn enter_tagged<R>(current: *const (), f: impl FnOnce() -> R) -> (R, bool) {
    let _restore = Restore {
        current: CURRENT.with(|c| c.replace(current)),
        protected: PROTECTED.with(|p| p.replace(false)),
    };
    let output = f();
    (output, PROTECTED.with(Cell::get))
}

/// The tag of a `CURRENT` that names a [`Deferred`].
const DEFERRED: usize = 1;

/// The scope of a group child started without a handle, made only when the work inside
/// enters a scope, opens a group or calls `start` there (which then nest below the
/// child, as a task tree shows them). Nothing can cancel this scope but the group's,
/// so until then the child runs in the group's scope, and costs no node of its own.
pub(crate) struct Deferred<'a> {
    /// The child's scope, once made.
    pub(crate) node: &'a OnceCell<Arc<ScopeNode>>,
    /// The group's scope.
    pub(crate) parent: &'a Arc<ScopeNode>,
    /// The child's name.
    pub(crate) name: &'a Option<StdArc<str>>,
}

impl Deferred<'_> {
    fn make(&self) -> &Arc<ScopeNode> {
        self.node.get_or_init(|| {
            ScopeNode::entered(Some(self.parent.clone()), Label::Task(self.name.clone()))
        })
    }
}

/// A wrapper returns `Pending`: tell the wrapper around it whether this suspension is
/// shielded (by `node` itself, or by a shield further in).
#[inline]
pub(crate) fn report_suspended(node: &ScopeNode, shielded_below: bool) {
    if shielded_below || node.is_shielded() {
        PROTECTED.with(|p| p.set(true));
    }
    IN_SCOPE.with(|s| s.set(true));
}

/// Runs `f` (a poll) and says whether what it polled suspended inside a scope's
/// wrapper (see the module docs), or is a `select!` (which looks after its branches
/// itself).
#[inline]
pub(crate) fn noting_scope<R>(f: impl FnOnce() -> R) -> (R, bool) {
    /// Puts back what the code around the poll reported (also on unwind): a select in
    /// a branch says nothing of the rest of that branch.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_SCOPE.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(IN_SCOPE.with(|s| s.replace(false)));
    let output = f();
    (output, IN_SCOPE.with(Cell::get))
}

/// A `select!` returns `Pending`: under a cancel it polls only what is safe to poll
/// (see [`noting_scope`]).
#[inline]
pub(crate) fn report_select_suspended() {
    IN_SCOPE.with(|s| s.set(true));
}

/// The current scope as a raw pointer (null outside every scope), for identity checks
/// only: is a scope's wrapper polled where it was entered? In a child whose scope is
/// not made yet, a pointer that is no scope's parent: a scope entered in the child
/// made the child's scope and runs in it, so a wrapper polled here was entered
/// somewhere else.
#[inline]
pub(crate) fn current_ptr() -> *const ScopeNode {
    CURRENT.with(Cell::get).cast()
}

/// The scope the running code is inside, as a raw pointer: in a child whose scope is
/// not made yet, the group's.
#[inline]
fn resolved_ptr() -> *const ScopeNode {
    match CURRENT.with(Cell::get) {
        tagged if tagged.addr() & DEFERRED != 0 => {
            with_deferred(tagged, |deferred| Arc::as_ptr(deferred.parent))
        }
        node => node.cast(),
    }
}

/// Runs `f` with the `Deferred` a tagged `CURRENT` names.
fn with_deferred<R>(tagged: *const (), f: impl FnOnce(&Deferred<'_>) -> R) -> R {
    let untagged = tagged
        .map_addr(|addr| addr & !DEFERRED)
        .cast::<Deferred<'_>>();
    // SAFETY: a tagged `CURRENT` points at a live `Deferred` for the rest of this
    // poll, which outlasts this call (the module's rule).
    f(unsafe { &*untagged })
}

/// The current scope, to enter a scope or open a group in, if any wrapper is being
/// polled on this thread. In a child whose scope is not made yet, makes it and names it
/// current for the rest of the poll.
#[inline]
pub(crate) fn current() -> Option<Arc<ScopeNode>> {
    let tagged = CURRENT.with(Cell::get);
    if tagged.addr() & DEFERRED != 0 {
        let node = with_deferred(tagged, |deferred| deferred.make().clone());
        // The node lives in the child's wrapper, which outlasts this poll.
        CURRENT.with(|c| c.set(Arc::as_ptr(&node).cast()));
        return Some(node);
    }
    strong(tagged.cast())
}

/// The scope whose cancels and deadlines reach the running code, to read them: what
/// [`current`] returns, but a child whose scope is not made yet is not given one (the
/// group's scope, which it would sit alone below, answers the same).
#[inline]
pub(crate) fn current_to_read() -> Option<Arc<ScopeNode>> {
    strong(resolved_ptr())
}

fn strong(node: *const ScopeNode) -> Option<Arc<ScopeNode>> {
    if node.is_null() {
        return None;
    }
    // SAFETY: a non-null untagged `CURRENT`, or a `Deferred`'s parent, is a live node
    // in an `Arc` (the module's rule); we take a new strong count for the reference we
    // make.
    unsafe {
        Arc::increment_strong_count(node);
        Some(Arc::from_raw(node))
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_deferred_scope_is_made_when_first_asked_for_and_is_current_after() {
        let group = ScopeNode::new();
        let cell = OnceCell::new();
        let name = Some(StdArc::from("child"));
        let deferred = Deferred {
            node: &cell,
            parent: &group,
            name: &name,
        };
        let ((), protected) = enter_deferred(&deferred, || {
            // Reading makes nothing: the group's scope answers.
            assert!(Arc::ptr_eq(&current_to_read().unwrap(), &group));
            // A scope entered in the group is not entered here.
            let elsewhere = ScopeNode::new();
            ScopeNode::enter_unlinked(&elsewhere, Some(group.clone()));
            assert!(!elsewhere.is_child_of(current_ptr()));
            assert!(cell.get().is_none());
            // Asking to enter below makes the child's scope, below the group's.
            let made = current().unwrap();
            assert!(made.is_child_of(Arc::as_ptr(&group)));
            assert!(matches!(made.label(), Some(Label::Task(Some(n))) if &**n == "child"));
            assert_eq!(current_ptr(), Arc::as_ptr(&made));
            assert!(Arc::ptr_eq(&current().unwrap(), &made), "made once");
            let inner = ScopeNode::new();
            enter(&inner, || assert_eq!(current_ptr(), Arc::as_ptr(&inner)));
            assert_eq!(current_ptr(), Arc::as_ptr(&made));
        });
        assert!(!protected);
        assert!(current_ptr().is_null());
        assert!(cell.get().is_some());
        // Outside the poll, the made scope is the child's: a later poll enters it.
        let made = cell.get().unwrap().clone();
        enter(&made, || assert!(Arc::ptr_eq(&current().unwrap(), &made)));
    }
}
