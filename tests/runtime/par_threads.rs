//! `par` from threads that are not the runtime's own workers: a scope's spawns from
//! another runtime's workers or from a plain thread.

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
