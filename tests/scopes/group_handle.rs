//! `TaskGroup::spawn` and `TaskHandle`: values, per-task cancel, failures.

use std::sync::{Arc, Mutex};

use crate::common::{Counter, Flag, MyError, runtime, watchdog};
use pride::{BoxError, TaskHandle, task_group};

#[test]
fn a_handle_returns_the_value() {
    watchdog(60, || {
        let rt = runtime(2);
        let (a, b, c) = rt
            .block_on(task_group(async |tg| {
                let a = tg.spawn(async { Ok::<_, BoxError>(21 * 2) });
                let b = tg.spawn_named("b", async {
                    pride::yield_now().await;
                    Ok::<_, MyError>(String::from("hello"))
                });
                let c = tg.spawn(async {});
                assert_eq!(b.name(), Some("b"));
                Ok::<_, BoxError>((a.await?, b.await?, c.await?))
            }))
            .unwrap();
        assert_eq!(a, 42);
        assert_eq!(b, "hello");
        assert_eq!(c, ());
    });
}

#[test]
fn handles_can_be_awaited_by_siblings_and_in_any_order() {
    watchdog(60, || {
        let rt = runtime(2);
        let sum = Arc::new(Mutex::new(0));
        rt.block_on(task_group(async |tg| {
            let handles: Vec<TaskHandle<usize>> = (0..20)
                .map(|i| {
                    tg.spawn(async move {
                        for _ in 0..(i % 3) {
                            pride::yield_now().await;
                        }
                        Ok::<_, BoxError>(i)
                    })
                })
                .collect();
            let sum = sum.clone();
            tg.start_soon(async move {
                for h in handles.into_iter().rev() {
                    *sum.lock().unwrap() += h.await.unwrap();
                }
            });
        }))
        .unwrap();
        assert_eq!(*sum.lock().unwrap(), (0..20).sum::<usize>());
    });
}

#[test]
fn cancel_cancels_that_child_only() {
    watchdog(60, || {
        let rt = runtime(2);
        let victim_dropped = Counter::new();
        let victim_resumed = Flag::new();
        let sibling_done = Flag::new();
        let body_done = Flag::new();
        let value = rt
            .block_on(task_group(async |tg| {
                let (guard, resumed) = (victim_dropped.drop_guard(), victim_resumed.clone());
                let victim = tg.spawn_named("victim", async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    resumed.set();
                });
                let done = sibling_done.clone();
                tg.start_soon(async move {
                    for _ in 0..20 {
                        pride::yield_now().await;
                    }
                    done.set();
                });
                pride::yield_now().await;
                victim.cancel();
                victim.cancel(); // idempotent
                let outcome = victim.await;
                let e = outcome.unwrap_err();
                assert!(e.is_cancelled(), "{e:?}");
                assert!(!e.is_panic());
                assert_eq!(e.name(), Some("victim"));
                assert!(e.to_string().contains("victim"), "{e}");
                // The body itself was not cancelled.
                for _ in 0..3 {
                    pride::yield_now().await;
                }
                body_done.set();
                Ok::<_, BoxError>(7)
            }))
            .unwrap();
        assert_eq!(value, 7);
        assert_eq!(victim_dropped.get(), 1);
        assert!(!victim_resumed.is_set());
        assert!(sibling_done.is_set());
        assert!(body_done.is_set());
    });
}

#[test]
fn cancel_right_after_spawn() {
    watchdog(60, || {
        let rt = runtime(1);
        let dropped = Counter::new();
        rt.block_on(task_group(async |tg| {
            let guard = dropped.drop_guard();
            let h = tg.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok::<_, BoxError>(1)
            });
            h.cancel();
            assert!(h.await.unwrap_err().is_cancelled());
        }))
        .unwrap();
        assert_eq!(dropped.get(), 1);
    });
}

#[test]
fn a_dropped_handle_does_not_cancel_the_child() {
    watchdog(60, || {
        let rt = runtime(2);
        let done = Flag::new();
        rt.block_on(task_group(async |tg| {
            let d = done.clone();
            drop(tg.spawn(async move {
                for _ in 0..10 {
                    pride::yield_now().await;
                }
                d.set();
                Ok::<_, BoxError>(())
            }));
        }))
        .unwrap();
        assert!(done.is_set());
    });
}

/// A failing spawned child: the handle gets an error and the group gets the real one.
/// The handle is awaited outside the group: inside it, the failure cancels the awaiter.
#[test]
fn a_failing_spawned_child_fails_the_handle_and_the_group() {
    watchdog(60, || {
        let rt = runtime(2);
        let slot: Arc<Mutex<Option<TaskHandle<u32>>>> = Arc::default();
        let (err, outcome) = rt.block_on(async {
            let err = task_group(async |tg| {
                let h = tg.spawn_named("bad", async {
                    pride::yield_now().await;
                    Err::<u32, _>(MyError(77))
                });
                *slot.lock().unwrap() = Some(h);
            })
            .await
            .unwrap_err();
            let h = slot.lock().unwrap().take().unwrap();
            (err, h.await)
        });
        assert_eq!(err.errors().len(), 1, "{err:?}");
        assert_eq!(err.errors()[0].name(), Some("bad"));
        assert_eq!(
            err.errors()[0].downcast_ref::<MyError>(),
            Some(&MyError(77))
        );
        let e = outcome.unwrap_err();
        assert_eq!(e.name(), Some("bad"));
        assert!(!e.is_cancelled());
        assert!(!e.is_panic());
        assert!(e.to_string().contains("my error 77"), "{e}");
    });
}

#[test]
fn a_panicking_spawned_child_fails_the_handle_and_the_group() {
    watchdog(60, || {
        let rt = runtime(2);
        let slot: Arc<Mutex<Option<TaskHandle<()>>>> = Arc::default();
        let (err, outcome) = rt.block_on(async {
            let err = task_group(async |tg| {
                let h = tg.spawn_named("crash", async {
                    pride::yield_now().await;
                    if true {
                        panic!("handle panic");
                    }
                });
                *slot.lock().unwrap() = Some(h);
            })
            .await
            .unwrap_err();
            let h = slot.lock().unwrap().take().unwrap();
            (err, h.await)
        });
        let real = err.into_errors().pop().unwrap();
        assert!(real.is_panic());
        assert_eq!(real.panic_message(), Some("handle panic"));
        let e = outcome.unwrap_err();
        assert!(e.is_panic());
        assert!(!e.is_cancelled());
        assert_eq!(e.name(), Some("crash"));
        assert_eq!(e.panic_message(), Some("handle panic"));
    });
}
