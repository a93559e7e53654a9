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
