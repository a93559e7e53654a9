//! Timeouts on top of scopes: `move_on_*` (give up quietly) and `fail_*` (give up with
//! an error).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{CancelScope, ScopeRun};

/// Runs `future` with a timeout: `Some(output)`, or `None` if `duration` passed first
/// (the future is dropped at its suspension point). The timeout counts from the first
/// poll.
///
/// # Panics
///
/// When first polled outside a pride runtime (there is no clock there to fire it).
///
/// ```
/// use std::time::Duration;
///
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::autojump())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let out = pride::move_on_after(Duration::from_secs(5), pride::sleep(Duration::from_secs(60))).await;
///     assert_eq!(out, None);
/// });
/// ```
pub fn move_on_after<F: Future>(duration: Duration, future: F) -> ScopeRun<F> {
    CancelScope::with_timeout(duration).into_run(future)
}

/// Like [`move_on_after`], with an absolute deadline.
pub fn move_on_at<F: Future>(deadline: Instant, future: F) -> ScopeRun<F> {
    CancelScope::with_deadline(deadline).into_run(future)
}

/// Runs `future` with a timeout: `Ok(output)`, or `Err(TimeoutError)` if `duration`
/// passed first. Only this deadline gives the error: a cancellation from a scope
/// further out passes through unchanged (this future is simply dropped).
///
/// # Panics
///
/// When first polled outside a pride runtime (there is no clock there to fire it).
/// When polled again after a cancel from further out dropped its work, where nothing
/// dropped the future itself: it was awaited through `&mut` and polled again after that
/// scope caught, or a shield set during the work's cleanup cut the cancel off from the
/// scopes around. It has no outcome for that.
///
/// ```
/// use std::time::Duration;
///
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::autojump())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let fast = pride::fail_after(Duration::from_secs(1), async { 7 }).await;
///     assert_eq!(fast.unwrap(), 7);
///     let slow = pride::fail_after(Duration::from_secs(1), pride::sleep(Duration::from_secs(2))).await;
///     assert!(slow.is_err());
/// });
/// ```
#[doc(alias = "timeout")]
pub fn fail_after<F: Future>(duration: Duration, future: F) -> FailAfter<F> {
    FailAfter::new(CancelScope::with_timeout(duration), future)
}

/// Like [`fail_after`], with an absolute deadline.
pub fn fail_at<F: Future>(deadline: Instant, future: F) -> FailAfter<F> {
    FailAfter::new(CancelScope::with_deadline(deadline), future)
}

pin_project_lite::pin_project! {
    /// The future of [`fail_after`] and [`fail_at`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct FailAfter<F> {
        // Its scope is private: no handle to it escapes.
        #[pin]
        run: ScopeRun<F>,
    }
}

impl<F: Future> FailAfter<F> {
    fn new(scope: CancelScope, future: F) -> FailAfter<F> {
        FailAfter {
            run: scope.into_run(future),
        }
    }
}

impl<F: Future> Future for FailAfter<F> {
    type Output = Result<F::Output, TimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut run = self.project().run;
        run.as_mut().poll(cx).map(|output| {
            // The scope is private, so only its deadline can cancel it; a cancel from
            // further out is caught out there and drops this future instead, unless it
            // was awaited through `&mut` there, or a shield set during the cleanup of the
            // work cut that cancel off: then it has no outcome to give.
            assert!(
                !run.abandoned(),
                "pride: the work of a `fail_after` future was dropped for a cancel from \
                 further out, and the future was polled again (awaited through `&mut` \
                 after that scope caught, or the cancel was cut off by a shield set during \
                 the cleanup): it has no outcome"
            );
            debug_assert!(output.is_some() || run.node().deadline_fired());
            output.ok_or(TimeoutError(()))
        })
    }
}

/// The deadline of a [`fail_after`] or [`fail_at`] passed before the work finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutError(pub(crate) ());

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline exceeded")
    }
}

impl std::error::Error for TimeoutError {}

/// The earliest deadline that applies where this is called: of the current scope and
/// the scopes around it, up to the first shield (in a child started with
/// [`TaskGroup::start`](crate::TaskGroup::start) that has not yet started, past its
/// group to the caller's scopes). `None` if no deadline applies. Inside a cancelled
/// scope (not cut off by a shield) it is not later than now.
///
/// ```
/// use std::time::Duration;
///
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::autojump())
///     .build()
///     .unwrap();
/// rt.block_on(pride::move_on_after(Duration::from_secs(3), async {
///     let deadline = pride::current_effective_deadline().unwrap();
///     assert!(deadline > pride::current_time());
/// }));
/// ```
pub fn current_effective_deadline() -> Option<Instant> {
    let node = super::current::current_to_read()?;
    let deadline = node.effective_deadline();
    // Inside a cancelled scope the work is already past its deadline.
    if node.cancelled_by().is_some() {
        if let Some(now) = super::deadline::now() {
            return Some(deadline.map_or(now, |deadline| deadline.min(now)));
        }
    }
    deadline
}
