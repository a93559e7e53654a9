//! Scope deadlines.
//!
//! Every test runs on the autojump clock (or the mock clock), so a deadline an hour
//! away passes at once in real time while `current_time()` reads exact instants: the
//! assertions compare mock times, never wall-clock times.

use std::future::{Future, pending};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Counter, Flag, autojump, block_on, builder};
use pride::time::Clock;
use pride::{
    CancelScope, Event, checkpoint, current_effective_deadline, current_time, sleep, task_group,
};

const SEC: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const MS: Duration = Duration::from_millis(1);

/// Records the mock time at which it is dropped.
struct DropAt(Arc<Mutex<Option<Instant>>>);

impl Drop for DropAt {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(current_time());
    }
}

#[test]
fn a_deadline_passing_cancels_the_scope_by_itself_at_the_exact_time() {
    autojump(30, || async {
        let start = current_time();
        let drops = Counter::new();
        let scope = CancelScope::with_timeout(5 * SEC);
        let guard = drops.drop_guard();
        let out = scope
            .run(async move {
                let _guard = guard;
                sleep(HOUR).await;
                panic!("the deadline did not drop the work");
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(current_time() - start, 5 * SEC);
        assert_eq!(drops.get(), 1);
        assert!(scope.cancel_called());
        assert!(scope.cancelled_caught());
        assert!(scope.deadline_reached());
        assert_eq!(scope.deadline(), Some(start + 5 * SEC));
    });
}

#[test]
fn with_deadline_fires_at_its_instant() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::with_deadline(start + 3 * SEC);
        assert_eq!(scope.deadline(), Some(start + 3 * SEC));
        let out = scope.run(sleep(HOUR)).await;
        assert_eq!(out, None);
        assert_eq!(current_time() - start, 3 * SEC);
        assert!(scope.cancelled_caught() && scope.deadline_reached());
    });
}

#[test]
fn work_that_finishes_in_time_is_not_cancelled() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::with_timeout(5 * SEC);
        let out = scope
            .run(async {
                sleep(2 * SEC).await;
                7
            })
            .await;
        assert_eq!(out, Some(7));
        assert_eq!(current_time() - start, 2 * SEC);
        // The scope has exited: its deadline passing later cancels nothing.
        sleep(HOUR).await;
        assert!(!scope.cancelled_caught());
        assert!(!scope.deadline_reached());
    });
}

#[test]
fn with_timeout_counts_from_entry_not_from_creation() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::with_timeout(5 * SEC);
        assert_eq!(
            scope.deadline(),
            None,
            "a timeout has no deadline before entry"
        );
        sleep(10 * SEC).await;
        let out = scope.run(sleep(HOUR)).await;
        assert_eq!(out, None);
        assert_eq!(current_time() - start, 15 * SEC);
        assert_eq!(scope.deadline(), Some(start + 15 * SEC));
        assert!(scope.cancelled_caught() && scope.deadline_reached());
    });
}

#[test]
fn a_scope_entered_with_a_past_deadline_is_cancelled_at_once() {
    autojump(30, || async {
        let start = current_time();
        sleep(SEC).await;
        let reached = Flag::new();
        let drops = Counter::new();
        let scope = CancelScope::with_deadline(start);
        let (flag, guard) = (reached.clone(), drops.drop_guard());
        let out = scope
            .run(async move {
                let _guard = guard;
                // Runs up to its first suspension point, then is dropped there.
                flag.set();
                sleep(HOUR).await;
                panic!("ran past a cancelled suspension point");
            })
            .await;
        assert_eq!(out, None);
        assert!(reached.is_set());
        assert_eq!(drops.get(), 1);
        assert_eq!(current_time() - start, SEC, "no time passed");
        assert!(scope.cancelled_caught() && scope.deadline_reached());
    });
}

#[test]
fn a_past_deadline_lets_work_that_never_suspends_finish() {
    autojump(30, || async {
        let start = current_time();
        sleep(SEC).await;
        let scope = CancelScope::with_deadline(start);
        assert_eq!(scope.run(async { 7 }).await, Some(7));
        assert!(scope.cancel_called());
        assert!(!scope.cancelled_caught(), "no work was dropped");
    });
}

#[test]
fn a_zero_timeout_cancels_at_the_first_suspension_point() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::with_timeout(Duration::ZERO);
        let out = scope.run(sleep(SEC)).await;
        assert_eq!(out, None);
        assert_eq!(current_time(), start);
        assert!(scope.cancelled_caught() && scope.deadline_reached());
    });
}

#[test]
fn set_deadline_earlier_fires_earlier() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::with_timeout(HOUR);
        let inner = scope.clone();
        let out = scope
            .run(async move {
                sleep(SEC).await;
                inner.set_deadline(Some(current_time() + 2 * SEC));
                sleep(HOUR).await;
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(current_time() - start, 3 * SEC);
        assert_eq!(scope.deadline(), Some(start + 3 * SEC));
        assert!(scope.cancelled_caught() && scope.deadline_reached());
    });
}

#[test]
fn set_deadline_later_fires_later() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::with_timeout(2 * SEC);
        let inner = scope.clone();
        let out = scope
            .run(async move {
                sleep(SEC).await;
                inner.set_deadline(Some(start + 10 * SEC));
                sleep(HOUR).await;
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(current_time() - start, 10 * SEC);
        assert!(scope.cancelled_caught() && scope.deadline_reached());
    });
}

#[test]
fn set_deadline_to_the_past_cancels_at_once_but_is_not_a_suspension_point() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::with_timeout(HOUR);
        let inner = scope.clone();
        let after_set = Flag::new();
        let flag = after_set.clone();
        let out = scope
            .run(async move {
                sleep(SEC).await;
                inner.set_deadline(Some(start));
                assert!(inner.cancel_called(), "a past deadline cancels at once");
                flag.set();
                checkpoint().await;
                panic!("ran past a checkpoint in a cancelled scope");
            })
            .await;
        assert_eq!(out, None);
        assert!(after_set.is_set());
        assert_eq!(current_time() - start, SEC);
        assert!(scope.cancelled_caught() && scope.deadline_reached());
    });
}

#[test]
fn set_deadline_none_never_fires() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::with_timeout(2 * SEC);
        let inner = scope.clone();
        let out = scope
            .run(async move {
                sleep(SEC).await;
                inner.set_deadline(None);
                sleep(HOUR).await;
                "done"
            })
            .await;
        assert_eq!(out, Some("done"));
        assert_eq!(current_time() - start, SEC + HOUR);
        assert_eq!(scope.deadline(), None);
        assert!(!scope.cancel_called() && !scope.deadline_reached());
    });
}

/// `set_deadline` re-arms at once: once the deadline has moved later, or been
/// removed, the timer armed for the old one cancels nothing, even when the clock passes
/// the old deadline before the scope's wrapper is polled again to re-arm.
#[test]
fn a_moved_or_removed_deadline_does_not_fire_at_its_old_time() {
    for later in [true, false] {
        let out = block_on(30, builder(2).clock(Clock::mock()), move || async move {
            let start = current_time();
            let scope = CancelScope::with_deadline(start + SEC);
            let inner = scope.clone();
            let out = scope
                .run(async move {
                    checkpoint().await; // the timer for start + 1 s is armed by now
                    inner.set_deadline(later.then_some(start + 10 * SEC));
                    pride::time::advance(2 * SEC);
                    checkpoint().await;
                    inner.cancel_called()
                })
                .await;
            (out, scope.deadline_reached(), current_time() - start)
        });
        assert_eq!(out, (Some(false), false, 2 * SEC), "later: {later}");
    }
}

/// A mock clock moved to its end is past every deadline it fires a timer for, even one
/// later than its last instant (about 584 years after its start).
#[test]
fn a_clock_at_its_end_is_past_a_deadline_beyond_its_last_instant() {
    let out = block_on(30, builder(2).clock(Clock::mock()), || async {
        let thousand_years = Duration::from_secs(1_000 * 365 * 24 * 3600);
        let scope = CancelScope::with_timeout(thousand_years);
        let out = scope
            .run(async {
                checkpoint().await; // armed
                pride::time::advance(Duration::MAX);
                std::future::pending::<()>().await;
            })
            .await;
        (out, scope.deadline_reached())
    });
    assert_eq!(out, (None, true));
}

/// The same after the scope's wrapper re-armed: the new deadline still fires, at its
/// own time.
#[test]
fn a_deadline_moved_later_fires_at_its_new_time_on_a_mock_clock() {
    block_on(30, builder(2).clock(Clock::mock()), || async {
        let start = current_time();
        let scope = CancelScope::with_deadline(start + SEC);
        let inner = scope.clone();
        let out = scope
            .run(async move {
                checkpoint().await;
                inner.set_deadline(Some(start + 10 * SEC));
                pride::time::advance(2 * SEC);
                checkpoint().await; // re-arms for start + 10 s
                assert!(!inner.cancel_called());
                pride::time::advance(8 * SEC);
                checkpoint().await;
                panic!("ran past its new deadline");
            })
            .await;
        assert_eq!(out, None);
        assert!(scope.cancelled_caught() && scope.deadline_reached());
        assert_eq!(current_time() - start, 10 * SEC);
    });
}

/// `deadline_reached` says whether the deadline is what cancelled the scope. A scope
/// cancelled by hand was not, even if its deadline passes later while shielded work
/// inside it still runs.
#[test]
fn deadline_reached_is_false_for_a_scope_cancelled_by_hand_before_its_deadline() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::with_deadline(start + 10 * SEC);
        let inner = scope.clone();
        let out = scope
            .run(async move {
                inner.cancel();
                let shield = CancelScope::new();
                shield.set_shield(true);
                shield.run(sleep(20 * SEC)).await.unwrap();
                checkpoint().await;
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(
            current_time() - start,
            20 * SEC,
            "the deadline passed inside"
        );
        assert!(scope.cancelled_caught());
        assert!(
            !scope.deadline_reached(),
            "cancelled by hand at the start, yet the deadline is said to have done it"
        );
    });
}

#[test]
fn set_deadline_from_another_task_re_arms_a_scope_blocked_on_an_event() {
    // Earlier, later, to the past, and cleared (then the event ends the wait).
    enum Move {
        Earlier,
        Later,
        Past,
        Clear,
    }
    for (case, expect) in [
        (Move::Earlier, Some(5)),
        (Move::Later, Some(20)),
        (Move::Past, Some(2)),
        (Move::Clear, None),
    ] {
        autojump(30, move || async move {
            let start = current_time();
            let scope = CancelScope::with_timeout(10 * SEC);
            let event = Event::new();
            task_group(async |tg| {
                let (remote, event2) = (scope.clone(), event.clone());
                tg.start_soon(async move {
                    sleep(2 * SEC).await;
                    remote.set_deadline(match case {
                        Move::Earlier => Some(current_time() + 3 * SEC),
                        Move::Later => Some(start + 20 * SEC),
                        Move::Past => Some(start + SEC),
                        Move::Clear => None,
                    });
                    if matches!(case, Move::Clear) {
                        sleep(HOUR).await;
                        event2.set();
                    }
                });
                let out = scope.run(event.wait()).await;
                match expect {
                    Some(at) => {
                        assert_eq!(out, None);
                        assert_eq!(current_time() - start, at * SEC);
                        assert!(scope.cancelled_caught() && scope.deadline_reached());
                    }
                    None => {
                        assert_eq!(out, Some(()));
                        assert_eq!(current_time() - start, 2 * SEC + HOUR);
                        assert!(!scope.cancel_called());
                    }
                }
            })
            .await
            .unwrap();
        });
    }
}

#[test]
fn moving_the_deadline_later_does_not_undo_a_cancel() {
    autojump(30, || async {
        // An explicit cancel.
        let scope = CancelScope::new();
        let inner = scope.clone();
        let out = scope
            .run(async move {
                inner.cancel();
                inner.set_deadline(Some(current_time() + HOUR));
                inner.set_deadline(None);
                checkpoint().await;
                panic!("a later deadline undid a cancel");
            })
            .await;
        assert_eq!(out, None);
        assert!(scope.cancelled_caught());

        // A deadline that fired while the work sat in a shield.
        let start = current_time();
        let scope = CancelScope::with_timeout(SEC);
        let inner = scope.clone();
        let out = scope
            .run(async move {
                let shield = CancelScope::new();
                shield.set_shield(true);
                shield.run(sleep(2 * SEC)).await.unwrap();
                assert!(inner.cancel_called() && inner.deadline_reached());
                inner.set_deadline(Some(current_time() + HOUR));
                assert!(inner.cancel_called());
                sleep(SEC).await;
                panic!("a later deadline undid a cancel");
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(current_time() - start, 2 * SEC);
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn a_deadline_fires_when_a_mock_clock_is_advanced_past_it() {
    block_on(30, builder(2).clock(Clock::mock()), || async {
        let start = current_time();
        let scope = CancelScope::with_timeout(SEC);
        let inner = scope.clone();
        let out = scope
            .run(async move {
                checkpoint().await; // the scope's timer is armed by now
                pride::time::advance(2 * SEC);
                assert!(inner.cancel_called() && inner.deadline_reached());
                inner.set_deadline(Some(start + HOUR));
                checkpoint().await;
                panic!("a later deadline undid a cancel");
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(current_time() - start, 2 * SEC);
        assert!(scope.cancelled_caught() && scope.deadline_reached());
    });
}

/// A deadline passing is a `cancel()` that happens by itself: `cancel_called` says so
/// as soon as the clock has passed it, also inside work that has not suspended since
/// its scope was entered (its timer is not armed yet).
#[test]
fn cancel_called_is_true_once_the_deadline_passed_before_the_first_suspension() {
    block_on(30, builder(2).clock(Clock::mock()), || async {
        let scope = CancelScope::with_timeout(SEC);
        let inner = scope.clone();
        let out = scope
            .run(async move {
                assert!(!inner.cancel_called());
                pride::time::advance(2 * SEC);
                assert!(inner.cancel_called(), "the passed deadline went unseen");
                checkpoint().await;
                panic!("the deadline did not drop the work");
            })
            .await;
        assert_eq!(out, None);
        assert!(scope.cancelled_caught() && scope.deadline_reached());
    });
}

/// A loop that never suspends stops once it sees its scope's deadline passed.
#[test]
fn a_loop_that_never_suspends_sees_its_deadline_pass() {
    block_on(30, builder(2).clock(Clock::mock()), || async {
        let scope = CancelScope::with_timeout(SEC);
        let inner = scope.clone();
        let out = scope
            .run(async move {
                let mut steps = 0;
                while !inner.cancel_called() {
                    steps += 1;
                    pride::time::advance(SEC / 4);
                }
                steps
            })
            .await;
        assert_eq!(out, Some(4));
        assert!(scope.deadline_reached() && !scope.cancelled_caught());
    });
}

/// Reading `cancel_called` of an inner scope whose deadline passed cancels the scopes
/// around it whose deadlines passed too, outermost first, as their timers would: the
/// outermost catches.
#[test]
fn cancel_called_on_a_passed_deadline_leaves_the_catch_to_the_outermost() {
    block_on(30, builder(2).clock(Clock::mock()), || async {
        let start = current_time();
        let outer = CancelScope::with_deadline(start + SEC);
        let inner = CancelScope::with_deadline(start + 2 * SEC);
        let (outer2, inner2, inner3) = (outer.clone(), inner.clone(), inner.clone());
        let out = outer
            .run(async move {
                inner3
                    .run(async move {
                        pride::time::advance(3 * SEC);
                        assert!(inner2.cancel_called());
                        assert!(outer2.cancel_called() && outer2.deadline_reached());
                        checkpoint().await;
                    })
                    .await;
                panic!("the code between the scopes ran");
            })
            .await;
        assert_eq!(out, None);
        assert!(outer.cancelled_caught());
        assert!(!inner.cancelled_caught());
    });
}

#[test]
fn nested_deadlines_the_earliest_wins_and_its_scope_catches() {
    autojump(30, || async {
        // The inner deadline is earlier: the inner scope catches, the outer runs on.
        let start = current_time();
        let outer = CancelScope::with_timeout(10 * SEC);
        let inner = CancelScope::with_timeout(5 * SEC);
        let inner2 = inner.clone();
        let out = outer
            .run(async move {
                let r = inner2.run(sleep(HOUR)).await;
                (r, current_time())
            })
            .await;
        assert_eq!(out, Some((None, start + 5 * SEC)));
        assert!(inner.cancelled_caught() && inner.deadline_reached());
        assert!(!outer.cancel_called() && !outer.cancelled_caught());

        // The outer deadline is earlier: the outer scope catches; the inner one was
        // never cancelled and caught nothing.
        let start = current_time();
        let outer = CancelScope::with_timeout(5 * SEC);
        let inner = CancelScope::with_timeout(10 * SEC);
        let inner2 = inner.clone();
        let after_inner = Flag::new();
        let flag = after_inner.clone();
        let out = outer
            .run(async move {
                let _ = inner2.run(sleep(HOUR)).await;
                flag.set();
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(current_time() - start, 5 * SEC);
        assert!(!after_inner.is_set());
        assert!(outer.cancelled_caught() && outer.deadline_reached());
        assert!(!inner.cancel_called() && !inner.cancelled_caught());

        // Three levels, the middle one earliest.
        let start = current_time();
        let scopes = [30, 3, 20].map(|s| CancelScope::with_timeout(s * SEC));
        let [a, b, c] = scopes.clone();
        let out = a
            .run(async move { b.run(async move { c.run(sleep(HOUR)).await }).await })
            .await;
        assert_eq!(out, Some(None));
        assert_eq!(current_time() - start, 3 * SEC);
        let caught: Vec<bool> = scopes.iter().map(CancelScope::cancelled_caught).collect();
        assert_eq!(caught, [false, true, false]);
    });
}

#[test]
fn a_shielded_scope_ignores_an_outer_deadline_but_its_own_fires() {
    autojump(30, || async {
        // Shield without a deadline: the work finishes; the outer scope catches at the
        // next suspension point after the shield.
        let start = current_time();
        let outer = CancelScope::with_timeout(2 * SEC);
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        let out = outer
            .run(async move {
                let shield = CancelScope::new();
                shield.set_shield(true);
                let r = shield.run(sleep(5 * SEC)).await;
                log2.lock().unwrap().push((r.is_some(), current_time()));
                sleep(HOUR).await;
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(*log.lock().unwrap(), [(true, start + 5 * SEC)]);
        assert_eq!(current_time() - start, 5 * SEC);
        assert!(outer.cancelled_caught() && outer.deadline_reached());

        // A shield with its own deadline, later than the outer one: its own fires.
        let start = current_time();
        let outer = CancelScope::with_timeout(2 * SEC);
        let shield = CancelScope::with_timeout(5 * SEC);
        shield.set_shield(true);
        let shield2 = shield.clone();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        let out = outer
            .run(async move {
                let r = shield2.run(sleep(HOUR)).await;
                log2.lock().unwrap().push((r.is_some(), current_time()));
                sleep(HOUR).await;
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(*log.lock().unwrap(), [(false, start + 5 * SEC)]);
        assert!(shield.cancelled_caught() && shield.deadline_reached());
        assert!(outer.cancelled_caught() && outer.deadline_reached());
    });
}

#[test]
fn current_effective_deadline_is_the_minimum_up_to_the_shield() {
    autojump(30, || async {
        let start = current_time();
        assert_eq!(current_effective_deadline(), None);
        let at = move |s: u32| Some(start + s * SEC);
        CancelScope::with_timeout(10 * SEC)
            .run(async move {
                assert_eq!(current_effective_deadline(), at(10));
                CancelScope::with_timeout(5 * SEC)
                    .run(async move { assert_eq!(current_effective_deadline(), at(5)) })
                    .await;
                CancelScope::with_timeout(20 * SEC)
                    .run(async move {
                        assert_eq!(current_effective_deadline(), at(10));
                        CancelScope::new()
                            .run(async move { assert_eq!(current_effective_deadline(), at(10)) })
                            .await;
                        let shield = CancelScope::new();
                        shield.set_shield(true);
                        shield
                            .run(async move { assert_eq!(current_effective_deadline(), None) })
                            .await;
                        let shield = CancelScope::with_timeout(30 * SEC);
                        shield.set_shield(true);
                        shield
                            .run(async move {
                                assert_eq!(current_effective_deadline(), at(30));
                                CancelScope::with_timeout(40 * SEC)
                                    .run(async move {
                                        assert_eq!(current_effective_deadline(), at(30))
                                    })
                                    .await;
                            })
                            .await;
                    })
                    .await;
                // Moving a deadline shows at once.
                let scope = CancelScope::with_timeout(8 * SEC);
                let inner = scope.clone();
                scope
                    .run(async move {
                        assert_eq!(current_effective_deadline(), at(8));
                        inner.set_deadline(Some(start + 4 * SEC));
                        assert_eq!(current_effective_deadline(), at(4));
                        inner.set_deadline(None);
                        assert_eq!(current_effective_deadline(), at(10));
                    })
                    .await;
            })
            .await
            .unwrap();

        // A child of a group sees the group's deadline, and the scopes around the group.
        CancelScope::with_timeout(50 * SEC)
            .run(task_group(async |tg| {
                tg.cancel_scope().set_deadline(Some(start + 70 * SEC));
                tg.spawn(async move {
                    assert_eq!(current_effective_deadline(), at(50));
                })
                .await
                .unwrap();
                let tg2 = tg.clone();
                tg.start_soon(async move {
                    tg2.cancel_scope().set_deadline(Some(start + 40 * SEC));
                    assert_eq!(current_effective_deadline(), at(40));
                });
            }))
            .await
            .unwrap()
            .unwrap();
    });
}

#[test]
fn a_huge_timeout_saturates_and_never_fires() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::with_timeout(Duration::MAX);
        let out = scope
            .run(async {
                sleep(HOUR).await;
                5
            })
            .await;
        assert_eq!(out, Some(5));
        assert_eq!(current_time() - start, HOUR);
        assert!(!scope.cancel_called() && !scope.deadline_reached());
        // Inside a huge-timeout scope nested in a finite one, the finite one applies.
        let out = CancelScope::with_timeout(SEC)
            .run(CancelScope::with_timeout(Duration::MAX).run(pending::<()>()))
            .await;
        assert_eq!(out, None);
        assert_eq!(current_time() - start, HOUR + SEC);
    });
}

/// Runs `wait(event)` on the autojump clock, whose deadlock handler sets `event`:
/// its output, and how far the clock moved.
fn until_deadlocked<F>(wait: impl FnOnce(Event) -> F + Send + 'static) -> (F::Output, Duration)
where
    F: std::future::Future<Output: Send + 'static>,
{
    let event = Event::new();
    let set = event.clone();
    let mut builder = builder(2);
    builder
        .clock(Clock::autojump())
        .on_deadlock(move |_| set.set());
    block_on(30, &builder, move || async move {
        let start = current_time();
        let out = wait(event).await;
        (out, current_time() - start)
    })
}

/// A saturated deadline never fires, not even on the autojump clock with no other
/// timer to jump to: the runtime waits (here until its deadlock handler sets the event)
/// instead of jumping to a stand-in for the deadline.
#[test]
fn a_huge_timeout_is_not_jumped_to_by_the_autojump_clock() {
    let quiet =
        until_deadlocked(
            |event| async move { pride::move_on_after(Duration::MAX, event.wait()).await },
        );
    assert_eq!(
        quiet,
        (Some(()), Duration::ZERO),
        "a Duration::MAX timeout fired"
    );
    let loud =
        until_deadlocked(
            |event| async move { pride::fail_after(Duration::MAX, event.wait()).await },
        );
    assert_eq!(
        loud,
        (Ok(()), Duration::ZERO),
        "a Duration::MAX fail_after timed out"
    );
}

#[test]
fn the_work_dropped_by_a_deadline_is_dropped_at_the_deadline() {
    autojump(30, || async {
        let start = current_time();
        let at = Arc::new(Mutex::new(None));
        let guard = DropAt(at.clone());
        let out = CancelScope::with_timeout(7 * SEC)
            .run(async move {
                let _guard = guard;
                pending::<()>().await;
            })
            .await;
        assert_eq!(out, None);
        assert_eq!(*at.lock().unwrap(), Some(start + 7 * SEC));
    });
}

#[test]
fn equal_nested_deadlines_are_caught_by_the_outermost_scope() {
    // Both deadlines pass at the same instant: the outer scope catches, on the
    // `block_on` thread and in children on the workers alike.
    async fn nested() {
        let start = current_time();
        let outer = CancelScope::with_timeout(5 * SEC);
        let inner = CancelScope::with_timeout(5 * SEC);
        let inner2 = inner.clone();
        let out = outer
            .run(async move { inner2.run(sleep(HOUR)).await })
            .await;
        assert_eq!(out, None, "the inner scope caught");
        assert_eq!(current_time() - start, 5 * SEC);
        assert!(outer.cancelled_caught());
        assert!(!inner.cancelled_caught());
    }
    for _ in 0..50 {
        autojump(30, || async {
            nested().await;
            task_group(async |tg| {
                for _ in 0..8 {
                    tg.start_soon(nested());
                }
            })
            .await
            .unwrap();
        });
    }
}

#[test]
fn the_effective_deadline_inside_a_cancelled_scope_is_not_later_than_now() {
    autojump(20, || async {
        let scope = CancelScope::with_timeout(HOUR);
        let inner = scope.clone();
        let seen = scope
            .run(async move {
                inner.cancel();
                let deadline = current_effective_deadline().expect("a cancelled scope has one");
                (deadline, current_time())
            })
            .await
            .expect("no suspension point: the work completes");
        assert!(
            seen.0 <= seen.1,
            "deadline {:?} after now {:?}",
            seen.0,
            seen.1
        );

        // Without any deadline, too.
        let scope = CancelScope::new();
        let inner = scope.clone();
        let seen = scope
            .run(async move {
                inner.cancel();
                (current_effective_deadline(), current_time())
            })
            .await
            .unwrap();
        assert!(seen.0.is_some_and(|d| d <= seen.1), "{seen:?}");
    });
}

#[test]
fn set_deadline_on_an_exited_scope_changes_nothing() {
    autojump(20, || async {
        let scope = CancelScope::new();
        assert_eq!(scope.run(async { 1 }).await, Some(1));
        scope.set_deadline(Some(current_time() - SEC));
        assert!(!scope.cancel_called(), "an exited scope was cancelled");
        assert!(!scope.deadline_reached());
    });
}

/// A scope's future kept (not dropped) after it completed: its deadline passing after
/// that cancels nothing, though the scope's timer was armed while its work ran.
#[test]
fn a_deadline_passing_after_exit_does_not_cancel_a_kept_scope_future() {
    block_on(30, builder(2).clock(Clock::mock()), || async {
        let scope = CancelScope::with_deadline(current_time() + SEC);
        let mut run = Box::pin(scope.run(async {
            checkpoint().await; // the scope's timer is armed by now
            1
        }));
        assert_eq!((&mut run).await, Some(1));
        pride::time::advance(2 * SEC);
        for _ in 0..3 {
            checkpoint().await;
        }
        assert!(!scope.cancel_called(), "an exited scope was cancelled");
        assert!(!scope.deadline_reached());
        drop(run);
    });
}

#[test]
fn an_unentered_scope_whose_deadline_passed_is_cancelled_only_when_entered() {
    autojump(20, || async {
        let scope = CancelScope::with_deadline(current_time() + SEC);
        sleep(HOUR).await;
        assert!(!scope.cancel_called(), "cancelled before it was entered");
        let out = scope
            .run(async {
                checkpoint().await;
            })
            .await;
        assert!(out.is_none());
        assert!(scope.cancel_called() && scope.deadline_reached());
    });
}

#[test]
fn a_deadline_beyond_instants_range_never_fires() {
    autojump(20, || async {
        let out = pride::move_on_after(Duration::MAX, async {
            sleep(HOUR).await;
            7
        })
        .await;
        assert_eq!(out, Some(7));
        let scope = CancelScope::with_timeout(Duration::MAX);
        let out = scope.run(async { sleep(HOUR).await }).await;
        assert!(out.is_some() && !scope.cancel_called());
    });
}

/// A sleep of `d` that sets `armed` once its first poll armed its timer.
async fn sleep_then_signal(d: Duration, armed: Event) {
    let mut sleep = Box::pin(sleep(d));
    let mut armed = Some(armed);
    std::future::poll_fn(move |cx| {
        let poll = sleep.as_mut().poll(cx);
        if let Some(armed) = armed.take() {
            armed.set();
        }
        poll
    })
    .await
}

/// Runs `body` 50 times on a two-worker mock runtime, with a task that, once the
/// body's sleep is armed, advances the clock by two seconds in one step; returns
/// whether each run's work completed.
fn advance_past_both_deadlines<F>(body: fn(Event) -> F) -> Vec<bool>
where
    F: std::future::Future<Output = bool> + Send + 'static,
{
    block_on(20, builder(2).clock(Clock::mock()), move || async move {
        let mut outcomes = Vec::new();
        for _ in 0..50 {
            let armed = Event::new();
            let waited = armed.clone();
            let done = task_group(async |tg| {
                tg.start_soon(async move {
                    waited.wait().await;
                    for _ in 0..3 {
                        checkpoint().await;
                    }
                    pride::time::advance(2 * SEC);
                });
                Ok::<_, pride::BoxError>(body(armed).await)
            })
            .await
            .unwrap();
            outcomes.push(done);
        }
        outcomes
    })
}

/// The mock clock advanced past a sleep's deadline (1 s) and its timeout's (1.5 s) in
/// one step: both expired together, and the timeout catches, every time.
#[test]
fn advancing_past_a_sleep_and_its_timeout_at_once_is_caught_every_time() {
    let outcomes = advance_past_both_deadlines(|armed| async move {
        pride::move_on_after(1500 * MS, sleep_then_signal(SEC, armed))
            .await
            .is_some()
    });
    assert!(
        outcomes.iter().all(|&done| !done),
        "the work completed in some runs: {outcomes:?}"
    );
}

/// The same with a group's own deadline (1.5 s) and a child sleeping 1 s: the group
/// times out, every time.
#[test]
fn advancing_past_a_child_sleep_and_its_group_deadline_at_once_times_out_every_time() {
    let outcomes = advance_past_both_deadlines(|armed| async move {
        let deadline = current_time() + 1500 * MS;
        task_group(async move |tg| {
            tg.cancel_scope().set_deadline(Some(deadline));
            // The body suspends once, so the group's deadline is armed.
            checkpoint().await;
            tg.start_soon(sleep_then_signal(SEC, armed));
        })
        .await
        .is_ok()
    });
    assert!(
        outcomes.iter().all(|&done| !done),
        "the group ended without its timeout in some runs: {outcomes:?}"
    );
}

/// `deadline_reached` and `cancel_called` agree, whichever is asked first, in work
/// that has not suspended since the deadline passed (so no timer has fired).
#[test]
fn deadline_reached_agrees_with_cancel_called() {
    let answers = block_on(20, builder(2).clock(Clock::mock()), || async {
        let scope = CancelScope::with_timeout(SEC);
        let inside = scope.clone();
        scope
            .run(async move {
                pride::time::advance(2 * SEC);
                let reached_first = inside.deadline_reached();
                let debug = format!("{inside:?}");
                let called = inside.cancel_called();
                (reached_first, debug, called, inside.deadline_reached())
            })
            .await
    });
    let (reached_first, debug, called, reached_after) = answers.expect("cancelled");
    assert!(
        reached_first,
        "deadline_reached said no before cancel_called was read"
    );
    assert!(debug.contains("cancel_called: true"), "{debug}");
    assert!(called && reached_after);
}

/// Formatting a scope has no effect on it: `Debug` of an entered scope whose deadline
/// has passed (no timer fired yet) shows the cancel flag unset, and does not cancel
/// the scope, so removing the deadline then lets the work go on.
#[test]
fn debug_of_a_scope_past_its_deadline_does_not_cancel_it() {
    let debug = block_on(20, builder(2).clock(Clock::mock()), || async {
        let scope = CancelScope::with_timeout(SEC);
        let inside = scope.clone();
        scope
            .run(async move {
                pride::time::advance(2 * SEC);
                let debug = format!("{inside:?}");
                inside.set_deadline(None);
                checkpoint().await;
                debug
            })
            .await
    });
    let debug = debug.expect("formatting the scope cancelled it");
    assert!(debug.contains("cancel_called: false"), "{debug}");
}

/// A sleep that ends when the deadline of a scope around it has passed too is caught by
/// the scope, even polled before the deadline's timer cancelled the scope (here the
/// timer is not even armed: the deadline was set while the work ran, and the wrapper
/// arms it at its next poll). The end of a sleep is a cancellation point.
#[test]
fn a_sleep_ending_after_a_deadline_whose_timer_has_not_fired_is_caught() {
    let (out, caught) = block_on(20, builder(2).clock(Clock::mock()), || async {
        let start = current_time();
        let scope = CancelScope::new();
        let inside = scope.clone();
        let out = scope
            .run(async move {
                let mut nap = std::pin::pin!(sleep(SEC));
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                assert!(nap.as_mut().poll(&mut cx).is_pending());
                inside.set_deadline(Some(start + 1500 * MS));
                pride::time::advance(2 * SEC);
                nap.await;
                "the work went on"
            })
            .await;
        (out, scope.cancelled_caught() && scope.deadline_reached())
    });
    assert_eq!(out, None);
    assert!(caught);
}

/// The same with an interval's tick: the end of a tick that waited is a cancellation
/// point for the deadlines that passed with it, as the end of a sleep is. The tick
/// waited in a tick future dropped before the one that ends: the wait counts still.
#[test]
fn an_interval_tick_ending_after_a_passed_deadline_is_caught() {
    let (out, caught) = block_on(20, builder(2).clock(Clock::mock()), || async {
        let start = current_time();
        let scope = CancelScope::new();
        let inside = scope.clone();
        let out = scope
            .run(async move {
                let mut every = pride::interval(SEC);
                every.tick().await; // at once
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                assert!(std::pin::pin!(every.tick()).poll(&mut cx).is_pending());
                inside.set_deadline(Some(start + 1500 * MS));
                pride::time::advance(2 * SEC);
                every.tick().await;
                "the work went on"
            })
            .await;
        (out, scope.cancelled_caught() && scope.deadline_reached())
    });
    assert_eq!(out, None);
    assert!(caught);
}
