//! A group inside a cancelled scope drains: it waits for every child (shielded work in
//! a child runs on to its end) and reports every error, including panics in cleanup;
//! the scope that catches is decided after the cleanup.

use std::future::pending;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Flag, run};
use pride::{BoxError, CancelScope, Event, GroupError, checkpoint, task_group};

/// Waits for `release` inside a shield, then sets `done`.
async fn shielded_until(release: Event, done: Flag) {
    let shield = CancelScope::new();
    shield.set_shield(true);
    shield
        .run(async move {
            release.wait().await;
            done.set();
        })
        .await;
}

/// Sets `failed`, then fails with `message`.
async fn fail_with(failed: Event, message: &'static str) -> Result<(), BoxError> {
    failed.set();
    Err(message.into())
}

fn has_entry(err: &GroupError, message: &str) -> bool {
    err.errors()
        .iter()
        .any(|e| e.error().is_some_and(|e| e.to_string() == message))
}

#[test]
fn a_shield_inside_a_child_holds_when_a_scope_around_the_group_is_cancelled() {
    run(2, 20, || async {
        let scope = CancelScope::new();
        let (failed, release, done) = (Event::new(), Event::new(), Flag::new());
        let result = Arc::new(Mutex::new(None));
        let (scope2, failed2, release2, done2, result2) = (
            scope.clone(),
            failed.clone(),
            release.clone(),
            done.clone(),
            result.clone(),
        );
        let scope3 = scope.clone();
        task_group(async move |top| {
            top.start_soon(async move {
                let done3 = done2.clone();
                let out = scope2
                    .run(task_group(async move |tg| {
                        tg.start_soon(shielded_until(release2, done3));
                        tg.start_soon(fail_with(failed2, "boom"));
                        pending::<()>().await;
                    }))
                    .await;
                // The group waited for its shielded child before it ended.
                assert!(done2.is_set(), "the shielded cleanup was cut short");
                *result2.lock().unwrap() = Some(out);
            });
            failed.wait().await;
            scope3.cancel();
            release.set();
        })
        .await
        .unwrap();
        let out = result.lock().unwrap().take().expect("the child finished");
        // The error comes out through the cancelled scope as a completed value.
        let err = out.expect("a failed group is a value, not cancelled work");
        let err = err.expect_err("the child's error was lost");
        assert!(has_entry(&err, "boom"), "{err:?}");
        assert!(done.is_set());
        assert!(!scope.cancelled_caught());
    });
}

#[test]
fn an_inner_groups_error_survives_the_outer_groups_cancel() {
    run(2, 20, || async {
        let (failed, release, done) = (Event::new(), Event::new(), Flag::new());
        let (failed2, release2, done2) = (failed.clone(), release.clone(), done.clone());
        let err = task_group(async move |outer| {
            outer.start_soon_named("inner", async move {
                task_group(async move |inner| {
                    inner.start_soon(shielded_until(release2, done2));
                    inner.start_soon(fail_with(failed2, "inner boom"));
                })
                .await
            });
            failed.wait().await;
            outer.cancel_scope().cancel();
            release.set();
        })
        .await
        .expect_err("the inner group's error was lost to the outer cancel");
        assert!(done.is_set());
        assert_eq!(err.errors().len(), 1, "{err:?}");
        assert_eq!(err.errors()[0].name(), Some("inner"));
        let nested = err.errors()[0]
            .downcast_ref::<GroupError>()
            .expect("the inner group's error, kept whole");
        assert!(has_entry(nested, "inner boom"), "{nested:?}");
    });
}

/// Panics when dropped.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("cleanup failed");
    }
}

#[test]
fn a_cleanup_panic_in_a_cancelled_child_is_an_entry_next_to_the_cause() {
    run(2, 20, || async {
        let err = task_group(async |tg| {
            tg.start_soon_named("sleeper", async {
                let _cleanup = PanicOnDrop;
                pending::<()>().await;
            });
            tg.start_soon_named("fails", async {
                pride::yield_now().await;
                Err::<(), BoxError>("boom".into())
            });
        })
        .await
        .unwrap_err();
        assert_eq!(err.errors().len(), 2, "{err:?}");
        assert!(has_entry(&err, "boom"), "{err:?}");
        let panic = err
            .errors()
            .iter()
            .find(|e| e.is_panic())
            .expect("the cleanup panic");
        assert_eq!(panic.name(), Some("sleeper"));
        assert_eq!(panic.panic_message(), Some("cleanup failed"));
    });
}

#[test]
fn a_cleanup_panic_in_a_cancelled_body_is_an_entry_next_to_the_cause() {
    run(2, 20, || async {
        let err = task_group(async |tg| {
            tg.start_soon_named("fails", async { Err::<(), BoxError>("boom".into()) });
            let _cleanup = PanicOnDrop;
            pending::<()>().await;
        })
        .await
        .unwrap_err();
        assert_eq!(err.errors().len(), 2, "{err:?}");
        assert!(has_entry(&err, "boom"), "{err:?}");
        let panic = err
            .errors()
            .iter()
            .find(|e| e.is_panic())
            .expect("the cleanup panic");
        assert_eq!(panic.panic_message(), Some("cleanup failed"));
    });
}

/// Cancels its scope when dropped.
struct CancelOnDrop(CancelScope);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[test]
fn a_scope_cancelled_during_cleanup_further_out_catches() {
    run(2, 20, || async {
        let (outer, inner) = (CancelScope::new(), CancelScope::new());
        let between = Flag::new();
        let (outer2, inner2, between2) = (outer.clone(), inner.clone(), between.clone());
        let inner3 = inner.clone();
        let out = outer
            .run(async move {
                inner3
                    .run(async move {
                        let _cancels_outer = CancelOnDrop(outer2);
                        inner2.cancel();
                        checkpoint().await;
                    })
                    .await;
                between2.set();
            })
            .await;
        assert!(out.is_none());
        assert!(!between.is_set(), "code between the scopes ran");
        assert!(outer.cancelled_caught());
        assert!(!inner.cancelled_caught());
    });
}

#[test]
fn a_group_cancelled_during_its_cleanup_from_further_out_leaves_the_catch_outside() {
    run(2, 20, || async {
        let outer = CancelScope::new();
        let group_scope = Arc::new(Mutex::new(None));
        let (outer2, slot) = (outer.clone(), group_scope.clone());
        let out = outer
            .run(task_group(async move |tg| {
                *slot.lock().unwrap() = Some(tg.cancel_scope().clone());
                tg.start_soon(async move {
                    let _cancels_outer = CancelOnDrop(outer2);
                    pending::<()>().await;
                });
                tg.cancel_scope().cancel();
                checkpoint().await;
            }))
            .await;
        assert!(out.is_none(), "{out:?}");
        assert!(outer.cancelled_caught());
        let group_scope = group_scope.lock().unwrap().take().unwrap();
        assert!(!group_scope.cancelled_caught());
    });
}

/// Shields its scope when dropped.
struct ShieldOnDrop(CancelScope);

impl Drop for ShieldOnDrop {
    fn drop(&mut self) {
        self.0.set_shield(true);
    }
}

/// The outer scope is cancelled; while the inner scope's work is dropped, its cleanup
/// shields the inner scope. The cancel came from the outer scope, which catches: the
/// inner scope, never cancelled itself, catches nothing, and the code between the
/// scopes does not run.
#[test]
fn a_shield_set_during_cleanup_leaves_the_catch_outside() {
    run(1, 20, || async {
        let (outer, inner) = (CancelScope::new(), CancelScope::new());
        let between = Flag::new();
        let (outer2, inner2, inner3) = (outer.clone(), inner.clone(), inner.clone());
        let between2 = between.clone();
        let out = outer
            .run(async move {
                let _ = inner3
                    .run(async move {
                        let _shields = ShieldOnDrop(inner2);
                        outer2.cancel();
                        checkpoint().await;
                    })
                    .await;
                between2.set();
            })
            .await;
        assert_eq!(out, None);
        assert!(outer.cancelled_caught());
        assert!(!inner.cancelled_caught(), "caught a cancel from outside");
        assert!(!between.is_set(), "code between the scopes ran");
    });
}

/// The same for a group: a child's cleanup shields the group's scope while a cancel
/// of the scope around the group drains it. The scope around catches.
#[test]
fn a_group_shielded_during_its_cleanup_leaves_the_catch_outside() {
    run(1, 20, || async {
        let outer = CancelScope::new();
        let group_scope = Arc::new(Mutex::new(None));
        let (outer2, slot) = (outer.clone(), group_scope.clone());
        let out = outer
            .run(task_group(async move |tg| {
                *slot.lock().unwrap() = Some(tg.cancel_scope().clone());
                let shields = ShieldOnDrop(tg.cancel_scope().clone());
                tg.start_soon(async move {
                    let _shields = shields;
                    pending::<()>().await;
                });
                outer2.cancel();
                checkpoint().await;
            }))
            .await;
        assert!(out.is_none(), "{out:?}");
        assert!(outer.cancelled_caught());
        let group_scope = group_scope.lock().unwrap().take().unwrap();
        assert!(!group_scope.cancelled_caught(), "the group caught");
    });
}

/// A cleanup shields a scope between the inner scope and the cancelled one: no scope
/// that the cancel still reaches is left around the work. The inner scope catches
/// nothing, and the task does not hang.
#[test]
fn a_shield_set_during_cleanup_between_the_scopes_does_not_hang() {
    run(1, 20, || async {
        let (outer, middle, inner) = (CancelScope::new(), CancelScope::new(), CancelScope::new());
        let (outer2, middle2, inner2) = (outer.clone(), middle.clone(), inner.clone());
        let out = outer
            .run(async move {
                let _ = middle2
                    .clone()
                    .run(async move {
                        let _ = inner2
                            .run(async move {
                                let _shields = ShieldOnDrop(middle2);
                                outer2.cancel();
                                pending::<()>().await;
                            })
                            .await;
                    })
                    .await;
                checkpoint().await;
            })
            .await;
        assert_eq!(out, None);
        assert!(outer.cancelled_caught());
        assert!(!middle.cancelled_caught());
        assert!(!inner.cancelled_caught(), "caught a cancel from outside");
    });
}

/// The same with a task group inside: a child's cleanup shields the scope between the
/// group and the cancelled one. The group catches nothing, ends as cancelled work, and
/// the task does not hang.
#[test]
fn a_shield_set_during_a_groups_cleanup_between_the_scopes_does_not_hang() {
    run(1, 20, || async {
        let (outer, middle) = (CancelScope::new(), CancelScope::new());
        let (outer2, middle2) = (outer.clone(), middle.clone());
        let group_scope = Arc::new(Mutex::new(None));
        let slot = group_scope.clone();
        let out = outer
            .run(async move {
                let group = middle2
                    .clone()
                    .run(task_group(async move |tg| {
                        *slot.lock().unwrap() = Some(tg.cancel_scope().clone());
                        let shields = ShieldOnDrop(middle2);
                        tg.start_soon(async move {
                            let _shields = shields;
                            pending::<()>().await;
                        });
                        outer2.cancel();
                        checkpoint().await;
                    }))
                    .await;
                assert!(group.is_some_and(|result| result.is_err_and(|e| e.is_cancelled())));
                checkpoint().await;
            })
            .await;
        assert_eq!(out, None);
        assert!(outer.cancelled_caught());
        assert!(!middle.cancelled_caught());
        let group_scope = group_scope.lock().unwrap().take().unwrap();
        assert!(!group_scope.cancelled_caught(), "the group caught");
    });
}

/// As above, with a `fail_after` inside the shielded scope: it has no outcome for work
/// dropped for a cancel that a shield then cut off, and says so in its panic (not a
/// timeout error for a deadline that never passed).
#[test]
fn a_fail_after_whose_outer_cancel_a_shield_cut_off_panics_saying_so() {
    run(1, 20, || async {
        let (outer, middle) = (CancelScope::new(), CancelScope::new());
        let (outer2, middle2) = (outer.clone(), middle.clone());
        let result = task_group(async move |tg| {
            tg.start_soon_named("cut off", async move {
                outer
                    .run(async move {
                        let _ = middle2
                            .clone()
                            .run(pride::fail_after(Duration::from_secs(3600), async move {
                                let _shields = ShieldOnDrop(middle2);
                                outer2.cancel();
                                pending::<()>().await;
                            }))
                            .await;
                    })
                    .await;
            });
        })
        .await;
        let error = result.unwrap_err();
        let message = error.errors()[0].panic_message().unwrap_or_default();
        assert!(message.contains("cut off by a shield"), "{error}");
        assert!(!middle.cancelled_caught());
    });
}

/// A body that fails after its own group was cancelled by hand is a failure: it was not
/// dropped by the cancel, and its error is no cleanup panic.
#[test]
fn a_body_failing_after_its_groups_cancel_is_a_failure() {
    run(1, 20, || async {
        let error = task_group(async |tg| {
            tg.cancel_scope().cancel();
            Err::<(), _>("a real error")
        })
        .await
        .unwrap_err();
        assert!(!error.is_cancelled(), "{error}");
        assert_eq!(error.errors().len(), 1);
    });
}
