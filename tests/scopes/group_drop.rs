//! No orphans: dropping a group's future drops every child future before the
//! drop returns, and no child code runs afterwards, even for children mid-poll on
//! other workers. A child whose poll is the one running the drop is not waited for:
//! it is dropped at its next suspension point, never polled again, and the groups
//! around do not end before that.

use std::time::{Duration, Instant};

use crate::common::{Counter, Flag, Gauge, runtime, watchdog, yield_until};
use futures_lite::future;
use pride::{GroupError, TaskGroup, task_group};

/// Starts `n` children that count in a loop with yields, forever.
fn start_counters(tg: &TaskGroup, n: usize, count: &Counter, drops: &Counter, gauge: &Gauge) {
    for _ in 0..n {
        let (count, guard) = (count.clone(), drops.drop_guard());
        tg.start_soon(gauge.wrap(async move {
            let _guard = guard;
            // A loop that only ends by being dropped (`loop` would have the type `!`).
            while count.get() < usize::MAX {
                count.inc();
                pride::yield_now().await;
            }
        }));
    }
}

/// Starts `n` children that spin for about a millisecond in each poll, forever.
fn start_spinners(tg: &TaskGroup, n: usize, count: &Counter, drops: &Counter, gauge: &Gauge) {
    for _ in 0..n {
        let (count, guard) = (count.clone(), drops.drop_guard());
        tg.start_soon(gauge.wrap(async move {
            let _guard = guard;
            while count.get() < usize::MAX {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(1) {
                    std::hint::spin_loop();
                }
                count.inc();
                pride::yield_now().await;
            }
        }));
    }
}

/// After the group is gone: nothing is mid-poll, and the children's counter stays put.
fn assert_quiet(count: &Counter, gauge: &Gauge) {
    assert_eq!(gauge.active(), 0, "a child is still being polled");
    let (before, polls) = (count.get(), gauge.polls.get());
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        count.get(),
        before,
        "child code ran after the group was dropped"
    );
    assert_eq!(
        gauge.polls.get(),
        polls,
        "a child was polled after the group was dropped"
    );
}

#[test]
fn dropping_a_racing_group_drops_every_child() {
    watchdog(60, || {
        let rt = runtime(4);
        let (count, drops, gauge) = (Counter::new(), Counter::new(), Gauge::new());
        let result = rt.block_on(future::or(
            task_group(async |tg| {
                start_counters(&tg, 8, &count, &drops, &gauge);
                start_spinners(&tg, 4, &count, &drops, &gauge);
                std::future::pending::<()>().await;
            }),
            async {
                yield_until(|| count.get() >= 200).await;
                Ok::<(), GroupError>(())
            },
        ));
        assert!(result.is_ok());
        assert_eq!(drops.get(), 12);
        assert_quiet(&count, &gauge);
    });
}

#[test]
fn dropping_a_group_polled_once_drops_every_child() {
    watchdog(60, || {
        let rt = runtime(4);
        let (count, drops, gauge) = (Counter::new(), Counter::new(), Gauge::new());
        rt.block_on(async {
            let mut group = Box::pin(task_group(async |tg| {
                start_counters(&tg, 6, &count, &drops, &gauge);
                start_spinners(&tg, 6, &count, &drops, &gauge);
            }));
            assert!(future::poll_once(&mut group).await.is_none());
            // The children run on the workers while nobody polls the group.
            yield_until(|| count.get() >= 100).await;
            drop(group);
            assert_eq!(drops.get(), 12);
        });
        assert_quiet(&count, &gauge);
    });
}

/// A child mid-poll on another worker when the group is dropped: the drop waits for
/// that poll to end. The child's poll is held open until a helper thread releases it
/// 50 ms later, so a drop that returned early would see the flag unset.
#[test]
fn dropping_a_group_waits_for_a_child_mid_poll() {
    watchdog(60, || {
        let rt = runtime(4);
        let (in_poll, release, dropped) = (Flag::new(), Flag::new(), Counter::new());
        let gauge = Gauge::new();
        rt.block_on(async {
            let mut group = Box::pin(task_group(async |tg| {
                let (in_poll, release, guard) =
                    (in_poll.clone(), release.clone(), dropped.drop_guard());
                tg.start_soon(gauge.wrap(async move {
                    let _guard = guard;
                    in_poll.set();
                    while !release.is_set() {
                        std::hint::spin_loop();
                    }
                    pride::yield_now().await;
                    if true {
                        unreachable!("resumed after its group was dropped");
                    }
                }));
            }));
            assert!(future::poll_once(&mut group).await.is_none());
            yield_until(|| in_poll.is_set()).await;
            let releaser = {
                let release = release.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    release.set();
                })
            };
            drop(group);
            assert!(
                release.is_set(),
                "the drop returned while the child was mid-poll"
            );
            assert_eq!(dropped.get(), 1);
            assert_eq!(gauge.active(), 0);
            releaser.join().unwrap();
        });
    });
}

#[test]
fn dropping_a_group_drops_nested_groups_children() {
    watchdog(60, || {
        let rt = runtime(4);
        let (count, drops, gauge) = (Counter::new(), Counter::new(), Gauge::new());
        // Nested groups that have started their six children: the drop count below
        // holds only once all four have (a child not yet run has no nested group).
        let nested = Counter::new();
        rt.block_on(async {
            let mut group = Box::pin(task_group(async |tg| {
                for _ in 0..4 {
                    let (count, drops, gauge) = (count.clone(), drops.clone(), gauge.clone());
                    let nested = nested.clone();
                    let guard = drops.drop_guard();
                    tg.start_soon(async move {
                        let _guard = guard;
                        task_group(async |tg| {
                            start_counters(&tg, 4, &count, &drops, &gauge);
                            start_spinners(&tg, 2, &count, &drops, &gauge);
                            nested.inc();
                        })
                        .await
                    });
                }
                // The body holds a nested group too.
                task_group(async |tg| {
                    start_counters(&tg, 4, &count, &drops, &gauge);
                })
                .await
            }));
            assert!(future::poll_once(&mut group).await.is_none());
            yield_until(|| nested.get() == 4 && count.get() >= 300).await;
            drop(group);
            assert_eq!(drops.get(), 4 + 4 * 6 + 4);
        });
        assert_quiet(&count, &gauge);
    });
}

/// The group's future is dropped inside a child, on the runtime's only worker: its
/// children are queued on that same worker and must be dropped right there.
#[test]
fn dropping_a_group_inside_a_child_on_one_worker() {
    watchdog(60, || {
        let rt = runtime(1);
        let (count, drops, gauge) = (Counter::new(), Counter::new(), Gauge::new());
        let checked = Flag::new();
        rt.block_on(task_group(async |tg| {
            let (count, drops, gauge, checked) =
                (count.clone(), drops.clone(), gauge.clone(), checked.clone());
            tg.start_soon(async move {
                let inner = task_group(async |tg| {
                    start_counters(&tg, 5, &count, &drops, &gauge);
                    std::future::pending::<()>().await;
                });
                let quit = async {
                    yield_until(|| count.get() >= 50).await;
                    Ok::<(), GroupError>(())
                };
                future::or(inner, quit).await.unwrap();
                assert_eq!(drops.get(), 5);
                let before = count.get();
                for _ in 0..20 {
                    pride::yield_now().await;
                }
                assert_eq!(count.get(), before);
                checked.set();
            });
        }))
        .unwrap();
        assert!(checked.is_set());
        assert_quiet(&count, &gauge);
    });
}

/// Same, on several workers, with children of the dropped group mid-poll elsewhere.
#[test]
fn dropping_a_group_inside_a_child_on_many_workers() {
    watchdog(60, || {
        let rt = runtime(4);
        let (count, drops, gauge) = (Counter::new(), Counter::new(), Gauge::new());
        rt.block_on(task_group(async |tg| {
            for _ in 0..3 {
                let (count, drops, gauge) = (count.clone(), drops.clone(), gauge.clone());
                tg.start_soon(async move {
                    let inner = task_group(async |tg| {
                        start_counters(&tg, 3, &count, &drops, &gauge);
                        start_spinners(&tg, 2, &count, &drops, &gauge);
                        std::future::pending::<()>().await;
                    });
                    let quit = async {
                        yield_until(|| count.get() >= 100).await;
                        Ok::<(), GroupError>(())
                    };
                    future::or(inner, quit).await.unwrap();
                });
            }
        }))
        .unwrap();
        assert_eq!(drops.get(), 3 * 5);
        assert_quiet(&count, &gauge);
    });
}

/// Many rounds of drop-while-busy, to shake out races in the teardown.
#[test]
fn repeated_drops_while_busy() {
    watchdog(120, || {
        let rt = runtime(4);
        for round in 0..30 {
            let (count, drops, gauge) = (Counter::new(), Counter::new(), Gauge::new());
            rt.block_on(async {
                let mut group = Box::pin(task_group(async |tg| {
                    start_counters(&tg, 16, &count, &drops, &gauge);
                }));
                assert!(future::poll_once(&mut group).await.is_none());
                yield_until(|| count.get() >= round * 10).await;
                drop(group);
                assert_eq!(drops.get(), 16, "round {round}");
                assert_eq!(gauge.active(), 0, "round {round}");
            });
        }
    });
}

/// A group future handed to one of its own children, which drops it: the drop cannot
/// wait for that child, whose poll is the one running the drop and can only end after
/// it. Every other child is dropped before the drop returns; the dropping child runs
/// on to its next suspension point, where it is dropped, never polled again.
#[test]
fn a_child_dropping_its_own_groups_future_is_dropped_at_its_next_suspension() {
    type Dropped =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), GroupError>> + Send>>;
    watchdog(60, || {
        let rt = runtime(2);
        let (count, drops, gauge) = (Counter::new(), Counter::new(), Gauge::new());
        let (resumed, self_dropped, checked) = (Counter::new(), Counter::new(), Flag::new());
        let (tx, rx) = pride::sync::oneshot::channel::<Dropped>();
        rt.block_on(async {
            let (others, dropper) = (drops.clone(), self_dropped.drop_guard());
            let (resumed, checked) = (resumed.clone(), checked.clone());
            let (count, drops, gauge) = (count.clone(), drops.clone(), gauge.clone());
            let mut group: Dropped = Box::pin(task_group(async move |tg| {
                start_counters(&tg, 4, &count, &drops, &gauge);
                tg.start_soon(async move {
                    let _dropper = dropper;
                    let group = rx.await.expect("sent");
                    drop(group);
                    assert_eq!(others.get(), 4, "the other children are gone");
                    checked.set();
                    pride::yield_now().await;
                    resumed.inc();
                });
            }));
            assert!(future::poll_once(&mut group).await.is_none());
            assert!(tx.send(group).is_ok());
            yield_until(|| self_dropped.get() == 1).await;
        });
        assert!(checked.is_set());
        assert_eq!(resumed.get(), 0, "the child ran past its suspension point");
        assert_quiet(&count, &gauge);
    });
}

type Boxed = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), GroupError>> + Send>>;

/// Starts a group whose child `holder` receives the group's own future and holds it
/// across an await, and a child `failer` that fails once the holder has it (when
/// `fail`). Returns the group, polled once, and the sender to hand it over with.
async fn group_held_by_its_child(
    fail: bool,
    holding: &Flag,
    held_dropped: &Counter,
) -> (Boxed, pride::sync::oneshot::Sender<Boxed>) {
    let (tx, rx) = pride::sync::oneshot::channel::<Boxed>();
    let ready = pride::Event::new();
    let (holding, dropper) = (holding.clone(), held_dropped.drop_guard());
    let mut group: Boxed = Box::pin(task_group(async move |tg| {
        let set = ready.clone();
        tg.start_soon_named("holder", async move {
            let _dropper = dropper;
            let _group = rx.await.expect("sent");
            holding.set();
            set.set();
            std::future::pending::<()>().await;
        });
        if fail {
            tg.start_soon_named("failer", async move {
                ready.wait().await;
                Err::<(), _>("boom")
            });
        }
    }));
    assert!(future::poll_once(&mut group).await.is_none());
    (group, tx)
}

/// A child holding its own group's future across an await is dropped by its wrapper
/// when a sibling's failure cancels the group: the group's future goes with the child's
/// work, and its teardown, running inside that child, does not wait for it.
#[test]
fn a_child_holding_its_own_groups_future_is_dropped_when_a_sibling_fails() {
    watchdog(60, || {
        let rt = runtime(2);
        let (holding, dropped) = (Flag::new(), Counter::new());
        rt.block_on(async {
            let (group, tx) = group_held_by_its_child(true, &holding, &dropped).await;
            assert!(tx.send(group).is_ok());
            yield_until(|| dropped.get() == 1).await;
        });
        assert!(holding.is_set());
    });
}

/// The same child, idle with its group's future, when the runtime shuts down: the
/// shutdown drops the child's work, and with it the group's, without waiting for it.
#[test]
fn a_runtime_shut_down_while_a_child_holds_its_own_groups_future_ends() {
    watchdog(60, || {
        let rt = runtime(2);
        let (holding, dropped) = (Flag::new(), Counter::new());
        rt.block_on(async {
            let (group, tx) = group_held_by_its_child(false, &holding, &dropped).await;
            assert!(tx.send(group).is_ok());
            yield_until(|| holding.is_set()).await;
        });
        drop(rt);
        assert_eq!(dropped.get(), 1);
    });
}
