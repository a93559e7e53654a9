//! Panics of user code that a worker runs outside a task's poll: a task's join waker,
//! a socket's waker, the `Drop` of an output nobody reads. Each is contained where it
//! runs: the worker survives, and the panic does not unwind into whoever let go of the
//! task last (a group's exit, `block_on`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use crate::common::{run, runtime, spin_until, watchdog};

/// A waker that sets its flag, then panics, when woken.
struct FlagPanickyWaker(Arc<AtomicBool>);

impl Wake for FlagPanickyWaker {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
        panic!("waker panics");
    }
}

fn flag_panicky_waker() -> (Waker, Arc<AtomicBool>) {
    let woken = Arc::new(AtomicBool::new(false));
    (
        Waker::from(Arc::new(FlagPanickyWaker(woken.clone()))),
        woken,
    )
}

/// A one-worker runtime still runs a child.
async fn the_worker_still_runs_a_child() {
    let ran = Arc::new(AtomicBool::new(false));
    let ran2 = ran.clone();
    pride::task_group(async move |tg| {
        tg.start_soon(async move { ran2.store(true, Ordering::SeqCst) });
    })
    .await
    .unwrap();
    assert!(ran.load(Ordering::SeqCst));
}

/// A `TaskHandle` last polled with a waker that panics: the child completes on the
/// worker, which wakes that waker. With one worker, nothing would run again if the
/// panic unwound out of its loop.
#[test]
fn a_join_waker_that_panics_does_not_kill_the_worker() {
    run(1, 20, || async {
        let event = pride::Event::new();
        let r = pride::task_group(async |tg| {
            let wait = event.clone();
            let mut handle = tg.spawn(async move {
                wait.wait().await;
                Ok::<_, pride::BoxError>(1)
            });
            let (waker, woken) = flag_panicky_waker();
            let mut cx = Context::from_waker(&waker);
            assert!(Pin::new(&mut handle).poll(&mut cx).is_pending());
            event.set();
            // The worker runs the child to its end and wakes the panicking waker; this
            // thread (`block_on`'s, not a worker) waits for that without polling again.
            spin_until(|| woken.load(Ordering::SeqCst));
            assert_eq!(handle.await.unwrap(), 1);
            let h = tg.spawn(async { Ok::<_, pride::BoxError>(2) });
            h.await
        })
        .await;
        assert_eq!(r.unwrap(), 2);
        the_worker_still_runs_a_child().await;
    });
}
/// A socket wait polled with a waker that panics: the readiness event is dispatched by
/// the worker parked in the driver, which wakes that waker (as a timer's waker, the
/// panic is contained).
#[test]
fn an_io_waker_that_panics_does_not_kill_the_worker() {
    run(1, 20, || async {
        let listener = pride::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (waker, woken) = flag_panicky_waker();
        let mut cx = Context::from_waker(&waker);
        let mut accept = Box::pin(listener.accept());
        assert!(accept.as_mut().poll(&mut cx).is_pending());
        let _client = std::net::TcpStream::connect(addr).unwrap();
        // The worker parks in the driver, gets the event, wakes the waker.
        spin_until(|| woken.load(Ordering::SeqCst));
        drop(accept);
        the_worker_still_runs_a_child().await;
    });
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

/// The output of a spawned child whose handle was dropped panics when dropped: here
/// (the usual order) the group's exit lets go of the task last and drops it. The panic
/// is discarded: it does not unwind out of `task_group(..).await` nor `block_on`.
#[test]
fn an_unread_output_that_panics_on_drop_does_not_unwind_out_of_the_group() {
    let rt = runtime(1);
    watchdog(20, move || {
        let r = rt.block_on(pride::task_group(async |tg| {
            let handle = tg.spawn(async {
                pride::yield_now().await;
                Ok::<_, pride::BoxError>(PanicOnDrop)
            });
            drop(handle);
        }));
        assert!(r.is_ok(), "{r:?}");
        rt.block_on(the_worker_still_runs_a_child());
    });
}

/// As above, with the group busy-polled (its future wakes itself), so that its exit
/// races the worker that finishes the child: when the group lets go of the task first,
/// the worker drops the unread output. The one-worker runtime must survive every
/// round (the watchdog fires if it dies).
#[test]
fn an_unread_output_that_panics_on_drop_on_a_worker_does_not_kill_it() {
    let rt = runtime(1);
    watchdog(60, move || {
        for _ in 0..2000 {
            let r = rt.block_on(async {
                let mut g = Box::pin(pride::task_group(async |tg| {
                    let h = tg.spawn(async { Ok::<_, pride::BoxError>(PanicOnDrop) });
                    drop(h);
                }));
                std::future::poll_fn(|cx| match g.as_mut().poll(cx) {
                    Poll::Ready(r) => Poll::Ready(r),
                    Poll::Pending => {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await
            });
            assert!(r.is_ok(), "{r:?}");
        }
        rt.block_on(the_worker_still_runs_a_child());
    });
}
