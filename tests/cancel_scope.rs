//! `CancelScope::run`, `cancel` and `checkpoint` without a clock (DESIGN §3 rules 10 and
//! 12, and rule 17 for a scope entered twice).
//!
//! Cancellation is dropping: the work inside a cancelled scope is dropped at its next
//! suspension point, and `run` returns `None`. Ordering is done with `Event`s; drop
//! guards prove which futures were dropped.

use std::future::{Future, pending};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use pride::{CancelScope, Event, Runtime, checkpoint, task_group, yield_now};

/// Runs the future `make` builds on a two-worker runtime. A hang fails the test (after a
/// generous bound) instead of stalling the suite.
fn run<M, F>(make: M)
where
    M: FnOnce() -> F + Send + 'static,
    F: Future<Output = ()>,
{
    let (done, finished) = channel();
    let test = std::thread::spawn(move || {
        let runtime = Runtime::builder().worker_threads(2).build().unwrap();
        runtime.block_on(make());
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => test.join().unwrap(),
        Err(RecvTimeoutError::Disconnected) => match test.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!(),
        },
        Err(RecvTimeoutError::Timeout) => panic!("the test hung"),
    }
}

/// Counts the drops of its guards.
#[derive(Clone, Default)]
struct Drops(Arc<AtomicUsize>);

impl Drops {
    fn guard(&self) -> Guard {
        Guard(self.0.clone())
    }

    fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A flag shared between tasks.
#[derive(Clone, Default)]
struct Flag(Arc<AtomicBool>);

impl Flag {
    fn set(&self) {
        self.0.store(true, SeqCst);
    }

    fn get(&self) -> bool {
        self.0.load(SeqCst)
    }
}

#[test]
fn run_returns_some_when_not_cancelled() {
    run(|| async {
        let scope = CancelScope::new();
        let out = scope
            .run(async {
                checkpoint().await;
                yield_now().await;
                42
            })
            .await;
        assert_eq!(out, Some(42));
        assert!(!scope.cancel_called());
        assert!(!scope.cancelled_caught());
    });
}

#[test]
fn cancel_from_inside_runs_on_until_the_next_suspension_point() {
    run(|| async {
        let drops = Drops::default();
        let after_cancel = Flag::default();
        let past_suspension = Flag::default();
        let scope = CancelScope::new();
        let inner = scope.clone();
        let (drops2, after2, past2) =
            (drops.clone(), after_cancel.clone(), past_suspension.clone());
        let out = scope
            .run(async move {
                let _guard = drops2.guard();
                inner.cancel();
                // `cancel()` is not a suspension point, and neither is awaiting a
                // future that is ready at once.
                std::future::ready(()).await;
                after2.set();
                checkpoint().await;
                past2.set();
            })
            .await;
        assert_eq!(out, None);
        assert!(after_cancel.get());
        assert!(!past_suspension.get());
        assert_eq!(drops.count(), 1);
        assert!(scope.cancel_called());
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn work_that_finishes_before_suspending_is_not_caught() {
    run(|| async {
        let scope = CancelScope::new();
        let inner = scope.clone();
        let out = scope
            .run(async move {
                inner.cancel();
                7
            })
            .await;
        // Nothing was dropped: the work completed in the poll that cancelled it.
        assert_eq!(out, Some(7));
        assert!(scope.cancel_called());
        assert!(!scope.cancelled_caught());
    });
}

#[test]
fn cancel_from_another_task() {
    run(|| async {
        let drops = Drops::default();
        let entered = Event::new();
        let scope = CancelScope::new();
        let (drops2, entered2, scope2) = (drops.clone(), entered.clone(), scope.clone());
        task_group(async |tg| {
            tg.start_soon(async move {
                entered2.wait().await;
                scope2.cancel();
            });
            let out = scope
                .run(async move {
                    let _guard = drops2.guard();
                    entered.set();
                    pending::<u8>().await
                })
                .await;
            assert_eq!(out, None);
            assert!(scope.cancelled_caught());
            assert_eq!(drops.count(), 1);
        })
        .await
        .unwrap();
    });
}

/// As in Trio, work in a scope entered already cancelled runs until its first
/// suspension point, and is dropped there (DESIGN rule 6 and 11).
#[test]
fn a_scope_cancelled_before_entry_drops_the_work_at_its_first_suspension_point() {
    run(|| async {
        let drops = Drops::default();
        let polled = Flag::default();
        let scope = CancelScope::new();
        scope.cancel();
        assert!(scope.cancel_called());
        assert!(!scope.cancelled_caught());
        let (guard, polled2) = (drops.guard(), polled.clone());
        let resumed = Flag::default();
        let resumed2 = resumed.clone();
        let out = scope
            .run(async move {
                let _guard = guard;
                polled2.set();
                checkpoint().await;
                resumed2.set();
            })
            .await;
        assert_eq!(out, None);
        assert!(
            polled.get(),
            "the code before the first suspension point runs"
        );
        assert!(
            !resumed.get(),
            "the work is dropped at its first suspension point"
        );
        assert_eq!(drops.count(), 1);
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn cancel_called_never_resets() {
    run(|| async {
        let scope = CancelScope::new();
        assert_eq!(scope.run(async { 1 }).await, Some(1));
        assert!(!scope.cancel_called());
        // Cancelling a scope that has exited: recorded, nothing to catch.
        scope.cancel();
        assert!(scope.cancel_called());
        assert!(!scope.cancelled_caught());
        checkpoint().await;
        assert!(scope.cancel_called());

        let scope = CancelScope::new();
        let inner = scope.clone();
        let out = scope
            .run(async move {
                inner.cancel();
                checkpoint().await;
            })
            .await;
        assert_eq!(out, None);
        checkpoint().await;
        assert!(scope.cancel_called());
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn cancel_is_idempotent() {
    run(|| async {
        let scope = CancelScope::new();
        scope.cancel();
        scope.cancel();
        let inner = scope.clone();
        let after = Flag::default();
        let after2 = after.clone();
        let out = scope
            .run(async move {
                inner.cancel();
                inner.cancel();
                after2.set();
                checkpoint().await;
                unreachable!("dropped at the checkpoint");
            })
            .await;
        assert_eq!(out, None::<()>);
        assert!(after.get(), "cancel() is not a suspension point");
        scope.cancel();
        assert!(scope.cancel_called());
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn clones_are_the_same_scope() {
    run(|| async {
        let scope = CancelScope::new();
        let clone = scope.clone();
        clone.cancel();
        assert!(scope.cancel_called());
        let out = scope
            .run(async {
                checkpoint().await;
                1
            })
            .await;
        assert_eq!(out, None);
        assert!(clone.cancelled_caught());
    });
}

/// A spin loop whose only suspension points are checkpoints is still cancellable from
/// another task: a checkpoint yields and is a cancellation point.
#[test]
fn checkpoint_is_a_cancellation_point() {
    run(|| async {
        let spins = Arc::new(AtomicUsize::new(0));
        let spinning = Event::new();
        let scope = CancelScope::new();
        let (spins2, spinning2, scope2) = (spins.clone(), spinning.clone(), scope.clone());
        task_group(async |tg| {
            tg.start_soon(async move {
                spinning2.wait().await;
                scope2.cancel();
            });
            let out = scope
                .run(async move {
                    loop {
                        if spins2.fetch_add(1, SeqCst) == 10 {
                            spinning.set();
                        }
                        checkpoint().await;
                    }
                })
                .await;
            let out: Option<()> = out;
            assert_eq!(out, None);
            assert!(scope.cancelled_caught());
        })
        .await
        .unwrap();
        let seen = spins.load(SeqCst);
        assert!(seen > 10);
        // Nothing spins on after the scope has returned.
        checkpoint().await;
        assert_eq!(spins.load(SeqCst), seen);
    });
}

#[test]
fn yield_now_is_a_cancellation_point_too() {
    run(|| async {
        let scope = CancelScope::new();
        let inner = scope.clone();
        let past = Flag::default();
        let past2 = past.clone();
        let out = scope
            .run(async move {
                inner.cancel();
                yield_now().await;
                past2.set();
            })
            .await;
        assert_eq!(out, None);
        assert!(!past.get());
    });
}

#[test]
fn entering_a_scope_twice_panics_with_a_clear_message() {
    run(|| async {
        let error = task_group(async |tg| {
            tg.start_soon_named("twice", async {
                let scope = CancelScope::new();
                assert_eq!(scope.run(async { 1 }).await, Some(1));
                // The second entry, through a clone, is the same scope.
                let _ = scope.clone().run(async { 2 }).await;
            });
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        let task = &error.errors()[0];
        assert_eq!(task.name(), Some("twice"));
        assert!(task.is_panic());
        let message = task.panic_message().unwrap();
        assert!(message.contains("entered only once"), "{message}");
    });
}

#[test]
fn entering_a_scope_while_it_is_running_panics() {
    run(|| async {
        let error = task_group(async |tg| {
            let scope = CancelScope::new();
            let inner = scope.clone();
            tg.start_soon(async move {
                scope
                    .run(async move {
                        let _ = inner.run(async {}).await;
                    })
                    .await;
            });
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        let message = error.errors()[0].panic_message().unwrap();
        assert!(message.contains("entered only once"), "{message}");
    });
}

#[test]
fn a_cancelled_scope_in_a_group_body_does_not_fail_the_group() {
    run(|| async {
        let value = task_group(async |tg| {
            let scope = CancelScope::new();
            let inner = scope.clone();
            tg.start_soon(async {});
            let out = scope
                .run(async move {
                    inner.cancel();
                    checkpoint().await;
                })
                .await;
            assert_eq!(out, None);
            assert!(!tg.cancel_scope().cancel_called());
            Ok::<_, pride::BoxError>("body done")
        })
        .await
        .unwrap();
        assert_eq!(value, "body done");
    });
}
