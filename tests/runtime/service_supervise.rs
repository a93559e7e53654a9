//! Supervisors: restart policies, backoff, restart budget, readiness. Autojump clock:
//! backoffs and windows pass at once, and the times are exact.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pride::{RestartPolicy, supervise};

fn autojump() -> pride::Runtime {
    pride::Runtime::builder()
        .worker_threads(2)
        .clock(pride::time::Clock::autojump())
        .build()
        .unwrap()
}

struct Dropped(Arc<AtomicUsize>);
impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Panics when dropped: a cleanup that fails while its task is cancelled.
struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("cleanup failed");
        }
    }
}

#[test]
fn one_for_one_restarts_only_the_failed_child_after_a_backoff() {
    autojump().block_on(async {
        let start = pride::current_time();
        let flaky_runs = Arc::new(Mutex::new(Vec::new()));
        let steady_runs = Arc::new(AtomicUsize::new(0));
        let (runs, steady) = (flaky_runs.clone(), steady_runs.clone());
        let policy = RestartPolicy::one_for_one()
            .max_restarts(5, Duration::from_secs(60))
            .backoff(Duration::from_secs(1), Duration::from_secs(30));
        supervise(policy)
            .child("flaky", move || {
                let mut runs = runs.lock().unwrap();
                runs.push(pride::current_time() - start);
                let attempt = runs.len();
                async move {
                    if attempt <= 3 {
                        return Err(format!("attempt {attempt} failed"));
                    }
                    Ok(())
                }
            })
            .child("steady", move || {
                steady.fetch_add(1, Ordering::SeqCst);
                pride::sleep(Duration::from_secs(100))
            })
            .await
            .unwrap();
        assert_eq!(
            steady_runs.load(Ordering::SeqCst),
            1,
            "the sibling was restarted"
        );
        let runs = flaky_runs.lock().unwrap().clone();
        assert_eq!(runs.len(), 4);
        // Backoff: 1 s, 2 s, 4 s, each scaled by a factor in [0.5, 1].
        for (k, pair) in runs.windows(2).enumerate() {
            let gap = pair[1] - pair[0];
            let full = Duration::from_secs(1 << k);
            assert!(gap >= full / 2 && gap <= full, "restart {k} after {gap:?}");
        }
        // The supervisor ended when both children had ended.
        assert_eq!(pride::current_time() - start, Duration::from_secs(100));
    });
}

#[test]
fn a_child_failing_faster_than_its_budget_fails_the_supervisor_with_every_error() {
    autojump().block_on(async {
        let start = pride::current_time();
        let dropped = Arc::new(AtomicUsize::new(0));
        let guard = dropped.clone();
        let attempts = Arc::new(AtomicUsize::new(0));
        let tries = attempts.clone();
        let policy = RestartPolicy::one_for_one()
            .max_restarts(3, Duration::from_secs(10))
            .backoff(Duration::from_millis(100), Duration::from_secs(1));
        let error = supervise(policy)
            .child("crashy", move || {
                let attempt = tries.fetch_add(1, Ordering::SeqCst);
                async move {
                    if attempt % 2 == 1 {
                        panic!("crash {attempt}");
                    }
                    Err::<(), _>(format!("error {attempt}"))
                }
            })
            .child("bystander", move || {
                let guard = Dropped(guard.clone());
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                }
            })
            .await
            .unwrap_err();
        // Three restarts, then the fourth failure gave up.
        assert_eq!(attempts.load(Ordering::SeqCst), 4);
        assert_eq!(error.errors().len(), 4, "{error}");
        for (i, e) in error.errors().iter().enumerate() {
            assert_eq!(e.name(), Some("crashy"));
            assert_eq!(e.is_panic(), i % 2 == 1, "{e}");
        }
        assert_eq!(error.errors()[1].panic_message(), Some("crash 1"));
        assert!(error.to_string().contains("crashy"), "{error}");
        // The bystander was cancelled, once.
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert!(pride::current_time() - start < Duration::from_secs(10));
    });
}

/// The supervisor gives up on "fatal" and cancels "bystander", whose cleanup panics:
/// the report holds the error that used up the budget and the cleanup panic.
#[test]
fn giving_up_keeps_the_fatal_error_next_to_a_cleanup_panic() {
    autojump().block_on(async {
        let error = supervise(RestartPolicy::one_for_one().max_restarts(0, Duration::from_secs(1)))
            .child("bystander", || async {
                let _guard = PanicOnDrop;
                std::future::pending::<()>().await;
            })
            .child("fatal", || async {
                pride::sleep(Duration::from_secs(1)).await;
                Err::<(), _>("the database is gone")
            })
            .await
            .unwrap_err();
        let entries: Vec<_> = error
            .errors()
            .iter()
            .map(|e| (e.name(), e.is_panic()))
            .collect();
        assert_eq!(
            entries,
            [(Some("fatal"), false), (Some("bystander"), true)],
            "{error}"
        );
        assert!(
            error.to_string().contains("the database is gone"),
            "{error}"
        );
        assert_eq!(error.errors()[1].panic_message(), Some("cleanup failed"));
    });
}

/// The supervisor gives up on "fatal" and cancels "flusher", which is inside a shielded
/// flush and returns an error when the flush is done: that error is in the report.
#[test]
fn an_error_returned_while_torn_down_at_give_up_is_in_the_report() {
    autojump().block_on(async {
        let start = pride::current_time();
        let error = supervise(RestartPolicy::one_for_one().max_restarts(0, Duration::from_secs(1)))
            .child("flusher", || async {
                let flush = pride::CancelScope::new();
                flush.set_shield(true);
                flush.run(pride::sleep(Duration::from_secs(5))).await;
                Err::<(), _>("flush failed")
            })
            .child("fatal", || async {
                pride::sleep(Duration::from_secs(1)).await;
                Err::<(), _>("the database is gone")
            })
            .await
            .unwrap_err();
        let entries: Vec<_> = error.errors().iter().map(|e| e.to_string()).collect();
        assert_eq!(entries.len(), 2, "{error}");
        assert!(
            entries[0].contains("'fatal' failed: the database is gone"),
            "{error}"
        );
        assert!(
            entries[1].contains("'flusher' failed: flush failed"),
            "{error}"
        );
        // The supervisor waited for the flush.
        assert_eq!(pride::current_time() - start, Duration::from_secs(5));
    });
}

/// A cancel from outside comes while the supervisor that gave up waits for a child's
/// shielded flush: the report is not lost to it, and holds the flush's error too.
#[test]
fn a_cancel_from_outside_during_give_up_does_not_lose_the_report() {
    autojump().block_on(async {
        let dropped = Arc::new(AtomicUsize::new(0));
        let guard = dropped.clone();
        let outcome = pride::move_on_after(
            Duration::from_secs(2),
            supervise(RestartPolicy::one_for_one().max_restarts(0, Duration::from_secs(1)))
                .child("flusher", || async {
                    let flush = pride::CancelScope::new();
                    flush.set_shield(true);
                    flush.run(pride::sleep(Duration::from_secs(5))).await;
                    Err::<(), _>("flush failed")
                })
                .child("idle", move || {
                    let guard = Dropped(guard.clone());
                    async move {
                        let _guard = guard;
                        std::future::pending::<()>().await;
                    }
                })
                .child("fatal", || async {
                    pride::sleep(Duration::from_secs(1)).await;
                    Err::<(), _>("the database is gone")
                }),
        )
        .await;
        let error = outcome
            .expect("the failure passes out through the cancelled scope")
            .unwrap_err();
        let names: Vec<_> = error.errors().iter().map(|e| e.name()).collect();
        assert_eq!(names, [Some("fatal"), Some("flusher")], "{error}");
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    });
}

/// While the supervisor that gave up waits for a child's shielded flush, a cancel
/// from outside comes; after the flush the child is dropped and its cleanup panics.
/// Under that cancel the panic is the group's (a cleanup panic of a cancelled child),
/// not the run's outcome, yet the run still reports its end: the supervisor does not
/// wait for it forever, and its error holds the panic and the report. (Were it to wait
/// forever, the runtime's deadlock report ends the test instead of a hang.)
#[test]
fn a_run_whose_cleanup_panics_under_a_cancel_from_outside_still_reports_its_end() {
    let deadlock = pride::Event::new();
    let reported = deadlock.clone();
    let rt = pride::Runtime::builder()
        .worker_threads(2)
        .clock(pride::time::Clock::autojump())
        .on_deadlock(move |_| reported.set())
        .build()
        .unwrap();
    rt.block_on(async {
        let supervisor =
            supervise(RestartPolicy::one_for_one().max_restarts(0, Duration::from_secs(1)))
                .child("flusher", || async {
                    let _guard = PanicOnDrop;
                    let flush = pride::CancelScope::new();
                    flush.set_shield(true);
                    flush.run(pride::sleep(Duration::from_secs(5))).await;
                    pride::sleep(Duration::from_secs(1)).await; // dropped here
                })
                .child("fatal", || async {
                    pride::sleep(Duration::from_secs(1)).await;
                    Err::<(), _>("the database is gone")
                });
        let outcome = pride::select! {
            () = deadlock.wait() => panic!("the supervisor waited forever"),
            outcome = pride::move_on_after(Duration::from_secs(2), supervisor) => outcome,
        };
        let error = outcome
            .expect("the failure passes out through the cancelled scope")
            .unwrap_err();
        let mut entries: Vec<_> = error
            .errors()
            .iter()
            .map(|e| (e.name(), e.is_panic()))
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            [(Some("fatal"), false), (Some("flusher"), true)],
            "{error}"
        );
    });
}

#[test]
fn failures_spread_out_beyond_the_window_never_exhaust_the_budget() {
    autojump().block_on(async {
        let attempts = Arc::new(AtomicUsize::new(0));
        let tries = attempts.clone();
        let policy = RestartPolicy::one_for_one()
            .max_restarts(1, Duration::from_secs(10))
            .backoff(Duration::from_millis(10), Duration::from_millis(10));
        supervise(policy)
            .child("slow failer", move || {
                let attempt = tries.fetch_add(1, Ordering::SeqCst);
                async move {
                    pride::sleep(Duration::from_secs(20)).await;
                    if attempt < 5 {
                        return Err("failed after a while");
                    }
                    Ok(())
                }
            })
            .await
            .unwrap();
        assert_eq!(attempts.load(Ordering::SeqCst), 6);
    });
}

/// `backoff(initial, max)` with `max` below `initial`: the delay is capped at `max`.
#[test]
fn the_backoff_is_capped_at_max_even_below_initial() {
    autojump().block_on(async {
        let times = Arc::new(Mutex::new(Vec::new()));
        let seen = times.clone();
        let policy = RestartPolicy::one_for_one()
            .max_restarts(5, Duration::from_secs(600))
            .backoff(Duration::from_secs(10), Duration::from_secs(1));
        supervise(policy)
            .child("flaky", move || {
                let mut times = seen.lock().unwrap();
                times.push(pride::current_time());
                let attempt = times.len();
                async move {
                    if attempt <= 2 {
                        return Err("fails");
                    }
                    Ok(())
                }
            })
            .await
            .unwrap();
        let times = times.lock().unwrap();
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= Duration::from_millis(500) && gap <= Duration::from_secs(1),
                "restarted after {gap:?}, not within [max / 2, max]"
            );
        }
    });
}

#[test]
fn zero_restarts_means_the_first_failure_is_fatal() {
    autojump().block_on(async {
        let error = supervise(RestartPolicy::one_for_one().max_restarts(0, Duration::from_secs(1)))
            .child("once", || async { Err::<(), _>("boom") })
            .await
            .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        assert_eq!(error.errors()[0].name(), Some("once"));
    });
}

#[test]
fn a_panicking_factory_is_that_childs_failure_and_is_restarted() {
    autojump().block_on(async {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let steady_runs = Arc::new(AtomicUsize::new(0));
        let steady = steady_runs.clone();
        supervise(RestartPolicy::one_for_one().max_restarts(5, Duration::from_secs(60)))
            .child("flaky", move || {
                // The first and second calls panic before making a future.
                if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("factory broke");
                }
                async {}
            })
            .child("steady", move || {
                steady.fetch_add(1, Ordering::SeqCst);
                pride::sleep(Duration::from_secs(1))
            })
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(steady_runs.load(Ordering::SeqCst), 1, "the sibling ran on");
    });
}

#[test]
fn a_factory_that_always_panics_uses_up_the_budget_under_its_name() {
    autojump().block_on(async {
        let error =
            supervise(RestartPolicy::one_for_one().max_restarts(1, Duration::from_secs(60)))
                .child_with_status("broken", |_status| -> std::future::Ready<()> {
                    panic!("cannot make the child")
                })
                .await
                .unwrap_err();
        assert_eq!(error.errors().len(), 2);
        for entry in error.errors() {
            assert_eq!(entry.name(), Some("broken"));
            assert!(entry.is_panic());
        }
    });
}

#[test]
fn one_for_all_cancels_and_restarts_every_child_in_order() {
    autojump().block_on(async {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (log_a, log_b, guard) = (log.clone(), log.clone(), dropped.clone());
        let a_runs = Arc::new(AtomicUsize::new(0));
        let runs = a_runs.clone();
        let policy = RestartPolicy::one_for_all()
            .max_restarts(3, Duration::from_secs(60))
            .backoff(Duration::from_millis(10), Duration::from_millis(10));
        supervise(policy)
            .child("database", move || {
                log_a.lock().unwrap().push("database".into());
                let run = runs.fetch_add(1, Ordering::SeqCst);
                async move {
                    pride::sleep(Duration::from_secs(1)).await;
                    if run == 0 {
                        return Err("lost the disk");
                    }
                    Ok(())
                }
            })
            .child("api", move || {
                log_b.lock().unwrap().push("api".into());
                let guard = Dropped(guard.clone());
                async move {
                    let _guard = guard;
                    pride::sleep(Duration::from_secs(5)).await;
                }
            })
            .await
            .unwrap();
        assert_eq!(*log.lock().unwrap(), ["database", "api", "database", "api"]);
        // The first api run was cancelled, the second ran to its end.
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
    });
}

/// One-for-all: "database" fails and "cache" is torn down, its cleanup panicking. The
/// panic is the torn-down sibling's failure: kept in the report, not counted as a
/// restart, and both children are restarted.
#[test]
fn a_cleanup_panic_of_a_torn_down_sibling_is_reported_and_the_restart_goes_on() {
    autojump().block_on(async {
        let db_runs = Arc::new(AtomicUsize::new(0));
        let cache_runs = Arc::new(AtomicUsize::new(0));
        let (db, cache) = (db_runs.clone(), cache_runs.clone());
        let policy = RestartPolicy::one_for_all()
            .max_restarts(1, Duration::from_secs(60))
            .backoff(Duration::from_millis(10), Duration::from_millis(10));
        let error = supervise(policy)
            .child("database", move || {
                let run = db.fetch_add(1, Ordering::SeqCst);
                async move {
                    pride::sleep(Duration::from_secs(1)).await;
                    Err::<(), _>(format!("lost the disk {run}"))
                }
            })
            .child("cache", move || {
                let run = cache.fetch_add(1, Ordering::SeqCst);
                async move {
                    // Not `then_some`: it would make (and drop) a guard on every run.
                    let _guard = if run == 0 { Some(PanicOnDrop) } else { None };
                    pride::sleep(Duration::from_secs(5)).await;
                }
            })
            .await
            .unwrap_err();
        assert_eq!(
            (
                db_runs.load(Ordering::SeqCst),
                cache_runs.load(Ordering::SeqCst)
            ),
            (2, 2),
            "both children were restarted once: {error}"
        );
        let entries: Vec<_> = error
            .errors()
            .iter()
            .map(|e| (e.name(), e.is_panic(), e.to_string()))
            .collect();
        assert_eq!(entries.len(), 3, "{error}");
        assert_eq!(entries[0].0, Some("database"));
        assert!(entries[0].2.contains("lost the disk 0"), "{error}");
        assert_eq!(entries[1].0, Some("cache"));
        assert_eq!(error.errors()[1].panic_message(), Some("cleanup failed"));
        assert_eq!(entries[2].0, Some("database"), "{error}");
        assert!(entries[2].2.contains("lost the disk 1"), "{error}");
    });
}

/// A future that fails at once, and whose cleanup panics when it is dropped after.
struct FailsThenPanicsOnDrop(#[allow(dead_code)] pride::TaskStatus<()>);
impl std::future::Future for FailsThenPanicsOnDrop {
    type Output = Result<(), &'static str>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Err("connection refused"))
    }
}
impl Drop for FailsThenPanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("cleanup failed");
        }
    }
}

/// A run fails before it is ready and panics as it is dropped: the supervisor hears of
/// that run's end (it does not wait for it forever), and the policy restarts it.
#[test]
fn a_run_that_panics_in_cleanup_before_it_was_ready_is_restarted() {
    autojump().block_on(async {
        let runs = Arc::new(AtomicUsize::new(0));
        let count = runs.clone();
        type Run = std::pin::Pin<Box<dyn Future<Output = Result<(), &'static str>> + Send>>;
        let outcome = pride::move_on_after(
            Duration::from_secs(3600),
            supervise(RestartPolicy::one_for_one().max_restarts(5, Duration::from_secs(60)))
                .child_with_status("db", move |status: pride::TaskStatus<()>| -> Run {
                    if count.fetch_add(1, Ordering::SeqCst) == 0 {
                        Box::pin(FailsThenPanicsOnDrop(status))
                    } else {
                        Box::pin(async move {
                            status.started(());
                            Ok(())
                        })
                    }
                }),
        )
        .await;
        assert!(
            matches!(outcome, Some(Ok(()))),
            "after {} run(s): {outcome:?}",
            runs.load(Ordering::SeqCst)
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn children_start_in_order_and_the_supervisor_reports_ready() {
    autojump().block_on(async {
        let log = Arc::new(Mutex::new(Vec::<&str>::new()));
        let (log_db, log_api) = (log.clone(), log.clone());
        pride::task_group(async |tg| {
            let policy = RestartPolicy::one_for_one();
            tg.start(|status| {
                supervise(policy)
                    .child_with_status("db", move |status| {
                        let log = log_db.clone();
                        async move {
                            pride::sleep(Duration::from_secs(2)).await; // connecting
                            log.lock().unwrap().push("db ready");
                            status.started(());
                            pride::sleep(Duration::from_secs(10)).await;
                        }
                    })
                    .child("api", move || {
                        log_api.lock().unwrap().push("api started");
                        pride::sleep(Duration::from_secs(10))
                    })
                    .ready_on(status)
            })
            .await?;
            log.lock().unwrap().push("service up");
            Ok::<_, pride::BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            ["db ready", "api started", "service up"]
        );
    });
}

/// "db" fails its first run before it is ready and is ready on its second, after the
/// backoff: the supervisor reports ready only then.
#[test]
fn ready_on_waits_for_a_child_that_failed_before_it_was_ready() {
    autojump().block_on(async {
        let start = pride::current_time();
        let log = Arc::new(Mutex::new(Vec::<&str>::new()));
        let (log_db, log_main) = (log.clone(), log.clone());
        let attempts = Arc::new(AtomicUsize::new(0));
        pride::task_group(async |tg| {
            let policy = RestartPolicy::one_for_one()
                .max_restarts(5, Duration::from_secs(60))
                .backoff(Duration::from_secs(1), Duration::from_secs(1));
            tg.start(|status| {
                supervise(policy)
                    .child_with_status("db", move |status| {
                        let log = log_db.clone();
                        let attempt = attempts.fetch_add(1, Ordering::SeqCst);
                        async move {
                            if attempt == 0 {
                                return Err("connection refused");
                            }
                            log.lock().unwrap().push("db ready");
                            status.started(());
                            pride::sleep(Duration::from_secs(10)).await;
                            Ok(())
                        }
                    })
                    .ready_on(status)
            })
            .await?;
            log_main.lock().unwrap().push("service up");
            assert!(pride::current_time() - start >= Duration::from_millis(500));
            Ok::<_, pride::BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(*log.lock().unwrap(), ["db ready", "service up"]);
    });
}

/// The supervisor gives up before every child has started: `start` fails with its
/// error.
#[test]
fn a_give_up_before_ready_fails_the_start() {
    autojump().block_on(async {
        let outcome = pride::task_group(async |tg| {
            let policy = RestartPolicy::one_for_one().max_restarts(1, Duration::from_secs(60));
            let started = tg
                .start(|status| {
                    supervise(policy)
                        .child("api", || pride::sleep(Duration::from_secs(10)))
                        // Holds its status to its end (`|_status|` would drop it at
                        // once, letting go of it before the run is ever polled).
                        .child_with_status("db", |status| async move {
                            let _status = status;
                            Err::<(), _>("connection refused")
                        })
                        .ready_on(status)
                })
                .await;
            let Err(pride::StartError::Failed(error)) = started else {
                panic!("expected a failed start, got {started:?}");
            };
            let report = error
                .downcast_ref::<pride::GroupError>()
                .unwrap_or_else(|| panic!("not the supervisor's error: {error}"));
            let names: Vec<_> = report.errors().iter().map(|e| e.name()).collect();
            assert_eq!(names, [Some("db"), Some("db")], "{report}");
        })
        .await;
        outcome.unwrap();
    });
}

#[test]
fn cancelling_a_supervisor_cancels_its_children() {
    autojump().block_on(async {
        let dropped = Arc::new(AtomicUsize::new(0));
        let guard = dropped.clone();
        let out = pride::move_on_after(
            Duration::from_secs(5),
            supervise(RestartPolicy::one_for_one()).child("forever", move || {
                let guard = Dropped(guard.clone());
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                }
            }),
        )
        .await;
        assert!(out.is_none());
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    });
}

/// A future that returns an error and holds a [`PanicOnDrop`] until it is dropped.
struct ErrThenPanicOnDrop(#[allow(dead_code)] PanicOnDrop);

impl Future for ErrThenPanicOnDrop {
    type Output = Result<(), pride::BoxError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Err("the first failure".into()))
    }
}

/// A run that returns an error and then panics in its `Drop` fails once, with the
/// error: that is what uses up the budget and what the report holds.
#[test]
fn a_runs_error_is_not_lost_to_a_later_drop_panic() {
    autojump().block_on(async {
        let error = supervise(RestartPolicy::one_for_one().max_restarts(0, Duration::from_secs(1)))
            .child("conn", || ErrThenPanicOnDrop(PanicOnDrop))
            .await
            .unwrap_err();
        assert_eq!(error.errors().len(), 1, "{error}");
        let failure = &error.errors()[0];
        assert_eq!(failure.name(), Some("conn"));
        assert!(!failure.is_panic(), "{failure}");
        assert_eq!(
            failure.error().map(|e| e.to_string()).as_deref(),
            Some("the first failure")
        );
    });
}

/// A `child` whose factory panics never ran, so it never started: the supervisor gives
/// up before every child has started, and `start` fails with its error.
#[test]
fn ready_on_is_not_reported_for_a_child_whose_factory_panics() {
    autojump().block_on(async {
        let outcome = pride::task_group(async |tg| {
            let policy = RestartPolicy::one_for_one().max_restarts(1, Duration::from_secs(60));
            let started = tg
                .start(|status| {
                    supervise(policy)
                        .child("api", || -> std::future::Ready<()> {
                            panic!("config missing")
                        })
                        .ready_on(status)
                })
                .await;
            let Err(pride::StartError::Failed(error)) = started else {
                panic!(
                    "start said the service was up though its only child never ran: {started:?}"
                );
            };
            let report = error
                .downcast_ref::<pride::GroupError>()
                .unwrap_or_else(|| panic!("not the supervisor's error: {error}"));
            let names: Vec<_> = report.errors().iter().map(|e| e.name()).collect();
            assert_eq!(names, [Some("api"), Some("api")], "{report}");
        })
        .await;
        outcome.unwrap();
    });
}

/// "a" fails and backs off for 20 s; "b" fails a second later, which uses up the
/// budget: the supervisor gives up at once, without waiting for a's backoff, so a
/// cancel from outside that comes later does not drop the report.
#[test]
fn a_failure_during_another_childs_backoff_that_uses_up_the_budget_gives_up_at_once() {
    autojump().block_on(async {
        let start = pride::current_time();
        let given_up = Arc::new(Mutex::new(None));
        let at = given_up.clone();
        let out = pride::move_on_after(
            Duration::from_secs(2),
            supervise(
                RestartPolicy::one_for_one()
                    .max_restarts(1, Duration::from_secs(60))
                    .backoff(Duration::from_secs(20), Duration::from_secs(20)),
            )
            .child("a", || async { Err::<(), _>("a failed") })
            .child("b", move || {
                let at = at.clone();
                async move {
                    pride::sleep(Duration::from_secs(1)).await;
                    *at.lock().unwrap() = Some(pride::current_time());
                    Err::<(), _>("b failed")
                }
            }),
        )
        .await;
        let error = out
            .expect("b's failure, which used up the budget, came before the cancel")
            .unwrap_err();
        let names: Vec<_> = error.errors().iter().map(|e| e.name()).collect();
        assert_eq!(names, [Some("a"), Some("b")], "{error}");
        assert_eq!(
            *given_up.lock().unwrap(),
            Some(start + Duration::from_secs(1))
        );
    });
}

/// One-for-all: the cache's cleanup panic, as it is torn down by the database's first
/// failure, is kept only while that restart is within the window: when the supervisor
/// gives up long after, the report holds the failures of the window and not that panic.
#[test]
fn a_torn_down_siblings_error_leaves_the_report_with_its_restart() {
    autojump().block_on(async {
        let db_runs = Arc::new(AtomicUsize::new(0));
        let cache_runs = Arc::new(AtomicUsize::new(0));
        let (db, cache) = (db_runs.clone(), cache_runs.clone());
        let policy = RestartPolicy::one_for_all()
            .max_restarts(1, Duration::from_secs(10))
            .backoff(Duration::from_millis(10), Duration::from_millis(10));
        let error = supervise(policy)
            .child("database", move || {
                let run = db.fetch_add(1, Ordering::SeqCst);
                async move {
                    // Run 1 outlasts the window of the first restart; run 2 fails at once.
                    let up = [1, 100, 0][run.min(2)];
                    pride::sleep(Duration::from_secs(up)).await;
                    Err::<(), _>(format!("lost the disk {run}"))
                }
            })
            .child("cache", move || {
                let run = cache.fetch_add(1, Ordering::SeqCst);
                async move {
                    // Not `then_some`: it would make (and drop) a guard on every run.
                    let _guard = if run == 0 { Some(PanicOnDrop) } else { None };
                    std::future::pending::<()>().await;
                }
            })
            .await
            .unwrap_err();
        assert_eq!(db_runs.load(Ordering::SeqCst), 3, "{error}");
        let entries: Vec<_> = error
            .errors()
            .iter()
            .map(|e| (e.name(), e.to_string()))
            .collect();
        assert_eq!(entries.len(), 2, "{error}");
        assert_eq!(entries[0].0, Some("database"));
        assert!(entries[0].1.contains("lost the disk 1"), "{error}");
        assert_eq!(entries[1].0, Some("database"));
        assert!(entries[1].1.contains("lost the disk 2"), "{error}");
    });
}

/// A child whose shielded cleanup returns an error after a cancel from outside has
/// dropped the supervisor's body: nobody is left to handle the error, and it is not
/// lost: it fails the supervisor's group, named after the child, as a plain group keeps
/// a child's cleanup error under a cancel.
#[test]
fn a_childs_error_in_cleanup_under_a_cancel_from_outside_is_not_lost() {
    autojump().block_on(async {
        let out = pride::move_on_after(
            Duration::from_secs(1),
            supervise(RestartPolicy::one_for_one()).child("flusher", || async {
                let flush = pride::CancelScope::new();
                flush.set_shield(true);
                flush.run(pride::sleep(Duration::from_secs(5))).await;
                Err::<(), _>("flush failed")
            }),
        )
        .await;
        let error = out
            .expect("the child's error passes out through the cancelled scope")
            .unwrap_err();
        assert_eq!(error.errors().len(), 1, "{error}");
        let failure = &error.errors()[0];
        assert_eq!(failure.name(), Some("flusher"), "{error}");
        assert_eq!(
            failure.error().map(|e| e.to_string()).as_deref(),
            Some("flush failed")
        );
    });
}

/// "api" cancels the scope around the supervisor and fails in the same poll: its
/// failure is never heard by the supervisor, whose body the cancel drops (a cancelled
/// scope drops its work before polling it again). Whichever comes first, the failure
/// queued before the body's drop or the drop before the failure, it is not lost: it
/// fails the supervisor's group, named "api".
#[test]
fn a_failure_not_yet_heard_when_a_cancel_from_outside_comes_is_not_lost() {
    autojump().block_on(async {
        let outer = pride::CancelScope::new();
        let cancel = outer.clone();
        let out = outer
            .run(
                supervise(RestartPolicy::one_for_one()).child("api", move || {
                    let cancel = cancel.clone();
                    async move {
                        pride::sleep(Duration::from_secs(1)).await;
                        cancel.cancel();
                        Err::<(), _>("api failed")
                    }
                }),
            )
            .await;
        let error = out
            .expect("api's failure passes out through the cancelled scope")
            .unwrap_err();
        let entries: Vec<_> = error
            .errors()
            .iter()
            .map(|e| (e.name(), e.error().map(|e| e.to_string())))
            .collect();
        assert_eq!(
            entries,
            [(Some("api"), Some("api failed".to_owned()))],
            "{error}"
        );
    });
}

/// As above, with a panic: never heard by the supervisor, whose body a cancel from
/// outside drops (before or after the panic is queued); it fails the supervisor's group
/// as a panic, named "api".
#[test]
fn a_panic_not_yet_heard_when_a_cancel_from_outside_comes_stays_a_panic() {
    autojump().block_on(async {
        let outer = pride::CancelScope::new();
        let cancel = outer.clone();
        let out = outer
            .run(
                supervise(RestartPolicy::one_for_one()).child("api", move || {
                    let cancel = cancel.clone();
                    async move {
                        pride::sleep(Duration::from_secs(1)).await;
                        cancel.cancel();
                        if true {
                            panic!("api panicked");
                        }
                    }
                }),
            )
            .await;
        let error = out
            .expect("api's panic passes out through the cancelled scope")
            .unwrap_err();
        let entries: Vec<_> = error
            .errors()
            .iter()
            .map(|e| (e.name(), e.is_panic()))
            .collect();
        assert_eq!(entries, [(Some("api"), true)], "{error}");
    });
}

/// A failure the supervisor has handled (it is backing off to restart the child) is
/// not reported when a cancel from outside comes: the supervisor ends as cancelled
/// work, without restarting the child.
#[test]
fn a_cancel_during_a_backoff_ends_the_supervisor_as_cancelled_work() {
    autojump().block_on(async {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let start = pride::current_time();
        let out = pride::move_on_after(
            Duration::from_secs(1),
            supervise(
                RestartPolicy::one_for_one()
                    .max_restarts(100, Duration::from_secs(3600))
                    .backoff(Duration::from_secs(100), Duration::from_secs(100)),
            )
            .child("flaky", move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>("boom") }
            }),
        )
        .await;
        assert!(out.is_none(), "{out:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(pride::current_time() - start, Duration::from_secs(1));
    });
}

/// A child's run ends with an error (after a shielded wait) at the very instant a
/// cancel from outside comes: whichever comes first, the supervisor hearing of it or
/// the cancel dropping its body, the failure is not lost; a panic stays a panic.
#[test]
fn a_failure_at_the_instant_of_a_cancel_from_outside_is_not_lost() {
    autojump().block_on(async {
        let out = pride::move_on_after(
            Duration::from_secs(1),
            supervise(RestartPolicy::one_for_one())
                .child("api", || async {
                    let shielded = pride::CancelScope::new();
                    shielded.set_shield(true);
                    shielded.run(pride::sleep(Duration::from_secs(1))).await;
                    Err::<(), _>("api failed")
                })
                .child("worker", || async {
                    let shielded = pride::CancelScope::new();
                    shielded.set_shield(true);
                    shielded.run(pride::sleep(Duration::from_secs(1))).await;
                    if true {
                        panic!("worker panicked");
                    }
                }),
        )
        .await;
        let error = out
            .expect("the failures pass out through the cancelled scope")
            .unwrap_err();
        let mut entries: Vec<_> = error
            .errors()
            .iter()
            .map(|e| (e.name(), e.is_panic()))
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            [(Some("api"), false), (Some("worker"), true)],
            "{error}"
        );
    });
}

/// One-for-one: two children fail at once; each restarts after its own backoff (a
/// delay below 10 s here), not after the other's backoff and then its own.
#[test]
fn each_failed_child_restarts_after_its_own_backoff() {
    autojump().block_on(async {
        let start = pride::current_time();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let policy = RestartPolicy::one_for_one()
            .max_restarts(5, Duration::from_secs(60))
            .backoff(Duration::from_secs(10), Duration::from_secs(10));
        let (a, b) = (starts.clone(), starts.clone());
        let runs = |log: Arc<Mutex<Vec<(&'static str, Duration)>>>, name: &'static str| {
            move || {
                let first = !log.lock().unwrap().iter().any(|(n, _)| *n == name);
                log.lock()
                    .unwrap()
                    .push((name, pride::current_time() - start));
                async move {
                    if first {
                        return Err("not yet");
                    }
                    Ok(())
                }
            }
        };
        supervise(policy)
            .child("a", runs(a, "a"))
            .child("b", runs(b, "b"))
            .await
            .unwrap();
        let starts = starts.lock().unwrap();
        assert_eq!(starts.len(), 4, "{starts:?}");
        for (name, at) in &starts[2..] {
            assert!(
                *at >= Duration::from_secs(5) && *at < Duration::from_secs(10),
                "{name} restarted at {at:?}: {starts:?}"
            );
        }
    });
}

/// "holder" hands its status to a blocking closure, which holds it until the test lets
/// it go, and then fails while the supervisor still waits for it to be ready. The
/// supervisor handles that failure (here it gives up) at once: it does not wait for the
/// status, which may never be dropped. (Were it to wait, the closure lets the status go
/// after a long while, and says so.)
#[test]
fn a_failure_of_a_child_whose_status_is_held_elsewhere_is_handled_at_once() {
    autojump().block_on(async {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Mutex::new(Some(released));
        let stalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let held_too_long = stalled.clone();
        let error = supervise(RestartPolicy::one_for_one().max_restarts(0, Duration::from_secs(1)))
            .child_with_status("holder", move |status| {
                let released = released.lock().unwrap().take().expect("one run");
                let held_too_long = held_too_long.clone();
                async move {
                    let holding = pride::Event::new();
                    let held = holding.clone();
                    // The closure runs on: dropping its future only discards its value.
                    pride::select! {
                        () = pride::to_thread(move || {
                            let _status = status;
                            held.set();
                            if released.recv_timeout(Duration::from_secs(10)).is_err() {
                                held_too_long.store(true, Ordering::SeqCst);
                            }
                        }) => unreachable!("the closure waits for the test"),
                        () = holding.wait() => {}
                    }
                    Err::<(), _>("lost the connection")
                }
            })
            .await
            .unwrap_err();
        assert!(
            !stalled.load(Ordering::SeqCst),
            "the supervisor waited for the status"
        );
        let _ = release.send(());
        let entries: Vec<_> = error
            .errors()
            .iter()
            .map(|e| (e.name(), e.error().map(|e| e.to_string())))
            .collect();
        assert_eq!(
            entries,
            [(Some("holder"), Some("lost the connection".to_owned()))],
            "{error}"
        );
    });
}

/// One-for-one: "slow" fails at once and "quick" a moment later; "slow"'s restart takes
/// 10 s to be ready. "quick" restarts once its own backoff is over (by 80 ms), without
/// waiting for "slow"'s restart to be ready.
#[test]
fn a_one_for_one_restart_does_not_wait_for_another_childs_readiness() {
    let quick_restarted_after = crate::common::autojump(60, || async {
        let t0 = pride::current_time();
        let crash_slow = pride::Event::new();
        let crash_quick = pride::Event::new();
        let quick_back = pride::Queue::<Duration>::unbounded();
        let slow_runs = Arc::new(AtomicUsize::new(0));
        let quick_runs = Arc::new(AtomicUsize::new(0));
        let (cs, cq, qb) = (crash_slow.clone(), crash_quick.clone(), quick_back.clone());
        let supervisor = supervise(
            RestartPolicy::one_for_one()
                .max_restarts(10, Duration::from_secs(60))
                .backoff(Duration::from_millis(40), Duration::from_secs(10)),
        )
        .child_with_status("slow", move |status| {
            let run = slow_runs.fetch_add(1, Ordering::SeqCst);
            let cs = cs.clone();
            async move {
                if run > 0 {
                    pride::sleep(Duration::from_secs(10)).await; // warming up
                }
                status.started(());
                if run == 0 {
                    cs.wait().await;
                    return Err("slow broke");
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        })
        .child("quick", move || {
            let run = quick_runs.fetch_add(1, Ordering::SeqCst);
            let (cq, qb) = (cq.clone(), qb.clone());
            async move {
                if run == 0 {
                    cq.wait().await;
                    return Err("quick broke");
                }
                qb.put_nowait(pride::current_time() - t0).unwrap();
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        pride::task_group(async |tg| {
            tg.start_soon(supervisor);
            pride::yield_now().await;
            crash_slow.set();
            pride::sleep(Duration::from_millis(1)).await;
            crash_quick.set();
            let back = quick_back.get().await.unwrap();
            tg.cancel_scope().cancel();
            Ok::<_, pride::BoxError>(back)
        })
        .await
        .unwrap()
    });
    assert!(
        quick_restarted_after < Duration::from_secs(1),
        "\"quick\"'s backoff was over by 81 ms; it restarted after {quick_restarted_after:?}"
    );
}

/// A readiness chain under restarts: "api" is ready only once "db" is. "api" fails,
/// then "db"; "api"'s backoff ends first, and its restart waits for "db" to be up (it
/// never is: it waits on the up flag of the "db" run that failed). "db" still restarts
/// once its own backoff is over: the supervisor does not wait for "api" to be ready.
#[test]
fn a_dependency_restarts_while_its_dependents_restart_waits_for_it() {
    let (db_back, db_runs) = crate::common::autojump(60, || async {
        // The database's "up" flag: a fresh event per db run, set once it is ready.
        let db_up = Arc::new(Mutex::new(pride::Event::new()));
        let crash_db = pride::Event::new();
        let crash_api = pride::Event::new();
        let db_runs = Arc::new(AtomicUsize::new(0));
        let api_runs = Arc::new(AtomicUsize::new(0));
        let db_back = pride::Event::new();
        let (up1, up2) = (db_up.clone(), db_up.clone());
        let (cd, ca, back) = (crash_db.clone(), crash_api.clone(), db_back.clone());
        let dr = db_runs.clone();
        let supervisor = supervise(
            RestartPolicy::one_for_one()
                .max_restarts(10, Duration::from_secs(60))
                .backoff(Duration::from_millis(40), Duration::from_secs(10)),
        )
        .child_with_status("db", move |status| {
            let run = dr.fetch_add(1, Ordering::SeqCst);
            let (up, cd, back) = (up1.clone(), cd.clone(), back.clone());
            async move {
                if run > 0 {
                    back.set();
                }
                let me = pride::Event::new();
                *up.lock().unwrap() = me.clone();
                me.set();
                status.started(());
                if run == 0 {
                    cd.wait().await;
                    *up.lock().unwrap() = pride::Event::new(); // down
                    return Err("db crashed");
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        })
        .child_with_status("api", move |status| {
            let run = api_runs.fetch_add(1, Ordering::SeqCst);
            let (up, ca) = (up2.clone(), ca.clone());
            async move {
                let db = up.lock().unwrap().clone();
                db.wait().await; // ready only once the database is
                status.started(());
                if run == 0 {
                    ca.wait().await;
                    return Err("api crashed");
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        pride::task_group(async |tg| {
            tg.start(|status| supervisor.ready_on(status)).await?;
            crash_api.set();
            pride::sleep(Duration::from_millis(1)).await;
            crash_db.set();
            // Both backoffs are over by 81 ms: an hour is a hang guard.
            let back = pride::move_on_after(Duration::from_secs(3600), db_back.wait()).await;
            tg.cancel_scope().cancel();
            Ok::<_, pride::BoxError>((back.is_some(), db_runs.load(Ordering::SeqCst)))
        })
        .await
        .unwrap()
    });
    assert!(
        db_back,
        "\"db\" was never restarted (runs: {db_runs}): the supervisor waits for \"api\""
    );
    assert_eq!(db_runs, 2);
}

/// While "slow"'s restart warms up (10 s before it is ready), "b" and then "c" fail: the
/// third failure in the window uses up the budget, and the supervisor gives up at once,
/// not once the warm-up is over.
#[test]
fn a_failure_that_uses_up_the_budget_while_a_restart_warms_up_gives_up_at_once() {
    let (gave_up_after, error) = crate::common::autojump(60, || async {
        let t0 = pride::current_time();
        let crash = [
            pride::Event::new(),
            pride::Event::new(),
            pride::Event::new(),
        ];
        let runs = Arc::new(AtomicUsize::new(0));
        let b_runs = Arc::new(AtomicUsize::new(0));
        let (c0, c1, c2) = (crash[0].clone(), crash[1].clone(), crash[2].clone());
        let supervisor = supervise(
            RestartPolicy::one_for_one()
                .max_restarts(2, Duration::from_secs(60))
                .backoff(Duration::from_millis(1), Duration::from_millis(1)),
        )
        .child_with_status("slow", move |status| {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            let c0 = c0.clone();
            async move {
                if run > 0 {
                    pride::sleep(Duration::from_secs(10)).await; // warming up
                }
                status.started(());
                if run == 0 {
                    c0.wait().await;
                    return Err("slow broke");
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        })
        .child("b", move || {
            let c1 = c1.clone();
            let run = b_runs.fetch_add(1, Ordering::SeqCst);
            async move {
                if run > 0 {
                    std::future::pending::<()>().await;
                }
                c1.wait().await;
                Err::<(), _>("b broke")
            }
        })
        .child("c", move || {
            let c2 = c2.clone();
            async move {
                c2.wait().await;
                Err::<(), _>("c broke")
            }
        });
        pride::task_group(async |tg| {
            let outcome = tg.spawn(async move { Ok::<_, pride::BoxError>(supervisor.await) });
            pride::yield_now().await;
            crash[0].set(); // restart 1: "slow" comes back within 1 ms, warms up 10 s
            pride::sleep(Duration::from_millis(2)).await;
            crash[1].set(); // restart 2
            pride::sleep(Duration::from_millis(2)).await;
            crash[2].set(); // the third failure in the window: give up at once
            let r = outcome.await?;
            Ok::<_, pride::BoxError>((pride::current_time() - t0, r))
        })
        .await
        .unwrap()
    });
    let error = error.unwrap_err();
    let names: Vec<_> = error.errors().iter().map(|e| e.name()).collect();
    assert_eq!(names, [Some("slow"), Some("b"), Some("c")], "{error}");
    assert!(
        gave_up_after < Duration::from_secs(1),
        "the budget was used up at 4 ms; the supervisor gave up after {gave_up_after:?}"
    );
}

/// The first start, in order: "db" is ready, then fails while "api" (added after it)
/// waits for the database to accept. The supervisor hears of the failure while "api"
/// starts: "db" restarts after its backoff, accepts, and then "api" comes up.
#[test]
fn a_dependency_that_fails_while_a_later_child_starts_is_restarted() {
    let (db_runs, api_up) = crate::common::autojump(60, || async {
        let accepting = pride::Event::new();
        let api_waiting = pride::Event::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let (up1, up2) = (accepting.clone(), accepting.clone());
        let (aw1, aw2, counted) = (api_waiting.clone(), api_waiting.clone(), runs.clone());
        let supervisor = supervise(RestartPolicy::one_for_one())
            .child_with_status("db", move |status| {
                let run = counted.fetch_add(1, Ordering::SeqCst);
                let (up, aw) = (up1.clone(), aw1.clone());
                async move {
                    status.started(());
                    if run == 0 {
                        aw.wait().await; // fails just as "api" starts
                        return Err("db crashed");
                    }
                    up.set();
                    std::future::pending::<()>().await;
                    Ok(())
                }
            })
            .child_with_status("api", move |status| {
                let (up, aw) = (up2.clone(), aw2.clone());
                async move {
                    aw.set();
                    up.wait().await; // ready once the database accepts
                    status.started(());
                    std::future::pending::<()>().await;
                    Ok::<_, pride::BoxError>(())
                }
            });
        pride::task_group(async |tg| {
            // An hour is a hang guard: the backoff is at most 100 ms.
            let started = pride::move_on_after(
                Duration::from_secs(3600),
                tg.start(|status| supervisor.ready_on(status)),
            )
            .await;
            tg.cancel_scope().cancel();
            let api_up = matches!(started, Some(Ok(())));
            Ok::<_, pride::BoxError>((runs.load(Ordering::SeqCst), api_up))
        })
        .await
        .unwrap()
    });
    assert_eq!(db_runs, 2, "\"db\" failed while \"api\" started");
    assert!(api_up, "the supervisor never came up");
}

/// One-for-all: "a" fails at 1 s; the teardown of its siblings has "b"'s error (its
/// shielded flush ends at 2 s) and waits for "c" (flushing until 10 s) when a cancel
/// from outside comes at 5 s. "b"'s error is not lost with the teardown: it is an entry
/// of the supervisor's error, as is "c"'s, which comes after the cancel. "a"'s failure
/// was handled: its restart was under way.
#[test]
fn a_torn_down_siblings_error_is_not_lost_to_a_cancel_during_the_teardown() {
    let entries = crate::common::autojump(60, || async {
        let flusher = |secs: u64, what: &'static str| {
            move || async move {
                let flush = pride::CancelScope::new();
                flush.set_shield(true);
                flush.run(pride::sleep(Duration::from_secs(secs))).await;
                Err::<(), _>(what)
            }
        };
        let supervisor = supervise(
            RestartPolicy::one_for_all()
                .max_restarts(10, Duration::from_secs(60))
                .backoff(Duration::from_millis(10), Duration::from_millis(10)),
        )
        .child("a", || async {
            pride::sleep(Duration::from_secs(1)).await;
            Err::<(), _>("a broke")
        })
        .child("b", flusher(2, "b: flush failed"))
        .child("c", flusher(10, "c: flush failed"));
        let out = pride::move_on_after(Duration::from_secs(5), supervisor).await;
        let error = out
            .expect("the failures pass out through the cancelled scope")
            .unwrap_err();
        let mut entries: Vec<_> = error
            .errors()
            .iter()
            .map(|e| (e.name().map(str::to_owned), e.to_string()))
            .collect();
        entries.sort();
        entries
    });
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0].0.as_deref(), Some("b"), "{entries:?}");
    assert!(entries[0].1.contains("b: flush failed"), "{entries:?}");
    assert_eq!(entries[1].0.as_deref(), Some("c"), "{entries:?}");
    assert!(entries[1].1.contains("c: flush failed"), "{entries:?}");
}

/// A child that lets go of its status without calling `started` and runs on holds up
/// no later child: as after a `TaskGroup::start` that returned `NotStarted`, the next
/// child in order starts at once.
#[test]
fn a_child_that_drops_its_status_and_runs_on_lets_the_next_child_start() {
    let b_started = crate::common::autojump(60, || async {
        let b_up = pride::Event::new();
        let up = b_up.clone();
        let supervisor = supervise(RestartPolicy::one_for_one())
            .child_with_status("a", |status| async move {
                drop(status);
                std::future::pending::<()>().await;
                Ok::<_, pride::BoxError>(())
            })
            .child("b", move || {
                let up = up.clone();
                async move {
                    up.set();
                    std::future::pending::<()>().await;
                    Ok::<_, pride::BoxError>(())
                }
            });
        // An hour is a hang guard: "b" starts at once.
        pride::move_on_after(Duration::from_secs(3600), async {
            pride::task_group(async |tg| {
                tg.start_soon(supervisor);
                b_up.wait().await;
                tg.cancel_scope().cancel();
            })
            .await
            .unwrap();
        })
        .await
        .is_some()
    });
    assert!(b_started, "the supervisor never started `b`");
}

/// Logs `"<name> down"` when a run's future is dropped.
struct LogOnDrop(&'static str, Arc<Mutex<Vec<String>>>);
impl Drop for LogOnDrop {
    fn drop(&mut self) {
        self.1.lock().unwrap().push(format!("{} down", self.0));
    }
}

/// A one-for-all supervisor of "a", "b" and "c", children that report readiness, each
/// slower to be ready than the one after it (3 s, 2 s, 1 s, so that starts that did not
/// wait would interleave). The first run of `failing` fails `fails_after` its readiness;
/// the log ends once "c" is ready after that failure, and says when each run started,
/// was ready, failed and was dropped.
fn one_for_all_restart_log(failing: &'static str, fails_after: u64) -> Vec<String> {
    crate::common::autojump(60, move || async move {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let all_up_again = pride::Event::new();
        let child = |name: &'static str, warm_up: u64| {
            let (log, all_up_again) = (log.clone(), all_up_again.clone());
            let runs = Arc::new(AtomicUsize::new(0));
            move |status: pride::TaskStatus<()>| {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                let (log, all_up_again) = (log.clone(), all_up_again.clone());
                async move {
                    let _down = LogOnDrop(name, log.clone());
                    log.lock().unwrap().push(format!("{name} start"));
                    pride::sleep(Duration::from_secs(warm_up)).await;
                    let restarted = {
                        let mut log = log.lock().unwrap();
                        log.push(format!("{name} ready"));
                        log.iter().any(|entry| entry.ends_with("failed"))
                    };
                    status.started(());
                    if name == failing && run == 0 {
                        pride::sleep(Duration::from_secs(fails_after)).await;
                        log.lock().unwrap().push(format!("{name} failed"));
                        return Err("broke");
                    }
                    if name == "c" && restarted {
                        all_up_again.set();
                    }
                    std::future::pending::<()>().await;
                    Ok(())
                }
            }
        };
        let supervisor = supervise(
            RestartPolicy::one_for_all()
                .max_restarts(3, Duration::from_secs(60))
                .backoff(Duration::from_millis(10), Duration::from_millis(10)),
        )
        .child_with_status("a", child("a", 3))
        .child_with_status("b", child("b", 2))
        .child_with_status("c", child("c", 1));
        // An hour is a hang guard: the restart is over within a minute.
        let up = pride::move_on_after(Duration::from_secs(3600), async {
            pride::task_group(async |tg| {
                tg.start_soon(supervisor);
                all_up_again.wait().await;
                tg.cancel_scope().cancel();
            })
            .await
            .unwrap();
        })
        .await;
        let entries = log.lock().unwrap().clone();
        assert!(
            up.is_some(),
            "the children never all came up again: {entries:?}"
        );
        entries
    })
}

const IN_ORDER: [&str; 6] = [
    "a start", "a ready", "b start", "b ready", "c start", "c ready",
];

/// One-for-all: "b" fails once all three children are up. "a" and "c" are torn down,
/// and all three start again in order, each only once the one before it is ready
/// again, as on the first start.
#[test]
fn a_one_for_all_restart_starts_the_children_in_order_each_once_the_one_before_is_ready() {
    let log = one_for_all_restart_log("b", 10);
    assert!(log.len() >= 16, "{log:?}");
    assert_eq!(log[..6], IN_ORDER, "the first start: {log:?}");
    // The failure and the teardown, in whatever order the runs were dropped, all before
    // anything restarts.
    let mut teardown = log[6..10].to_vec();
    teardown.sort();
    assert_eq!(
        teardown,
        ["a down", "b down", "b failed", "c down"],
        "{log:?}"
    );
    assert_eq!(log[10..16], IN_ORDER, "the one-for-all restart: {log:?}");
}

/// One-for-all: "a" fails while "b" warms up, before "c" has started. "b" is torn down
/// before it was ready, and the restart starts all three in order from "a", each once
/// the one before it is ready.
#[test]
fn a_one_for_all_restart_during_the_first_start_starts_every_child_in_order() {
    let log = one_for_all_restart_log("a", 1);
    assert!(log.len() >= 12, "{log:?}");
    assert_eq!(log[..3], IN_ORDER[..3], "the first start: {log:?}");
    let mut teardown = log[3..6].to_vec();
    teardown.sort();
    assert_eq!(teardown, ["a down", "a failed", "b down"], "{log:?}");
    assert_eq!(log[6..12], IN_ORDER, "the one-for-all restart: {log:?}");
}

/// A supervisor that gave up is dropped by hand, as the losing branch of a `select!`,
/// while its shielded teardown waits for two children: "flusher", in a shielded flush
/// until 5 s, and "slow", still starting (in a shielded warm-up until 5 s), held by its
/// start. Like any group dropped by hand, the drop at 2 s tears every child down there
/// and then: once it has returned, every run's future has been dropped, and no child
/// code runs again. The report has nowhere to go: nothing of it fails the task that
/// dropped the supervisor, or the group around, and the `start` waiting for the
/// supervisor to be ready returns `NotStarted`, as for any status dropped unused.
#[test]
fn a_supervisor_dropped_by_hand_while_it_gives_up_leaves_no_child_behind() {
    let (at_give_up, at_drop, log, started, result) = crate::common::autojump(60, || async {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (log_f, log_i, log_s) = (log.clone(), log.clone(), log.clone());
        let shielded = |secs: u64| {
            let scope = pride::CancelScope::new();
            scope.set_shield(true);
            scope.run(pride::sleep(Duration::from_secs(secs)))
        };
        let supervisor =
            supervise(RestartPolicy::one_for_one().max_restarts(0, Duration::from_secs(1)))
                .child("fatal", || async {
                    pride::sleep(Duration::from_secs(1)).await;
                    Err::<(), _>("the database is gone")
                })
                .child("idle", move || {
                    let down = LogOnDrop("idle", log_i.clone());
                    async move {
                        let _down = down;
                        std::future::pending::<()>().await;
                    }
                })
                .child("flusher", move || {
                    let log = log_f.clone();
                    async move {
                        let _down = LogOnDrop("flusher", log.clone());
                        shielded(5).await;
                        log.lock().unwrap().push("flusher flushed".into());
                        Err::<(), _>("flush failed")
                    }
                })
                .child_with_status("slow", move |status| {
                    let log = log_s.clone();
                    async move {
                        let _down = LogOnDrop("slow", log.clone());
                        shielded(5).await;
                        log.lock().unwrap().push("slow ready".into());
                        status.started(());
                        Err::<(), _>("slow failed")
                    }
                });
        let at_give_up = Arc::new(Mutex::new(Vec::new()));
        let (seen, watched) = (at_give_up.clone(), log.clone());
        let mut started = String::new();
        let result = pride::task_group(async |tg| {
            tg.start_soon(async move {
                pride::sleep(Duration::from_millis(1500)).await;
                *seen.lock().unwrap() = watched.lock().unwrap().clone();
            });
            let up = tg.start(|status| async move {
                pride::select! {
                    _ = supervisor.ready_on(status) => panic!("the teardown waits until 5 s"),
                    () = pride::sleep(Duration::from_secs(2)) => {}
                }
            });
            started = format!("{:?}", up.await);
        })
        .await;
        let at_drop = log.lock().unwrap().clone();
        // Long past the end of the flush and the warm-up.
        pride::sleep(Duration::from_secs(10)).await;
        let entries = log.lock().unwrap().clone();
        let result = result.map_err(|e| e.to_string());
        let at_give_up = at_give_up.lock().unwrap().clone();
        (at_give_up, at_drop, entries, started, result)
    });
    assert_eq!(at_give_up, ["idle down"], "the give-up's teardown: {log:?}");
    let mut dropped = at_drop[1..].to_vec();
    dropped.sort();
    assert_eq!(dropped, ["flusher down", "slow down"], "the drop: {log:?}");
    assert_eq!(log, at_drop, "a child ran on after the drop");
    assert_eq!(started, "Err(NotStarted)");
    assert_eq!(result, Ok(()));
}

/// A child that lets go of its status without calling `started` and runs on never
/// started, so the supervisor can never say that every child has: it lets go of its
/// `ready_on` status too, and the `start` returns `NotStarted` at once instead of
/// waiting forever. The supervisor runs on in the group, and starts the next child.
#[test]
fn ready_on_lets_go_of_its_status_when_a_child_lets_go_of_its_own_and_runs_on() {
    let outcome = crate::common::autojump(60, || async {
        let b_up = pride::Event::new();
        let up = b_up.clone();
        // An hour is a hang guard: `start` returns at once.
        pride::move_on_after(Duration::from_secs(3600), async {
            pride::task_group(async |tg| {
                let started = tg
                    .start(|status| {
                        supervise(RestartPolicy::one_for_one())
                            .child_with_status("a", |status| async move {
                                drop(status);
                                std::future::pending::<()>().await;
                                Ok::<_, pride::BoxError>(())
                            })
                            .child("b", move || {
                                let up = up.clone();
                                async move {
                                    up.set();
                                    std::future::pending::<()>().await;
                                    Ok::<_, pride::BoxError>(())
                                }
                            })
                            .ready_on(status)
                    })
                    .await;
                b_up.wait().await;
                tg.cancel_scope().cancel();
                Ok::<_, pride::BoxError>(format!("{started:?}"))
            })
            .await
            .unwrap()
        })
        .await
    });
    let started = outcome.expect("tg.start(supervise(..).ready_on(status)) never returned");
    assert_eq!(started, "Err(NotStarted)");
}

/// A zero window would count no restart against the budget (none is ever less than
/// zero ago), which would be no limit at all: the builder refuses it.
#[test]
#[should_panic(expected = "window")]
fn a_zero_window_with_a_restart_budget_is_refused() {
    let _ = RestartPolicy::one_for_one().max_restarts(2, Duration::ZERO);
}

/// With no restart allowed the window plays no part: a zero one is accepted, and the
/// first failure is fatal.
#[test]
fn a_zero_window_without_restarts_makes_the_first_failure_fatal() {
    autojump().block_on(async {
        let error = supervise(RestartPolicy::one_for_one().max_restarts(0, Duration::ZERO))
            .child("once", || async { Err::<(), _>("boom") })
            .await
            .unwrap_err();
        assert_eq!(error.errors().len(), 1);
    });
}

/// One-for-all: "b" fails while "a" is in a shielded unit of work; the teardown
/// cancels "a", which ends with `Ok(())` as that unit ends. "a" stopped because it was
/// told to, not because it was done: the restart starts it again with "b".
#[test]
fn one_for_all_restarts_a_sibling_that_returned_ok_while_torn_down() {
    let a_runs = Arc::new(AtomicUsize::new(0));
    let b_runs = Arc::new(AtomicUsize::new(0));
    let (ar, br) = (a_runs.clone(), b_runs.clone());
    autojump().block_on(async move {
        let stop = pride::CancelScope::new();
        let stopper = stop.clone();
        stop.run(
            supervise(
                RestartPolicy::one_for_all()
                    .max_restarts(5, Duration::from_secs(60))
                    .backoff(Duration::from_secs(1), Duration::from_secs(1)),
            )
            .child("a", move || {
                ar.fetch_add(1, Ordering::SeqCst);
                async move {
                    let shield = pride::CancelScope::new();
                    shield.set_shield(true);
                    shield.run(pride::sleep(Duration::from_secs(10))).await;
                    Ok::<(), pride::BoxError>(())
                }
            })
            .child("b", move || {
                let n = br.fetch_add(1, Ordering::SeqCst);
                let stopper = stopper.clone();
                async move {
                    if n == 0 {
                        pride::sleep(Duration::from_secs(2)).await;
                        return Err::<(), pride::BoxError>("b failed".into());
                    }
                    // The restarted run: ends the test once "a" has had time to restart.
                    pride::sleep(Duration::from_secs(30)).await;
                    stopper.cancel();
                    std::future::pending::<()>().await;
                    Ok(())
                }
            }),
        )
        .await;
    });
    assert_eq!(b_runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        a_runs.load(Ordering::SeqCst),
        2,
        "one-for-all restarted \"b\" but not \"a\", which its teardown stopped"
    );
}

/// One-for-all: "once" returns `Ok(())` before "b" fails: it is done, and the restart
/// that "b"'s failure causes does not start it again.
#[test]
fn one_for_all_does_not_restart_a_sibling_that_was_done_before_the_failure() {
    let once_runs = Arc::new(AtomicUsize::new(0));
    let b_runs = Arc::new(AtomicUsize::new(0));
    let (or, br) = (once_runs.clone(), b_runs.clone());
    autojump().block_on(async move {
        supervise(
            RestartPolicy::one_for_all()
                .max_restarts(5, Duration::from_secs(60))
                .backoff(Duration::from_secs(1), Duration::from_secs(1)),
        )
        .child("once", move || {
            or.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), pride::BoxError>(()) }
        })
        .child("b", move || {
            let n = br.fetch_add(1, Ordering::SeqCst);
            async move {
                pride::sleep(Duration::from_secs(2)).await;
                if n == 0 {
                    return Err::<(), pride::BoxError>("b failed".into());
                }
                Ok(())
            }
        })
        .await
        .unwrap();
    });
    assert_eq!(b_runs.load(Ordering::SeqCst), 2);
    assert_eq!(once_runs.load(Ordering::SeqCst), 1);
}

/// One-for-all: "a" ends its work with `Ok(())` in a poll that began before "b" failed,
/// and the teardown cancels "a" while that poll runs (this worker is held by it, the
/// teardown runs on another). That poll never saw the cancel: "a" is done, and the
/// restart does not run it again. "a" holds its last poll until "c", which the teardown
/// cancels after "a", has stopped: by then the cancel of "a" has come.
#[test]
fn one_for_all_does_not_restart_a_child_that_completed_without_seeing_the_cancel() {
    struct SendOnDrop(std::sync::mpsc::Sender<()>);
    impl Drop for SendOnDrop {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
    let a_runs = Arc::new(AtomicUsize::new(0));
    let b_runs = Arc::new(AtomicUsize::new(0));
    let (ar, br) = (a_runs.clone(), b_runs.clone());
    crate::common::block_on(60, &crate::common::builder(4), move || async move {
        let fail_b = pride::Event::new();
        let c_running = pride::Event::new();
        let (c_stopped, c_stopped_rx) = std::sync::mpsc::channel();
        let mut c_stopped = Some(c_stopped);
        let mut c_stopped_rx = Some(c_stopped_rx);
        let (fb, cr) = (fail_b.clone(), c_running.clone());
        supervise(
            RestartPolicy::one_for_all()
                .max_restarts(5, Duration::from_secs(60))
                .backoff(Duration::from_millis(1), Duration::from_millis(1)),
        )
        .child("a", move || {
            ar.fetch_add(1, Ordering::SeqCst);
            let (fail_b, c_running, c_stopped) =
                (fail_b.clone(), c_running.clone(), c_stopped_rx.take());
            async move {
                if let Some(c_stopped) = c_stopped {
                    c_running.wait().await;
                    // The last poll. "b" fails through another thread: a wake from this
                    // worker would queue "b" behind this poll.
                    std::thread::spawn(move || fail_b.set());
                    c_stopped.recv().unwrap();
                }
                Ok::<(), pride::BoxError>(())
            }
        })
        .child("b", move || {
            let n = br.fetch_add(1, Ordering::SeqCst);
            let fail_b = fb.clone();
            async move {
                if n == 0 {
                    fail_b.wait().await;
                    return Err::<(), pride::BoxError>("b failed".into());
                }
                Ok(())
            }
        })
        .child("c", move || {
            let (c_running, c_stopped) = (cr.clone(), c_stopped.take());
            async move {
                if let Some(c_stopped) = c_stopped {
                    let _on_drop = SendOnDrop(c_stopped);
                    c_running.set();
                    std::future::pending::<()>().await;
                }
                Ok::<(), pride::BoxError>(())
            }
        })
        .await
        .unwrap();
    });
    assert_eq!(b_runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        a_runs.load(Ordering::SeqCst),
        1,
        "\"a\" completed its work and was run again"
    );
}
