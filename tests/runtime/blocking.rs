//! `to_thread` on the public API: it runs elsewhere, returns the value, resumes a
//! panic in the caller (and so in the task group), a closure cancelled while queued
//! never runs, and a closure may call `block_on` of its own runtime (even at the pool's
//! cap).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::{block_on, builder, panic_text, watchdog};
use pride::time::Clock;
use pride::{task_group, to_thread};

#[test]
fn runs_on_another_thread_and_returns_the_value() {
    block_on(60, builder(2).max_blocking_threads(4), || async {
        let here = std::thread::current().id();
        let (value, there) =
            to_thread(|| (String::from("done"), std::thread::current().id())).await;
        assert_eq!(value, "done");
        assert_ne!(here, there);
    });
}

#[test]
fn many_closures_more_than_the_cap_all_finish() {
    block_on(60, builder(2).max_blocking_threads(3), || async {
        let results = Arc::new(std::sync::Mutex::new(Vec::new()));
        task_group(async |tg| {
            for i in 0..50u64 {
                let results = results.clone();
                tg.start_soon(async move {
                    let square = to_thread(move || {
                        std::thread::sleep(Duration::from_millis(1));
                        i * i
                    })
                    .await;
                    results.lock().unwrap().push(square);
                });
            }
        })
        .await
        .unwrap();
        let mut results = results.lock().unwrap().clone();
        results.sort_unstable();
        assert_eq!(results, (0..50u64).map(|i| i * i).collect::<Vec<_>>());
    });
}

#[test]
fn a_panic_resumes_in_the_caller() {
    block_on(60, builder(2).max_blocking_threads(2), || async {
        let caught = futures_lite::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
            to_thread(|| -> u32 { panic!("boom in the pool") }),
        ))
        .await
        .unwrap_err();
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"boom in the pool"));
    });
}

#[test]
fn a_panic_becomes_the_tasks_panic_error_in_a_group() {
    block_on(60, builder(2).max_blocking_threads(2), || async {
        let error = task_group(async |tg| {
            tg.start_soon_named("blocker", async {
                to_thread(|| panic!("blocking failure")).await;
            });
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        let task = &error.errors()[0];
        assert!(task.is_panic());
        assert_eq!(task.name(), Some("blocker"));
        assert_eq!(task.panic_message(), Some("blocking failure"));
    });
}

#[test]
fn cancelled_while_queued_never_runs() {
    block_on(60, builder(2).max_blocking_threads(1), || async {
        // Occupy the only pool thread until we say so.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let started = Arc::new(pride::Event::new());
        let ran = Arc::new(AtomicBool::new(false));
        task_group(async |tg| {
            let busy = started.clone();
            tg.start_soon(async move {
                to_thread(move || {
                    busy.set();
                    gate.recv().unwrap();
                })
                .await;
            });
            started.wait().await;
            // The pool's one thread is busy: this closure is queued, then cancelled.
            let ran2 = ran.clone();
            let queued = pride::move_on_after(
                Duration::from_millis(20),
                to_thread(move || ran2.store(true, Ordering::SeqCst)),
            )
            .await;
            assert!(queued.is_none());
            release.send(()).unwrap();
        })
        .await
        .unwrap();
        // The pool thread is free again and has been through the queue.
        to_thread(|| ()).await;
        assert!(!ran.load(Ordering::SeqCst));
    });
}

/// The autojump clock does not jump while a task waits for blocking-pool work: that
/// task is waiting on a computation, not on time, so an hour-long deadline around a
/// short job never fires.
#[test]
fn autojump_waits_for_blocking_pool_work() {
    crate::common::autojump(60, || async {
        for _ in 0..20 {
            let start = pride::current_time();
            let out = pride::move_on_after(
                Duration::from_secs(3600),
                pride::to_thread(|| std::thread::sleep(Duration::from_millis(5))),
            )
            .await;
            assert_eq!(out, Some(()), "time jumped while the job ran");
            assert_eq!(pride::current_time(), start);
        }
    });
}

/// Runs `outer` on `rt` under a watchdog; `outer` gets a second handle to `rt`, for a
/// `to_thread` closure to call `block_on` with.
fn nested<R: Send + 'static, F: Future<Output = R>>(
    rt: pride::Runtime,
    outer: impl FnOnce(Arc<pride::Runtime>) -> F + Send + 'static,
) -> R {
    let rt = Arc::new(rt);
    let inner = rt.clone();
    watchdog(30, move || rt.block_on(outer(inner)))
}

/// A `to_thread` closure may call `block_on` of its own runtime. While the closure
/// waits in that call it does not hold the autojump clock (the call's root counts as
/// any `block_on`'s does), so the nested sleep ends; back in the closure, it holds the
/// clock again: an hour-long deadline around it does not fire.
#[test]
fn block_on_inside_to_thread_of_the_same_autojump_runtime() {
    let rt = builder(2).clock(Clock::autojump()).build().unwrap();
    let (start, out, end) = nested(rt, |inner| async move {
        let start = pride::current_time();
        let out = pride::move_on_after(
            Duration::from_secs(3600),
            to_thread(move || {
                let slept = inner.block_on(async {
                    pride::sleep(Duration::from_secs(1)).await;
                    pride::current_time()
                });
                std::thread::sleep(Duration::from_millis(5));
                slept
            }),
        )
        .await;
        (start, out, pride::current_time())
    });
    let slept = out.expect("time jumped while the closure ran after its block_on");
    assert_eq!(slept - start, Duration::from_secs(1));
    assert_eq!(end, slept);
}

/// The same nesting on the system clock.
#[test]
fn block_on_inside_to_thread_of_the_same_system_clock_runtime() {
    let out = nested(builder(2).build().unwrap(), |inner| async move {
        to_thread(move || {
            inner.block_on(async {
                pride::sleep(Duration::from_millis(1)).await;
                7
            })
        })
        .await
    });
    assert_eq!(out, 7);
}

/// At the pool's cap (one thread here), a closure calls `block_on` of its own runtime,
/// whose future awaits another closure. The thread waiting in the nested `block_on`
/// does not count toward the cap, so the inner closure gets a thread of its own
/// instead of waiting for ever behind the closure that waits for it.
#[test]
fn to_thread_inside_a_nested_block_on_at_the_pool_cap_gets_a_thread() {
    let rt = builder(1).max_blocking_threads(1).build().unwrap();
    let out = nested(rt, |inner| async move {
        to_thread(move || inner.block_on(to_thread(|| 5))).await
    });
    assert_eq!(out, 5);
}

/// While one closure waits in a nested `block_on`, another closure that runs still
/// holds the autojump clock: the nested sleep ends only after that closure is done.
#[test]
fn a_running_closure_holds_the_clock_while_another_waits_in_a_nested_block_on() {
    let rt = builder(2).clock(Clock::autojump()).build().unwrap();
    let done_when_woken = nested(rt, |inner| async move {
        let done = Arc::new(AtomicBool::new(false));
        let (started, running) = std::sync::mpsc::channel();
        let working = {
            let done = done.clone();
            to_thread(move || {
                started.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(20));
                done.store(true, Ordering::SeqCst);
            })
        };
        let waiting = to_thread(move || {
            // The other closure is running (and holds the clock) from here on.
            running.recv().unwrap();
            inner.block_on(async move {
                pride::sleep(Duration::from_secs(1)).await;
                done.load(Ordering::SeqCst)
            })
        });
        let (done_when_woken, ()) = futures_lite::future::zip(waiting, working).await;
        done_when_woken
    });
    assert!(done_when_woken, "time jumped while a closure was running");
}

/// Panics when dropped (unless already unwinding).
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("PanicOnDrop dropped");
        }
    }
}

/// Polls `fut` once, then drops it: a closure submitted and cancelled while queued.
async fn submit_and_cancel<F: Future + Unpin>(mut fut: F) {
    std::future::poll_fn(|cx| {
        let _ = std::pin::Pin::new(&mut fut).poll(cx);
        std::task::Poll::Ready(())
    })
    .await;
}

/// On a one-thread pool, a closure occupies the thread while a second closure, whose
/// capture panics when dropped, is queued and cancelled; the first is released. The
/// thread skips the cancelled closure (dropping it panics), stays in the pool and is
/// no longer counted busy: `after` runs last.
fn cancelled_closure_whose_capture_panics(
    clock: Clock,
    after: impl Future<Output = ()> + Send + 'static,
) {
    let rt = builder(1)
        .max_blocking_threads(1)
        .clock(clock)
        .build()
        .unwrap();
    watchdog(20, move || {
        rt.block_on(async move {
            let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
            let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
            let mut first = Box::pin(to_thread(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                1
            }));
            std::future::poll_fn(|cx| {
                let _ = first.as_mut().poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
            started_rx.recv().unwrap();
            let bomb = PanicOnDrop;
            submit_and_cancel(Box::pin(to_thread(move || {
                let _keep = &bomb;
            })))
            .await;
            release_tx.send(()).unwrap();
            assert_eq!(first.await, 1);
            after.await;
        });
    });
}

#[test]
fn a_cancelled_closure_whose_capture_panics_on_drop_keeps_the_pool_thread() {
    cancelled_closure_whose_capture_panics(Clock::system(), async {
        assert_eq!(to_thread(|| 2).await, 2, "the pool lost its thread");
    });
}

/// The job's busy count goes with the panic too: otherwise the autojump clock never
/// jumps again, and the sleep hangs.
#[test]
fn a_cancelled_closure_whose_capture_panics_on_drop_lets_the_clock_jump() {
    cancelled_closure_whose_capture_panics(Clock::autojump(), async {
        pride::sleep(Duration::from_secs(1)).await;
    });
}

/// A waker that panics when woken.
struct PanickyWaker;

impl std::task::Wake for PanickyWaker {
    fn wake(self: Arc<Self>) {
        panic!("waker panics");
    }
}

/// A closure polled with a waker that panics (a hand-written combinator's): the pool
/// thread that wakes it at the closure's end survives, and a later closure runs.
#[test]
fn a_closure_whose_waker_panics_keeps_the_pool_thread() {
    let rt = builder(1).max_blocking_threads(1).build().unwrap();
    watchdog(20, move || {
        rt.block_on(async {
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let waker = std::task::Waker::from(Arc::new(PanickyWaker));
            let mut cx = std::task::Context::from_waker(&waker);
            let mut fut = Box::pin(to_thread(move || {
                /// Tells the test the closure is over, as it ends.
                struct Tell(std::sync::mpsc::Sender<()>);
                impl Drop for Tell {
                    fn drop(&mut self) {
                        let _ = self.0.send(());
                    }
                }
                let _t = Tell(done_tx);
            }));
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            done_rx.recv().unwrap();
            drop(fut);
            assert_eq!(to_thread(|| 2).await, 2, "the pool lost its thread");
        });
    });
}
/// A `to_thread` future polled again after it gave its value: a clear panic, not a
/// `Pending` nobody will ever wake.
#[test]
fn polled_after_completion_panics() {
    block_on(20, &builder(1), || async {
        let mut fut = Box::pin(to_thread(|| 1));
        assert_eq!(fut.as_mut().await, 1);
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            fut.as_mut().poll(&mut cx)
        }));
        match again {
            Err(panic) => assert_eq!(
                panic_text(&*panic),
                "pride: a to_thread future was polled after it completed"
            ),
            Ok(std::task::Poll::Ready(_)) => panic!("returned a second value"),
            Ok(std::task::Poll::Pending) => panic!("pends for ever: nothing will wake it"),
        }
    });
}

/// A closure whose future was dropped (its task cancelled by hand while the closure
/// blocks) runs on, but nobody waits for it any more: it no longer holds the autojump
/// clock, and a later sleep ends.
#[test]
fn a_dropped_closure_still_running_lets_the_clock_jump() {
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    crate::common::autojump(60, move || async move {
        let started = pride::Event::new();
        let running = started.clone();
        let scope = pride::CancelScope::new();
        let handle = scope.clone();
        task_group(async |tg| {
            tg.start_soon(async move {
                let out = scope
                    .run(to_thread(move || {
                        running.set();
                        // Blocks until the end of the test.
                        let _ = blocked.recv();
                    }))
                    .await;
                assert_eq!(out, None);
            });
            started.wait().await;
            handle.cancel();
        })
        .await
        .unwrap();
        let start = pride::current_time();
        pride::sleep(Duration::from_secs(1)).await;
        assert_eq!(pride::current_time() - start, Duration::from_secs(1));
        release.send(()).unwrap();
    });
}

/// The same while the closure waits in a nested `block_on` of its runtime: the call
/// holds the job's count meanwhile, and lets it go when it ends, since nobody waits
/// for the job any more. Both the nested sleep and the caller's later sleep end.
#[test]
fn a_closure_dropped_while_in_a_nested_block_on_lets_the_clock_jump() {
    let rt = builder(2).clock(Clock::autojump()).build().unwrap();
    let (finished, nested_end) = std::sync::mpsc::channel();
    nested(rt, move |inner| async move {
        let started = pride::Event::new();
        let running = started.clone();
        let scope = pride::CancelScope::new();
        let handle = scope.clone();
        task_group(async |tg| {
            tg.start_soon(async move {
                let work = to_thread(move || {
                    let slept = inner.block_on(async move {
                        running.set();
                        let start = pride::current_time();
                        pride::sleep(Duration::from_secs(5)).await;
                        pride::current_time() - start
                    });
                    finished.send(slept).unwrap();
                });
                assert_eq!(scope.run(work).await, None);
            });
            started.wait().await;
            handle.cancel();
        })
        .await
        .unwrap();
        pride::sleep(Duration::from_secs(10)).await;
    });
    let nested_slept = nested_end
        .recv_timeout(Duration::from_secs(60))
        .expect("the nested sleep ended");
    assert_eq!(nested_slept, Duration::from_secs(5));
}

/// A closure already queued when another enters a nested `block_on` that waits for it
/// finds a thread too: at the pool's cap of one, the closure that waits leaves the cap
/// as it enters the call, and the queued closure gets a thread of its own.
#[test]
fn a_closure_queued_before_a_nested_block_on_that_waits_for_it_gets_a_thread() {
    let rt = builder(1).max_blocking_threads(1).build().unwrap();
    nested(rt, |inner| async move {
        let watched = inner.clone();
        let (a_running, b_done) = (pride::Event::new(), pride::Event::new());
        let (b_queued, wait_for_b) = std::sync::mpsc::channel::<()>();
        task_group(async |tg| {
            let (running, done) = (a_running.clone(), b_done.clone());
            tg.start_soon(to_thread(move || {
                running.set();
                wait_for_b.recv().unwrap();
                inner.block_on(done.wait());
            }));
            a_running.wait().await;
            let done = b_done.clone();
            tg.start_soon(to_thread(move || done.set()));
            crate::common::yield_until(|| watched.metrics().blocking_queue_depth == 1).await;
            b_queued.send(()).unwrap();
        })
        .await
        .unwrap();
    });
}

/// Closures still queued when the runtime's drop begins never run: here one is queued
/// behind the pool's one thread, held until after the drop. A future of such a closure
/// polled afterwards panics saying why.
#[test]
fn a_closure_still_queued_when_the_runtime_drops_never_runs() {
    watchdog(60, || {
        let runtime = builder(2).max_blocking_threads(1).build().unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let running = ran.clone();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (hold, queued) = runtime.block_on(async move {
            let started = pride::Event::new();
            let set = started.clone();
            let mut hold = to_thread(move || {
                set.set();
                let _ = held.recv();
            });
            assert!(futures_lite::future::poll_once(&mut hold).await.is_none());
            started.wait().await;
            let mut queued = to_thread(move || running.store(true, Ordering::SeqCst));
            assert!(futures_lite::future::poll_once(&mut queued).await.is_none());
            (hold, queued)
        });
        drop(runtime);
        drop(release);
        drop(hold);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            futures_lite::future::block_on(queued)
        }));
        assert!(!ran.load(Ordering::SeqCst), "the queued closure ran");
        assert_eq!(
            panic_text(&*outcome.unwrap_err()),
            "pride: the runtime was dropped before this to_thread closure ran"
        );
    });
}

/// A closure waits on its runtime's timer through an executor of its own: on the
/// system clock it sleeps and returns; on the autojump clock, whose time stands still
/// while a closure runs, it gets a clear panic (in the awaiting task) instead of
/// waiting for ever.
#[test]
fn a_closure_waiting_on_a_timer_works_and_is_refused_on_the_autojump_clock() {
    block_on(60, &builder(2), || async {
        to_thread(|| futures_lite::future::block_on(pride::sleep(Duration::from_millis(5)))).await;
    });
    let refused = watchdog(60, || {
        let runtime = builder(2).clock(Clock::autojump()).build().unwrap();
        let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(to_thread(|| {
                futures_lite::future::block_on(pride::sleep(Duration::from_secs(1)))
            }))
        }));
        panic_text(&*waited.expect_err("the closure's wait was refused")).to_owned()
    });
    assert!(
        refused.contains("autojump") && refused.contains("to_thread"),
        "{refused}"
    );
}

/// A re-armed timer is refused in a closure on the autojump clock as a new one is: an
/// interval's second tick (its first is due at once) and a sleep reset after it ended
/// both panic there instead of waiting for ever.
#[test]
fn a_closure_waiting_on_a_re_armed_timer_is_refused_on_the_autojump_clock() {
    fn refusal(wait: fn()) -> String {
        watchdog(60, move || {
            let runtime = builder(1).clock(Clock::autojump()).build().unwrap();
            let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runtime.block_on(to_thread(wait))
            }));
            panic_text(&*waited.expect_err("the closure's wait was refused")).to_owned()
        })
    }
    let ticked_twice = refusal(|| {
        futures_lite::future::block_on(async {
            let mut every = pride::interval(Duration::from_secs(1));
            every.tick().await;
            every.tick().await;
        })
    });
    let reset = refusal(|| {
        futures_lite::future::block_on(async {
            let mut nap = std::pin::pin!(pride::sleep_until(pride::current_time()));
            nap.as_mut().await;
            nap.as_mut()
                .reset(pride::current_time() + Duration::from_secs(1));
            nap.await;
        })
    });
    for refused in [ticked_twice, reset] {
        assert!(
            refused.contains("autojump") && refused.contains("to_thread"),
            "{refused}"
        );
    }
}

/// A closure that outlives its runtime (its future let go of it, the runtime dropped)
/// runs outside every runtime from then on: `par` runs on the default pool, and what
/// needs a runtime (a timer, a group's child) gets the clear "outside a runtime" panic,
/// not a hang, nor a group that reports success for a child that never ran.
#[test]
fn a_closure_that_outlives_its_runtime_runs_outside_every_runtime() {
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let (send, outcomes) = std::sync::mpsc::channel();
    let runtime = builder(1).build().unwrap();
    runtime.block_on(async move {
        let started = pride::Event::new();
        let running = started.clone();
        let mut closure = Box::pin(to_thread(move || {
            running.set();
            wait.recv().unwrap();
            let quiet = |f: &mut dyn FnMut() -> String| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                    .unwrap_or_else(|panic| format!("panic: {}", panic_text(&*panic)))
            };
            let par = quiet(&mut || format!("{:?}", pride::par::map(&[1, 2, 3], |x| x * 2)));
            let sleep = quiet(&mut || {
                futures_lite::future::block_on(pride::sleep(Duration::from_millis(1)));
                "slept".to_owned()
            });
            let group = quiet(&mut || {
                let ran = Arc::new(AtomicBool::new(false));
                let ran2 = ran.clone();
                let out = futures_lite::future::block_on(task_group(async move |tg| {
                    tg.start_soon(async move { ran2.store(true, Ordering::SeqCst) });
                }));
                format!("{out:?} ran: {}", ran.load(Ordering::SeqCst))
            });
            send.send((par, sleep, group)).unwrap();
        }));
        // Started, then let go of: the closure runs on.
        assert!(
            futures_lite::future::poll_once(closure.as_mut())
                .await
                .is_none()
        );
        started.wait().await;
        drop(closure);
    });
    drop(runtime);
    go.send(()).unwrap();
    let (par, sleep, group) = outcomes
        .recv_timeout(Duration::from_secs(60))
        .expect("the closure hung");
    assert_eq!(par, "[2, 4, 6]");
    assert!(
        sleep.starts_with("panic: pride:") && sleep.contains("within a pride runtime"),
        "{sleep}"
    );
    assert!(
        group.starts_with("panic: pride:") || group.ends_with("ran: true"),
        "{group}"
    );
}

/// A closure that itself calls `to_thread` (and waits for it, here through an executor
/// of its own) gets a thread for it even at the pool's cap: with one thread, the job
/// would otherwise wait behind its own caller for ever.
#[test]
fn a_closure_calling_to_thread_at_the_cap_gets_a_thread() {
    let nested = block_on(60, builder(1).max_blocking_threads(1), || async {
        to_thread(|| futures_lite::future::block_on(to_thread(|| 5))).await
    });
    assert_eq!(nested, 5);
}

/// A closure that submits many jobs before it waits for them lends its own thread
/// once: the pool runs at most one thread beyond its cap for it, not one per job.
#[test]
fn a_closure_submitting_many_jobs_lends_the_cap_one_thread() {
    let most = block_on(60, builder(1).max_blocking_threads(2), || async {
        to_thread(|| {
            let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let jobs: Vec<_> = (0..64)
                .map(|_| {
                    let (running, most) = (running.clone(), most.clone());
                    let mut job = Box::pin(to_thread(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(2));
                        running.fetch_sub(1, Ordering::SeqCst);
                    }));
                    // Submitted now; waited for below.
                    let _ = futures_lite::future::block_on(futures_lite::future::poll_once(
                        job.as_mut(),
                    ));
                    job
                })
                .collect();
            for job in jobs {
                futures_lite::future::block_on(job);
            }
            most.load(Ordering::SeqCst)
        })
        .await
    });
    // The cap's two threads, one of them the submitting closure's, plus the one lent.
    assert!(
        most <= 2,
        "{most} closures ran at once beside the one submitting them"
    );
}

/// Opens a group in a `to_thread` closure, through an executor of the closure's own,
/// whose body starts one child with `start(tg, started)` (the child calls `started`
/// once it runs, then waits for ever); lets go of the closure once the child runs, then
/// drops the runtime. Returns the group's outcome, as the closure saw it.
fn group_in_a_closure_outliving_its_runtime(
    start: impl FnOnce(&pride::TaskGroup, Box<dyn FnOnce() + Send>) + Send + 'static,
) -> Result<(), pride::GroupError> {
    let (send, outcome) = std::sync::mpsc::channel();
    let (child_started, started) = std::sync::mpsc::channel::<()>();
    let runtime = builder(1).build().unwrap();
    runtime.block_on(async move {
        let closure = to_thread(move || {
            let out = futures_lite::future::block_on(task_group(async move |tg| {
                start(&tg, Box::new(move || child_started.send(()).unwrap()));
            }));
            send.send(out).unwrap();
        });
        // Started, then let go of: the closure runs on.
        let mut closure = std::pin::pin!(closure);
        assert!(
            futures_lite::future::poll_once(&mut closure)
                .await
                .is_none()
        );
        pride::to_thread(move || started.recv().unwrap()).await;
    });
    drop(runtime);
    outcome
        .recv_timeout(Duration::from_secs(60))
        .expect("the group hung")
}

/// A group that a closure opened while its runtime ran, whose child the runtime's drop
/// dropped before it finished, does not report success: the child is an entry of its
/// error, by name, saying the runtime was dropped.
#[test]
fn a_group_a_closure_opened_reports_the_child_its_runtimes_drop_dropped() {
    let outcome = group_in_a_closure_outliving_its_runtime(|tg, started| {
        tg.start_soon_named("stuck", async move {
            started();
            std::future::pending::<()>().await;
        });
    });
    let error = outcome.expect_err("the group reported success for a child dropped unfinished");
    let entries: Vec<_> = error
        .errors()
        .iter()
        .map(|t| format!("{:?}: {t}", t.name()))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0].starts_with("Some(\"stuck\")") && entries[0].contains("runtime was dropped"),
        "{entries:?}"
    );
}

/// An isolated child's failures never reach its group: one the runtime's drop dropped
/// unfinished is not reported to the group a closure still awaits either (nor to its
/// handler, which went with it).
#[test]
fn an_isolated_child_the_runtimes_drop_dropped_is_not_its_groups_failure() {
    let handled = Arc::new(AtomicBool::new(false));
    let handler_ran = handled.clone();
    let outcome = group_in_a_closure_outliving_its_runtime(move |tg, started| {
        tg.start_soon_isolated_with(
            "conn",
            async move {
                started();
                std::future::pending::<()>().await;
            },
            move |_| handler_ran.store(true, Ordering::SeqCst),
        );
    });
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(!handled.load(Ordering::SeqCst), "the handler ran");
}

/// Unnamed and named isolated children are exempt too, as is the one with a handler;
/// an ordinary child started with `try_start_soon` is reported.
#[test]
fn every_kind_of_isolated_child_the_runtimes_drop_dropped_is_exempt() {
    let unnamed = group_in_a_closure_outliving_its_runtime(|tg, started| {
        tg.start_soon_isolated(async move {
            started();
            std::future::pending::<()>().await;
        });
    });
    assert!(unnamed.is_ok(), "{unnamed:?}");
    let named = group_in_a_closure_outliving_its_runtime(|tg, started| {
        tg.start_soon_isolated_named("conn", async move {
            started();
            std::future::pending::<()>().await;
        });
    });
    assert!(named.is_ok(), "{named:?}");
    let ordinary = group_in_a_closure_outliving_its_runtime(|tg, started| {
        tg.try_start_soon(async move {
            started();
            std::future::pending::<()>().await;
        })
        .unwrap();
    });
    let error = ordinary.expect_err("an ordinary child's drop was taken for success");
    assert!(error.to_string().contains("runtime was dropped"), "{error}");
}

/// Whether the current runtime has begun to shut down: its pool refuses a closure then.
fn pool_refuses() -> bool {
    std::panic::catch_unwind(|| {
        futures_lite::future::block_on(futures_lite::future::poll_once(to_thread(|| ())))
    })
    .is_err()
}

/// A `File` written once its runtime's drop has begun (by a task whose poll was still
/// running then) fails at once: the pool refused the call, and the file went with it;
/// flush and close fail after it, and nothing reaches the file.
#[test]
fn a_file_write_refused_as_its_runtime_shuts_down_fails_at_once() {
    use futures_lite::AsyncWriteExt;
    use futures_lite::future::poll_once;

    let path = std::env::temp_dir().join(format!("pride-refused-write-{}", std::process::id()));
    let file = pride::fs::File::from_std(std::fs::File::create(&path).unwrap());
    let (send, outcome) = std::sync::mpsc::channel();
    let _ = group_in_a_closure_outliving_its_runtime(move |tg, started| {
        tg.start_soon(async move {
            let mut file = file;
            started();
            // Stays in this poll until the runtime's drop has begun (the drop waits for
            // the poll to end before it drops the task).
            let t0 = std::time::Instant::now();
            while !pool_refuses() {
                assert!(
                    t0.elapsed() < Duration::from_secs(30),
                    "the runtime was not dropped"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            let write = poll_once(file.write(b"x")).await;
            let flush = poll_once(file.flush()).await;
            let close = poll_once(file.close()).await;
            let text =
                |r: Option<std::io::Result<_>>| r.map(|r| r.map(|_| ()).map_err(|e| e.to_string()));
            send.send([text(write.map(|r| r.map(|_| ()))), text(flush), text(close)])
                .unwrap();
            std::future::pending::<()>().await;
        });
    });
    let outcomes = outcome
        .recv_timeout(Duration::from_secs(60))
        .expect("no outcome");
    for outcome in outcomes {
        let error = outcome
            .expect("an operation on the closed file stayed pending")
            .expect_err("an operation on a file whose write was refused succeeded");
        assert!(error.contains("the runtime was dropped"), "{error}");
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"",
        "the refused write reached the file"
    );
    let _ = std::fs::remove_file(&path);
}
