//! A group's own deadline, explicit shutdown, and `start()` meeting
//! deadlines, on the autojump clock: every assertion about time compares
//! exact mock instants.

use std::future::pending;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Counter, Flag, MyError, autojump};
use pride::{
    BoxError, Queue, StartError, TaskGroup, current_effective_deadline, current_time,
    move_on_after, sleep, task_group,
};

const SEC: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);

/// The mock times at which guards were dropped.
#[derive(Clone, Default)]
struct DropTimes(Arc<Mutex<Vec<Instant>>>);

impl DropTimes {
    fn guard(&self) -> DropAt {
        DropAt(self.0.clone())
    }

    fn times(&self) -> Vec<Instant> {
        self.0.lock().unwrap().clone()
    }
}

struct DropAt(Arc<Mutex<Vec<Instant>>>);

impl Drop for DropAt {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(current_time());
    }
}

#[test]
fn a_group_deadline_that_cuts_a_child_short_is_a_timeout_error() {
    autojump(60, || async {
        let start = current_time();
        let dropped = DropTimes::default();
        let error = task_group(async |tg| {
            tg.cancel_scope()
                .set_deadline(Some(current_time() + 5 * SEC));
            let guard = dropped.guard();
            tg.start_soon(async move {
                let _guard = guard;
                sleep(100 * SEC).await;
            });
        })
        .await
        .unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert!(!error.is_cancelled());
        assert!(error.errors().is_empty(), "a timeout is not a task's error");
        assert!(!error.to_string().is_empty());
        assert_eq!(current_time() - start, 5 * SEC);
        assert_eq!(dropped.times(), [start + 5 * SEC]);
    });
}

#[test]
fn a_group_deadline_that_cuts_the_body_short_is_a_timeout_error() {
    autojump(60, || async {
        let start = current_time();
        let error = task_group(async |tg| {
            tg.cancel_scope()
                .set_deadline(Some(current_time() + 5 * SEC));
            sleep(HOUR).await;
            Ok::<_, BoxError>(1)
        })
        .await
        .unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert!(error.errors().is_empty());
        assert_eq!(current_time() - start, 5 * SEC);
    });
}

#[test]
fn a_group_deadline_that_passes_after_the_work_finished_is_ok() {
    autojump(60, || async {
        let start = current_time();
        let scope = Arc::new(Mutex::new(None));
        let out = task_group(async |tg| {
            tg.cancel_scope()
                .set_deadline(Some(current_time() + 5 * SEC));
            *scope.lock().unwrap() = Some(tg.cancel_scope().clone());
            tg.start_soon(sleep(SEC));
            tg.start_soon(sleep(2 * SEC));
            Ok::<_, BoxError>("done")
        })
        .await;
        assert_eq!(out.unwrap(), "done");
        assert_eq!(current_time() - start, 2 * SEC);
        // Time passing the exited group's deadline cancels nothing.
        sleep(HOUR).await;
        let scope = scope.lock().unwrap().take().unwrap();
        assert!(!scope.cancel_called() && !scope.deadline_reached());
    });
}

#[test]
fn an_explicit_cancel_is_a_shutdown_ok_with_the_bodys_value() {
    autojump(60, || async {
        let start = current_time();
        let drops = Counter::new();
        let out = task_group(async |tg| {
            for _ in 0..3 {
                let guard = drops.drop_guard();
                tg.start_soon(async move {
                    let _guard = guard;
                    sleep(HOUR).await;
                });
            }
            sleep(SEC).await;
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>(42)
        })
        .await;
        assert_eq!(out.unwrap(), 42);
        assert_eq!(drops.get(), 3);
        assert_eq!(current_time() - start, SEC);

        // Cancelled by a child while the body waits: the body never produced a value.
        let error = task_group(async |tg| {
            let tg2 = tg.clone();
            tg.start_soon(async move {
                sleep(SEC).await;
                tg2.cancel_scope().cancel();
            });
            sleep(HOUR).await;
            Ok::<_, BoxError>(42)
        })
        .await
        .unwrap_err();
        assert!(error.is_cancelled() && !error.is_timeout(), "{error}");
        assert!(error.errors().is_empty());
        assert_eq!(current_time() - start, 2 * SEC);

        // An explicit cancel before the deadline: still a shutdown, not a timeout.
        let out = task_group(async |tg| {
            tg.cancel_scope()
                .set_deadline(Some(current_time() + 10 * SEC));
            tg.start_soon(sleep(HOUR));
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>(7)
        })
        .await;
        assert_eq!(out.unwrap(), 7);
    });
}

#[test]
fn ten_thousand_sleepers_are_all_dropped_by_the_group_deadline() {
    autojump(60, || async {
        const N: usize = 10_000;
        let start = current_time();
        let drops = Counter::new();
        let error = task_group(async |tg| {
            tg.cancel_scope()
                .set_deadline(Some(current_time() + 5 * SEC));
            for i in 0..N {
                let guard = drops.drop_guard();
                tg.start_soon(async move {
                    let _guard = guard;
                    sleep(HOUR + i as u32 * SEC).await;
                });
            }
        })
        .await
        .unwrap_err();
        assert!(error.is_timeout());
        assert!(error.errors().is_empty());
        assert_eq!(drops.get(), N);
        assert_eq!(current_time() - start, 5 * SEC);
    });
}

#[test]
fn a_starting_child_is_dropped_when_the_callers_timeout_fires() {
    autojump(60, || async {
        let start = current_time();
        let dropped = DropTimes::default();
        let started = Flag::new();
        task_group(async |tg| {
            let (guard, flag) = (dropped.guard(), started.clone());
            let out = move_on_after(
                SEC,
                tg.start(|status| async move {
                    let _guard = guard;
                    sleep(10 * SEC).await;
                    flag.set();
                    status.started(5);
                    pending::<()>().await;
                }),
            )
            .await;
            assert!(
                out.is_none(),
                "start returned a value after its caller timed out"
            );
        })
        .await
        .unwrap();
        assert!(!started.is_set());
        assert_eq!(dropped.times(), [start + SEC]);
        assert_eq!(current_time() - start, SEC);
    });
}

#[test]
fn a_deadline_on_the_target_group_does_not_cancel_a_starting_child() {
    autojump(60, || async {
        let start = current_time();
        let handles = Queue::<TaskGroup>::unbounded();
        let target_result = Arc::new(Mutex::new(None));
        let dropped = DropTimes::default();
        task_group(async |outer| {
            let (handles2, result) = (handles.clone(), target_result.clone());
            outer.start_soon(async move {
                let r = task_group(async move |target| {
                    target
                        .cancel_scope()
                        .set_deadline(Some(current_time() + SEC));
                    handles2.put_nowait(target.clone()).unwrap();
                    pending::<()>().await;
                })
                .await;
                *result.lock().unwrap() = Some((r, current_time()));
            });
            let target = handles.get().await.unwrap();
            let guard = dropped.guard();
            let value = target
                .start(|status| async move {
                    let _guard = guard;
                    // The target's deadline passes at 1 s, while this child starts.
                    sleep(3 * SEC).await;
                    status.started(7);
                    sleep(HOUR).await;
                })
                .await;
            assert_eq!(value.unwrap(), 7);
            assert_eq!(current_time() - start, 3 * SEC);
        })
        .await
        .unwrap();
        // Once started, the child belongs to the cancelled target group: dropped at its
        // next suspension point.
        assert_eq!(dropped.times(), [start + 3 * SEC]);
        let (result, at) = target_result.lock().unwrap().take().unwrap();
        let error = result.unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert_eq!(
            at,
            start + 3 * SEC,
            "the starting child kept the target open"
        );
    });
}

#[test]
fn a_start_whose_child_fails_under_a_group_deadline_reports_failed() {
    autojump(60, || async {
        let outcome = task_group(async |tg| {
            tg.cancel_scope().set_deadline(Some(current_time() + HOUR));
            let r = tg
                .start(|status: pride::TaskStatus<u32>| async move {
                    let _status = status; // held, never `started`
                    sleep(SEC).await;
                    Err::<(), _>(MyError(3))
                })
                .await;
            match r {
                Err(StartError::Failed(e)) => assert_eq!(e.downcast_ref(), Some(&MyError(3))),
                other => panic!("expected Failed, got {other:?}"),
            }
        })
        .await;
        // The failure went to the starter, not to the group.
        outcome.unwrap();
    });
}

#[test]
fn one_childs_error_drops_every_sibling_at_the_same_mock_instant() {
    autojump(60, || async {
        const N: usize = 200;
        let start = current_time();
        let dropped = DropTimes::default();
        let error = task_group(async |tg| {
            for i in 0..N {
                let guard = dropped.guard();
                tg.start_soon(async move {
                    let _guard = guard;
                    sleep(HOUR + i as u32 * SEC).await;
                });
            }
            // Siblings in a nested group, too.
            let nested_guards: Vec<_> = (0..N).map(|_| dropped.guard()).collect();
            tg.start_soon(async move {
                task_group(async move |inner| {
                    for guard in nested_guards {
                        inner.start_soon(async move {
                            let _guard = guard;
                            pending::<()>().await;
                        });
                    }
                })
                .await
            });
            tg.start_soon_named("failer", async {
                sleep(2 * SEC).await;
                Err::<(), _>(MyError(1))
            });
            sleep(HOUR).await;
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1, "{error}");
        assert_eq!(error.find::<MyError>(), Some(&MyError(1)));
        assert!(!error.is_timeout());
        let times = dropped.times();
        assert_eq!(times.len(), 2 * N);
        assert!(times.iter().all(|&t| t == start + 2 * SEC));
        assert_eq!(current_time() - start, 2 * SEC);
    });
}

#[test]
fn a_group_deadline_already_past_cancels_at_once() {
    autojump(60, || async {
        let start = current_time();
        // A child is cut short: a timeout, at once.
        let error = task_group(async |tg| {
            tg.cancel_scope().set_deadline(Some(current_time()));
            tg.start_soon(sleep(HOUR));
        })
        .await
        .unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert_eq!(current_time(), start);

        // Nothing suspended, so nothing was cut short: the body's value comes back.
        let out = task_group(async |tg| {
            tg.cancel_scope().set_deadline(Some(current_time()));
            assert!(tg.cancel_scope().cancel_called());
            Ok::<_, BoxError>(3)
        })
        .await;
        assert_eq!(out.unwrap(), 3);
    });
}

#[test]
fn a_group_deadline_does_not_cut_a_shielded_child_short() {
    autojump(60, || async {
        let start = current_time();
        let finished = Flag::new();
        let flag = finished.clone();
        let out = task_group(async |tg| {
            tg.cancel_scope().set_deadline(Some(current_time() + SEC));
            tg.start_soon(async move {
                let shield = pride::CancelScope::new();
                shield.set_shield(true);
                shield.run(sleep(3 * SEC)).await.unwrap();
                flag.set();
            });
            Ok::<_, BoxError>("body")
        })
        .await;
        assert!(finished.is_set());
        assert_eq!(current_time() - start, 3 * SEC);
        assert_eq!(out.unwrap(), "body", "nothing was cut short");
    });
}

/// An explicit cancel is a shutdown even if the group's deadline passes afterwards,
/// while shielded cleanup still runs: the group returns the body's value, and its
/// scope does not say the deadline cancelled it.
#[test]
fn a_deadline_passing_after_an_explicit_cancel_is_not_a_timeout() {
    autojump(60, || async {
        let start = current_time();
        let out = task_group(async |tg| {
            tg.cancel_scope()
                .set_deadline(Some(current_time() + 10 * SEC));
            tg.start_soon(async {
                // Cleanup that runs past the group's deadline, shielded.
                let shield = pride::CancelScope::new();
                shield.set_shield(true);
                shield.run(sleep(20 * SEC)).await.unwrap();
                pending::<()>().await;
            });
            sleep(SEC).await;
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>((tg.cancel_scope().clone(), "body"))
        })
        .await;
        assert_eq!(
            current_time() - start,
            20 * SEC,
            "the deadline passed inside"
        );
        let (scope, value) = match out {
            Ok(out) => out,
            Err(e) => panic!(
                "an explicit cancel became is_timeout={} is_cancelled={}: {e}",
                e.is_timeout(),
                e.is_cancelled()
            ),
        };
        assert_eq!(value, "body");
        assert!(scope.cancel_called() && !scope.deadline_reached());
    });
}

#[test]
fn an_outer_group_deadline_reaches_into_nested_groups() {
    autojump(60, || async {
        let start = current_time();
        let dropped = DropTimes::default();
        let error = task_group(async |tg| {
            tg.cancel_scope()
                .set_deadline(Some(current_time() + 4 * SEC));
            let guards: Vec<_> = (0..10).map(|_| dropped.guard()).collect();
            tg.start_soon(async move {
                task_group(async move |inner| {
                    // The inner group's own, later deadline never fires.
                    inner
                        .cancel_scope()
                        .set_deadline(Some(current_time() + HOUR));
                    for guard in guards {
                        inner.start_soon(async move {
                            let _guard = guard;
                            sleep(2 * HOUR).await;
                        });
                    }
                })
                .await
            });
        })
        .await
        .unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert!(
            error.errors().is_empty(),
            "the nested group was dropped, not failed"
        );
        assert_eq!(dropped.times(), vec![start + 4 * SEC; 10]);
    });
}

#[test]
fn a_group_deadline_equal_to_a_childs_fail_after_is_the_groups_timeout() {
    // Both pass at once: the group's scope is the outermost cancelled one and catches,
    // so the children's `fail_after` never returns `Err(TimeoutError)`.
    for _ in 0..20 {
        autojump(60, || async {
            let error = task_group(async |tg| {
                tg.cancel_scope()
                    .set_deadline(Some(current_time() + 5 * SEC));
                for _ in 0..8 {
                    tg.start_soon(async {
                        pride::fail_after(5 * SEC, sleep(HOUR)).await?;
                        Ok::<_, BoxError>(())
                    });
                }
            })
            .await
            .unwrap_err();
            assert!(error.is_timeout(), "{error}");
            assert!(error.errors().is_empty(), "{error}");
        });
    }
}

/// A group that set a deadline, or was cancelled, and returned at once must not hand
/// either to the next group opened on the same thread.
#[test]
fn a_group_hands_no_deadline_or_cancel_to_the_next_one() {
    autojump(30, || async {
        for round in 0..20u32 {
            let before = current_effective_deadline();
            task_group(async |tg| {
                assert_eq!(current_effective_deadline(), before, "round {round}");
                assert!(!tg.cancel_scope().cancel_called(), "round {round}");
                match round % 3 {
                    0 => tg.cancel_scope().set_deadline(Some(current_time() + HOUR)),
                    1 => tg.cancel_scope().cancel(),
                    _ => {}
                }
            })
            .await
            .unwrap();
        }
    });
}

/// Panics when dropped (unless already unwinding): a cleanup that fails.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("cleanup failed");
        }
    }
}

/// The deadline cut a child short and the child's cleanup panicked: the group timed
/// out, and the panic is its entry, next to the timeout.
#[test]
fn a_group_deadline_whose_cleanup_panics_is_a_timeout_with_the_panic() {
    autojump(60, || async {
        let error = task_group(async |tg| {
            tg.cancel_scope().set_deadline(Some(current_time() + SEC));
            tg.start_soon_named("holder", async {
                let _guard = PanicOnDrop;
                pending::<()>().await;
            });
        })
        .await
        .unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert!(!error.is_cancelled());
        assert_eq!(error.errors().len(), 1, "{error}");
        assert_eq!(error.errors()[0].panic_message(), Some("cleanup failed"));
        assert_eq!(
            error.to_string(),
            "task group timed out with 1 error(s)\n- task 'holder' panicked: cleanup failed"
        );
    });
}

/// A child's failure cancels the group before its deadline passes: a failure, not a
/// timeout, though the deadline passes while the cut-short work is cleaned up.
#[test]
fn a_failure_before_the_deadline_is_no_timeout_though_the_deadline_passes_later() {
    autojump(60, || async {
        let error = task_group(async |tg| {
            tg.cancel_scope()
                .set_deadline(Some(current_time() + 2 * SEC));
            tg.start_soon_named("shielded", async {
                let shield = pride::CancelScope::new();
                shield.set_shield(true);
                shield.run(sleep(3 * SEC)).await;
            });
            tg.start_soon_named("failer", async {
                sleep(SEC).await;
                Err::<(), _>(MyError(1))
            });
            pending::<()>().await;
        })
        .await
        .unwrap_err();
        assert!(!error.is_timeout(), "{error}");
        assert!(!error.is_cancelled(), "{error}");
        assert_eq!(error.errors().len(), 1, "{error}");
        assert!(
            error
                .to_string()
                .starts_with("task group failed with 1 error(s)"),
            "{error}"
        );
    });
}
