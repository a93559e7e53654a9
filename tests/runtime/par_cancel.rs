//! A `par` call stopped by a cancelled scope is cancelled work, not a panic: the scope
//! wrapper, the group body or the child around it catches it like any cancelled work.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::common::{MyError, autojump, block_on, builder, panic_text, run, spin_until, watchdog};
use pride::time::Clock;
use pride::{CancelScope, par, task_group};

#[test]
fn a_cancelled_scope_around_a_par_call_returns_none() {
    run(2, 60, || async {
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope
            .run(async { par::map_range(0..10_000, |i| i * 2).len() })
            .await;
        assert_eq!(out, None);
        assert!(scope.cancelled_caught());
        // A deadline stops it the same way.
        let out = pride::move_on_after(Duration::ZERO, async {
            par::sum_range(0..1_000_000, |i| i as u64)
        })
        .await;
        assert_eq!(out, None);
    });
}

#[test]
fn a_par_call_in_a_cancelled_child_is_not_a_panic_entry() {
    run(2, 60, || async {
        let result = task_group(async |tg| {
            tg.cancel_scope().cancel();
            tg.start_soon_named("cpu", async {
                par::for_each_range(0..10_000, |_| {});
            });
            Ok::<_, pride::BoxError>(7)
        })
        .await;
        // A deliberate cancel of the group is a shutdown: the body's value comes back
        // and the child's stop is not an entry.
        assert_eq!(result.unwrap(), 7);
    });
}

#[test]
fn a_par_call_in_a_cancelled_body_is_not_a_panic_entry() {
    run(2, 60, || async {
        let result = task_group(async |tg| {
            tg.cancel_scope().cancel();
            let (a, b) = par::join(|| 1, || 2);
            Ok::<_, pride::BoxError>(a + b)
        })
        .await;
        let error = result.unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        assert!(error.errors().is_empty(), "{error}");
    });
}

#[test]
fn a_real_panic_is_still_a_panic() {
    run(2, 60, || async {
        let error = task_group(async |tg| {
            tg.start_soon_named("cpu", async {
                par::for_each_range(0..100, |i| assert!(i < 50, "piece {i} failed"));
            });
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        assert!(error.errors()[0].is_panic());
        assert_eq!(error.errors()[0].name(), Some("cpu"));
    });
}

/// A `try_*` piece whose nested call a cancel stopped: the nested call's `Cancelled`
/// unwind is the stop reaching that piece, not a failure, so the try call, with no
/// failure to return, unwinds with `Cancelled` too, which the scope catches.
#[test]
fn a_try_call_whose_nested_call_a_cancel_stopped_is_cancelled() {
    run(2, 60, || async {
        let scope = CancelScope::new();
        let out = scope
            .run(async {
                par::try_map_range(0..1, |_| {
                    scope.cancel();
                    // Sees the cancelled scope on entry and unwinds with `Cancelled`.
                    par::scope(|s| s.spawn(|_| ()));
                    Ok::<_, MyError>(())
                })
            })
            .await;
        assert!(out.is_none(), "{out:?}");
        assert!(scope.cancelled_caught());
    });
}

/// About `micros` of CPU work that the optimiser cannot remove.
fn spin(micros: u64) {
    let end = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// A deadline that passes during a call whose work never suspends (so no timer fired
/// it): the call unwinds with `Cancelled`, which the scope catches as cancelled work.
#[test]
fn a_deadline_passing_during_a_panicking_form_is_caught_by_its_scope() {
    let out = run(2, 120, || async {
        // 20,000 items of 200 µs: seconds of work on two workers, far past 50 ms.
        let out = pride::move_on_after(Duration::from_millis(50), async {
            par::for_each_range(0..20_000, |_| spin(200));
        })
        .await;
        let scope = CancelScope::with_timeout(Duration::from_millis(50));
        let ran = scope
            .run(async {
                par::sum_range(0..20_000, |_| {
                    spin(200);
                    1u64
                })
            })
            .await;
        (out, ran, scope.cancelled_caught())
    });
    assert_eq!(out, (None, None, true));
}

/// Sets its flag when dropped, after a slow cleanup (20 ms): a group that ended before
/// the drop returned would read the flag unset.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_millis(20));
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A task polled during the upkeep of a `par` call runs nested inside the poll of the
/// task that made the call. Here it drops, by hand, the group whose child made the
/// call: the drop cannot wait for that child's poll, which is further down the same
/// stack, so it cancels the child and returns; the call stops before it runs another
/// item, and the child's future is dropped when its poll returns. The group of the
/// task that dropped it (here the outermost group) does not end before that.
///
/// One worker: task P runs `select!` between a group, whose child C makes a `par` call
/// of 5,000 items of 100 µs, and an event that C's first item sets. The set wakes P,
/// which the call's upkeep (about once a millisecond) polls; the event wins and
/// `select!` drops the group. A drop that waited for C's poll would wait for ever; the
/// watchdog bound only turns that hang into a failure.
#[test]
fn dropping_a_group_from_a_task_polled_during_par_upkeep_cancels_its_caller() {
    let (which, items_after, child_dropped) = run(1, 60, || async {
        let event = Arc::new(pride::Event::new());
        let dropped = Arc::new(AtomicBool::new(false));
        let items_after = Arc::new(AtomicUsize::new(0));
        let which = Arc::new(Mutex::new(None));
        let (child_event, child_dropped) = (event.clone(), dropped.clone());
        let (counted, p_which) = (items_after.clone(), which.clone());
        let group_dropped = Arc::new(AtomicBool::new(false));
        let set_when_dropped = group_dropped.clone();
        task_group(async move |outer| {
            outer.start_soon(async move {
                let group = task_group(async move |tg| {
                    tg.start_soon(async move {
                        let _guard = SetOnDrop(child_dropped);
                        par::for_each_range(0..5_000, |_| {
                            if set_when_dropped.load(Ordering::SeqCst) {
                                counted.fetch_add(1, Ordering::SeqCst);
                            }
                            child_event.set();
                            spin(100);
                        });
                    });
                });
                let won = pride::select! {
                    _ = group => "group",
                    () = event.wait() => "event",
                };
                group_dropped.store(true, Ordering::SeqCst);
                *p_which.lock().unwrap() = Some(won);
            });
        })
        .await
        .expect("nothing fails");
        let which = *which.lock().unwrap();
        (
            which,
            items_after.load(Ordering::SeqCst),
            dropped.load(Ordering::SeqCst),
        )
    });
    assert_eq!(which, Some("event"));
    assert_eq!(items_after, 0, "items ran after the group was dropped");
    assert!(
        child_dropped,
        "the outer group ended before the child's future was dropped"
    );
}

/// As above, one level further out: the task that dropped the group ends, and a second
/// task polled in the same upkeep drops, by hand, the group the first one was a child
/// of. That group holds on for the first group's child, still further down the stack:
/// its drop does not wait for it either, and the group of the second task does not
/// end before it is gone.
///
/// One worker: Q runs `select!` between group H and event `h_event`; H's child P runs
/// `select!` between group G and event `g_event`; G's child C makes the long `par`
/// call whose first item sets `g_event`. The upkeep polls P, which drops G and sets
/// `h_event`, then polls Q, which drops H. The watchdog bound only turns a hang into a
/// failure.
#[test]
fn dropping_the_group_around_one_dropped_during_par_upkeep_does_not_wait_for_it() {
    let (won, items_after, child_dropped) = run(1, 60, || async {
        let (g_event, h_event) = (Arc::new(pride::Event::new()), Arc::new(pride::Event::new()));
        let dropped = Arc::new(AtomicBool::new(false));
        let items_after = Arc::new(AtomicUsize::new(0));
        let won = Arc::new(Mutex::new(Vec::new()));
        let h_dropped = Arc::new(AtomicBool::new(false));
        let (child_dropped, counted, after) =
            (dropped.clone(), items_after.clone(), h_dropped.clone());
        let (q_won, p_won) = (won.clone(), won.clone());
        task_group(async move |outer| {
            outer.start_soon(async move {
                let p_h_event = h_event.clone();
                let h = task_group(async move |h| {
                    h.start_soon(async move {
                        let child_event = g_event.clone();
                        let g = task_group(async move |g| {
                            g.start_soon(async move {
                                let _guard = SetOnDrop(child_dropped);
                                par::for_each_range(0..5_000, |_| {
                                    if after.load(Ordering::SeqCst) {
                                        counted.fetch_add(1, Ordering::SeqCst);
                                    }
                                    child_event.set();
                                    spin(100);
                                });
                            });
                        });
                        let which = pride::select! {
                            _ = g => "G",
                            () = g_event.wait() => "g_event",
                        };
                        p_won.lock().unwrap().push(which);
                        p_h_event.set();
                    });
                });
                let which = pride::select! {
                    _ = h => "H",
                    () = h_event.wait() => "h_event",
                };
                h_dropped.store(true, Ordering::SeqCst);
                q_won.lock().unwrap().push(which);
            });
        })
        .await
        .expect("nothing fails");
        let won = won.lock().unwrap().clone();
        (
            won,
            items_after.load(Ordering::SeqCst),
            dropped.load(Ordering::SeqCst),
        )
    });
    assert_eq!(won, ["g_event", "h_event"]);
    assert_eq!(items_after, 0, "items ran after the groups were dropped");
    assert!(
        child_dropped,
        "the outer group ended before the child's future was dropped"
    );
}

/// As the first test, on two workers, many times, with every item setting the event:
/// the task that drops the group is polled during the upkeep of the worker that owns
/// the call, or of the other one while it runs a stolen piece of the call (whose end
/// the call waits for), or by a worker's run loop. No drop may wait for a poll or a
/// piece further down its own stack, and the outer group still ends after the child.
#[test]
fn dropping_a_group_during_the_upkeep_of_a_stolen_piece_does_not_wait_for_it() {
    for _ in 0..20 {
        let (which, child_dropped) = run(2, 60, || async {
            let event = Arc::new(pride::Event::new());
            let dropped = Arc::new(AtomicBool::new(false));
            let which = Arc::new(Mutex::new(None));
            let (child_event, child_dropped) = (event.clone(), dropped.clone());
            let p_which = which.clone();
            task_group(async move |outer| {
                outer.start_soon(async move {
                    let group = task_group(async move |tg| {
                        tg.start_soon(async move {
                            let _guard = SetOnDrop(child_dropped);
                            par::for_each_range(0..5_000, |_| {
                                child_event.set();
                                spin(100);
                            });
                        });
                    });
                    let won = pride::select! {
                        _ = group => "group",
                        () = event.wait() => "event",
                    };
                    *p_which.lock().unwrap() = Some(won);
                });
            })
            .await
            .expect("nothing fails");
            let which = *which.lock().unwrap();
            (which, dropped.load(Ordering::SeqCst))
        });
        assert_eq!(which, Some("event"));
        assert!(
            child_dropped,
            "the outer group ended before the child's future was dropped"
        );
    }
}

/// A `scope` whose enclosing cancel scope is cancelled by one of its spawns starts no
/// spawn after that, and unwinds with `Cancelled`, which the scope catches. One
/// worker: the spawns run one after the other, in some order; the one that cancels
/// is in the middle.
#[test]
fn scope_spawns_stop_once_the_enclosing_cancel_scope_is_cancelled() {
    let (out, ran, after) = run(1, 60, || async {
        let cs = CancelScope::new();
        let (ran, after, cancelled) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicBool::new(false),
        );
        let inner = cs.clone();
        let out = cs
            .run(async {
                par::scope(|s| {
                    let count = |_: &par::Scope<'_>| {
                        ran.fetch_add(1, Ordering::SeqCst);
                        if cancelled.load(Ordering::SeqCst) {
                            after.fetch_add(1, Ordering::SeqCst);
                        }
                    };
                    for _ in 0..100 {
                        s.spawn(count);
                    }
                    s.spawn(|_| {
                        inner.cancel();
                        cancelled.store(true, Ordering::SeqCst);
                    });
                    for _ in 0..100 {
                        s.spawn(count);
                    }
                });
            })
            .await;
        (out, ran.into_inner(), after.into_inner())
    });
    assert_eq!(
        after, 0,
        "{after} spawns started after the cancel ({ran} ran)"
    );
    assert!(ran < 200);
    assert_eq!(out, None, "the scope did not unwind with `Cancelled`");
}

/// A `scope` in a group child whose sibling fails while the scope runs: the spawns
/// left do not start, and the group reports the sibling's error only. One worker: the
/// first spawn wakes the sibling, which only the upkeep of the worker running the
/// spawns can poll (it comes within 32 spawns of 100 µs: two looks, a millisecond
/// apart).
#[test]
fn a_scope_in_a_child_cancelled_mid_run_stops() {
    let (result, ran) = run(1, 60, || async {
        let go = pride::Event::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let (wake, counted) = (go.clone(), ran.clone());
        let result = task_group(async |tg| {
            tg.start_soon_named("failing", async move {
                go.wait().await;
                Err::<(), _>(MyError(9))
            });
            tg.start_soon_named("cpu", async move {
                par::scope(|s| {
                    for _ in 0..400 {
                        s.spawn(|_| {
                            wake.set();
                            counted.fetch_add(1, Ordering::SeqCst);
                            spin(100);
                        });
                    }
                });
            });
            Ok::<_, pride::BoxError>(())
        })
        .await;
        (result, ran.load(Ordering::SeqCst))
    });
    let error = result.unwrap_err();
    assert_eq!(error.errors().len(), 1, "{error}");
    assert!(error.find::<MyError>().is_some(), "{error}");
    assert!(ran < 400, "every spawn ran: the scope did not stop");
}

/// The worker that waits for a `scope` and runs its spawns does upkeep between them,
/// as between items and joins: a task woken before the spawns run is polled while
/// they run. One worker; 64 spawns of 100 µs, upkeep within 32 of them (see above).
#[test]
fn a_long_scope_inside_a_task_does_upkeep_between_spawns() {
    let before = run(1, 60, || async {
        let go = pride::Event::new();
        let polled = Arc::new(AtomicBool::new(false));
        let before = Arc::new(AtomicUsize::new(0));
        let (wake, seen, counted) = (go.clone(), polled.clone(), before.clone());
        task_group(async |tg| {
            tg.start_soon_named("other", async move {
                go.wait().await;
                polled.store(true, Ordering::SeqCst);
            });
            tg.start_soon_named("cpu", async move {
                wake.set();
                par::scope(|s| {
                    for _ in 0..64 {
                        s.spawn(|_| {
                            if !seen.load(Ordering::SeqCst) {
                                counted.fetch_add(1, Ordering::SeqCst);
                            }
                            spin(100);
                        });
                    }
                });
            });
            Ok::<_, pride::BoxError>(())
        })
        .await
        .unwrap();
        before.load(Ordering::SeqCst)
    });
    assert!(before < 64, "the woken task ran only after the scope");
}

/// Two tasks on one worker each make a long call: the second is polled by the first
/// call's upkeep and runs nested in it, and does upkeep of its own, so a third task,
/// woken by a timer, runs during it and cancels both calls. Were the nested call left
/// without upkeep, it would run all its items before the timer's task could run.
#[test]
fn a_long_call_made_by_a_task_polled_during_upkeep_does_upkeep_too() {
    const ITEMS: usize = 20_000;
    let (outcomes, ran) = run(1, 60, || async {
        let scopes = [CancelScope::new(), CancelScope::new()];
        let ran = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let outcomes = Arc::new(Mutex::new([None, None]));
        task_group(async |tg| {
            for (i, scope) in scopes.iter().enumerate() {
                let (scope, ran, outcomes) = (scope.clone(), ran.clone(), outcomes.clone());
                tg.start_soon(async move {
                    let out = scope
                        .run(async {
                            par::for_each_range(0..ITEMS, |_| {
                                ran[i].fetch_add(1, Ordering::Relaxed);
                                spin(100);
                            })
                        })
                        .await;
                    outcomes.lock().unwrap()[i] = Some(out.is_some());
                });
            }
            let scopes = scopes.clone();
            tg.start_soon(async move {
                pride::sleep(Duration::from_millis(20)).await;
                for scope in &scopes {
                    scope.cancel();
                }
            });
            Ok::<_, pride::BoxError>(())
        })
        .await
        .unwrap();
        let outcomes = *outcomes.lock().unwrap();
        (outcomes, ran.each_ref().map(|n| n.load(Ordering::Relaxed)))
    });
    assert_eq!(
        outcomes,
        [Some(false), Some(false)],
        "a call was not cancelled; items run: {ran:?}"
    );
    assert!(ran.iter().all(|&n| n < ITEMS), "items run: {ran:?}");
}

/// A deadline set while a call runs, on its scope or on a scope around it, stops the
/// call once it passes, as one set before the call does. One worker; an item sets a
/// deadline 20 ms ahead, and the 200 items of 1 ms take 200 ms.
#[test]
fn a_future_deadline_set_during_a_par_call_stops_it() {
    for on_outer in [false, true] {
        let (out, ran) = run(1, 60, move || async move {
            let outer = CancelScope::new();
            let inner = CancelScope::new();
            let set_on = if on_outer {
                outer.clone()
            } else {
                inner.clone()
            };
            let ran = AtomicUsize::new(0);
            let out = outer
                .run(inner.run(async {
                    par::for_each_range(0..200, |i| {
                        if i == 10 {
                            let at = pride::current_time() + Duration::from_millis(20);
                            set_on.set_deadline(Some(at));
                        }
                        ran.fetch_add(1, Ordering::SeqCst);
                        spin(1_000);
                    })
                }))
                .await;
            (out, ran.into_inner())
        });
        assert!(ran < 200, "on_outer={on_outer}: every item ran");
        // The scope whose deadline passed catches the call's stop.
        let caught_by = if on_outer { None } else { Some(None) };
        assert_eq!(out, caught_by, "on_outer={on_outer}");
    }
}

/// How long a piece waits for another worker to take a piece: a bound that turns a
/// hang into a failure (Miri runs the workers far slower).
const HANG_GUARD: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 20 });

/// `join` whose second half another worker runs: the first waits until it started.
fn join_elsewhere<T: Send>(f: impl Fn() -> T + Sync) -> (T, T) {
    let started = AtomicBool::new(false);
    par::join(
        || {
            let end = Instant::now() + HANG_GUARD;
            while !started.load(Ordering::SeqCst) {
                assert!(Instant::now() < end, "hang guard");
                std::hint::spin_loop();
            }
            f()
        },
        || {
            started.store(true, Ordering::SeqCst);
            f()
        },
    )
}

/// Pieces run in the scope of the code that made the call, on whatever worker: they
/// see its effective deadline. A call made in a task, and one handed over by the
/// `block_on` thread; halves and spawns that run on the other worker.
#[test]
fn every_piece_sees_the_callers_deadline() {
    fn check() {
        let mine = pride::current_effective_deadline();
        assert!(mine.is_some());
        let (a, b) = join_elsewhere(pride::current_effective_deadline);
        assert_eq!((a, b), (mine, mine), "join");
        let (spawned, started) = (Mutex::new(None), AtomicBool::new(false));
        par::scope(|s| {
            s.spawn(|_| {
                started.store(true, Ordering::SeqCst);
                *spawned.lock().unwrap() = Some(pride::current_effective_deadline());
            });
            // Held until another worker took the spawn.
            let end = Instant::now() + HANG_GUARD;
            while !started.load(Ordering::SeqCst) {
                assert!(Instant::now() < end, "hang guard");
                std::hint::spin_loop();
            }
        });
        assert_eq!(spawned.into_inner().unwrap(), Some(mine), "scope");
    }
    run(2, HANG_GUARD.as_secs() * 2, || async {
        let in_task = task_group(async |tg| {
            tg.start_soon(async {
                pride::move_on_after(Duration::from_secs(3600), async { check() })
                    .await
                    .expect("not cancelled");
            });
            Ok::<_, pride::BoxError>(())
        })
        .await;
        in_task.unwrap();
        pride::move_on_after(Duration::from_secs(3600), async { check() })
            .await
            .expect("not cancelled");
    });
}

/// A waker that panics once armed.
struct PanicsOnceArmed {
    armed: AtomicBool,
    /// Set as the panic leaves the waker.
    left: AtomicBool,
}

impl PanicsOnceArmed {
    fn new() -> Arc<PanicsOnceArmed> {
        Arc::new(PanicsOnceArmed {
            armed: AtomicBool::new(false),
            left: AtomicBool::new(false),
        })
    }
}

impl Wake for PanicsOnceArmed {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        struct Leave<'a>(&'a AtomicBool);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        if self.armed.load(Ordering::SeqCst) {
            let _leave = Leave(&self.left);
            panic!("a waker that panics");
        }
    }
}

/// Pending once (waking nobody), then ready: a suspension point at which the scope
/// around registers the waker it is polled with.
struct PendOnce(bool);

impl Future for PendOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Runs `call` in a cancel scope whose deadline only a look of a `par` call can fire,
/// and whose waker, `waker`, then panics; returns the outcome of the poll that ran the
/// call.
///
/// The scope's work is polled by hand with `waker`: it suspends once (the scope
/// registers the waker, with no deadline to arm a timer for), then sets the scope's
/// deadline 5 ms ahead on the runtime's mock clock (a timer is armed only at the next
/// suspension, which never comes), arms the waker and runs `call`, which moves the
/// clock past the deadline. Call it in a task, on a worker.
fn run_past_a_deadline_only_a_look_fires<R>(
    waker: Arc<PanicsOnceArmed>,
    call: impl FnOnce() -> R,
) -> std::thread::Result<Poll<Option<R>>> {
    let armed = waker.clone();
    let waker = Waker::from(waker);
    let mut cx = Context::from_waker(&waker);
    let scope = CancelScope::new();
    let handle = scope.clone();
    let mut run = Box::pin(scope.run(async move {
        PendOnce(false).await;
        handle.set_deadline(Some(pride::current_time() + Duration::from_millis(5)));
        armed.armed.store(true, Ordering::SeqCst);
        call()
    }));
    assert!(run.as_mut().poll(&mut cx).is_pending());
    catch_unwind(AssertUnwindSafe(|| run.as_mut().poll(&mut cx)))
}

/// What a poll of a scope's work gave, in words.
fn outcome<R>(polled: std::thread::Result<Poll<Option<R>>>) -> String {
    match polled {
        Ok(Poll::Ready(None)) => "stopped as cancelled work".to_owned(),
        Ok(Poll::Ready(Some(_))) => "ran to its end".to_owned(),
        Ok(Poll::Pending) => "pending".to_owned(),
        Err(panic) if panic.is::<par::Cancelled>() => "unwound with `Cancelled`".to_owned(),
        Err(panic) => format!("unwound with {:?}", panic_text(&*panic)),
    }
}

/// Runs `work` in a task (on a worker) and returns its value.
async fn in_a_task<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> T {
    let out = Arc::new(Mutex::new(None));
    let slot = out.clone();
    task_group(async move |tg| {
        tg.start_soon(async move {
            *slot.lock().unwrap() = Some(work.await);
        });
    })
    .await
    .expect("the task ran");
    out.lock().unwrap().take().expect("the task gave its value")
}

/// A look that finds the call's deadline passed fires it itself, waking the work in the
/// scope; a waker that panics there is contained, as when a timer fires it (the panic
/// hook reports it): the call stops as cancelled work, which its scope catches. It
/// used to unwind out of the look into the item that happened to look, failing the
/// call with the waker's panic, and left the worker's countdown to the next look at
/// zero: the next call on that worker underflowed it. One worker, mock clock.
#[test]
fn a_panicking_waker_woken_by_a_deadline_a_look_fires_is_contained() {
    let (polled, next) = block_on(60, builder(1).clock(Clock::mock()), || {
        in_a_task(async {
            let polled = run_past_a_deadline_only_a_look_fires(PanicsOnceArmed::new(), || {
                par::for_each_range(0..10_000, |i| {
                    if i == 0 {
                        pride::time::advance(Duration::from_millis(10));
                    }
                });
            });
            let next = catch_unwind(|| par::sum_range(0..1_000, |i| i as u64))
                .map_err(|panic| panic_text(&*panic).to_owned());
            (outcome(polled), next)
        })
    });
    assert_eq!(polled, "stopped as cancelled work");
    assert_eq!(next, Ok(499_500), "the next call on that worker");
}

/// A worker waiting for a `scope` runs its spawns and looks after them. A look that
/// fired the deadline, whose waker panicked, used to unwind out of that wait, and out
/// of `scope`, while a spawn still ran on the other worker with a pointer into the
/// scope's frame. Now the panic is contained and the scope waits for that spawn; the
/// call after it sees the cancel and unwinds with `Cancelled`, which the scope catches.
///
/// Two workers, mock clock. The other worker takes `long`, which runs until the panic
/// has left the waker and 100 ms more. The waiting worker pops the spawns last in,
/// first out: 32 of 1 ms (by then it looks after every job, a millisecond having passed
/// since the last look), then the one that moves the clock past the deadline, after
/// which it looks and fires it. Should `scope` unwind before `long` ends, `long` never
/// touches the scope again (it parks for ever), and the runtime is leaked so that its
/// drop does not wait for it.
#[test]
fn a_deadline_fired_by_the_look_of_a_worker_waiting_for_a_scope_does_not_unwind_it() {
    static UNWOUND: AtomicBool = AtomicBool::new(false);
    let (polled, long_done) = watchdog(60, || {
        let runtime = builder(2).clock(Clock::mock()).build().expect("runtime");
        let outcome = runtime.block_on(in_a_task(async {
            let done = Arc::new(AtomicBool::new(false));
            let long_done = done.clone();
            let waker = PanicsOnceArmed::new();
            let woken = waker.clone();
            let polled = run_past_a_deadline_only_a_look_fires(waker, move || {
                let started = Arc::new(AtomicBool::new(false));
                let long_started = started.clone();
                par::scope(move |s| {
                    s.spawn(move |_| {
                        long_started.store(true, Ordering::SeqCst);
                        spin_until(|| woken.left.load(Ordering::SeqCst));
                        for _ in 0..100 {
                            if UNWOUND.load(Ordering::SeqCst) {
                                // The scope is gone: never touch it again.
                                loop {
                                    std::thread::park();
                                }
                            }
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        long_done.store(true, Ordering::SeqCst);
                    });
                    spin_until(|| started.load(Ordering::SeqCst));
                    s.spawn(|_| pride::time::advance(Duration::from_millis(10)));
                    for _ in 0..32 {
                        s.spawn(|_| std::thread::sleep(Duration::from_millis(1)));
                    }
                });
                // Every spawn had started: `scope` returns. This call sees the cancel.
                par::join(|| (), || ());
            });
            let long_done = done.load(Ordering::SeqCst);
            if !long_done {
                UNWOUND.store(true, Ordering::SeqCst);
            }
            (outcome(polled), long_done)
        }));
        if UNWOUND.load(Ordering::SeqCst) {
            // A worker is parked for ever in the spawn that outlived its scope.
            std::mem::forget(runtime);
        }
        outcome
    });
    assert!(
        long_done,
        "`scope` {polled} while one of its spawns still ran on another worker"
    );
    assert_eq!(polled, "stopped as cancelled work");
}

/// A `try_*` call stopped by a cancel with no piece failed has no failure to return: it
/// unwinds with `Cancelled`, like the other forms, so a group child that passes its
/// outcome on with `?` leaves its group cancelled, not failed (it used to return an
/// error, which the `?` made a failure of the group). The child cancels the scope
/// around the group, then makes the call, which sees the cancel on entry or, made
/// first, at a look after its first item cancels.
#[test]
fn a_try_call_stopped_by_a_cancel_from_outside_leaves_its_group_cancelled() {
    for in_item in [false, true] {
        let (result, caught) = run(2, 60, move || async move {
            let scope = CancelScope::new();
            let canceller = scope.clone();
            let result = scope
                .run(task_group(async move |tg| {
                    tg.start_soon(async move {
                        if !in_item {
                            canceller.cancel();
                        }
                        par::try_map_range(0..100_000, |i| {
                            if in_item && i == 0 {
                                canceller.cancel();
                            }
                            Ok::<_, MyError>(i)
                        })?;
                        Ok::<(), pride::BoxError>(())
                    });
                    Ok::<_, pride::BoxError>(())
                }))
                .await
                .map(|result| result.map_err(|error| error.to_string()));
            (result, scope.cancelled_caught())
        });
        assert_eq!(result, None, "in_item={in_item}");
        assert!(caught, "in_item={in_item}");
    }
}

/// Does its cleanup with a `par` call, counting the items it ran.
struct ParCleanup(Arc<AtomicUsize>);

impl Drop for ParCleanup {
    fn drop(&mut self) {
        par::for_each_range(0..4, |_| {
            self.0.fetch_add(1, Ordering::SeqCst);
        });
    }
}

/// The cleanup of work a cancel dropped runs in the cancelled scope: a `par` call there
/// starts nothing, and its `Cancelled` ends the cleanup as cancelled work, not as a
/// panic of the cleanup (it used to make `move_on_after` unwind, and a group child's
/// cleanup an entry). Work dropped where no cancel stands runs its cleanup's call.
#[test]
fn a_par_call_in_the_cleanup_of_cancelled_work_ends_it_as_cancelled_work() {
    let (moved_on, in_child, completed) = autojump(60, || async {
        let cleaned = Arc::new(AtomicUsize::new(0));
        let guard = ParCleanup(cleaned.clone());
        // In a task, so that an unwind out of `move_on_after` is reported.
        let moved_on = task_group(async move |tg| {
            tg.start_soon(async move {
                let out = pride::move_on_after(Duration::from_secs(1), async move {
                    let _guard = guard;
                    pride::sleep(Duration::from_secs(10)).await;
                })
                .await;
                assert_eq!(out, None);
            });
            Ok::<_, pride::BoxError>(())
        })
        .await
        .map_err(|error| error.to_string());
        let moved_on = (moved_on, cleaned.swap(0, Ordering::SeqCst));
        let guard = ParCleanup(cleaned.clone());
        let in_child = task_group(async move |tg| {
            tg.start_soon_named("guarded", async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            pride::sleep(Duration::from_secs(1)).await;
            tg.cancel_scope().cancel();
            Ok::<_, pride::BoxError>(7)
        })
        .await
        .map_err(|error| error.to_string());
        let in_child = (in_child, cleaned.swap(0, Ordering::SeqCst));
        let guard = ParCleanup(cleaned.clone());
        pride::move_on_after(Duration::from_secs(1), async move { drop(guard) })
            .await
            .expect("not cancelled");
        (moved_on, in_child, cleaned.load(Ordering::SeqCst))
    });
    assert_eq!(moved_on, (Ok(()), 0), "move_on_after");
    assert_eq!(in_child, (Ok(7), 0), "a group child");
    assert_eq!(completed, 4, "no cancel stands");
}

/// Two guards with a `par` call in their cleanup, in work a cancel dropped: the first
/// call unwinds with `Cancelled`, and the second guard is dropped during that unwind. A
/// `par` call made while a panic unwinds cannot unwind itself (that would abort the
/// process): it does not see the cancel, and runs. (Without that, this test aborts.)
#[test]
fn a_par_call_in_cleanup_during_an_unwind_runs_instead_of_aborting() {
    let (out, cleaned) = autojump(60, || async {
        let cleaned = Arc::new(AtomicUsize::new(0));
        let guards = (ParCleanup(cleaned.clone()), ParCleanup(cleaned.clone()));
        let out = pride::move_on_after(Duration::from_secs(1), async move {
            let _guards = guards;
            pride::sleep(Duration::from_secs(10)).await;
        })
        .await;
        (out, cleaned.load(Ordering::SeqCst))
    });
    assert_eq!(out, None);
    // The first guard's call started nothing; the second's, during the unwind, ran.
    assert_eq!(cleaned, 4);
}
