//! The cooperative budget: how many operations a task may complete in one poll before
//! it has to let other tasks run.
//!
//! A task that only ever finds its channels, queues, locks and sockets ready would
//! otherwise never return `Pending`, and would keep its worker from everything queued
//! behind it. Each worker gives a task [`INITIAL`] units when it polls it; every
//! resource operation spends one; once they are spent, the next operation returns
//! `Pending` after waking the task, which then goes to the back of its worker's queue.
//! Threads that are not workers (a `block_on` thread) have no budget.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Units a task gets per poll.
pub(crate) const INITIAL: u32 = 128;

thread_local! {
    static BUDGET: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Runs `f` (one task's poll) with a fresh budget.
pub(crate) fn budget<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u32>);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(BUDGET.with(|b| b.replace(Some(INITIAL))));
    f()
}

/// Spends one unit of the running task's budget, or, once it is spent, wakes the task
/// and returns `Pending` so that it yields. Resource futures call this first.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    BUDGET.with(|budget| match budget.get() {
        None => Poll::Ready(()),
        Some(0) => {
            super::worker::with_worker_counters(|c| c.budget_exhausted.bump_owned());
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(left) => {
            budget.set(Some(left - 1));
            Poll::Ready(())
        }
    })
}
