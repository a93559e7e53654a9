//! `to_thread` on the public API: it runs elsewhere, returns the value, resumes a
//! panic in the caller (and so in the task group), and a closure cancelled while
//! queued never runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::{block_on, builder};
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
