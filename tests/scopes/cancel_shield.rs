//! Shielded cancel scopes: a shielded scope is not cancelled by
//! scopes outside it, its own cancel still fires, shielding a group's scope protects
//! its children, and `set_shield` takes effect at once.

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use std::sync::OnceLock;
use std::time::Duration;

use crate::common::{Counter, Flag, SetOnDrop, autojump, run};
use pride::{BoxError, CancelScope, Event, checkpoint, task_group};

fn shielded() -> CancelScope {
    let scope = CancelScope::new();
    scope.set_shield(true);
    scope
}

#[test]
fn set_shield_is_reported_by_shield() {
    let scope = CancelScope::new();
    assert!(!scope.shield());
    scope.set_shield(true);
    assert!(scope.shield());
    assert!(scope.clone().shield());
    scope.set_shield(false);
    assert!(!scope.shield());
}

/// One task: an outer scope is cancelled (from another task) while the work is inside a
/// shielded scope. The shielded work completes; the code after it runs until the next
/// suspension point, where the outer scope drops it.
#[test]
fn a_shielded_scope_is_not_cancelled_by_an_outer_scope() {
    run(2, 20, || async {
        let outer = CancelScope::new();
        let shield = shielded();
        let in_shield = Event::new();
        let go = Event::new();
        let shielded_done = Flag::new();
        let after_shield = Flag::new();
        let past = Flag::new();
        let (outer2, in_shield2, go2) = (outer.clone(), in_shield.clone(), go.clone());
        let (shield2, done2, after2, past2) = (
            shield.clone(),
            shielded_done.clone(),
            after_shield.clone(),
            past.clone(),
        );
        task_group(async |tg| {
            tg.start_soon(async move {
                in_shield2.wait().await;
                outer2.cancel();
                go2.set();
            });
            let out = outer
                .run(async move {
                    let got = shield2
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
                })
                .await;
            assert!(out.is_none());
        })
        .await
        .unwrap();
        assert!(shielded_done.is_set(), "the shielded work was cut short");
        assert!(after_shield.is_set());
        assert!(!past.is_set());
        assert!(outer.cancelled_caught());
        assert!(!shield.cancel_called());
        assert!(!shield.cancelled_caught());
    });
}

/// The same with the outer scope being a group's: the child's shielded work survives
/// the group's cancel.
#[test]
fn a_shielded_scope_in_a_child_survives_the_groups_cancel() {
    run(2, 20, || async {
        let in_shield = Event::new();
        let go = Event::new();
        let shielded_done = Flag::new();
        let past = Flag::new();
        let (in_shield2, go2) = (in_shield.clone(), go.clone());
        let (done2, past2) = (shielded_done.clone(), past.clone());
        let value = task_group(async |tg| {
            tg.start_soon(async move {
                let got = shielded()
                    .run(async {
                        in_shield2.set();
                        // Suspension points after the group's cancel.
                        go2.wait().await;
                        checkpoint().await;
                        done2.set();
                    })
                    .await;
                assert!(got.is_some());
                checkpoint().await;
                past2.set();
            });
            in_shield.wait().await;
            tg.cancel_scope().cancel();
            go.set();
            Ok::<_, BoxError>("shut down")
        })
        .await
        .unwrap();
        assert_eq!(value, "shut down");
        assert!(shielded_done.is_set(), "the shielded work was cut short");
        assert!(!past.is_set());
    });
}

#[test]
fn a_shielded_scope_obeys_its_own_cancel() {
    run(2, 20, || async {
        let shield = shielded();
        let inner = shield.clone();
        let past = Flag::new();
        let past2 = past.clone();
        let out = shield
            .run(async move {
                inner.cancel();
                checkpoint().await;
                past2.set();
            })
            .await;
        assert!(out.is_none());
        assert!(!past.is_set());
        assert!(shield.cancelled_caught());
    });
}

#[test]
fn a_shielded_scope_obeys_its_own_cancel_from_another_task() {
    run(2, 20, || async {
        let shield = shielded();
        let inside = Event::new();
        let (shield2, inside2) = (shield.clone(), inside.clone());
        task_group(async |tg| {
            tg.start_soon(async move {
                inside2.wait().await;
                shield2.cancel();
            });
            let out = shield
                .run(async {
                    inside.set();
                    pending::<()>().await;
                })
                .await;
            assert!(out.is_none());
            assert!(shield.cancelled_caught());
        })
        .await
        .unwrap();
    });
}

/// Both cancelled: the shield cuts the outer scope off, so the shielded scope catches
/// its own work; the outer scope then catches at the next suspension point outside.
#[test]
fn with_both_cancelled_the_shielded_scope_catches_first() {
    run(2, 20, || async {
        let outer = CancelScope::new();
        let shield = shielded();
        let after_shield = Flag::new();
        let past = Flag::new();
        let (outer2, shield2, after2, past2) = (
            outer.clone(),
            shield.clone(),
            after_shield.clone(),
            past.clone(),
        );
        let out = outer
            .run(async move {
                let got = shield2
                    .run(async {
                        shield2.cancel();
                        outer2.cancel();
                        checkpoint().await;
                    })
                    .await;
                assert!(got.is_none());
                after2.set();
                checkpoint().await;
                past2.set();
            })
            .await;
        assert!(out.is_none());
        assert!(shield.cancelled_caught());
        assert!(outer.cancelled_caught());
        assert!(after_shield.is_set());
        assert!(!past.is_set());
    });
}

/// A nested group whose scope is shielded: cancelling the enclosing group does not
/// reach its children, which run to completion.
#[test]
fn shielding_a_groups_scope_protects_its_children() {
    run(2, 20, || async {
        const CHILDREN: usize = 4;
        let finished = Arc::new(AtomicUsize::new(0));
        let children_waiting = Event::new();
        let go = Event::new();
        let inner_result = Flag::new();
        let (finished2, waiting2, go2, result2) = (
            finished.clone(),
            children_waiting.clone(),
            go.clone(),
            inner_result.clone(),
        );
        let value = task_group(async |outer| {
            let canceller = outer.clone();
            outer.start_soon(async move {
                waiting2.wait().await;
                canceller.cancel_scope().cancel();
                go2.set();
            });
            let waiting = Arc::new(AtomicUsize::new(0));
            let inner = task_group(async |tg| {
                tg.cancel_scope().set_shield(true);
                for _ in 0..CHILDREN {
                    let (finished, waiting, all_waiting, go) = (
                        finished2.clone(),
                        waiting.clone(),
                        children_waiting.clone(),
                        go.clone(),
                    );
                    tg.start_soon(async move {
                        if waiting.fetch_add(1, SeqCst) + 1 == CHILDREN {
                            all_waiting.set();
                        }
                        go.wait().await;
                        checkpoint().await;
                        finished.fetch_add(1, SeqCst);
                    });
                }
            })
            .await;
            if inner.is_ok() {
                result2.set();
            }
            Ok::<_, BoxError>(1)
        })
        .await;
        // The outer body was cut short by its own cancel after the shielded group.
        assert!(value.is_ok() || value.as_ref().unwrap_err().is_cancelled());
        assert_eq!(
            finished.load(SeqCst),
            CHILDREN,
            "shielded children were cut short"
        );
        assert!(inner_result.is_set());
    });
}

/// Children of a shielded group still obey the group's own cancel.
#[test]
fn a_shielded_groups_own_cancel_still_drops_its_children() {
    run(2, 20, || async {
        let drops = Counter::new();
        let drops2 = drops.clone();
        let value = task_group(async |tg| {
            tg.cancel_scope().set_shield(true);
            for _ in 0..3 {
                let guard = drops2.drop_guard();
                tg.start_soon(async move {
                    let _guard = guard;
                    pending::<()>().await;
                });
            }
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>("stopped")
        })
        .await
        .unwrap();
        assert_eq!(value, "stopped");
        assert_eq!(drops.get(), 3);
    });
}

/// A task blocked inside a shielded scope (on an event nobody sets) while an outer
/// scope is cancelled: unshielding wakes it, and it is dropped.
#[test]
fn unshielding_wakes_a_blocked_task_which_is_then_dropped() {
    run(2, 20, || async {
        let drops = Counter::new();
        let outer = CancelScope::new();
        let shield = shielded();
        let inside = Event::new();
        let ping = Event::new();
        let pong = Event::new();
        let (outer2, shield2, inside2, ping2, pong2) = (
            outer.clone(),
            shield.clone(),
            inside.clone(),
            ping.clone(),
            pong.clone(),
        );
        let guard = drops.drop_guard();
        let drops2 = drops.clone();
        task_group(async |tg| {
            tg.start_soon(async move {
                inside2.wait().await;
                outer2.cancel();
                // The shielded work still answers after the outer cancel.
                ping2.set();
                pong2.wait().await;
                assert_eq!(drops2.get(), 0);
                shield2.set_shield(false);
            });
            let never = Event::new();
            let out = outer
                .run(async move {
                    shield
                        .run(async move {
                            // Dropped in reverse: the guard counts first, then `pong`
                            // tells the canceller (so a wrong drop fails, not hangs).
                            let _pong = SetOnDrop(pong.clone());
                            let _guard = guard;
                            inside.set();
                            ping.wait().await;
                            pong.set();
                            never.wait().await;
                        })
                        .await
                })
                .await;
            assert!(out.is_none());
            assert!(outer.cancelled_caught());
        })
        .await
        .unwrap();
        assert_eq!(drops.get(), 1);
    });
}

/// A shield takes effect at once, also when set from another task
/// while the task inside is blocked. Then cancelling a scope further out must not drop
/// the work blocked inside the (now) shielded scope.
#[test]
fn shield_set_from_another_task_while_blocked_holds_against_outer_cancel() {
    run(2, 20, || async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let blocked = Event::new();
        let go = Event::new();
        let inner_done = Flag::new();
        let (outer2, inner2, blocked2, go2) =
            (outer.clone(), inner.clone(), blocked.clone(), go.clone());
        let done2 = inner_done.clone();
        task_group(async |tg| {
            tg.start_soon(async move {
                blocked2.wait().await;
                // Let the other task really suspend inside `inner`.
                for _ in 0..10 {
                    pride::yield_now().await;
                }
                inner2.set_shield(true);
                outer2.cancel();
                for _ in 0..10 {
                    pride::yield_now().await;
                }
                go2.set();
            });
            let out = outer
                .run(async move {
                    let got = inner
                        .run(async {
                            blocked.set();
                            go.wait().await;
                            done2.set();
                            1
                        })
                        .await;
                    assert_eq!(got, Some(1));
                    checkpoint().await;
                    unreachable!("the outer cancel takes effect at this checkpoint");
                })
                .await;
            assert!(out.is_none());
        })
        .await
        .unwrap();
        assert!(
            inner_done.is_set(),
            "work inside the shield (set while blocked) was dropped"
        );
        assert!(outer.cancelled_caught());
    });
}

/// The same for a group child: a scope inside the child is shielded (from another
/// task) while the child is blocked in it, then the group is cancelled. The shielded
/// work must run to its end (shielding takes effect at once).
#[test]
fn shield_set_while_a_child_is_blocked_holds_against_the_groups_cancel() {
    run(2, 20, || async {
        let inner = CancelScope::new();
        let blocked = Event::new();
        let go = Event::new();
        let inner_done = Flag::new();
        let group_scope: Arc<OnceLock<CancelScope>> = Arc::new(OnceLock::new());
        let (inner2, blocked2, go2, done2) = (
            inner.clone(),
            blocked.clone(),
            go.clone(),
            inner_done.clone(),
        );
        let scope2 = group_scope.clone();
        task_group(async |otg| {
            otg.start_soon(async move {
                blocked.wait().await;
                for _ in 0..10 {
                    pride::yield_now().await;
                }
                inner.set_shield(true);
                scope2.get().unwrap().cancel();
                for _ in 0..10 {
                    pride::yield_now().await;
                }
                go.set();
            });
            let result = task_group(async |tg| {
                group_scope.set(tg.cancel_scope().clone()).unwrap();
                tg.start_soon_named("shielded", async move {
                    inner2
                        .run(async {
                            blocked2.set();
                            go2.wait().await;
                            done2.set();
                        })
                        .await;
                    pending::<()>().await;
                });
                Ok::<_, pride::BoxError>(7)
            })
            .await;
            assert_eq!(result.unwrap(), 7);
        })
        .await
        .unwrap();
        assert!(inner_done.is_set(), "the child's shielded work was dropped");
    });
}

/// A deadline further out passes while the task waits inside a scope that was shielded
/// (by a sibling) after it suspended.
#[test]
fn shield_set_while_blocked_holds_against_an_outer_deadline() {
    autojump(20, || async {
        let inner = CancelScope::new();
        let inner_done = Flag::new();
        let caught = Flag::new();
        let (done2, caught2, inner2) = (inner_done.clone(), caught.clone(), inner.clone());
        task_group(async |tg| {
            tg.start_soon(async move {
                let out = pride::move_on_after(Duration::from_secs(1), async move {
                    inner
                        .run(async {
                            pride::sleep(Duration::from_secs(5)).await;
                            done2.set();
                        })
                        .await;
                    checkpoint().await;
                })
                .await;
                if out.is_none() {
                    caught2.set();
                }
            });
            tg.start_soon(async move {
                pride::sleep(Duration::from_millis(10)).await;
                inner2.set_shield(true);
            });
        })
        .await
        .unwrap();
        assert!(caught.is_set());
        assert!(
            inner_done.is_set(),
            "the shielded sleep was cut short by the outer deadline"
        );
    });
}

/// A shielded scope that lost a race (`or`, `select!`) and was dropped in the same
/// poll protects nothing: the work then suspends at an exposed `.await`, where a cancel
/// of the outer scope made just before must drop it (a hang otherwise: nothing wakes
/// the task again).
#[test]
fn a_shield_dropped_in_a_lost_race_does_not_protect_the_next_await() {
    for use_select in [false, true] {
        run(2, 5, move || async move {
            let outer = CancelScope::new();
            let o2 = outer.clone();
            let out = outer
                .run(async move {
                    let shield = CancelScope::new();
                    shield.set_shield(true);
                    if use_select {
                        pride::select! {
                            _ = shield.run(pending::<()>()) => {},
                            _ = async {} => {},
                        }
                    } else {
                        futures_lite::future::or(shield.run(pending::<()>()), async { None }).await;
                    }
                    o2.cancel();
                    pending::<()>().await;
                })
                .await;
            assert!(out.is_none());
            assert!(outer.cancelled_caught());
        });
    }
}

/// The same, with the cancel coming from another task while the work is blocked. One
/// worker runs both tasks, so the sibling sets the event and cancels in one poll,
/// before the blocked task runs again: the work must be dropped where it is
/// suspended (the wrapper's check before resuming it), not resumed past that `.await`.
#[test]
fn a_shield_abandoned_in_a_select_does_not_let_work_run_past_a_cancel() {
    run(1, 20, || async {
        let outer = CancelScope::new();
        let ran_on = Flag::new();
        let blocked = Event::new();
        let go = Event::new();
        let caught = Flag::new();
        let (o2, r2, b2, g2, c2) = (
            outer.clone(),
            ran_on.clone(),
            blocked.clone(),
            go.clone(),
            caught.clone(),
        );
        let o3 = outer.clone();
        task_group(async |tg| {
            tg.start_soon(async move {
                let out = o3
                    .run(async move {
                        let shield = CancelScope::new();
                        shield.set_shield(true);
                        futures_lite::future::or(shield.run(pending::<()>()), async { None }).await;
                        blocked.set();
                        go.wait().await;
                        r2.set();
                        pending::<()>().await;
                    })
                    .await;
                if out.is_none() {
                    c2.set();
                }
            });
            tg.start_soon(async move {
                b2.wait().await;
                g2.set();
                o2.cancel();
            });
        })
        .await
        .unwrap();
        assert!(caught.is_set());
        assert!(
            !ran_on.is_set(),
            "the work ran on past the await where the cancel found it"
        );
    });
}

/// A group future polled once and then kept, not awaited, does not protect the work
/// around it: a cancel from outside drops the work where it waits on something else,
/// and the group with it.
#[test]
fn a_group_kept_but_not_awaited_does_not_shield_the_work_around_it() {
    run(2, 20, || async {
        let outer = CancelScope::new();
        let o2 = outer.clone();
        let out = outer
            .run(async move {
                let mut group = Box::pin(task_group(async |tg| {
                    tg.start_soon(pending::<()>());
                }));
                assert!(futures_lite::future::poll_once(&mut group).await.is_none());
                pride::yield_now().await;
                o2.cancel();
                pending::<()>().await;
            })
            .await;
        assert!(out.is_none());
        assert!(outer.cancelled_caught());
    });
}

/// A cancel reaches blocked work when the work is next polled, and the shields are
/// read then: a shield set right after a cancel from outside, before the woken work
/// ran again, keeps that cancel out of it. (One worker, on which the canceller runs:
/// the work cannot be polled between the two calls.)
#[test]
fn a_shield_set_right_after_an_outer_cancel_keeps_it_out_of_blocked_work() {
    let mut builder = crate::common::builder(1);
    builder.clock(pride::time::Clock::autojump());
    let (finished, caught) = crate::common::block_on(20, &builder, || async {
        let (outer, inner, finished) = (CancelScope::new(), CancelScope::new(), Flag::new());
        task_group(async |tg| {
            let (o, i, f) = (outer.clone(), inner.clone(), finished.clone());
            tg.start_soon(async move {
                o.run(i.run(async move {
                    pride::sleep(Duration::from_secs(1)).await;
                    f.set();
                }))
                .await;
            });
            let (o, i) = (outer.clone(), inner.clone());
            tg.start_soon(async move {
                // The work is blocked in its sleep by now.
                pride::sleep(Duration::from_millis(1)).await;
                o.cancel();
                i.set_shield(true);
            });
        })
        .await
        .unwrap();
        (finished.is_set(), outer.cancelled_caught())
    });
    assert!(finished, "the shielded work was dropped");
    assert!(
        !caught,
        "the outer scope caught a cancel that never reached its work"
    );
}
