//! The concurrency patterns (`gather`, `race`, `bounded_map`, `as_completed`): for each,
//! the success path, the failure path and cancellation, on a multi-threaded runtime.
//! Time is the autojump clock, so "sleep 1 h" costs nothing and `current_time()` deltas
//! are exact; drop counters check that nothing outlives the pattern. `retry` is in
//! `patterns_retry.rs`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{Counter, Flag, MyError, Rng, autojump, run, yield_until};
use futures_lite::StreamExt;
use pride::{
    BoxError, CancelScope, GroupError, as_completed, bounded_map, current_time, gather,
    move_on_after, race, sleep, task_group,
};

const HOUR: Duration = Duration::from_secs(3600);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Counts, over a batch of child futures, how many started, ran to their end, and were
/// dropped (a finished future is dropped too, so `dropped == created` means every one
/// is gone).
#[derive(Clone, Default)]
struct Tally {
    created: Counter,
    started: Counter,
    finished: Counter,
    dropped: Counter,
}

impl Tally {
    fn track<F: Future>(&self, future: F) -> impl Future<Output = F::Output> + use<F> {
        self.created.inc();
        let guard = self.dropped.drop_guard();
        let (started, finished) = (self.started.clone(), self.finished.clone());
        async move {
            let _guard = guard;
            started.inc();
            let output = future.await;
            finished.inc();
            output
        }
    }
}

/// What a test child does once its sleep is over.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Ok(u32),
    Err(u32),
    Panic,
}

/// A child that sleeps `delay` (mock time) and then does `outcome`.
fn child(
    tally: &Tally,
    delay: Duration,
    outcome: Outcome,
) -> impl Future<Output = Result<u32, BoxError>> + Send + use<> {
    tally.track(async move {
        sleep(delay).await;
        match outcome {
            Outcome::Ok(value) => Ok(value),
            Outcome::Err(code) => Err(MyError(code).into()),
            Outcome::Panic => panic!("child panicked on purpose"),
        }
    })
}

/// `future`'s output, and how long (on the runtime's clock) it took.
async fn timed<F: Future>(future: F) -> (F::Output, Duration) {
    let start = current_time();
    let output = future.await;
    (output, current_time() - start)
}

/// The `MyError` codes of a group error's entries, in order.
fn codes(error: &GroupError) -> Vec<u32> {
    error
        .errors()
        .iter()
        .map(|e| e.downcast_ref::<MyError>().expect("a MyError entry").0)
        .collect()
}

// ---------------------------------------------------------------------------------
// gather

#[test]
fn gather_returns_values_in_input_order() {
    let (values, elapsed, longest) = autojump(30, || async {
        let mut rng = Rng::new(0x9a7e);
        let delays: Vec<u64> = (0..64).map(|_| 1 + rng.below(1_000)).collect();
        let longest = *delays.iter().max().unwrap();
        let start = current_time();
        let values = gather(delays.iter().enumerate().map(|(i, &d)| async move {
            sleep(ms(d)).await;
            Ok::<_, BoxError>(i)
        }))
        .await
        .unwrap();
        (values, current_time() - start, longest)
    });
    assert_eq!(values, (0..64).collect::<Vec<_>>());
    // All ran at once: the whole gather took as long as the longest child.
    assert_eq!(elapsed, ms(longest));
}

#[test]
fn gather_first_failure_cancels_the_rest() {
    let tally = Tally::default();
    let t = tally.clone();
    let (result, elapsed) = autojump(30, move || async move {
        timed(gather((0..10).map(|i| {
            let outcome = if i == 3 {
                Outcome::Err(3)
            } else {
                Outcome::Ok(i)
            };
            child(&t, if i == 3 { ms(1_000) } else { HOUR }, outcome)
        })))
        .await
    });
    let error = result.unwrap_err();
    assert_eq!(codes(&error), [3]);
    assert!(!error.is_timeout() && !error.is_cancelled());
    assert_eq!(error.find::<MyError>(), Some(&MyError(3)));
    // Nobody waited for the hour-long siblings: they were dropped at the failure.
    assert_eq!(elapsed, ms(1_000));
    assert_eq!(tally.started.get(), 10);
    assert_eq!(tally.finished.get(), 1);
    assert_eq!(tally.dropped.get(), 10);
}

#[test]
fn gather_reports_a_panic_as_a_failure() {
    let tally = Tally::default();
    let t = tally.clone();
    let result = autojump(30, move || async move {
        gather([
            child(&t, ms(5), Outcome::Panic),
            child(&t, HOUR, Outcome::Ok(1)),
        ])
        .await
    });
    let error = result.unwrap_err();
    assert_eq!(error.errors().len(), 1);
    assert!(error.errors()[0].is_panic());
    assert_eq!(
        error.errors()[0].panic_message(),
        Some("child panicked on purpose")
    );
    assert_eq!(tally.finished.get(), 0);
    assert_eq!(tally.dropped.get(), 2);
}

#[test]
fn gather_of_nothing_is_an_empty_vec() {
    let values = autojump(30, || async {
        gather(Vec::<std::future::Ready<Result<u32, BoxError>>>::new()).await
    });
    assert_eq!(values.unwrap(), Vec::<u32>::new());
}

#[test]
fn gather_of_unit_children() {
    let done = Counter::new();
    let d = done.clone();
    let values = autojump(30, move || async move {
        gather((0..5u64).map(|i| {
            let d = d.clone();
            async move {
                sleep(ms(5 - i)).await;
                d.inc();
            }
        }))
        .await
    });
    assert_eq!(values.unwrap(), vec![(); 5]);
    assert_eq!(done.get(), 5);
}

// ---------------------------------------------------------------------------------
// race

#[test]
fn race_first_success_wins_and_the_others_are_dropped() {
    let tally = Tally::default();
    let t = tally.clone();
    let (winner, elapsed) = autojump(30, move || async move {
        timed(race([
            child(&t, ms(3_000), Outcome::Ok(3)),
            child(&t, ms(1_000), Outcome::Ok(1)),
            child(&t, ms(2_000), Outcome::Ok(2)),
            child(&t, HOUR, Outcome::Ok(4)),
        ]))
        .await
    });
    assert_eq!(winner.unwrap(), 1);
    assert_eq!(elapsed, ms(1_000));
    assert_eq!(tally.started.get(), 4);
    assert_eq!(tally.finished.get(), 1);
    assert_eq!(tally.dropped.get(), 4);
}

#[test]
fn race_failures_do_not_cancel_the_others() {
    let tally = Tally::default();
    let t = tally.clone();
    let (winner, elapsed) = autojump(30, move || async move {
        timed(race([
            child(&t, ms(1_000), Outcome::Err(1)),
            child(&t, ms(4_000), Outcome::Ok(40)),
            child(&t, ms(2_000), Outcome::Err(2)),
            child(&t, ms(3_000), Outcome::Ok(30)),
        ]))
        .await
    });
    assert_eq!(winner.unwrap(), 30);
    assert_eq!(elapsed, ms(3_000));
    // The two failures and the winner ran to the end; the 4 s one was dropped.
    assert_eq!(tally.finished.get(), 3);
    assert_eq!(tally.dropped.get(), 4);
}

/// A panic fails the race at once, and the failures that came before it are kept.
#[test]
fn race_failed_by_a_panic_keeps_the_failures_before_it() {
    let tally = Tally::default();
    let t = tally.clone();
    let result = autojump(30, move || async move {
        race([
            child(&t, ms(1_000), Outcome::Err(1)),
            child(&t, ms(2_000), Outcome::Panic),
            child(&t, ms(3_600_000), Outcome::Ok(3)),
        ])
        .await
    });
    let error = result.unwrap_err();
    let entries = error.errors();
    assert_eq!(entries.len(), 2, "{error:?}");
    assert_eq!(entries[0].downcast_ref::<MyError>().map(|e| e.0), Some(1));
    assert!(entries[1].is_panic());
}

/// The entries of a race's error, in order: `errN` for a `MyError(N)`, `panic`.
fn entry_kinds(error: &GroupError) -> Vec<String> {
    error
        .errors()
        .iter()
        .map(|e| match e.downcast_ref::<MyError>() {
            Some(m) => format!("err{}", m.0),
            None if e.is_panic() => "panic".to_owned(),
            None => format!("other: {e}"),
        })
        .collect()
}

/// A failure that comes after the panic (a future finishing its shielded cleanup with
/// an error) is listed after it: the entries are in the order they happened.
#[test]
fn race_failed_by_a_panic_lists_a_later_failure_after_it() {
    type Attempt = std::pin::Pin<Box<dyn Future<Output = Result<u32, BoxError>> + Send>>;
    let error = autojump(30, || async {
        let futures: Vec<Attempt> = vec![
            Box::pin(async {
                sleep(ms(100)).await;
                Err(MyError(1).into())
            }),
            Box::pin(async {
                sleep(ms(200)).await;
                panic!("boom");
            }),
            Box::pin(async {
                let shield = CancelScope::new();
                shield.set_shield(true);
                shield.run(sleep(ms(300))).await;
                Err(MyError(3).into())
            }),
        ];
        race(futures).await.unwrap_err()
    });
    assert_eq!(entry_kinds(&error), ["err1", "panic", "err3"], "{error}");
}

/// A panic is never lost: a loser whose `Drop` panics as it is cancelled after the win
/// fails the race, with the failures that came before the win and then that panic. A
/// loser that finishes its shielded work after the win is cancelled work: its failure
/// is dropped with it.
#[test]
fn race_loser_cleanup_panic_after_the_win_fails_the_race() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("cleanup failed");
        }
    }
    type Attempt = std::pin::Pin<Box<dyn Future<Output = Result<u32, BoxError>> + Send>>;
    let error = autojump(30, || async {
        let futures: Vec<Attempt> = vec![
            Box::pin(async {
                sleep(ms(100)).await;
                Err(MyError(1).into())
            }),
            Box::pin(async {
                sleep(ms(200)).await;
                Ok(2)
            }),
            Box::pin(async {
                let _guard = PanicOnDrop;
                sleep(HOUR).await;
                Ok(3)
            }),
            Box::pin(async {
                let shield = CancelScope::new();
                shield.set_shield(true);
                shield.run(sleep(ms(300))).await;
                Err(MyError(4).into())
            }),
        ];
        race(futures).await.unwrap_err()
    });
    assert_eq!(entry_kinds(&error), ["err1", "panic"], "{error}");
    assert_eq!(error.errors()[1].panic_message(), Some("cleanup failed"));
}

#[test]
fn race_without_a_success_reports_every_failure_in_completion_order() {
    let tally = Tally::default();
    let t = tally.clone();
    let (result, elapsed) = autojump(30, move || async move {
        timed(race([
            child(&t, ms(3_000), Outcome::Err(3)),
            child(&t, ms(1_000), Outcome::Err(1)),
            child(&t, ms(4_000), Outcome::Err(4)),
            child(&t, ms(2_000), Outcome::Err(2)),
        ]))
        .await
    });
    let error = result.unwrap_err();
    assert_eq!(codes(&error), [1, 2, 3, 4]);
    assert!(!error.is_timeout() && !error.is_cancelled());
    assert!(error.errors().iter().all(|e| !e.is_panic()));
    assert_eq!(elapsed, ms(4_000));
    assert_eq!(tally.finished.get(), 4);
    assert_eq!(tally.dropped.get(), 4);
}

#[test]
fn race_panic_fails_the_race_at_once() {
    let tally = Tally::default();
    let t = tally.clone();
    let (result, elapsed) = autojump(30, move || async move {
        timed(race([
            child(&t, ms(2_000), Outcome::Ok(2)),
            child(&t, ms(500), Outcome::Err(1)),
            child(&t, ms(1_000), Outcome::Panic),
        ]))
        .await
    });
    let error = result.unwrap_err();
    assert!(
        error.errors().iter().any(|e| e.is_panic()),
        "the panic is in the error: {error}"
    );
    assert_eq!(elapsed, ms(1_000));
    // The would-be winner at 2 s never finished.
    assert_eq!(tally.finished.get(), 1);
    assert_eq!(tally.dropped.get(), 3);
}

/// Errors are never lost to a cancel: under a cancel from outside, a failure that a
/// shielded attempt returns after the cancel makes the race an error (after the
/// failures that came before the cancel), and that error passes out through the
/// cancelled scope.
#[test]
fn race_keeps_a_failure_after_a_cancel_from_outside() {
    type Attempt = std::pin::Pin<Box<dyn Future<Output = Result<u32, BoxError>> + Send>>;
    let tally = Tally::default();
    let t = tally.clone();
    let (out, elapsed) = autojump(30, move || async move {
        let futures: Vec<Attempt> = vec![
            Box::pin(child(&t, ms(500), Outcome::Err(1))),
            Box::pin(async {
                let shield = CancelScope::new();
                shield.set_shield(true);
                shield.run(sleep(ms(2_000))).await;
                Err(MyError(2).into())
            }),
            Box::pin(child(&t, HOUR, Outcome::Ok(3))),
        ];
        timed(move_on_after(ms(1_000), race(futures))).await
    });
    let error = out
        .expect("the failure passes out through the cancel")
        .unwrap_err();
    assert_eq!(codes(&error), [1, 2]);
    assert_eq!(elapsed, ms(2_000));
    assert_eq!(tally.finished.get(), 1);
    assert_eq!(tally.dropped.get(), 2);
}

#[test]
fn race_of_nothing_is_an_error_with_no_entries() {
    let result = autojump(30, || async {
        race(Vec::<std::future::Ready<Result<u32, BoxError>>>::new()).await
    });
    let error = result.unwrap_err();
    assert!(error.errors().is_empty());
    // Its text says so, rather than counting zero errors.
    assert_eq!(error.to_string(), "task group failed: no task ran");
}

// ---------------------------------------------------------------------------------
// bounded_map

/// Counts the futures in flight right now and the most there ever were.
#[derive(Clone, Default)]
struct HighWater {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}

impl HighWater {
    /// Enters; the count goes down when the returned guard is dropped.
    fn enter(&self) -> impl Drop + Send + use<> {
        struct Leave(Arc<AtomicUsize>);
        impl Drop for Leave {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        Leave(self.now.clone())
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

#[test]
fn bounded_map_keeps_the_limit_and_the_input_order() {
    const LIMIT: usize = 7;
    let gauge = HighWater::default();
    let g = gauge.clone();
    let values = autojump(30, move || async move {
        let mut rng = Rng::new(0xb0);
        let delays: Vec<u64> = (0..100).map(|_| 1 + rng.below(50)).collect();
        bounded_map(delays.into_iter().enumerate(), LIMIT, move |(i, d)| {
            let g = g.clone();
            async move {
                let _inside = g.enter();
                sleep(ms(d)).await;
                Ok::<_, BoxError>(i * 10)
            }
        })
        .await
    });
    assert_eq!(
        values.unwrap(),
        (0..100).map(|i| i * 10).collect::<Vec<_>>()
    );
    assert!(gauge.max() <= LIMIT, "{} in flight", gauge.max());
    // And the limit is used, not just respected.
    assert_eq!(gauge.max(), LIMIT);
    assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
}

#[test]
fn bounded_map_failure_cancels_the_rest() {
    let tally = Tally::default();
    let gauge = HighWater::default();
    let (t, g) = (tally.clone(), gauge.clone());
    let (result, elapsed) = autojump(30, move || async move {
        timed(bounded_map(0..100u32, 4, move |i| {
            let g = g.clone();
            t.track(async move {
                let _inside = g.enter();
                if i == 10 {
                    // Not at 2 s, the instant the second batch wakes: which of the
                    // tasks woken at one instant runs first is not specified.
                    sleep(ms(500)).await;
                    return Err(MyError(10));
                }
                sleep(ms(1_000)).await;
                Ok(i)
            })
        }))
        .await
    });
    let error = result.unwrap_err();
    assert_eq!(codes(&error), [10]);
    // Batches of four at 0 s and 1 s finished; item 10 (started at 2 s) failed at
    // 2.5 s (it finished too, with its error), and its running neighbours were
    // dropped at once.
    assert_eq!(elapsed, ms(2_500));
    assert_eq!(tally.finished.get(), 9);
    // Items become tasks only as slots free up: at most the third batch started
    // (items 8..=11), and `f` ran at most one item ahead of the free slots.
    let (started, created) = (tally.started.get(), tally.created.get());
    assert!((11..=12).contains(&started), "{started} started");
    assert!(
        created <= started + 1,
        "{created} made for {started} started"
    );
    assert_eq!(tally.dropped.get(), created);
    assert!(gauge.max() <= 4);
}

#[test]
#[should_panic(expected = "at least 1")]
fn bounded_map_with_limit_zero_panics() {
    drop(bounded_map(
        0..3,
        0,
        |i| async move { Ok::<_, BoxError>(i) },
    ));
}

#[test]
fn bounded_map_of_nothing_is_an_empty_vec() {
    let values = autojump(30, || async {
        bounded_map(
            Vec::<u32>::new(),
            3,
            |i| async move { Ok::<_, BoxError>(i) },
        )
        .await
    });
    assert_eq!(values.unwrap(), Vec::<u32>::new());
}

// ---------------------------------------------------------------------------------
// as_completed

#[test]
fn as_completed_yields_in_completion_order_and_ends() {
    let (order, elapsed) = autojump(30, || async {
        let mut rng = Rng::new(0xac);
        // A shuffled 1..=32: distinct delays, so the completion order is defined.
        let mut delays: Vec<u64> = (1..=32).collect();
        for i in (1..delays.len()).rev() {
            delays.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let start = current_time();
        let order = task_group(async |tg| {
            let mut done = as_completed(
                &tg,
                delays.iter().map(|&d| async move {
                    sleep(ms(d * 10)).await;
                    Ok::<_, BoxError>(d)
                }),
            );
            let mut order = Vec::new();
            while let Some(d) = done.next().await {
                order.push(d);
            }
            Ok::<_, BoxError>(order)
        })
        .await
        .unwrap();
        (order, current_time() - start)
    });
    assert_eq!(order, (1..=32).collect::<Vec<_>>());
    assert_eq!(elapsed, ms(320));
}

#[test]
fn as_completed_failure_goes_to_the_group() {
    let tally = Tally::default();
    let got = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let after_loop = Flag::new();
    let (t, g, a) = (tally.clone(), got.clone(), after_loop.clone());
    let result = autojump(30, move || async move {
        task_group(async |tg| {
            let mut done = as_completed(
                &tg,
                [
                    child(&t, ms(1_000), Outcome::Ok(1)),
                    child(&t, ms(2_000), Outcome::Err(2)),
                    child(&t, ms(3_000), Outcome::Ok(3)),
                ],
            );
            while let Some(v) = done.next().await {
                g.lock().push(v);
            }
            a.set();
        })
        .await
    });
    let error = result.unwrap_err();
    assert_eq!(codes(&error), [2]);
    assert_eq!(*got.lock(), [1]);
    // The reader was cancelled with the group, and the 3 s child was dropped.
    assert!(!after_loop.is_set());
    assert_eq!(tally.finished.get(), 2);
    assert_eq!(tally.dropped.get(), 3);
}

#[test]
fn as_completed_of_nothing_ends_at_once() {
    let count = autojump(30, || async {
        task_group(async |tg| {
            let done = as_completed(&tg, Vec::<std::future::Ready<Result<u32, BoxError>>>::new());
            Ok::<_, BoxError>(done.count().await)
        })
        .await
        .unwrap()
    });
    assert_eq!(count, 0);
}

// ---------------------------------------------------------------------------------
// Cancellation of a whole pattern from outside

/// `n` children that would sleep an hour each.
fn sleepers(tally: &Tally, n: u32) -> Vec<impl Future<Output = Result<u32, BoxError>> + use<>> {
    (0..n).map(|i| child(tally, HOUR, Outcome::Ok(i))).collect()
}

#[test]
fn gather_cancelled_by_a_deadline_drops_every_child() {
    let tally = Tally::default();
    let t = tally.clone();
    let (out, elapsed) = autojump(30, move || async move {
        let start = current_time();
        let out = move_on_after(ms(1_000), gather(sleepers(&t, 10))).await;
        (out.map(|r| r.is_ok()), current_time() - start)
    });
    assert_eq!(out, None);
    assert_eq!(elapsed, ms(1_000));
    assert_eq!(tally.started.get(), 10);
    assert_eq!(tally.finished.get(), 0);
    assert_eq!(tally.dropped.get(), 10);
}

#[test]
fn race_cancelled_by_a_deadline_drops_every_child() {
    let tally = Tally::default();
    let t = tally.clone();
    let out = autojump(30, move || async move {
        move_on_after(ms(1_000), race(sleepers(&t, 10)))
            .await
            .map(|r| r.is_ok())
    });
    assert_eq!(out, None);
    assert_eq!(tally.started.get(), 10);
    assert_eq!(tally.finished.get(), 0);
    assert_eq!(tally.dropped.get(), 10);
}

#[test]
fn bounded_map_cancelled_by_a_deadline_drops_every_child() {
    let tally = Tally::default();
    let t = tally.clone();
    let out = autojump(30, move || async move {
        move_on_after(
            ms(1_000),
            bounded_map(0..10, 3, move |i| t.track(hour_sleeper(i))),
        )
        .await
        .map(|r| r.is_ok())
    });
    assert_eq!(out, None);
    // Only the limit's worth started (`f` may have made the next one, waiting for a
    // slot); every one made is gone.
    assert_eq!(tally.started.get(), 3);
    assert!(tally.created.get() <= 4);
    assert_eq!(tally.finished.get(), 0);
    assert_eq!(tally.dropped.get(), tally.created.get());
}

async fn hour_sleeper(i: u32) -> Result<u32, BoxError> {
    sleep(HOUR).await;
    Ok(i)
}

#[test]
fn as_completed_cancelled_by_a_deadline_drops_every_child() {
    let tally = Tally::default();
    let t = tally.clone();
    let out = autojump(30, move || async move {
        move_on_after(
            ms(1_000),
            task_group(async |tg| {
                Ok::<_, BoxError>(as_completed(&tg, sleepers(&t, 10)).count().await)
            }),
        )
        .await
        .map(|r| r.is_ok())
    });
    assert_eq!(out, None);
    assert_eq!(tally.started.get(), 10);
    assert_eq!(tally.finished.get(), 0);
    assert_eq!(tally.dropped.get(), 10);
}

/// A sibling on another worker cancels the scope around a pattern while its children
/// are blocked: every child is gone by the time the scope's `run` returns.
#[test]
fn patterns_cancelled_by_a_sibling_drop_every_child() {
    for which in 0..3 {
        let tally = Tally::default();
        let t = tally.clone();
        run(2, 30, move || async move {
            let scope = CancelScope::new();
            task_group(async |tg| {
                let (s, t2) = (scope.clone(), t.clone());
                tg.start_soon(async move {
                    let t4 = t2.clone();
                    let out = match which {
                        0 => s.run(gather(sleepers(&t2, 16))).await.map(|r| r.is_ok()),
                        1 => s.run(race(sleepers(&t2, 16))).await.map(|r| r.is_ok()),
                        _ => s
                            .run(bounded_map(0..16, 16, move |i| t4.track(hour_sleeper(i))))
                            .await
                            .map(|r| r.is_ok()),
                    };
                    assert_eq!(out, None);
                    assert_eq!(t2.dropped.get(), 16, "pattern {which}");
                });
                let t3 = t.clone();
                tg.start_soon(async move {
                    yield_until(|| t3.started.get() == 16).await;
                    scope.cancel();
                });
            })
            .await
            .unwrap();
        });
        assert_eq!(tally.created.get(), 16);
        assert_eq!(tally.finished.get(), 0);
        assert_eq!(tally.dropped.get(), 16);
    }
}

// ---------------------------------------------------------------------------------
// Send-ness: a child awaiting each pattern with `BoxError` outputs is still `Send`.

fn assert_send<F: Future + Send>(future: F) -> F {
    future
}

#[test]
fn children_awaiting_patterns_are_send() {
    let total = autojump(30, || async {
        let total = Arc::new(AtomicUsize::new(0));
        task_group(async |tg| {
            let sum = total.clone();
            tg.start_soon(assert_send(async move {
                let values =
                    gather((1..=3).map(|i| async move { Ok::<usize, BoxError>(i) })).await?;
                sum.fetch_add(values.iter().sum(), Ordering::SeqCst);
                Ok::<(), BoxError>(())
            }));
            let sum = total.clone();
            tg.start_soon(assert_send(async move {
                let winner = race((1..=3).map(|i| async move {
                    sleep(ms(i as u64)).await;
                    Ok::<usize, BoxError>(i * 10)
                }))
                .await?;
                sum.fetch_add(winner, Ordering::SeqCst);
                Ok::<(), BoxError>(())
            }));
            let sum = total.clone();
            tg.start_soon(assert_send(async move {
                let values =
                    bounded_map(
                        1..=3usize,
                        2,
                        |i| async move { Ok::<usize, BoxError>(i * 100) },
                    )
                    .await?;
                sum.fetch_add(values.iter().sum(), Ordering::SeqCst);
                Ok::<(), BoxError>(())
            }));
            let sum = total.clone();
            tg.start_soon(assert_send(async move {
                let value = pride::retry(pride::Retry::new(2), |attempt| async move {
                    Ok::<usize, BoxError>(1_000 + attempt as usize)
                })
                .await?;
                sum.fetch_add(value, Ordering::SeqCst);
                Ok::<(), BoxError>(())
            }));
            let sum = total.clone();
            tg.start_soon(assert_send(async move {
                let values = task_group(async |inner| {
                    let values: Vec<usize> = as_completed(
                        &inner,
                        (1..=3usize).map(|i| async move { Ok::<usize, BoxError>(i * 10_000) }),
                    )
                    .collect()
                    .await;
                    Ok::<_, BoxError>(values)
                })
                .await?;
                sum.fetch_add(values.iter().sum(), Ordering::SeqCst);
                Ok::<(), BoxError>(())
            }));
        })
        .await
        .unwrap();
        total.load(Ordering::SeqCst)
    });
    assert_eq!(total, 6 + 10 + 600 + 1_000 + 60_000);
}

/// `as_completed` on a group that has exited panics, as `start_soon` does, at the
/// caller's line.
#[test]
fn as_completed_on_an_exited_group_panics() {
    let message = run(2, 30, || async {
        let mut kept = None;
        task_group(async |tg| {
            kept = Some(tg.clone());
        })
        .await
        .unwrap();
        let tg = kept.unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(as_completed(&tg, [async { Ok::<_, BoxError>(1) }]));
        }));
        crate::common::panic_text(&*caught.unwrap_err()).to_owned()
    });
    assert!(message.contains("exited"), "{message}");
}

// ---------------------------------------------------------------------------------
// names

/// The names of a group error's entries, in order.
fn names(error: &GroupError) -> Vec<Option<String>> {
    error
        .errors()
        .iter()
        .map(|e| e.name().map(str::to_owned))
        .collect()
}

/// Each pattern names its tasks after itself and their input's position, so that an
/// error says which input failed.
#[test]
fn a_patterns_errors_name_the_input_that_failed() {
    let tally = Tally::default();
    let t = tally.clone();
    let (gathered, raced, mapped, completed) = autojump(30, move || async move {
        let gathered = gather([
            child(&t, ms(2), Outcome::Ok(0)),
            child(&t, ms(1), Outcome::Err(1)),
        ])
        .await
        .unwrap_err();
        let raced = race([
            child(&t, ms(1), Outcome::Err(2)),
            child(&t, ms(2), Outcome::Err(3)),
        ])
        .await
        .unwrap_err();
        let mapped = bounded_map([0, 1, 2], 2, |i| async move {
            if i == 2 { Err(MyError(i)) } else { Ok(i) }
        })
        .await
        .unwrap_err();
        let completed = task_group(async |tg| {
            let mut results = as_completed(
                &tg,
                [
                    child(&t, ms(1), Outcome::Ok(4)),
                    child(&t, ms(2), Outcome::Panic),
                ],
            );
            while results.next().await.is_some() {}
        })
        .await
        .unwrap_err();
        (gathered, raced, mapped, completed)
    });
    assert_eq!(names(&gathered), [Some("gather[1]".to_owned())]);
    assert_eq!(
        names(&raced),
        [Some("race[0]".to_owned()), Some("race[1]".to_owned())]
    );
    assert_eq!(names(&mapped), [Some("bounded_map[2]".to_owned())]);
    assert_eq!(names(&completed), [Some("as_completed[1]".to_owned())]);
    assert!(gathered.to_string().contains("gather[1]"), "{gathered}");
}
