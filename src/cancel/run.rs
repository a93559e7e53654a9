//! Running a future inside a cancel scope: [`CancelScope::run`](super::CancelScope::run)
//! and [`checkpoint`].

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::current;
use super::deadline::DeadlineTimer;
use super::node::{Enclosing, OwnedNode, ScopeNode};
use crate::loom::sync::Arc;

/// Checks that a scope wrapper is polled inside the scope it was entered in.
#[track_caller]
#[inline]
pub(crate) fn assert_polled_in_place(node: &ScopeNode, what: &str) {
    assert!(
        node.is_child_of(current::current_ptr()),
        "pride: {what} was polled outside the scope it was first polled in; \
         a scope's future must be driven to completion where it was entered"
    );
}

/// What a scope wrapper must do on this poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Not cancelled: poll the inner work.
    Run,
    /// This scope is the outermost cancelled one: drop the inner work.
    Catch,
    /// A scope further out, in this task, catches: it will drop us when re-polled
    /// (the cancel woke this task).
    Outer,
}

/// Decides, with atomic loads only, whether `node`'s wrapper runs, catches, or waits
/// for an outer wrapper to drop it.
#[inline]
fn verdict(node: &ScopeNode) -> Verdict {
    match node.cancelled_by() {
        None => Verdict::Run,
        Some(catcher) if std::ptr::eq(catcher, node) => Verdict::Catch,
        Some(_) => Verdict::Outer,
    }
}

/// `node`'s wrapper has dropped its cancelled work: decides, now that the cleanup is
/// over, which scope catches. A scope further out cancelled during the cleanup (a
/// `Drop` may cancel it) catches instead of `node`: then this returns false, and the
/// wrapper returns `Pending`, unprotected, for the wrapper of that scope to drop it in
/// this same poll. Otherwise `node` is marked as having caught.
pub fn caught_after_cleanup(node: &ScopeNode) -> bool {
    match node.cancelled_by() {
        Some(catcher) if !std::ptr::eq(catcher, node) => false,
        _ => {
            node.mark_caught();
            true
        }
    }
}

/// The future of [`CancelScope::run`](super::CancelScope::run).
#[must_use = "futures do nothing unless awaited"]
pub struct ScopeRun<F> {
    /// Structurally pinned: never moved, dropped in place by assigning `None`.
    future: Option<F>,
    /// Offered back for reuse when this is dropped (after `drop` below has cleared the
    /// timer's reference to it).
    node: OwnedNode,
    entered: bool,
    /// The work has been polled at least once.
    polled: bool,
    /// At its last suspension, the work was inside a shield within this scope.
    protected: bool,
    waker: Option<Waker>,
    /// The scope's deadline timer.
    deadline: DeadlineTimer,
}

impl<F> ScopeRun<F> {
    pub(crate) fn new(node: Arc<ScopeNode>, future: F) -> ScopeRun<F> {
        ScopeRun {
            future: Some(future),
            node: OwnedNode::new(node),
            entered: false,
            polled: false,
            protected: false,
            waker: None,
            deadline: DeadlineTimer::new(),
        }
    }

    #[inline]
    pub(crate) fn node(&self) -> &ScopeNode {
        &self.node
    }

    fn exit(&mut self) {
        self.future = None;
        // Only a `CancelScope` handle elsewhere could still set a deadline: a private
        // scope (a timeout's) is spared the atomic update.
        if Arc::strong_count(&self.node) > 1 {
            self.node.mark_exited();
        }
        drop(ScopeNode::unlink(&self.node));
    }

    /// This scope is the outermost cancelled one: drops the work, and returns `None`,
    /// unless a scope further out was cancelled during the cleanup and catches instead.
    fn catch<T>(&mut self) -> Poll<Option<T>> {
        self.exit();
        if caught_after_cleanup(&self.node) {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

impl<F> ScopeRun<F> {
    /// The work suspended: make the scope reachable from outside (linked into its
    /// parent, with this task's waker) and arm its deadline. Done before the
    /// post-suspension cancel check, so a cancel either is seen by that check or
    /// reaches the linked node and wakes us.
    fn arm(&mut self, cx: &Context<'_>) {
        ScopeNode::link_into_parent(&self.node);
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.node.set_waker(cx.waker());
            self.waker = Some(cx.waker().clone());
        }
        self.deadline.poll(&self.node);
    }
}

impl<F: Future> Future for ScopeRun<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` and `deadline` are never moved out of `self` (dropped in
        // place); the other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // First: a completed scope may have dropped its parent link.
        assert!(
            this.future.is_some(),
            "pride: `CancelScope::run` polled after it completed"
        );
        // On the first poll the node borrows its parent until this poll ends (see
        // `ParentLoan`): the loan ends with the link dropped if the work completes
        // and nothing else holds the node, else with the link owned.
        let mut loan = None;
        if !this.entered {
            this.entered = true;
            loan = Some(ScopeNode::enter_private(
                &mut this.node,
                Enclosing::current(),
            ));
        } else {
            assert_polled_in_place(&this.node, "`CancelScope::run`");
        }
        // The work runs until its first suspension point even in a cancelled scope
        //; after that, a cancelled scope drops it where it is
        // suspended: before resuming it, and right after it suspends.
        if this.polled && !this.protected {
            match verdict(&this.node) {
                Verdict::Run => {}
                Verdict::Catch => return this.catch(),
                Verdict::Outer => return Poll::Pending,
            }
        }
        this.polled = true;
        let Some(future) = this.future.as_mut() else {
            unreachable!()
        };
        // SAFETY: structurally pinned, see the field's docs.
        let future = unsafe { Pin::new_unchecked(future) };
        let (polled, protected) = current::enter(&this.node, || {
            catch_unwind(AssertUnwindSafe(|| future.poll(cx)))
        });
        let polled = match polled {
            Ok(polled) => polled,
            // A `par` call that a cancelled scope stopped unwinds out of the work: it is
            // cancelled work, caught here if this scope (or one around it) is cancelled.
            Err(payload)
                if crate::par::is_cancel_unwind(&*payload)
                    && verdict(&this.node) != Verdict::Run =>
            {
                return this.catch();
            }
            Err(payload) => resume_unwind(payload),
        };
        if let Poll::Ready(output) = polled {
            this.exit();
            if let Some(loan) = loan {
                loan.settle(&mut this.node);
            }
            return Poll::Ready(Some(output));
        }
        this.protected = protected;
        this.arm(cx);
        if !protected && verdict(&this.node) == Verdict::Catch {
            return this.catch();
        }
        current::report_suspended(&this.node, protected);
        Poll::Pending
    }
}

impl<F> Drop for ScopeRun<F> {
    fn drop(&mut self) {
        if self.entered {
            // Drop the inner work while the scope is still linked, then unlink.
            self.exit();
        }
        self.deadline.clear();
    }
}

/// A yield point that is also a cancellation point: if a scope around the caller was
/// cancelled, the caller is dropped here instead of resuming.
///
/// ```
/// pride::run(async {
///     for _ in 0..3 {
///         pride::checkpoint().await;
///     }
/// });
/// ```
pub fn checkpoint() -> crate::runtime::YieldNow {
    crate::runtime::yield_now()
}
