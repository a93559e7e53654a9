//! A group inside a cancelled scope drains: it waits for every child (shielded work in
//! a child runs on to its end) and reports every error, including panics in cleanup;
//! the scope that catches is decided after the cleanup.

use std::future::{Future, pending, poll_fn};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use crate::common::{Flag, autojump, panic_text, run};
use pride::{
    BoxError, CancelScope, Event, GroupError, checkpoint, fail_after, move_on_after, task_group,
};

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

/// The scope that drops the work catches its own cancel: `CancelScope::run` (cancelled
/// by hand), `move_on_after` or `fail_after` (their deadline).
#[derive(Clone, Copy, Debug)]
enum OwnCatch {
    Run,
    MoveOnAfter,
    FailAfter,
}

impl OwnCatch {
    /// Runs, inside this kind of scope, work whose cleanup panics once the scope has
    /// cancelled it.
    async fn drop_panicking_work(self) {
        let work = async {
            let _cleanup = PanicOnDrop;
            pending::<()>().await;
        };
        match self {
            OwnCatch::Run => {
                let scope = CancelScope::new();
                let handle = scope.clone();
                let out = scope
                    .run(async move {
                        handle.cancel();
                        work.await;
                    })
                    .await;
                assert_eq!(out, None);
            }
            OwnCatch::MoveOnAfter => {
                assert_eq!(move_on_after(Duration::from_secs(1), work).await, None);
            }
            OwnCatch::FailAfter => {
                assert!(fail_after(Duration::from_secs(1), work).await.is_err());
            }
        }
    }
}

/// A scope that catches its own cancel does not swallow a panic from the `Drop` of the
/// work it drops: the panic goes on unwinding out of the wrapper, the code after the
/// wrapper does not run, and the task around it fails with that panic, which its group
/// reports as an entry.
#[test]
fn a_cleanup_panic_in_work_a_scope_cancelled_itself_propagates() {
    for kind in [OwnCatch::Run, OwnCatch::MoveOnAfter, OwnCatch::FailAfter] {
        let after = Flag::new();
        let after2 = after.clone();
        let err = autojump(20, move || async move {
            task_group(async move |tg| {
                tg.start_soon_named("dropper", async move {
                    kind.drop_panicking_work().await;
                    after2.set();
                });
            })
            .await
            .unwrap_err()
        });
        assert!(!after.is_set(), "{kind:?}: the code after the wrapper ran");
        assert!(
            !err.is_cancelled() && !err.is_timeout(),
            "{kind:?}: {err:?}"
        );
        assert_eq!(err.errors().len(), 1, "{kind:?}: {err:?}");
        let entry = &err.errors()[0];
        assert_eq!(entry.name(), Some("dropper"), "{kind:?}");
        assert!(entry.is_panic(), "{kind:?}: {entry:?}");
        assert_eq!(entry.panic_message(), Some("cleanup failed"), "{kind:?}");
    }
}

/// With no group around, the panic reaches the caller of `block_on`.
#[test]
fn a_cleanup_panic_in_work_a_scope_cancelled_itself_reaches_block_on() {
    for kind in [OwnCatch::Run, OwnCatch::MoveOnAfter, OwnCatch::FailAfter] {
        let panic = std::panic::catch_unwind(|| autojump(20, move || kind.drop_panicking_work()))
            .expect_err("the cleanup panic went on unwinding");
        assert_eq!(panic_text(panic.as_ref()), "cleanup failed", "{kind:?}");
    }
}

/// The same when the work sits in an inner scope that an outer scope's cancel drops
/// whole: the panic from the inner scope's work goes on unwinding out of the outer
/// scope's wrapper.
#[test]
fn a_cleanup_panic_inside_an_inner_scope_dropped_by_an_outer_cancel_propagates() {
    let after = Flag::new();
    let after2 = after.clone();
    let err = autojump(20, move || async move {
        task_group(async move |tg| {
            tg.start_soon_named("dropper", async move {
                let outer = CancelScope::new();
                let handle = outer.clone();
                let out = outer
                    .run(async move {
                        handle.cancel();
                        CancelScope::new()
                            .run(async {
                                let _cleanup = PanicOnDrop;
                                pending::<()>().await;
                            })
                            .await
                    })
                    .await;
                assert_eq!(out, None);
                after2.set();
            });
        })
        .await
        .unwrap_err()
    });
    assert!(!after.is_set(), "the code after the outer wrapper ran");
    assert_eq!(err.errors().len(), 1, "{err:?}");
    assert_eq!(err.errors()[0].panic_message(), Some("cleanup failed"));
}

/// Polls `future` once (it must be pending), then drops it.
async fn drop_after_one_poll<F: Future>(future: F) {
    let mut future = Box::pin(future);
    let pending = poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await;
    assert!(pending, "the wrapper's work should be waiting");
    drop(future);
}

/// A scope's wrapper dropped by hand while its work waits: the work's cleanup panic
/// comes out of that drop, for `CancelScope::run`, `move_on_after` and `fail_after`.
#[test]
fn a_cleanup_panic_in_a_scopes_work_comes_out_of_a_drop_by_hand() {
    for kind in [OwnCatch::Run, OwnCatch::MoveOnAfter, OwnCatch::FailAfter] {
        let after = Flag::new();
        let after2 = after.clone();
        let err = autojump(20, move || async move {
            task_group(async move |tg| {
                tg.start_soon_named("dropper", async move {
                    let work = async {
                        let _cleanup = PanicOnDrop;
                        pending::<()>().await;
                    };
                    match kind {
                        OwnCatch::Run => drop_after_one_poll(CancelScope::new().run(work)).await,
                        OwnCatch::MoveOnAfter => {
                            drop_after_one_poll(move_on_after(Duration::from_secs(1), work)).await
                        }
                        OwnCatch::FailAfter => {
                            drop_after_one_poll(fail_after(Duration::from_secs(1), work)).await
                        }
                    }
                    after2.set();
                });
            })
            .await
            .unwrap_err()
        });
        assert!(!after.is_set(), "{kind:?}: the code after the drop ran");
        assert_eq!(err.errors().len(), 1, "{kind:?}: {err:?}");
        assert_eq!(
            err.errors()[0].panic_message(),
            Some("cleanup failed"),
            "{kind:?}"
        );
    }
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

/// Work a group's cancel reaches inside a scope of a child (a `CancelScope::run`, a
/// timeout) is dropped by that scope's wrapper or by the child's, whichever sees the
/// cancel first: either way, a panic of its cleanup is an entry that came after the
/// cancel, and the group stays cancelled (not failed), as when the child's own work
/// panics in `Drop`.
#[test]
fn a_cleanup_panic_inside_a_childs_scope_keeps_a_cancelled_group_cancelled() {
    for inside in ["the child's work", "CancelScope::run", "move_on_after"] {
        let err = autojump(20, move || async move {
            task_group(async move |tg| {
                // Cancelled first: the child starts into the cancelled group, and its
                // work is dropped at its first suspension point, by the innermost
                // wrapper.
                tg.cancel_scope().cancel();
                tg.start_soon_named("cleaner", async move {
                    let work = async {
                        let _p = PanicOnDrop;
                        pending::<()>().await;
                    };
                    match inside {
                        "CancelScope::run" => {
                            let _ = CancelScope::new().run(work).await;
                        }
                        "move_on_after" => {
                            let _ = move_on_after(Duration::from_secs(100), work).await;
                        }
                        _ => work.await,
                    }
                });
                pending::<()>().await;
            })
            .await
            .unwrap_err()
        });
        assert_eq!(err.errors().len(), 1, "{inside}: {err:?}");
        assert!(err.errors()[0].is_panic(), "{inside}: {err:?}");
        assert_eq!(err.errors()[0].name(), Some("cleaner"), "{inside}: {err:?}");
        assert!(err.is_cancelled(), "{inside}: {err:?}");
    }
}

/// The same for the body's work inside a scope.
#[test]
fn a_cleanup_panic_inside_a_bodys_scope_keeps_a_cancelled_group_cancelled() {
    let err = autojump(20, || async {
        task_group(async |tg| {
            tg.cancel_scope().cancel();
            let _ = CancelScope::new()
                .run(async {
                    let _p = PanicOnDrop;
                    pending::<()>().await;
                })
                .await;
        })
        .await
        .unwrap_err()
    });
    assert_eq!(err.errors().len(), 1, "{err:?}");
    assert!(err.is_cancelled(), "{err:?}");
}

/// An isolated child's handler sees the child's failures, not the panic of cleanup
/// that a cancel of the group caused, even when a scope inside the child dropped the
/// work: that panic fails the group.
#[test]
fn a_cleanup_panic_inside_an_isolated_childs_scope_goes_to_the_group() {
    for in_scope in [false, true] {
        let (handled, result) = autojump(20, move || async move {
            let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let seen = handled.clone();
            let result = task_group(async move |tg| {
                tg.cancel_scope().cancel();
                tg.start_soon_isolated_with(
                    "isolated",
                    async move {
                        let work = async {
                            let _p = PanicOnDrop;
                            pending::<()>().await;
                        };
                        if in_scope {
                            let _ = CancelScope::new().run(work).await;
                        } else {
                            work.await;
                        }
                    },
                    move |_| {
                        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    },
                );
                pending::<()>().await;
            })
            .await;
            (handled.load(std::sync::atomic::Ordering::SeqCst), result)
        });
        let err = result.unwrap_err();
        assert_eq!(handled, 0, "in a scope: {in_scope}: {err:?}");
        assert_eq!(err.errors().len(), 1, "in a scope: {in_scope}: {err:?}");
    }
}

/// A scope's `run` awaited through `&mut` inside an outer scope: when the outer scope's
/// cancel reaches the inner work mid-poll, the inner work's cleanup panic unwinds out
/// of the outer scope, which catches (the code after it does not run), with the
/// original payload.
#[test]
fn a_cleanup_panic_of_a_scope_awaited_by_reference_unwinds_out_of_the_catching_scope() {
    use futures_lite::FutureExt;
    let (unwound, after_ran) = autojump(20, || async {
        let after = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let after_scope = after.clone();
        let outcome = std::panic::AssertUnwindSafe(async move {
            let outer = CancelScope::new();
            let cancel = outer.clone();
            let mut run = std::pin::pin!(CancelScope::new().run(async move {
                let _p = PanicOnDrop;
                cancel.cancel();
                pending::<()>().await;
            }));
            let _ = outer.run(run.as_mut()).await;
            after_scope.store(true, std::sync::atomic::Ordering::SeqCst);
        })
        .catch_unwind()
        .await;
        let text = outcome
            .err()
            .map(|payload| panic_text(&*payload).to_owned());
        (text, after.load(std::sync::atomic::Ordering::SeqCst))
    });
    assert_eq!(unwound.as_deref(), Some("cleanup failed"));
    assert!(!after_ran, "the code after the catching scope ran");
}

/// The cancel of a group, made by one `select!` branch, reaches work inside a scope in
/// a second branch while a third is ready in the same poll: the cleanup panic is still
/// cleanup the cancel caused, and the group stays cancelled.
#[test]
fn a_cleanup_panic_in_a_select_branch_keeps_a_cancelled_group_cancelled() {
    let err = autojump(20, || async {
        task_group(async |tg| {
            pride::select! {
                () = async {
                    pride::yield_now().await;
                    tg.cancel_scope().cancel();
                    pending::<()>().await;
                } => {},
                _ = CancelScope::new().run(async {
                    let _p = PanicOnDrop;
                    pending::<()>().await;
                }) => {},
                () = pride::yield_now() => {},
            };
        })
        .await
        .unwrap_err()
    });
    assert_eq!(err.errors().len(), 1, "{err:?}");
    assert!(err.errors()[0].is_panic(), "{err:?}");
    assert!(err.is_cancelled(), "{err:?}");
}
