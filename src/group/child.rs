//! The wrapper every child task runs: it watches the child's scope, catches the child's
//! panic, reports its error to the group, and tells the group when its future is gone.
//!
//! A child that can be cancelled alone (through its [`TaskHandle`](super::TaskHandle),
//! or by its `start` caller) has a scope of its own from the start. Any other child
//! runs in the group's scope, which is all that can cancel it, until its work enters a
//! scope, opens a group or calls `start`: then its own scope is made, for those to
//! nest in (see `cancel::current::Deferred`), and linked below the group's once the
//! poll that made it suspends.

use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

use super::error::{Kind, Payload, Reported, TaskError, TaskOutput};
use super::shared::GroupShared;
use super::start::{self, StartLink};
use crate::cancel::caught_after_cleanup;
use crate::cancel::current::{self, Deferred};
use crate::cancel::inside::{Inside, Step};
use crate::cancel::node::ScopeNode;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::Ordering;

pin_project_lite::pin_project! {
    /// A child task's future.
    pub(crate) struct Child<F> {
        #[pin]
        inside: Inside<F>,
        state: State,
    }

    impl<F> PinnedDrop for Child<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // A child that finished in its last poll has nothing left to do here.
            if !this.state.done {
                this.state.dropped_unfinished();
                this.state.finish(this.inside);
            }
        }
    }
}

/// Everything of a child but its work.
struct State {
    /// The child's own scope, once it has one.
    node: OnceCell<Arc<ScopeNode>>,
    group: Arc<GroupShared>,
    name: Option<StdArc<str>>,
    /// A handle will read the outcome: give it a summary of a reported error.
    summarize: bool,
    /// The group has counted this child out.
    done: bool,
    /// An isolated child: its failures go to its handler, never to the group.
    isolated: bool,
    /// Set while a `start()` waits for this child to call `started`.
    start: Option<StdArc<dyn StartLink>>,
    /// A failure of this child went to its `start()` caller: it failed once, before
    /// it started, and a later failure (a panic of its cleanup) is not reported again.
    failed_start: Cell<bool>,
    /// Feature `tracing`: the task's span (empty without the feature).
    span: crate::debug::trace::TaskSpan,
}

impl<F> Child<F> {
    pub(crate) fn new(
        future: F,
        node: Option<Arc<ScopeNode>>,
        group: Arc<GroupShared>,
        name: Option<StdArc<str>>,
        summarize: bool,
    ) -> Child<F> {
        group.handle.count_task_created();
        let span = crate::debug::trace::TaskSpan::new(name.as_deref(), &group.span);
        Child {
            inside: Inside::new(Some(future)),
            state: State {
                node: node.map(OnceCell::from).unwrap_or_default(),
                group,
                name,
                summarize,
                done: false,
                isolated: false,
                start: None,
                failed_start: Cell::new(false),
                span,
            },
        }
    }

    /// Makes this an isolated child (see `isolated.rs`).
    pub(crate) fn isolated(mut self) -> Child<F> {
        self.state.isolated = true;
        self
    }

    /// Makes this the child of a `start()` call.
    pub(crate) fn with_start(mut self, link: StdArc<dyn StartLink>) -> Child<F> {
        self.state.start = Some(link);
        self
    }
}

impl State {
    /// Sends an error to the starter if the child has not started yet, else to the
    /// group (which cancels the rest).
    fn fail(&self, kind: Kind) {
        self.fail_with(kind, false);
    }

    /// [`fail`](Self::fail) for a panic of the work's cleanup (its `Drop`).
    fn fail_cleanup(&self, kind: Kind) {
        self.fail_with(kind, true);
    }

    fn fail_with(&self, kind: Kind, cleanup: bool) {
        let error = TaskError::new(self.name.clone(), kind);
        crate::debug::trace::failed(&error);
        self.deliver(error, cleanup);
    }

    /// Hands `error` to the starter if the child has not started yet, else to the
    /// group.
    fn deliver(&self, error: TaskError, cleanup: bool) {
        let error = match &self.start {
            Some(link) => match link.try_fail(error) {
                Ok(()) => {
                    self.failed_start.set(true);
                    return;
                }
                // The child failed before it started, and its caller has that first
                // failure: a child fails once. (The panic hook has shown this one.)
                Err(_) if self.failed_start.get() => return,
                Err(error) => error,
            },
            None => error,
        };
        self.group.report(error, cleanup);
    }

    /// The task is dropped before its work ended: by its group's teardown (the group
    /// is closed then, and reports nothing), by its handle's cancel while it waited for
    /// a slot (it is cancelled work), or by the runtime's drop. A group that still
    /// waits then (awaited outside the runtime's tasks, in a `to_thread` closure say)
    /// must not take the child's going for success. An isolated child's failures
    /// never reach its group, this one neither; nor is it traced as a task's failure:
    /// at the runtime's drop most such groups are never awaited again.
    #[cold]
    fn dropped_unfinished(&self) {
        if self.group.handle.is_shut_down() && !self.isolated && !self.group.children.is_closed() {
            let error = TaskError::new(self.name.clone(), Kind::Error(Box::new(RuntimeDropped)));
            self.deliver(error, false);
        }
    }

    /// Drops the work in place. A panic in its `Drop` (cleanup, often running because
    /// the child was cancelled) is kept: it fails the child like any panic. The work is
    /// dropped inside the child's scope, as it runs: a group whose future it holds
    /// then sees, as it is torn down, that this child is the one dropping it. Work
    /// already dropped (a finished child's, dropped in its last poll) needs no scope
    /// entered again.
    fn drop_work<F>(&self, inside: Pin<&mut Inside<F>>) {
        if !inside.is_running() {
            return;
        }
        let (panic, _) = match self.node.get() {
            Some(node) => current::enter(node, || inside.drop_work()),
            None => {
                let deferred = Deferred {
                    node: &self.node,
                    parent: self.group.node(),
                    name: &self.name,
                };
                current::enter_deferred(&deferred, || inside.drop_work())
            }
        };
        if let Some(panic) = panic {
            self.fail_cleanup(Kind::Panic(Payload::new(panic)));
        }
    }

    /// Drops the work, marks the child's node exited if it has one (the group's node
    /// drops its link later, as it drops the task's, without a lock taken here), then
    /// counts it out: once the count says so, the work is gone. A starting child whose
    /// error waits for its caller is counted out by the caller instead, once the error
    /// is taken.
    fn finish<F>(&mut self, inside: Pin<&mut Inside<F>>) {
        if self.done {
            return;
        }
        self.done = true;
        let polled = inside.is_polled();
        self.drop_work(inside);
        self.group.handle.count_task_finished();
        if let Some(node) = self.node.get() {
            node.mark_exited();
        }
        self.group.release_slot(polled);
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

    /// Whether a cancel reaches the work (its own scope's, or one of the group's scope
    /// or further out, not cut off by a shield) and `error` only relays a cancel or a
    /// failure a group around it has (see [`TaskError::only_relays`]).
    fn only_relays_a_cancel(&self, error: &crate::BoxError) -> bool {
        let node = self.node.get().unwrap_or(self.group.node());
        node.cancelled_by().is_some() && TaskError::only_relays(error, node)
    }

    /// The work ended as cancelled work: its own scope caught the cancel (it was
    /// cancelled by its handle), or the group's scope, or one further out, will once
    /// the group has drained. What its handle gets.
    fn cancelled(&self) -> TaskError {
        if !self
            .node
            .get()
            .is_some_and(|node| caught_after_cleanup(node))
        {
            self.group.cut_short.store(true, Ordering::Release);
        }
        TaskError::new(self.name.clone(), Kind::Cancelled)
    }

    /// What the handle gets of a failure that goes to the group: the text of the
    /// error `kind`, or the message of the panic, copied only if a handle reads it.
    fn summary(&self, kind: &Kind) -> TaskError {
        let copy = match kind {
            Kind::Error(error) if self.summarize => {
                Kind::ReportedError(Reported(error.to_string()))
            }
            Kind::Error(_) => Kind::ReportedError(Reported(String::new())),
            Kind::Panic(payload) if self.summarize => {
                Kind::ReportedPanic(payload.message().map(str::to_owned))
            }
            _ => Kind::ReportedPanic(None),
        };
        TaskError::new(self.name.clone(), copy).reported_to(self.group.node().clone())
    }
}

impl<F> Future for Child<F>
where
    F: Future,
    F::Output: TaskOutput,
{
    type Output = Result<<F::Output as TaskOutput>::Ok, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (mut inside, state) = (this.inside, this.state);
        assert!(!state.done, "pride: a finished child was polled again");
        let _span = state.span.enter();
        // While a `start()` waits, a status the poll drops defers to us, and a cancel of
        // the caller's scopes cancels us (see start.rs).
        let link = state.start.clone();
        if let Some(link) = &link {
            link.before_poll(cx.waker());
        }
        let _named = crate::debug::watchdog::polling_named(state.name.as_ref());
        let deferred = state.node.get().is_none();
        let step = within(link.as_deref(), || match state.node.get() {
            Some(node) => inside.as_mut().poll(node, cx, |_| ()),
            None => inside.as_mut().poll_deferred(
                &Deferred {
                    node: &state.node,
                    parent: state.group.node(),
                    name: &state.name,
                },
                cx,
            ),
        });
        let outcome = match step {
            Step::Pending => {
                // The work made its scope in this poll, and what it entered there is
                // linked below it: link it below the group's (a cancel that came
                // before is looked for, and wakes what runs below).
                if let (true, Some(node)) = (deferred, state.node.get()) {
                    node.put_waker(cx.waker().clone());
                    ScopeNode::link_into_parent(node);
                }
                if let Some(link) = &link {
                    link.after_poll();
                }
                return Poll::Pending;
            }
            // A child's own scope (cancelled by its handle) catches here; a scope
            // further out is the group's or one around it, which decides whether it
            // caught once the group has drained.
            Step::Cancelled(panic) => {
                if let Some(panic) = panic {
                    state.fail_cleanup(Kind::Panic(Payload::new(panic)));
                }
                Err(state.cancelled())
            }
            Step::Ready(output) => {
                // The outcome first, then the cleanup: an error the work returned is
                // its failure, before a panic of its `Drop`.
                let outcome = match output.into_result() {
                    Ok(value) => Ok(value),
                    // It only relays a cancel, or a failure a group around it already
                    // has, and a cancel reaches it: it would have been dropped at its
                    // next suspension point, and is cancelled work, not a failure.
                    Err(error) if state.only_relays_a_cancel(&error) => Err(state.cancelled()),
                    Err(error) => {
                        let kind = Kind::Error(error);
                        let summary = state.summary(&kind);
                        state.fail(kind);
                        Err(summary)
                    }
                };
                within(link.as_deref(), || state.drop_work(inside.as_mut()));
                outcome
            }
            Step::Panicked(payload) => {
                let kind = Kind::Panic(Payload::new(payload));
                let summary = state.summary(&kind);
                state.fail(kind);
                Err(summary)
            }
        };
        state.finish(inside);
        Poll::Ready(outcome)
    }
}

/// The error of a child whose task the runtime's drop dropped before its work ended.
#[derive(Debug)]
struct RuntimeDropped;

impl std::fmt::Display for RuntimeDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the runtime was dropped before this task finished")
    }
}

impl std::error::Error for RuntimeDropped {}

/// Runs `f` marked as part of the poll of `link`'s child, if there is a start.
fn within<R>(link: Option<&dyn StartLink>, f: impl FnOnce() -> R) -> R {
    match link {
        Some(link) => start::polling(link, f),
        None => f(),
    }
}
