//! The scope the running code is inside: a thread-local set by every scope wrapper
//! (group body, group child, `CancelScope::run`) for the duration of its inner poll.
//! A task group opened here takes it as its parent.

use std::cell::Cell;
use std::ptr;

use super::node::ScopeNode;
use crate::loom::sync::Arc;

thread_local! {
    static CURRENT: Cell<*const ScopeNode> = const { Cell::new(ptr::null()) };
}

/// Restores the previous current scope when dropped (also on unwind).
struct Restore(*const ScopeNode);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` with `node` as the current scope.
pub(crate) fn enter<R>(node: &Arc<ScopeNode>, f: impl FnOnce() -> R) -> R {
    let prev = CURRENT.with(|c| c.replace(Arc::as_ptr(node)));
    let _restore = Restore(prev);
    f()
}

/// The current scope as a raw pointer (null outside every scope), for identity checks.
pub(crate) fn current_ptr() -> *const ScopeNode {
    CURRENT.with(Cell::get)
}

/// The current scope, if any wrapper is being polled on this thread.
pub(crate) fn current() -> Option<Arc<ScopeNode>> {
    let ptr = CURRENT.with(Cell::get);
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the pointer was set by `enter` from an `Arc` that the wrapper keeps alive
    // for the whole inner poll, and it is cleared (restored) before that poll returns;
    // so while it is non-null, the node is alive. We take a new strong count.
    unsafe {
        Arc::increment_strong_count(ptr);
        Some(Arc::from_raw(ptr))
    }
}
