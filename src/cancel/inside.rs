//! The steps every scope wrapper takes on each poll of the work inside its scope
//! (`CancelScope::run` and the timeouts, a task group's body, a group's child):
//!
//! - The work runs until its first suspension point even in a cancelled scope; after
//!   that, a cancel that reaches the scope (its own, or one further out not cut off by
//!   a shield) drops the work where it is suspended: before resuming it, and right
//!   after it suspends, unless it is inside a shield within the scope, or waits in a
//!   task group within it (which drains its children itself). Both are looked up
//!   then, live, in the tree ([`ScopeNode::shields_work_inside`]), so a shield set or
//!   dropped while the work is suspended counts at once. A group counts only if the
//!   work suspended in it (the group's future reports so as it returns `Pending`, see
//!   `current::report_suspended`): a group future kept but not awaited protects nothing.
//! - The work is polled with the scope current, and a panic is caught.
//! - When the work suspends, the wrapper arms its scope (links it into its parent,
//!   registers the waker, arms the deadline) *before* the check, so that a cancel is
//!   either seen by the check or wakes the task. (A group child's scope made during
//!   the poll is linked after the check: the child's task is linked below the group
//!   already, and the late link looks for a cancel that came before it, for what runs
//!   below.)
//!
//! Which scope catches a cancel is decided by the wrapper after the work is dropped
//! ([`caught_after_cleanup`](super::caught_after_cleanup)).

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::current::{self, Deferred};
use super::deadline::DeadlineTimer;
use super::node::ScopeNode;
use crate::loom::sync::Arc;

/// A caught panic.
pub(crate) type Panic = Box<dyn Any + Send>;

pin_project_lite::pin_project! {
    /// The work inside a scope, with what its wrapper remembers between polls.
    pub(crate) struct Inside<F> {
        // Dropped in place, by setting `None`.
        #[pin]
        future: Option<F>,
        progress: Progress,
    }
}

/// How far the work has got. Word-sized: a wrapper is built and then moved into its
/// caller's state, and a narrow field among words makes that move load across fresh
/// narrow stores, which the CPU cannot forward.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Progress {
    /// Not polled yet.
    Fresh,
    /// Polled; at its last suspension, no group or shield within the scope reported.
    Exposed,
    /// At its last suspension, a group or a shield within the scope reported.
    Protected,
}

/// What a poll of the work gave.
pub(crate) enum Step<T> {
    /// The work returned; it is still there, for the wrapper to drop.
    Ready(T),
    /// The work suspended.
    Pending,
    /// A cancel reached the scope and the work was dropped; a panic in its `Drop`.
    Cancelled(Option<Panic>),
    /// The work panicked; it is still there, for the wrapper to drop.
    Panicked(Panic),
}

impl<F> Inside<F> {
    pub(crate) const fn new(future: Option<F>) -> Inside<F> {
        Inside {
            future,
            progress: Progress::Fresh,
        }
    }

    /// The work has not been dropped.
    #[inline]
    pub(crate) fn is_running(&self) -> bool {
        self.future.is_some()
    }

    #[inline]
    pub(crate) fn is_polled(&self) -> bool {
        self.progress != Progress::Fresh
    }

    /// At its last suspension, a group or a shield within the scope reported.
    #[inline]
    pub(crate) fn is_protected(&self) -> bool {
        self.progress == Progress::Protected
    }

    /// Drops the work in place (if it is still there); returns a panic from its `Drop`.
    ///
    /// A `par` call in that `Drop` (cleanup) that a cancel stopped is no panic: it
    /// started nothing and unwound with `par::Cancelled`, which ends the cleanup as
    /// cancelled work. It was the cancel that stopped it when the scope the drop runs
    /// in, which the call reads, is cancelled.
    #[inline]
    pub(crate) fn drop_work(self: Pin<&mut Self>) -> Option<Panic> {
        let mut future = self.project().future;
        if future.is_none() {
            return None;
        }
        match catch_unwind(AssertUnwindSafe(|| future.set(None))) {
            Ok(()) => None,
            Err(stopped)
                if crate::par::is_cancel_unwind(&*stopped) && super::run::cancel_stands() =>
            {
                None
            }
            Err(panic) => Some(panic),
        }
    }
}

impl<F: Future> Inside<F> {
    /// The work was reached by a cancel: it is dropped with the scope current (its
    /// `Drop` is cleanup code inside the scope), a panic of that cleanup kept.
    fn cancelled(self: Pin<&mut Self>, within: Within<'_>) -> Step<F::Output> {
        Step::Cancelled(within.enter(|| self.drop_work()).0)
    }

    /// One poll of the work inside `node`'s scope (see the module docs); `arm` is
    /// called when the work suspends, before the check for a cancel.
    #[inline]
    pub(crate) fn poll(
        self: Pin<&mut Self>,
        node: &Arc<ScopeNode>,
        cx: &mut Context<'_>,
        arm: impl FnOnce(&Context<'_>),
    ) -> Step<F::Output> {
        self.poll_in(Within::Node(node), cx, arm, None::<fn() -> F>)
    }

    /// [`poll`](Self::poll) for a group child whose scope is not made yet: the work
    /// runs in the group's scope, `deferred.parent`, until it asks for its own (see
    /// [`Deferred`]).
    #[inline]
    pub(crate) fn poll_deferred(
        self: Pin<&mut Self>,
        deferred: &Deferred<'_>,
        cx: &mut Context<'_>,
    ) -> Step<F::Output> {
        self.poll_in(Within::Deferred(deferred), cx, |_| (), None::<fn() -> F>)
    }

    /// The first poll of work that the wrapper makes now: `make` runs inside the
    /// scope too, and its panic is the work's.
    #[inline]
    pub(crate) fn start(
        self: Pin<&mut Self>,
        node: &Arc<ScopeNode>,
        cx: &mut Context<'_>,
        arm: impl FnOnce(&Context<'_>),
        make: impl FnOnce() -> F,
    ) -> Step<F::Output> {
        self.poll_in(Within::Node(node), cx, arm, Some(make))
    }

    #[inline]
    fn poll_in(
        mut self: Pin<&mut Self>,
        within: Within<'_>,
        cx: &mut Context<'_>,
        arm: impl FnOnce(&Context<'_>),
        make: Option<impl FnOnce() -> F>,
    ) -> Step<F::Output> {
        let node = within.node();
        let this = self.as_mut().project();
        let last = *this.progress;
        if last != Progress::Fresh && within.reached_by_cancel(last == Progress::Protected) {
            return self.cancelled(within);
        }
        *this.progress = Progress::Exposed;
        let mut future = this.future;
        let (polled, reported) = within.enter(|| {
            catch_unwind(AssertUnwindSafe(|| {
                if let Some(make) = make {
                    future.set(Some(make()));
                }
                future
                    .as_mut()
                    .as_pin_mut()
                    .expect("pride: a scope's work was polled after it was dropped")
                    .poll(cx)
            }))
        });
        match polled {
            Ok(Poll::Ready(output)) => Step::Ready(output),
            Ok(Poll::Pending) => {
                if reported {
                    *this.progress = Progress::Protected;
                }
                arm(cx);
                if within.reached_by_cancel(reported) {
                    self.cancelled(within)
                } else {
                    Step::Pending
                }
            }
            // Cleanup that a cancel from further out caused panicked in a scope
            // inside: this work is cancelled work too, dropped here, with that panic;
            // where no cancel stands (a shield set meanwhile), an ordinary panic.
            Err(payload) if super::run::is_cleanup_panic(&*payload) => {
                let panic = payload
                    .downcast::<super::run::CleanupPanic>()
                    .map_or_else(|payload| payload, |cleanup| cleanup.0);
                if node.cancelled_by().is_none() {
                    return Step::Panicked(panic);
                }
                // A second panic, of this work's own cleanup, is not kept: the first
                // is (the panic hook has shown both).
                drop(within.enter(|| self.drop_work()));
                Step::Cancelled(Some(panic))
            }
            // A `par` call that a cancelled scope stopped unwinds out of the work: it
            // is cancelled work.
            Err(payload)
                if crate::par::is_cancel_unwind(&*payload) && node.cancelled_by().is_some() =>
            {
                self.cancelled(within)
            }
            Err(payload) => Step::Panicked(payload),
        }
    }
}

/// The scope a poll runs the work in.
#[derive(Clone, Copy)]
enum Within<'a> {
    Node(&'a Arc<ScopeNode>),
    /// A group child's scope, not made yet: the group's answers for it.
    Deferred(&'a Deferred<'a>),
}

impl Within<'_> {
    /// The scope whose cancels reach the work.
    #[inline]
    fn node(&self) -> &ScopeNode {
        match *self {
            Within::Node(node) => node,
            Within::Deferred(deferred) => deferred.parent,
        }
    }

    #[inline]
    fn enter<R>(self, f: impl FnOnce() -> R) -> (R, bool) {
        match self {
            Within::Node(node) => current::enter(node, f),
            Within::Deferred(deferred) => current::enter_deferred(deferred, f),
        }
    }

    /// A cancel reaches the scope, and the suspended work is neither inside a shield
    /// within it nor, if a group or a shield reported at the suspension (`reported`),
    /// waiting in a group within it: the work is to be dropped.
    #[inline]
    fn reached_by_cancel(&self, reported: bool) -> bool {
        self.node().cancelled_by().is_some() && !self.shields_work_inside(reported)
    }

    /// See [`ScopeNode::shields_work_inside`]. A child whose scope is not made yet
    /// entered no scope.
    #[cold]
    fn shields_work_inside(&self, groups: bool) -> bool {
        match *self {
            Within::Node(node) => node.shields_work_inside(groups),
            Within::Deferred(deferred) => deferred
                .node
                .get()
                .is_some_and(|node| node.shields_work_inside(groups)),
        }
    }
}

/// What a suspended scope registers: its task's waker and its deadline's timer.
pub(crate) struct Armed {
    /// The waker last registered with the scope's node.
    waker: Option<Waker>,
    deadline: DeadlineTimer,
}

impl Armed {
    pub(crate) const fn new() -> Armed {
        Armed {
            waker: None,
            deadline: DeadlineTimer::new(),
        }
    }

    /// The work inside suspended: makes the scope reachable from outside (linked into
    /// its parent, with this task's waker) and arms its deadline.
    pub(crate) fn arm(&mut self, node: &Arc<ScopeNode>, cx: &Context<'_>) {
        ScopeNode::link_into_parent(node);
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            node.set_waker(cx.waker());
            self.waker = Some(cx.waker().clone());
        }
        self.deadline.poll(node);
    }

    /// The wrapper is done with its scope: drops the timer and the waker.
    #[inline]
    pub(crate) fn clear(&mut self) {
        self.deadline.clear();
        if self.waker.is_some() {
            self.waker = None;
        }
    }
}
