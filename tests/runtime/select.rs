//! `pride::select!`: the first ready branch wins, its handler runs after every branch
//! future has been dropped, and losers that were cancel-safe lose nothing.

use std::time::Duration;

use crate::common::{Counter, autojump};
use pride::{Event, Queue, sleep};

#[test]
fn the_first_ready_branch_wins_with_its_own_type() {
    autojump(30, || async {
        let out = pride::select! {
            n = async { sleep(Duration::from_secs(2)).await; 2u8 } => format!("u8 {n}"),
            s = async { sleep(Duration::from_secs(1)).await; "one" } => format!("str {s}"),
        };
        assert_eq!(out, "str one");
    });
}

#[test]
fn branches_are_polled_in_order() {
    autojump(30, || async {
        let out = pride::select! {
            a = std::future::ready('a') => a,
            b = std::future::ready('b') => b,
        };
        assert_eq!(out, 'a');
    });
}

#[test]
fn every_branch_is_dropped_before_the_handler_runs() {
    autojump(30, || async {
        let drops = Counter::new();
        let (d1, d2) = (drops.drop_guard(), drops.drop_guard());
        let seen = pride::select! {
            () = async move { let _g = d1; std::future::pending::<()>().await } => 0,
            () = async move { let _g = d2; sleep(Duration::from_secs(1)).await } => drops.get(),
        };
        assert_eq!(seen, 2);
    });
}

#[test]
fn a_losing_queue_get_takes_no_item() {
    autojump(30, || async {
        let queue = Queue::<u32>::unbounded();
        let timed_out = pride::select! {
            _item = queue.get() => false,
            () = sleep(Duration::from_secs(1)) => true,
        };
        assert!(timed_out);
        queue.put_nowait(5).unwrap();
        assert_eq!(queue.get_nowait().unwrap(), 5);
    });
}

#[test]
fn handlers_can_return_and_use_question_mark() {
    async fn pick(stop: &Event, fail: bool) -> Result<u32, String> {
        let v = pride::select! {
            () = stop.wait() => { return Ok(1) }
            r = async { if fail { Err("bad".to_string()) } else { Ok(2) } } => {
                let v: u32 = r?;
                v + 10
            }
        };
        Ok(v)
    }
    autojump(30, || async {
        let stop = Event::new();
        assert_eq!(pick(&stop, false).await, Ok(12));
        assert_eq!(pick(&stop, true).await, Err("bad".to_string()));
        stop.set();
        assert_eq!(pick(&stop, true).await, Ok(1));
    });
}

#[test]
fn a_pinned_future_survives_a_lost_select() {
    autojump(30, || async {
        let mut long = std::pin::pin!(async {
            sleep(Duration::from_secs(3)).await;
            "long"
        });
        let mut ticks = 0;
        loop {
            let done = pride::select! {
                v = &mut long => Some(v),
                () = sleep(Duration::from_secs(1)) => None,
            };
            match done {
                Some(v) => {
                    assert_eq!(v, "long");
                    break;
                }
                None => ticks += 1,
            }
        }
        // Ticks at 1 s and 2 s; at 3 s both are ready and the first branch wins.
        assert_eq!(ticks, 2);
    });
}

#[test]
fn a_cancelled_scope_drops_every_branch() {
    autojump(30, || async {
        let drops = Counter::new();
        let (d1, d2) = (drops.drop_guard(), drops.drop_guard());
        let out = pride::move_on_after(Duration::from_secs(5), async move {
            pride::select! {
                () = async move { let _g = d1; std::future::pending::<()>().await } => 1,
                () = async move { let _g = d2; std::future::pending::<()>().await } => 2,
            }
        })
        .await;
        assert_eq!(out, None);
        assert_eq!(drops.get(), 2);
    });
}

/// A block handler needs no comma, whatever the next branch's pattern starts with: a
/// slice or array pattern (`[a, b]`), a reference pattern (`&mut x`), a tuple.
#[test]
fn a_block_handler_without_a_comma_takes_any_next_pattern() {
    autojump(30, || async {
        let pending = std::future::pending::<u32>;
        let array = pride::select! {
            x = pending() => { x }
            [a, b] = async { [2u32, 3] } => a + b,
        };
        assert_eq!(array, 5);
        let mut value = 7u32;
        let reference = pride::select! {
            x = pending() => { x }
            &mut x = async { &mut value } => x + 1,
        };
        assert_eq!(reference, 8);
        let tuple = pride::select! {
            x = pending() => { x }
            (a, b) = async { (4u32, 5u32) } => { a * b }
            y = pending() => y,
        };
        assert_eq!(tuple, 20);
    });
}

/// Under a cancel from outside, a `select!` whose branch is shielded is kept until that
/// branch ends, and the other branch, as good as dropped, cannot win meanwhile (it
/// would drop the shielded branch by hand, mid-shield).
#[test]
fn under_an_outer_cancel_a_shielded_branch_runs_to_its_end() {
    let done = Counter::new();
    let done2 = done.clone();
    let out = autojump(30, move || async move {
        pride::move_on_after(Duration::from_secs(1), async move {
            let shield = pride::CancelScope::new();
            shield.set_shield(true);
            pride::select! {
                _ = shield.run(async move {
                    sleep(Duration::from_secs(3)).await;
                    done2.inc();
                }) => "shield ended",
                () = sleep(Duration::from_secs(2)) => "sleep won",
            }
        })
        .await
    });
    assert_eq!(done.get(), 1, "the shielded branch was cut short: {out:?}");
    assert_eq!(out, Some("shield ended"));
}

/// Likewise a branch waiting in a group: the group drains its children (a shielded
/// cleanup that then fails) and reports the failure; no other branch wins meanwhile.
#[test]
fn under_an_outer_cancel_a_branch_draining_a_group_keeps_its_failure() {
    let done = Counter::new();
    let done2 = done.clone();
    let out = autojump(30, move || async move {
        pride::move_on_after(Duration::from_secs(1), async move {
            pride::select! {
                r = pride::task_group(async move |tg| {
                    tg.start_soon_named("cleanup", async move {
                        let shield = pride::CancelScope::new();
                        shield.set_shield(true);
                        shield.run(sleep(Duration::from_secs(3))).await;
                        done2.inc();
                        Err::<(), _>("cleanup failed")
                    });
                    std::future::pending::<()>().await;
                }) => r.map_err(|e| e.to_string()),
                () = sleep(Duration::from_secs(2)) => Ok(()),
            }
        })
        .await
    });
    assert_eq!(done.get(), 1, "the shielded cleanup was cut short: {out:?}");
    let error = out.expect("the group's branch won").unwrap_err();
    assert!(error.contains("cleanup failed"), "{error}");
}

/// A `get` in a branch is not polled once a cancel stands (another branch is kept by
/// a draining group): the item put after the cancel stays in the queue, not taken by
/// a branch whose handler the cancel then drops.
#[test]
fn under_an_outer_cancel_an_unprotected_branch_takes_nothing() {
    let left = autojump(30, || async {
        let queue = Queue::<u32>::unbounded();
        let q = queue.clone();
        pride::task_group(async |tg| {
            let producer = queue.clone();
            tg.start_soon(async move {
                sleep(Duration::from_secs(2)).await;
                producer.put_nowait(7).unwrap();
            });
            pride::move_on_after(Duration::from_secs(1), async move {
                loop {
                    pride::select! {
                        _ = pride::task_group(async |tg| {
                            tg.start_soon(async {
                                let shield = pride::CancelScope::new();
                                shield.set_shield(true);
                                shield.run(sleep(Duration::from_secs(3))).await;
                            });
                        }) => {}
                        item = q.get() => {
                            let _item = item.unwrap();
                            sleep(Duration::from_millis(1)).await;
                            panic!("the item was taken after the cancel");
                        }
                    }
                }
            })
            .await;
        })
        .await
        .unwrap();
        queue.get_nowait().ok()
    });
    assert_eq!(left, Some(7));
}

/// A branch suspended in a scope whose shield is set while it waits (by another task)
/// is still polled under a cancel from outside: its scope decides, and keeps it.
#[test]
fn under_an_outer_cancel_a_branch_shielded_while_it_waits_is_still_polled() {
    let out = autojump(30, || async {
        let inner = pride::CancelScope::new();
        let (inner2, outer) = (inner.clone(), pride::CancelScope::new());
        let outer2 = outer.clone();
        let shielded = Event::new();
        let shielded2 = shielded.clone();
        pride::task_group(async |tg| {
            tg.start_soon(async move {
                sleep(Duration::from_secs(1)).await;
                inner2.set_shield(true);
                outer2.cancel();
                shielded2.set();
            });
            let out = outer
                .run(async move {
                    pride::select! {
                        r = inner.run(async {
                            shielded.wait().await;
                            sleep(Duration::from_secs(1)).await;
                            "inner ended"
                        }) => r,
                        () = std::future::pending::<()>() => None,
                    }
                })
                .await;
            Ok::<_, pride::BoxError>(out)
        })
        .await
        .unwrap()
    });
    assert_eq!(out, Some(Some("inner ended")));
}

/// [`crate::common::block_on`] on one worker with the autojump clock.
fn one_worker<R, F>(make: impl FnOnce() -> F + Send + 'static) -> R
where
    R: Send + 'static,
    F: std::future::Future<Output = R>,
{
    crate::common::block_on(
        30,
        crate::common::builder(1).clock(pride::time::Clock::autojump()),
        make,
    )
}

/// A select that completes inside a branch, in the poll where a shielded scope beside
/// it (in a `zip`) suspended, does not hide that scope: under the cancel the branch is
/// still polled, and the shield runs to its end (else nothing would drive it: a hang).
#[test]
fn under_an_outer_cancel_a_select_in_a_branch_does_not_hide_a_shield_beside_it() {
    let done = Counter::new();
    let done2 = done.clone();
    let out = one_worker(move || async move {
        pride::move_on_after(Duration::from_secs(2), async move {
            let shield = pride::CancelScope::new();
            shield.set_shield(true);
            pride::select! {
                _ = futures_lite::future::zip(
                    shield.run(async move {
                        sleep(Duration::from_secs(3)).await;
                        done2.inc();
                    }),
                    async { pride::select! { () = sleep(Duration::from_secs(1)) => () } },
                ) => "shield ended",
                () = std::future::pending::<()>() => "pending won",
            }
        })
        .await
    });
    assert_eq!(done.get(), 1, "the shielded branch was cut short: {out:?}");
    assert_eq!(out, Some("shield ended"));
}

/// A branch that keeps a shielded scope it polled once while it waits somewhere else is
/// still polled under the cancel: only its polls drive that scope.
#[test]
fn under_an_outer_cancel_a_branch_keeping_a_shield_while_it_waits_elsewhere_is_polled() {
    let done = Counter::new();
    let done2 = done.clone();
    let out = one_worker(move || async move {
        pride::move_on_after(Duration::from_secs(2), async move {
            let shield = pride::CancelScope::new();
            shield.set_shield(true);
            pride::select! {
                _ = async move {
                    let mut kept = std::pin::pin!(shield.run(async move {
                        sleep(Duration::from_secs(3)).await;
                        done2.inc();
                    }));
                    let _ = futures_lite::future::poll_once(&mut kept).await;
                    sleep(Duration::from_secs(1)).await;
                    sleep(Duration::from_secs(4)).await;
                    kept.await
                } => "shield ended",
                () = std::future::pending::<()>() => "pending won",
            }
        })
        .await
    });
    assert_eq!(done.get(), 1, "the shielded branch was cut short: {out:?}");
}

/// A `select!` takes 64 branches (as many as tokio's): each is polled, and the handler
/// of the one that is ready runs.
#[test]
fn sixty_four_branches_compile_and_the_ready_one_wins() {
    autojump(30, || async {
        let pending = std::future::pending::<u32>;
        let out = pride::select! {
            v = pending() => v + 1,
            v = pending() => v + 2,
            v = pending() => v + 3,
            v = pending() => v + 4,
            v = pending() => v + 5,
            v = pending() => v + 6,
            v = pending() => v + 7,
            v = pending() => v + 8,
            v = pending() => v + 9,
            v = pending() => v + 10,
            v = pending() => v + 11,
            v = pending() => v + 12,
            v = pending() => v + 13,
            v = pending() => v + 14,
            v = pending() => v + 15,
            v = pending() => v + 16,
            v = pending() => v + 17,
            v = pending() => v + 18,
            v = pending() => v + 19,
            v = pending() => v + 20,
            v = pending() => v + 21,
            v = pending() => v + 22,
            v = pending() => v + 23,
            v = pending() => v + 24,
            v = pending() => v + 25,
            v = pending() => v + 26,
            v = pending() => v + 27,
            v = pending() => v + 28,
            v = pending() => v + 29,
            v = pending() => v + 30,
            v = pending() => v + 31,
            v = pending() => v + 32,
            v = pending() => v + 33,
            v = pending() => v + 34,
            v = pending() => v + 35,
            v = pending() => v + 36,
            v = pending() => v + 37,
            v = pending() => v + 38,
            v = pending() => v + 39,
            v = pending() => v + 40,
            v = pending() => v + 41,
            v = pending() => v + 42,
            v = pending() => v + 43,
            v = pending() => v + 44,
            v = pending() => v + 45,
            v = pending() => v + 46,
            v = pending() => v + 47,
            v = pending() => v + 48,
            v = pending() => v + 49,
            v = pending() => v + 50,
            v = pending() => v + 51,
            v = pending() => v + 52,
            v = pending() => v + 53,
            v = pending() => v + 54,
            v = pending() => v + 55,
            v = pending() => v + 56,
            v = pending() => v + 57,
            v = pending() => v + 58,
            v = pending() => v + 59,
            v = pending() => v + 60,
            v = pending() => v + 61,
            v = pending() => v + 62,
            v = pending() => v + 63,
            v = std::future::ready(63u32) => v + 100,
        };
        assert_eq!(out, 163);
    });
}
