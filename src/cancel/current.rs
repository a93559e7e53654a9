//! What the running code is inside, tracked in thread-locals during a poll.
//!
//! - `CURRENT`: the scope the running code is inside. Every scope wrapper (group body,
//!   group child, `CancelScope::run`) sets it for the duration of its inner poll; a
//!   task group opened there takes it as its parent.
//! - `PROTECTED`: whether the work just polled *suspended inside a shield*. A wrapper
//!   that returns `Pending` reports upward whether its suspension is shielded (its own
//!   scope is shielded, or something below it reported so). The wrapper around it then
//!   knows that cancellation from outside cannot reach the suspended work, so it must
//!   not drop it, however cancelled the outer scopes are.
//!
//! Unsafe code here: [`current`] makes a strong reference from the `CURRENT` pointer.
//! Its rule: `CURRENT` holds a node only while [`enter`] runs the inner poll of the
//! wrapper that owns that node (an `Arc` the wrapper keeps for the whole poll), on
//! this thread, and [`enter`] puts the previous value back when the poll returns or
//! unwinds; so a non-null `CURRENT` always points at a live node in an `Arc`.

use std::cell::Cell;
use std::ptr;

use super::node::ScopeNode;
use crate::loom::sync::Arc;

thread_local! {
    static CURRENT: Cell<*const ScopeNode> = const { Cell::new(ptr::null()) };
    static PROTECTED: Cell<bool> = const { Cell::new(false) };
}

/// Restores the previous state when dropped (also on unwind).
struct Restore {
    current: *const ScopeNode,
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
    let _restore = Restore {
        current: CURRENT.with(|c| c.replace(Arc::as_ptr(node))),
        protected: PROTECTED.with(|p| p.replace(false)),
    };
    let output = f();
    (output, PROTECTED.with(Cell::get))
}

/// A wrapper returns `Pending`: tell the wrapper around it whether this suspension is
/// shielded (by `node` itself, or by a shield further in).
#[inline]
pub(crate) fn report_suspended(node: &ScopeNode, shielded_below: bool) {
    if shielded_below || node.is_shielded() {
        PROTECTED.with(|p| p.set(true));
    }
}

/// The current scope as a raw pointer (null outside every scope), for identity checks.
#[inline]
pub(crate) fn current_ptr() -> *const ScopeNode {
    CURRENT.with(Cell::get)
}

/// The current scope, if any wrapper is being polled on this thread.
#[inline]
pub(crate) fn current() -> Option<Arc<ScopeNode>> {
    let node = current_ptr();
    if node.is_null() {
        return None;
    }
    // SAFETY: a non-null `CURRENT` points at a live node in an `Arc` (the module's
    // rule); we take a new strong count for the reference we make.
    unsafe {
        Arc::increment_strong_count(node);
        Some(Arc::from_raw(node))
    }
}
