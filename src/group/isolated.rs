//! Isolated children: children whose failure does not cancel their siblings.
//!
//! An isolated child is an ordinary child wrapped so that its error or panic is caught
//! inside it and handed to a failure handler instead of being returned to the group.
//! Everything else is the ordinary child's: cancelling the group drops it at its next
//! suspension point, and the group waits for it. A panic in the handler itself, or in a
//! `Drop` that runs while the child is cancelled, is not caught here and fails the
//! group as any child's would.

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use super::TaskGroup;
use super::error::{Kind, Payload, TaskError, TaskOutput};
use crate::par::is_cancel_unwind;

impl TaskGroup {
    /// Starts `future` as an isolated child: if it returns an error or panics, its
    /// siblings and the group go on, and the failure is reported on standard error
    /// (`pride: unnamed task failed: ...`). Cancelling the group still cancels the
    /// child, and the group still waits for it. Not a suspension point.
    ///
    /// The child's future is dropped once it has ended, and a panic in its `Drop` is
    /// the child's failure too. A child fails once: after an error or a panic, a panic
    /// in its `Drop` is not reported again (the panic hook still shows it).
    ///
    /// This is the shape for a server's per-connection work, where one bad client must
    /// not take the server down; [`start_soon_isolated_with`](Self::start_soon_isolated_with)
    /// hands the failure to your own handler (a log, a metric) instead.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// pride::run(async {
    ///     let served = Arc::new(AtomicUsize::new(0));
    ///     pride::task_group(async |tg| {
    ///         tg.start_soon_isolated(async { Err::<(), _>("a bad client") });
    ///         for _ in 0..3 {
    ///             let served = served.clone();
    ///             tg.start_soon_isolated(async move {
    ///                 pride::checkpoint().await;
    ///                 served.fetch_add(1, Ordering::Relaxed);
    ///             });
    ///         }
    ///     })
    ///     .await
    ///     .unwrap(); // the failure was reported, not returned
    ///     assert_eq!(served.load(Ordering::Relaxed), 3);
    /// });
    /// ```
    ///
    /// # Panics
    /// If the group has already exited.
    #[track_caller]
    pub fn start_soon_isolated<F>(&self, future: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.start_detached(None, isolate(None, future, report_to_stderr), true);
    }

    /// Like [`start_soon_isolated`](Self::start_soon_isolated), with a name for the
    /// child; the name appears in the report.
    ///
    /// # Panics
    /// If the group has already exited.
    #[track_caller]
    pub fn start_soon_isolated_named<F>(&self, name: impl Into<String>, future: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        let name: Arc<str> = name.into().into();
        self.start_detached(
            Some(name.clone()),
            isolate(Some(name), future, report_to_stderr),
            true,
        );
    }

    /// Starts `future` as an isolated child named `name` whose error or panic goes to
    /// `on_failure` as a [`TaskError`] (with the name), instead of to the group. The
    /// handler runs on the child's task; if it panics, that panic fails the group.
    ///
    /// ```
    /// use pride::{Queue, TaskError};
    ///
    /// pride::run(async {
    ///     let failures = Queue::<TaskError>::unbounded();
    ///     pride::task_group(async |tg| {
    ///         let report = failures.clone();
    ///         let bad_frame = async { if true { panic!("bad frame") } };
    ///         tg.start_soon_isolated_with("client 7", bad_frame, move |e| {
    ///             let _ = report.put_nowait(e);
    ///         });
    ///     })
    ///     .await
    ///     .unwrap();
    ///     let failure = failures.get_nowait().unwrap();
    ///     assert_eq!(failure.name(), Some("client 7"));
    ///     assert_eq!(failure.panic_message(), Some("bad frame"));
    /// });
    /// ```
    ///
    /// # Panics
    /// If the group has already exited.
    #[track_caller]
    pub fn start_soon_isolated_with<F, H>(&self, name: impl Into<String>, future: F, on_failure: H)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
        H: FnOnce(TaskError) + Send + 'static,
    {
        let name: Arc<str> = name.into().into();
        self.start_detached(
            Some(name.clone()),
            isolate(Some(name), future, on_failure),
            true,
        );
    }
}

/// The default failure report of an isolated child: one line on standard error.
pub(crate) fn report_to_stderr(error: TaskError) {
    eprintln!("pride: {error}");
}

/// `future` with its error or panic caught and given to `on_failure`; never fails.
async fn isolate<F, H>(name: Option<Arc<str>>, future: F, on_failure: H)
where
    F: Future,
    F::Output: TaskOutput,
    H: FnOnce(TaskError),
{
    if let Err(error) = catch(name, future).await {
        on_failure(error);
    }
}

/// Runs `future`, turning its error or panic into a [`TaskError`] named `name`.
///
/// The future is dropped here once it has ended, so that a panic in its `Drop` is its
/// own failure too. One failure is reported, the first: the error the future returned
/// or the panic that ended it, else the panic of its `Drop`. A `Drop` panic after an
/// error or a panic is not reported (the panic hook has shown it).
/// A `par` call stopped by a cancelled scope is cancelled work, not a failure: the
/// future is dropped, and this stays pending, as cancelled work does, for the cancel's
/// catcher to drop (a panic dropping it is a cleanup panic of cancelled work: it goes
/// on unwinding to that catcher, as does such a panic of a scope inside the future).
pub(crate) async fn catch<F>(
    name: Option<Arc<str>>,
    future: F,
) -> Result<<F::Output as TaskOutput>::Ok, TaskError>
where
    F: Future,
    F::Output: TaskOutput,
{
    let mut future = pin!(Some(future));
    // Unwind safety: after a panic the future is never polled again, only dropped.
    let outcome = poll_fn(|cx| {
        let Some(running) = future.as_mut().as_pin_mut() else {
            // Dropped as cancelled work, below.
            return Poll::Pending;
        };
        match catch_unwind(AssertUnwindSafe(|| running.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            // Cleanup that a cancel caused panicked: not the child's failure, but the
            // cancel's, for the wrapper of the scope that catches it.
            Err(cleanup) if crate::cancel::run::is_cleanup_panic(&*cleanup) => {
                resume_unwind(cleanup)
            }
            Err(stop) if is_cancel_unwind(&*stop) && crate::cancel::cancel_stands() => {
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| future.set(None))) {
                    resume_unwind(Box::new(crate::cancel::run::CleanupPanic(panic)));
                }
                Poll::Pending
            }
            Err(payload) => Poll::Ready(Err(Kind::Panic(Payload::new(payload)))),
        }
    })
    .await;
    let dropped = catch_unwind(AssertUnwindSafe(|| future.set(None)));
    let failure = match (outcome.map(TaskOutput::into_result), dropped) {
        (Ok(Ok(value)), Ok(())) => return Ok(value),
        (Ok(Ok(value)), Err(panic)) => {
            drop(value);
            Kind::Panic(Payload::new(panic))
        }
        (Ok(Err(error)), _) => Kind::Error(error),
        (Err(panic), _) => panic,
    };
    let error = TaskError::new(name, failure);
    crate::debug::trace::failed(&error);
    Err(error)
}
