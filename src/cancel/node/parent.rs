//! A node's link to its parent, and the loan under which a wrapper's first poll
//! borrows it.
//!
//! Unsafe code here: the parent link's once-written cell (`Parent`) and the loan that
//! ends a borrowed link (`ParentLoan`). Their rules are on those types.

use super::ScopeNode;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicU8, Ordering};

/// A node's link to its parent: set once, when the scope is entered, then read-only
/// until the node is reset or dropped.
///
/// The link is *owned* (the node holds a strong count on its parent) or, for a scope
/// entered privately by its wrapper (a group, `fail_after`, `move_on_*`), *borrowed*
/// for the wrapper's first poll: the parent is the scope current during that poll, so
/// the wrapper around us keeps it alive until the poll returns. Most such scopes finish
/// on their first poll, and borrowing spares them an increment and a decrement on a
/// node other tasks' polls read.
///
/// Rules (with `OwnedNode`'s drop and `ParentLoan`, the module's unsafe code):
/// - `set` and `set_borrowed` are called at most once per use of the node, by the one
///   thread that entered it (whose `fetch_or(ENTERED)` found the bit clear, or which
///   holds the node uniquely), and write the cell before the `Release` store of
///   `state`.
/// - `get` reads the cell only after an `Acquire` load of `state` saw a parent, so the
///   write happened before, and no write follows while shared references exist.
/// - A borrowed link ends before the first poll of the node's wrapper returns or
///   unwinds: the [`ParentLoan`] made at entry either takes a strong count then
///   (`own`, which only changes `state`: readers never look at which kind of link it
///   is) or, having proved through `&mut` that nothing but the wrapper holds the
///   node, drops the link (`clear`). So every read of a borrowed link happens while
///   the parent is alive.
/// - `clear` and the drop take `&mut self`: nobody else can be reading.
pub(super) struct Parent {
    state: AtomicU8,
    node: UnsafeCell<*const ScopeNode>,
}

/// `Parent::state`: no parent (not entered, or a root scope).
const NO_PARENT: u8 = 0;
/// The parent is borrowed for the wrapper's first poll.
const BORROWED: u8 = 1;
/// The node holds a strong count on its parent.
const OWNED: u8 = 2;

// SAFETY: the cell is written once before being published with Release/Acquire on
// `state` (see the rules above), so shared access from any thread only reads it; the
// pointer it holds is to a `ScopeNode`, which is `Send + Sync`, kept alive by the
// rules above.
unsafe impl Sync for Parent {}
// SAFETY: as above; moving a `Parent` moves a strong count or a loan, both of which
// are valid from any thread.
unsafe impl Send for Parent {}

impl Parent {
    pub(super) fn new() -> Parent {
        Parent {
            state: AtomicU8::new(NO_PARENT),
            node: UnsafeCell::new(std::ptr::null()),
        }
    }

    /// An owned link. Only the thread that entered the node calls this, once (see the
    /// rules).
    #[inline]
    pub(super) fn set(&self, parent: Arc<ScopeNode>) {
        debug_assert_eq!(self.state.load(Ordering::Relaxed), NO_PARENT);
        // SAFETY: no reader looks at the cell before `state` says there is a parent,
        // and only the entering thread writes it, once (the rules above).
        self.node
            .with_mut(|cell| unsafe { *cell = Arc::into_raw(parent) });
        self.state.store(OWNED, Ordering::Release);
    }

    /// A borrowed link to `parent` (null: none), from a wrapper that holds the node
    /// uniquely and made a [`ParentLoan`] for it.
    #[inline]
    pub(super) fn set_borrowed(&mut self, parent: Enclosing) {
        // Plain loads and stores: `&mut self` (atomics only for loom's sake).
        debug_assert_eq!(self.state.load(Ordering::Relaxed), NO_PARENT);
        if parent.0.is_null() {
            return;
        }
        // SAFETY: `&mut self`: nobody else can be looking at the cell.
        self.node.with_mut(|cell| unsafe { *cell = parent.0 });
        self.state.store(BORROWED, Ordering::Relaxed);
    }

    /// Turns a borrowed link into an owned one (no-op otherwise). Called by the
    /// loan while the parent is still alive (the rules above).
    #[inline]
    pub(super) fn own(&self) {
        if self.state.load(Ordering::Relaxed) != BORROWED {
            return;
        }
        // SAFETY: only the entering thread wrote the cell, before it set `BORROWED`
        // (we are that thread: the loan is a local of its poll); the parent is alive
        // until that poll returns, which has not happened yet.
        unsafe { Arc::increment_strong_count(self.node.with(|cell| *cell)) };
        // Readers do not tell the two kinds apart, so no ordering is needed here.
        self.state.store(OWNED, Ordering::Relaxed);
    }

    #[inline]
    pub(super) fn get(&self) -> Option<&ScopeNode> {
        if self.state.load(Ordering::Acquire) == NO_PARENT {
            return None;
        }
        // SAFETY: the state was published after the only write, which our Acquire
        // load synchronises with, and the cell is not written again while `&self`
        // lives; the parent is alive while `&self` is: owned, by our strong count;
        // borrowed, because the loan's rules let nobody read the link after the
        // parent could have gone.
        Some(unsafe { &*self.node.with(|cell| *cell) })
    }

    /// Drops the link (and its strong count, if owned).
    #[inline]
    pub(super) fn clear(&mut self) {
        let state = self.state.load(Ordering::Relaxed);
        if state == NO_PARENT {
            return;
        }
        self.state.store(NO_PARENT, Ordering::Relaxed);
        if state == OWNED {
            // SAFETY: `&mut self`: nobody else can read the cell; an owned link holds
            // the pointer `Arc::into_raw` gave in `set` (or a count `own` added).
            drop(unsafe { Arc::from_raw(self.node.with(|cell| *cell)) });
        }
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The scope current where a wrapper is first polled (null: none). It is alive for
/// the whole of that poll: the wrapper around us is polling us.
#[derive(Clone, Copy)]
pub(crate) struct Enclosing(pub(super) *const ScopeNode);

impl Enclosing {
    #[inline]
    pub(crate) fn current() -> Enclosing {
        Enclosing(crate::cancel::current::current_ptr())
    }

    /// A strong reference to it, for a link that may outlive this poll.
    pub(crate) fn to_owned(self) -> Option<Arc<ScopeNode>> {
        if self.0.is_null() {
            return None;
        }
        // SAFETY: alive for the current poll (the type's docs), and every node lives in
        // an `Arc`; we take a new strong count for the reference we make.
        unsafe {
            Arc::increment_strong_count(self.0);
            Some(Arc::from_raw(self.0))
        }
    }
}

/// Ends a node's borrowed parent link (see [`Parent`]'s rules) when its wrapper's
/// first poll ends, also by unwinding: dropping the loan makes the link owned, unless
/// [`settle`](Self::settle) found the wrapper holding the only reference to the node,
/// and cleared the link. Made by [`ScopeNode::enter_private`] before anything that
/// could fail, and kept by the wrapper only for that poll.
#[must_use = "dropping the loan at once makes the parent link owned"]
pub(crate) struct ParentLoan(*const ScopeNode);

impl ParentLoan {
    /// `node` must be kept alive by the wrapper for as long as the loan lives.
    #[inline]
    pub(super) fn new(node: &Arc<ScopeNode>) -> ParentLoan {
        ParentLoan(Arc::as_ptr(node))
    }

    /// The first poll is over and the wrapper is done with its node: if nothing else
    /// holds it, the link is dropped unread (the node needs no parent any more);
    /// otherwise it becomes owned now.
    #[inline]
    pub(crate) fn settle(self, node: &mut Arc<ScopeNode>) {
        debug_assert!(std::ptr::eq(Arc::as_ptr(node), self.0));
        if let Some(private) = crate::pool::unique_mut(node) {
            private.parent.clear();
            std::mem::forget(self);
        }
    }

    /// [`settle`](Self::settle) for a node that the caller resets at once (which
    /// drops the link) if nothing else holds it: the link is left to that reset.
    #[inline]
    pub(crate) fn settle_before_reset(self, node: &Arc<ScopeNode>) {
        debug_assert!(std::ptr::eq(Arc::as_ptr(node), self.0));
        if Arc::strong_count(node) == 1 {
            // As in `pool::unique_mut`: whoever held the node last, and read the link
            // through it, let go with a Release decrement; this orders those reads
            // before the parent can go.
            crate::loom::sync::atomic::fence(Ordering::Acquire);
            std::mem::forget(self);
        }
    }
}

impl Drop for ParentLoan {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the wrapper keeps the node alive while its loan lives (`new`).
        unsafe { &*self.0 }.parent.own();
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;

    /// A scope entered privately below `outer`, as a wrapper's first poll does.
    fn enter_borrowing(outer: &Arc<ScopeNode>) -> (Arc<ScopeNode>, ParentLoan) {
        let mut inner = ScopeNode::new();
        let loan = ScopeNode::enter_private(&mut inner, Enclosing(Arc::as_ptr(outer)));
        (inner, loan)
    }

    #[test]
    fn a_loan_ending_with_others_holding_the_node_makes_the_link_owned() {
        let outer = ScopeNode::new();
        let (mut inner, loan) = enter_borrowing(&outer);
        // Borrowed: the parent's count is untouched, yet the link reads as a parent.
        assert_eq!(Arc::strong_count(&outer), 1);
        assert!(inner.is_child_of(Arc::as_ptr(&outer)));
        let kept = inner.clone();
        loan.settle(&mut inner);
        assert_eq!(
            Arc::strong_count(&outer),
            2,
            "the link did not take a count"
        );
        // The parent outlives the handle it was borrowed from: a cancel made before
        // that handle went is still seen through the link (Miri reports a
        // use-after-free if the loan did not take its count).
        outer.cancel();
        drop(outer);
        drop(inner);
        assert!(kept.cancelled_by().is_some());
        drop(kept);
    }

    #[test]
    fn a_loan_ended_by_unwinding_makes_the_link_owned() {
        let outer = ScopeNode::new();
        let (inner, loan) = enter_borrowing(&outer);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _loan = loan;
            panic!("the first poll unwinds");
        }));
        assert!(result.is_err());
        assert_eq!(Arc::strong_count(&outer), 2);
        drop(outer);
        assert!(inner.cancelled_by().is_none());
    }

    #[test]
    fn a_loan_settled_on_a_node_held_alone_drops_the_link_without_a_count() {
        let outer = ScopeNode::new();
        let (mut inner, loan) = enter_borrowing(&outer);
        loan.settle(&mut inner);
        assert_eq!(Arc::strong_count(&outer), 1);
        // Nothing points at the parent any more: it may go first.
        assert!(inner.is_child_of(std::ptr::null()));
        drop(outer);
        assert!(inner.cancelled_by().is_none());
        drop(inner);
    }

    #[test]
    fn a_loan_settled_before_a_reset_leaves_the_link_to_the_reset() {
        let outer = ScopeNode::new();
        let (mut inner, loan) = enter_borrowing(&outer);
        loan.settle_before_reset(&inner);
        assert_eq!(Arc::strong_count(&outer), 1);
        crate::pool::unique_mut(&mut inner)
            .expect("the node is held alone")
            .reset();
        assert!(inner.is_child_of(std::ptr::null()));
        drop(outer);
        drop(inner);

        // Held elsewhere too: the link becomes owned instead.
        let outer = ScopeNode::new();
        let (inner, loan) = enter_borrowing(&outer);
        let kept = inner.clone();
        loan.settle_before_reset(&inner);
        assert_eq!(Arc::strong_count(&outer), 2);
        drop((outer, inner));
        assert!(kept.cancelled_by().is_none());
    }

    #[test]
    fn a_failed_entry_leaves_the_borrow_of_the_entry_that_succeeded_alone() {
        let outer = ScopeNode::new();
        let (mut inner, loan) = enter_borrowing(&outer);
        // A second wrapper tries the same node (a `CancelScope` clone run twice).
        let mut second = inner.clone();
        let entered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _loan = ScopeNode::enter_private(&mut second, Enclosing(Arc::as_ptr(&outer)));
        }));
        assert!(entered.is_err(), "a node was entered twice");
        assert_eq!(
            Arc::strong_count(&outer),
            1,
            "the failed entry's loan ended the first entry's borrow"
        );
        drop(second);
        loan.settle(&mut inner);
        assert_eq!(Arc::strong_count(&outer), 1);
        drop((outer, inner));
    }
}
