//! Scope deadlines: what a scope's deadline is (on its node), and the timer each
//! scope wrapper arms for it.
//!
//! A deadline passing is a `cancel()` that happens by itself (DESIGN rule 11). The
//! wrapper that entered the scope owns a [`Timer`] whose waker cancels the node
//! directly, so the driver thread that fires the timer cancels the scope (and wakes
//! every task inside) without waiting for anyone to poll the wrapper. Changing the
//! deadline bumps a version on the node and wakes the wrapper, which re-arms.

use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use super::node::ScopeNode;
use crate::loom::sync::Arc;
use crate::time::Timer;

/// What a scope's deadline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spec {
    None,
    At(Instant),
    /// A timeout that counts from entry; resolved to `At` (or `Since`) when the scope
    /// is entered.
    After(Duration),
    /// A timeout entered on the system clock at a coarse clock reading: resolved to
    /// `At` the first time the deadline is read (see `time/coarse.rs`).
    Since {
        timeout: Duration,
        entered: u64,
    },
}

/// The clock of the runtime this thread is in, if any.
pub(crate) fn now() -> Option<Instant> {
    crate::runtime::context::with_current(|h| h.map(|h| h.time().now()))
}

/// How a scope entered now notes when its timeout starts.
pub(crate) enum Entry {
    /// Not in a runtime: there is no clock, and the timeout does not apply.
    Outside,
    /// The time on the runtime's clock (a mock clock is cheap to read, and exact).
    Exact(Instant),
    /// A coarse reading of the system clock, made exact only if needed.
    Coarse(u64),
}

/// Notes the time for a timeout that starts now (see [`Entry`]).
pub(crate) fn entry() -> Entry {
    crate::runtime::context::with_current(|h| {
        let Some(h) = h else {
            return Entry::Outside;
        };
        let clock = h.time().clock();
        if clock.is_mock() {
            return Entry::Exact(clock.now());
        }
        match crate::time::coarse::now() {
            Some(reading) => Entry::Coarse(reading),
            None => Entry::Exact(clock.now()),
        }
    })
}

/// Cancels a scope when its timer fires.
struct Canceller(std::sync::Weak<NodeRef>);

/// The facade `Arc` of a node, behind a std `Arc` so that it can be a `Weak` in a
/// waker (loom's `Arc` has no `Weak`).
struct NodeRef(Arc<ScopeNode>);

impl Wake for Canceller {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        if let Some(node) = self.0.upgrade() {
            node.0.deadline_passed();
        }
    }
}

/// The timer a scope wrapper keeps for its scope's deadline.
///
/// Structurally pinned in its wrapper: `timer` is never moved once armed; it is
/// dropped in place (assigning `None`) or re-armed in place.
pub(crate) struct DeadlineTimer {
    timer: Option<Timer>,
    version: u64,
    node: Option<StdArc<NodeRef>>,
    waker: Option<Waker>,
}

impl DeadlineTimer {
    pub(crate) const fn new() -> DeadlineTimer {
        DeadlineTimer {
            timer: None,
            // Not a version a node can have yet: the first arm reads the deadline.
            version: u64::MAX,
            node: None,
            waker: None,
        }
    }

    /// Drops the timer (in place) and this wrapper's reference to the node: the
    /// wrapper is done with its scope.
    pub(crate) fn clear(self: Pin<&mut Self>) {
        // SAFETY: `timer` is dropped in place, never moved (see the type's docs).
        let this = unsafe { self.get_unchecked_mut() };
        this.timer = None;
        this.waker = None;
        this.node = None;
    }

    /// Brings the timer in line with `node`'s deadline and registers it. Cheap when
    /// nothing changed: one atomic load, plus the timer's own poll while a deadline is
    /// armed. Called by the wrapper each time its work suspends.
    pub(crate) fn poll(self: Pin<&mut Self>, node: &Arc<ScopeNode>) {
        // SAFETY: `timer` is structurally pinned (see the type's docs); nothing else
        // here is pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let version = node.deadline_version();
        if version != this.version {
            this.version = version;
            // A deadline already past was handled where it was set (at entry, or by
            // `set_deadline`), which cancelled the scope; the timer covers the rest.
            match node.deadline() {
                None => this.timer = None,
                Some(deadline) => match this.timer.as_mut() {
                    // SAFETY: pinned in place, see above.
                    Some(timer) => unsafe { Pin::new_unchecked(timer) }.reset(deadline),
                    None => this.timer = Some(Timer::new(deadline)),
                },
            }
        }
        let Some(timer) = this.timer.as_mut() else {
            return;
        };
        let waker = this.waker.get_or_insert_with(|| {
            let node = this
                .node
                .get_or_insert_with(|| StdArc::new(NodeRef(node.clone())));
            Waker::from(StdArc::new(Canceller(StdArc::downgrade(node))))
        });
        let mut cx = Context::from_waker(waker);
        // SAFETY: pinned in place, see above.
        if unsafe { Pin::new_unchecked(timer) }
            .poll_elapsed(&mut cx)
            .is_ready()
        {
            node.deadline_passed();
        }
    }
}
