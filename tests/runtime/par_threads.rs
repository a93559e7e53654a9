//! `par` from threads that are not the runtime's own workers: a scope's spawns from
//! another runtime's workers, and a call from a thread-local's destructor.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{self, run};
use pride::par;

/// A `par::scope` spawn made on a worker of another runtime runs on the scope's own
/// runtime, and the scope ends once it has.
#[test]
fn a_scope_spawn_from_another_runtimes_worker_runs_on_the_scopes_runtime() {
    let other = std::sync::Arc::new(common::runtime(2));
    let on_other = other.clone();
    let (body, spawn) = run(1, 30, move || async move {
        let spawn = std::sync::Mutex::new(None);
        let body = par::scope(|s| {
            std::thread::scope(|ts| {
                ts.spawn(|| {
                    on_other.block_on(async {
                        par::join(
                            || {
                                s.spawn(|_| {
                                    *spawn.lock().unwrap() = Some(std::thread::current().id());
                                })
                            },
                            || (),
                        )
                    })
                });
            });
            std::thread::current().id()
        });
        (body, spawn.into_inner().unwrap())
    });
    drop(other);
    // The scope's runtime has one worker: the one that ran the body.
    assert_eq!(spawn, Some(body));
}

/// A spawn from a thread that is no runtime's worker (started inside the scope) runs
/// on the scope's runtime too.
#[test]
fn a_scope_spawn_from_a_plain_thread_runs_on_the_scopes_runtime() {
    let (body, spawn) = run(1, 30, || async {
        let spawn = std::sync::Mutex::new(None);
        let body = par::scope(|s| {
            std::thread::scope(|ts| {
                ts.spawn(|| {
                    s.spawn(|_| *spawn.lock().unwrap() = Some(std::thread::current().id()))
                });
            });
            std::thread::current().id()
        });
        (body, spawn.into_inner().unwrap())
    });
    assert_eq!(spawn, Some(body));
}

/// A `par` call from a thread-local's destructor, after this thread's pride context
/// is gone, runs (on the default runtime). Run in a child process, since the failure
/// was an abort.
#[test]
fn a_par_call_from_a_thread_local_destructor_runs() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "par_threads::par_call_in_a_thread_local_destructor",
            "--ignored",
            "--test-threads=1",
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child exited with {:?}:\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by a_par_call_from_a_thread_local_destructor_runs in a child process"]
fn par_call_in_a_thread_local_destructor() {
    static SUMMED: AtomicUsize = AtomicUsize::new(0);
    struct SumOnDrop;
    impl Drop for SumOnDrop {
        fn drop(&mut self) {
            SUMMED.store(par::sum_range(0..1000, |i| i), Ordering::SeqCst);
        }
    }
    thread_local! {
        static GUARD: std::cell::RefCell<Option<SumOnDrop>> = const { std::cell::RefCell::new(None) };
    }
    common::watchdog(60, || {
        std::thread::spawn(|| {
            GUARD.with(|g| *g.borrow_mut() = Some(SumOnDrop));
            // Registers pride's context thread-local after `GUARD`, so it is destroyed
            // first.
            common::runtime(1).block_on(async {});
        })
        .join()
        .unwrap();
    });
    assert_eq!(SUMMED.load(Ordering::SeqCst), 499_500);
}

/// Polls a future once, whatever it returns.
struct PollOnce<'a, F>(std::pin::Pin<&'a mut F>);

impl<F: std::future::Future> std::future::Future for PollOnce<'_, F> {
    type Output = std::task::Poll<F::Output>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(self.0.as_mut().poll(cx))
    }
}

/// A `par` call handed to a runtime by a `to_thread` closure, still queued when the
/// runtime's drop begins (its only worker is busy with another closure's call), runs
/// all the same: the drop hands the calls left in the queue to the default runtime.
/// The pauses only make it likely that the call is queued before the drop begins and
/// the worker stays busy until after; the test passes either way once fixed.
#[test]
fn a_par_call_queued_when_the_runtime_drop_begins_runs() {
    use std::sync::mpsc;
    use std::time::Duration;
    let sum = common::watchdog(30, || {
        let (busy_tx, busy_rx) = mpsc::channel::<()>();
        let (unblock_tx, unblock_rx) = mpsc::channel::<()>();
        let unblock_rx = std::sync::Mutex::new(unblock_rx);
        let (calling_tx, calling_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<usize>();
        // A closure whose future is dropped before it starts never runs.
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let started_too = started_tx.clone();
        let rt = common::runtime(1);
        rt.block_on(async move {
            // Its call holds the only worker until unblocked.
            let mut first = std::pin::pin!(pride::to_thread(move || {
                started_tx.send(()).unwrap();
                par::for_each_range(0..1, |_| {
                    busy_tx.send(()).unwrap();
                    let _ = unblock_rx.lock().unwrap().recv();
                });
            }));
            assert!(PollOnce(first.as_mut()).await.is_pending());
            started_rx.recv().unwrap();
            // Its call waits in the runtime's queue behind the first.
            let mut second = std::pin::pin!(pride::to_thread(move || {
                started_too.send(()).unwrap();
                busy_rx.recv().unwrap();
                calling_tx.send(()).unwrap();
                let _ = done_tx.send(par::sum_range(0..100, |i| i));
            }));
            assert!(PollOnce(second.as_mut()).await.is_pending());
            started_rx.recv().unwrap();
            // Both futures are dropped here: the closures go on, detached.
        });
        calling_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let unblocker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let _ = unblock_tx.send(());
        });
        drop(rt);
        unblocker.join().unwrap();
        done_rx.recv().unwrap()
    });
    assert_eq!(sum, 4950);
}
