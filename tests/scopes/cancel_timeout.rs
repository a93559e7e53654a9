//! `move_on_*` and `fail_*`, and timeouts around queue and event
//! waits, which lose nothing.
//!
//! On the autojump clock: long timeouts pass at once in real time, and the assertions
//! compare exact mock times.

use std::future::pending;
use std::time::Duration;

use crate::common::{Counter, Flag, MyError, Rng, autojump};
use pride::sync::WouldBlock;
use pride::{
    BoxError, CancelScope, Event, Queue, TimeoutError, current_time, fail_after, fail_at,
    move_on_after, move_on_at, sleep, task_group,
};

const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);

fn _assert_auto_traits() {
    fn error<E: std::error::Error + Send + Sync + Clone + PartialEq + 'static>() {}
    error::<TimeoutError>();
    // `?` turns a timeout into a task's error.
    let _: fn(TimeoutError) -> BoxError = Into::into;
}

#[test]
fn move_on_after_returns_some_in_time() {
    autojump(30, || async {
        let start = current_time();
        let out = move_on_after(5 * SEC, async {
            sleep(SEC).await;
            3
        })
        .await;
        assert_eq!(out, Some(3));
        assert_eq!(current_time() - start, SEC);
        // No suspension at all.
        assert_eq!(move_on_after(SEC, async { 4 }).await, Some(4));
    });
}

#[test]
fn move_on_after_returns_none_on_timeout_and_drops_the_future() {
    autojump(30, || async {
        let start = current_time();
        let drops = Counter::new();
        let guard = drops.drop_guard();
        let out = move_on_after(5 * SEC, async move {
            let _guard = guard;
            sleep(HOUR).await;
            panic!("not dropped");
        })
        .await;
        assert_eq!(out, None);
        assert_eq!(drops.get(), 1);
        assert_eq!(current_time() - start, 5 * SEC);
    });
}

#[test]
fn fail_after_errs_only_when_its_own_deadline_passes() {
    autojump(30, || async {
        let start = current_time();
        let ok = fail_after(5 * SEC, async {
            sleep(2 * SEC).await;
            "fast"
        })
        .await;
        assert_eq!(ok, Ok("fast"));
        assert_eq!(current_time() - start, 2 * SEC);

        let drops = Counter::new();
        let guard = drops.drop_guard();
        let start = current_time();
        let err = fail_after(5 * SEC, async move {
            let _guard = guard;
            sleep(HOUR).await;
        })
        .await;
        let err: TimeoutError = err.unwrap_err();
        assert!(!err.to_string().is_empty());
        assert_eq!(drops.get(), 1);
        assert_eq!(current_time() - start, 5 * SEC);
    });
}

#[test]
fn fail_at_and_move_on_at_use_absolute_deadlines() {
    autojump(30, || async {
        let start = current_time();
        assert!(fail_at(start + 3 * SEC, sleep(HOUR)).await.is_err());
        assert_eq!(current_time() - start, 3 * SEC);
        assert_eq!(fail_at(start + 5 * SEC, sleep(SEC)).await, Ok(()));
        assert_eq!(current_time() - start, 4 * SEC);

        assert_eq!(move_on_at(start + 10 * SEC, sleep(HOUR)).await, None);
        assert_eq!(current_time() - start, 10 * SEC);
        assert_eq!(move_on_at(start + 12 * SEC, sleep(SEC)).await, Some(()));
        assert_eq!(current_time() - start, 11 * SEC);

        // A deadline already past: cancelled at the first suspension point, while work
        // that never suspends still finishes.
        assert_eq!(move_on_at(start, sleep(SEC)).await, None);
        assert!(fail_at(start, sleep(SEC)).await.is_err());
        assert_eq!(move_on_at(start, async { 1 }).await, Some(1));
        assert_eq!(fail_at(start, async { 2 }).await, Ok(2));
        assert_eq!(current_time() - start, 11 * SEC);
    });
}

#[test]
fn an_outer_move_on_passes_through_fail_after_unchanged() {
    autojump(30, || async {
        let start = current_time();
        let drops = Counter::new();
        let guard = drops.drop_guard();
        let returned = Flag::new();
        let flag = returned.clone();
        let out = move_on_after(2 * SEC, async move {
            let r = fail_after(10 * SEC, async move {
                let _guard = guard;
                sleep(HOUR).await;
            })
            .await;
            // The outer scope catches: `fail_after` never returns here.
            flag.set();
            r
        })
        .await;
        assert_eq!(out, None);
        assert!(
            !returned.is_set(),
            "fail_after returned after an outer cancel"
        );
        assert_eq!(drops.get(), 1);
        assert_eq!(current_time() - start, 2 * SEC);

        // The inner deadline is earlier: the error is the inner one's, the outer moves on.
        let start = current_time();
        let out = move_on_after(10 * SEC, async {
            let r = fail_after(2 * SEC, sleep(HOUR)).await;
            (r.is_err(), current_time())
        })
        .await;
        assert_eq!(out, Some((true, start + 2 * SEC)));
    });
}

#[test]
fn an_explicit_outer_cancel_passes_through_fail_after_unchanged() {
    autojump(30, || async {
        let start = current_time();
        let scope = CancelScope::new();
        let returned = Flag::new();
        task_group(async |tg| {
            let remote = scope.clone();
            tg.start_soon(async move {
                sleep(SEC).await;
                remote.cancel();
            });
            let flag = returned.clone();
            let out = scope
                .run(async move {
                    let r = fail_after(10 * SEC, sleep(HOUR)).await;
                    flag.set();
                    r
                })
                .await;
            assert_eq!(out, None);
        })
        .await
        .unwrap();
        assert!(!returned.is_set());
        assert!(scope.cancelled_caught() && !scope.deadline_reached());
        assert_eq!(current_time() - start, SEC);
    });
}

#[test]
fn a_sibling_failure_is_not_reported_as_a_timeout() {
    autojump(30, || async {
        let start = current_time();
        let error = task_group(async |tg| {
            tg.start_soon_named("waiter", async {
                fail_after(10 * SEC, sleep(HOUR)).await?;
                Ok::<_, BoxError>(())
            });
            tg.start_soon_named("failer", async {
                sleep(SEC).await;
                Err::<(), _>(MyError(7))
            });
        })
        .await
        .unwrap_err();
        assert_eq!(current_time() - start, SEC);
        assert_eq!(error.errors().len(), 1, "{error}");
        assert_eq!(error.errors()[0].name(), Some("failer"));
        assert_eq!(error.find::<MyError>(), Some(&MyError(7)));
        assert!(error.find::<TimeoutError>().is_none());
        assert!(!error.is_timeout());
    });
}

#[test]
fn a_timeout_inside_a_child_is_that_childs_error() {
    autojump(30, || async {
        let error = task_group(async |tg| {
            tg.start_soon_named("slow", async {
                fail_after(2 * SEC, sleep(HOUR)).await?;
                Ok::<_, BoxError>(())
            });
            tg.start_soon(pending::<()>());
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        assert_eq!(error.errors()[0].name(), Some("slow"));
        assert!(error.find::<TimeoutError>().is_some());
        // The group's own deadline did not fire: this is a child's error.
        assert!(!error.is_timeout());
    });
}

#[test]
fn a_timed_out_get_loses_no_item() {
    autojump(30, || async {
        let queue = Queue::<u32>::unbounded();
        assert_eq!(move_on_after(SEC, queue.get()).await, None);
        queue.put_nowait(1).unwrap();
        assert_eq!(queue.len(), 1, "the item is in the queue");
        assert_eq!(fail_after(SEC, queue.get()).await, Ok(Ok(1)));

        // A getter that timed out does not take an item put later from the next one.
        task_group(async |tg| {
            let q = queue.clone();
            tg.start_soon(async move {
                sleep(3 * SEC).await;
                q.put(2).await.unwrap();
            });
            assert!(fail_after(SEC, queue.get()).await.is_err());
            assert_eq!(queue.get().await, Ok(2));
        })
        .await
        .unwrap();
    });
}

#[test]
fn a_timed_out_put_did_not_enqueue() {
    autojump(30, || async {
        let queue = Queue::with_maxsize(1);
        queue.put_nowait(1).unwrap();
        assert_eq!(move_on_after(SEC, queue.put(2)).await, None);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.get_nowait(), Ok(1));
        assert_eq!(queue.get_nowait(), Err(WouldBlock::Empty));
    });
}

#[test]
fn timeouts_racing_puts_lose_nothing() {
    // Getters time out at the same mock instants as items arrive: each item is either
    // received or still in the queue, never lost, never received twice.
    autojump(30, || async {
        const N: u32 = 400;
        let queue = Queue::<u32>::unbounded();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut rng = Rng::new(11);
        task_group(async |tg| {
            for i in 0..N {
                let q = queue.clone();
                let put_at = rng.below(50) as u32 * MS;
                tg.start_soon(async move {
                    sleep(put_at).await;
                    q.put(i).await.unwrap();
                });
                let q = queue.clone();
                let received = received.clone();
                let give_up = rng.below(50) as u32 * MS;
                tg.start_soon(async move {
                    if let Some(item) = move_on_after(give_up, q.get()).await {
                        received.lock().unwrap().push(item.unwrap());
                    }
                });
            }
        })
        .await
        .unwrap();
        let mut all = received.lock().unwrap().clone();
        while let Ok(item) = queue.get_nowait() {
            all.push(item);
        }
        all.sort_unstable();
        assert_eq!(all, (0..N).collect::<Vec<_>>());
    });
}

#[test]
fn a_timed_out_event_wait_leaves_the_event_usable() {
    autojump(30, || async {
        let start = current_time();
        let event = Event::new();
        assert_eq!(move_on_after(SEC, event.wait()).await, None);
        assert!(fail_after(SEC, event.wait()).await.is_err());
        assert!(!event.is_set());
        // Other waiters are still woken by a later `set`.
        let woken = Counter::new();
        task_group(async |tg| {
            for i in 0..10u32 {
                let (event, woken) = (event.clone(), woken.clone());
                tg.start_soon(async move {
                    // Odd waiters give up before the event is set; even ones wait.
                    let limit = if i % 2 == 1 { SEC } else { HOUR };
                    if move_on_after(limit, event.wait()).await.is_some() {
                        woken.inc();
                    }
                });
            }
            sleep(5 * SEC).await;
            event.set();
        })
        .await
        .unwrap();
        assert_eq!(woken.get(), 5);
        assert_eq!(current_time() - start, 7 * SEC);
        assert_eq!(move_on_after(SEC, event.wait()).await, Some(()));
    });
}

#[test]
fn a_huge_timeout_never_fires() {
    autojump(30, || async {
        let start = current_time();
        assert_eq!(move_on_after(Duration::MAX, sleep(HOUR)).await, Some(()));
        assert_eq!(fail_after(Duration::MAX, sleep(HOUR)).await, Ok(()));
        assert_eq!(current_time() - start, 2 * HOUR);
    });
}

/// A deadline needs a runtime's clock: a timeout or deadline polled outside a runtime
/// panics with a clear message, instead of being dropped (and its work, which waits for
/// it, waiting forever). A scope without a deadline still works there.
#[test]
fn a_timeout_polled_outside_a_runtime_panics_clearly() {
    use std::future::Future;
    use std::task::{Context, Waker};
    use std::time::Instant;

    fn first_poll_panic(future: impl Future) -> String {
        let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut future = std::pin::pin!(future);
            let _ = future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()));
        }))
        .expect_err("polled outside a runtime without a panic");
        match payload.downcast::<String>() {
            Ok(message) => *message,
            Err(payload) => payload
                .downcast::<&str>()
                .map_or(String::new(), |m| (*m).to_owned()),
        }
    }
    let now = Instant::now();
    for message in [
        first_poll_panic(fail_after(Duration::ZERO, pending::<()>())),
        first_poll_panic(move_on_after(HOUR, pending::<()>())),
        first_poll_panic(move_on_at(now - SEC, pending::<()>())),
        first_poll_panic(fail_at(now + HOUR, pending::<()>())),
        first_poll_panic(CancelScope::with_timeout(SEC).run(pending::<()>())),
    ] {
        assert!(message.contains("within a pride runtime"), "{message}");
    }
    let out = futures_lite::future::block_on(CancelScope::new().run(async { 5 }));
    assert_eq!(out, Some(5));
}

/// A `CancelScope::run` around plain work, awaited through `&mut` inside a timeout that
/// fired while the work waited: the timeout's wrapper let go of the reference without
/// polling the run (only a group is polled to drain). Awaited again where no cancel
/// stands, the run's catcher has come and gone: it drops its work there and returns
/// `None`, instead of panicking as if it had been moved out of its scope.
#[test]
fn a_run_of_plain_work_awaited_again_after_an_outer_timeout_returns_none() {
    autojump(60, || async {
        let dropped = Counter::new();
        let guard = dropped.drop_guard();
        let mut inner = Box::pin(CancelScope::new().run(async move {
            let _guard = guard;
            sleep(5 * SEC).await;
        }));
        assert!(move_on_after(SEC, inner.as_mut()).await.is_none());
        assert_eq!(
            dropped.get(),
            0,
            "the timeout dropped the run it held by reference"
        );
        assert_eq!(inner.as_mut().await, None);
        assert_eq!(dropped.get(), 1, "the run ended without dropping its work");
        // Ended: polled again, it stays ended.
        assert_eq!(inner.await, None);
    });
}

/// The same two levels down: the timeout's cancel reaches the innermost run through
/// the middle one, which the timeout's wrapper let go of by reference too; awaited
/// again, each ends as cancelled work.
#[test]
fn nested_runs_awaited_again_after_an_outer_timeout_return_none() {
    autojump(60, || async {
        let dropped = Counter::new();
        let guard = dropped.drop_guard();
        let mut inner = Box::pin(CancelScope::new().run(async move {
            let _guard = guard;
            sleep(5 * SEC).await;
        }));
        let mut middle = Box::pin(CancelScope::new().run(inner.as_mut()));
        assert!(move_on_after(SEC, middle.as_mut()).await.is_none());
        assert_eq!(middle.await, None);
        assert_eq!(dropped.get(), 0, "the middle run dropped only a reference");
        assert_eq!(inner.await, None);
        assert_eq!(dropped.get(), 1);
    });
}

/// A `fail_after` around a group, awaited through `&mut` inside a timeout that caught
/// the cancel, then awaited again: its own deadline never passed, so it has no
/// `TimeoutError` to give; it says so in a panic instead of inventing one.
#[test]
fn a_fail_after_awaited_again_after_an_outer_catch_panics_clearly() {
    let result = std::panic::catch_unwind(|| {
        autojump(60, || async {
            let mut kept = Box::pin(fail_after(
                100 * SEC,
                task_group(async |tg| {
                    tg.start_soon(sleep(5 * SEC));
                    pending::<()>().await;
                }),
            ));
            assert!(move_on_after(SEC, kept.as_mut()).await.is_none());
            let _ = kept.await;
        })
    });
    let panic = result.unwrap_err();
    let text = crate::common::panic_text(&*panic);
    assert!(text.contains("polled again"), "{text}");
}

/// A `run` future whose work a scope further out dropped stays abandoned even if its
/// own scope is shielded afterwards: awaited again, it returns `None`.
#[test]
fn a_run_abandoned_by_an_outer_catch_then_shielded_returns_none() {
    autojump(60, || async {
        let outer = CancelScope::new();
        let cancel = outer.clone();
        let scope = CancelScope::new();
        let mut inner = Box::pin(scope.clone().run(async move {
            cancel.cancel();
            pending::<()>().await;
        }));
        assert!(outer.run(inner.as_mut()).await.is_none());
        scope.set_shield(true);
        assert_eq!(inner.await, None);
    });
}

/// A sleep and a timeout that end at the same instant on the autojump clock: both
/// expire in one jump, and the timeout catches, every time (as in Trio, deadlines
/// expire before any task runs).
#[test]
fn a_sleep_ending_at_the_timeouts_deadline_is_caught_every_time() {
    autojump(20, || async {
        for run in 0..50 {
            let out = move_on_after(SEC, async {
                sleep(SEC).await;
                "done"
            })
            .await;
            assert_eq!(
                out, None,
                "run {run}: the sleep ended the work before the timeout"
            );
        }
    });
}
/// The autojump clock reaches each deadline exactly, also within a millisecond: a
/// sleep of 1.5 ms inside a 1.6 ms timeout completes.
#[test]
fn a_sleep_ending_within_a_millisecond_before_the_deadline_completes() {
    autojump(20, || async {
        for run in 0..50 {
            let out = move_on_after(Duration::from_micros(1600), async {
                sleep(Duration::from_micros(1500)).await;
                "done"
            })
            .await;
            assert_eq!(
                out,
                Some("done"),
                "run {run}: work done in time was cancelled"
            );
        }
    });
}

/// Nested timeouts within one millisecond on the autojump clock: the inner, earlier one
/// fires alone and catches; the outer one is not reached.
#[test]
fn nested_timeouts_within_a_millisecond_fire_in_deadline_order() {
    autojump(20, || async {
        let start = current_time();
        let out = fail_after(Duration::from_micros(1600), async {
            let inner = move_on_after(Duration::from_micros(1500), sleep(HOUR)).await;
            (inner, current_time() - start)
        })
        .await;
        assert_eq!(out, Ok((None, Duration::from_micros(1500))));
    });
}

/// Timeouts that have already passed when entered end at once, and each spends the
/// task's cooperative budget like any operation that completes: a loop over them (a
/// heartbeat loop that has fallen behind) still lets the worker run a sibling, here
/// the one that ends the loop, on a runtime with one worker (it hung before).
#[test]
fn a_loop_over_passed_timeouts_lets_a_sibling_run() {
    crate::common::run(1, 30, || async {
        task_group(async |tg| {
            let group = tg.clone();
            // A child, on the worker (the body runs on the `block_on` thread).
            tg.start_soon(async move {
                let stop = Flag::new();
                let set = stop.clone();
                group.start_soon(async move { set.set() });
                while !stop.is_set() {
                    let ended = move_on_after(Duration::ZERO, pending::<()>()).await;
                    assert_eq!(ended, None);
                    let failed = fail_at(current_time(), pending::<()>()).await;
                    assert!(failed.is_err());
                }
            });
        })
        .await
        .unwrap();
    });
}
