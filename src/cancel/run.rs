//! Running a future inside a cancel scope: [`CancelScope::run`](super::CancelScope::run)
//! and [`checkpoint`].

use std::future::Future;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::current;
use super::inside::{Armed, Inside, Panic, Step};
use super::node::{Catcher, ScopeNode};
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

/// A future that ended as cancelled work, polled again. The cancelled scope further
/// out that catches drops it in the poll that ended it, unless something between that
/// scope's wrapper and this future polls it again first (a `select` loop): while the
/// scope it is polled in is cancelled, it stays pending, for that wrapper to drop.
/// Polled where no cancel stands, its catcher has come and gone without dropping it
/// (it was awaited through `&mut` inside a timeout, and is awaited again after): it
/// ends, with `dropped()`, what it gives for work dropped by a cancel.
pub(crate) fn pending_for_the_catcher<T>(dropped: impl FnOnce() -> T) -> Poll<T> {
    if cancel_stands() {
        Poll::Pending
    } else {
        Poll::Ready(dropped())
    }
}

/// Whether the scope the running code is in is cancelled (by itself or from outside).
pub(crate) fn cancel_stands() -> bool {
    current::current_to_read().is_some_and(|scope| scope.cancelled_by().is_some())
}

/// A wrapper has dropped its cancelled work: decides, now that the cleanup is over,
/// which scope catches. A scope further out cancelled during the cleanup (a `Drop` may
/// cancel it) catches instead of `node`: then this returns false, and the wrapper
/// returns `Pending`, unprotected, for the wrapper of that scope to drop it in this
/// same poll. The catch never moves to a scope that was not cancelled: if the cancel
/// came from further out and a shield set during the cleanup now keeps it out of
/// `node`, `node` catches nothing either (false). Otherwise `node`, cancelled itself
/// and the outermost cancelled scope that reaches it, is marked as having caught.
pub fn caught_after_cleanup(node: &ScopeNode) -> bool {
    match node.cancelled_by() {
        Some(Catcher::This) => {
            node.mark_caught();
            true
        }
        // A cancel from further out, or none any more: a cancel that reached the work
        // was `node`'s own (it stays) or came from further out, and only a shield set
        // since cuts it off.
        Some(Catcher::Outer) | None => false,
    }
}

/// Work dropped for a cancel that `node` did not catch ([`caught_after_cleanup`] said
/// false): the wrapper returns `Pending`, for the catcher's wrapper to drop it in this
/// same poll. If a shield set during the cleanup now keeps the cancel out of `node`, it
/// may keep it from every wrapper of this task: the task is woken, and polled again
/// with no wrapper having dropped it, the future ends as cancelled work
/// ([`pending_for_the_catcher`]). Never a hang.
pub(crate) fn left_for_the_catcher<T>(node: &ScopeNode, cx: &Context<'_>) -> Poll<T> {
    if node.cancelled_by().is_none() {
        cx.waker().wake_by_ref();
    }
    Poll::Pending
}

/// A panic of cleanup (the `Drop` of work a cancel reached) that unwinds to the
/// wrapper of the scope that catches that cancel, further out: a wrapper on the way
/// recognises it ([`Inside`] turns it into cancelled work with that panic), so it is
/// kept as cleanup the cancel caused, whichever wrapper dropped the work.
pub(crate) struct CleanupPanic(pub(crate) Panic);

/// Whether `payload` is a [`CleanupPanic`] on its way to its catcher.
pub(crate) fn is_cleanup_panic(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<CleanupPanic>()
}

/// Unwinds with `panic`, the cleanup's panic of work that `node` dropped for a cancel
/// it did not catch: wrapped, to the catcher's wrapper, while the cancel stands; as it
/// is when a shield set during the cleanup keeps the cancel out (nobody catches).
pub(crate) fn unwind_to_the_catcher(node: &ScopeNode, panic: Panic) -> ! {
    if node.cancelled_by().is_some() {
        resume_unwind(Box::new(CleanupPanic(panic)))
    }
    resume_unwind(panic)
}

/// Whether the wrapper of `node`, polled outside the scope it was entered in, was left
/// behind by the scope that catches a cancel from further out that reached its work:
/// the scope it was entered in has exited, and its wrapper held this one by reference
/// (`move_on_after(d, &mut run)`) and let go of it without polling it (its work was
/// not a group, which it would have polled to drain). Any other way out of its scope
/// is a misuse.
fn left_by_its_catcher(node: &ScopeNode) -> bool {
    node.parent().is_some_and(ScopeNode::has_exited) && node.cancelled_by() == Some(Catcher::Outer)
}

pin_project_lite::pin_project! {
    /// The future of [`CancelScope::run`](super::CancelScope::run).
    #[must_use = "futures do nothing unless awaited"]
    pub struct ScopeRun<F> {
        #[pin]
        inside: Inside<F>,
        node: Arc<ScopeNode>,
        entered: bool,
        // Its work was dropped for a scope further out, whose wrapper did not drop
        // this (it was awaited through `&mut`).
        abandoned: bool,
        // Its own cancel dropped its work while the task's budget was spent: the next
        // poll returns `None`.
        caught: bool,
        armed: Armed,
    }

    impl<F> PinnedDrop for ScopeRun<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.entered {
                // Drop the work while the scope is still linked, then unlink.
                exit(this.inside, this.node, this.armed);
            }
        }
    }
}

impl<F> ScopeRun<F> {
    pub(crate) fn new(node: Arc<ScopeNode>, future: F) -> ScopeRun<F> {
        ScopeRun {
            inside: Inside::new(Some(future)),
            node,
            entered: false,
            abandoned: false,
            caught: false,
            armed: Armed::new(),
        }
    }

    #[inline]
    pub(crate) fn node(&self) -> &ScopeNode {
        &self.node
    }

    /// Its work was dropped for a scope further out (see [`pending_for_the_catcher`]).
    pub(crate) fn abandoned(&self) -> bool {
        self.abandoned
    }
}

/// The scope is done: drops the work (a panic from its `Drop` goes on unwinding),
/// drops the deadline's timer, and unlinks the scope. A deadline that passes after
/// that cancels nothing, also while the wrapper is kept after it completed.
fn exit<F>(inside: Pin<&mut Inside<F>>, node: &Arc<ScopeNode>, armed: &mut Armed) {
    let panic = inside.drop_work();
    armed.clear();
    // Only a `CancelScope` handle elsewhere could still set a deadline, and only a
    // scope entered below this one and not yet exited (holding it as its parent) reads
    // the mark, to tell that its catcher has gone (`left_by_its_catcher`): a private
    // scope (a timeout's) that neither holds is spared the atomic update.
    if Arc::strong_count(node) > 1 {
        node.mark_exited();
    }
    ScopeNode::unlink(node);
    if let Some(panic) = panic {
        resume_unwind(panic);
    }
}

impl<F: Future> Future for ScopeRun<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if !this.inside.is_running() {
            if std::mem::take(this.caught) {
                return Poll::Ready(None);
            }
            assert!(
                *this.abandoned,
                "pride: `CancelScope::run` polled after it completed"
            );
            return pending_for_the_catcher(|| None);
        }
        if !*this.entered {
            *this.entered = true;
            ScopeNode::enter_unlinked(this.node, current::current());
        } else if !this.node.is_child_of(current::current_ptr()) {
            if left_by_its_catcher(this.node) {
                // Its catcher came and went without dropping or polling it: the work
                // is cancelled work, dropped now (abandoned first: a panic of the
                // cleanup unwinds out of `exit`).
                *this.abandoned = true;
                exit(this.inside, this.node, this.armed);
                return pending_for_the_catcher(|| None);
            }
            assert_polled_in_place(this.node, "`CancelScope::run`");
        }
        let node: &Arc<ScopeNode> = this.node;
        let armed = this.armed;
        match this
            .inside
            .as_mut()
            .poll(node, cx, |cx| armed.arm(node, cx))
        {
            Step::Ready(output) => {
                exit(this.inside, node, armed);
                Poll::Ready(Some(output))
            }
            Step::Pending => {
                current::report_suspended(node, this.inside.is_protected());
                Poll::Pending
            }
            Step::Cancelled(panic) => {
                exit(this.inside, node, armed);
                if caught_after_cleanup(node) {
                    // This scope catches, and the code around it goes on: a panic of
                    // the cleanup is that code's.
                    if let Some(panic) = panic {
                        resume_unwind(panic);
                    }
                    // Work its cancel ended is an operation that completed, which
                    // spends the task's budget like any other: a loop over scopes
                    // whose deadline has passed still lets the worker run others.
                    if crate::runtime::coop::poll_proceed(cx, |_| Poll::Ready(())).is_pending() {
                        *this.caught = true;
                        return Poll::Pending;
                    }
                    return Poll::Ready(None);
                }
                // A scope further out catches: the cleanup's panic unwinds to its
                // wrapper as a panic of cleanup that its cancel caused.
                if let Some(panic) = panic {
                    unwind_to_the_catcher(node, panic);
                }
                *this.abandoned = true;
                left_for_the_catcher(node, cx)
            }
            Step::Panicked(panic) => resume_unwind(panic),
        }
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
