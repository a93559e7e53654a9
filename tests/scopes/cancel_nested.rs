//! Nested cancel scopes and groups: cancelling a scope
//! cancels everything inside it, through nested groups, at once; the outermost
//! cancelled scope catches; a group's scope hangs below the scope where the group was
//! opened, not where a child was spawned.

use std::future::{Future, pending, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use crate::common::{Counter, Flag, run, spin_until};
use pride::{CancelScope, Event, TaskGroup, checkpoint, task_group};

/// Counts up to `target` and sets `all` when it gets there.
#[derive(Clone)]
struct Countdown {
    count: Arc<AtomicUsize>,
    target: usize,
    all: Event,
}

impl Countdown {
    fn new(target: usize) -> Countdown {
        Countdown {
            count: Arc::default(),
            target,
            all: Event::new(),
        }
    }

    fn arrive(&self) {
        if self.count.fetch_add(1, SeqCst) + 1 == self.target {
            self.all.set();
        }
    }
}

#[test]
fn cancelling_an_outer_scope_drops_everything_inside_through_nested_groups() {
    run(2, 20, || async {
        // The body of the outer group, 3 children each opening a group, 3 grandchildren
        // in each: 13 futures, each holding a guard.
        const FUTURES: usize = 1 + 3 + 3 * 3;
        let drops = Counter::new();
        let ready = Countdown::new(FUTURES);
        let past = Flag::new();
        let outer = CancelScope::new();
        let (outer2, all_ready) = (outer.clone(), ready.all.clone());
        task_group(async |top| {
            top.start_soon(async move {
                all_ready.wait().await;
                outer2.cancel();
            });
            let (drops2, ready2, past2) = (drops.clone(), ready.clone(), past.clone());
            let out = outer
                .run(task_group(async move |g1| {
                    for _ in 0..3 {
                        let (drops, ready, past) = (drops2.clone(), ready2.clone(), past2.clone());
                        g1.start_soon(task_group(async move |g2| {
                            for _ in 0..3 {
                                let (guard, ready, past) =
                                    (drops.drop_guard(), ready.clone(), past.clone());
                                g2.start_soon(async move {
                                    let _guard = guard;
                                    ready.arrive();
                                    pending::<()>().await;
                                    past.set();
                                });
                            }
                            let _guard = drops.drop_guard();
                            ready.arrive();
                            pending::<()>().await;
                            past.set();
                        }));
                    }
                    let _guard = drops2.drop_guard();
                    ready2.arrive();
                    pending::<()>().await;
                    past2.set();
                }))
                .await;
            assert!(out.is_none());
            // No orphans: every future inside is gone when `run` returns.
            assert_eq!(drops.get(), FUTURES);
            assert!(outer.cancelled_caught());
        })
        .await
        .unwrap();
        assert!(!past.is_set());
    });
}

#[test]
fn the_outermost_cancelled_scope_catches() {
    run(2, 20, || async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let inner_returned = Flag::new();
        let (outer2, inner2, returned2) = (outer.clone(), inner.clone(), inner_returned.clone());
        let out = outer
            .run(async move {
                let got = inner2
                    .run(async {
                        inner2.cancel();
                        outer2.cancel();
                        checkpoint().await;
                    })
                    .await;
                // Never reached: the outer scope drops the inner `run` itself.
                returned2.set();
                got
            })
            .await;
        assert!(out.is_none());
        assert!(!inner_returned.is_set());
        assert!(outer.cancelled_caught());
        assert!(inner.cancel_called());
        assert!(!inner.cancelled_caught());
    });
}

#[test]
fn an_inner_scope_cancelled_alone_catches_and_the_outer_goes_on() {
    run(2, 20, || async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let inner2 = inner.clone();
        let out = outer
            .run(async move {
                let got = inner2
                    .run(async {
                        inner2.cancel();
                        checkpoint().await;
                    })
                    .await;
                checkpoint().await;
                got.is_none()
            })
            .await;
        assert_eq!(out, Some(true));
        assert!(inner.cancelled_caught());
        assert!(!outer.cancel_called());
        assert!(!outer.cancelled_caught());
    });
}

#[test]
fn only_the_outer_cancelled_catches_not_the_inner_scopes_below_it() {
    run(2, 20, || async {
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let (outer2, inner2) = (outer.clone(), inner.clone());
        let out = outer
            .run(async move {
                inner2
                    .run(async {
                        outer2.cancel();
                        checkpoint().await;
                    })
                    .await
            })
            .await;
        assert!(out.is_none());
        assert!(outer.cancelled_caught());
        assert!(!inner.cancel_called());
        assert!(!inner.cancelled_caught());
    });
}

/// A group's own scope is cancelled too, but the scope outside it catches: the group's
/// future is dropped and returns nothing.
#[test]
fn an_outer_scope_catches_over_a_cancelled_group() {
    run(2, 20, || async {
        let outer = CancelScope::new();
        let group_scope: Arc<Mutex<Option<CancelScope>>> = Arc::default();
        let drops = Counter::new();
        let (outer2, slot, guard) = (outer.clone(), group_scope.clone(), drops.drop_guard());
        let out = outer
            .run(task_group(async move |tg| {
                *slot.lock().unwrap() = Some(tg.cancel_scope().clone());
                tg.start_soon(async move {
                    let _guard = guard;
                    pending::<()>().await;
                });
                tg.cancel_scope().cancel();
                outer2.cancel();
                checkpoint().await;
            }))
            .await;
        assert!(out.is_none(), "the group returned {out:?}");
        assert!(outer.cancelled_caught());
        let group_scope = group_scope.lock().unwrap().take().unwrap();
        assert!(group_scope.cancel_called());
        assert!(!group_scope.cancelled_caught());
        assert_eq!(drops.get(), 1);
    });
}

/// A child running inside its own cancel scope spawns a sibling into the outer group:
/// the sibling hangs below the group's scope, so cancelling the child's scope spares it.
#[test]
fn a_child_spawned_from_inside_a_scope_belongs_to_the_group_not_the_scope() {
    run(2, 20, || async {
        let sibling_running = Event::new();
        let release = Event::new();
        let sibling_done = Flag::new();
        let inner = CancelScope::new();
        let (running2, release2, done2, inner2) = (
            sibling_running.clone(),
            release.clone(),
            sibling_done.clone(),
            inner.clone(),
        );
        task_group(async |tg| {
            let spawner = tg.clone();
            tg.start_soon(async move {
                let out = inner2
                    .run(async {
                        spawner.start_soon(async move {
                            running2.set();
                            release2.wait().await;
                            checkpoint().await;
                            done2.set();
                        });
                        sibling_running.wait().await;
                        inner2.cancel();
                        checkpoint().await;
                    })
                    .await;
                assert!(out.is_none());
                release.set();
            });
        })
        .await
        .unwrap();
        assert!(inner.cancelled_caught());
        assert!(
            sibling_done.is_set(),
            "the sibling was cancelled with the spawner's scope"
        );
    });
}

/// A task outside `scope` spawns a child into a group opened inside `scope`, waits until
/// that child runs, and cancels `scope`: the child is dropped and `scope` catches. With
/// `busy_first_poll`, the group's body stays in its first poll until the cancel.
async fn cancel_a_scope_around_a_group_spawned_into_from_outside(busy_first_poll: bool) {
    let drops = Counter::new();
    let slot: Arc<Mutex<Option<TaskGroup>>> = Arc::default();
    let open = Event::new();
    let spawned_running = Event::new();
    let scope = CancelScope::new();
    let (slot2, open2, scope2) = (slot.clone(), open.clone(), scope.clone());
    let (drops2, running2) = (drops.clone(), spawned_running.clone());
    task_group(async |outer| {
        outer.start_soon(async move {
            let scope3 = scope2.clone();
            let out = scope2
                .run(task_group(async move |inner_group| {
                    *slot2.lock().unwrap() = Some(inner_group);
                    open2.set();
                    if busy_first_poll {
                        spin_until(|| scope3.cancel_called());
                    }
                    pending::<()>().await;
                }))
                .await;
            assert!(out.is_none());
        });
        // This body is outside `scope`; it spawns into the group opened inside it.
        open.wait().await;
        let inner_group = slot.lock().unwrap().take().unwrap();
        let guard = drops2.drop_guard();
        inner_group.start_soon(async move {
            let _guard = guard;
            running2.set();
            pending::<()>().await;
        });
        drop(inner_group);
        spawned_running.wait().await;
        scope.cancel();
    })
    .await
    .unwrap();
    assert!(scope.cancelled_caught());
    assert_eq!(drops.get(), 1);
}

/// The other way round: a group opened inside a scope hangs below that scope, so
/// cancelling the scope drops a child that a task outside the scope spawned into it.
#[test]
fn a_group_opened_inside_a_scope_is_cancelled_with_it_whoever_spawns_into_it() {
    run(2, 20, || {
        cancel_a_scope_around_a_group_spawned_into_from_outside(false)
    });
}

/// The same while the group's body is still in its first poll: the group has not yet
/// linked itself below `scope` (it does when it first suspends) when a task outside
/// spawns a child into it and cancels `scope`. The cancel finds nothing below `scope`
/// to wake, so the group must wake its children itself once it links and sees the
/// cancel; otherwise the child sleeps on and the group waits for it forever.
#[test]
fn a_scope_cancelled_before_the_group_inside_first_suspends_still_drops_its_children() {
    run(2, 20, || async {
        for _ in 0..20 {
            cancel_a_scope_around_a_group_spawned_into_from_outside(true).await;
        }
    });
}

/// A child started without a handle has no scope of its own until its work opens a
/// group (or enters a scope): its scope is made then, and linked below its group's
/// once that poll ends. Here the outer group is cancelled in that same poll, after the
/// nested group has linked itself below the new scope and its child has gone idle: the
/// cancel's walk finds no way down to that grandchild, so the late link must look for
/// the cancel and wake it; otherwise it sleeps on and both groups wait for ever.
#[test]
fn a_cancel_before_a_childs_new_scope_is_linked_reaches_the_groups_opened_there() {
    run(2, 20, || async {
        let drops = Counter::new();
        let slot: Arc<Mutex<Option<TaskGroup>>> = Arc::default();
        let open = Event::new();
        let grandchild_polled = Flag::new();
        let (slot2, open2, polled2) = (slot.clone(), open.clone(), grandchild_polled.clone());
        let outer_scope = Arc::new(Mutex::new(None::<CancelScope>));
        let outer_scope2 = outer_scope.clone();
        let ran_on = Flag::new();
        let ran_on2 = ran_on.clone();
        task_group(async |outer| {
            *outer_scope.lock().unwrap() = Some(outer.cancel_scope().clone());
            outer.start_soon(async move {
                let mut nested = pin!(task_group(async move |inner| {
                    *slot2.lock().unwrap() = Some(inner);
                    open2.set();
                    // Busy in this first poll until the grandchild has run; the sleep
                    // lets its poll end, so that it is idle (were it not, its own look
                    // after the poll would see the cancel, and the test would pass
                    // without the path it is for).
                    spin_until(|| polled2.is_set());
                    std::thread::sleep(Duration::from_millis(20));
                }));
                // One poll: the nested group waits for its child, linked below this
                // child's new scope, which is not linked below the outer group yet.
                poll_fn(|cx| {
                    assert!(nested.as_mut().poll(cx).is_pending());
                    Poll::Ready(())
                })
                .await;
                let scope = outer_scope2.lock().unwrap().take().unwrap();
                scope.cancel();
                // Cancelled work: dropped at this suspension, once the nested group
                // has drained.
                let _ = nested.await;
                ran_on2.set();
            });
            // On the `block_on` thread, outside every worker: starts the grandchild.
            open.wait().await;
            let inner = slot.lock().unwrap().take().unwrap();
            let guard = drops.drop_guard();
            inner.start_soon(async move {
                let _guard = guard;
                grandchild_polled.set();
                pending::<()>().await;
            });
        })
        .await
        .unwrap();
        assert_eq!(drops.get(), 1);
        assert!(!ran_on.is_set(), "the cancelled child ran on");
    });
}

/// A group body awaiting a nested group is dropped by its own group's cancel while the
/// nested group's children are being woken: the teardown must stay memory-safe.
#[test]
fn cancelling_a_group_while_nested_children_wake_is_memory_safe() {
    for _ in 0..500 {
        run(2, 20, || async {
            let go = Event::new();
            let waiting = Event::new();
            let result = task_group(async |outer| {
                let (go2, waiting2, canceller) = (go.clone(), waiting.clone(), outer.clone());
                outer.start_soon(async move {
                    waiting2.wait().await;
                    canceller.cancel_scope().cancel();
                    go2.set();
                });
                let _ = task_group(async |tg| {
                    for _ in 0..4 {
                        let go = go.clone();
                        tg.start_soon(async move {
                            go.wait().await;
                            checkpoint().await;
                        });
                    }
                    waiting.set();
                })
                .await;
                Ok::<_, pride::BoxError>(1)
            })
            .await;
            // Either the body is dropped where it waits for the nested group, or the
            // nested group finishes without suspending and the body's value survives
            // the deliberate cancel. What matters here is that it is safe.
            match result {
                Ok(v) => assert_eq!(v, 1),
                Err(e) => assert!(e.is_cancelled(), "{e}"),
            }
        });
    }
}

/// A group nested `depth` deep, each level's group inside a child of the level above;
/// the innermost child counts itself in, then waits.
fn nested_chain(
    depth: usize,
    reached: Event,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            reached.set();
            return pending().await;
        }
        let _ = task_group(async move |tg| {
            tg.start_soon(nested_chain(depth - 1, reached));
        })
        .await;
    })
}

/// Cancelling the root of a deep tree of scopes reaches every level without
/// recursing once per level (which overflowed the canceller's stack), and building the
/// chain costs linear time (the test's watchdog bounds it generously).
#[test]
fn cancelling_a_very_deep_scope_tree_reaches_the_bottom() {
    run(2, 60, || async {
        let reached = Event::new();
        let scope = CancelScope::new();
        let (scope2, reached2) = (scope.clone(), reached.clone());
        let out = task_group(async move |tg| {
            tg.start_soon(async move {
                assert!(scope2.run(nested_chain(6_000, reached2)).await.is_none());
            });
            reached.wait().await;
            scope.cancel();
        })
        .await;
        assert!(out.is_ok(), "{out:?}");
    });
}

/// Counts a level of [`dropped_chain`] out when its future is dropped.
struct LevelGuard(Arc<AtomicUsize>);

impl Drop for LevelGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Like [`nested_chain`], each level holding a guard that counts its drop.
fn dropped_chain(
    depth: usize,
    reached: Event,
    dropped: Arc<AtomicUsize>,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _guard = LevelGuard(dropped.clone());
        if depth == 0 {
            reached.set();
            return pending().await;
        }
        let _ = task_group(async move |tg| {
            tg.start_soon(dropped_chain(depth - 1, reached, dropped));
        })
        .await;
    })
}

/// Cancelling the root group of a deep chain of groups (each inside a child of the one
/// above) drains every level, bottom up, and drops each level's future once. Each
/// level's cleanup asks which scope catches, a question whose answer lies at the top:
/// answered by walking the whole chain each time, the drain took time quadratic in the
/// depth (seconds at this depth; the watchdog is generous, the drain should take well
/// under a second).
#[test]
fn cancelling_the_root_of_a_deep_group_chain_drains_every_level() {
    const DEPTH: usize = 4_000;
    let dropped = Arc::new(AtomicUsize::new(0));
    let seen = dropped.clone();
    let out = run(2, 60, move || async move {
        let reached = Event::new();
        let reached2 = reached.clone();
        task_group(async move |tg| {
            tg.start_soon(dropped_chain(DEPTH, reached2, dropped));
            reached.wait().await;
            tg.cancel_scope().cancel();
        })
        .await
    });
    assert!(out.is_ok(), "{out:?}");
    assert_eq!(seen.load(SeqCst), DEPTH + 1, "a level was not dropped");
}

/// Work inside a scope whose cancel a scope further out catches is dropped where it
/// suspended; a future between the two wrappers that polls the inner scope again
/// (as a `select` loop may) finds it pending, not completed, and the outer scope
/// catches.
#[test]
fn an_inner_scope_polled_again_after_an_outer_cancel_stays_pending() {
    run(1, 20, || async {
        let outer = CancelScope::new();
        let dropped = Arc::new(AtomicUsize::new(0));
        let (outer2, dropped2) = (outer.clone(), dropped.clone());
        let out = outer
            .run(async move {
                let mut inner = std::pin::pin!(CancelScope::new().run(async move {
                    let _guard = LevelGuard(dropped2);
                    outer2.cancel();
                    pending::<()>().await;
                }));
                std::future::poll_fn(|cx| {
                    for _ in 0..3 {
                        assert!(inner.as_mut().poll(cx).is_pending());
                    }
                    std::task::Poll::<()>::Pending
                })
                .await;
            })
            .await;
        assert_eq!(out, None);
        assert!(outer.cancelled_caught());
        assert_eq!(dropped.load(SeqCst), 1);
    });
}

/// A chain of groups `depth` deep, each inside a child of the level above; at the
/// bottom a scope is entered and handed out through `slot`.
fn chain_entering(
    depth: usize,
    slot: Arc<Mutex<Option<CancelScope>>>,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            let scope = CancelScope::new();
            *slot.lock().unwrap() = Some(scope.clone());
            scope.run(checkpoint()).await;
            return;
        }
        let _ = task_group(async move |tg| {
            tg.start_soon(chain_entering(depth - 1, slot));
        })
        .await;
    })
}

/// A scope entered at the bottom of a deep chain of groups and kept after all of them
/// are gone is the last owner of the chain's scopes: dropping it lets go of them one
/// after another, not by a call per level (which overflowed a small stack).
#[test]
fn dropping_a_scope_kept_from_the_bottom_of_a_deep_chain_runs_on_a_small_stack() {
    let slot = Arc::new(Mutex::new(None));
    let slot2 = slot.clone();
    run(2, 60, move || chain_entering(20_000, slot2));
    let scope = slot
        .lock()
        .unwrap()
        .take()
        .expect("the bottom entered a scope");
    let small_stack = std::thread::Builder::new().stack_size(256 << 10);
    small_stack
        .spawn(move || drop(scope))
        .unwrap()
        .join()
        .unwrap();
}
