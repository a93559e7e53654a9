//! Errors and panics: caught on the worker, named, aggregated in completion order,
//! nested groups kept whole.

use std::future::Future;

use crate::common::{Counter, Flag, MyError, runtime, spin_until, watchdog, yield_until};
use pride::{BoxError, GroupError, TaskError, TaskGroup, TaskStatus, task_group};

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
///
/// The chain is built in a child process: the answers the scope tree caches for deep
/// chains are invalidated by every cancel in the process, so the cancels of the tests
/// running beside it made each level's look walk the whole chain (0.3 s alone, tens of
/// seconds beside a thread that cancels scopes in a loop), past the watchdog on a
/// loaded machine.
#[test]
fn dropping_a_kept_copy_of_a_deep_failure_runs_on_a_small_stack() {
    run_helper("group_errors::helper_drops_a_kept_copy_of_a_deep_failure_on_a_small_stack");
}

#[test]
#[ignore = "run as a child process by dropping_a_kept_copy_of_a_deep_failure_runs_on_a_small_stack"]
fn helper_drops_a_kept_copy_of_a_deep_failure_on_a_small_stack() {
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

/// A level of a chain of groups nested through `start`, `depth` levels above the
/// bottom: it opens a group and awaits a `start` of the next level with `?` (the usual
/// way to pass a failed start on), so that each group's entry holds a
/// `StartError::Failed` holding the next level's group error. The bottom fails with
/// `MyError(7)` before calling `started`.
fn failing_start_chain(
    depth: usize,
    status: TaskStatus<()>,
) -> std::pin::Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            let _status = status;
            return Err(Box::new(MyError(7)) as BoxError);
        }
        task_group(async move |tg| {
            tg.start(move |status| failing_start_chain(depth - 1, status))
                .await?;
            status.started(());
            Ok::<(), BoxError>(())
        })
        .await?;
        Ok(())
    })
}

/// The error of a group whose body starts a [`failing_start_chain`] `depth` levels deep.
fn start_chain_error(depth: usize) -> GroupError {
    crate::common::run(2, 60, move || {
        task_group(async move |tg| {
            tg.start(move |status| failing_start_chain(depth, status))
                .await?;
            Ok::<(), BoxError>(())
        })
    })
    .unwrap_err()
}

/// A chain of starts `depth` deep on one group, with no group in between: each starting
/// child awaits a start of the next with `?`, and the bottom fails with `MyError(7)`.
fn failing_starts_on_one_group(
    tg: TaskGroup,
    depth: usize,
    status: TaskStatus<()>,
) -> std::pin::Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            let _status = status;
            return Err(Box::new(MyError(7)) as BoxError);
        }
        let next = tg.clone();
        tg.start(move |status| failing_starts_on_one_group(next, depth - 1, status))
            .await?;
        status.started(());
        Ok(())
    })
}

/// The error of a group whose body starts a [`failing_starts_on_one_group`] chain.
fn start_on_one_group_error(depth: usize) -> GroupError {
    crate::common::run(2, 60, move || {
        task_group(async move |tg| {
            let next = tg.clone();
            tg.start(move |status| failing_starts_on_one_group(next, depth, status))
                .await?;
            Ok::<(), BoxError>(())
        })
    })
    .unwrap_err()
}

/// An error that wraps another one as its `source`, as error libraries do.
#[derive(Debug)]
struct Wrapped(GroupError);

impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("while serving")
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// `find` looks into every error an entry holds: a group's error passed on through a
/// failed `start` (`tg.start(f).await?` makes the entry a `StartError::Failed`), and any
/// error reached through `source`, such as a group's error wrapped by the task.
#[test]
fn find_looks_through_failed_starts_and_sources() {
    let err = start_chain_error(0);
    assert_eq!(err.find::<MyError>(), Some(&MyError(7)), "{err}");
    let err = start_chain_error(3);
    assert_eq!(err.find::<MyError>(), Some(&MyError(7)), "{err}");
    assert!(err.find::<std::io::Error>().is_none());
    let err = start_on_one_group_error(3);
    assert_eq!(err.find::<MyError>(), Some(&MyError(7)), "{err}");

    let err = crate::common::run(2, 60, || {
        task_group(async |tg| {
            tg.start_soon(async {
                task_group(async |tg| {
                    tg.start_soon(async { Err::<(), _>(MyError(8)) });
                })
                .await
                .map_err(Wrapped)
            });
        })
    })
    .unwrap_err();
    assert_eq!(err.find::<MyError>(), Some(&MyError(8)), "{err}");

    // An `io::Error` wrapping a group's error (its `source` skips the wrapped error):
    // every entry of the wrapped group is looked at, not only the first.
    let err = crate::common::run(2, 60, || {
        task_group(async |tg| {
            tg.start_soon(async {
                task_group(async |tg| {
                    tg.start_soon(async { Err::<(), _>("first") });
                    // Shielded: it fails after the first failure cancelled the group.
                    tg.start_soon(async {
                        let shield = pride::CancelScope::new();
                        shield.set_shield(true);
                        shield
                            .run(async {
                                pride::sleep(std::time::Duration::from_millis(1)).await;
                                Err::<(), _>(MyError(9))
                            })
                            .await
                            .expect("shielded")
                    });
                })
                .await
                .map_err(std::io::Error::other)
            });
        })
    })
    .unwrap_err();
    assert!(err.find::<GroupError>().is_some(), "{err}");
    assert_eq!(err.find::<MyError>(), Some(&MyError(9)), "{err}");
}

/// A group's error passed on through a failed start shows as a nested tree, as one
/// passed on by a child does: its entries are indented one step further.
#[test]
fn a_group_error_nested_through_a_failed_start_shows_as_a_nested_tree() {
    let err = start_chain_error(1);
    assert_eq!(
        err.to_string(),
        "task group failed with 1 error(s)\n\
         - the group's body failed: the task failed before it started: unnamed task \
         failed: task group failed with 1 error(s)\n  \
         - the group's body failed: the task failed before it started: unnamed task \
         failed: my error 7"
    );
}

/// Runs the ignored test `helper` of this binary in a child process, where a stack
/// overflow aborts only that process, and fails if it did not pass.
fn run_helper(helper: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            helper,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("RUST_MIN_STACK")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr: Vec<&str> = stderr.lines().take(5).collect();
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the helper failed ({}): {stderr:?}",
        out.status
    );
}

/// Runs `check` on a thread with a small stack, passing on its panic.
fn on_a_small_stack(check: impl FnOnce() + Send + 'static) {
    let small_stack = std::thread::Builder::new().stack_size(256 << 10);
    let checked = small_stack.spawn(check).unwrap().join();
    if let Err(payload) = checked {
        std::panic::resume_unwind(payload);
    }
}

/// An error nested thousands of groups deep through failed starts is shown, found and
/// dropped on a small stack, and its text stays small: an error nested in a failed
/// start is one level deeper, as a group's error in an entry is, and deep levels are
/// elided.
#[test]
fn a_deep_error_nested_through_starts_is_shown_and_dropped_on_a_small_stack() {
    run_helper("group_errors::helper_shows_finds_and_drops_a_deep_start_chain_error");
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run as a child process by a_deep_error_nested_through_starts_is_shown_and_dropped_on_a_small_stack"]
fn helper_shows_finds_and_drops_a_deep_start_chain_error() {
    let err = start_chain_error(2_000);
    on_a_small_stack(move || {
        let shown = err.to_string();
        assert!(shown.len() < 64 * 1024, "{} bytes", shown.len());
        assert!(shown.contains("elided"), "{shown}");
        let debug = format!("{err:?}");
        assert!(debug.len() < 64 * 1024, "{} bytes", debug.len());
        let pretty = format!("{err:#?}");
        assert!(pretty.len() < 64 * 1024, "{} bytes", pretty.len());
        assert_eq!(err.find::<MyError>(), Some(&MyError(7)));
        assert!(err.find::<std::io::Error>().is_none());
        drop(err);
    });
}

/// Dropping an error nested twenty thousand groups deep through failed starts takes it
/// apart level after level, not by a call per level (which overflowed a small stack).
#[test]
fn dropping_a_deep_error_nested_through_starts_runs_on_a_small_stack() {
    run_helper("group_errors::helper_drops_a_very_deep_start_chain_error");
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run as a child process by dropping_a_deep_error_nested_through_starts_runs_on_a_small_stack"]
fn helper_drops_a_very_deep_start_chain_error() {
    let err = start_chain_error(20_000);
    on_a_small_stack(move || drop(err));
}

/// Starts nested in starts on one group, with no group in between, nest their errors
/// the same way: shown in bounded space, found, and dropped on a small stack.
#[test]
fn a_deep_error_of_starts_on_one_group_is_shown_and_dropped_on_a_small_stack() {
    run_helper("group_errors::helper_shows_finds_and_drops_a_deep_error_of_starts_on_one_group");
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run as a child process by a_deep_error_of_starts_on_one_group_is_shown_and_dropped_on_a_small_stack"]
fn helper_shows_finds_and_drops_a_deep_error_of_starts_on_one_group() {
    let err = start_on_one_group_error(20_000);
    on_a_small_stack(move || {
        let shown = err.to_string();
        assert!(shown.len() < 64 * 1024, "{} bytes", shown.len());
        assert!(shown.contains("elided"), "{shown}");
        let debug = format!("{err:?}");
        assert!(debug.len() < 64 * 1024, "{} bytes", debug.len());
        let entry = err.errors()[0].to_string();
        assert!(entry.len() < 64 * 1024, "{} bytes", entry.len());
        assert_eq!(err.find::<MyError>(), Some(&MyError(7)));
        drop(err);
    });
}
