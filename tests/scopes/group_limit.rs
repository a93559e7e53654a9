//! A group's concurrency limit: never more than N children run, queued children all
//! run, `try_start_now` refuses when full, `start_soon_wait` waits for a slot.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use pride::{BoxError, Event, TaskGroup, task_group, task_group_with_limit};

const MS: Duration = Duration::from_millis(1);

fn runtime() -> pride::Runtime {
    pride::Runtime::builder().worker_threads(4).build().unwrap()
}

/// Counts running children and keeps the high-water mark.
#[derive(Clone, Default)]
struct Gauge {
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
}

impl Gauge {
    fn enter(&self) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    fn exit(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.done.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn never_more_than_the_limit_run_and_all_queued_children_run() {
    let gauge = Gauge::default();
    runtime().block_on(async {
        task_group_with_limit(4, async |tg| {
            assert_eq!(tg.limit(), Some(4));
            for i in 0..1000 {
                let gauge = gauge.clone();
                tg.start_soon(async move {
                    gauge.enter();
                    for _ in 0..(i % 5) {
                        pride::yield_now().await;
                    }
                    gauge.exit();
                });
            }
        })
        .await
        .unwrap();
    });
    assert_eq!(gauge.done.load(Ordering::SeqCst), 1000);
    let peak = gauge.peak.load(Ordering::SeqCst);
    assert!((1..=4).contains(&peak), "peak {peak}");
}

#[test]
fn the_limit_applies_to_spawn_and_start_too() {
    let gauge = Gauge::default();
    runtime().block_on(async {
        task_group_with_limit(2, async |tg| {
            let mut handles = Vec::new();
            for i in 0..50u32 {
                let gauge = gauge.clone();
                handles.push(tg.spawn(async move {
                    gauge.enter();
                    pride::yield_now().await;
                    gauge.exit();
                    Ok::<_, BoxError>(i)
                }));
            }
            let gauge2 = gauge.clone();
            let v = tg
                .start(|status| async move {
                    gauge2.enter();
                    status.started(7u32);
                    pride::yield_now().await;
                    gauge2.exit();
                })
                .await?;
            assert_eq!(v, 7);
            let mut sum = 0;
            for handle in handles {
                sum += handle.await?;
            }
            assert_eq!(sum, (0..50).sum::<u32>());
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
    assert!(gauge.peak.load(Ordering::SeqCst) <= 2);
    assert_eq!(gauge.done.load(Ordering::SeqCst), 51);
}

#[test]
fn try_start_now_refuses_when_full_and_gives_the_future_back() {
    runtime().block_on(async {
        task_group_with_limit(2, async |tg: TaskGroup| {
            let release = Event::new();
            for _ in 0..2 {
                let release = release.clone();
                tg.try_start_now(async move { release.wait().await })
                    .unwrap();
            }
            assert_eq!(tg.running(), Some(2));
            let refused = tg.try_start_now(async {}).unwrap_err();
            assert!(refused.is_full());
            // The future comes back and can be started later.
            let future = refused.into_inner();
            release.set();
            tg.start_soon_wait(future).await.unwrap();
        })
        .await
        .unwrap();
    });
}

#[test]
fn start_soon_wait_waits_for_a_slot() {
    let gauge = Gauge::default();
    runtime().block_on(async {
        task_group_with_limit(3, async |tg| {
            for _ in 0..100 {
                let gauge = gauge.clone();
                tg.start_soon_wait(async move {
                    gauge.enter();
                    pride::yield_now().await;
                    gauge.exit();
                })
                .await
                .unwrap();
                // The waiter only returns once its child holds a slot.
                assert!(tg.running().unwrap() <= 3);
            }
        })
        .await
        .unwrap();
    });
    assert_eq!(gauge.done.load(Ordering::SeqCst), 100);
    assert!(gauge.peak.load(Ordering::SeqCst) <= 3);
}

#[test]
fn a_failure_cancels_queued_children_too() {
    let ran = Arc::new(AtomicUsize::new(0));
    let result = runtime().block_on(async {
        task_group_with_limit(1, async |tg| {
            tg.start_soon_named("first", async { Err::<(), _>("boom") });
            for _ in 0..10 {
                let ran = ran.clone();
                tg.start_soon(async move {
                    pride::yield_now().await;
                    ran.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
        .await
    });
    let error = result.unwrap_err();
    assert_eq!(error.errors().len(), 1);
    assert_eq!(error.errors()[0].name(), Some("first"));
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "queued children are dropped at their first suspension point"
    );
}

#[test]
#[should_panic(expected = "concurrency limit must be at least 1")]
fn a_zero_limit_is_refused() {
    drop(pride::task_group_with_limit(0, async |_tg| {}));
}

/// A waker that records that it was woken.
#[derive(Default)]
struct WokeFlag(AtomicBool);

impl Wake for WokeFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn woke_flag() -> (Arc<WokeFlag>, Waker) {
    let flag = Arc::new(WokeFlag::default());
    (flag.clone(), Waker::from(flag))
}

/// A `start_soon_wait` dropped while it waits takes no slot and no wake-up: the slot
/// freed later goes to the waiter behind it.
#[pride::test(workers = 2)]
async fn a_dropped_start_soon_wait_does_not_take_a_live_waiters_slot() {
    let out = pride::fail_after(
        Duration::from_secs(10),
        task_group(async |outer| {
            task_group_with_limit(1, async |tg| {
                let release = Event::new();
                let r = release.clone();
                tg.start_soon(async move { r.wait().await }); // holds the only slot
                let tga = tg.clone();
                let a = outer.spawn(async move {
                    tga.start_soon_wait(async {}).await.unwrap();
                });
                pride::sleep(MS).await; // A waits first
                let tgb = tg.clone();
                let b = outer.spawn(async move {
                    tgb.start_soon_wait(async {}).await.unwrap();
                });
                pride::sleep(MS).await; // then B
                a.cancel();
                pride::sleep(MS).await;
                release.set();
                b.await.unwrap();
            })
            .await
            .unwrap();
        }),
    )
    .await;
    assert!(
        out.is_ok(),
        "the waiter behind a dropped one never got the slot"
    );
}

/// A waiter woken for a freed slot but dropped before it polls again passes that slot
/// on to the next waiter.
#[pride::test]
async fn a_woken_start_soon_wait_dropped_before_it_polls_passes_the_slot_on() {
    task_group_with_limit(1, async |tg| {
        let release = Event::new();
        let r = release.clone();
        tg.start_soon(async move { r.wait().await });
        let (a_woke, a_waker) = woke_flag();
        let (b_woke, b_waker) = woke_flag();
        let mut a = tg.start_soon_wait(async {});
        let mut b = tg.start_soon_wait(async {});
        assert!(
            Pin::new(&mut a)
                .poll(&mut Context::from_waker(&a_waker))
                .is_pending()
        );
        assert!(
            Pin::new(&mut b)
                .poll(&mut Context::from_waker(&b_waker))
                .is_pending()
        );
        release.set();
        for _ in 0..100 {
            if a_woke.0.load(Ordering::SeqCst) {
                break;
            }
            pride::sleep(MS).await;
        }
        assert!(
            a_woke.0.load(Ordering::SeqCst),
            "the freed slot woke nobody"
        );
        assert!(!b_woke.0.load(Ordering::SeqCst));
        drop(a);
        assert!(
            b_woke.0.load(Ordering::SeqCst),
            "the slot A never used was not passed on"
        );
        let started = Pin::new(&mut b).poll(&mut Context::from_waker(&b_waker));
        assert!(matches!(started, std::task::Poll::Ready(Ok(()))));
    })
    .await
    .unwrap();
}

/// A child queued behind the limit whose handle cancels it never starts: it leaves the
/// queue at once, and its handle says it was cancelled while the slot is still held.
#[test]
fn cancelling_a_queued_child_resolves_its_handle_at_once() {
    crate::common::watchdog(60, || {
        runtime().block_on(async {
            task_group_with_limit(1, async |tg| {
                let stop = Event::new();
                let wait = stop.clone();
                tg.start_soon(async move { wait.wait().await });
                let ran = Arc::new(AtomicBool::new(false));
                let flag = ran.clone();
                let job = tg.spawn(async move {
                    flag.store(true, Ordering::SeqCst);
                    Ok::<_, BoxError>(7)
                });
                job.cancel();
                let error = job.await.unwrap_err();
                assert!(error.is_cancelled(), "{error:?}");
                assert!(!ran.load(Ordering::SeqCst), "the cancelled child ran");
                stop.set();
            })
            .await
            .unwrap();
        })
    });
}

/// A `start_soon_wait` polled after it completed panics without taking a slot: the
/// group's other children still get every slot.
#[test]
fn a_start_soon_wait_polled_again_takes_no_slot() {
    crate::common::watchdog(60, || {
        runtime().block_on(async {
            task_group_with_limit(1, async |tg| {
                let mut wait = tg.start_soon_wait(async {});
                (&mut wait).await.unwrap();
                let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let waker = Waker::noop();
                    let _ = Pin::new(&mut wait).poll(&mut Context::from_waker(waker));
                }));
                assert!(again.is_err());
                // The first child ends; its slot must be free for the next.
                tg.start_soon_wait(async {}).await.unwrap();
            })
            .await
            .unwrap();
        })
    });
}

/// A limited group dropped before it finished drops its queued children without running
/// them, and a `start_soon_wait` caller waiting for a slot finds the group closed,
/// instead of waiting for a slot that a dropped child took.
#[test]
fn a_group_dropped_mid_run_closes_its_limit_to_its_waiters() {
    runtime().block_on(async {
        let (send, receive) = pride::sync::oneshot::channel::<TaskGroup>();
        let queued_ran = Arc::new(AtomicBool::new(false));
        let ran = queued_ran.clone();
        let mut group = Box::pin(task_group_with_limit(1, async move |tg| {
            tg.start_soon(std::future::pending::<()>());
            tg.start_soon(async move { ran.store(true, Ordering::SeqCst) });
            let _ = send.send(tg.clone());
            std::future::pending::<()>().await;
        }));
        assert!(futures_lite::future::poll_once(&mut group).await.is_none());
        let tg = receive.await.unwrap();
        let mut wait = Box::pin(tg.start_soon_wait(async {}));
        assert!(
            futures_lite::future::poll_once(&mut wait).await.is_none(),
            "the one slot is taken"
        );
        drop(group);
        assert!(
            wait.await.is_err(),
            "a waiter of a dropped group gets GroupClosed"
        );
        assert!(tg.start_soon_wait(async {}).await.is_err());
        assert!(matches!(
            tg.try_start_now(async {}),
            Err(pride::TryStartError::Closed(_))
        ));
        assert!(!queued_ran.load(Ordering::SeqCst), "a queued child ran");
        assert_eq!(tg.running(), Some(0));
    });
}

/// A waker whose `clone` panics: a foreign executor's bug, like a waker that panics
/// when woken.
fn clone_panicking_waker() -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    fn clone(_: *const ()) -> RawWaker {
        panic!("waker clone boom")
    }
    fn ignore(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, ignore, ignore, ignore);
    // SAFETY: no function of the vtable reads the data pointer, so a null one is valid
    // for each of them, and having no state they are safe to call from any thread.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

/// A `start_soon_wait` re-polled under a waker whose clone panics keeps its place in
/// line until it is dropped, and its drop leaves the line as any cancelled wait's
/// does: the slot freed later goes to the next caller, not to the dropped wait, which
/// would never use it nor give it back.
#[test]
fn a_start_soon_wait_whose_waker_refresh_panics_leaves_the_line_when_dropped() {
    crate::common::watchdog(60, || {
        runtime().block_on(async {
            task_group_with_limit(1, async |tg| {
                let release = Event::new();
                let r = release.clone();
                tg.start_soon(async move { r.wait().await }); // holds the only slot
                let mut wait = Box::pin(tg.start_soon_wait(async {}));
                assert!(
                    wait.as_mut()
                        .poll(&mut Context::from_waker(Waker::noop()))
                        .is_pending(),
                    "queued behind the running child"
                );
                let bad = clone_panicking_waker();
                let repoll = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _ = wait.as_mut().poll(&mut Context::from_waker(&bad));
                }));
                let panic = repoll.expect_err("the refresh's panic reaches the poll's caller");
                assert_eq!(crate::common::panic_text(&*panic), "waker clone boom");
                drop(wait);
                release.set();
                let next =
                    pride::fail_after(Duration::from_secs(10), tg.start_soon_wait(async {})).await;
                assert!(
                    matches!(next, Ok(Ok(()))),
                    "the freed slot went to the dropped wait: {next:?}"
                );
            })
            .await
            .unwrap();
        })
    });
}

/// A `start` whose child waits behind the limit, cancelled in its caller's scope: the
/// start returns nothing at once, and its child, its caller's until it starts, never
/// runs: it leaves the queue and its future is dropped as the start is, while the slot
/// is still held.
#[test]
fn a_start_cancelled_while_its_child_is_queued_never_runs_the_child() {
    crate::common::watchdog(60, || {
        runtime().block_on(async {
            let ran = crate::common::Flag::new();
            let ran2 = ran.clone();
            task_group_with_limit(1, async move |tg| {
                let stop = Event::new();
                let wait = stop.clone();
                tg.start_soon(async move { wait.wait().await }); // holds the only slot
                let dropped = Event::new();
                let guard = crate::common::SetOnDrop(dropped.clone());
                let scope = pride::CancelScope::new();
                let canceller = scope.clone();
                let start = tg.start(move |status: pride::TaskStatus<()>| async move {
                    let _guard = guard;
                    ran2.set();
                    status.started(());
                });
                let cancel = async move {
                    canceller.cancel();
                    std::future::pending::<()>().await
                };
                let out = scope.run(futures_lite::future::zip(start, cancel)).await;
                assert!(out.is_none());
                assert!(dropped.is_set(), "the queued child is still queued");
                stop.set();
            })
            .await
            .unwrap();
            assert!(!ran.is_set(), "the cancelled start's child ran");
        })
    });
}

/// A queued child whose start was cancelled never runs, so it cannot fail the group
/// (its caller is gone: a failure of a child that did run would go to the group).
#[test]
fn a_queued_child_of_a_cancelled_start_cannot_fail_the_group() {
    crate::common::watchdog(60, || {
        runtime().block_on(async {
            let out = task_group_with_limit(1, async move |tg| {
                let stop = Event::new();
                let wait = stop.clone();
                tg.start_soon(async move { wait.wait().await });
                let scope = pride::CancelScope::new();
                let canceller = scope.clone();
                let start = tg.start_named("queued", |status: pride::TaskStatus<()>| async move {
                    let _status = status;
                    Err::<(), _>("ran after its start was cancelled")
                });
                let cancel = async move {
                    canceller.cancel();
                    std::future::pending::<()>().await
                };
                assert!(
                    scope
                        .run(futures_lite::future::zip(start, cancel))
                        .await
                        .is_none()
                );
                stop.set();
            })
            .await;
            assert!(out.is_ok(), "{out:?}");
        })
    });
}

/// A caller whose scope is cancelled but that keeps its `start` future (here, in a
/// shielded scope) while the limit's slot frees: the queued child, cancelled with its
/// caller, is dropped instead of run, and the start then ends as cancelled work.
#[test]
fn a_queued_child_whose_callers_cancel_came_first_is_dropped_not_run_when_a_slot_frees() {
    crate::common::watchdog(60, || {
        runtime().block_on(async {
            let ran = crate::common::Flag::new();
            let ran2 = ran.clone();
            task_group_with_limit(1, async move |tg| {
                let stop = Event::new();
                let wait = stop.clone();
                tg.start_soon(async move { wait.wait().await }); // holds the only slot
                let dropped = Event::new();
                let guard = crate::common::SetOnDrop(dropped.clone());
                let scope = pride::CancelScope::new();
                let canceller = scope.clone();
                let out = scope
                    .run(async move {
                        let mut start =
                            std::pin::pin!(tg.start(move |status: pride::TaskStatus<()>| {
                                async move {
                                    let _guard = guard;
                                    ran2.set();
                                    status.started(());
                                }
                            }));
                        // Launches the child, which queues behind the limit.
                        std::future::poll_fn(|cx| {
                            assert!(start.as_mut().poll(cx).is_pending());
                            std::task::Poll::Ready(())
                        })
                        .await;
                        canceller.cancel();
                        let shield = pride::CancelScope::new();
                        shield.set_shield(true);
                        shield
                            .run(async {
                                stop.set(); // the running child ends; its slot frees
                                dropped.wait().await;
                            })
                            .await;
                        let _ = start.await;
                    })
                    .await;
                assert!(out.is_none());
            })
            .await
            .unwrap();
            assert!(!ran.is_set(), "the cancelled start's child ran");
        })
    });
}
