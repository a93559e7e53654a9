//! Retry with a timeout per attempt and exponential backoff.
//!
//! A retry loop must not fall through silently when its last attempt times out. Here
//! each attempt runs under `fail_after`, so a timed-out attempt is an error like any
//! other: it is reported, the next attempt waits 1 s, 2 s, 4 s, …, and when every
//! attempt has failed the last error is returned — never a silent `None`.
//!
//! The durations (10 s timeout, backoff in seconds) run on `Clock::autojump()`: the
//! program finishes at once and prints exact mock times.
//! Run it with `cargo run --example timeout_retry`.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pride::time::Clock;
use pride::{BoxError, TimeoutError, current_time, fail_after, sleep};

/// Every attempt failed; `last` is the last attempt's error (a `TimeoutError` if it
/// timed out).
#[derive(Debug)]
struct RetriesExhausted {
    attempts: u32,
    last: BoxError,
}

impl fmt::Display for RetriesExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed after {} attempts: {}", self.attempts, self.last)
    }
}

impl std::error::Error for RetriesExhausted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.last)
    }
}

/// Runs `attempt(n)` for n = 1, 2, … up to `max_retries` times, each under `timeout`,
/// waiting 2^(n-1) s between attempts.
async fn with_timeout_and_retry<T, F, Fut>(
    mut attempt: F,
    timeout: Duration,
    max_retries: u32,
) -> Result<T, RetriesExhausted>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, BoxError>>,
{
    assert!(max_retries > 0, "at least one attempt");
    let mut n = 1;
    loop {
        let error: BoxError = match fail_after(timeout, attempt(n)).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error,
            Err(timed_out) => Box::new(timed_out),
        };
        if n == max_retries {
            return Err(RetriesExhausted {
                attempts: n,
                last: error,
            });
        }
        let backoff = Duration::from_secs(1 << (n - 1));
        if error.is::<TimeoutError>() {
            println!("  attempt {n} timed out after {timeout:?}; retrying in {backoff:?}");
        } else {
            println!("  attempt {n} failed: {error}; retrying in {backoff:?}");
        }
        sleep(backoff).await;
        n += 1;
    }
}

/// A flaky API: the first call hangs, the second fails, the third answers.
async fn flaky_api_call(endpoint: &str, calls: &AtomicU32) -> Result<String, BoxError> {
    match calls.fetch_add(1, Ordering::SeqCst) {
        0 => {
            sleep(Duration::from_secs(3600)).await; // hangs: the timeout ends it
            unreachable!("dropped by the attempt's timeout")
        }
        1 => {
            sleep(Duration::from_secs(1)).await;
            Err(format!("{endpoint}: 503 Service Unavailable").into())
        }
        _ => {
            sleep(Duration::from_secs(2)).await;
            Ok(format!(
                r#"{{"endpoint": "{endpoint}", "data": [1, 2, 3]}}"#
            ))
        }
    }
}

fn report<T: fmt::Debug>(start: Instant, result: Result<T, RetriesExhausted>) {
    let at = current_time() - start;
    match result {
        Ok(data) => println!("  got data after {at:?}: {data:?}"),
        Err(e) => {
            let timed_out = e.last.downcast_ref::<TimeoutError>().is_some();
            println!(
                "  API call failed after retries ({at:?}): {e} (last attempt timed out: {timed_out})"
            );
        }
    }
}

fn main() -> std::io::Result<()> {
    let rt = pride::Runtime::builder().clock(Clock::autojump()).build()?;
    rt.block_on(async {
        let timeout = Duration::from_secs(10);
        let endpoint = "https://api.example.com/data";

        println!("a flaky API, 3 attempts:");
        let (start, calls) = (current_time(), AtomicU32::new(0));
        let result = with_timeout_and_retry(|_| flaky_api_call(endpoint, &calls), timeout, 3).await;
        report(start, result);

        println!("an API that always hangs, 3 attempts:");
        let start = current_time();
        let result = with_timeout_and_retry(
            |n| async move {
                println!("  attempt {n} starts at {:?}", current_time() - start);
                sleep(Duration::from_secs(3600)).await;
                Ok::<_, BoxError>("never")
            },
            timeout,
            3,
        )
        .await;
        report(start, result);
    });
    Ok(())
}
