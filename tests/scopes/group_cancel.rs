//! Cancelling a group (and cancel reasons): an explicit
//! cancel is a clean shutdown, cancellation is never an error entry, a child spawned
//! into a cancelled but open group is dropped at its first suspension point, and nested
//! groups keep their error structure.

use std::future::{Future, pending, poll_fn};
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::task::Poll;

use crate::common::{Boom, Counter, Flag, run, yield_until};
use pride::{BoxError, CancelScope, Event, GroupError, checkpoint, task_group};

fn pending_children(tg: &pride::TaskGroup, drops: &Counter, n: usize) {
    for _ in 0..n {
        let guard = drops.drop_guard();
        tg.start_soon(async move {
            let _guard = guard;
            pending::<()>().await;
        });
    }
}

#[test]
fn explicit_cancel_with_a_body_value_is_ok() {
    run(2, 20, || async {
        let drops = Counter::new();
        let drops2 = drops.clone();
        let value = task_group(async |tg| {
            pending_children(&tg, &drops2, 3);
            checkpoint().await;
            tg.cancel_scope().cancel();
            // Not a suspension point: the body goes on and produces its value.
            Ok::<_, BoxError>("done")
        })
        .await
        .unwrap();
        assert_eq!(value, "done");
        assert_eq!(drops.get(), 3);
    });
}

#[test]
fn explicit_cancel_before_the_body_produced_a_value_is_cancelled() {
    run(2, 20, || async {
        let drops = Counter::new();
        let drops2 = drops.clone();
        let body_guard = drops.drop_guard();
        let error = task_group(async |tg| {
            let _guard = body_guard;
            pending_children(&tg, &drops2, 2);
            tg.cancel_scope().cancel();
            checkpoint().await;
            Ok::<_, BoxError>(1)
        })
        .await
        .unwrap_err();
        assert!(error.is_cancelled());
        assert!(!error.is_timeout());
        assert!(error.errors().is_empty(), "cancellation is never an entry");
        assert_eq!(error.cancel_reason(), None);
        assert_eq!(drops.get(), 3);
        assert!(error.to_string().contains("cancelled"), "{error}");
    });
}

#[test]
fn a_child_cancelling_the_group_drops_the_waiting_body() {
    run(2, 20, || async {
        let body_guard = Counter::new();
        let guard = body_guard.drop_guard();
        let error = task_group(async |tg| {
            let _guard = guard;
            let scope = tg.cancel_scope().clone();
            tg.start_soon(async move {
                checkpoint().await;
                scope.cancel();
            });
            pending::<()>().await;
        })
        .await
        .unwrap_err();
        assert!(error.is_cancelled());
        assert!(error.errors().is_empty());
        assert_eq!(body_guard.get(), 1);
    });
}

#[test]
fn cancel_reason_shows_in_the_group_error() {
    run(2, 20, || async {
        let error = task_group(async |tg| {
            tg.start_soon(pending::<()>());
            tg.cancel_scope().cancel_with_reason("shutting down");
            checkpoint().await;
        })
        .await
        .unwrap_err();
        assert!(error.is_cancelled());
        assert_eq!(error.cancel_reason(), Some("shutting down"));
        let shown = error.to_string();
        assert!(shown.contains("shutting down"), "{shown}");
        assert!(error.errors().is_empty());
    });
}

#[test]
fn cancel_with_reason_is_still_a_clean_shutdown_when_the_body_finished() {
    run(2, 20, || async {
        let value = task_group(async |tg| {
            tg.start_soon(pending::<()>());
            tg.cancel_scope().cancel_with_reason("shutting down");
            Ok::<_, BoxError>(5)
        })
        .await
        .unwrap();
        assert_eq!(value, 5);
    });
}

#[test]
fn cancelled_siblings_are_not_error_entries() {
    run(2, 20, || async {
        let drops = Counter::new();
        let drops2 = drops.clone();
        let error = task_group(async |tg| {
            pending_children(&tg, &drops2, 5);
            let handle = tg.spawn(pending::<Result<u8, BoxError>>());
            tg.start_soon_named("failing", async {
                checkpoint().await;
                Err::<(), _>(Boom("the only error"))
            });
            let _ = handle.await;
        })
        .await
        .unwrap_err();
        assert!(!error.is_cancelled());
        assert_eq!(error.errors().len(), 1, "{error:?}");
        assert_eq!(error.errors()[0].name(), Some("failing"));
        assert_eq!(drops.get(), 5);
    });
}

/// Fail fast: a child's error cancels the group's scope; siblings and the body are
/// dropped at their next suspension point.
#[test]
fn a_child_error_drops_siblings_and_the_body() {
    run(2, 20, || async {
        let drops = Counter::new();
        let past = Flag::new();
        let (drops2, past2, body_guard) = (drops.clone(), past.clone(), drops.drop_guard());
        let error = task_group(async |tg| {
            let _guard = body_guard;
            pending_children(&tg, &drops2, 2);
            tg.start_soon(async { Err::<(), _>(Boom("first")) });
            pending::<()>().await;
            past2.set();
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        assert!(error.cancel_reason().is_none());
        assert_eq!(drops.get(), 3);
        assert!(!past.is_set());
    });
}

#[test]
fn a_body_error_cancels_the_children() {
    run(2, 20, || async {
        let drops = Counter::new();
        let drops2 = drops.clone();
        let error = task_group(async |tg| {
            pending_children(&tg, &drops2, 3);
            checkpoint().await;
            Err::<(), _>(Boom("body"))
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        assert_eq!(error.errors()[0].name(), None);
        assert_eq!(error.find::<Boom>().unwrap().0, "body");
        assert_eq!(drops.get(), 3);
    });
}

#[test]
fn a_child_spawned_into_a_cancelled_open_group_is_dropped_by_its_first_suspension_point() {
    run(2, 20, || async {
        let drops = Counter::new();
        let past = Flag::new();
        let (guard, past2) = (drops.drop_guard(), past.clone());
        let value = task_group(async |tg| {
            tg.cancel_scope().cancel();
            // The group is cancelled but still open: spawning is accepted.
            tg.try_start_soon(async move {
                let _guard = guard;
                checkpoint().await;
                past2.set();
            })
            .unwrap();
            Ok::<_, BoxError>("open")
        })
        .await
        .unwrap();
        assert_eq!(value, "open");
        assert!(!past.is_set());
        assert_eq!(drops.get(), 1);
    });
}

/// Such a child is *started* and dropped at its first suspension
/// point, like Trio: the code before its first suspension point runs.
#[test]
fn a_child_spawned_into_a_cancelled_group_runs_until_its_first_suspension_point() {
    run(2, 20, || async {
        let before = Flag::new();
        let past = Flag::new();
        let (before2, past2) = (before.clone(), past.clone());
        task_group(async |tg| {
            tg.cancel_scope().cancel();
            tg.start_soon(async move {
                before2.set();
                checkpoint().await;
                past2.set();
            });
        })
        .await
        .unwrap();
        assert!(before.is_set(), "the child never started");
        assert!(!past.is_set());
    });
}

/// A child may spawn siblings while the body waits; in a cancelled group those too are
/// dropped, and the group still returns the body's value.
#[test]
fn siblings_spawned_by_a_child_into_a_cancelled_group_are_dropped() {
    run(2, 20, || async {
        let drops = Counter::new();
        let spawned = Event::new();
        let (drops2, spawned2) = (drops.clone(), spawned.clone());
        let value = task_group(async |tg| {
            let spawner = tg.clone();
            tg.start_soon(async move {
                spawner.cancel_scope().cancel();
                pending_children(&spawner, &drops2, 4);
                spawned2.set();
            });
            spawned.wait().await;
            Ok::<_, BoxError>(9)
        })
        .await;
        // The body may have been dropped (it was waiting when the child cancelled) or
        // may have produced its value first: both are clean shutdowns.
        match value {
            Ok(v) => assert_eq!(v, 9),
            Err(e) => assert!(e.is_cancelled() && e.errors().is_empty(), "{e:?}"),
        }
        assert_eq!(drops.get(), 4);
    });
}

/// Children started at the same time from two workers, and from the `block_on` thread,
/// are all reached by a cancel of their group.
#[test]
fn a_cancel_reaches_children_started_from_two_workers_at_once() {
    run(2, 20, || async {
        let drops = Counter::new();
        let started = Counter::new();
        task_group(async |tg| {
            // Each spawner blocks its worker until the other runs too: they start
            // their children from two workers at once.
            let both = Arc::new(Barrier::new(2));
            for _ in 0..2 {
                let (spawner, both) = (tg.clone(), both.clone());
                let (drops, started) = (drops.clone(), started.clone());
                tg.start_soon(async move {
                    both.wait();
                    pending_children(&spawner, &drops, 50);
                    started.inc();
                    pending::<()>().await;
                });
            }
            pending_children(&tg, &drops, 50);
            yield_until(|| started.get() == 2).await;
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(drops.get(), 150);
    });
}

#[test]
fn nested_groups_keep_their_error_structure() {
    run(2, 20, || async {
        let error = task_group(async |outer| {
            outer.start_soon_named("inner group", async {
                task_group(async |inner| {
                    inner.start_soon_named("leaf", async { Err::<(), _>(Boom("deep")) });
                })
                .await
            });
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        let entry = &error.errors()[0];
        assert_eq!(entry.name(), Some("inner group"));
        // The nested group's error is kept whole as one entry.
        let nested = entry
            .downcast_ref::<GroupError>()
            .expect("a nested GroupError");
        assert_eq!(nested.errors().len(), 1);
        assert_eq!(nested.errors()[0].name(), Some("leaf"));
        // `find` reaches into it.
        assert_eq!(error.find::<Boom>().unwrap().0, "deep");
        let shown = error.to_string();
        assert!(
            shown.contains("inner group") && shown.contains("leaf"),
            "{shown}"
        );
        assert!(shown.contains("deep"), "{shown}");
    });
}

#[test]
fn a_cancelled_nested_group_propagated_by_a_child_is_an_entry_of_its_own() {
    run(2, 20, || async {
        // A child that returns its nested group's `is_cancelled` error fails the outer
        // group with that error: it is the child's error, not a cancellation entry.
        let error = task_group(async |outer| {
            outer.start_soon_named("stopper", async {
                task_group(async |inner| {
                    inner.cancel_scope().cancel_with_reason("stop");
                    checkpoint().await;
                })
                .await
            });
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        let nested = error.errors()[0].downcast_ref::<GroupError>().unwrap();
        assert!(nested.is_cancelled());
        assert_eq!(nested.cancel_reason(), Some("stop"));
        assert_eq!(error.cancel_reason(), None);
    });
}

/// A group whose work was dropped for a cancel that a scope further out catches ends
/// as cancelled work; something between that scope's wrapper and the group that polls
/// it again (a `select` loop, a `poll_fn`) finds it pending, not completed, and the
/// outer scope catches.
#[test]
fn a_group_polled_again_after_an_outer_cancel_stays_pending() {
    run(1, 20, || async {
        let outer = pride::CancelScope::new();
        let outer2 = outer.clone();
        let out = outer
            .run(async move {
                let mut group = pin!(task_group(async move |_tg| {
                    outer2.cancel();
                    pending::<()>().await;
                }));
                poll_fn(|cx| {
                    for _ in 0..3 {
                        assert!(group.as_mut().poll(cx).is_pending());
                    }
                    std::task::Poll::<()>::Pending
                })
                .await;
            })
            .await;
        assert_eq!(out, None);
        assert!(outer.cancelled_caught());
    });
}

/// The same through `select!`: a sibling branch suspended inside a shield keeps the
/// outer (cancelled) scope's wrapper from dropping the select, so the select polls the
/// group branch, which ended as cancelled work, again on each wake-up.
#[pride::test(workers = 1)]
async fn a_group_in_select_next_to_a_shielded_branch_survives_an_outer_cancel() {
    let outer = pride::CancelScope::new();
    let outer2 = outer.clone();
    let out = outer
        .run(async move {
            let shield = pride::CancelScope::new();
            shield.set_shield(true);
            pride::select! {
                () = async {
                    // Each yield wakes the task, and the select polls every branch.
                    shield.run(async {
                        pride::yield_now().await;
                        pride::yield_now().await;
                    }).await;
                } => {},
                r = task_group(async move |_tg| {
                    outer2.cancel();
                    pending::<()>().await;
                }) => { let _ = r; },
            }
        })
        .await;
    // The shielded branch finishes first; the group never completes.
    assert_eq!(out, Some(()));
}

/// A group future awaited through `&mut` inside a timeout, then awaited again where no
/// cancel stands: the timeout dropped its children, so it ends as a cancelled group
/// instead of waiting for a catcher that has come and gone.
#[test]
fn a_group_future_kept_past_a_timeout_ends_cancelled() {
    crate::common::autojump(60, || async {
        let mut group = Box::pin(task_group(async |tg| {
            tg.start_soon(pride::sleep(std::time::Duration::from_secs(5)));
            pending::<()>().await;
        }));
        let first = pride::move_on_after(std::time::Duration::from_secs(1), group.as_mut()).await;
        assert!(first.is_none());
        let later = pride::move_on_after(std::time::Duration::from_secs(1000), group).await;
        let error = later.expect("it ends at once").unwrap_err();
        assert!(error.is_cancelled(), "{error:?}");
    });
}

/// The same with a plain cancel scope's `run` whose work a scope further out dropped:
/// it ends with `None`.
#[test]
fn a_scope_run_kept_past_its_catcher_ends_with_none() {
    crate::common::autojump(60, || async {
        let outer = CancelScope::new();
        let cancel = outer.clone();
        let mut inner = Box::pin(CancelScope::new().run(async move {
            cancel.cancel();
            pending::<()>().await;
        }));
        assert!(outer.run(inner.as_mut()).await.is_none());
        let later = pride::move_on_after(std::time::Duration::from_secs(1000), inner).await;
        assert_eq!(later, Some(None));
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

/// Cancelled by hand before the body produced a value, with a child whose cleanup
/// panicked: the group was cancelled, and the panic is its entry, next to the cancel.
#[test]
fn an_explicit_cancel_whose_cleanup_panics_is_cancelled_with_the_panic() {
    run(2, 20, || async {
        let error = task_group(async |tg| {
            tg.start_soon_named("holder", async {
                let _guard = PanicOnDrop;
                pending::<()>().await;
            });
            checkpoint().await;
            tg.cancel_scope().cancel();
            pending::<()>().await;
            Ok::<u32, BoxError>(1)
        })
        .await
        .unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        assert!(!error.is_timeout());
        assert_eq!(error.errors().len(), 1, "{error}");
        assert_eq!(error.errors()[0].panic_message(), Some("cleanup failed"));
        assert_eq!(
            error.to_string(),
            "task group was cancelled with 1 error(s)\n- task 'holder' panicked: cleanup failed"
        );
    });
}

/// As above, with the cleanup panic in the body itself: the group was still cancelled.
#[test]
fn an_explicit_cancel_whose_body_cleanup_panics_is_cancelled_with_the_panic() {
    run(2, 20, || async {
        let error = task_group(async |tg| {
            let _guard = PanicOnDrop;
            tg.cancel_scope().cancel();
            pending::<()>().await;
            Ok::<u32, BoxError>(1)
        })
        .await
        .unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        assert_eq!(error.errors().len(), 1, "{error}");
        assert_eq!(error.errors()[0].panic_message(), Some("cleanup failed"));
    });
}

/// A child's failure cancels the group and drops the body before its value: the group
/// failed, it was not cancelled, however many cleanup panics follow.
#[test]
fn a_failure_that_cancels_the_group_is_a_failure_not_a_cancel() {
    run(2, 20, || async {
        let error = task_group(async |tg| {
            tg.start_soon_named("holder", async {
                let _guard = PanicOnDrop;
                pending::<()>().await;
            });
            tg.start_soon_named("failer", async {
                checkpoint().await;
                Err::<(), _>(Boom("the cause"))
            });
            pending::<()>().await;
            Ok::<u32, BoxError>(1)
        })
        .await
        .unwrap_err();
        assert!(!error.is_cancelled(), "{error}");
        assert!(!error.is_timeout());
        assert_eq!(error.errors().len(), 2, "{error}");
        assert!(error.find::<Boom>().is_some());
        assert!(
            error
                .to_string()
                .starts_with("task group failed with 2 error(s)"),
            "{error}"
        );
    });
}

/// An empty group's exit is not a suspension point: a group that started no child,
/// opened inside a scope that is already cancelled, returns its body's value in the
/// same poll. It is not dropped as cancelled work at its exit, and the code after it
/// runs on to the next real suspension point.
#[test]
fn an_empty_groups_exit_is_not_a_suspension_point() {
    run(2, 20, || async {
        let outer = CancelScope::new();
        let handle = outer.clone();
        let after = Flag::new();
        let after2 = after.clone();
        let result = outer
            .run(async move {
                handle.cancel();
                // Polled once by hand: ready at once, with the body's value.
                let mut group = pin!(task_group(async |_tg| Ok::<_, BoxError>(5)));
                let first = poll_fn(|cx| Poll::Ready(group.as_mut().poll(cx))).await;
                let Poll::Ready(first) = first else {
                    panic!("an empty group's first poll was pending");
                };
                assert_eq!(first.unwrap(), 5);
                // Awaited: the scope around does not drop the work at the group's exit.
                let second = task_group(async |_tg| {}).await;
                assert!(second.is_ok(), "{second:?}");
                after2.set();
                // The next suspension point is where the cancel takes effect.
                checkpoint().await;
                "not reached"
            })
            .await;
        assert!(after.is_set(), "the code after the empty groups ran");
        assert_eq!(result, None);
        assert!(outer.cancelled_caught());
    });
}
