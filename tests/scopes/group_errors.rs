//! Errors and panics: caught on the worker, named, aggregated in completion order,
//! nested groups kept whole.

use std::future::Future;

use crate::common::{Counter, Flag, MyError, runtime, spin_until, watchdog, yield_until};
use pride::{BoxError, GroupError, TaskError, task_group};

#[test]
fn a_panicking_child_does_not_kill_its_worker() {
    watchdog(60, || {
        let rt = runtime(1);
        let err = rt
            .block_on(task_group(async |tg| {
                tg.start_soon_named("boom", async {
                    pride::yield_now().await;
                    if true {
                        panic!("kaboom {}", 7);
                    }
                });
            }))
            .unwrap_err();
        assert_eq!(err.errors().len(), 1, "{err:?}");
        let e = &err.errors()[0];
        assert_eq!(e.name(), Some("boom"));
        assert!(e.is_panic());
        assert!(!e.is_cancelled());
        assert_eq!(e.panic_message(), Some("kaboom 7"));
        assert!(e.downcast_ref::<MyError>().is_none());
        assert!(!err.is_timeout());
        assert!(!err.is_cancelled());

        // The only worker is still alive: more children run on it.
        let runs = Counter::new();
        rt.block_on(task_group(async |tg| {
            runs.start_yielding_children(&tg, 100);
        }))
        .unwrap();
        assert_eq!(runs.get(), 100);
    });
}

#[test]
fn panic_payload_comes_back_whole() {
    watchdog(60, || {
        let rt = runtime(1);
        let err = rt
            .block_on(task_group(async |tg| {
                tg.start_soon(async {
                    if true {
                        std::panic::panic_any(1234_u64);
                    }
                });
            }))
            .unwrap_err();
        let e = err.into_errors().pop().unwrap();
        assert!(e.is_panic());
        assert_eq!(e.name(), None);
        assert_eq!(e.panic_message(), None, "not a string payload");
        let payload = e.into_panic();
        assert_eq!(payload.downcast_ref::<u64>(), Some(&1234));
    });
}

#[test]
fn many_panics_on_one_worker_leave_it_alive() {
    watchdog(60, || {
        let rt = runtime(1);
        for i in 0..50 {
            let err = rt
                .block_on(task_group(async |tg| {
                    tg.start_soon(async move {
                        if true {
                            panic!("panic {i}");
                        }
                    });
                }))
                .unwrap_err();
            assert_eq!(
                err.errors()[0].panic_message(),
                Some(&*format!("panic {i}"))
            );
        }
        assert_eq!(rt.block_on(async { 1 }), 1);
    });
}

/// Two children fail, in a fixed order: "second" is mid-poll (a busy wait, no
/// suspension point, so it cannot be cancelled) when "first" fails, and fails only
/// once it sees that failure cancel the group.
#[test]
fn two_failures_are_both_reported_in_completion_order() {
    watchdog(60, || {
        let rt = runtime(2);
        let second_spinning = Flag::new();
        let err = rt
            .block_on(task_group(async |tg| {
                let spinning = second_spinning.clone();
                let scope = tg.cancel_scope().clone();
                tg.start_soon_named("second", async move {
                    spinning.set();
                    spin_until(|| scope.cancel_called());
                    if true {
                        panic!("second panicked");
                    }
                });
                let spinning = second_spinning.clone();
                tg.start_soon_named("first", async move {
                    yield_until(|| spinning.is_set()).await;
                    Err::<(), _>(MyError(1))
                });
            }))
            .unwrap_err();
        let errors = err.errors();
        assert_eq!(errors.len(), 2, "{err:?}");
        assert_eq!(errors[0].name(), Some("first"));
        assert_eq!(errors[0].downcast_ref::<MyError>(), Some(&MyError(1)));
        assert!(!errors[0].is_panic());
        assert_eq!(errors[1].name(), Some("second"));
        assert!(errors[1].is_panic());
        assert_eq!(errors[1].panic_message(), Some("second panicked"));
    });
}

/// The body's error is one more entry (without a name, labelled as the body's), after
/// the child's.
#[test]
fn the_body_error_is_aggregated_with_the_children() {
    watchdog(60, || {
        let rt = runtime(1);
        let err = rt
            .block_on(task_group(async |tg| {
                tg.start_soon_named("child", async { Err::<(), _>(MyError(1)) });
                // The body runs on the block_on thread, the child on the worker; the
                // body does not suspend, so the child's failure cannot drop it.
                let scope = tg.cancel_scope().clone();
                spin_until(|| scope.cancel_called());
                Err::<(), _>(MyError(2))
            }))
            .unwrap_err();
        let errors = err.errors();
        assert_eq!(errors.len(), 2, "{err:?}");
        assert_eq!(errors[0].name(), Some("child"));
        assert_eq!(errors[0].downcast_ref::<MyError>(), Some(&MyError(1)));
        assert_eq!(errors[1].name(), None);
        assert_eq!(errors[1].downcast_ref::<MyError>(), Some(&MyError(2)));
        assert_eq!(errors[1].to_string(), "the group's body failed: my error 2");
    });
}

#[test]
fn one_error_is_still_wrapped() {
    watchdog(60, || {
        let rt = runtime(1);
        let err: GroupError = rt
            .block_on(task_group(async |_tg| Err::<(), _>(MyError(9))))
            .unwrap_err();
        assert_eq!(err.errors().len(), 1);
        assert_eq!(err.find::<MyError>(), Some(&MyError(9)));
        assert!(!err.is_cancelled());
        assert!(!err.is_timeout());
    });
}

#[test]
fn a_nested_group_error_is_kept_whole() {
    watchdog(60, || {
        let rt = runtime(2);
        let err = rt
            .block_on(task_group(async |tg| {
                tg.start_soon_named("outer-child", async {
                    task_group(async |tg| {
                        tg.start_soon_named("leaf", async { Err::<(), _>(MyError(42)) });
                    })
                    .await
                });
            }))
            .unwrap_err();
        assert_eq!(err.errors().len(), 1, "{err:?}");
        let entry = &err.errors()[0];
        assert_eq!(entry.name(), Some("outer-child"));
        // Not flattened: the entry is the inner GroupError, not the leaf's error.
        assert!(entry.downcast_ref::<MyError>().is_none());
        let inner = entry
            .downcast_ref::<GroupError>()
            .expect("the nested group error");
        assert_eq!(inner.errors().len(), 1);
        assert_eq!(inner.errors()[0].name(), Some("leaf"));
        // `find` looks inside.
        assert_eq!(err.find::<MyError>(), Some(&MyError(42)));
        assert!(err.find::<std::io::Error>().is_none());
        let shown = err.to_string();
        assert!(shown.contains("outer-child"), "{shown}");
        assert!(shown.contains("leaf"), "{shown}");
        assert!(shown.contains("my error 42"), "{shown}");
    });
}

#[test]
fn downcast_ref_finds_the_concrete_error() {
    watchdog(60, || {
        let rt = runtime(1);
        let err = rt
            .block_on(task_group(async |tg| {
                tg.start_soon(async {
                    Err::<(), BoxError>(Box::new(std::io::Error::other("disk on fire")))
                });
            }))
            .unwrap_err();
        let e: &TaskError = &err.errors()[0];
        let io = e.downcast_ref::<std::io::Error>().expect("an io::Error");
        assert_eq!(io.to_string(), "disk on fire");
        assert!(e.downcast_ref::<MyError>().is_none());
        assert!(!e.is_panic());
        assert_eq!(e.panic_message(), None);
        // The error chain leads to it too.
        let source = std::error::Error::source(e).expect("a source");
        assert_eq!(source.to_string(), "disk on fire");
    });
}

#[test]
fn display_names_the_tasks() {
    watchdog(60, || {
        let rt = runtime(2);
        let second_spinning = Flag::new();
        let err = rt
            .block_on(task_group(async |tg| {
                let spinning = second_spinning.clone();
                let scope = tg.cancel_scope().clone();
                tg.start_soon(async move {
                    spinning.set();
                    spin_until(|| scope.cancel_called());
                    if true {
                        panic!("the unnamed one broke");
                    }
                });
                let spinning = second_spinning.clone();
                tg.start_soon_named("alpha", async move {
                    yield_until(|| spinning.is_set()).await;
                    Err::<(), _>(MyError(5))
                });
            }))
            .unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("alpha"), "{shown}");
        assert!(shown.contains("my error 5"), "{shown}");
        assert!(shown.contains("unnamed"), "{shown}");
        assert!(shown.contains("the unnamed one broke"), "{shown}");
        let first = err.errors()[0].to_string();
        assert!(
            first.contains("alpha") && first.contains("my error 5"),
            "{first}"
        );
    });
}

#[test]
fn a_panicking_body_is_reported_and_cancels_children() {
    watchdog(60, || {
        let rt = runtime(2);
        let dropped = Counter::new();
        let err = rt
            .block_on(task_group(async |tg| {
                let guard = dropped.drop_guard();
                tg.start_soon(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                });
                pride::yield_now().await;
                if true {
                    panic!("body broke");
                }
            }))
            .unwrap_err();
        assert_eq!(err.errors().len(), 1, "{err:?}");
        assert_eq!(err.errors()[0].name(), None);
        assert!(err.errors()[0].is_panic());
        assert_eq!(err.errors()[0].panic_message(), Some("body broke"));
        assert_eq!(dropped.get(), 1);
    });
}

#[test]
fn a_body_closure_that_panics_before_its_future_exists_is_reported() {
    watchdog(60, || {
        let rt = runtime(1);
        let err = rt
            .block_on(task_group(|_tg| {
                if true {
                    panic!("closure broke");
                }
                async {}
            }))
            .unwrap_err();
        assert_eq!(err.errors().len(), 1, "{err:?}");
        assert_eq!(err.errors()[0].panic_message(), Some("closure broke"));
    });
}

/// A failure (`bottom`) `depth` groups deep, each group inside a child of the one above.
fn failing_chain(
    depth: usize,
    bottom: BoxError,
) -> std::pin::Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return Err(bottom);
        }
        task_group(async move |tg| {
            tg.start_soon(failing_chain(depth - 1, bottom));
        })
        .await?;
        Ok(())
    })
}

/// Displaying a very deeply nested error stays small: the indentation does not grow
/// with the depth (10,000 levels took 100 MB; at the 2,000 here an indentation that
/// grew would take megabytes), and deep levels are elided.
#[test]
fn a_deeply_nested_error_displays_in_bounded_space() {
    let err = crate::common::run(2, 60, || failing_chain(2_000, "at the bottom".into()));
    let err = err.unwrap_err();
    let group = err.downcast_ref::<GroupError>().expect("a group error");
    let shown = group.to_string();
    assert!(shown.len() < 64 * 1024, "{} bytes", shown.len());
    assert!(
        shown.starts_with("task group failed with 1 error(s)"),
        "{shown}"
    );
    assert!(shown.contains("elided"), "{shown}");
    // The error itself is whole: walk down to the bottom.
    let mut level = group;
    let mut depth = 1;
    while let Some(next) = level.errors()[0].downcast_ref::<GroupError>() {
        level = next;
        depth += 1;
    }
    assert_eq!(depth, 2_000);
    let bottom = level.errors()[0].error().expect("an error, not a panic");
    assert_eq!(bottom.to_string(), "at the bottom");
}

/// `Debug` (what `unwrap` and `{:?}` print) and `find` of an error thousands of groups
/// deep run on a small stack: `Debug` shows 16 levels, as `Display` does, and
/// summarises the next one without its entries; `find` still reaches the bottom.
#[test]
fn debug_and_find_of_a_deeply_nested_error_run_on_a_small_stack() {
    let err = crate::common::run(2, 60, || failing_chain(3_000, Box::new(MyError(7))));
    let err = err.unwrap_err();
    let small_stack = std::thread::Builder::new().stack_size(256 << 10);
    let checked = small_stack
        .spawn(move || {
            let group = err.downcast_ref::<GroupError>().expect("a group error");
            let shown = format!("{group:?}");
            assert!(shown.len() < 64 * 1024, "{} bytes", shown.len());
            assert_eq!(shown.matches("GroupError {").count(), 17, "{shown}");
            assert!(
                shown.contains("GroupError { reason: Failed, cancel_reason: None, .. }"),
                "{shown}"
            );
            let pretty = format!("{group:#?}");
            assert_eq!(pretty.matches("GroupError {").count(), 17, "{pretty}");
            let entry = format!("{:?}", group.errors()[0]);
            assert_eq!(entry.matches("GroupError {").count(), 16, "{entry}");
            assert_eq!(group.find::<MyError>(), Some(&MyError(7)));
            assert!(group.find::<std::io::Error>().is_none());
        })
        .unwrap()
        .join();
    if let Err(payload) = checked {
        std::panic::resume_unwind(payload);
    }
}

/// A chain of groups `depth` deep, each inside a child of the level above, that
/// swallows every level's error; at the bottom a child fails and the body keeps its
/// handle's copy of that failure in `slot`.
fn chain_keeping_a_copy(
    depth: usize,
    slot: std::sync::Arc<std::sync::Mutex<Option<TaskError>>>,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = task_group(async move |tg| {
            if depth > 0 {
                tg.start_soon(chain_keeping_a_copy(depth - 1, slot));
                return;
            }
            let handle = tg.spawn(async { Err::<(), _>(MyError(3)) });
            let shield = pride::CancelScope::new();
            shield.set_shield(true);
            let copy = shield.run(handle).await.unwrap().unwrap_err();
            *slot.lock().unwrap() = Some(copy);
        })
        .await;
    })
}

/// A handle's copy of a failure, kept after every group of a deep chain is gone, is
/// the last owner of the whole chain's scopes: dropping it lets go of them one after
/// another, not by a call per level (which overflowed a small stack).
#[test]
fn dropping_a_kept_copy_of_a_deep_failure_runs_on_a_small_stack() {
    let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot2 = slot.clone();
    crate::common::run(2, 60, move || chain_keeping_a_copy(20_000, slot2));
    let copy = slot.lock().unwrap().take().expect("the bottom kept a copy");
    assert!(copy.is_reported());
    let small_stack = std::thread::Builder::new().stack_size(256 << 10);
    small_stack
        .spawn(move || drop(copy))
        .unwrap()
        .join()
        .unwrap();
}
