//! Join, fail fast and spawning rules.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::common::{Counter, Flag, MyError, panic_text, runtime, watchdog};
use pride::{BoxError, GroupClosed, task_group};

#[test]
fn a_group_waits_for_grandchildren_spawned_into_it() {
    watchdog(60, || {
        let rt = runtime(2);
        let done = Counter::new();
        rt.block_on(task_group(async |tg| {
            for _ in 0..4 {
                let (tg2, done) = (tg.clone(), done.clone());
                tg.start_soon(async move {
                    pride::yield_now().await;
                    for _ in 0..4 {
                        let (tg3, done) = (tg2.clone(), done.clone());
                        tg2.start_soon(async move {
                            for _ in 0..3 {
                                pride::yield_now().await;
                            }
                            for _ in 0..4 {
                                let done = done.clone();
                                tg3.start_soon(async move {
                                    for _ in 0..5 {
                                        pride::yield_now().await;
                                    }
                                    done.inc();
                                });
                            }
                            done.inc();
                        });
                    }
                    done.inc();
                });
            }
            // The body returns at once; the group still waits for all of them.
        }))
        .unwrap();
        assert_eq!(done.get(), 4 + 16 + 64);
    });
}

#[test]
fn return_in_the_body_does_not_cancel_children() {
    watchdog(60, || {
        let rt = runtime(2);
        let finished = Counter::new();
        let drops = Counter::new();
        let value = rt
            .block_on(task_group(async |tg| {
                for _ in 0..10 {
                    let finished = finished.clone();
                    let guard = drops.drop_guard();
                    tg.start_soon(async move {
                        let _guard = guard;
                        for _ in 0..10 {
                            pride::yield_now().await;
                        }
                        finished.inc();
                    });
                }
                Ok::<_, BoxError>("body value")
            }))
            .unwrap();
        assert_eq!(value, "body value");
        assert_eq!(finished.get(), 10);
        assert_eq!(drops.get(), 10);
    });
}

#[test]
fn the_first_error_cancels_a_pending_sibling_and_the_body() {
    watchdog(60, || {
        let rt = runtime(2);
        let sibling_dropped = Counter::new();
        let body_dropped = Counter::new();
        let after_pending = Flag::new();
        let err = rt
            .block_on(task_group(async |tg| {
                let guard = sibling_dropped.drop_guard();
                let after = after_pending.clone();
                tg.start_soon_named("forever", async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    after.set();
                });
                tg.start_soon_named("failer", async {
                    for _ in 0..3 {
                        pride::yield_now().await;
                    }
                    Err::<(), _>(MyError(3))
                });
                let _guard = body_dropped.drop_guard();
                std::future::pending::<()>().await;
                after_pending.set();
            }))
            .unwrap_err();
        // Only the real error: cancellation of the sibling and the body is no entry.
        assert_eq!(err.errors().len(), 1, "{err:?}");
        assert_eq!(err.errors()[0].name(), Some("failer"));
        assert_eq!(err.find::<MyError>(), Some(&MyError(3)));
        assert!(!err.is_cancelled());
        assert_eq!(sibling_dropped.get(), 1);
        assert_eq!(body_dropped.get(), 1);
        assert!(!after_pending.is_set());
    });
}

#[test]
fn a_panic_cancels_siblings_like_an_error() {
    watchdog(60, || {
        let rt = runtime(2);
        let dropped = Counter::new();
        let err = rt
            .block_on(task_group(async |tg| {
                for _ in 0..5 {
                    let guard = dropped.drop_guard();
                    tg.start_soon(async move {
                        let _guard = guard;
                        std::future::pending::<()>().await;
                    });
                }
                tg.start_soon(async {
                    pride::yield_now().await;
                    if true {
                        panic!("stop");
                    }
                });
            }))
            .unwrap_err();
        assert_eq!(err.errors().len(), 1);
        assert!(err.errors()[0].is_panic());
        assert_eq!(dropped.get(), 5);
    });
}

#[test]
fn spawning_after_the_group_exited_is_refused() {
    watchdog(60, || {
        let rt = runtime(1);
        let tg = rt
            .block_on(task_group(async |tg| Ok::<_, BoxError>(tg.clone())))
            .unwrap();
        let ran = Flag::new();
        let dropped = Counter::new();

        let (r, guard) = (ran.clone(), dropped.drop_guard());
        let refused = tg.try_start_soon(async move {
            let _guard = guard;
            r.set();
        });
        assert_eq!(refused, Err(GroupClosed));
        // Also from inside the runtime.
        let (r, guard) = (ran.clone(), dropped.drop_guard());
        let refused = rt.block_on(async {
            tg.try_start_soon(async move {
                let _guard = guard;
                r.set();
            })
        });
        assert_eq!(refused, Err(GroupClosed));
        assert!(!GroupClosed.to_string().is_empty());

        let (r, guard) = (ran.clone(), dropped.drop_guard());
        let caught = catch_unwind(AssertUnwindSafe(|| {
            tg.start_soon(async move {
                let _guard = guard;
                r.set();
            })
        }))
        .unwrap_err();
        let message = panic_text(&*caught);
        assert!(
            message.contains("already exited"),
            "unclear message: {message:?}"
        );

        let caught = catch_unwind(AssertUnwindSafe(|| {
            tg.spawn(async { Ok::<_, BoxError>(1_u8) })
        }))
        .unwrap_err();
        let message = panic_text(&*caught);
        assert!(
            message.contains("already exited"),
            "unclear message: {message:?}"
        );

        // The refused futures were dropped without running.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!ran.is_set());
        assert_eq!(dropped.get(), 3);
    });
}

/// Spawning into a cancelled but open group: the child is started and then dropped at
/// its first suspension point; it never resumes after it.
#[test]
fn a_child_spawned_into_a_cancelled_group_is_dropped_at_its_first_suspension() {
    watchdog(60, || {
        let rt = runtime(2);
        let resumed = Flag::new();
        let dropped = Counter::new();
        let value = rt
            .block_on(task_group(async |tg| {
                tg.cancel_scope().cancel();
                // Spawning is not a suspension point, and the group is still open.
                let (resumed, guard) = (resumed.clone(), dropped.drop_guard());
                tg.start_soon(async move {
                    let _guard = guard;
                    pride::yield_now().await;
                    resumed.set();
                });
                assert!(tg.cancel_scope().cancel_called());
                Ok::<_, BoxError>(1)
            }))
            .unwrap();
        // A deliberate cancel with a body value is a clean exit.
        assert_eq!(value, 1);
        assert!(!resumed.is_set());
        assert_eq!(dropped.get(), 1);
    });
}

/// Spawning into a cancelled but open group, the other half: "started" means the
/// child's code up to its first suspension point runs, as in Trio, where a task started
/// in a cancelled nursery runs until its first checkpoint.
#[test]
fn a_child_spawned_into_a_cancelled_group_runs_until_its_first_suspension() {
    watchdog(60, || {
        let rt = runtime(2);
        let started = Flag::new();
        let resumed = Flag::new();
        rt.block_on(task_group(async |tg| {
            tg.cancel_scope().cancel();
            let (started, resumed) = (started.clone(), resumed.clone());
            tg.start_soon(async move {
                started.set();
                pride::yield_now().await;
                resumed.set();
            });
        }))
        .unwrap();
        assert!(
            started.is_set(),
            "the child's code before its first .await did not run"
        );
        assert!(!resumed.is_set());
    });
}

#[test]
fn children_may_spawn_siblings_while_the_body_waits() {
    watchdog(60, || {
        let rt = runtime(2);
        let done = Counter::new();
        rt.block_on(task_group(async |tg| {
            let (tg2, done2) = (tg.clone(), done.clone());
            tg.start_soon(async move {
                // Spawn a chain: each child starts the next one and returns.
                fn chain(tg: pride::TaskGroup, done: Counter, left: usize) {
                    if left == 0 {
                        return;
                    }
                    let tg2 = tg.clone();
                    tg.start_soon(async move {
                        pride::yield_now().await;
                        done.inc();
                        chain(tg2, done, left - 1);
                    });
                }
                chain(tg2, done2, 50);
            });
            // The body waits on something unrelated meanwhile.
            for _ in 0..10 {
                pride::yield_now().await;
            }
        }))
        .unwrap();
        assert_eq!(done.get(), 50);
    });
}

/// One thread that drives groups on a runtime, drops it, and opens groups on another
/// must find its children running on the live runtime, every time (no state a
/// group keeps may tie it to the runtime of an earlier group on the same thread).
#[test]
fn groups_on_one_thread_follow_it_from_runtime_to_runtime() {
    watchdog(60, || {
        for round in 0..4 {
            let rt = runtime(1 + round % 2);
            let done = Counter::new();
            for _ in 0..10 {
                let done = done.clone();
                rt.block_on(task_group(async move |tg| {
                    done.start_yielding_children(&tg, 3);
                }))
                .unwrap();
            }
            assert_eq!(done.get(), 30);
            drop(rt);
        }
    });
}

/// `set_deadline` on an exited scope changes nothing, also for a group that started no
/// child and whose `TaskGroup` handle outlives it.
#[pride::test]
async fn set_deadline_on_an_exited_childless_group_changes_nothing() {
    let mut kept = None;
    task_group(async |tg| {
        kept = Some(tg.clone());
    })
    .await
    .unwrap();
    let tg = kept.unwrap();
    tg.cancel_scope().set_deadline(Some(pride::current_time()));
    assert_eq!(
        tg.cancel_scope().deadline(),
        None,
        "the deadline was stored"
    );
    assert!(
        !tg.cancel_scope().cancel_called(),
        "the exited scope was cancelled"
    );
}

/// The same for a group that started a child.
#[pride::test]
async fn set_deadline_on_an_exited_group_with_a_child_changes_nothing() {
    let mut kept = None;
    task_group(async |tg| {
        tg.start_soon(async {});
        kept = Some(tg.clone());
    })
    .await
    .unwrap();
    let tg = kept.unwrap();
    tg.cancel_scope().set_deadline(Some(pride::current_time()));
    assert_eq!(tg.cancel_scope().deadline(), None);
    assert!(!tg.cancel_scope().cancel_called());
}
