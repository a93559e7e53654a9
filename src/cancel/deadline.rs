//! Scope deadlines: what a scope's deadline is (on its node), and the timer each
//! scope wrapper arms for it.
//!
//! A deadline passing is a `cancel()` that happens by itself. The
//! wrapper that entered the scope owns a [`Timer`] whose waker cancels the node
//! directly, so the driver thread that fires the timer cancels the scope (and wakes
//! every task inside) without waiting for anyone to poll the wrapper. Changing the
//! deadline bumps a version on the node and wakes the wrapper, which re-arms; until
//! then the timer may still fire for the old deadline, and the node then cancels only
//! if its current deadline has passed.

use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use super::node::ScopeNode;
use crate::loom::sync::Arc;
use crate::time::{Clock, Timer};

/// What a scope's deadline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spec {
    None,
    At(Instant),
    /// A timeout that counts from entry; resolved to `At` when the scope is entered.
    After(Duration),
}

/// The clock of the runtime this thread is in, if any.
pub(crate) fn now() -> Option<Instant> {
    crate::runtime::context::with_current(|h| h.map(|h| h.time().now()))
}

/// For a sleep that ends: cancels the scopes around the running code (up to a shield)
/// whose deadlines have passed by `now`, as their timers would, and says whether one
/// had and a cancel now reaches the running code. A deadline that passed with the sleep
/// then catches it, however the timer driver ordered the two timers, and even when the
/// task is polled (for any reason) before the deadline's timer has cancelled the scope.
pub(crate) fn passed_around(now: Instant) -> bool {
    super::current::current_to_read()
        .is_some_and(|scope| scope.cancel_passed_deadlines(now) && scope.cancelled_by().is_some())
}

/// Cancels a scope when its timer fires (if the deadline has passed on `clock`, the
/// runtime's).
struct Canceller {
    node: std::sync::Weak<NodeRef>,
    clock: Clock,
}

/// The facade `Arc` of a node, behind a std `Arc` so that it can be a `Weak` in a
/// waker (loom's `Arc` has no `Weak`).
struct NodeRef(Arc<ScopeNode>);

impl Wake for Canceller {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        if let Some(node) = self.node.upgrade() {
            node.0
                .deadline_passed(self.clock.now(), self.clock.is_at_end());
        }
    }
}

/// The timer a scope wrapper keeps for its scope's deadline.
///
/// Small and movable: the timer (which must not move once armed) lives in a box made
/// the first time the scope suspends with a deadline, so scopes without one, and
/// scopes whose work never suspends, carry and copy only two words.
pub(crate) struct DeadlineTimer {
    /// The node's deadline version last brought in line.
    version: u64,
    armed: Option<Pin<Box<Armed>>>,
}

pin_project_lite::pin_project! {
    /// An armed deadline: the timer, and the waker through which it cancels the node.
    struct Armed {
        #[pin]
        timer: Timer,
        // Keeps the node alive for `waker`, which holds it weakly (so that the timer
        // wheel never keeps a scope alive).
        _node: StdArc<NodeRef>,
        waker: Waker,
    }
}

impl DeadlineTimer {
    #[inline]
    pub(crate) const fn new() -> DeadlineTimer {
        DeadlineTimer {
            // Not a version a node can have yet: the first arm reads the deadline.
            version: u64::MAX,
            armed: None,
        }
    }

    /// Drops the timer and this wrapper's reference to the node: the wrapper is done
    /// with its scope.
    #[inline]
    pub(crate) fn clear(&mut self) {
        if self.armed.is_some() {
            self.armed = None;
        }
    }

    /// Brings the timer in line with `node`'s deadline and registers it. Cheap when
    /// nothing changed: one atomic load, plus the timer's own poll while a deadline is
    /// armed. Called by the wrapper each time its work suspends.
    #[inline]
    pub(crate) fn poll(&mut self, node: &Arc<ScopeNode>) {
        if self.armed.is_none() && !node.is_timed() {
            return;
        }
        self.poll_timed(node);
    }

    fn poll_timed(&mut self, node: &Arc<ScopeNode>) {
        let version = node.deadline_version();
        if version != self.version {
            self.version = version;
            // A deadline already past was handled where it was set (at entry, or by
            // `set_deadline`), which cancelled the scope; the timer covers the rest.
            match (node.deadline(), self.armed.as_mut()) {
                (None, _) => self.armed = None,
                (Some(deadline), Some(armed)) => armed.as_mut().timer().reset(deadline),
                (Some(deadline), None) => {
                    let node_ref = StdArc::new(NodeRef(node.clone()));
                    let waker = Waker::from(StdArc::new(Canceller {
                        node: StdArc::downgrade(&node_ref),
                        clock: crate::runtime::context::with_time(|time| time.clock().clone()),
                    }));
                    self.armed = Some(Box::pin(Armed {
                        timer: Timer::for_scope(deadline),
                        _node: node_ref,
                        waker,
                    }));
                }
            }
        }
        let Some(armed) = self.armed.as_mut() else {
            return;
        };
        let (mut timer, waker) = armed.as_mut().parts();
        if timer
            .as_mut()
            .poll_elapsed(&mut Context::from_waker(waker))
            .is_ready()
        {
            node.deadline_passed(timer.now(), timer.clock_at_end());
        }
    }
}

impl Armed {
    fn timer(self: Pin<&mut Self>) -> Pin<&mut Timer> {
        self.parts().0
    }

    fn parts(self: Pin<&mut Self>) -> (Pin<&mut Timer>, &Waker) {
        let this = self.project();
        (this.timer, this.waker)
    }
}
