//! Graceful shutdown: stop taking new work, give the work in flight a grace period,
//! then cancel what is left.
//!
//! The recipe, for any service:
//!
//! 1. Make a [`Shutdown`] and hand clones to whatever must react to it: the accept loop
//!    (it stops accepting), long-lived connections (they finish the request in hand and
//!    close, e.g. hyper's `graceful_shutdown`).
//! 2. Run the service inside [`graceful`]: it runs the work as usual and, once the
//!    shutdown is triggered, gives it `grace` more time, then cancels it.
//! 3. Trigger the shutdown from a signal ([`crate::signal::ctrl_c`]), an admin request
//!    or a test.
//!
//! [`net::serve`](crate::net::serve) does steps 1 and 2 itself with
//! [`Serve::graceful`](crate::net::Serve::graceful).
//!
//! ```
//! use std::time::Duration;
//! use pride::shutdown::{Shutdown, graceful};
//!
//! let rt = pride::Runtime::builder()
//!     .clock(pride::time::Clock::autojump())
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     let shutdown = Shutdown::new();
//!     let stop = shutdown.clone();
//!     let outcome = pride::task_group(async |tg| {
//!         tg.start_soon(async move {
//!             pride::sleep(Duration::from_secs(1)).await;
//!             stop.trigger(); // e.g. on Ctrl-C
//!         });
//!         let work = shutdown.clone();
//!         // The worker finishes its current job after the shutdown, within the grace.
//!         let jobs = graceful(&shutdown, Duration::from_secs(30), async move {
//!             let mut jobs = 0;
//!             while !work.is_triggered() {
//!                 pride::sleep(Duration::from_millis(300)).await; // one job
//!                 jobs += 1;
//!             }
//!             jobs
//!         })
//!         .await;
//!         Ok::<_, pride::BoxError>(jobs)
//!     })
//!     .await
//!     .unwrap();
//!     assert_eq!(outcome, Some(4));
//! });
//! ```

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::time::Duration;

use crate::{CancelScope, Event};

/// A shutdown request that any number of tasks can wait for. Cheap to clone; every
/// clone sees the same request. Triggering is permanent.
#[derive(Clone, Debug, Default)]
#[doc(alias("CancellationToken", "graceful_shutdown"))]
///
/// ```
/// use pride::shutdown::Shutdown;
///
/// pride::run(async {
///     let shutdown = Shutdown::new();
///     pride::task_group(async |tg| {
///         let stop = shutdown.clone();
///         tg.start_soon(async move {
///             stop.triggered().await; // a worker waits for the request
///         });
///         shutdown.trigger(); // e.g. on `pride::signal::ctrl_c()`
///     })
///     .await
///     .unwrap();
///     assert!(shutdown.is_triggered());
/// });
/// ```
pub struct Shutdown {
    requested: Event,
}

impl Shutdown {
    /// A shutdown that has not been requested yet.
    ///
    /// ```
    /// let shutdown = pride::shutdown::Shutdown::new();
    /// assert!(!shutdown.is_triggered());
    /// ```
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Requests the shutdown and wakes every waiter. Idempotent.
    ///
    /// ```
    /// let shutdown = pride::shutdown::Shutdown::new();
    /// let copy = shutdown.clone();
    /// shutdown.trigger();
    /// shutdown.trigger(); // idempotent
    /// assert!(copy.is_triggered()); // every clone sees it
    /// ```
    pub fn trigger(&self) {
        self.requested.set();
    }

    /// Whether the shutdown has been requested.
    ///
    /// ```
    /// let shutdown = pride::shutdown::Shutdown::new();
    /// assert!(!shutdown.is_triggered());
    /// shutdown.trigger();
    /// assert!(shutdown.is_triggered());
    /// ```
    pub fn is_triggered(&self) -> bool {
        self.requested.is_set()
    }

    /// Waits until the shutdown is requested. Cancel-safe.
    ///
    /// ```
    /// pride::run(async {
    ///     let shutdown = pride::shutdown::Shutdown::new();
    ///     shutdown.trigger();
    ///     shutdown.triggered().await; // returns at once once triggered
    /// });
    /// ```
    pub async fn triggered(&self) {
        self.requested.wait().await;
    }
}

/// Runs `work`; once `shutdown` is triggered, lets it run for at most `grace` more and
/// then cancels it.
///
/// Returns `Some(output)` if the work finished by itself (before or during the grace
/// period), `None` if the grace period ran out and it was cancelled (or if a cancel
/// from further out dropped the work while this future was awaited through `&mut`,
/// and it is awaited again after that scope caught: its work is gone). The work is
/// expected to watch `shutdown` itself and wind down (stop accepting, finish the
/// request in hand); the grace period is the bound on how long that may take.
///
/// ```
/// use std::time::Duration;
/// use pride::shutdown::{Shutdown, graceful};
///
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::autojump())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let shutdown = Shutdown::new();
///     shutdown.trigger();
///     // Work that ignores the request is cancelled when the grace period ends.
///     let stubborn = graceful(&shutdown, Duration::from_secs(5), std::future::pending::<()>()).await;
///     assert_eq!(stubborn, None);
///     // Work that winds down in time keeps its result.
///     let polite = graceful(&shutdown, Duration::from_secs(5), async {
///         shutdown.triggered().await;
///         "drained"
///     })
///     .await;
///     assert_eq!(polite, Some("drained"));
/// });
/// ```
pub async fn graceful<F: Future>(
    shutdown: &Shutdown,
    grace: Duration,
    work: F,
) -> Option<F::Output> {
    let scope = CancelScope::new();
    let mut work = pin!(scope.run(work));
    let mut requested = pin!(shutdown.triggered());
    let mut armed = false;
    poll_fn(|cx| {
        if !armed && requested.as_mut().poll(cx).is_ready() {
            armed = true;
            // A grace too long to represent is no deadline at all.
            if let Some(deadline) = crate::current_time().checked_add(grace) {
                scope.set_deadline(Some(deadline));
            }
        }
        work.as_mut().poll(cx)
    })
    .await
}
