//! Conformance cases ported from AnyIO's `tests/test_taskgroups.py` and Trio's
//! `_core/_tests/test_run.py` and `_tests/test_timeouts.py`: task groups (nurseries),
//! cancel scopes, shields, deadlines and `start()` with its task status, checked
//! against pride's API. Where pride deliberately differs from the original (a group
//! cancelled before its body produced a value reports a cancel; a deadline passed on
//! a scope not yet entered is not a cancel until entry), the case says so.
//!
//! Most cases run on the autojump clock, so sleeps cost no wall-clock time and times
//! are exact.

use std::future::pending;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::common::{
    Boom, Counter, Flag, Gauge, MyError, Rng, autojump, panic_text, run, spin_until, watchdog,
    yield_until,
};
use pride::{CancelScope, StartError, TaskStatus, task_group};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Stands in for Trio's and AnyIO's `wait_all_tasks_blocked` under the autojump clock:
/// the clock jumps only once every task is blocked, so a short sleep ends after them.
async fn blocked() {
    pride::sleep(ms(1)).await;
}

/// Panics when dropped (unless already unwinding): a cleanup that fails, like a
/// `finally` block that raises.
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

/// Runs its closure when dropped: cleanup code of the work that holds it.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Runs `f` on a thread of its own and gives the text of its panic (`"<no panic>"` if
/// it returned).
fn panic_message_of(f: impl FnOnce() + Send + 'static) -> String {
    match std::thread::spawn(f).join() {
        Ok(()) => String::from("<no panic>"),
        Err(payload) => panic_text(&*payload).to_owned(),
    }
}

/// Every child of a group runs to its end before the group returns. AnyIO `test_success`.
#[test]
fn children_of_a_group_all_run_to_completion() {
    autojump(20, || async {
        let v = Arc::new(Mutex::new(Vec::new()));
        let (a, b) = (v.clone(), v.clone());
        task_group(async move |tg| {
            tg.start_soon(async move { a.lock().unwrap().push(1) });
            tg.start_soon(async move {
                pride::sleep(ms(100)).await;
                b.lock().unwrap().push(2)
            });
        })
        .await
        .unwrap();
        let mut got = v.lock().unwrap().clone();
        got.sort();
        assert_eq!(got, vec![1, 2]);
    })
}

/// A child starts a sibling into its running group; the group waits for both.
/// AnyIO `test_start_soon_while_running`.
#[test]
fn a_child_may_start_a_sibling_while_the_group_runs() {
    autojump(20, || async {
        let c = Counter::new();
        let c2 = c.clone();
        task_group(async move |tg| {
            let tg2 = tg.clone();
            tg.start_soon(async move {
                pride::sleep(ms(10)).await;
                let c3 = c2.clone();
                tg2.start_soon(async move {
                    pride::sleep(ms(10)).await;
                    c3.inc();
                });
                c2.inc();
            });
        })
        .await
        .unwrap();
        assert_eq!(c.get(), 2);
    })
}

/// After a group exited with an error, `try_start_soon` errs, `start` gives `Closed` and
/// `start_soon` panics. AnyIO `test_start_soon_after_error` and `test_start_already_closed`.
#[test]
fn a_group_that_exited_with_an_error_refuses_new_children() {
    autojump(20, || async {
        let mut keep = None;
        let r = task_group(async |tg| {
            keep = Some(tg.clone());
            Err::<(), _>(Boom("x"))
        })
        .await;
        assert!(r.is_err());
        let tg = keep.unwrap();
        assert!(tg.try_start_soon(async {}).is_err());
        assert!(matches!(
            tg.start(|s: TaskStatus<()>| async move { s.started(()) })
                .await,
            Err(StartError::Closed)
        ));
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tg.start_soon(async {})));
        assert!(p.is_err());
    })
}

/// The body cancels its own group, then starts a child: the child runs to its first
/// suspension point and is dropped there, and the group reports a cancel (AnyIO's
/// returns normally). AnyIO `test_start_cancelled`.
#[test]
fn start_in_a_group_cancelled_by_its_body_cuts_the_child_short() {
    autojump(20, || async {
        let started = Flag::new();
        let finished = Flag::new();
        let (s1, f1) = (started.clone(), finished.clone());
        let r = task_group(async move |tg| {
            tg.cancel_scope().cancel();
            let _ = tg
                .start(move |st: TaskStatus<()>| async move {
                    s1.set();
                    pride::sleep(secs(2)).await;
                    f1.set();
                    st.started(());
                })
                .await;
        })
        .await;
        assert!(started.is_set());
        assert!(!finished.is_set());
        // AnyIO returns normally; pride reports a cancel, as the body was dropped
        // in the start, before its value.
        assert!(r.unwrap_err().is_cancelled());
    })
}

/// A start into an outer group, waited on from an inner group's body, is cut short when
/// a sibling in the inner group fails; the failure comes out of the inner group.
/// AnyIO `test_start_cancel_after_error`.
#[test]
fn an_error_in_the_callers_group_cancels_a_pending_start_into_another_group() {
    autojump(20, || async {
        let completed = Flag::new();
        let c = completed.clone();
        let r = task_group(async move |outer| {
            task_group(async move |inner| {
                inner.start_soon(async {
                    blocked().await;
                    Err::<(), _>(Boom("cancel the start"))
                });
                let c = c.clone();
                let _ = outer
                    .start(move |st: TaskStatus<()>| async move {
                        pride::sleep(secs(1)).await;
                        c.set();
                        st.started(());
                    })
                    .await;
            })
            .await
        })
        .await
        .unwrap_err();
        assert!(!completed.is_set());
        assert_eq!(r.errors().len(), 1, "{r}");
        assert!(r.find::<Boom>().is_some());
    })
}

/// The body fails while a child is blocked: the child is dropped and the body's error is
/// the only entry. AnyIO `test_host_exception`.
#[test]
fn a_body_error_drops_a_blocked_child() {
    autojump(20, || async {
        let dropped = Counter::new();
        let d = dropped.clone();
        let r = task_group(async move |tg| {
            let g = d.drop_guard();
            tg.start_soon(async move {
                let _g = g;
                pending::<()>().await
            });
            blocked().await;
            Err::<(), _>(Boom("host"))
        })
        .await
        .unwrap_err();
        assert_eq!(r.errors().len(), 1);
        assert_eq!(dropped.get(), 1);
    })
}

/// A child started just before its group is cancelled runs up to its first checkpoint
/// and no further; the group returns the body's value. AnyIO `test_level_cancellation`.
#[test]
fn a_child_started_before_its_groups_cancel_runs_to_its_first_checkpoint() {
    run(1, 20, || async {
        let marker = Arc::new(Mutex::new(0));
        let m = marker.clone();
        task_group(async move |outer| {
            // On the only worker: the child cannot run before this body suspends.
            outer.start_soon(async move {
                task_group(async move |tg| {
                    let m2 = m.clone();
                    tg.start_soon(async move {
                        *m2.lock().unwrap() = 1;
                        pride::checkpoint().await;
                        *m2.lock().unwrap() = 2;
                    });
                    assert_eq!(*m.lock().unwrap(), 0, "the child ran before the cancel");
                    tg.cancel_scope().cancel();
                })
                .await
            });
        })
        .await
        .unwrap();
        assert_eq!(*marker.lock().unwrap(), 1);
    })
}

/// A scope entered in a child is cancelled from the group's body: the child's sleep is
/// cut short. AnyIO `test_cancel_scope_in_another_task`.
#[test]
fn a_scope_entered_in_a_child_is_cancelled_from_the_body() {
    autojump(20, || async {
        let result = Flag::new();
        let slot: Arc<Mutex<Option<CancelScope>>> = Arc::new(Mutex::new(None));
        let (r, s) = (result.clone(), slot.clone());
        task_group(async move |tg| {
            let s2 = s.clone();
            tg.start_soon(async move {
                let scope = CancelScope::new();
                *s2.lock().unwrap() = Some(scope.clone());
                scope
                    .run(async {
                        pride::sleep(secs(2)).await;
                        r.set();
                    })
                    .await;
            });
            loop {
                if let Some(sc) = s.lock().unwrap().clone() {
                    sc.cancel();
                    break;
                }
                pride::checkpoint().await;
            }
        })
        .await
        .unwrap();
        assert!(!result.is_set());
    })
}

/// Cancelling a group reaches the body of a group nested in one of its children, and
/// the child's code after the nested group does not run. AnyIO `test_cancel_propagation`.
#[test]
fn a_groups_cancel_reaches_a_nested_groups_body() {
    autojump(20, || async {
        let reached = Flag::new();
        let f = reached.clone();
        let r = task_group(async move |tg| {
            tg.start_soon(async move {
                task_group(async |_tg2| pride::sleep(secs(1)).await)
                    .await
                    .unwrap();
                f.set();
            });
            pride::checkpoint().await;
            tg.cancel_scope().cancel();
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert!(!reached.is_set());
    })
}

/// The same with the nested group holding a child of its own.
/// AnyIO `test_cancel_propagation_with_inner_spawn`.
#[test]
fn a_groups_cancel_reaches_a_nested_groups_children() {
    autojump(20, || async {
        let reached = Flag::new();
        let f = reached.clone();
        let r = task_group(async move |tg| {
            tg.start_soon(async move {
                let _ = task_group(async |tg2| {
                    tg2.start_soon(pride::sleep(secs(10)));
                    pride::sleep(secs(1)).await
                })
                .await;
                f.set();
            });
            blocked().await;
            tg.cancel_scope().cancel();
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert!(!reached.is_set());
    })
}

/// A child cancels its group while the body sleeps, in two groups one after the other:
/// each time the body is dropped and the group reports a cancel (AnyIO returns
/// normally; pride reports a group whose body gave no value as cancelled).
/// AnyIO `test_cancel_twice`.
#[test]
fn a_child_cancelling_its_group_twice_in_a_row_drops_the_body_each_time() {
    autojump(20, || async {
        for _ in 0..2 {
            let reached = Flag::new();
            let f = reached.clone();
            let r = task_group(async move |tg| {
                let tg2 = tg.clone();
                tg.start_soon(async move {
                    pride::checkpoint().await;
                    tg2.cancel_scope().cancel();
                });
                pride::sleep(secs(1)).await;
                f.set();
            })
            .await;
            assert!(!reached.is_set());
            // AnyIO returns normally; pride reports a cancel, as the body was
            // dropped before its value.
            assert!(r.unwrap_err().is_cancelled());
        }
    })
}

/// A nested group whose body has returned and which waits for a sleeping child is
/// reached by the outer group's cancel: the child is dropped once.
/// AnyIO `test_cancel_exiting_task_group`.
#[test]
fn a_cancel_reaches_a_nested_group_that_is_waiting_for_its_children() {
    autojump(20, || async {
        let received = Counter::new();
        let rc = received.clone();
        task_group(async move |tg| {
            tg.start_soon(async move {
                task_group(async move |tg2| {
                    let g = rc.drop_guard();
                    tg2.start_soon(async move {
                        let _g = g;
                        pride::sleep(secs(5)).await
                    });
                })
                .await
            });
            blocked().await;
            tg.cancel_scope().cancel();
        })
        .await
        .unwrap();
        assert_eq!(received.get(), 1);
    })
}

/// One child fails; a sibling's cleanup (a `Drop` that panics, like a `finally` that
/// raises) fails too: both are entries. AnyIO `test_exception_group_children`.
#[test]
fn a_child_error_and_a_siblings_cleanup_panic_are_both_entries() {
    autojump(20, || async {
        let r = task_group(async |tg| {
            tg.start_soon_named("task1", async {
                pride::sleep(ms(100)).await;
                Err::<(), _>(Boom("task1"))
            });
            tg.start_soon_named("task2", async {
                let _p = PanicOnDrop("task2");
                pride::sleep(ms(150)).await;
                Ok::<(), pride::BoxError>(())
            });
        })
        .await
        .unwrap_err();
        assert_eq!(r.errors().len(), 2, "{r}");
        assert_eq!(r.find::<Boom>().unwrap().0, "task1");
        let panics: Vec<_> = r
            .errors()
            .iter()
            .filter_map(|e| e.panic_message())
            .collect();
        assert_eq!(panics, ["task2"]);
    })
}

/// The body fails and a child's cleanup panics: both are entries.
/// AnyIO `test_exception_group_host`.
#[test]
fn a_body_error_and_a_childs_cleanup_panic_are_both_entries() {
    autojump(20, || async {
        let r = task_group(async |tg| {
            tg.start_soon_named("child", async {
                let _p = PanicOnDrop("child");
                pride::sleep(ms(150)).await;
            });
            pride::sleep(ms(100)).await;
            Err::<(), _>(Boom("host"))
        })
        .await
        .unwrap_err();
        assert_eq!(r.errors().len(), 2, "{r}");
        assert_eq!(r.find::<Boom>().unwrap().0, "host");
        let panics: Vec<_> = r
            .errors()
            .iter()
            .filter_map(|e| e.panic_message())
            .collect();
        assert_eq!(panics, ["child"]);
    })
}

/// After a `move_on_after` caught its timeout, no deadline stays in force: the effective
/// deadline is none and later sleeps finish. AnyIO `test_cancel_scope_cleared`.
#[test]
fn a_timeout_leaves_no_deadline_behind() {
    autojump(20, || async {
        assert_eq!(
            pride::move_on_after(ms(100), pride::sleep(secs(1))).await,
            None
        );
        pride::checkpoint().await;
        assert_eq!(pride::current_effective_deadline(), None);
        pride::sleep(ms(10)).await;
    })
}

/// `fail_after` errs and a timeout scope catches for a zero and a one-second timeout
/// around a longer sleep. AnyIO `test_fail_after` (parametrised 0 and 1).
#[test]
fn fail_after_and_a_timeout_scope_fire_for_zero_and_one_second() {
    autojump(20, || async {
        for d in [0, 1000] {
            let r = pride::fail_after(ms(d), pride::sleep(secs(1))).await;
            assert!(r.is_err());
            let s = CancelScope::with_timeout(ms(d));
            assert_eq!(s.run(pride::sleep(secs(1))).await, None);
            assert!(s.cancel_called() && s.cancelled_caught());
        }
    })
}

/// A group cancelled by its body leaves nothing behind: a later `fail_after` still times
/// out and cuts its work short. AnyIO `test_fail_after_after_cancellation`.
#[test]
fn fail_after_works_after_a_cancelled_group() {
    autojump(20, || async {
        let ev = pride::Event::new();
        let r = task_group(async |tg| {
            tg.cancel_scope().cancel();
            ev.wait().await;
        })
        .await;
        assert!(r.unwrap_err().is_cancelled());
        let complete = Flag::new();
        let c = complete.clone();
        let r = pride::fail_after(ms(100), async move {
            pride::sleep(ms(500)).await;
            c.set();
        })
        .await;
        assert!(r.is_err());
        assert!(!complete.is_set());
    })
}

/// An outer scope cancelled from inside a `fail_after` before its timeout: the outer
/// scope catches, and `fail_after` neither returns nor reports a timeout.
/// AnyIO `test_fail_after_scope_cancelled_before_timeout`.
#[test]
fn an_outer_cancel_inside_fail_after_is_caught_outside() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let out = outer
            .run(async move {
                let _ = pride::fail_after(ms(100), async move {
                    o.cancel();
                    pride::sleep(ms(200)).await;
                })
                .await;
                unreachable!("fail_after must not return")
            })
            .await;
        assert_eq!(out, None::<()>);
        assert!(outer.cancelled_caught());
    })
}

/// `fail_after` around a group whose body and child both sleep past the timeout
/// reports the timeout. AnyIO `test_timeout_error_with_multiple_cancellations`.
#[test]
fn fail_after_around_a_group_reports_its_timeout() {
    autojump(20, || async {
        let r = pride::fail_after(
            ms(100),
            task_group(async |tg| {
                tg.start_soon(pride::sleep(secs(2)));
                pride::sleep(secs(2)).await;
            }),
        )
        .await;
        assert!(r.is_err(), "{r:?}");
    })
}

/// A timeout scope of zero or one second around a longer sleep gives `None` and caught
/// the cancel. AnyIO `test_move_on_after` (parametrised 0 and 1).
#[test]
fn a_timeout_scope_catches_for_zero_and_one_second() {
    autojump(20, || async {
        for d in [0, 1000] {
            let s = CancelScope::with_timeout(ms(d));
            let out = s
                .run(async {
                    pride::sleep(secs(1)).await;
                    1
                })
                .await;
            assert_eq!(out, None);
            assert!(s.cancelled_caught());
        }
    })
}

/// An outer 100 ms timeout around an inner 1 s one: the effective deadline inside both
/// is the outer's, the outer catches, the inner is never cancelled.
/// AnyIO `test_nested_move_on_after`.
#[test]
fn nested_timeouts_the_earlier_outer_one_catches() {
    autojump(20, || async {
        let outer = CancelScope::with_timeout(ms(100));
        let inner = CancelScope::with_timeout(secs(1));
        let (o, i) = (outer.clone(), inner.clone());
        let sleep_done = Flag::new();
        let inner_done = Flag::new();
        let (sd, id) = (sleep_done.clone(), inner_done.clone());
        outer
            .run(async move {
                assert_eq!(pride::current_effective_deadline(), o.deadline());
                i.run(async {
                    assert_eq!(pride::current_effective_deadline(), o.deadline());
                    pride::sleep(secs(2)).await;
                    sd.set();
                })
                .await;
                id.set();
            })
            .await;
        assert!(!sleep_done.is_set());
        assert!(!inner_done.is_set());
        assert!(outer.cancel_called() && outer.cancelled_caught());
        assert!(!inner.cancel_called() && !inner.cancelled_caught());
    })
}

/// A shielded scope with its own timeout finishes its work while its group is
/// cancelled; the body is dropped at the next suspension point after it; the shielded
/// scope itself is never cancelled. AnyIO `test_shielding`.
#[test]
fn a_shielded_timeout_scope_finishes_its_work_in_a_cancelled_group() {
    autojump(20, || async {
        let inner_done = Flag::new();
        let outer_done = Flag::new();
        let inner = CancelScope::with_timeout(secs(10));
        inner.set_shield(true);
        let (i, idn, odn) = (inner.clone(), inner_done.clone(), outer_done.clone());
        let mut keep = None;
        let _ = task_group(async |tg| {
            keep = Some(tg.clone());
            let tg2 = tg.clone();
            tg.start_soon(async move {
                blocked().await;
                tg2.cancel_scope().cancel();
            });
            assert!(i.shield());
            i.run(async {
                pride::sleep(ms(100)).await;
                idn.set();
            })
            .await;
            pride::sleep(secs(1)).await;
            odn.set();
        })
        .await;
        assert!(inner_done.is_set());
        assert!(!outer_done.is_set());
        assert!(keep.unwrap().cancel_scope().cancel_called());
        assert!(!inner.cancel_called());
    })
}

/// The body cancels its group from inside a shielded scope: inside the shield there is
/// no deadline and a checkpoint passes; after it the deadline is now and the next sleep
/// is cut. AnyIO `test_cancel_from_shielded_scope`.
#[test]
fn cancelling_the_group_from_inside_a_shield_takes_effect_after_it() {
    autojump(20, || async {
        let past = Flag::new();
        let p = past.clone();
        let r = task_group(async |tg| {
            let shield = CancelScope::new();
            shield.set_shield(true);
            shield
                .run(async {
                    tg.cancel_scope().cancel();
                    assert_eq!(pride::current_effective_deadline(), None);
                    pride::checkpoint().await; // must survive: shielded
                })
                .await
                .expect("shielded scope must not be cancelled");
            let d = pride::current_effective_deadline().expect("cancelled => deadline");
            assert!(d <= pride::current_time());
            pride::sleep(ms(10)).await;
            p.set();
        })
        .await;
        assert!(r.unwrap_err().is_cancelled());
        assert!(!past.is_set(), "the sleep after the shield was not cut");
    })
}

/// A shielded scope that cancels itself: its effective deadline is now at once and its
/// next checkpoint is caught. AnyIO `test_cancel_shielded_scope`.
#[test]
fn a_shielded_scope_cancelled_from_inside_has_a_deadline_of_now() {
    autojump(20, || async {
        let s = CancelScope::new();
        s.set_shield(true);
        let s2 = s.clone();
        let out = s
            .run(async move {
                assert!(s2.shield());
                s2.cancel();
                let d = pride::current_effective_deadline().expect("deadline");
                assert!(d <= pride::current_time());
                pride::checkpoint().await;
                unreachable!()
            })
            .await;
        assert_eq!(out, None::<()>);
        assert!(s.cancelled_caught());
    })
}

/// The cleanup (`Drop`) of work dropped for a cancel sees an effective deadline not
/// later than now. AnyIO `test_shielded_cleanup_after_cancel`.
#[test]
fn cleanup_of_cancelled_work_sees_a_passed_deadline() {
    autojump(20, || async {
        struct Check(Arc<Mutex<Option<bool>>>);
        impl Drop for Check {
            fn drop(&mut self) {
                let d = pride::current_effective_deadline();
                *self.0.lock().unwrap() = Some(matches!(d, Some(d) if d <= pride::current_time()));
            }
        }
        let seen = Arc::new(Mutex::new(None));
        let outer = CancelScope::new();
        let (o, s) = (outer.clone(), seen.clone());
        outer
            .run(async move {
                o.cancel();
                let _c = Check(s);
                pride::checkpoint().await;
            })
            .await;
        assert_eq!(*seen.lock().unwrap(), Some(true));
    })
}

/// A zero timeout, or a deadline of now, is caught at the first suspension point.
/// AnyIO `test_deadline_reached_on_start`.
#[test]
fn a_deadline_already_reached_at_entry_is_caught_at_the_first_checkpoint() {
    autojump(20, || async {
        let s = CancelScope::with_timeout(Duration::ZERO);
        let out = s
            .run(async {
                pride::checkpoint().await;
                1
            })
            .await;
        assert_eq!(out, None);
        assert!(s.cancelled_caught());
        let s = CancelScope::with_deadline(pride::current_time());
        assert_eq!(s.run(pride::sleep(secs(1))).await, None);
        assert!(s.cancelled_caught());
    })
}

/// A deadline moved later from inside the scope lets work that ends before the new
/// deadline finish, uncancelled. AnyIO `test_deadline_moved`.
#[test]
fn a_deadline_moved_later_lets_the_work_finish() {
    autojump(20, || async {
        let s = CancelScope::with_timeout(ms(100));
        let s2 = s.clone();
        let out = s
            .run(async move {
                s2.set_deadline(Some(s2.deadline().unwrap() + ms(300)));
                pride::sleep(ms(200)).await;
                7
            })
            .await;
        assert_eq!(out, Some(7));
        assert!(!s.cancel_called());
    })
}

/// A scope cancelled from a child while the work waits in a `fail_after` inside a plain
/// scope: the outer scope catches, no code after any of them runs.
/// AnyIO `test_nested_fail_after`.
#[test]
fn an_outer_cancel_passes_through_fail_after_and_a_plain_scope() {
    autojump(20, || async {
        let scope = CancelScope::new();
        let sc = scope.clone();
        let reached = Counter::new();
        let rc = reached.clone();
        task_group(async move |tg| {
            let sc2 = sc.clone();
            let rc0 = rc.clone();
            let rc1 = rc.clone();
            sc.run(async move {
                CancelScope::new()
                    .run(async move {
                        tg.start_soon(async move {
                            blocked().await;
                            sc2.cancel();
                        });
                        let _ = pride::fail_after(secs(1), async {
                            pride::sleep(secs(2)).await;
                            rc0.inc();
                        })
                        .await;
                        rc1.inc();
                    })
                    .await;
                rc.inc();
            })
            .await;
        })
        .await
        .unwrap();
        assert!(scope.cancel_called());
        assert!(scope.cancelled_caught());
        assert_eq!(reached.get(), 0);
    })
}

/// Work in a shield, inside a scope a child cancels, waits in a `fail_after`: the
/// timeout still fires and comes out of the group. AnyIO `test_nested_shield`.
#[test]
fn a_timeout_inside_a_shield_fires_though_the_scope_outside_is_cancelled() {
    autojump(20, || async {
        let r = task_group(async |tg| {
            let scope = CancelScope::new();
            let sc = scope.clone();
            scope
                .run(async move {
                    let sh = CancelScope::new();
                    sh.set_shield(true);
                    sh.run(async move {
                        tg.start_soon(async move {
                            let sh2 = CancelScope::new();
                            sh2.set_shield(true);
                            sh2.run(async move { sc.cancel() }).await;
                        });
                        pride::fail_after(ms(200), pride::sleep(secs(2))).await
                    })
                    .await
                    .unwrap()
                })
                .await
                .unwrap()
        })
        .await
        .unwrap_err();
        assert!(r.find::<pride::TimeoutError>().is_some(), "{r}");
    })
}

/// Two nested scopes cancelled from inside a shield within them: a checkpoint in the
/// outer scope after the inner one ends is caught.
/// AnyIO `test_triple_nested_shield_checkpoint_in_outer`.
#[test]
fn cancels_made_inside_a_shield_take_effect_in_the_outer_scope() {
    autojump(20, || async {
        let got = Flag::new();
        let g = got.clone();
        task_group(async move |tg| {
            tg.start_soon(async move {
                let s1 = CancelScope::new();
                let s1c = s1.clone();
                s1.run(async move {
                    let s2 = CancelScope::new();
                    let s2c = s2.clone();
                    s2.run(async move {
                        let sh = CancelScope::new();
                        sh.set_shield(true);
                        sh.run(async move {
                            s1c.cancel();
                            s2c.cancel();
                        })
                        .await;
                    })
                    .await;
                    pride::checkpoint().await;
                    pride::checkpoint().await;
                    g.set();
                })
                .await;
            });
        })
        .await
        .unwrap();
        assert!(!got.is_set());
    })
}

/// An outer scope cancelled from a shield within a middle scope: a checkpoint in the
/// middle scope after the shield is caught.
/// AnyIO `test_triple_nested_shield_checkpoint_in_middle`.
#[test]
fn cancels_made_inside_a_shield_take_effect_in_the_middle_scope() {
    autojump(20, || async {
        let got = Flag::new();
        let g = got.clone();
        task_group(async move |tg| {
            tg.start_soon(async move {
                let s1 = CancelScope::new();
                let s1c = s1.clone();
                s1.run(async move {
                    CancelScope::new()
                        .run(async move {
                            let sh = CancelScope::new();
                            sh.set_shield(true);
                            sh.run(async move { s1c.cancel() }).await;
                            pride::checkpoint().await;
                            pride::checkpoint().await;
                            g.set();
                        })
                        .await;
                })
                .await;
            });
        })
        .await
        .unwrap();
        assert!(!got.is_set());
    })
}

/// A shielded child of a cancelled group waits without busy polling.
/// AnyIO `test_shielded_cancel_sleep_time`.
#[test]
fn a_shielded_child_in_a_cancelled_group_does_not_spin() {
    autojump(20, || async {
        let gauge = Gauge::new();
        let g = gauge.clone();
        task_group(async move |tg| {
            let ev = pride::Event::new();
            let ev2 = ev.clone();
            tg.start_soon(async move {
                pride::sleep(ms(200)).await;
                ev2.set();
            });
            task_group(async move |tg| {
                tg.start_soon(g.wrap(async move {
                    let sh = CancelScope::new();
                    sh.set_shield(true);
                    sh.run(async {
                        pride::sleep(ms(200)).await;
                        ev.wait().await;
                    })
                    .await;
                }));
                tg.cancel_scope().cancel();
            })
            .await
        })
        .await
        .unwrap();
        assert!(gauge.polls.get() < 20, "polls: {}", gauge.polls.get());
    })
}

/// An empty group entered in an already cancelled scope: its exit is no suspension
/// point, so the scope's work returns the group's value.
/// AnyIO `test_cancel_before_entering_task_group`.
#[test]
fn a_group_with_no_children_in_a_cancelled_scope_returns_its_value() {
    autojump(20, || async {
        let s = CancelScope::new();
        let s2 = s.clone();
        let out = s
            .run(async move {
                s2.cancel();
                task_group(async |_tg| {}).await
            })
            .await;
        assert!(matches!(out, Some(Ok(()))), "{out:?}");
    })
}

/// A scope cancelled from a shield, then an inner scope that cancels itself and waits:
/// the outer scope catches, not the inner one.
/// AnyIO `test_cancelled_scope_based_checkpoint`.
#[test]
fn a_new_scope_cancelling_itself_inside_a_cancelled_scope_is_caught_outside() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let (o, i) = (outer.clone(), inner.clone());
        let out = outer
            .run(async move {
                let sh = CancelScope::new();
                sh.set_shield(true);
                sh.run(async { o.cancel() }).await;
                i.run(async {
                    i.cancel();
                    pending::<()>().await
                })
                .await;
                unreachable!()
            })
            .await;
        assert_eq!(out, None::<()>);
        assert!(!inner.cancelled_caught());
        assert!(outer.cancelled_caught());
    })
}

/// A shielded scope cancels itself; the cleanup of its work cancels an outer scope: the
/// shielded scope catches, the code after it runs, and the outer scope catches nothing.
/// AnyIO `test_cancelled_raises_beyond_origin_shielded`.
#[test]
fn a_cancel_from_cleanup_stops_at_a_shielded_scope() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        inner.set_shield(true);
        let (o, i) = (outer.clone(), inner.clone());
        let between = Flag::new();
        let b = between.clone();
        let out = outer
            .run(async move {
                let i2 = i.clone();
                i.run(async move {
                    i2.cancel();
                    let _g = OnDrop(|| o.cancel());
                    pride::checkpoint().await;
                    unreachable!()
                })
                .await;
                b.set();
            })
            .await;
        assert!(between.is_set());
        assert_eq!(out, Some(()));
        assert!(inner.cancelled_caught());
        assert!(!outer.cancelled_caught());
    })
}

/// An outer scope is cancelled, then the inner scope is shielded: its later checkpoints
/// pass, a scope inside it still obeys its own cancel, and the inner scope's own cancel
/// is caught by it; the outer catches at the next checkpoint after it.
/// Trio `test_cancel_shielding` (first half).
#[test]
fn shielding_after_an_outer_cancel_protects_later_checkpoints() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let (o, i) = (outer.clone(), inner.clone());
        let after_inner = Flag::new();
        let ai = after_inner.clone();
        let out = outer
            .run(async move {
                let i2 = i.clone();
                i.run(async move {
                    pride::checkpoint().await;
                    o.cancel();
                    assert!(!i2.shield());
                    i2.set_shield(true);
                    assert!(i2.shield());
                    pride::checkpoint().await; // protected
                    let innerest = CancelScope::new();
                    let ie = innerest.clone();
                    assert_eq!(
                        innerest
                            .run(async move {
                                ie.cancel();
                                pride::checkpoint().await
                            })
                            .await,
                        None
                    );
                    pride::checkpoint().await;
                    i2.cancel();
                    pride::checkpoint().await;
                    unreachable!()
                })
                .await;
                ai.set();
                pride::checkpoint().await;
                unreachable!()
            })
            .await;
        assert_eq!(out, None::<()>);
        assert!(after_inner.is_set());
        assert!(inner.cancelled_caught());
        assert!(outer.cancelled_caught());
    })
}

/// An outer cancel held off by a shield reaches the work at the first checkpoint after
/// the shield is lifted; the outer scope catches. Trio `test_cancel_shielding`
/// (second half).
#[test]
fn unshielding_lets_an_outer_cancel_through_at_the_next_checkpoint() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let (o, i) = (outer.clone(), inner.clone());
        let out = outer
            .run(async move {
                let i2 = i.clone();
                i.run(async move {
                    o.cancel();
                    i2.set_shield(true);
                    pride::checkpoint().await;
                    i2.set_shield(false);
                    pride::checkpoint().await;
                    unreachable!()
                })
                .await;
                unreachable!()
            })
            .await;
        assert_eq!(out, None::<()>);
        assert!(!inner.cancelled_caught());
        assert!(outer.cancelled_caught());
    })
}

/// A group's cancel reaches every child of groups nested in its children.
/// Trio `test_cancel_inheritance`.
#[test]
fn a_groups_cancel_reaches_every_grandchild() {
    autojump(20, || async {
        let rec = Arc::new(Mutex::new(Vec::<String>::new()));
        let r = rec.clone();
        task_group(async move |tg| {
            for w in ["w1", "w2"] {
                let r = r.clone();
                tg.start_soon(async move {
                    task_group(async move |tg2| {
                        for l in ["l1", "l2"] {
                            let r = r.clone();
                            let name = format!("{w}-{l}");
                            tg2.start_soon(async move {
                                let _g = OnDrop(move || r.lock().unwrap().push(name.clone()));
                                pending::<()>().await
                            });
                        }
                    })
                    .await
                });
            }
            tg.cancel_scope().cancel();
        })
        .await
        .unwrap();
        let mut got = rec.lock().unwrap().clone();
        got.sort();
        assert_eq!(got, vec!["w1-l1", "w1-l2", "w2-l1", "w2-l2"]);
    })
}

/// A group shielded against a cancelled outer scope keeps its blocked child; once the
/// shield is lifted the child is woken and dropped. Trio `test_cancel_shield_abort`.
#[test]
fn unshielding_a_group_wakes_and_drops_its_blocked_child() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let rec = Arc::new(Mutex::new(Vec::<&'static str>::new()));
        let r = rec.clone();
        let _ = outer
            .run(task_group(async move |tg| {
                o.cancel();
                tg.cancel_scope().set_shield(true);
                let r2 = r.clone();
                tg.start_soon(async move {
                    r2.lock().unwrap().push("sleeping");
                    let r3 = r2.clone();
                    let _g = OnDrop(move || r3.lock().unwrap().push("cancelled"));
                    pending::<()>().await
                });
                blocked().await;
                assert_eq!(*r.lock().unwrap(), vec!["sleeping"]);
                tg.cancel_scope().set_shield(false);
                let sh = CancelScope::new();
                sh.set_shield(true);
                let r4 = r.clone();
                sh.run(async move {
                    blocked().await;
                    assert_eq!(*r4.lock().unwrap(), vec!["sleeping", "cancelled"]);
                    r4.lock().unwrap().push("checked");
                })
                .await;
            }))
            .await;
        assert_eq!(
            *rec.lock().unwrap(),
            vec!["sleeping", "cancelled", "checked"]
        );
    })
}

/// On a mock clock: a deadline passing after its scope exited cancels nothing; a
/// deadline moved to a time already passed cancels at the next checkpoint.
/// Trio `test_basic_timeout`.
#[test]
fn deadlines_on_a_mock_clock_fire_only_while_inside() {
    let rt = pride::Runtime::builder()
        .clock(pride::time::Clock::mock())
        .build()
        .unwrap();
    watchdog(20, move || {
        rt.block_on(async {
            let start = pride::current_time();
            let s = CancelScope::new();
            let s2 = s.clone();
            s.run(async move {
                assert_eq!(s2.deadline(), None);
                s2.set_deadline(Some(start + secs(1)));
                assert_eq!(s2.deadline(), Some(start + secs(1)));
            })
            .await;
            assert!(!s.cancel_called());
            pride::time::advance(secs(2));
            pride::checkpoint().await;
            pride::checkpoint().await;
            assert!(!s.cancel_called(), "exited scope cancelled by its deadline");

            // changing deadline
            let start = pride::current_time();
            let s = CancelScope::new();
            let s2 = s.clone();
            let stage = Counter::new();
            let st = stage.clone();
            let out = s
                .run(async move {
                    pride::checkpoint().await;
                    s2.set_deadline(Some(start + secs(10)));
                    pride::checkpoint().await;
                    pride::time::advance(secs(5));
                    pride::checkpoint().await;
                    st.inc();
                    s2.set_deadline(Some(start + secs(1)));
                    pride::checkpoint().await;
                    st.inc();
                })
                .await;
            assert_eq!(out, None);
            assert_eq!(stage.get(), 1);
            assert!(s.cancelled_caught());
        })
    })
}

/// A scope created unbound may be cancelled before or after entry, shielded before
/// entry and unshielded inside, and cancelled after exit without being caught.
/// Trio `test_cancel_unbound`.
#[test]
fn a_scope_may_be_cancelled_or_shielded_before_and_after_entry() {
    autojump(20, || async {
        // cancel before entry
        let scope = CancelScope::new();
        scope.cancel();
        task_group(async |tg| {
            let s = scope.clone();
            tg.start_soon(async move {
                s.run(pride::fail_after(secs(1), pending::<()>())).await;
            });
        })
        .await
        .unwrap();
        assert!(scope.cancelled_caught());
        // cancel after entry
        let scope = CancelScope::new();
        task_group(async |tg| {
            let s = scope.clone();
            tg.start_soon(async move {
                s.run(pride::fail_after(secs(1), pending::<()>())).await;
            });
            blocked().await;
            scope.cancel();
        })
        .await
        .unwrap();
        assert!(scope.cancelled_caught());
        // shield before entry
        let scope = CancelScope::new();
        scope.set_shield(true);
        let outer = CancelScope::new();
        let (o, s) = (outer.clone(), scope.clone());
        outer
            .run(async move {
                let s2 = s.clone();
                s.run(async move {
                    o.cancel();
                    pride::checkpoint().await;
                    s2.set_shield(false);
                    pride::checkpoint().await;
                    unreachable!()
                })
                .await;
            })
            .await;
        assert!(outer.cancelled_caught() && !scope.cancelled_caught());
        // cancel after exit: no effect on caught
        let scope = CancelScope::new();
        scope.run(pride::checkpoint()).await.unwrap();
        scope.cancel();
        pride::checkpoint().await;
        assert!(scope.cancel_called() && !scope.cancelled_caught());
    })
}

/// Entering a scope that another task has entered panics with a clear message.
/// Trio `test_cancel_unbound` (the "enter from two tasks" case).
#[test]
fn entering_a_scope_in_use_by_another_task_panics() {
    let msg = panic_message_of(|| {
        autojump(20, || async {
            let s = CancelScope::new();
            let r = task_group(async |tg| {
                let s2 = s.clone();
                tg.start_soon(async move {
                    s2.run(pending::<()>()).await;
                });
                blocked().await;
                tg.cancel_scope().cancel();
                let _out = s.run(async {}).await;
            })
            .await;
            let e = r.unwrap_err();
            assert!(e.errors()[0].is_panic());
            panic!("{}", e.errors()[0].panic_message().unwrap());
        })
    });
    assert!(msg.contains("entered"), "{msg}");
}

/// A deadline set in the past on a scope not yet entered does not make `cancel_called`
/// true (Trio says it does); entering the scope catches at the first checkpoint.
/// Trio `test_cancel_unbound`.
#[test]
fn a_past_deadline_on_an_unentered_scope_is_not_a_cancel_until_entry() {
    autojump(20, || async {
        let s = CancelScope::with_deadline(pride::current_time() + secs(1));
        assert!(!s.cancel_called());
        s.set_deadline(Some(pride::current_time() - Duration::from_nanos(1)));
        assert!(!s.cancel_called());
        assert_eq!(s.run(pride::checkpoint()).await, None);
        assert!(s.cancelled_caught());
    })
}

/// `start` returns at `started`, and the group waits for the child's work after it.
/// Trio `test_nursery_start`.
#[test]
fn start_returns_when_started_and_the_group_waits_for_the_rest() {
    autojump(20, || async {
        for n in [1u64, 2] {
            let t0 = pride::current_time();
            let mut mid = None;
            task_group(async |tg| {
                let v = tg
                    .start(move |st: TaskStatus<u64>| async move {
                        pride::sleep(secs(n)).await;
                        st.started(n);
                        pride::sleep(secs(n)).await;
                    })
                    .await
                    .unwrap();
                assert_eq!(v, n);
                mid = Some(pride::current_time() - t0);
            })
            .await
            .unwrap();
            assert_eq!(mid.unwrap(), secs(n));
            assert_eq!(pride::current_time() - t0, secs(2 * n));
        }
    })
}

/// A start made in an already cancelled scope is caught there, though the child calls
/// `started` at once. Trio `test_nursery_start` ("cancelled caller").
#[test]
fn start_from_a_cancelled_caller_is_caught_by_the_callers_scope() {
    autojump(20, || async {
        task_group(async |tg| {
            let cs = CancelScope::new();
            let c = cs.clone();
            let out = cs
                .run(async move {
                    c.cancel();
                    tg.start(|st: TaskStatus<&'static str>| async move {
                        st.started("hi");
                        pride::checkpoint().await;
                    })
                    .await
                })
                .await;
            assert!(out.is_none(), "{out:?}");
            assert!(cs.cancelled_caught());
        })
        .await
        .unwrap();
    })
}

/// A child that calls `started` and finishes without a checkpoint, started from a
/// cancelled caller, runs to its end. Trio `test_nursery_start` ("cancelled caller,
/// no checkpoint").
#[test]
fn a_child_started_from_a_cancelled_caller_that_never_suspends_finishes() {
    autojump(20, || async {
        let finished = Flag::new();
        let f = finished.clone();
        task_group(async |tg| {
            let cs = CancelScope::new();
            let c = cs.clone();
            let _ = cs
                .run(async move {
                    c.cancel();
                    tg.start(move |st: TaskStatus<()>| async move {
                        st.started(());
                        f.set();
                    })
                    .await
                })
                .await;
        })
        .await
        .unwrap();
        assert!(finished.is_set());
    })
}

/// A timeout around a group whose body waits in `start` fires at its deadline and cuts
/// the start and the group short. Trio `test_nursery_start` ("timeout").
#[test]
fn a_timeout_around_a_group_cuts_a_start_short() {
    autojump(20, || async {
        let t0 = pride::current_time();
        let past = Flag::new();
        let p = past.clone();
        let cs = CancelScope::with_timeout(secs(5));
        let r = cs
            .run(task_group(async |tg| {
                let _ = tg
                    .start(|st: TaskStatus<u64>| async move {
                        pride::sleep(secs(10)).await;
                        st.started(10);
                        pride::sleep(secs(10)).await;
                    })
                    .await;
                p.set();
            }))
            .await;
        assert!(r.is_none(), "{r:?}");
        assert!(!past.is_set(), "the start was not cut short");
        assert_eq!(pride::current_time() - t0, secs(5));
    })
}

/// A group whose body has returned stays open while starts into it from elsewhere are
/// pending, and then waits for their children; a child that fails before `started`
/// holds it open until it fails. Trio `test_nursery_start_keeps_nursery_open`.
#[test]
fn a_pending_start_keeps_its_target_group_open() {
    autojump(20, || async {
        let t0 = pride::current_time();
        let mut t_inner = None;
        task_group(async |n1| {
            task_group(async |n2| {
                for i in 0..2 {
                    let n2 = n2.clone();
                    n1.start_soon(async move {
                        n2.start(|st: TaskStatus<()>| async move {
                            pride::sleep(secs(2)).await;
                            st.started(());
                            pride::sleep(secs(3)).await;
                        })
                        .await
                        .unwrap();
                    });
                    if i == 0 {
                        pride::sleep(secs(1)).await;
                    }
                }
            })
            .await
            .unwrap();
            t_inner = Some(pride::current_time() - t0);
        })
        .await
        .unwrap();
        assert_eq!(t_inner.unwrap(), secs(6));

        let t0 = pride::current_time();
        let mut t_inner = None;
        task_group(async |n1| {
            task_group(async |n2| {
                let n2 = n2.clone();
                n1.start_soon(async move {
                    let e = n2
                        .start(|status: TaskStatus<()>| async move {
                            let _status = status;
                            pride::sleep(secs(7)).await;
                            Err::<(), _>(Boom("key"))
                        })
                        .await;
                    assert!(matches!(e, Err(StartError::Failed(_))));
                });
                blocked().await;
            })
            .await
            .unwrap();
            t_inner = Some(pride::current_time() - t0);
        })
        .await
        .unwrap();
        assert_eq!(t_inner.unwrap(), secs(7));
    })
}

/// A child started into a group that is cancelled before or after `started` completes
/// its start, and is then cancelled with the group.
/// Trio `test_nursery_start_with_cancelled_nursery`.
#[test]
fn a_child_starting_into_a_cancelled_group_finishes_its_start() {
    autojump(20, || async {
        for cancel_before in [true, false] {
            task_group(async |nursery| {
                let target: pride::TaskGroup = nursery
                    .start(|st: TaskStatus<pride::TaskGroup>| async move {
                        // The group's body was dropped before its value: pride
                        // reports a cancel, where Trio's nursery exits quietly.
                        let r = task_group(async move |n| {
                            st.started(n.clone());
                            pending::<()>().await
                        })
                        .await;
                        assert!(r.unwrap_err().is_cancelled());
                    })
                    .await
                    .unwrap();
                let t2 = target.clone();
                target
                    .start(move |st: TaskStatus<()>| async move {
                        task_group(async move |n| {
                            n.start_soon(pending::<()>());
                            n.start_soon(pending::<()>());
                            blocked().await;
                            if cancel_before {
                                t2.cancel_scope().cancel();
                            }
                            st.started(());
                            pending::<()>().await
                        })
                        .await
                    })
                    .await
                    .unwrap();
                if !cancel_before {
                    target.cancel_scope().cancel();
                }
            })
            .await
            .unwrap();
        }
    })
}

/// Moving a scope's deadline back and forth thousands of times leaves it working.
/// Trio `test_cancel_scope_deadline_duplicates`.
#[test]
fn setting_the_deadline_many_times_keeps_one_timer() {
    autojump(20, || async {
        let now = pride::current_time();
        let s = CancelScope::new();
        let s2 = s.clone();
        let out = s
            .run(async move {
                for _ in 0..2000 {
                    s2.set_deadline(Some(now + secs(9998)));
                    s2.set_deadline(Some(now + secs(9999)));
                }
                pride::sleep(ms(10)).await;
                1
            })
            .await;
        assert_eq!(out, Some(1));
        assert_eq!(s.deadline(), Some(now + secs(9999)));
        assert!(!s.cancel_called());
    })
}

/// A deadline set, then moved earlier, from another task re-arms the blocked scope: it
/// fires at the last deadline set. Trio `test_basic_timeout` (a deadline changed while
/// blocked), with the change made from another task.
#[test]
fn a_deadline_set_from_another_task_fires_at_the_new_time() {
    autojump(20, || async {
        let s = CancelScope::new();
        let t0 = pride::current_time();
        task_group(async |tg| {
            let s2 = s.clone();
            tg.start_soon(async move {
                s2.run(pending::<()>()).await;
            });
            pride::sleep(secs(1)).await;
            s.set_deadline(Some(pride::current_time() + secs(2)));
            pride::sleep(ms(500)).await;
            s.set_deadline(Some(pride::current_time() + secs(1)));
        })
        .await
        .unwrap();
        assert!(s.cancelled_caught());
        assert_eq!(pride::current_time() - t0, ms(2500));
    })
}

/// A `fail_at` inside a scope with the same deadline: the outermost scope catches, so
/// the `fail_at` reports no timeout of its own. AnyIO `test_fail_after` semantics
/// (`TimeoutError` only when its own scope caught).
#[test]
fn fail_at_inside_a_scope_with_the_same_deadline_passes_the_cancel_out() {
    autojump(20, || async {
        let d = pride::current_time() + secs(1);
        let outer = CancelScope::with_deadline(d);
        let out = outer
            .run(async move { pride::fail_at(d, pending::<()>()).await })
            .await;
        assert!(out.is_none(), "{out:?}");
        assert!(outer.cancelled_caught());
    })
}

/// A spawned child waits in a start into a nested group; cancelling its handle drops
/// the starting child before it finishes. AnyIO `test_start_native_host_cancelled`.
#[test]
fn cancelling_a_handle_cuts_a_start_inside_that_child_short() {
    autojump(20, || async {
        let started = Flag::new();
        let finished = Flag::new();
        let (s1, f1) = (started.clone(), finished.clone());
        task_group(async move |tg| {
            let h = tg.spawn(async move {
                task_group(async move |tg2| {
                    let _ = tg2
                        .start(move |st: TaskStatus<()>| async move {
                            let _st = st;
                            s1.set();
                            pride::sleep(secs(2)).await;
                            f1.set();
                        })
                        .await;
                })
                .await
            });
            blocked().await;
            h.cancel();
            let r = h.await;
            assert!(r.unwrap_err().is_cancelled());
        })
        .await
        .unwrap();
        assert!(started.is_set());
        assert!(!finished.is_set());
    })
}

/// Shielded work that overruns a `fail_after` and returns without a further
/// checkpoint: the timeout caught nothing, so the value comes back. AnyIO's `fail_after`
/// raises only when its scope caught the cancel (`test_fail_after_cancelled_before_deadline`).
#[test]
fn fail_after_around_shielded_work_that_overruns_returns_its_value() {
    autojump(20, || async {
        let r = pride::fail_after(secs(1), async {
            let sh = CancelScope::new();
            sh.set_shield(true);
            sh.run(pride::sleep(secs(2))).await.unwrap();
            9
        })
        .await;
        assert_eq!(r.ok(), Some(9));
    })
}

/// Two nested `fail_at` with the same deadline: the outer one catches and reports the
/// timeout. Trio `test_fail` with nested deadlines.
#[test]
fn nested_fail_at_with_the_same_deadline_the_outer_reports() {
    autojump(20, || async {
        let d = pride::current_time() + secs(1);
        let r = pride::fail_at(d, pride::fail_at(d, pending::<()>())).await;
        // outer catches: Err at the outer level, not Ok(Err)
        assert!(r.is_err(), "{r:?}");
    })
}

/// A group's deadline that cuts a nested group short is a timeout with no entries: the
/// nested group's cancel is not a failure. Trio `test_cancel_inheritance` with a
/// deadline on the outer nursery.
#[test]
fn a_group_deadline_cancelling_a_nested_group_adds_no_entry() {
    autojump(20, || async {
        let r = task_group(async |tg| {
            tg.cancel_scope()
                .set_deadline(Some(pride::current_time() + secs(1)));
            tg.start_soon(async {
                task_group(async |tg2| {
                    tg2.start_soon(pride::sleep(secs(5)));
                    pride::sleep(secs(5)).await;
                })
                .await
            });
        })
        .await
        .unwrap_err();
        assert!(r.is_timeout());
        assert!(r.errors().is_empty(), "{r}");
    })
}

/// A timeout around a group whose child's cleanup panics: the panic comes out as the
/// group's error, through the timeout. AnyIO `test_exception_group_children`
/// with the cancel from a `move_on_after`.
#[test]
fn a_cleanup_panic_in_a_group_under_a_timeout_comes_out_of_the_timeout() {
    autojump(20, || async {
        let out = pride::move_on_after(
            secs(1),
            task_group(async |tg| {
                tg.start_soon_named("c", async {
                    let _p = PanicOnDrop("cleanup");
                    pending::<()>().await
                });
                pending::<()>().await
            }),
        )
        .await;
        let e = out.expect("errors pass out through the scope").unwrap_err();
        assert!(e.errors().iter().any(|e| e.is_panic()), "{e}");
    })
}

/// The body of a group in a cancelled outer scope is shielded: its children are still
/// dropped while it runs, and the outer scope catches after the shield.
/// Trio `test_cancel_shielding` applied to a nursery body.
#[test]
fn a_shielded_body_does_not_protect_the_children() {
    autojump(20, || async {
        let child_dropped = Counter::new();
        let cd = child_dropped.clone();
        let seen = Arc::new(Mutex::new(None));
        let sn = seen.clone();
        let outer = CancelScope::new();
        let o = outer.clone();
        let out = outer
            .run(task_group(async move |tg| {
                let g = cd.drop_guard();
                tg.start_soon(async move {
                    let _g = g;
                    pending::<()>().await
                });
                blocked().await;
                let sh = CancelScope::new();
                sh.set_shield(true);
                sh.run(async move {
                    o.cancel();
                    pride::sleep(secs(1)).await;
                    *sn.lock().unwrap() = Some(cd.get());
                })
                .await;
                pride::checkpoint().await;
            }))
            .await;
        assert!(out.is_none(), "{out:?}");
        assert_eq!(
            *seen.lock().unwrap(),
            Some(1),
            "child not dropped while body shielded"
        );
        assert!(outer.cancelled_caught());
    })
}

/// A child's cleanup, run when the group is cancelled, starts a sibling: the sibling
/// runs to its first checkpoint, and the group does not hang.
/// Trio `test_nursery_closure` (children may be added while others still run), from a
/// cleanup.
#[test]
fn a_cancelled_childs_cleanup_may_start_a_sibling() {
    autojump(20, || async {
        let ran = Flag::new();
        let after = Flag::new();
        let (r, a) = (ran.clone(), after.clone());
        task_group(async move |tg| {
            let tg2 = tg.clone();
            tg.start_soon(async move {
                let _g = OnDrop(move || {
                    let (r, a) = (r.clone(), a.clone());
                    tg2.start_soon(async move {
                        r.set();
                        pride::checkpoint().await;
                        a.set();
                    });
                });
                pending::<()>().await
            });
            blocked().await;
            tg.cancel_scope().cancel();
        })
        .await
        .unwrap();
        assert!(ran.is_set());
        assert!(!after.is_set());
    })
}

/// A cancel, a passed deadline and an unshield over a cancelled scope, each made from
/// a thread outside the runtime while the work is blocked, wake it and end it.
/// Trio `test_cancel_unbound`, with the calls made from another thread.
#[test]
fn a_cancel_a_deadline_or_an_unshield_from_another_thread_wakes_the_scope() {
    /// Runs `act` on a thread outside the runtime once the future `gauge` wraps has
    /// been polled and is not mid-poll: the work is blocked, or about to block.
    fn once_blocked(gauge: &Gauge, act: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
        let gauge = gauge.clone();
        std::thread::spawn(move || {
            spin_until(|| gauge.polls.get() > 0 && gauge.active() == 0);
            act();
        })
    }

    run(4, 20, || async {
        let s = CancelScope::new();
        let s2 = s.clone();
        let gauge = Gauge::new();
        let t = once_blocked(&gauge, move || s2.cancel());
        assert_eq!(s.run(gauge.wrap(pending::<()>())).await, None);
        assert!(s.cancelled_caught());
        t.join().unwrap();

        let s = CancelScope::new();
        let s2 = s.clone();
        let gauge = Gauge::new();
        let now = pride::current_time();
        let t = once_blocked(&gauge, move || s2.set_deadline(Some(now)));
        assert_eq!(s.run(gauge.wrap(pending::<()>())).await, None);
        assert!(s.cancelled_caught());
        t.join().unwrap();

        let outer = CancelScope::new();
        let inner = CancelScope::new();
        inner.set_shield(true);
        let (o, i, i2) = (outer.clone(), inner.clone(), inner.clone());
        let gauge = Gauge::new();
        let t = once_blocked(&gauge, move || i2.set_shield(false));
        let out = outer
            .run(async move {
                o.cancel();
                i.run(gauge.wrap(pending::<()>())).await;
            })
            .await;
        assert_eq!(out, None);
        assert!(outer.cancelled_caught() && !inner.cancelled_caught());
        t.join().unwrap();
    })
}

/// A group without children whose body waits forever is dropped by an outer cancel;
/// the outer scope catches. AnyIO `test_cancel_propagation` with no child.
#[test]
fn an_outer_cancel_drops_a_group_body_with_no_children() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let out = outer
            .run(task_group(async move |_tg| {
                o.cancel();
                pending::<()>().await
            }))
            .await;
        assert!(out.is_none(), "{out:?}");
        assert!(outer.cancelled_caught());
    })
}

/// A timeout around `start` that passes after `started` does not reach the child,
/// which now belongs to the group and runs to its end. Trio `test_nursery_start`.
#[test]
fn a_callers_timeout_after_started_does_not_reach_the_child() {
    autojump(20, || async {
        let t0 = pride::current_time();
        let r = task_group(async |tg| {
            let v = pride::move_on_after(
                secs(5),
                tg.start(|st: TaskStatus<u8>| async move {
                    pride::sleep(secs(1)).await;
                    st.started(1);
                    pride::sleep(secs(10)).await;
                }),
            )
            .await;
            assert_eq!(v.map(|r| r.unwrap()), Some(1));
        })
        .await;
        assert!(r.is_ok());
        // the child belongs to the group after started: the caller's timeout does not reach it
        assert_eq!(pride::current_time() - t0, secs(11));
    })
}

/// A start future dropped by hand while the child is in a shield: the child's later
/// error fails the group instead of being lost. Trio `test_nursery_start` (errors
/// before `started` go to the caller, or to the nursery once the caller is gone).
#[test]
fn a_start_future_dropped_by_hand_sends_the_childs_later_error_to_the_group() {
    autojump(20, || async {
        let r = task_group(async |tg| {
            let mut fut = Box::pin(tg.start(|st: TaskStatus<()>| async move {
                let _st = st;
                let sh = CancelScope::new();
                sh.set_shield(true);
                sh.run(pride::sleep(secs(1))).await;
                Err::<(), _>(Boom("late"))
            }));
            assert!(futures_lite::future::poll_once(&mut fut).await.is_none());
            blocked().await;
            drop(fut);
        })
        .await
        .unwrap_err();
        assert!(r.find::<Boom>().is_some(), "{r}");
    })
}

/// `started` called in the task function, before its future exists, gives `start` its
/// value. AnyIO `test_start_sync_wrapper`.
#[test]
fn started_may_be_called_before_the_childs_future_exists() {
    autojump(20, || async {
        task_group(async |tg| {
            let v = tg
                .start(|st: TaskStatus<u8>| {
                    st.started(5);
                    async {}
                })
                .await
                .unwrap();
            assert_eq!(v, 5);
        })
        .await
        .unwrap();
    })
}

/// The status handed to a sibling, which calls `started` from there: `start` gets the
/// value. AnyIO `test_start_with_value`, with the status passed on.
#[test]
fn started_may_be_called_from_another_task() {
    autojump(20, || async {
        task_group(async |tg| {
            let tg2 = tg.clone();
            let v = tg
                .start(move |st: TaskStatus<u8>| async move {
                    tg2.start_soon(async move {
                        pride::sleep(ms(10)).await;
                        st.started(6);
                    });
                    pride::sleep(secs(1)).await;
                })
                .await
                .unwrap();
            assert_eq!(v, 6);
        })
        .await
        .unwrap();
    })
}

/// A starting child starts another child into the same group before its own
/// `started`. Trio `test_nursery_start` (nested starts).
#[test]
fn a_starting_child_may_start_another_child_into_the_same_group() {
    autojump(20, || async {
        task_group(async |tg| {
            let tg2 = tg.clone();
            let v = tg
                .start(move |st: TaskStatus<u8>| async move {
                    let w = tg2
                        .start(|st2: TaskStatus<u8>| async move {
                            pride::sleep(ms(10)).await;
                            st2.started(3);
                            pride::sleep(ms(10)).await;
                        })
                        .await
                        .unwrap();
                    st.started(w + 1);
                    pride::sleep(ms(10)).await;
                })
                .await
                .unwrap();
            assert_eq!(v, 4);
        })
        .await
        .unwrap();
    })
}

/// A group's scope shielded while its children sleep, just before the outer scope is
/// cancelled: the children finish and the outer scope catches nothing.
/// AnyIO `test_shielding` on a task group.
#[test]
fn shielding_a_groups_scope_before_an_outer_cancel_protects_blocked_children() {
    autojump(20, || async {
        let done = Counter::new();
        let d = done.clone();
        let outer = CancelScope::new();
        let o = outer.clone();
        let out = outer
            .run(task_group(async move |tg| {
                for _ in 0..3 {
                    let d = d.clone();
                    tg.start_soon(async move {
                        pride::sleep(secs(1)).await;
                        d.inc();
                    });
                }
                blocked().await;
                tg.cancel_scope().set_shield(true);
                o.cancel();
            }))
            .await;
        assert_eq!(done.get(), 3);
        assert!(matches!(out, Some(Ok(()))), "{out:?}");
    })
}

/// A group with a limit of one, cancelled with children queued: every child, running
/// or queued, is dropped. AnyIO `test_cancel_propagation` with a capacity limiter.
#[test]
fn a_cancel_drops_the_children_queued_behind_a_limit() {
    autojump(20, || async {
        let dropped = Counter::new();
        let d = dropped.clone();
        let r = pride::task_group_with_limit(1, async move |tg| {
            for _ in 0..4 {
                let g = d.drop_guard();
                tg.start_soon(async move {
                    let _g = g;
                    pending::<()>().await
                });
            }
            blocked().await;
            tg.cancel_scope().cancel();
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(dropped.get(), 4);
    })
}

/// An outer cancel around a limited group whose start is queued behind the limit: the
/// outside scope catches and nothing hangs. AnyIO `test_start_cancelled` with a limit.
#[test]
fn an_outer_cancel_ends_a_limited_group_with_a_queued_start() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let out = outer
            .run(pride::task_group_with_limit(1, async move |tg| {
                tg.start_soon(pending::<()>());
                let tg2 = tg.clone();
                tg.start_soon(async move {
                    let _ = tg2
                        .start(|st: TaskStatus<()>| async move { st.started(()) })
                        .await;
                });
                blocked().await;
                o.cancel();
            }))
            .await;
        assert!(out.is_none(), "{out:?}");
    })
}

/// A group cancelled by its body reports `cancel_called` and `cancelled_caught`,
/// whether the body returned or was dropped. Trio `test_cancel_edge_cases` (the flags), on
/// a nursery.
#[test]
fn a_cancelled_groups_scope_reports_called_and_caught() {
    autojump(20, || async {
        let mut keep = None;
        task_group(async |tg| {
            keep = Some(tg.clone());
            tg.start_soon(pending::<()>());
            blocked().await;
            tg.cancel_scope().cancel();
        })
        .await
        .unwrap();
        let tg = keep.unwrap();
        assert!(tg.cancel_scope().cancel_called());
        assert!(tg.cancel_scope().cancelled_caught());
        let mut keep = None;
        let _ = task_group(async |tg| {
            keep = Some(tg.clone());
            tg.cancel_scope().cancel();
            pending::<()>().await
        })
        .await;
        assert!(keep.unwrap().cancel_scope().cancelled_caught());
    })
}

/// On a mock clock, advancing past a group's deadline marks it cancelled and reached
/// at once; the next checkpoint ends the group with a timeout.
/// Trio `test_basic_timeout` on a nursery.
#[test]
fn advancing_a_mock_clock_past_a_group_deadline_cancels_at_once() {
    let rt = pride::Runtime::builder()
        .clock(pride::time::Clock::mock())
        .build()
        .unwrap();
    watchdog(20, move || {
        rt.block_on(async {
            let r = task_group(async |tg| {
                tg.cancel_scope()
                    .set_deadline(Some(pride::current_time() + secs(1)));
                pride::time::advance(secs(2));
                assert!(tg.cancel_scope().cancel_called());
                assert!(tg.cancel_scope().deadline_reached());
                pride::checkpoint().await;
            })
            .await;
            assert!(r.unwrap_err().is_timeout());
        })
    })
}

/// Many rounds on four workers: in a group cancelled from outside, the shielded half of
/// the children finish their sleep, the rest are dropped. Trio `test_cancel_shielding`
/// under load.
#[test]
fn shielded_children_finish_when_a_group_is_cancelled_from_outside() {
    run(4, 60, || async {
        for round in 0..50u64 {
            let done = Counter::new();
            let d = done.clone();
            let outer = CancelScope::new();
            let o = outer.clone();
            let out = outer
                .run(task_group(async move |tg| {
                    for i in 0..20u64 {
                        let d = d.clone();
                        tg.start_soon(async move {
                            if i % 2 == 0 {
                                let shield = CancelScope::new();
                                shield.set_shield(true);
                                shield
                                    .run(async {
                                        pride::sleep(ms(2)).await;
                                        d.inc();
                                    })
                                    .await;
                            } else {
                                pride::sleep(secs(100)).await;
                            }
                        });
                    }
                    if round % 2 == 0 {
                        pride::yield_now().await;
                    }
                    o.cancel();
                    pending::<()>().await
                }))
                .await;
            assert!(out.is_none(), "{out:?}");
            assert_eq!(done.get(), 10, "round {round}");
        }
    })
}

/// A shielded scope inside a cancelled one still obeys its own deadline: it catches at
/// that deadline and the outer catches at the next checkpoint.
/// AnyIO `test_shielded_deadline`.
#[test]
fn a_shielded_scopes_own_deadline_fires_inside_a_cancelled_scope() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let inner = CancelScope::with_timeout(secs(1));
        inner.set_shield(true);
        let (o, i) = (outer.clone(), inner.clone());
        let t0 = pride::current_time();
        let between = Flag::new();
        let b = between.clone();
        let out = outer
            .run(async move {
                o.cancel();
                let i2 = i.clone();
                let r = i
                    .run(async move {
                        assert_eq!(pride::current_effective_deadline(), i2.deadline());
                        pride::sleep(secs(5)).await
                    })
                    .await;
                assert_eq!(r, None);
                b.set();
                pride::checkpoint().await;
            })
            .await;
        assert_eq!(out, None);
        assert!(between.is_set());
        assert_eq!(pride::current_time() - t0, secs(1));
        assert!(inner.cancelled_caught());
        assert!(outer.cancelled_caught());
    })
}

/// A timeout scope has no deadline until entered; a deadline set before entry replaces
/// the timeout. Trio `test_timeout_deadline_on_entry`.
#[test]
fn a_deadline_set_before_entry_replaces_the_timeout() {
    autojump(20, || async {
        let s = CancelScope::with_timeout(secs(10));
        assert_eq!(
            s.deadline(),
            None,
            "a timeout's deadline is known from entry"
        );
        let t0 = pride::current_time();
        s.set_deadline(Some(t0 + secs(1)));
        assert_eq!(s.deadline(), Some(t0 + secs(1)));
        let out = s.run(pride::sleep(secs(5))).await;
        assert_eq!(out, None);
        assert_eq!(
            pride::current_time() - t0,
            secs(1),
            "set_deadline before entry lost to the timeout"
        );
    })
}

/// A child passes on a sibling's failure it got through the sibling's handle: the
/// failure is one entry, not two. Trio `test_two_child_crashes` (no duplicates).
#[test]
fn a_failure_passed_on_through_a_handle_is_not_a_second_entry() {
    autojump(20, || async {
        let r = task_group(async |tg| {
            let h = tg.spawn(async {
                blocked().await;
                Err::<(), _>(Boom("b"))
            });
            tg.start_soon(async move {
                h.await?;
                Ok::<(), pride::TaskError>(())
            });
        })
        .await
        .unwrap_err();
        assert_eq!(r.errors().len(), 1, "{r}");
    })
}

/// A group cancelled and given a passed deadline: whichever came first decides
/// whether it reports a cancel or a timeout. Trio `test_basic_timeout` on a nursery
/// cancelled by hand as well.
#[test]
fn a_groups_cancel_and_deadline_the_first_one_decides() {
    let rt = pride::Runtime::builder()
        .clock(pride::time::Clock::mock())
        .build()
        .unwrap();
    watchdog(20, move || {
        rt.block_on(async {
            let r = task_group(async |tg| {
                tg.cancel_scope().cancel();
                tg.cancel_scope().set_deadline(Some(pride::current_time()));
                pending::<()>().await
            })
            .await
            .unwrap_err();
            assert!(r.is_cancelled() && !r.is_timeout(), "{r:?}");
            let r = task_group(async |tg| {
                tg.cancel_scope().set_deadline(Some(pride::current_time()));
                tg.cancel_scope().cancel();
                pending::<()>().await
            })
            .await
            .unwrap_err();
            assert!(r.is_timeout(), "{r:?}");
        })
    })
}

/// A select whose one branch is shielded and whose other branch cancels the outer
/// scope: the shielded branch finishes and its value comes out.
/// Trio `test_cancel_shielding` through a select.
#[test]
fn a_shielded_select_branch_finishes_though_a_sibling_branch_cancels() {
    autojump(20, || async {
        let done = Flag::new();
        let d = done.clone();
        let outer = CancelScope::new();
        let o = outer.clone();
        let t0 = pride::current_time();
        let out = outer
            .run(async move {
                let sh = CancelScope::new();
                sh.set_shield(true);
                let shielded = sh.run(async {
                    pride::sleep(secs(1)).await;
                    d.set();
                    1
                });
                let cancels = async {
                    o.cancel();
                    pending::<()>().await
                };
                pride::select! {
                    x = shielded => x,
                    () = cancels => None,
                }
            })
            .await;
        assert!(done.is_set());
        assert_eq!(out, Some(Some(1)));
        assert_eq!(pride::current_time() - t0, secs(1));
    })
}

/// A child's cleanup, run for its group's cancel, cancels a scope outside the group:
/// that scope catches and the code between it and the group does not run.
/// AnyIO `test_cancelled_raises_beyond_origin_unshielded` through a group.
#[test]
fn a_childs_cleanup_cancelling_an_outer_scope_is_caught_outside_the_group() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let between = Flag::new();
        let b = between.clone();
        let out = outer
            .run(async move {
                let _ = task_group(async move |tg| {
                    let o = o.clone();
                    tg.start_soon(async move {
                        let _g = OnDrop(move || o.cancel());
                        pending::<()>().await
                    });
                    blocked().await;
                    tg.cancel_scope().cancel();
                    pending::<()>().await
                })
                .await;
                b.set();
            })
            .await;
        assert!(
            !between.is_set(),
            "code between the group and the outer scope ran"
        );
        assert_eq!(out, None);
        assert!(outer.cancelled_caught());
    })
}

/// The same with a body that returned a value before the child's cleanup.
/// AnyIO `test_cancelled_raises_beyond_origin_unshielded` through a group.
#[test]
fn a_childs_cleanup_cancelling_an_outer_scope_is_caught_outside_a_group_whose_body_returned() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let between = Flag::new();
        let b = between.clone();
        let out = outer
            .run(async move {
                let _ = task_group(async move |tg| {
                    let o = o.clone();
                    tg.start_soon(async move {
                        let _g = OnDrop(move || o.cancel());
                        pending::<()>().await
                    });
                    blocked().await;
                    tg.cancel_scope().cancel();
                    Ok::<_, pride::BoxError>(5)
                })
                .await;
                b.set();
            })
            .await;
        assert!(
            !between.is_set(),
            "code between the group and the outer scope ran"
        );
        assert_eq!(out, None);
        assert!(outer.cancelled_caught());
    })
}

/// A group's cancel drops children blocked on other workers at once, while the body
/// that cancelled is still busy in the same poll. Trio `test_cancel_inheritance`
/// on several workers.
#[test]
fn a_groups_cancel_reaches_children_while_the_body_is_busy() {
    run(4, 30, || async {
        let n = 8;
        let entered = Counter::new();
        let dropped = Counter::new();
        let (e, d) = (entered.clone(), dropped.clone());
        let r = task_group(async move |tg| {
            for _ in 0..n {
                let (e, g) = (e.clone(), d.drop_guard());
                tg.start_soon(async move {
                    let _g = g;
                    e.inc();
                    pending::<()>().await
                });
            }
            yield_until(|| e.get() == n).await;
            tg.cancel_scope().cancel();
            // Busy, with no suspension point: only the cancel itself can drop the
            // children now (a hang here fails under the watchdog).
            spin_until(|| d.get() == n);
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(dropped.get(), n);
    })
}

/// A timeout inside a scope, then the scope cancelled with no further checkpoint: the
/// scope returns its value and caught nothing.
/// AnyIO `test_escaping_cancelled_error_from_cancelled_task`.
#[test]
fn a_timeout_inside_a_scope_that_is_cancelled_afterwards_is_not_caught() {
    autojump(20, || async {
        let s = CancelScope::new();
        let s2 = s.clone();
        let out = s
            .run(async move {
                pride::move_on_after(ms(100), pride::sleep(secs(1))).await;
                s2.cancel();
            })
            .await;
        assert_eq!(out, Some(()));
        assert!(!s.cancelled_caught());
    })
}

/// An outer cancel drops the pending children of a group with a failed child: the
/// failure passes out and the outer scope caught nothing.
/// Trio `test_cancel_scope_exceptiongroup_filtering`.
#[test]
fn a_child_error_passes_through_an_outer_scope_that_cancelled_its_siblings() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let out = outer
            .run(task_group(async move |tg| {
                tg.start_soon(pending::<()>());
                tg.start_soon(pending::<()>());
                tg.start_soon(async { Err::<(), _>(MyError(1)) });
                o.cancel();
                pending::<()>().await
            }))
            .await;
        let e = out.expect("the error passes out").unwrap_err();
        assert_eq!(e.errors().len(), 1, "{e}");
        assert!(e.find::<MyError>().is_some());
        assert!(outer.cancel_called());
        assert!(!outer.cancelled_caught());
    })
}

/// The body and a child both fail: both are entries, every time.
/// Trio `test_main_and_task_both_crash`.
#[test]
fn a_body_error_and_a_child_error_are_both_reported() {
    run(4, 60, || async {
        for i in 0..300 {
            let e = task_group(async |tg| {
                tg.start_soon(async { Err::<(), _>(MyError(1)) });
                Err::<(), _>(Boom("main"))
            })
            .await
            .unwrap_err();
            assert_eq!(e.errors().len(), 2, "iteration {i}: {e}");
        }
    })
}

/// Two children fail at once: both are entries, every time.
/// Trio `test_two_child_crashes`.
#[test]
fn two_child_errors_are_both_reported() {
    run(4, 60, || async {
        for i in 0..300 {
            let e = task_group(async |tg| {
                tg.start_soon(async { Err::<(), _>(MyError(1)) });
                tg.start_soon(async { Err::<(), _>(MyError(2)) });
            })
            .await
            .unwrap_err();
            assert_eq!(e.errors().len(), 2, "iteration {i}: {e}");
        }
    })
}

/// Eight children that yield then fail: the group reports their failures and never
/// hangs. Trio `test_two_child_crashes` with eight children that yield first.
#[test]
fn many_children_failing_after_a_yield_report_at_least_one_error() {
    // Each child yields once, then fails: only those that never reached a suspension
    // point after the first failure may be dropped; at least one entry, no hang.
    run(4, 60, || async {
        for _ in 0..100 {
            let e = task_group(async |tg| {
                for k in 0..8 {
                    tg.start_soon(async move {
                        pride::yield_now().await;
                        Err::<(), _>(MyError(k))
                    });
                }
            })
            .await
            .unwrap_err();
            assert!(!e.errors().is_empty());
        }
    })
}

/// A scope's future first polled inside another scope, then driven outside it, panics
/// with a clear message. AnyIO `test_cancelscope_wrong_exit_order`.
#[test]
fn a_scope_driven_outside_the_scope_it_was_first_polled_in_panics() {
    let msg = panic_message_of(|| {
        autojump(20, || async {
            let inner = CancelScope::new();
            let mut f = Box::pin(inner.run(pride::sleep(secs(1))));
            let outer = CancelScope::new();
            outer
                .run(async {
                    assert!(futures_lite::future::poll_once(&mut f).await.is_none());
                })
                .await;
            f.await;
        })
    });
    assert!(msg.contains("polled outside the scope"), "{msg}");
}

/// A group deadline equal to an outer timeout's: the outer catches; with the group's
/// deadline earlier, the group reports a timeout. AnyIO `test_nested_move_on_after`
/// with a group and equal deadlines.
#[test]
fn a_group_deadline_equal_to_an_outer_timeout_leaves_the_catch_outside() {
    autojump(20, || async {
        let d = pride::current_time() + secs(1);
        let out = pride::move_on_at(
            d,
            task_group(async move |tg| {
                tg.cancel_scope().set_deadline(Some(d));
                tg.start_soon(pending::<()>());
            }),
        )
        .await;
        assert!(out.is_none(), "{out:?}");
        let out = pride::move_on_at(
            d + secs(10),
            task_group(async move |tg| {
                tg.cancel_scope().set_deadline(Some(d + secs(1)));
                tg.start_soon(pending::<()>());
            }),
        )
        .await;
        assert!(out.unwrap().unwrap_err().is_timeout());
    })
}

/// `fail_at` and `move_on_at` nested with equal deadlines: the outer one catches, in
/// both orders. AnyIO `test_nested_fail_after` with equal deadlines.
#[test]
fn nested_fail_at_and_move_on_at_with_equal_deadlines_the_outer_decides() {
    autojump(20, || async {
        let d = pride::current_time() + secs(1);
        let r = pride::fail_at(d, pride::move_on_at(d, pending::<()>())).await;
        assert!(r.is_err(), "{r:?}");
        let r = pride::move_on_at(d + secs(1), pride::fail_at(d + secs(1), pending::<()>())).await;
        assert!(r.is_none(), "{r:?}");
    })
}

/// The `fail_after` deadline passes while the work is shielded; the next checkpoint
/// after the shield is caught and reported as a timeout. Close to Trio
/// `test_fail_after_fails_even_if_shielded`.
#[test]
fn fail_after_catches_at_the_first_checkpoint_after_a_shield() {
    autojump(20, || async {
        let r = pride::fail_after(secs(1), async {
            let sh = CancelScope::new();
            sh.set_shield(true);
            sh.run(pride::sleep(secs(2))).await;
            pride::checkpoint().await;
            1
        })
        .await;
        assert!(r.is_err(), "{r:?}");
    })
}

/// A start made from a shield inside a cancelled scope: the child sees no deadline,
/// starts, and keeps running in the group after `started`.
/// Trio `test_nursery_start` under a shield.
#[test]
fn a_start_from_a_shielded_caller_in_a_cancelled_scope_completes() {
    autojump(20, || async {
        let after = Flag::new();
        let a = after.clone();
        let seen_deadline = Arc::new(Mutex::new(Vec::new()));
        let sd = seen_deadline.clone();
        let r = task_group(async move |tg| {
            let outer = CancelScope::with_timeout(secs(100));
            let o = outer.clone();
            let out = outer
                .run(async move {
                    o.cancel();
                    let sh = CancelScope::new();
                    sh.set_shield(true);
                    let v = sh
                        .run(tg.start(move |st: TaskStatus<u8>| async move {
                            sd.lock().unwrap().push(pride::current_effective_deadline());
                            pride::sleep(secs(1)).await;
                            st.started(1);
                            pride::sleep(secs(1)).await;
                            a.set();
                        }))
                        .await;
                    assert!(matches!(v, Some(Ok(1))), "{v:?}");
                    pride::checkpoint().await;
                })
                .await;
            assert!(out.is_none());
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert!(
            after.is_set(),
            "started child was cancelled after joining its group"
        );
        assert_eq!(*seen_deadline.lock().unwrap(), vec![None]);
    })
}

/// A start from a shield inside a cancelled scope: lifting the shield while the child
/// sleeps reaches the child, which never starts. Trio `test_cancel_shielding` with
/// `start`.
#[test]
fn unshielding_a_starting_callers_scope_cuts_the_start_short() {
    autojump(20, || async {
        let reached = Flag::new();
        let r2 = reached.clone();
        let r = task_group(async move |tg| {
            let outer = CancelScope::new();
            let o = outer.clone();
            let sh = CancelScope::new();
            sh.set_shield(true);
            let sh2 = sh.clone();
            tg.start_soon(async move {
                pride::sleep(secs(1)).await;
                sh2.set_shield(false);
            });
            let out = outer
                .run(async move {
                    o.cancel();
                    sh.run(tg.start(move |st: TaskStatus<u8>| async move {
                        pride::sleep(secs(5)).await;
                        r2.set();
                        st.started(1);
                    }))
                    .await;
                    unreachable!("after start");
                })
                .await;
            assert_eq!(out, None::<()>);
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert!(!reached.is_set());
    })
}

/// A group cancelling itself inside an outer scope cancelled from a shield: the outer
/// scope catches, not the group's. AnyIO `test_cancelled_scope_based_checkpoint`
/// with a task group.
#[test]
fn a_group_that_cancels_itself_inside_a_cancelled_scope_is_caught_outside() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let between = Flag::new();
        let b = between.clone();
        let mut keep = None;
        let kp = &mut keep;
        let out = outer
            .run(async move {
                let sh = CancelScope::new();
                sh.set_shield(true);
                sh.run(async { o.cancel() }).await;
                let _ = task_group(async |tg| {
                    *kp = Some(tg.clone());
                    tg.cancel_scope().cancel();
                    pending::<()>().await
                })
                .await;
                b.set();
            })
            .await;
        assert_eq!(out, None);
        assert!(!between.is_set());
        assert!(outer.cancelled_caught());
        assert!(!keep.unwrap().cancel_scope().cancelled_caught());
    })
}

/// An outer cancel drops a group's body whose cleanup panics: the panic comes out of
/// the outer scope as the group's error. AnyIO `test_exception_group_host` with an
/// outer cancel.
#[test]
fn a_body_cleanup_panic_under_an_outer_cancel_comes_out_of_the_scope() {
    autojump(20, || async {
        let outer = CancelScope::new();
        let o = outer.clone();
        let out = outer
            .run(task_group(async move |_tg| {
                let _p = PanicOnDrop("body cleanup");
                o.cancel();
                pending::<()>().await
            }))
            .await;
        let e = out.expect("error passes out").unwrap_err();
        assert!(e.errors()[0].is_panic(), "{e}");
    })
}

/// A starting child dropped by its caller's cancel panics in its cleanup: the panic is
/// the group's one entry. Trio `test_nursery_start` (errors after the caller left).
#[test]
fn a_starting_childs_cleanup_panic_after_its_callers_cancel_fails_the_group() {
    autojump(20, || async {
        let r = task_group(async |tg| {
            let cs = CancelScope::new();
            let c = cs.clone();
            let out = cs
                .run(async move {
                    let mut f = Box::pin(tg.start(|st: TaskStatus<()>| async move {
                        let _st = st;
                        let _p = PanicOnDrop("start child cleanup");
                        pending::<()>().await
                    }));
                    assert!(futures_lite::future::poll_once(&mut f).await.is_none());
                    blocked().await;
                    c.cancel();
                    f.await
                })
                .await;
            assert!(out.is_none(), "{out:?}");
        })
        .await;
        let e = r.unwrap_err();
        assert_eq!(e.errors().len(), 1, "{e}");
        assert!(e.errors()[0].is_panic());
    })
}

/// Under the autojump clock, timeouts from microseconds to weeks end exactly at their
/// deadline. Trio `test_sleep`.
#[test]
fn timeouts_of_every_magnitude_fire_at_their_exact_deadline() {
    autojump(20, || async {
        let mut bad = Vec::new();
        let mut d = Duration::from_micros(700);
        while d < Duration::from_secs(86400 * 40) {
            for k in [d, d + Duration::from_micros(1), d + ms(1), d * 3 / 2] {
                let t0 = pride::current_time();
                let out = pride::move_on_after(k, pending::<()>()).await;
                assert!(out.is_none());
                let el = pride::current_time() - t0;
                if el != k {
                    bad.push((k, el));
                }
            }
            d *= 4;
        }
        assert!(bad.is_empty(), "{bad:?}");
    })
}

/// A deadline set several times before the work waits fires exactly at the last one.
/// Trio `test_basic_timeout` (changing the deadline), randomised.
#[test]
fn a_deadline_moved_many_times_before_entry_fires_at_the_last_one() {
    autojump(20, || async {
        let mut bad = Vec::new();
        let mut rng = Rng::new(7);
        for _ in 0..200 {
            let t0 = pride::current_time();
            let s = CancelScope::new();
            let s2 = s.clone();
            let mut last = Duration::ZERO;
            let moves: Vec<u64> = (0..(1 + rng.below(5)))
                .map(|_| 1 + rng.below(100_000))
                .collect();
            for m in &moves {
                last = ms(*m);
                s2.set_deadline(Some(t0 + last));
            }
            let out = s.run(pending::<()>()).await;
            assert!(out.is_none());
            let el = pride::current_time() - t0;
            if el != last {
                bad.push((moves.clone(), el));
            }
        }
        assert!(bad.is_empty(), "{:?}", &bad[..bad.len().min(5)]);
    })
}

/// A deadline moved earlier from another task while the work waits fires exactly at
/// the new time. Trio `test_basic_timeout`, with the change made from another task,
/// randomised.
#[test]
fn a_deadline_moved_while_waiting_fires_at_the_new_time() {
    autojump(20, || async {
        let mut bad = Vec::new();
        let mut rng = Rng::new(11);
        for _ in 0..100 {
            let t0 = pride::current_time();
            let s = CancelScope::with_deadline(t0 + secs(1000));
            let first = 1 + rng.below(50_000);
            let second = 1 + rng.below(50_000);
            let s2 = s.clone();
            task_group(async |tg| {
                tg.start_soon(async move {
                    pride::sleep(ms(first)).await;
                    s2.set_deadline(Some(pride::current_time() + ms(second)));
                });
                s.run(pending::<()>()).await;
            })
            .await
            .unwrap();
            let el = pride::current_time() - t0;
            if el != ms(first + second) {
                bad.push((first, second, el));
            }
        }
        assert!(bad.is_empty(), "{:?}", &bad[..bad.len().min(5)]);
    })
}

/// Three nested timeouts: the work ends at the earliest, and only that scope (the
/// outermost on a tie) catches. AnyIO `test_nested_move_on_after`, randomised.
#[test]
fn nested_timeouts_the_earliest_fires_and_only_its_scope_catches() {
    autojump(20, || async {
        let mut rng = Rng::new(3);
        let mut bad = Vec::new();
        for _ in 0..200 {
            let a = 1 + rng.below(10_000);
            let b = 1 + rng.below(10_000);
            let c = 1 + rng.below(10_000);
            let t0 = pride::current_time();
            let sa = CancelScope::with_timeout(ms(a));
            let sb = CancelScope::with_timeout(ms(b));
            let sc = CancelScope::with_timeout(ms(c));
            let (sb2, sc2) = (sb.clone(), sc.clone());
            let out = sa
                .run(async move { sb2.run(async move { sc2.run(pending::<()>()).await }).await })
                .await;
            let el = pride::current_time() - t0;
            let m = a.min(b).min(c);
            let catcher = if a == m {
                0
            } else if b == m {
                1
            } else {
                2
            };
            let caught = [
                sa.cancelled_caught(),
                sb.cancelled_caught(),
                sc.cancelled_caught(),
            ];
            let mut want = [false; 3];
            want[catcher] = true;
            if el != ms(m) || caught != want {
                bad.push((a, b, c, el, caught, out));
            }
        }
        assert!(bad.is_empty(), "{:?}", &bad[..bad.len().min(5)]);
    })
}

/// A start queued behind a limit of one in a group cancelled meanwhile: the child
/// starts and gives its value, then is dropped with the group.
/// Trio `test_nursery_start_with_cancelled_nursery` with a limit.
#[test]
fn a_start_queued_behind_a_limit_survives_its_target_groups_cancel_until_started() {
    autojump(20, || async {
        let after = Flag::new();
        let a = after.clone();
        let res = task_group(async |outer| {
            let target: pride::TaskGroup = outer
                .start(|st: TaskStatus<pride::TaskGroup>| async move {
                    let _ = pride::task_group_with_limit(1, async move |n| {
                        n.start_soon(pending::<()>());
                        st.started(n.clone());
                    })
                    .await;
                })
                .await
                .unwrap();
            let t2 = target.clone();
            outer.start_soon(async move {
                blocked().await;
                t2.cancel_scope().cancel();
            });
            let v = target
                .start(move |st: TaskStatus<u8>| async move {
                    pride::sleep(secs(1)).await;
                    st.started(9);
                    pride::sleep(secs(1)).await;
                    a.set();
                })
                .await;
            assert!(matches!(v, Ok(9)), "{v:?}");
        })
        .await;
        assert!(res.is_ok(), "{res:?}");
        assert!(!after.is_set());
    })
}

/// Rounds of a limited group full of queued starts and spawns, cancelled from outside:
/// it always ends, caught outside. AnyIO `test_start_cancelled` with a limit, under load.
#[test]
fn an_outer_cancel_ends_a_limited_group_with_many_queued_starts() {
    run(4, 30, || async {
        for _ in 0..50 {
            let outer = CancelScope::new();
            let o = outer.clone();
            let out = outer
                .run(pride::task_group_with_limit(2, async move |tg| {
                    for i in 0..10u32 {
                        let tg2 = tg.clone();
                        tg.start_soon(async move {
                            if i % 2 == 0 {
                                let _ = tg2
                                    .start(|st: TaskStatus<()>| async move {
                                        pride::yield_now().await;
                                        st.started(());
                                        pending::<()>().await
                                    })
                                    .await;
                            } else {
                                pride::yield_now().await;
                            }
                        });
                    }
                    pride::yield_now().await;
                    o.cancel();
                }))
                .await;
            assert!(out.is_none(), "{out:?}");
            assert!(outer.cancelled_caught());
        }
    })
}

/// A scope without a deadline runs outside a runtime: its value comes back, and a
/// cancelled one catches at a checkpoint. Trio `test_cancel_unbound` (no deadline
/// needs no clock).
#[test]
fn a_scope_without_a_deadline_works_outside_a_runtime() {
    watchdog(10, || {
        let s = CancelScope::new();
        assert_eq!(futures_lite::future::block_on(s.run(async { 1 })), Some(1));
        let s = CancelScope::new();
        s.cancel();
        let out = futures_lite::future::block_on(s.run(async {
            pride::checkpoint().await;
            1
        }));
        assert_eq!(out, None);
        assert!(s.cancelled_caught());
    })
}

/// A timeout or a group polled outside a runtime panics saying a runtime is needed.
/// Trio `test_out_of_context` (clear errors outside a run).
#[test]
fn a_timeout_or_a_group_outside_a_runtime_panics_clearly() {
    let msg = panic_message_of(|| {
        futures_lite::future::block_on(pride::move_on_after(secs(1), async {}));
    });
    assert!(msg.contains("runtime"), "{msg}");
    let msg = panic_message_of(|| {
        let _ = futures_lite::future::block_on(task_group(async |_tg| {}));
    });
    assert!(msg.contains("runtime"), "{msg}");
}

/// A starting child that hands its status to a sibling and returns: `start` ends with
/// `NotStarted` at once; the sibling's later `started` is harmless.
/// Trio `test_nursery_start` (task returned without calling started).
#[test]
fn start_does_not_wait_for_a_status_handed_elsewhere() {
    autojump(20, || async {
        let t0 = pride::current_time();
        let late = Flag::new();
        let l = late.clone();
        task_group(async |tg| {
            let tg2 = tg.clone();
            let r = tg
                .start(move |st: TaskStatus<u8>| async move {
                    tg2.start_soon(async move {
                        pride::sleep(secs(1)).await;
                        st.started(1);
                        l.set();
                    });
                })
                .await;
            assert!(matches!(r, Err(StartError::NotStarted)), "{r:?}");
            assert_eq!(
                pride::current_time() - t0,
                Duration::ZERO,
                "start waited for a status held elsewhere"
            );
        })
        .await
        .unwrap();
        assert!(late.is_set());
    })
}

/// A child that calls `started` and fails in the same poll: `start` gives the value
/// and the error fails the group. AnyIO `test_start_crash_after_started_call`.
#[test]
fn an_error_right_after_started_fails_the_group() {
    autojump(20, || async {
        let r = task_group(async |tg| {
            let v = tg
                .start(|st: TaskStatus<u8>| async move {
                    st.started(3);
                    Err::<(), _>(MyError(3))
                })
                .await;
            assert!(matches!(v, Ok(3)), "{v:?}");
        })
        .await
        .unwrap_err();
        assert_eq!(r.errors().len(), 1);
        assert!(r.find::<MyError>().is_some());
    })
}

/// A group's deadline moved later by a child lets the group finish; set to now, it cuts
/// the group short with a timeout at once. AnyIO `test_deadline_moved` on a group.
#[test]
fn a_group_deadline_moved_while_waiting_for_children() {
    autojump(20, || async {
        let t0 = pride::current_time();
        let r = task_group(async |tg| {
            tg.cancel_scope().set_deadline(Some(t0 + secs(1)));
            let tg2 = tg.clone();
            tg.start_soon(async move {
                pride::sleep(ms(500)).await;
                tg2.cancel_scope().set_deadline(Some(t0 + secs(10)));
                pride::sleep(secs(2)).await;
            });
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(pride::current_time() - t0, ms(2500));
        let t0 = pride::current_time();
        let r = task_group(async |tg| {
            let tg2 = tg.clone();
            tg.start_soon(async move {
                pride::sleep(ms(500)).await;
                tg2.cancel_scope().set_deadline(Some(pride::current_time()));
                pride::sleep(secs(2)).await;
            });
        })
        .await;
        assert!(r.unwrap_err().is_timeout());
        assert_eq!(pride::current_time() - t0, ms(500));
    })
}

/// A task outside starts children into a group as it exits: each child is accepted and
/// run to its end before the group returns, or refused; none runs after.
/// Trio `test_nursery_closure` (start_soon on a closed nursery).
#[test]
fn children_started_from_outside_as_a_group_exits_are_run_or_refused() {
    run(4, 60, || async {
        for round in 0..300 {
            let accepted = Counter::new();
            let finished = Counter::new();
            let dropped = Counter::new();
            let after_exit = Counter::new();
            let exited = Flag::new();
            let (slot_tx, slot_rx) = std::sync::mpsc::channel::<pride::TaskGroup>();
            let (acc, fin, drp, ae, ex) = (
                accepted.clone(),
                finished.clone(),
                dropped.clone(),
                after_exit.clone(),
                exited.clone(),
            );
            task_group(async move |outer| {
                let (acc2, fin2, drp2, ae2, ex2) = (
                    acc.clone(),
                    fin.clone(),
                    drp.clone(),
                    ae.clone(),
                    ex.clone(),
                );
                outer.start_soon(async move {
                    let tg: pride::TaskGroup = loop {
                        if let Ok(tg) = slot_rx.try_recv() {
                            break tg;
                        }
                        pride::yield_now().await;
                    };
                    // Bounded, and yielding between tries: a stream of new children
                    // with no end would keep the group open for ever.
                    for _ in 0..64 {
                        let (fin, drp, ae, ex) =
                            (fin2.clone(), drp2.clone(), ae2.clone(), ex2.clone());
                        let g = drp.drop_guard();
                        let ok = tg
                            .try_start_soon(async move {
                                let _g = g;
                                if ex.is_set() {
                                    ae.inc();
                                }
                                pride::yield_now().await;
                                if ex.is_set() {
                                    ae.inc();
                                }
                                fin.inc();
                            })
                            .is_ok();
                        if !ok {
                            break;
                        }
                        acc2.inc();
                        pride::yield_now().await;
                    }
                });
                task_group(async move |tg| {
                    slot_tx.send(tg.clone()).unwrap();
                    for _ in 0..(round % 5) {
                        pride::yield_now().await;
                    }
                })
                .await
                .unwrap();
                ex.set();
            })
            .await
            .unwrap();
            let a = accepted.get();
            assert_eq!(
                after_exit.get(),
                0,
                "round {round}: child code ran after the group returned"
            );
            assert_eq!(
                finished.get(),
                a,
                "round {round}: accepted {a}, finished {}",
                finished.get()
            );
            assert!(dropped.get() >= a);
        }
    })
}

/// A group future dropped by hand: the handle of its child ends as cancelled instead of
/// hanging. AnyIO `test_cancel_exiting_task_group` with a handle.
#[test]
fn the_handle_of_a_child_of_a_dropped_group_ends_cancelled() {
    autojump(20, || async {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut g = Box::pin(task_group(async move |tg| {
            tx.send(tg.spawn(pending::<()>())).unwrap();
            pending::<()>().await
        }));
        assert!(futures_lite::future::poll_once(&mut g).await.is_none());
        let h = rx.recv().unwrap();
        drop(g);
        let r = pride::move_on_after(secs(5), h).await;
        let r = r.expect("handle of a dropped group's child hangs");
        assert!(r.unwrap_err().is_cancelled());
    })
}

/// A handle awaited after its group returned gives the child's value.
/// AnyIO `test_start_soon_while_running` with a handle.
#[test]
fn a_handle_may_be_awaited_after_its_group_exited() {
    autojump(20, || async {
        let mut keep = None;
        task_group(async |tg| {
            keep = Some(tg.spawn(async {
                pride::sleep(secs(1)).await;
                Ok::<_, pride::BoxError>(8)
            }));
        })
        .await
        .unwrap();
        assert_eq!(keep.unwrap().await.unwrap(), 8);
    })
}

/// A reason given after the group failed is not reported; of two reasons, the first
/// is kept. AnyIO `test_cancel_with_reason`-style messages.
#[test]
fn a_late_cancel_reason_is_ignored_and_the_first_one_kept() {
    autojump(20, || async {
        let r = task_group(async |tg| {
            tg.start_soon(async { Err::<(), _>(MyError(1)) });
            blocked().await;
            tg.cancel_scope().cancel_with_reason("late");
        })
        .await
        .unwrap_err();
        assert_eq!(r.cancel_reason(), None, "{r:?}");
        let r = task_group(async |tg| {
            tg.cancel_scope().cancel_with_reason("first");
            tg.cancel_scope().cancel_with_reason("second");
            pending::<()>().await
        })
        .await
        .unwrap_err();
        assert_eq!(r.cancel_reason(), Some("first"));
    })
}

/// An outer timeout that drops a group: the group's own scope reports neither called
/// nor caught. Trio `test_cancel_scope_nesting` (which scope catches), on a nursery.
#[test]
fn an_outer_timeout_leaves_the_groups_own_scope_uncancelled() {
    autojump(20, || async {
        let s = CancelScope::with_timeout(secs(1));
        let mut keep = None;
        let kp = &mut keep;
        let out = s
            .run(task_group(async |tg| {
                *kp = Some(tg.clone());
                tg.start_soon(pending::<()>());
                pending::<()>().await
            }))
            .await;
        assert!(out.is_none());
        assert!(s.cancelled_caught());
        let tg = keep.unwrap();
        assert!(
            !tg.cancel_scope().cancel_called(),
            "the group's own scope reports cancel_called"
        );
        assert!(!tg.cancel_scope().cancelled_caught());
    })
}

/// The same with a body that returned before the timeout.
/// Trio `test_cancel_scope_nesting`, on a nursery.
#[test]
fn an_outer_timeout_leaves_the_groups_own_scope_uncancelled_after_the_body_returned() {
    autojump(20, || async {
        let s = CancelScope::with_timeout(secs(1));
        let mut keep = None;
        let kp = &mut keep;
        let out = s
            .run(task_group(async |tg| {
                *kp = Some(tg.clone());
                tg.start_soon(pending::<()>());
            }))
            .await;
        assert!(out.is_none(), "{out:?}");
        assert!(s.cancelled_caught());
        let tg = keep.unwrap();
        assert!(!tg.cancel_scope().cancel_called());
        assert!(!tg.cancel_scope().cancelled_caught());
    })
}

/// An outer timeout drops work inside an inner scope: the inner scope reports neither
/// called nor caught, and has no deadline. Trio `test_cancel_scope_nesting`.
#[test]
fn an_outer_timeout_leaves_an_inner_scope_uncancelled() {
    autojump(20, || async {
        let outer = CancelScope::with_timeout(secs(1));
        let inner = CancelScope::new();
        let i = inner.clone();
        outer.run(async move { i.run(pending::<()>()).await }).await;
        assert!(outer.cancelled_caught());
        assert!(!inner.cancel_called() && !inner.cancelled_caught());
        assert_eq!(inner.deadline(), None);
    })
}

/// A scope whose `run` future was dropped before its first poll was never entered and
/// may be entered; one dropped after its first poll may not.
/// Trio `test_cancel_unbound` (a scope is entered only once).
#[test]
fn a_scope_whose_run_was_dropped_unpolled_may_be_entered() {
    autojump(20, || async {
        // never polled: not entered
        let s = CancelScope::new();
        drop(s.run(async {}));
        assert_eq!(s.run(async { 1 }).await, Some(1));
    });
    let msg = panic_message_of(|| {
        autojump(20, || async {
            let s = CancelScope::new();
            let mut f = Box::pin(s.run(pending::<()>()));
            assert!(futures_lite::future::poll_once(&mut f).await.is_none());
            drop(f);
            s.run(async {}).await;
        })
    });
    assert!(msg.contains("entered only once"), "{msg}");
}

/// A cancel of an outer scope drops work whose cleanup shields a scope between: the
/// innermost scope's work ends as cancelled (`None`), the code after it runs, and no
/// scope catches. Trio `test_unshield_while_cancel_propagating`, shield instead.
#[test]
fn a_shield_set_in_cleanup_between_the_scopes_ends_the_work_as_cancelled() {
    autojump(20, || async {
        let a = CancelScope::new();
        let b = CancelScope::new();
        let c = CancelScope::new();
        let after_c = Flag::new();
        let after_b = Flag::new();
        let (a2, b2, c2, ac, ab) = (
            a.clone(),
            b.clone(),
            c.clone(),
            after_c.clone(),
            after_b.clone(),
        );
        let out = a
            .run(async move {
                let b3 = b2.clone();
                b2.run(async move {
                    let r = c2
                        .run(async move {
                            a2.cancel();
                            let _g = OnDrop(move || b3.set_shield(true));
                            pending::<()>().await
                        })
                        .await;
                    assert_eq!(r, None);
                    ac.set();
                })
                .await;
                ab.set();
            })
            .await;
        assert!(
            after_c.is_set(),
            "the code after the innermost scope did not run"
        );
        assert!(after_b.is_set());
        assert_eq!(out, Some(()));
        assert!(!a.cancelled_caught() && !b.cancelled_caught() && !c.cancelled_caught());
    })
}
