//! The cooperative budget: how many operations a task may complete in one poll before
//! it has to let other tasks run.
//!
//! A task that only ever finds its channels, queues, locks and sockets ready would
//! otherwise never return `Pending`, and would keep its worker from everything queued
//! behind it. Each worker gives a task [`INITIAL`] units when it polls it; every
//! resource operation that completes spends one; once they are spent, the next
//! operation returns `Pending` after waking the task, which then goes to the back of
//! its worker's queue. Threads that are not workers (a `block_on` thread) have no
//! budget.
//!
//! Only progress spends: an operation that returns `Pending` spends nothing. A task
//! waiting on many idle operations at once (a `join` over hundreds of reads) would
//! otherwise spend its units on operations that found nothing, be refused on the rest,
//! be woken by each refusal, and be polled again and again while nothing is ready.
//!
//! A refusal only helps if whoever polls passes the `Pending` up to the worker. A
//! future polled synchronously inside the task's poll (a foreign executor's
//! `block_on` called from the task) is polled again at once instead, and would be
//! refused for ever: the budget is renewed only when the task's poll returns. So a
//! poll gets at most [`REFUSALS`] refusals. Passing `Pending` up takes a few (one per
//! branch of a `select` or a `join`); a poll that goes on polling resources after
//! `REFUSALS` of them is not yielding to its worker, and its operations then proceed
//! until it returns.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Units a task gets per poll.
pub(crate) const INITIAL: u32 = 128;

/// Refusals a poll gets once its units are spent; after them, operations proceed.
pub(crate) const REFUSALS: u32 = 128;

thread_local! {
    /// Operations, then refusals, left to the running task's poll: above `REFUSALS`,
    /// an operation that completes spends a unit; from `REFUSALS` down to 1 an
    /// operation is refused; at 0 it proceeds. `None` on threads that are not running a task.
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
    let _restore = Restore(BUDGET.with(|b| b.replace(Some(INITIAL + REFUSALS))));
    f()
}

/// Polls `op`, one poll of a resource operation, under the running task's budget.
/// An `op` that completes spends a unit; one that returns `Pending` spends none. Once
/// the units are spent, `op` is not polled: the task is woken and `Pending` returned so
/// that it yields (at most [`REFUSALS`] times per poll). Every resource future polls
/// its operation through this.
#[inline]
pub(crate) fn poll_proceed<T>(
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let counted = BUDGET.with(|budget| match budget.get() {
        Some(left) if left > REFUSALS => Some(true),
        None | Some(0) => Some(false),
        Some(left) => {
            budget.set(Some(left - 1));
            None
        }
    });
    let Some(counted) = counted else {
        super::worker::with_worker_counters(|c| c.budget_exhausted.bump_owned());
        cx.waker().wake_by_ref();
        return Poll::Pending;
    };
    let poll = op(cx);
    if counted && poll.is_ready() {
        BUDGET.with(|budget| {
            // An operation polled inside `op` may have spent the last unit already.
            if let Some(left) = budget.get().filter(|left| *left > REFUSALS) {
                budget.set(Some(left - 1));
            }
        });
    }
    poll
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;

    fn poll() -> Poll<()> {
        poll_op(Poll::Ready(()))
    }

    fn poll_op(result: Poll<()>) -> Poll<()> {
        poll_proceed(&mut Context::from_waker(std::task::Waker::noop()), |_| {
            result
        })
    }

    #[test]
    fn a_poll_spends_its_units_then_is_refused_then_proceeds() {
        assert!(poll().is_ready(), "no budget outside a task");
        budget(|| {
            for _ in 0..INITIAL {
                assert!(poll().is_ready());
            }
            for _ in 0..REFUSALS {
                assert!(poll().is_pending());
            }
            assert!(poll().is_ready());
            assert!(poll().is_ready());
            budget(|| assert!(poll().is_ready(), "a nested budget is fresh"));
            assert!(poll().is_ready());
        });
        assert!(poll().is_ready());
    }

    #[test]
    fn an_operation_that_returns_pending_spends_nothing() {
        budget(|| {
            for _ in 0..INITIAL * 4 {
                assert!(poll_op(Poll::Pending).is_pending());
            }
            for _ in 0..INITIAL {
                assert!(poll().is_ready());
            }
            assert!(
                poll().is_pending(),
                "the units were spent by the completions"
            );
        });
    }

    #[test]
    fn a_refused_operation_is_not_polled() {
        budget(|| {
            for _ in 0..INITIAL {
                assert!(poll().is_ready());
            }
            let mut polled = false;
            let refused = poll_proceed(&mut Context::from_waker(std::task::Waker::noop()), |_| {
                polled = true;
                Poll::Ready(())
            });
            assert!(refused.is_pending() && !polled);
        });
    }
}
