//! The wrapper every child task runs: it watches the child's scope, catches the child's
//! panic, reports its error to the group, and tells the group when its future is gone.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

use super::error::{Kind, Payload, TaskError, TaskOutput, panic_message};
use super::shared::GroupShared;
use super::start::{self, StartLink};
use crate::cancel::node::{OwnedNode, ScopeNode};
use crate::cancel::{caught_after_cleanup, current};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::Ordering;

/// A child task's future.
///
/// Pinning: `future` is structurally pinned (it lives in the task cell and is only ever
/// dropped in place, by assigning `None`); every other field is plain data.
pub(crate) struct Child<F> {
    future: Option<F>,
    /// Offered back for reuse when the child is dropped.
    node: OwnedNode,
    group: Arc<GroupShared>,
    name: Option<StdArc<str>>,
    /// A handle will read the outcome: give it a summary of a reported error.
    summarize: bool,
    /// Polled at least once (and its waker registered with its node).
    polled: bool,
    /// At its last suspension, the child was inside a shield within the task.
    protected: bool,
    /// The group has counted this child out.
    done: bool,
    /// Set while a `start()` waits for this child to call `started`.
    start: Option<StdArc<dyn StartLink>>,
    /// Feature `tracing`: the task's span (empty without the feature).
    span: crate::debug::trace::TaskSpan,
}

impl<F> Child<F> {
    pub(crate) fn new(
        future: F,
        node: Arc<ScopeNode>,
        group: Arc<GroupShared>,
        name: Option<StdArc<str>>,
        summarize: bool,
    ) -> Child<F> {
        crate::debug::tree::label_task(&node, name.as_ref());
        group.handle.count_task_created();
        let span = crate::debug::trace::TaskSpan::new(name.as_deref(), &group.span);
        Child {
            future: Some(future),
            node: OwnedNode::new(node),
            group,
            name,
            summarize,
            polled: false,
            protected: false,
            done: false,
            start: None,
            span,
        }
    }

    /// Makes this the child of a `start()` call.
    pub(crate) fn with_start(mut self, link: StdArc<dyn StartLink>) -> Child<F> {
        self.start = Some(link);
        self
    }

    /// Sends an error to the starter if the child has not started yet, else to the
    /// group (which cancels the rest).
    fn fail(&self, kind: Kind) {
        let error = TaskError::new(self.name.clone(), kind);
        crate::debug::trace::failed(&error);
        let error = match &self.start {
            Some(link) => match link.try_fail(error) {
                Ok(()) => return,
                Err(error) => error,
            },
            None => error,
        };
        self.group.report(error);
    }

    /// Drops the future (a panic from its `Drop` is reported like any panic of the
    /// child), unlinks the child from the group, then counts it out: once the count
    /// says so, the future is gone. A starting child whose error waits for its caller
    /// is counted out by the caller instead, once the error is taken.
    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.drop_future();
        self.group.handle.count_task_finished();
        self.node.detach();
        self.group.release_slot(self.polled);
        match self.start.take() {
            // Held first: the caller may take the error, and count the child out, as
            // soon as `finished` has left the count to it.
            Some(link) => {
                self.group.hold_count();
                if !link.finished() {
                    self.group.release_held();
                }
            }
            None => self.group.count_out(),
        }
    }

    /// If any scope above the child is cancelled, drops the child (it is suspended)
    /// and counts it out. A child's own scope (cancelled by its handle) catches here;
    /// a scope further out is the group's or one around it, which decides whether it
    /// caught once the group has drained.
    fn catch_cancel(&mut self) -> bool {
        if self.node.cancelled_by().is_none() {
            return false;
        }
        // The cleanup first: the scope that catches is decided after it.
        self.drop_future();
        if !caught_after_cleanup(&self.node) {
            self.group.cut_short.store(true, Ordering::Release);
        }
        self.finish();
        true
    }

    /// Drops the future in place. A panic in its `Drop` (cleanup, often running
    /// because the child was cancelled) is kept: it fails the child like any panic.
    fn drop_future(&mut self) {
        let slot = &mut self.future;
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| *slot = None)) {
            self.fail(Kind::Panic(Payload::new(payload)));
        }
    }

    fn cancelled(&self) -> TaskError {
        TaskError::new(self.name.clone(), Kind::Cancelled)
    }

    fn summary(&self, panic: bool, message: impl FnOnce() -> String) -> TaskError {
        let message = if self.summarize {
            message()
        } else {
            String::new()
        };
        TaskError::new(self.name.clone(), Kind::Reported { panic, message })
    }
}

impl<F> Future for Child<F>
where
    F: Future,
    F::Output: TaskOutput,
{
    type Output = Result<<F::Output as TaskOutput>::Ok, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: we never move `future` out of `self`; it is dropped in place.
        let this = unsafe { self.get_unchecked_mut() };
        let _span = this.span.enter();
        // A child runs until its first suspension point even if its scope is already
        // cancelled; after that, a cancelled scope drops it where it
        // is suspended: before resuming it, and right after it suspends.
        // While a `start()` waits, a status the poll drops defers to us, and a cancel of
        // the caller's scopes cancels us (see start.rs).
        let link = this.start.clone();
        if let Some(link) = &link {
            link.before_poll(cx.waker());
        }
        if !this.polled {
            // A task's waker never changes, so registering once is enough.
            this.node.set_waker(cx.waker());
            this.polled = true;
        } else if !this.protected && this.catch_cancel() {
            return Poll::Ready(Err(this.cancelled()));
        }
        let Some(future) = this.future.as_mut() else {
            unreachable!("pride: a finished child was polled again");
        };
        // SAFETY: `future` is structurally pinned (see the type's docs).
        let future = unsafe { Pin::new_unchecked(future) };
        let _named = crate::debug::watchdog::polling_named(this.name.as_ref());
        let (polled, protected) = within(link.as_deref(), || {
            current::enter(&this.node, || {
                catch_unwind(AssertUnwindSafe(|| future.poll(cx)))
            })
        });
        this.protected = protected;
        let outcome = match polled {
            Ok(Poll::Pending) if !protected && this.catch_cancel() => Err(this.cancelled()),
            Ok(Poll::Pending) => {
                if let Some(link) = &link {
                    link.after_poll();
                }
                return Poll::Pending;
            }
            Ok(Poll::Ready(output)) => {
                within(link.as_deref(), || this.drop_future());
                match output.into_result() {
                    Ok(value) => Ok(value),
                    Err(error) => {
                        let summary = this.summary(false, || error.to_string());
                        this.fail(Kind::Error(error));
                        Err(summary)
                    }
                }
            }
            // A `par` call stopped by a cancelled scope around the child: cancelled work.
            Err(payload) if crate::par::is_cancel_unwind(&*payload) && this.catch_cancel() => {
                return Poll::Ready(Err(this.cancelled()));
            }
            Err(payload) => {
                let summary = this.summary(true, || {
                    panic_message(payload.as_ref()).unwrap_or("").to_owned()
                });
                this.fail(Kind::Panic(Payload::new(payload)));
                Err(summary)
            }
        };
        this.finish();
        Poll::Ready(outcome)
    }
}

/// Runs `f` marked as part of the poll of `link`'s child, if there is a start.
fn within<R>(link: Option<&dyn StartLink>, f: impl FnOnce() -> R) -> R {
    match link {
        Some(link) => start::polling(link, f),
        None => f(),
    }
}

impl<F> Drop for Child<F> {
    fn drop(&mut self) {
        self.finish();
    }
}
