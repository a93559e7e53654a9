//! `retry`: success after failures, backoff measured in mock time (autojump clock, so
//! `current_time()` deltas are exact), jitter bounds, per-attempt timeouts, giving up,
//! and cancellation from outside.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{Counter, MyError, autojump};
use parking_lot::Mutex;
use pride::{BoxError, Retry, TimeoutError, current_time, move_on_after, retry, sleep};

const HOUR: Duration = Duration::from_secs(3600);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Records the mock time at which each attempt starts.
#[derive(Clone, Default)]
struct Starts(Arc<Mutex<Vec<Instant>>>);

impl Starts {
    fn record(&self) {
        self.0.lock().push(current_time());
    }

    /// The waits between consecutive attempts.
    fn gaps(&self) -> Vec<Duration> {
        self.0.lock().windows(2).map(|w| w[1] - w[0]).collect()
    }
}

#[test]
fn retry_succeeds_after_failures() {
    let calls = Counter::new();
    let c = calls.clone();
    let (value, elapsed) = autojump(30, move || async move {
        let start = current_time();
        let policy = Retry::new(5).backoff(ms(100)).jitter(false);
        let value = retry(policy, move |attempt| {
            c.inc();
            async move {
                if attempt < 3 {
                    Err(MyError(attempt))
                } else {
                    Ok(attempt * 10)
                }
            }
        })
        .await;
        (value.unwrap(), current_time() - start)
    });
    assert_eq!(value, 30);
    assert_eq!(calls.get(), 4);
    // Three waits: 100 + 200 + 400 ms.
    assert_eq!(elapsed, ms(700));
}

#[test]
fn retry_backoff_doubles_up_to_the_cap_in_mock_time() {
    let starts = Starts::default();
    let s = starts.clone();
    let error = autojump(30, move || async move {
        let policy = Retry::new(6)
            .backoff(ms(1_000))
            .max_backoff(ms(5_000))
            .jitter(false);
        retry(policy, move |attempt| {
            s.record();
            async move { Err::<(), _>(MyError(attempt)) }
        })
        .await
        .unwrap_err()
    });
    assert_eq!(
        starts.gaps(),
        [ms(1_000), ms(2_000), ms(4_000), ms(5_000), ms(5_000)]
    );
    assert_eq!(error.attempts(), 6);
    assert!(!error.is_timeout());
}

/// `max_backoff` caps every wait, the first one too: a first backoff above the cap
/// waits only the cap.
#[test]
fn retry_first_wait_is_capped_by_max_backoff() {
    let starts = Starts::default();
    let s = starts.clone();
    autojump(30, move || async move {
        let policy = Retry::new(3)
            .backoff(ms(10_000))
            .max_backoff(ms(1_000))
            .jitter(false);
        retry(policy, move |attempt| {
            s.record();
            async move { Err::<(), _>(MyError(attempt)) }
        })
        .await
        .unwrap_err()
    });
    assert_eq!(starts.gaps(), [ms(1_000), ms(1_000)]);
}

#[test]
fn retry_jitter_keeps_each_wait_within_half_and_full_backoff() {
    let mut below_full = 0;
    for _ in 0..8 {
        let starts = Starts::default();
        let s = starts.clone();
        autojump(30, move || async move {
            let policy = Retry::new(7)
                .backoff(ms(1_000))
                .max_backoff(ms(16_000))
                .jitter(true);
            let error = retry(policy, move |_| {
                s.record();
                async { Err::<(), _>(MyError(0)) }
            })
            .await
            .unwrap_err();
            assert_eq!(error.attempts(), 7);
        });
        let gaps = starts.gaps();
        assert_eq!(gaps.len(), 6);
        let mut backoff = ms(1_000);
        for gap in gaps {
            assert!(
                backoff / 2 <= gap && gap <= backoff,
                "a wait of {gap:?} for a backoff of {backoff:?}"
            );
            below_full += usize::from(gap < backoff);
            backoff = (backoff * 2).min(ms(16_000));
        }
    }
    // 48 waits drawn at random (the last of each run at the 16 s cap): jitter really
    // spreads them.
    assert!(below_full > 0, "every wait was the full backoff");
}

#[test]
fn retry_timed_out_attempt_counts_as_failed() {
    let attempts = Counter::new();
    let c = attempts.clone();
    let (error, elapsed) = autojump(30, move || async move {
        let start = current_time();
        let policy = Retry::new(3)
            .timeout(ms(1_000))
            .backoff(ms(1_000))
            .jitter(false);
        let error = retry(policy, move |_| {
            let guard = c.drop_guard();
            async move {
                let _guard = guard;
                sleep(HOUR).await;
                Ok::<_, BoxError>(())
            }
        })
        .await
        .unwrap_err();
        (error, current_time() - start)
    });
    assert!(error.is_timeout());
    assert!(error.last_error().is::<TimeoutError>());
    assert_eq!(error.attempts(), 3);
    // Every timed-out attempt was dropped.
    assert_eq!(attempts.get(), 3);
    // Three 1 s attempts and waits of 1 s and 2 s between them.
    assert_eq!(elapsed, ms(6_000));
}

#[test]
fn retry_succeeds_after_a_timed_out_attempt() {
    let value = autojump(30, || async {
        let policy = Retry::new(3).timeout(ms(1_000)).backoff(ms(10));
        retry(policy, |attempt| async move {
            if attempt == 0 {
                sleep(HOUR).await;
            }
            Ok::<_, BoxError>(attempt)
        })
        .await
    });
    assert_eq!(value.unwrap(), 1);
}

#[test]
fn retry_gives_up_with_the_last_error_and_the_attempt_count() {
    let error = autojump(30, || async {
        let policy = Retry::new(4).backoff(ms(1));
        retry(
            policy,
            |attempt| async move { Err::<u32, _>(MyError(attempt)) },
        )
        .await
        .unwrap_err()
    });
    assert_eq!(error.attempts(), 4);
    assert!(!error.is_timeout());
    assert_eq!(
        error.last_error().downcast_ref::<MyError>(),
        Some(&MyError(3))
    );
    let text = error.to_string();
    assert!(
        text.contains("4 attempt") && text.contains("my error 3"),
        "{text}"
    );
    let last: BoxError = error.into_last_error();
    assert_eq!(last.downcast_ref::<MyError>(), Some(&MyError(3)));
}

#[test]
fn retry_with_one_attempt_does_not_wait() {
    let (error, elapsed) = autojump(30, || async {
        let start = current_time();
        let error = retry(Retry::new(1).backoff(HOUR), |_| async {
            Err::<(), _>(MyError(9))
        })
        .await
        .unwrap_err();
        (error, current_time() - start)
    });
    assert_eq!(error.attempts(), 1);
    assert_eq!(elapsed, Duration::ZERO);
}

#[test]
#[should_panic(expected = "at least one attempt")]
fn retry_with_zero_attempts_panics() {
    let _ = Retry::new(0);
}

#[test]
fn retry_cancelled_from_outside_during_an_attempt_drops_it() {
    let (calls, drops) = (Counter::new(), Counter::new());
    let (c, d) = (calls.clone(), drops.clone());
    let out = autojump(30, move || async move {
        let policy = Retry::new(5).backoff(ms(10));
        move_on_after(
            ms(1_000),
            retry(policy, move |_| {
                c.inc();
                let guard = d.drop_guard();
                async move {
                    let _guard = guard;
                    sleep(HOUR).await;
                    Ok::<_, BoxError>(())
                }
            }),
        )
        .await
        .map(|r| r.is_ok())
    });
    assert_eq!(out, None);
    assert_eq!(calls.get(), 1);
    assert_eq!(drops.get(), 1);
}

#[test]
fn retry_cancelled_from_outside_during_a_backoff_stops_retrying() {
    let starts = Starts::default();
    let s = starts.clone();
    let (out, elapsed) = autojump(30, move || async move {
        let start = current_time();
        let policy = Retry::new(5).backoff(ms(10_000)).jitter(false);
        let out = move_on_after(
            ms(15_000),
            retry(policy, move |attempt| {
                s.record();
                async move { Err::<(), _>(MyError(attempt)) }
            }),
        )
        .await
        .map(|r| r.is_ok());
        // Nothing runs after the scope: no attempt starts later.
        sleep(HOUR).await;
        (out, current_time() - start)
    });
    assert_eq!(out, None);
    // Attempts at 0 s and 10 s; the 20 s wait was cut at 15 s.
    assert_eq!(starts.gaps(), [ms(10_000)]);
    assert_eq!(elapsed, ms(15_000) + HOUR);
}

#[test]
fn retry_if_stops_at_the_first_error_it_rejects() {
    let starts = Starts::default();
    let s = starts.clone();
    let error = autojump(30, move || async move {
        // Errors below 2 are retried; 2 is not.
        let policy = Retry::new(10)
            .backoff(ms(100))
            .jitter(false)
            .retry_if(|e| e.downcast_ref::<MyError>().is_some_and(|e| e.0 < 2));
        retry(policy, move |attempt| {
            s.record();
            async move { Err::<(), _>(MyError(attempt)) }
        })
        .await
        .unwrap_err()
    });
    assert_eq!(error.attempts(), 3);
    assert_eq!(
        error.last_error().downcast_ref::<MyError>(),
        Some(&MyError(2))
    );
    // Two waits, none after the rejected error.
    assert_eq!(starts.gaps(), [ms(100), ms(200)]);
}

#[test]
fn retry_if_sees_timeouts_and_can_refuse_them() {
    let calls = Counter::new();
    let c = calls.clone();
    let error = autojump(30, move || async move {
        let policy = Retry::new(5)
            .timeout(ms(1_000))
            .retry_if(|e| !e.is::<TimeoutError>());
        retry(policy, move |_| {
            c.inc();
            async {
                sleep(HOUR).await;
                Ok::<_, BoxError>(())
            }
        })
        .await
        .unwrap_err()
    });
    assert!(error.is_timeout());
    assert_eq!(error.attempts(), 1);
    assert_eq!(calls.get(), 1);
}

#[test]
fn retry_if_accepting_everything_retries_to_success() {
    let value = autojump(30, || async {
        let policy = Retry::new(4).backoff(ms(1)).retry_if(|_| true);
        retry(policy, |attempt| async move {
            if attempt < 3 {
                Err(MyError(attempt))
            } else {
                Ok(attempt)
            }
        })
        .await
    });
    assert_eq!(value.unwrap(), 3);
}

/// `retry` runs its attempts on the caller's task, in no group: a panicking attempt is
/// not caught, and unwinds through the caller after the first attempt.
#[test]
fn a_panicking_attempt_unwinds_through_the_caller() {
    let attempts = Counter::new();
    let seen = attempts.clone();
    let caught = autojump(20, move || async move {
        let attempt = retry(Retry::new(3), move |_| {
            seen.inc();
            async {
                if true {
                    panic!("attempt panicked");
                }
                Ok::<(), BoxError>(())
            }
        });
        futures_lite::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(attempt))
            .await
            .map_err(|payload| crate::common::panic_text(&*payload).to_owned())
    });
    assert_eq!(caught.unwrap_err(), "attempt panicked");
    assert_eq!(attempts.get(), 1);
}

/// A panic in the `Drop` of an attempt that its timeout dropped is no failed attempt
/// either: it unwinds through the caller, and no other attempt runs.
#[test]
fn a_panic_in_the_drop_of_a_timed_out_attempt_unwinds_through_the_caller() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("attempt cleanup panicked");
        }
    }
    let attempts = Counter::new();
    let seen = attempts.clone();
    let caught = autojump(20, move || async move {
        let policy = Retry::new(3).timeout(ms(100)).jitter(false);
        let attempt = retry(policy, move |_| {
            seen.inc();
            async {
                let _guard = PanicOnDrop;
                sleep(HOUR).await;
                Ok::<(), BoxError>(())
            }
        });
        futures_lite::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(attempt))
            .await
            .map_err(|payload| crate::common::panic_text(&*payload).to_owned())
    });
    assert_eq!(caught.unwrap_err(), "attempt cleanup panicked");
    assert_eq!(attempts.get(), 1);
}

/// A retry held by reference inside a timeout that fires during an attempt with a
/// timeout of its own, then awaited again: the interrupted attempt had no outcome, so
/// it starts over with the same number (it does not count as failed), and the retry
/// goes on to its value.
#[test]
fn retry_awaited_again_after_an_outer_timeout_starts_the_interrupted_attempt_over() {
    let (first, value, attempts) = autojump(30, || async {
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let seen = attempts.clone();
        let policy = Retry::new(3).timeout(Duration::from_secs(10)).jitter(false);
        let mut r = std::pin::pin!(retry(policy, move |attempt| {
            seen.lock().push(attempt);
            async move {
                sleep(Duration::from_secs(5)).await;
                Ok::<u32, BoxError>(attempt)
            }
        }));
        let first = move_on_after(Duration::from_secs(1), &mut r).await;
        let value = r.await.unwrap();
        let attempts = attempts.lock().clone();
        (first.is_none(), value, attempts)
    });
    assert!(first, "the outer timeout fired first");
    assert_eq!(value, 0);
    assert_eq!(attempts, [0, 0]);
}

/// A panic that a task group in an attempt caught (a child's) is a bug, not a failed
/// attempt: the retry gives up with it at once, also when the policy would retry every
/// error, and also from a group nested in the attempt's group.
#[test]
fn an_attempt_whose_group_caught_a_panic_is_not_retried() {
    let attempts = Counter::new();
    let counted = attempts.clone();
    let error = autojump(30, move || async move {
        retry(Retry::new(3).retry_if(|_| true), move |_| {
            counted.inc();
            pride::task_group(async |tg| {
                tg.start_soon(pride::task_group(async |inner| {
                    inner.start_soon(async { panic!("a bug") as () });
                }));
            })
        })
        .await
        .unwrap_err()
    });
    assert_eq!(attempts.get(), 1, "the panic was retried");
    assert_eq!(error.attempts(), 1);
    let group = error
        .last_error()
        .downcast_ref::<pride::GroupError>()
        .expect("the group's error");
    assert!(group.to_string().contains("a bug"), "{group}");
}

/// The same with no timeout of the attempt's own, for an attempt that is a plain
/// future and one that is a task group (which, awaited again after the cancel, would
/// give a cancelled group's error): each interrupted attempt starts over with the same
/// number, and none counts as failed.
#[test]
fn retry_with_no_attempt_timeout_awaited_again_starts_the_interrupted_attempt_over() {
    let (plain, grouped) = autojump(30, || async {
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let seen = attempts.clone();
        let mut r = std::pin::pin!(retry(Retry::new(1), move |attempt| {
            seen.lock().push(attempt);
            async move {
                sleep(Duration::from_secs(5)).await;
                Ok::<u32, BoxError>(attempt)
            }
        }));
        assert!(
            move_on_after(Duration::from_secs(1), &mut r)
                .await
                .is_none()
        );
        let plain = (r.await.unwrap(), attempts.lock().clone());

        let attempts = Arc::new(Mutex::new(Vec::new()));
        let seen = attempts.clone();
        let mut r = std::pin::pin!(retry(Retry::new(1), move |attempt| {
            seen.lock().push(attempt);
            pride::task_group(async move |tg| {
                let child = tg.spawn(async move {
                    sleep(Duration::from_secs(5)).await;
                    Ok::<u32, BoxError>(attempt)
                });
                child.await
            })
        }));
        assert!(
            move_on_after(Duration::from_secs(1), &mut r)
                .await
                .is_none()
        );
        let grouped = match r.await {
            Ok(value) => Ok((value, attempts.lock().clone())),
            Err(error) => Err(error.to_string()),
        };
        (plain, grouped)
    });
    assert_eq!(plain, (0, vec![0, 0]));
    assert_eq!(grouped, Ok((0, vec![0, 0])));
}

/// An error whose sources lead back to itself (legal, if odd) is still retried and
/// reported: the look for a panic in it ends.
#[test]
fn an_error_whose_sources_form_a_cycle_is_retried() {
    #[derive(Debug)]
    struct Loop;
    impl std::fmt::Display for Loop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a loop")
        }
    }
    impl std::error::Error for Loop {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&Loop)
        }
    }
    let attempts = Counter::new();
    let counted = attempts.clone();
    let error = autojump(30, move || async move {
        retry(Retry::new(2), move |_| {
            counted.inc();
            async { Err::<(), _>(Loop) }
        })
        .await
        .unwrap_err()
    });
    assert_eq!(attempts.get(), 2);
    assert_eq!(error.last_error().to_string(), "a loop");
}
