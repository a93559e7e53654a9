//! `retry`: attempts with exponential backoff, jitter, a per-attempt timeout and a
//! predicate choosing which errors are worth another attempt.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::{BoxError, CancelScope, GroupError, TaskError, TaskOutput, TimeoutError, sleep};

/// How [`retry`] retries: the number of attempts, the backoff between them (doubling
/// from `backoff` up to `max_backoff`, each wait drawn at random from its upper half
/// when `jitter` is on), an optional timeout per attempt, and which errors are retried
/// ([`retry_if`](Retry::retry_if); by default, all of them).
///
/// ```
/// use std::time::Duration;
///
/// let policy = pride::Retry::new(5)
///     .backoff(Duration::from_millis(50))
///     .max_backoff(Duration::from_secs(2))
///     .timeout(Duration::from_secs(10))
///     .retry_if(|error| error.is::<std::io::Error>());
/// # drop(policy);
/// ```
#[derive(Clone)]
pub struct Retry {
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
    jitter: bool,
    timeout: Option<Duration>,
    retry_if: Option<Predicate>,
}

/// Which errors are retried; shared so that `Retry` stays cheap to clone.
type Predicate =
    Arc<dyn Fn(&(dyn std::error::Error + Send + Sync + 'static)) -> bool + Send + Sync>;

impl Retry {
    /// At most `attempts` attempts, with the defaults: 100 ms backoff doubling up to
    /// 10 s, jitter on, no per-attempt timeout.
    ///
    /// # Panics
    /// If `attempts` is zero.
    #[track_caller]
    pub fn new(attempts: u32) -> Retry {
        assert!(attempts > 0, "pride: retry needs at least one attempt");
        Retry {
            attempts,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            jitter: true,
            timeout: None,
            retry_if: None,
        }
    }

    /// The wait after the first failed attempt; it doubles after each one. Every wait,
    /// this first one included, is capped by [`max_backoff`](Self::max_backoff) (10 s
    /// unless set).
    pub fn backoff(mut self, backoff: Duration) -> Retry {
        self.backoff = backoff;
        self
    }

    /// The longest wait between attempts.
    pub fn max_backoff(mut self, max: Duration) -> Retry {
        self.max_backoff = max;
        self
    }

    /// Whether each wait is drawn at random from the upper half of its backoff, so
    /// that many clients retrying at once spread out.
    pub fn jitter(mut self, jitter: bool) -> Retry {
        self.jitter = jitter;
        self
    }

    /// A timeout for each attempt (as [`fail_after`](crate::fail_after) gives one): an
    /// attempt that takes longer is dropped and counts as failed with a
    /// [`TimeoutError`].
    pub fn timeout(mut self, timeout: Duration) -> Retry {
        self.timeout = Some(timeout);
        self
    }

    /// Retries only the errors `retryable` accepts; any other error ends the retry at
    /// once, with a [`RetryError`] holding it. The predicate sees each failed
    /// attempt's error (downcast it with `is`/`downcast_ref`), including the
    /// [`TimeoutError`] of an attempt that timed out. Setting it again replaces it. An
    /// error that holds a task's panic is never retried, whatever it says (see
    /// [`retry`]).
    ///
    /// ```
    /// use std::io;
    ///
    /// let rt = pride::Runtime::builder().clock(pride::time::Clock::autojump()).build().unwrap();
    /// rt.block_on(async {
    ///     // Retry a refused connection, but not a permission error.
    ///     let policy = pride::Retry::new(5).retry_if(|error| {
    ///         error
    ///             .downcast_ref::<io::Error>()
    ///             .is_some_and(|e| e.kind() == io::ErrorKind::ConnectionRefused)
    ///     });
    ///     let error = pride::retry(policy, |_| async {
    ///         Err::<(), _>(io::Error::from(io::ErrorKind::PermissionDenied))
    ///     })
    ///     .await
    ///     .unwrap_err();
    ///     assert_eq!(error.attempts(), 1);
    /// });
    /// ```
    pub fn retry_if(
        mut self,
        retryable: impl Fn(&(dyn std::error::Error + Send + Sync + 'static)) -> bool
        + Send
        + Sync
        + 'static,
    ) -> Retry {
        self.retry_if = Some(Arc::new(retryable));
        self
    }
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("max_backoff", &self.max_backoff)
            .field("jitter", &self.jitter)
            .field("timeout", &self.timeout)
            .field("retry_if", &self.retry_if.as_ref().map(|_| "<predicate>"))
            .finish()
    }
}

/// Runs `f(attempt)` (attempts count from 0) until it succeeds, `policy`'s attempts
/// run out, or an attempt fails with an error that `policy` does not retry (see
/// [`Retry::retry_if`]), waiting between attempts. Gives up with a [`RetryError`]
/// holding the last attempt's error, which is a [`TimeoutError`] if that attempt timed
/// out: a failure is never silent.
///
/// The attempts run one at a time on the caller's task, not in a task group: a panic
/// in an attempt is not caught, and unwinds through the caller. So does a panic in the
/// `Drop` of an attempt that its timeout dropped: it is no failed attempt, and no other
/// attempt runs. A panic that a task group in the attempt caught (a child's, which the
/// group returns as an error) is no failed attempt either: an error that holds a panic
/// is never retried, whatever [`Retry::retry_if`] says, and the retry gives up with it
/// at once.
///
/// A retry awaited through `&mut` inside a timeout that fired, and awaited again
/// after it, goes on: the attempt under way was dropped by that cancel, had no outcome,
/// and starts over (with the same attempt number). Dropped, not cancelled: work the
/// attempt started elsewhere (a task it spawned into a group outside it, whose handle
/// it awaited) runs on next to the new attempt. Open a task group inside the attempt
/// for work that must go with it.
///
/// ```
/// use std::time::Duration;
///
/// let rt = pride::Runtime::builder().clock(pride::time::Clock::autojump()).build().unwrap();
/// rt.block_on(async {
///     let policy = pride::Retry::new(5).backoff(Duration::from_secs(1)).timeout(Duration::from_secs(10));
///     let value = pride::retry(policy, |attempt| async move {
///         if attempt < 2 { Err("not yet") } else { Ok(attempt) }
///     })
///     .await
///     .unwrap();
///     assert_eq!(value, 2);
/// });
/// ```
#[doc(alias("backoff", "tokio_retry"))]
pub fn retry<M, Fut, T>(policy: Retry, mut f: M) -> RetryFuture<T>
where
    M: FnMut(u32) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput<Ok = T>,
    T: Send + 'static,
{
    RetryFuture {
        inner: Box::pin(async move {
            let mut rng = fastrand::Rng::new();
            // `max_backoff` caps every wait, the first one too.
            let mut backoff = policy.backoff.min(policy.max_backoff);
            let mut attempt = 0;
            loop {
                // Each attempt in a scope of its own, with the attempt's timeout if
                // any: a `None` the scope did not catch tells a cancel from further
                // out (see below) from the attempt's own outcome, also when the
                // attempt is a task group or a start, which, awaited again after that
                // cancel, would give an error of their own.
                let scope = match policy.timeout {
                    Some(timeout) => CancelScope::with_timeout(timeout),
                    None => CancelScope::new(),
                };
                let outcome = match scope.clone().run(f(attempt)).await {
                    Some(output) => output.into_result(),
                    None if scope.cancelled_caught() => Err(Box::new(TimeoutError(())) as BoxError),
                    // A cancel from further out dropped the attempt, and this retry,
                    // held by reference, is awaited again after the scope that caught
                    // it: the attempt had no outcome, so it starts over.
                    None => continue,
                };
                let error = match outcome {
                    Ok(value) => return Ok(value),
                    Err(error) => error,
                };
                attempt += 1;
                let retryable =
                    !holds_panic(&*error) && policy.retry_if.as_ref().is_none_or(|p| p(&*error));
                if attempt == policy.attempts || !retryable {
                    return Err(RetryError {
                        attempts: attempt,
                        last: error,
                    });
                }
                let wait = if policy.jitter {
                    // Spread the wait over [backoff / 2, backoff].
                    let half = backoff / 2;
                    half + half.mul_f64(rng.f64())
                } else {
                    backoff
                };
                sleep(wait).await;
                backoff = backoff.saturating_mul(2).min(policy.max_backoff);
            }
        }),
    }
}

/// Whether `error` is, or holds, a task's panic: a [`GroupError`] with a panic among
/// its entries (or in an entry's own error, nested groups included), or a
/// [`TaskError`] that is one, also further down an error's sources. Each error is
/// looked at once: a `source()` that leads back to an error seen ends that path.
fn holds_panic(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut left: Vec<&(dyn std::error::Error + 'static)> = vec![error];
    while let Some(error) = left.pop() {
        if !seen.insert(std::ptr::from_ref(error)) {
            continue;
        }
        if let Some(group) = error.downcast_ref::<GroupError>() {
            for entry in group.errors() {
                if entry.is_panic() {
                    return true;
                }
                if let Some(inner) = entry.error() {
                    left.push(inner);
                }
            }
        } else if let Some(task) = error.downcast_ref::<TaskError>() {
            if task.is_panic() {
                return true;
            }
            if let Some(inner) = task.error() {
                left.push(inner);
            }
        } else {
            left.extend(error.source());
        }
    }
    false
}

/// The future of [`retry`].
#[must_use = "futures do nothing unless awaited"]
pub struct RetryFuture<T> {
    inner: Pin<Box<dyn Future<Output = Result<T, RetryError>> + Send>>,
}

impl<T> Future for RetryFuture<T> {
    type Output = Result<T, RetryError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<T> fmt::Debug for RetryFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryFuture").finish_non_exhaustive()
    }
}

/// Every attempt of a [`retry`] failed; holds the last attempt's error.
///
/// ```
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::autojump())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let error = pride::retry(pride::Retry::new(3), |attempt| async move {
///         Err::<(), _>(format!("attempt {attempt} failed"))
///     })
///     .await
///     .unwrap_err();
///     assert_eq!(error.attempts(), 3);
///     assert_eq!(error.last_error().to_string(), "attempt 2 failed");
/// });
/// ```
#[derive(Debug)]
pub struct RetryError {
    attempts: u32,
    last: BoxError,
}

impl RetryError {
    /// How many attempts were made: all the policy allowed, or fewer if an attempt
    /// failed with an error the policy does not retry.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The last attempt's error.
    pub fn last_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.last.as_ref()
    }

    /// Takes the last attempt's error.
    pub fn into_last_error(self) -> BoxError {
        self.last
    }

    /// Whether the last attempt timed out.
    pub fn is_timeout(&self) -> bool {
        self.last.is::<TimeoutError>()
    }
}

impl fmt::Display for RetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gave up after {} attempt(s): {}",
            self.attempts, self.last
        )
    }
}

impl std::error::Error for RetryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.last.as_ref())
    }
}
