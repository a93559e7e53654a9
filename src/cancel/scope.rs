//! The public [`CancelScope`].

use std::time::{Duration, Instant};

use super::deadline::Spec;
use super::node::ScopeNode;
use crate::loom::sync::Arc;

/// A cancel scope: a region of work that can be cancelled as a whole.
///
/// Every task group owns one ([`TaskGroup::cancel_scope`](crate::TaskGroup::cancel_scope)).
/// Cancelling a scope drops everything inside it at its next suspension point, down
/// through nested groups, except work inside a shielded scope.
///
/// `CancelScope` is a cheap handle: clones refer to the same scope.
///
/// # Which scope catches
///
/// When several nested scopes are cancelled, the outermost one that a shield does not
/// cut off drops the work and reports [`cancelled_caught`](Self::cancelled_caught);
/// the ones inside it do not. This is decided *after* the cleanup: if a `Drop` that
/// runs while the work is dropped cancels a scope further out, that scope catches, and
/// the code between the two scopes does not run.
///
/// A task group inside a cancelled scope is not dropped whole: the cancel reaches its
/// body and children at once, the group waits for every child (shielded cleanup in a
/// child runs to its end), and then either reports every failure, as a value that
/// passes out through the cancelled scopes (`run` returns `Some(Err(..))`: errors are
/// never lost to a cancel), or, if nothing failed, ends as cancelled work that the
/// outermost cancelled scope catches. A panic in a `Drop` that runs because work was
/// cancelled is such a failure.
///
/// ```
/// pride::run(async {
///     let result = pride::task_group(async |tg| {
///         tg.start_soon(async { std::future::pending::<()>().await });
///         tg.cancel_scope().cancel(); // a deliberate shutdown: the pending child is dropped
///         Ok::<_, pride::BoxError>("done")
///     })
///     .await;
///     assert_eq!(result.unwrap(), "done");
/// });
/// ```
#[derive(Clone)]
#[doc(alias = "CancellationToken")]
pub struct CancelScope {
    node: Arc<ScopeNode>,
}

impl Default for CancelScope {
    fn default() -> Self {
        CancelScope::new()
    }
}

impl CancelScope {
    /// A new scope, not yet entered. Enter it with [`run`](Self::run); it becomes a
    /// child of the scope current at that point. It can be cancelled before entry.
    #[inline]
    pub fn new() -> CancelScope {
        CancelScope {
            node: ScopeNode::new(),
        }
    }

    /// A scope whose deadline is `deadline` (on the runtime's clock). Entering it with
    /// the deadline already past cancels it at once. It must be entered inside a pride
    /// runtime (see [`run`](Self::run)'s panics).
    #[inline]
    pub fn with_deadline(deadline: Instant) -> CancelScope {
        CancelScope::from_node(ScopeNode::with_deadline(deadline))
    }

    /// A scope that is cancelled `timeout` after it is entered (its first poll).
    /// A timeout too large for `Instant` never fires. It must be entered inside a
    /// pride runtime (see [`run`](Self::run)'s panics).
    #[inline]
    pub fn with_timeout(timeout: Duration) -> CancelScope {
        CancelScope::from_node(ScopeNode::with_timeout(timeout))
    }

    /// The deadline, if one is set (a timeout's deadline is known from entry).
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline()
    }

    /// Sets or clears the deadline, re-arming at once: a deadline already past on the
    /// clock of the runtime the calling thread is in cancels the scope now; called
    /// from a thread outside any runtime, the scope's wrapper is woken, and its timer,
    /// armed at that wrapper's next poll, cancels it. Moving the deadline never undoes
    /// a cancel.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.node
            .set_deadline(deadline.map_or(Spec::None, Spec::At));
    }

    /// Whether the scope was cancelled because its deadline passed. Reads the clock as
    /// [`cancel_called`](Self::cancel_called) does, and agrees with it: a deadline that
    /// has passed counts (and cancels the scope) before its timer fires.
    pub fn deadline_reached(&self) -> bool {
        self.node.cancel_called() && self.node.deadline_fired()
    }

    /// Runs `future` inside this scope. Returns `Some(output)`, or `None` if this scope
    /// was cancelled and dropped the future (then [`cancelled_caught`](Self::cancelled_caught)
    /// is true). If a scope further out was cancelled, that scope catches: the `run`
    /// future itself is dropped (held there by reference and awaited again after, it
    /// returns `None` too, its work gone).
    ///
    /// ```
    /// pride::run(async {
    ///     let scope = pride::CancelScope::new();
    ///     let inner = scope.clone();
    ///     let out = scope
    ///         .run(async move {
    ///             inner.cancel();
    ///             pride::checkpoint().await; // dropped here
    ///             unreachable!()
    ///         })
    ///         .await;
    ///     assert_eq!(out, None::<()>);
    ///     assert!(scope.cancelled_caught());
    /// });
    /// ```
    ///
    /// # Panics
    /// On first poll if the scope was already entered: a scope is entered once; or if
    /// it has a deadline and is polled outside a pride runtime (there is no clock to
    /// keep it by). A panic in the dropped future's `Drop` (its cleanup) is never
    /// swallowed: if this scope caught the cancel, it goes on unwinding out of the
    /// poll; if a scope further out did, it unwinds to that scope's wrapper as cleanup
    /// that the cancel caused (an entry of the group that was cancelled, which stays
    /// cancelled; out of a `run` or timeout that caught it, with its payload). Code
    /// that catches panics on the way (`catch_unwind` between the two scopes) sees a
    /// payload of pride's own instead, which it should let go on.
    pub fn run<F: std::future::Future>(&self, future: F) -> super::ScopeRun<F> {
        super::ScopeRun::new(self.node.clone(), future)
    }

    /// Cancels the scope, recording `reason`; a group whose scope was cancelled with a
    /// reason shows it in its [`GroupError`](crate::GroupError). Only a call that
    /// cancels the scope records its reason: on a scope already cancelled (by a
    /// failure, its deadline, or another cancel) the reason is ignored, and of two
    /// reasons the first wins.
    pub fn cancel_with_reason(&self, reason: impl Into<String>) {
        self.node.cancel_with_reason(reason.into().into());
    }

    /// [`run`](Self::run) for a scope nobody else holds: no count to take.
    #[inline]
    pub(crate) fn into_run<F: std::future::Future>(self, future: F) -> super::ScopeRun<F> {
        super::ScopeRun::new(self.node, future)
    }

    #[inline]
    pub(crate) fn from_node(node: Arc<ScopeNode>) -> CancelScope {
        CancelScope { node }
    }

    #[inline]
    pub(crate) fn node(&self) -> &Arc<ScopeNode> {
        &self.node
    }

    /// Cancels the scope. Synchronous, idempotent and irreversible; not a suspension
    /// point: the code after it runs until its next `.await` that suspends.
    pub fn cancel(&self) {
        self.node.cancel();
    }

    /// Whether [`cancel`](Self::cancel) was called (by hand, by a deadline, or because a
    /// task in the group failed). Never resets.
    ///
    /// A deadline counts as soon as it has passed on the clock of the runtime the
    /// calling thread is in (outside any runtime, only once the timer fires), also while
    /// the work inside has not suspended since (a loop that never suspends can watch
    /// this to stop); reading it then cancels the scope, as the deadline's timer would.
    /// A scope not yet entered is not cancelled by its deadline until it is entered,
    /// and one that has exited no longer is.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// pride::Runtime::builder()
    ///     .clock(pride::time::Clock::mock())
    ///     .build()
    ///     .unwrap()
    ///     .block_on(async {
    ///         let scope = pride::CancelScope::with_timeout(Duration::from_secs(1));
    ///         let inner = scope.clone();
    ///         let out = scope
    ///             .run(async move {
    ///                 let mut steps = 0;
    ///                 while !inner.cancel_called() {
    ///                     steps += 1; // CPU work that never suspends
    ///                     pride::time::advance(Duration::from_millis(100));
    ///                 }
    ///                 steps
    ///             })
    ///             .await;
    ///         assert_eq!(out, Some(10));
    ///         assert!(scope.deadline_reached() && !scope.cancelled_caught());
    ///     });
    /// ```
    pub fn cancel_called(&self) -> bool {
        self.node.cancel_called()
    }

    /// Whether this scope dropped work because it was cancelled.
    pub fn cancelled_caught(&self) -> bool {
        self.node.cancelled_caught()
    }

    /// Whether the scope is shielded from cancellation outside it.
    pub fn shield(&self) -> bool {
        self.node.is_shielded()
    }

    /// Shields the scope from (or exposes it to) cancellation outside it. Takes effect
    /// at once: unshielding wakes the tasks inside, which may now be cancelled, and a
    /// shield set after a cancel from outside, before the work blocked inside was
    /// polled again, keeps that cancel out of it, except out of a child still being
    /// started there (see [the semantics](crate::semantics)).
    pub fn set_shield(&self, shield: bool) {
        self.node.set_shield(shield);
    }
}

impl std::fmt::Debug for CancelScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The flag as it is: `cancel_called` would cancel an entered scope whose
        // deadline has passed (and wake its tasks), and formatting must change nothing.
        f.debug_struct("CancelScope")
            .field("cancel_called", &self.node.cancel_flag_set())
            .field("cancelled_caught", &self.cancelled_caught())
            .field("shield", &self.shield())
            .finish()
    }
}
