//! A task woken from a thread that is not a worker, racing the runtime's drop: the
//! waking thread may still be inside the wake (queueing the task and telling a worker)
//! when the task has run and ended and the runtime is gone. Natively these only check
//! that nothing hangs or crashes; under Miri they check that the waking thread never
//! touches the runtime after its drop:
//!
//! ```sh
//! MIRIFLAGS="-Zmiri-seed=7 -Zmiri-preemption-rate=0.1" cargo +nightly miri test \
//!   --test runtime runtime_wake_vs_drop -- --exact
//! ```

use std::task::Poll;

fn one_worker() -> pride::Runtime {
    pride::Runtime::builder()
        .worker_threads(1)
        .blocked_poll_threshold(None)
        .build()
        .unwrap()
}

/// A child woken by a foreign thread (into the injector, then a worker told), and the
/// runtime dropped as soon as the group ends.
fn child_woken_from_a_foreign_thread() {
    one_worker()
        .block_on(pride::task_group(async |tg| {
            tg.start_soon(async {
                let mut sent = false;
                std::future::poll_fn(move |cx| {
                    if sent {
                        return Poll::Ready(());
                    }
                    sent = true;
                    let w = cx.waker().clone();
                    std::thread::spawn(move || w.wake());
                    Poll::Pending
                })
                .await
            });
        }))
        .unwrap();
}

#[test]
fn a_foreign_wake_racing_the_runtime_drop() {
    for _ in 0..if cfg!(miri) { 6 } else { 200 } {
        child_woken_from_a_foreign_thread();
    }
}

/// As above, with the wake coming from a `to_thread` closure's end (the pool thread
/// wakes the task by value) and the runtime dropped as soon as `block_on` is back, as
/// `pride::run` does.
#[test]
fn a_to_thread_wake_racing_the_runtime_drop() {
    for _ in 0..if cfg!(miri) { 6 } else { 200 } {
        let v = one_worker().block_on(pride::task_group(async |tg| {
            let h = tg.spawn(async { Ok::<_, pride::BoxError>(pride::to_thread(|| 5).await) });
            h.await.map_err(pride::BoxError::from)
        }));
        assert_eq!(v.unwrap(), 5);
    }
}
