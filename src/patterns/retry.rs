//! `retry`: attempts with exponential backoff, jitter and a per-attempt timeout.

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::{BoxError, TaskOutput, TimeoutError, fail_after, sleep};

/// How [`retry`] retries: the number of attempts, the backoff between them (doubling
/// from `backoff` up to `max_backoff`, each wait drawn at random from its upper half
/// when `jitter` is on), and an optional timeout per attempt.
#[derive(Debug, Clone)]
pub struct Retry {
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
    jitter: bool,
    timeout: Option<Duration>,
}

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
        }
    }

    /// The wait after the first failed attempt; it doubles after each one.
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

    /// A timeout for each attempt (with [`fail_after`]): an attempt that takes longer
    /// is dropped and counts as failed with a [`TimeoutError`].
    pub fn timeout(mut self, timeout: Duration) -> Retry {
        self.timeout = Some(timeout);
        self
    }
}

/// Runs `f(attempt)` (attempts count from 0) until it succeeds or `policy`'s attempts
/// run out, waiting between attempts. Gives up with a [`RetryError`] holding the last
/// attempt's error, which is a [`TimeoutError`] if that attempt timed out: a failure is
/// never silent.
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
pub fn retry<M, Fut, T>(policy: Retry, mut f: M) -> RetryFuture<T>
where
    M: FnMut(u32) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput<Ok = T>,
    T: Send + 'static,
{
    RetryFuture {
        inner: Box::pin(async move {
            let mut rng = std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
                | 1;
            let mut backoff = policy.backoff;
            let mut last = None;
            for attempt in 0..policy.attempts {
                let outcome = match policy.timeout {
                    Some(timeout) => match fail_after(timeout, f(attempt)).await {
                        Ok(output) => output.into_result(),
                        Err(timeout) => Err(Box::new(timeout) as BoxError),
                    },
                    None => f(attempt).await.into_result(),
                };
                match outcome {
                    Ok(value) => return Ok(value),
                    Err(error) => last = Some(error),
                }
                if attempt + 1 < policy.attempts {
                    let wait = if policy.jitter {
                        // xorshift64: spread the wait over [backoff / 2, backoff].
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let half = backoff / 2;
                        half + half.mul_f64((rng >> 11) as f64 / (1u64 << 53) as f64)
                    } else {
                        backoff
                    };
                    sleep(wait).await;
                    backoff = backoff.saturating_mul(2).min(policy.max_backoff);
                }
            }
            Err(RetryError {
                attempts: policy.attempts,
                last: last.expect("pride: at least one attempt ran"),
            })
        }),
    }
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
#[derive(Debug)]
pub struct RetryError {
    attempts: u32,
    last: BoxError,
}

impl RetryError {
    /// How many attempts were made.
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
