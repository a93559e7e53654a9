//! `TaskGroup::start` and `TaskStatus`.
//!
//! Until `started(v)` the child belongs to the caller: cancelling the caller drops it,
//! cancelling the target group does not, and an error or panic comes back from `start`
//! as `StartError::Failed`. After `started` it is an ordinary child of the target group.
//! Ordering is done with `Event`s; drop guards prove which futures were dropped.

use std::future::pending;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Boom, Counter, Flag, SetOnDrop, run};
use pride::{
    BoxError, CancelScope, Event, StartError, TaskGroup, TaskStatus, checkpoint, task_group,
};

#[test]
fn start_returns_the_value_given_to_started() {
    run(2, 20, || async {
        let port = task_group(async |tg| {
            let port = tg
                .start(|status: TaskStatus<u16>| async move {
                    status.started(8080);
                })
                .await?;
            Ok::<_, BoxError>(port)
        })
        .await
        .unwrap();
        assert_eq!(port, 8080);
    });
}

#[test]
fn started_child_keeps_running_and_the_group_waits_for_it() {
    run(2, 20, || async {
        let go = Event::new();
        let finished = Flag::new();
        let (go2, finished2) = (go.clone(), finished.clone());
        task_group(async |tg| {
            tg.start(move |status: TaskStatus<()>| async move {
                status.started(());
                go2.wait().await;
                checkpoint().await;
                finished2.set();
            })
            .await
            .unwrap();
            // `start` returned while the child still runs.
            assert!(!finished.is_set());
            go.set();
            // The body returns at once; the group must still wait for the child.
        })
        .await
        .unwrap();
        assert!(finished.is_set());
    });
}

#[test]
fn started_child_error_goes_to_the_group_and_cancels_siblings() {
    run(2, 20, || async {
        let drops = Counter::new();
        let go = Event::new();
        let (drops2, go2) = (drops.clone(), go.clone());
        let error = task_group(async |tg| {
            let guard = drops2.drop_guard();
            tg.start_soon(async move {
                let _guard = guard;
                pending::<()>().await;
            });
            let value = tg
                .start_named("db", move |status: TaskStatus<u8>| async move {
                    status.started(3);
                    go2.wait().await;
                    Err::<(), _>(Boom("after started"))
                })
                .await
                .unwrap();
            assert_eq!(value, 3);
            go.set();
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        assert_eq!(error.errors()[0].name(), Some("db"));
        assert!(error.errors()[0].downcast_ref::<Boom>().is_some());
        assert!(error.to_string().contains("'db'"), "{error}");
        assert!(error.to_string().contains("after started"), "{error}");
        assert_eq!(drops.get(), 1, "the sibling was not dropped");
    });
}

/// A typical task function: it holds its `TaskStatus` (an `async fn` parameter lives in
/// the future) and fails before calling `started`.
async fn fails_before_started(_status: TaskStatus<u32>) -> Result<(), Boom> {
    checkpoint().await;
    Err(Boom("before started"))
}

#[test]
fn error_before_started_comes_back_from_start_and_does_not_fail_the_group() {
    run(2, 20, || async {
        let sibling_done = Flag::new();
        let after = Event::new();
        let (sibling_done2, after2) = (sibling_done.clone(), after.clone());
        task_group(async |tg| {
            tg.start_soon(async move {
                after2.wait().await;
                sibling_done2.set();
            });
            match tg.start_named("early", fails_before_started).await {
                Err(StartError::Failed(error)) => {
                    assert_eq!(error.name(), Some("early"));
                    assert!(!error.is_panic());
                    assert_eq!(error.downcast_ref::<Boom>().unwrap().0, "before started");
                }
                other => panic!("expected StartError::Failed, got {other:?}"),
            }
            // The group was not cancelled: the sibling still runs to completion.
            after.set();
        })
        .await
        .unwrap();
        assert!(sibling_done.is_set());
    });
}

/// The same, with the status moved somewhere that outlives the task's future, so that
/// dropping the status cannot race the error report.
#[test]
fn error_before_started_with_the_status_kept_elsewhere() {
    run(2, 20, || async {
        let keep: Arc<Mutex<Option<TaskStatus<()>>>> = Arc::default();
        let keep2 = keep.clone();
        task_group(async |tg| {
            let outcome = tg
                .start(move |status: TaskStatus<()>| async move {
                    *keep2.lock().unwrap() = Some(status);
                    checkpoint().await;
                    Err::<(), _>(Boom("kept"))
                })
                .await;
            match outcome {
                Err(StartError::Failed(error)) => {
                    assert!(error.downcast_ref::<Boom>().is_some());
                }
                other => panic!("expected StartError::Failed, got {other:?}"),
            }
        })
        .await
        .unwrap();
        drop(keep);
    });
}

#[test]
fn panic_before_started_comes_back_as_failed() {
    run(2, 20, || async {
        let result = task_group(async |tg| {
            let outcome = tg
                .start(|status: TaskStatus<()>| async move {
                    let _status = status;
                    checkpoint().await;
                    if true {
                        panic!("exploded while starting");
                    }
                })
                .await;
            match outcome {
                Err(StartError::Failed(error)) => {
                    assert!(error.is_panic());
                    assert_eq!(error.panic_message(), Some("exploded while starting"));
                }
                other => panic!("expected StartError::Failed, got {other:?}"),
            }
        })
        .await;
        assert!(result.is_ok(), "the group must not fail: {result:?}");
    });
}

async fn quits_without_starting(_status: TaskStatus<u8>) {
    checkpoint().await;
}

#[test]
fn returning_without_started_is_not_started() {
    run(2, 20, || async {
        task_group(async |tg| {
            let outcome = tg.start(quits_without_starting).await;
            assert!(
                matches!(outcome, Err(StartError::NotStarted)),
                "{outcome:?}"
            );
            let message = outcome.unwrap_err().to_string();
            assert!(message.contains("started"), "{message}");
        })
        .await
        .unwrap();
    });
}

/// `StartError`'s `Display` says which of its cases happened: each message names its
/// case, `Failed` shows the child's error too, and no two read the same.
#[test]
fn start_error_messages_say_which_case_happened() {
    run(2, 20, || async {
        let (not_started, failed, panicked, tg) = task_group(async |tg| {
            let not_started = tg.start(quits_without_starting).await.unwrap_err();
            let failed = tg.start(fails_before_started).await.unwrap_err();
            let panicked = tg
                .start(|status: TaskStatus<()>| async move {
                    let _status = status;
                    checkpoint().await;
                    if true {
                        panic!("exploded while starting");
                    }
                })
                .await
                .unwrap_err();
            Ok::<_, BoxError>((not_started, failed, panicked, tg.clone()))
        })
        .await
        .unwrap();
        let closed = tg
            .start(|status: TaskStatus<()>| async move { status.started(()) })
            .await
            .unwrap_err();
        assert!(matches!(failed, StartError::Failed(_)), "{failed:?}");
        assert!(matches!(panicked, StartError::Failed(_)), "{panicked:?}");
        assert!(matches!(closed, StartError::Closed), "{closed:?}");
        let [not_started, failed, panicked, closed] =
            [not_started, failed, panicked, closed].map(|e| e.to_string());

        assert!(failed.contains("failed before it started"), "{failed}");
        assert!(failed.contains("boom: before started"), "{failed}");
        assert!(panicked.contains("failed before it started"), "{panicked}");
        assert!(panicked.contains("exploded while starting"), "{panicked}");
        assert!(closed.contains("group has exited"), "{closed}");
        assert!(!closed.contains("failed"), "{closed}");
        assert!(!failed.contains("exited"), "{failed}");
        assert_ne!(not_started, failed);
        assert_ne!(not_started, closed);
        assert!(!not_started.contains("failed") && !not_started.contains("exited"));
    });
}

#[test]
fn dropping_the_status_gives_not_started_while_the_child_keeps_running() {
    run(2, 20, || async {
        let release = Event::new();
        let finished = Flag::new();
        let (release2, finished2) = (release.clone(), finished.clone());
        task_group(async |tg| {
            let outcome = tg
                .start(move |status: TaskStatus<u8>| async move {
                    drop(status);
                    release2.wait().await;
                    finished2.set();
                })
                .await;
            assert!(
                matches!(outcome, Err(StartError::NotStarted)),
                "{outcome:?}"
            );
            // `start` came back at once, while the child is still waiting.
            assert!(!finished.is_set());
            release.set();
        })
        .await
        .unwrap();
        // The child kept the group open until it finished.
        assert!(finished.is_set());
    });
}

/// After `NotStarted` the start is over and the caller has gone; the child still runs
/// and keeps the group open, so the group must be able to cancel it.
#[test]
fn a_child_that_dropped_its_status_is_cancelled_with_the_group() {
    run(2, 20, || async {
        let drops = Counter::new();
        let drops2 = drops.clone();
        let value = task_group(async |tg| {
            let outcome = tg
                .start(move |status: TaskStatus<u8>| async move {
                    let _guard = drops2.drop_guard();
                    drop(status);
                    pending::<()>().await;
                })
                .await;
            assert!(
                matches!(outcome, Err(StartError::NotStarted)),
                "{outcome:?}"
            );
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>(5)
        })
        .await
        .unwrap();
        assert_eq!(value, 5);
        assert_eq!(drops.get(), 1);
    });
}

#[test]
fn start_on_a_closed_group_is_closed() {
    run(2, 20, || async {
        let tg: TaskGroup = task_group(async |tg| Ok::<_, BoxError>(tg)).await.unwrap();
        let called = Flag::new();
        let called2 = called.clone();
        let outcome = tg
            .start(move |status: TaskStatus<()>| async move {
                called2.set();
                status.started(());
            })
            .await;
        assert!(matches!(outcome, Err(StartError::Closed)), "{outcome:?}");
        assert!(!called.is_set(), "the task's future must not run");
    });
}

/// A closed group refuses a start before it calls the task function: nothing the
/// function does before it returns its future (binding a socket, say) happens.
#[test]
fn start_on_a_closed_group_does_not_call_the_task_function() {
    run(2, 20, || async {
        let tg: TaskGroup = task_group(async |tg| Ok::<_, BoxError>(tg)).await.unwrap();
        let called = Flag::new();
        let called2 = called.clone();
        let outcome = tg
            .start(move |status: TaskStatus<()>| {
                called2.set();
                async move { status.started(()) }
            })
            .await;
        assert!(matches!(outcome, Err(StartError::Closed)), "{outcome:?}");
        assert!(!called.is_set(), "the task function was called");
    });
}

#[test]
fn cancelling_the_caller_drops_the_starting_child() {
    run(2, 20, || async {
        let drops = Counter::new();
        let child_waiting = Event::new();
        let scope = CancelScope::new();
        let (drops2, waiting2, scope2) = (drops.clone(), child_waiting.clone(), scope.clone());
        task_group(async |tg| {
            // Another task cancels the caller's scope once the child is waiting.
            tg.start_soon(async move {
                waiting2.wait().await;
                scope2.cancel();
            });
            let out = scope
                .run(tg.start(move |status: TaskStatus<()>| async move {
                    let _guard = drops2.drop_guard();
                    child_waiting.set();
                    pending::<()>().await;
                    status.started(());
                }))
                .await;
            assert!(out.is_none());
            assert!(scope.cancelled_caught());
        })
        .await
        .unwrap();
        // The group has waited for the dropped child.
        assert_eq!(drops.get(), 1);
    });
}

/// The caller is in one group, the target is another (opened in a sibling task) whose
/// scope gets cancelled while the child is starting.
#[test]
fn cancelling_the_target_group_spares_the_child_until_it_has_started() {
    run(2, 20, || async {
        let drops = Counter::new();
        let slot: Arc<Mutex<Option<TaskGroup>>> = Arc::default();
        let target_open = Event::new();
        let child_waiting = Event::new();
        let proceed = Event::new();
        let ran_after_cancel = Flag::new();
        let ran_after_started = Flag::new();
        let ran_past_suspension = Flag::new();
        let target_result = Arc::new(Mutex::new(None));

        let (slot2, open2, result2) = (slot.clone(), target_open.clone(), target_result.clone());
        let (drops2, waiting2, proceed2) = (drops.clone(), child_waiting.clone(), proceed.clone());
        let (after_cancel2, after_started2, past2) = (
            ran_after_cancel.clone(),
            ran_after_started.clone(),
            ran_past_suspension.clone(),
        );
        task_group(async |outer| {
            outer.start_soon(async move {
                let result = task_group(async |target| {
                    *slot2.lock().unwrap() = Some(target);
                    open2.set();
                    pending::<()>().await;
                })
                .await;
                *result2.lock().unwrap() = Some(result.map_err(|e| e.is_cancelled()));
            });
            target_open.wait().await;
            let target = slot.lock().unwrap().take().unwrap();
            let canceller = target.clone();
            outer.start_soon(async move {
                child_waiting.wait().await;
                canceller.cancel_scope().cancel();
                proceed.set();
            });
            let value = target
                .start(move |status: TaskStatus<u8>| async move {
                    let _guard = drops2.drop_guard();
                    waiting2.set();
                    proceed2.wait().await;
                    // The target's scope is cancelled by now; we still run.
                    after_cancel2.set();
                    checkpoint().await;
                    status.started(7);
                    // `started` is not a suspension point.
                    after_started2.set();
                    checkpoint().await;
                    past2.set();
                })
                .await
                .unwrap();
            assert_eq!(value, 7);
            assert!(target.cancel_scope().cancel_called());
        })
        .await
        .unwrap();
        assert!(ran_after_cancel.is_set());
        assert!(ran_after_started.is_set());
        assert!(
            !ran_past_suspension.is_set(),
            "the child ran past its next suspension point"
        );
        assert_eq!(drops.get(), 1);
        // The target's body was dropped before producing a value.
        assert_eq!(*target_result.lock().unwrap(), Some(Err(true)));
    });
}

/// A shield inside a starting child protects its work from the caller's cancellation;
/// the child is dropped at its first suspension point after the shielded scope.
#[test]
fn a_shield_inside_a_starting_child_holds_against_the_callers_cancel() {
    run(2, 20, || async {
        let scope = CancelScope::new();
        let in_shield = Event::new();
        let go = Event::new();
        let shielded_done = Flag::new();
        let after_shield = Flag::new();
        let past = Flag::new();
        let caller_gone = Event::new();
        let (scope2, in_shield2, go2) = (scope.clone(), in_shield.clone(), go.clone());
        let (done2, after2, past2) = (shielded_done.clone(), after_shield.clone(), past.clone());
        let gone2 = caller_gone.clone();
        task_group(async |tg| {
            tg.start_soon(async move {
                in_shield2.wait().await;
                scope2.cancel();
                // Only once the caller's start future is gone (and has cancelled the
                // child) may the shielded work go on.
                gone2.wait().await;
                go2.set();
            });
            let out = scope
                .run(async {
                    let _gone = SetOnDrop(caller_gone);
                    tg.start(move |status: TaskStatus<()>| async move {
                        let shield = CancelScope::new();
                        shield.set_shield(true);
                        let got = shield
                            .run(async {
                                in_shield.set();
                                go.wait().await;
                                checkpoint().await;
                                done2.set();
                                1
                            })
                            .await;
                        assert_eq!(got, Some(1));
                        after2.set();
                        checkpoint().await;
                        past2.set();
                        status.started(());
                    })
                    .await
                })
                .await;
            assert!(out.is_none());
        })
        .await
        .unwrap();
        assert!(shielded_done.is_set(), "the shielded work was cut short");
        assert!(after_shield.is_set());
        assert!(!past.is_set());
    });
}

#[test]
fn a_shield_inside_a_starting_child_still_obeys_its_own_cancel() {
    run(2, 20, || async {
        task_group(async |tg| {
            let value = tg
                .start(|status: TaskStatus<Option<u8>>| async move {
                    let shield = CancelScope::new();
                    shield.set_shield(true);
                    let inner = shield.clone();
                    let got = shield
                        .run(async move {
                            inner.cancel();
                            checkpoint().await;
                            1u8
                        })
                        .await;
                    assert!(shield.cancelled_caught());
                    status.started(got);
                })
                .await
                .unwrap();
            assert_eq!(value, None);
        })
        .await
        .unwrap();
    });
}

async fn server(status: TaskStatus<u16>, served: Flag) -> Result<(), BoxError> {
    checkpoint().await;
    status.started(9000);
    served.set();
    Ok(())
}

#[test]
fn an_ignored_status_lets_a_task_fn_be_called_directly() {
    run(2, 20, || async {
        let served = Flag::new();
        server(TaskStatus::ignored(), served.clone()).await.unwrap();
        assert!(served.is_set());
        // Dropping an ignored status without `started` is harmless too.
        drop(TaskStatus::<u8>::ignored());
        // The same function works through `start`.
        let served2 = served.clone();
        let port = task_group(async |tg| {
            let port = tg.start(|status| server(status, served2)).await?;
            Ok::<_, BoxError>(port)
        })
        .await
        .unwrap();
        assert_eq!(port, 9000);
    });
}

#[test]
fn started_after_the_callers_cancel_leaves_the_child_cancelled() {
    run(1, 20, || async {
        let (scope, joined) = (CancelScope::new(), Flag::new());
        let (scope2, joined2) = (scope.clone(), joined.clone());
        let out = task_group(async move |tg| {
            let out = scope
                .run(tg.start(async move |status: TaskStatus<u32>| {
                    // The caller's scope is cancelled, then (in the same poll, so
                    // after it) the child calls `started`.
                    scope2.cancel();
                    status.started(5);
                    checkpoint().await;
                    joined2.set();
                }))
                .await;
            assert!(out.is_none(), "the start was not cancelled: {out:?}");
        })
        .await;
        assert!(out.is_ok(), "{out:?}");
        assert!(
            !joined.is_set(),
            "the child joined the group after its caller's cancel"
        );
    });
}

/// The caller's scope is cancelled before `start` is called, and the task function
/// calls `started` in its synchronous part, before it returns its future (as one that
/// binds a socket first may). `started` after the caller's cancel does nothing: the
/// child stays cancelled, never joins the group, and is dropped at its first
/// suspension point.
#[test]
fn started_in_the_task_fn_body_after_the_callers_cancel_does_not_join_the_group() {
    run(1, 20, || async {
        let (ran_on, dropped) = (Flag::new(), Event::new());
        let (ran_on2, dropped2) = (ran_on.clone(), dropped.clone());
        let out = task_group(async move |tg| {
            let caller = CancelScope::new();
            caller.cancel();
            let out = caller
                .run(tg.start(move |status: TaskStatus<u16>| {
                    status.started(8080);
                    async move {
                        let _dropped = SetOnDrop(dropped2);
                        checkpoint().await;
                        ran_on2.set();
                        pending::<()>().await;
                    }
                }))
                .await;
            assert!(out.is_none(), "the start was not cancelled: {out:?}");
            dropped.wait().await;
        })
        .await;
        assert!(out.is_ok(), "{out:?}");
        assert!(
            !ran_on.is_set(),
            "the child joined the group after its caller's cancel"
        );
    });
}

/// Until `started`, a cancel of the caller's scopes reaches the starting child at once.
/// Here the caller's scope is cancelled, and then, before the child runs again, its
/// `TaskStatus` (kept outside the child) is dropped. The cancel came first: the child
/// stays cancelled, and does not join the target group and run on there. One worker
/// runs every task, so the order is fixed.
#[test]
fn a_status_dropped_after_the_callers_cancel_does_not_free_the_child() {
    run(1, 20, || async {
        let slot: Arc<Mutex<Option<TaskStatus<()>>>> = Arc::default();
        let (stored, go, dropped, ran_on) = (Event::new(), Event::new(), Event::new(), Flag::new());
        let returned = Flag::new();
        let caller = CancelScope::new();
        let out = task_group(async |tg| {
            let (slot2, stored2, go2) = (slot.clone(), stored.clone(), go.clone());
            let (dropped2, ran_on2, returned2) =
                (dropped.clone(), ran_on.clone(), returned.clone());
            let (tg2, caller2) = (tg.clone(), caller.clone());
            tg.start_soon(async move {
                let out = caller2
                    .run(tg2.start(move |status: TaskStatus<()>| async move {
                        let _dropped = SetOnDrop(dropped2);
                        *slot2.lock().unwrap() = Some(status);
                        stored2.set();
                        go2.wait().await;
                        ran_on2.set();
                        pending::<()>().await;
                    }))
                    .await;
                assert!(out.is_none(), "the start was not cancelled: {out:?}");
                returned2.set();
            });
            let (slot3, caller3) = (slot.clone(), caller.clone());
            let (stored3, go3) = (stored.clone(), go.clone());
            tg.start_soon(async move {
                stored3.wait().await;
                // In one poll: the caller's cancel, then the status's drop.
                caller3.cancel();
                drop(slot3.lock().unwrap().take());
                go3.set();
            });
            // Either way it ends: the caller's scope caught the cancel and its task
            // returned, or the child ran on and is then dropped by this cancel (which,
            // made before the caller's task returned, would catch it instead).
            crate::common::yield_until(|| returned.is_set() || ran_on.is_set()).await;
            assert!(dropped.is_set() || ran_on.is_set());
            tg.cancel_scope().cancel();
        })
        .await;
        assert!(out.is_ok(), "{out:?}");
        assert!(
            !ran_on.is_set(),
            "the child of a cancelled caller ran on in the group"
        );
        assert!(caller.cancelled_caught());
    });
}

/// A task function that panics before it returns its future: the panic comes out of
/// the `start`, and the target group goes on as before (it takes another start, and
/// ends).
#[test]
fn a_task_fn_that_panics_before_returning_its_future_leaves_nothing_behind() {
    run(1, 20, || async {
        let out = task_group(async |tg| {
            let mut start = Box::pin(CancelScope::new().run(tg.start(|_: TaskStatus<()>| {
                if true {
                    panic!("no socket");
                }
                async {}
            })));
            let panicked = std::future::poll_fn(|cx| {
                let poll = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    start.as_mut().poll(cx)
                }));
                std::task::Poll::Ready(poll.is_err())
            })
            .await;
            assert!(
                panicked,
                "the task function's panic did not come out of start"
            );
            drop(start);
            let value = tg.start(|status: TaskStatus<u8>| async move {
                status.started(7);
            });
            assert_eq!(value.await.unwrap(), 7);
        })
        .await;
        assert!(out.is_ok(), "{out:?}");
    });
}

#[test]
fn a_starting_childs_error_is_not_lost_when_its_caller_is_cancelled() {
    run(1, 20, || async {
        let scope = CancelScope::new();
        let scope2 = scope.clone();
        let err = task_group(async move |tg| {
            let out = scope
                .run(
                    tg.start_named("late", async move |_status: TaskStatus<u32>| {
                        scope2.cancel();
                        Err::<(), BoxError>("failed after the caller's cancel".into())
                    }),
                )
                .await;
            assert!(out.is_none(), "{out:?}");
        })
        .await
        .expect_err("the starting child's error was lost");
        assert_eq!(err.errors().len(), 1, "{err:?}");
        assert_eq!(err.errors()[0].name(), Some("late"));
    });
}

/// The caller is outside the target group (a task of another group holding its handle).
/// The child fails while its caller waits, so the error is the caller's to take; the
/// caller is then dropped without taking it. The target group must not finish before
/// that error has been handed to it: it fails with the child's error.
#[test]
fn a_starting_childs_error_reaches_a_target_group_the_caller_is_outside_of() {
    crate::common::autojump(20, || async {
        let slot: Arc<Mutex<Option<TaskGroup>>> = Arc::default();
        let target_result = Arc::new(Mutex::new(None));
        let (target_open, launched, go, target_done) =
            (Event::new(), Event::new(), Event::new(), Event::new());
        let (slot2, open2, launched2, result2, done2) = (
            slot.clone(),
            target_open.clone(),
            launched.clone(),
            target_result.clone(),
            target_done.clone(),
        );
        task_group(async |outer| {
            outer.start_soon(async move {
                let result = task_group(async |target| {
                    *slot2.lock().unwrap() = Some(target);
                    open2.set();
                    // The body returns once the start is launched: then only the
                    // starting child keeps the target open.
                    launched2.wait().await;
                })
                .await;
                *result2.lock().unwrap() = Some(result);
                done2.set();
            });
            target_open.wait().await;
            let target = slot.lock().unwrap().take().unwrap();
            let go2 = go.clone();
            let mut start = target.start_named("late", move |status: TaskStatus<u8>| async move {
                let _status = status;
                go2.wait().await;
                Err::<(), _>(Boom("failed while its caller waited"))
            });
            // Launches the child, which waits for `go`.
            let first = futures_lite::future::poll_once(&mut start).await;
            assert!(first.is_none(), "{first:?}");
            launched.set();
            go.set();
            // The child fails and is gone; the target must still wait for its error
            // (autojump: the timeout fires only once every task is idle).
            let early = pride::move_on_after(Duration::from_secs(1), target_done.wait()).await;
            assert!(
                early.is_none(),
                "the target finished before the error reached it"
            );
            drop(start);
            target_done.wait().await;
        })
        .await
        .unwrap();
        let result = target_result.lock().unwrap().take().unwrap();
        let err = result.expect_err("the starting child's error was lost");
        assert_eq!(err.errors().len(), 1, "{err:?}");
        assert_eq!(err.errors()[0].name(), Some("late"));
    });
}

/// A target group dropped (torn down) while a gone child's error waits for an outside
/// caller does not wait for that caller: the drop returns.
#[test]
fn dropping_a_target_group_does_not_wait_for_an_outside_callers_error() {
    crate::common::autojump(20, || async {
        let slot: Arc<Mutex<Option<TaskGroup>>> = Arc::default();
        let (target_open, go) = (Event::new(), Event::new());
        let (slot2, open2) = (slot.clone(), target_open.clone());
        let mut target = Box::pin(task_group(async |target| {
            *slot2.lock().unwrap() = Some(target);
            open2.set();
            pending::<()>().await;
        }));
        let caller = async {
            target_open.wait().await;
            let group = slot.lock().unwrap().take().unwrap();
            let go2 = go.clone();
            let mut start = group.start(move |status: TaskStatus<u8>| async move {
                let _status = status;
                go2.wait().await;
                Err::<(), _>(Boom("failed while its caller waited"))
            });
            assert!(futures_lite::future::poll_once(&mut start).await.is_none());
            go.set();
            // Every task idle: the child has failed and is gone.
            pride::move_on_after(Duration::from_secs(1), pending::<()>()).await;
            // Kept, unpolled, past the target's drop.
            Some(start)
        };
        let start = match futures_lite::future::or(
            async {
                let _ = target.as_mut().await;
                None
            },
            caller,
        )
        .await
        {
            Some(start) => start,
            None => panic!("the target group finished with its body pending"),
        };
        drop(target);
        drop(start);
    });
}

/// A start whose child gave up because the caller's scope was cancelled ends as
/// cancelled work; a select whose other branch sits in a shield polls it again, and it
/// stays pending until the caller's scope drops it.
#[pride::test(workers = 1)]
async fn a_start_in_select_next_to_a_shielded_branch_survives_the_callers_cancel() {
    task_group(async |tg| {
        let outer = CancelScope::new();
        let outer2 = outer.clone();
        let out = outer
            .run(async move {
                let shield = CancelScope::new();
                shield.set_shield(true);
                pride::select! {
                    () = async {
                        pride::sleep(Duration::from_millis(1)).await;
                        outer2.cancel();
                        shield.run(async {
                            for _ in 0..5 {
                                pride::sleep(Duration::from_millis(1)).await;
                            }
                        }).await;
                    } => {},
                    r = tg.start(|status: TaskStatus<u32>| async move {
                        let _status = status;
                        pending::<()>().await;
                    }) => { let _ = r; },
                }
            })
            .await;
        // The shielded branch finishes first; the start never completes.
        assert_eq!(out, Some(()));
    })
    .await
    .unwrap();
}

/// A start future awaited through `&mut` inside a timeout, then awaited again where no
/// cancel stands: the timeout cancelled the starting child, so the start ends with
/// `NotStarted` instead of waiting for a catcher that has come and gone.
#[test]
fn a_start_future_kept_past_a_timeout_ends_not_started() {
    crate::common::autojump(60, || async {
        task_group(async |tg| {
            let mut start = tg.start(|status: TaskStatus<u32>| async move {
                pride::sleep(Duration::from_secs(5)).await;
                status.started(1);
            });
            let first = pride::move_on_after(Duration::from_secs(1), &mut start).await;
            assert!(first.is_none());
            let later = pride::move_on_after(Duration::from_secs(1000), start).await;
            assert!(
                matches!(later, Some(Err(StartError::NotStarted))),
                "{later:?}"
            );
        })
        .await
        .unwrap();
    });
}

/// Until it has started, the child is inside its caller's scopes: it sees the
/// caller's deadline as its effective deadline (its own group has none).
#[test]
fn a_starting_child_sees_its_callers_deadline() {
    crate::common::autojump(60, || async {
        task_group(async |tg| {
            let deadline = pride::current_time() + Duration::from_secs(5);
            let seen = pride::move_on_at(
                deadline,
                tg.start(|status: TaskStatus<_>| async move {
                    status.started(pride::current_effective_deadline());
                    pending::<()>().await;
                }),
            )
            .await;
            tg.cancel_scope().cancel();
            assert_eq!(seen.unwrap().unwrap(), Some(deadline));
        })
        .await
        .unwrap();
    });
}

/// Once started, the child belongs to the target group: the caller's deadline is no
/// longer its own.
#[test]
fn a_started_child_no_longer_sees_its_callers_deadline() {
    crate::common::autojump(60, || async {
        task_group(async |tg| {
            let (tell, told) = (Event::new(), Event::new());
            let seen = Arc::new(Mutex::new(None));
            let record = seen.clone();
            let (go, told2) = (tell.clone(), told.clone());
            pride::move_on_after(
                Duration::from_secs(5),
                tg.start(|status: TaskStatus<()>| async move {
                    status.started(());
                    go.wait().await;
                    *record.lock().unwrap() = Some(pride::current_effective_deadline());
                    told2.set();
                }),
            )
            .await
            .unwrap()
            .unwrap();
            tell.set();
            told.wait().await;
            assert_eq!(*seen.lock().unwrap(), Some(None));
        })
        .await
        .unwrap();
    });
}

/// A start future polled after a cancel of its caller's scope dropped the child (a
/// shielded sibling kept the cancelled work running), held by reference past the
/// scope that caught, then awaited again: `NotStarted`, at once.
#[test]
fn a_start_future_settled_under_a_cancel_then_awaited_again_ends_not_started() {
    crate::common::autojump(60, || async {
        task_group(async |tg| {
            let gone = Event::new();
            let dropped = gone.clone();
            let mut start = Box::pin(tg.start(|status: TaskStatus<u32>| async move {
                let _guard = SetOnDrop(dropped);
                pending::<()>().await;
                status.started(1);
            }));
            let outer = CancelScope::new();
            let cancel = outer.clone();
            let caught = outer
                .run(async {
                    // Launched inside `outer`: the child is inside its scopes.
                    assert!(
                        futures_lite::future::poll_once(start.as_mut())
                            .await
                            .is_none()
                    );
                    cancel.cancel();
                    let shield = CancelScope::new();
                    shield.set_shield(true);
                    // The shielded wait keeps the cancelled work polled until the
                    // child is gone, so the start is polled after it settled.
                    futures_lite::future::zip(start.as_mut(), shield.run(gone.wait())).await
                })
                .await;
            assert!(caught.is_none());
            assert!(matches!(start.await, Err(StartError::NotStarted)));
        })
        .await
        .unwrap();
    });
}

/// Panics when dropped (outside an unwinding): cleanup that runs once the work beside
/// it has its outcome.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("cleanup of the starting child");
        }
    }
}

/// A child that fails before `started` (an error or a panic) and whose future then
/// panics in `Drop` fails once: the caller of `start` gets the first failure, and the
/// group is neither failed nor cancelled by the second.
#[test]
fn a_child_failing_before_started_with_a_panicking_drop_fails_only_its_start() {
    for panics in [false, true] {
        run(2, 20, move || async move {
            task_group(async move |tg| {
                let started = tg
                    .start_named("early", move |status: TaskStatus<()>| {
                        crate::common::Beside(
                            Box::pin(async move {
                                let _status = status;
                                checkpoint().await;
                                if panics {
                                    panic!("before started");
                                }
                                Err::<(), _>(Boom("before started"))
                            }),
                            PanicsWhenDropped,
                        )
                    })
                    .await;
                match started {
                    Err(StartError::Failed(error)) => {
                        assert_eq!(error.is_panic(), panics, "{error}");
                        assert!(error.to_string().contains("before started"), "{error}");
                    }
                    other => panic!("expected StartError::Failed, got {other:?}"),
                }
                assert!(
                    !tg.cancel_scope().cancel_called(),
                    "the group was cancelled"
                );
            })
            .await
            .unwrap();
        });
    }
}

/// Starts `child` in a group under a caller's scope, with the caller busy in its poll
/// (CPU work, a `zip` beside the start) until `done` is set or the child's future is
/// gone, or 2 s pass (a hang guard only); `child` gets that scope to cancel, and its
/// status. The start must end cut short by that cancel.
///
/// The tests below check that a cancel of the caller's scope reaches a starting child
/// (inside its caller's scopes until `started`) at once, not at the child's next poll:
/// with the caller busy, it cannot notice the cancel itself and pass it on.
fn start_under_a_busy_caller<F, Fut>(done: Flag, child: F)
where
    F: FnOnce(CancelScope, TaskStatus<()>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    crate::common::run(4, 60, move || async move {
        pride::task_group(async move |tg| {
            let caller = CancelScope::new();
            let cancel = caller.clone();
            let gone = pride::Event::new();
            let guard = SetOnDrop(gone.clone());
            let start = tg.start(move |status| {
                let work = child(cancel, status);
                async move {
                    let _guard = guard;
                    work.await
                }
            });
            let busy = async move {
                let t0 = std::time::Instant::now();
                crate::common::spin_until(|| {
                    done.is_set() || gone.is_set() || t0.elapsed() > Duration::from_secs(2)
                });
            };
            let out = caller.run(futures_lite::future::zip(start, busy)).await;
            assert!(out.is_none(), "{out:?}");
        })
        .await
        .unwrap();
    });
}

/// `current_effective_deadline` inside a cancelled scope (not cut off by a shield) is
/// not later than now, and in a child that has not started yet its caller's scopes
/// count: a starting child that cancels its caller's scope reads a deadline (it read
/// `None` while the cancel reached the child only at its next poll).
#[test]
fn a_starting_childs_effective_deadline_after_its_callers_cancel_is_now() {
    let seen = Arc::new(Mutex::new(None));
    let read = seen.clone();
    let done = Flag::new();
    let set = done.clone();
    start_under_a_busy_caller(done, move |caller, status| async move {
        pride::checkpoint().await;
        caller.cancel();
        *read.lock().unwrap() = Some(pride::current_effective_deadline());
        set.set();
        pride::checkpoint().await;
        status.started(());
    });
    let deadline = seen.lock().unwrap().unwrap();
    assert!(
        deadline.is_some(),
        "current_effective_deadline() inside the cancelled caller's scope: {deadline:?}"
    );
}

/// Until `started`, the child belongs to the caller's scopes: cancelling one reaches
/// the child at once, and everything inside it, down through nested groups. A
/// grandchild (in a group inside a starting child, on another worker) cancels the
/// caller's scope and then reaches a checkpoint: it is dropped there, while the
/// starting child and the caller are busy in polls.
#[test]
fn a_callers_cancel_reaches_a_starting_childs_grandchild_at_once() {
    let after = Flag::new();
    let a = after.clone();
    start_under_a_busy_caller(after.clone(), move |caller, status| async move {
        let _ = pride::task_group(async move |inner| {
            let ran_on = a.clone();
            let gone = pride::Event::new();
            let guard = SetOnDrop(gone.clone());
            inner.start_soon(async move {
                let _guard = guard;
                caller.cancel();
                pride::checkpoint().await;
                ran_on.set(); // must not run: dropped at the checkpoint
            });
            // The starting child stays in this poll (CPU work) until the grandchild
            // got past its checkpoint or is gone, or 2 s.
            let t0 = std::time::Instant::now();
            crate::common::spin_until(|| {
                a.is_set() || gone.is_set() || t0.elapsed() > Duration::from_secs(2)
            });
        })
        .await;
        status.started(());
    });
    assert!(
        !after.is_set(),
        "grandchild ran past a checkpoint after its caller's scope was cancelled"
    );
}

/// The outermost cancelled scope catches: a starting child cancels a scope of its own
/// and then its caller's scope (which it is inside until `started`), in the same poll.
/// The caller's side is the outermost cancelled one: the inner scope does not catch
/// (its `cancelled_caught` stays false), and the child's code after the inner `run`
/// does not run.
#[test]
fn a_callers_cancelled_scope_is_the_outermost_for_a_starting_child() {
    let after = Flag::new();
    let a = after.clone();
    let inner = CancelScope::new();
    let inside = inner.clone();
    start_under_a_busy_caller(after.clone(), move |caller, status| async move {
        let own = inside.clone();
        let _ = inside
            .run(async move {
                own.cancel();
                caller.cancel();
                pride::checkpoint().await;
            })
            .await;
        a.set(); // code between the two scopes: must not run
        pride::checkpoint().await;
        status.started(());
    });
    assert!(
        !after.is_set() && !inner.cancelled_caught(),
        "code after the inner scope ran: {}, inner.cancelled_caught: {}",
        after.is_set(),
        inner.cancelled_caught()
    );
}

/// A `par` call inside a cancelled scope starts no piece and unwinds with
/// `par::Cancelled`: a starting child that cancels its caller's scope (which it is
/// inside until `started`) and then calls `par::map` runs none of its pieces.
#[test]
fn a_par_call_in_a_starting_child_stops_for_its_callers_cancel() {
    let after = Flag::new();
    let a = after.clone();
    let pieces = Counter::new();
    let p = pieces.clone();
    start_under_a_busy_caller(after.clone(), move |caller, status| async move {
        pride::checkpoint().await;
        caller.cancel();
        let items: Vec<u32> = (0..1000).collect();
        let _ = pride::par::map(&items, |x| {
            p.inc();
            *x
        });
        a.set(); // must not run: the map unwinds with par::Cancelled
        status.started(());
    });
    assert!(
        !after.is_set(),
        "par::map in a cancelled scope ran {} of 1000 pieces and returned",
        pieces.get()
    );
}

/// An unshield wakes what is inside the scope, a pending start's child among them, but
/// cancels nothing: a shielded scope around a pending start, unshielded with no cancel
/// anywhere, leaves the child to start and run on in its group.
#[test]
fn unshielding_a_scope_around_a_pending_start_does_not_cancel_the_child() {
    let ran_on = Flag::new();
    let after = ran_on.clone();
    let out = run(2, 60, move || async move {
        pride::task_group(async move |tg| {
            let shield = CancelScope::new();
            shield.set_shield(true);
            let lift = shield.clone();
            let (waiting, go) = (pride::Event::new(), pride::Event::new());
            let (is_waiting, gate) = (waiting.clone(), go.clone());
            let start = tg.start(move |status| async move {
                is_waiting.set();
                gate.wait().await;
                status.started(5);
                pride::checkpoint().await;
                after.set();
            });
            let unshield = async move {
                waiting.wait().await;
                lift.set_shield(false);
                go.set();
            };
            let out = shield.run(futures_lite::future::zip(start, unshield)).await;
            Ok::<_, pride::BoxError>(out.map(|(started, ())| started.ok()))
        })
        .await
        .unwrap()
    });
    assert_eq!(out, Some(Some(5)));
    assert!(ran_on.is_set(), "the child was cancelled");
}

type StartChain = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), BoxError>> + Send>>;

/// A child of a start `depth` levels deep: each level opens a group and awaits a start
/// of the next level's child before it calls `started`, so every level is still its
/// caller's. The innermost sets `reached` and waits, its status held.
fn pending_start_chain(depth: usize, status: TaskStatus<()>, reached: Event) -> StartChain {
    Box::pin(async move {
        task_group(async move |g| {
            if depth == 0 {
                let _status = status;
                reached.set();
                pending::<()>().await;
            } else {
                g.start(move |s| pending_start_chain(depth - 1, s, reached))
                    .await?;
                status.started(());
            }
            Ok::<(), BoxError>(())
        })
        .await?;
        Ok(())
    })
}

/// A runtime whose workers have an explicit stack (the standard library's default), so
/// that the deep cases below overflow, or not, whatever `RUST_MIN_STACK` says.
fn fixed_stack_builder() -> pride::Builder {
    let mut builder = crate::common::builder(2);
    builder.thread_stack_size(2 << 20);
    builder
}

/// Starts a chain of `depth` nested pending starts from the group's body inside a scope,
/// and once the innermost child waits, cancels that scope (`unshield`: cancels a scope
/// around it, which a shielded scope keeps out until the shield is lifted). The start
/// returns nothing, its scope catches, and every level is dropped.
fn cancel_nested_pending_starts(depth: usize, unshield: bool) {
    crate::common::block_on(60, &fixed_stack_builder(), move || async move {
        let reached = Event::new();
        let (outer, inner) = (CancelScope::new(), CancelScope::new());
        inner.set_shield(unshield);
        task_group(async move |tg| {
            let (o, i, r) = (outer.clone(), inner.clone(), reached.clone());
            tg.start_soon(async move {
                r.wait().await;
                o.cancel();
                if unshield {
                    pride::checkpoint().await;
                    i.set_shield(false);
                }
            });
            let start = tg.start(move |s| pending_start_chain(depth, s, reached));
            let out = outer.run(inner.run(start)).await;
            assert!(out.is_none(), "{out:?}");
            assert!(outer.cancelled_caught());
        })
        .await
        .unwrap();
    });
}

/// Runs the ignored test `helper` (a deep case that would overflow a worker's stack by
/// recursing once per level) in a child process, which a stack overflow aborts: the
/// overflow is a failure of this test, not an abort of the whole test binary.
fn in_a_child_process(helper: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([helper, "--exact", "--ignored", "--test-threads=1"])
        .env_remove("RUST_MIN_STACK")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr: Vec<&str> = stderr.lines().take(8).collect();
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{helper} failed ({}): {stderr:?}",
        out.status
    );
}

/// A cancel of the caller's scope reaches every level of a chain of nested starts that
/// have not started yet: the start returns nothing and every level is dropped.
#[test]
fn a_cancel_reaches_every_level_of_nested_pending_starts() {
    cancel_nested_pending_starts(100, false);
}

/// Lifting a shield over a cancel reaches every level of nested pending starts too.
#[test]
fn an_unshield_over_a_cancel_reaches_every_level_of_nested_pending_starts() {
    cancel_nested_pending_starts(100, true);
}

/// Starts nest thousands of levels deep, as groups do: a cancel of the caller's scope
/// reaches every level of pending starts without a call per level (which overflowed
/// the stack of the worker that cancelled).
#[test]
fn cancelling_thousands_of_nested_pending_starts_does_not_overflow() {
    in_a_child_process("group_start::helper_cancels_thousands_of_nested_pending_starts");
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run as a child process by cancelling_thousands_of_nested_pending_starts_does_not_overflow"]
fn helper_cancels_thousands_of_nested_pending_starts() {
    cancel_nested_pending_starts(3_000, false);
}

/// An unshield that uncovers a cancel over thousands of nested pending starts reaches
/// every level without a call per level either.
#[test]
fn unshielding_over_thousands_of_nested_pending_starts_does_not_overflow() {
    in_a_child_process("group_start::helper_unshields_over_thousands_of_nested_pending_starts");
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run as a child process by unshielding_over_thousands_of_nested_pending_starts_does_not_overflow"]
fn helper_unshields_over_thousands_of_nested_pending_starts() {
    cancel_nested_pending_starts(3_000, true);
}

type Seen = Arc<Mutex<Option<Option<std::time::Instant>>>>;

/// Like [`pending_start_chain`], but the innermost child records the effective deadline
/// it sees in `seen` and then starts, and every level after it.
fn deadline_start_chain(depth: usize, status: TaskStatus<()>, seen: Seen) -> StartChain {
    Box::pin(async move {
        task_group(async move |g| {
            if depth == 0 {
                *seen.lock().unwrap() = Some(pride::current_effective_deadline());
            } else {
                g.start(move |s| deadline_start_chain(depth - 1, s, seen))
                    .await?;
            }
            status.started(());
            Ok::<(), BoxError>(())
        })
        .await?;
        Ok(())
    })
}

/// The innermost child of `depth` nested starts, made inside a scope with a deadline,
/// sees that deadline: until it has started, a child is inside its caller's scopes.
fn deadline_through_nested_starts(depth: usize) {
    crate::common::block_on(60, &fixed_stack_builder(), move || async move {
        let seen: Seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        let deadline = pride::current_time() + Duration::from_secs(3600);
        CancelScope::with_deadline(deadline)
            .run(task_group(async move |tg| {
                tg.start(move |status| deadline_start_chain(depth, status, s))
                    .await?;
                Ok::<(), BoxError>(())
            }))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), Some(Some(deadline)));
    });
}

/// A starting child nested in starts sees the deadline of the outermost caller's scope.
#[test]
fn the_effective_deadline_reaches_through_nested_starts() {
    deadline_through_nested_starts(100);
}

/// The effective deadline is found through thousands of nested starts without a call
/// per level (which overflowed the worker's stack).
#[test]
fn the_effective_deadline_through_thousands_of_nested_starts_does_not_overflow() {
    in_a_child_process("group_start::helper_reads_the_deadline_through_thousands_of_nested_starts");
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run as a child process by the_effective_deadline_through_thousands_of_nested_starts_does_not_overflow"]
fn helper_reads_the_deadline_through_thousands_of_nested_starts() {
    deadline_through_nested_starts(20_000);
}

/// Sets its event when woken.
struct SetOnWake(Event);

impl std::task::Wake for SetOnWake {
    fn wake(self: Arc<Self>) {
        self.0.set();
    }
}

/// Entries are in the order the failures happened, also for a starting child's failure
/// held for a caller that never takes it: the child fails first, its caller never polls
/// the start again, and a sibling fails later; the sibling's failure cancels the
/// caller, whose start hands the child's error to the group, ahead of the sibling's.
#[test]
fn a_held_start_error_keeps_its_place_in_completion_order() {
    run(2, 20, || async {
        let settled = Event::new();
        let err = task_group(async |tg| {
            let (start_group, settled2) = (tg.clone(), settled.clone());
            tg.start_soon_named("caller", async move {
                let polled = Event::new();
                let polled2 = polled.clone();
                let mut start =
                    start_group.start_named("starting", |status: TaskStatus<()>| async move {
                        let _status = status;
                        polled2.wait().await;
                        Err::<(), _>(Boom("starting"))
                    });
                // One poll launches the child, with a waker that tells the body once
                // the child has failed (the start wakes its caller then); the caller
                // waits elsewhere after it, and never takes the child's error.
                let first = {
                    let waker = std::task::Waker::from(Arc::new(SetOnWake(settled2)));
                    let mut cx = std::task::Context::from_waker(&waker);
                    std::future::Future::poll(std::pin::Pin::new(&mut start), &mut cx)
                };
                assert!(
                    first.is_pending(),
                    "the child cannot fail before it is let go"
                );
                polled.set();
                pending::<()>().await;
                drop(start);
            });
            settled.wait().await;
            tg.start_soon_named("sibling", async { Err::<(), _>(Boom("sibling")) });
        })
        .await
        .unwrap_err();
        let names: Vec<_> = err.errors().iter().map(|e| e.name()).collect();
        assert_eq!(names, [Some("starting"), Some("sibling")], "{err}");
    });
}

/// Until `started`, a cancel of the caller's scopes wakes what waits inside the starting
/// child at once: a grandchild suspended in a group inside the child, on another
/// worker, is dropped where it waits while the child and its caller are still busy in
/// polls (nothing else would wake it before the child's poll ends).
#[test]
fn a_callers_cancel_wakes_a_starting_childs_waiting_grandchild_at_once() {
    let late = Flag::new();
    let late2 = late.clone();
    start_under_a_busy_caller(late.clone(), move |caller, status| async move {
        let _ = pride::task_group(async move |inner| {
            let (waiting, gone) = (Flag::new(), pride::Event::new());
            let (waits, guard) = (waiting.clone(), SetOnDrop(gone.clone()));
            inner.start_soon(async move {
                let _guard = guard;
                waits.set();
                pending::<()>().await;
            });
            // Suspends at least once, and until the grandchild waits (what a poll made
            // inside the child is linked below it once that poll suspends); then, in one
            // poll (CPU work), cancels its caller's scope and stays until the grandchild
            // is gone, or 2 s.
            loop {
                pride::yield_now().await;
                if waiting.is_set() {
                    break;
                }
            }
            caller.cancel();
            let t0 = std::time::Instant::now();
            crate::common::spin_until(|| gone.is_set() || t0.elapsed() > Duration::from_secs(2));
            if !gone.is_set() {
                late2.set();
                // Ends the group (its teardown wakes the grandchild) for a quick failure.
                inner.cancel_scope().cancel();
            }
        })
        .await;
        status.started(());
    });
    assert!(
        !late.is_set(),
        "a grandchild waiting in a starting child was not woken by its caller's cancel"
    );
}
