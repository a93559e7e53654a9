//! `CancelScope::run`, `cancel` and `checkpoint` without a clock, and a
//! scope entered twice.
//!
//! Cancellation is dropping: the work inside a cancelled scope is dropped at its next
//! suspension point, and `run` returns `None`. Ordering is done with `Event`s; drop
//! guards prove which futures were dropped.

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use crate::common::{Counter, Flag, run, yield_until};
use pride::{CancelScope, Event, checkpoint, task_group, yield_now};

#[test]
fn run_returns_some_when_not_cancelled() {
    run(2, 20, || async {
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
    run(2, 20, || async {
        let drops = Counter::new();
        let after_cancel = Flag::new();
        let past_suspension = Flag::new();
        let scope = CancelScope::new();
        let inner = scope.clone();
        let (drops2, after2, past2) =
            (drops.clone(), after_cancel.clone(), past_suspension.clone());
        let out = scope
            .run(async move {
                let _guard = drops2.drop_guard();
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
        assert!(after_cancel.is_set());
        assert!(!past_suspension.is_set());
        assert_eq!(drops.get(), 1);
        assert!(scope.cancel_called());
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn work_that_finishes_before_suspending_is_not_caught() {
    run(2, 20, || async {
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
    run(2, 20, || async {
        let drops = Counter::new();
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
                    let _guard = drops2.drop_guard();
                    entered.set();
                    pending::<u8>().await
                })
                .await;
            assert_eq!(out, None);
            assert!(scope.cancelled_caught());
            assert_eq!(drops.get(), 1);
        })
        .await
        .unwrap();
    });
}

/// As in Trio, work in a scope entered already cancelled runs until its first
/// suspension point, and is dropped there.
#[test]
fn a_scope_cancelled_before_entry_drops_the_work_at_its_first_suspension_point() {
    run(2, 20, || async {
        let drops = Counter::new();
        let polled = Flag::new();
        let scope = CancelScope::new();
        scope.cancel();
        assert!(scope.cancel_called());
        assert!(!scope.cancelled_caught());
        let (guard, polled2) = (drops.drop_guard(), polled.clone());
        let resumed = Flag::new();
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
            polled.is_set(),
            "the code before the first suspension point runs"
        );
        assert!(
            !resumed.is_set(),
            "the work is dropped at its first suspension point"
        );
        assert_eq!(drops.get(), 1);
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn cancel_called_never_resets() {
    run(2, 20, || async {
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
    run(2, 20, || async {
        let scope = CancelScope::new();
        scope.cancel();
        scope.cancel();
        let inner = scope.clone();
        let after = Flag::new();
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
        assert!(after.is_set(), "cancel() is not a suspension point");
        scope.cancel();
        assert!(scope.cancel_called());
        assert!(scope.cancelled_caught());
    });
}

#[test]
fn clones_are_the_same_scope() {
    run(2, 20, || async {
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
    run(2, 20, || async {
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
    run(2, 20, || async {
        let scope = CancelScope::new();
        let inner = scope.clone();
        let past = Flag::new();
        let past2 = past.clone();
        let out = scope
            .run(async move {
                inner.cancel();
                yield_now().await;
                past2.set();
            })
            .await;
        assert_eq!(out, None);
        assert!(!past.is_set());
    });
}

#[test]
fn entering_a_scope_twice_panics_with_a_clear_message() {
    run(2, 20, || async {
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
    run(2, 20, || async {
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
    run(2, 20, || async {
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

/// A scope whose work finished on its first poll, polled again after the scope around
/// it is gone (on another thread), must fail on the completion check with a clear
/// message.
#[test]
// The outer scope's work returns the finished inner scope's future on purpose.
#[allow(clippy::async_yields_async)]
fn polling_a_completed_scope_again_after_its_parent_is_gone_panics_clearly() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    let inner = std::thread::spawn(|| {
        let mut outer = Box::pin(CancelScope::new().run(async {
            let mut inner = Box::pin(CancelScope::new().run(async {}));
            (&mut inner).await;
            // Escapes its scope, finished.
            inner
        }));
        let Poll::Ready(Some(inner)) = poll_once(outer.as_mut()) else {
            panic!("the outer scope did not finish on its first poll");
        };
        drop(outer);
        inner
    })
    .join()
    .expect("the scopes' thread panicked");
    let mut inner = inner;
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        poll_once(inner.as_mut()).is_ready()
    }));
    let payload = polled.expect_err("a completed scope was polled again without a panic");
    let message = payload
        .downcast_ref::<&str>()
        .map(|m| m.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(
        message.contains("polled after it completed"),
        "unexpected panic: {message}"
    );
}

/// A scope cancelled from a thread-local's destructor, after pride's own thread-local
/// context is gone (the thread ran a runtime): the cancel still runs; it used to abort
/// the process ("thread local panicked on drop").
#[test]
fn cancelling_from_a_thread_local_destructor_after_the_runtime_context_is_gone() {
    use std::cell::RefCell;

    struct CancelOnDrop(CancelScope, Arc<AtomicUsize>);

    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.cancel();
            self.1.fetch_add(1, SeqCst);
        }
    }

    thread_local! {
        static HELD: RefCell<Option<CancelOnDrop>> = const { RefCell::new(None) };
    }

    let cancelled = Arc::new(AtomicUsize::new(0));
    let seen = cancelled.clone();
    std::thread::spawn(move || {
        // Registered first, so destroyed after the runtime's context.
        HELD.with(|held| *held.borrow_mut() = Some(CancelOnDrop(CancelScope::new(), seen)));
        pride::run(async {});
    })
    .join()
    .expect("the thread panicked");
    assert_eq!(cancelled.load(SeqCst), 1);
}

/// A scope's future must be driven where it was first polled. Polled once in a group's
/// body and then moved into one of its children, it panics there with a message that
/// says so (the child's failure), not later and somewhere else.
#[test]
fn a_scope_moved_into_a_child_after_its_first_poll_panics_there() {
    run(2, 20, || async {
        let error = task_group(async |tg| {
            let mut moved = Box::pin(CancelScope::new().run(pending::<()>()));
            std::future::poll_fn(|cx| {
                assert!(moved.as_mut().poll(cx).is_pending());
                std::task::Poll::Ready(())
            })
            .await;
            tg.start_soon_named("moved", async move {
                moved.await;
            });
        })
        .await
        .unwrap_err();
        let failure = &error.errors()[0];
        assert_eq!(failure.name(), Some("moved"));
        assert!(failure.is_panic(), "{error}");
        assert!(
            error.to_string().contains("polled outside the scope"),
            "{error}"
        );
    });
}

/// The reason a scope was cancelled is the one its cancel gave: `cancel_with_reason` on
/// a scope already cancelled records nothing, and of two reasons the first wins.
#[test]
fn a_reason_given_after_the_cancel_is_not_the_cancels_reason() {
    run(2, 20, || async {
        // A child's failure cancelled the group; a shielded child gives a reason after.
        let failed = task_group(async |tg| {
            let scope = tg.cancel_scope().clone();
            tg.start_soon_named("failer", async { Err::<(), _>("boom") });
            tg.start_soon(async move {
                let shield = CancelScope::new();
                shield.set_shield(true);
                shield
                    .run(async {
                        yield_until(|| scope.cancel_called()).await;
                        scope.cancel_with_reason("late shutdown");
                    })
                    .await;
            });
            pending::<()>().await;
        })
        .await
        .unwrap_err();
        assert_eq!(failed.errors().len(), 1, "{failed}");
        assert_eq!(failed.cancel_reason(), None, "{failed}");

        // Cancelled by hand, then given a reason.
        let cancelled = task_group(async |tg| {
            tg.cancel_scope().cancel();
            tg.cancel_scope().cancel_with_reason("late shutdown");
            pending::<()>().await;
        })
        .await
        .unwrap_err();
        assert!(cancelled.is_cancelled(), "{cancelled}");
        assert_eq!(cancelled.cancel_reason(), None, "{cancelled}");

        // Two reasons: the first is the cancel's.
        let twice = task_group(async |tg| {
            tg.cancel_scope().cancel_with_reason("first");
            tg.cancel_scope().cancel_with_reason("second");
            pending::<()>().await;
        })
        .await
        .unwrap_err();
        assert_eq!(twice.cancel_reason(), Some("first"), "{twice}");
    });
}

/// A waker that counts its wakes, or panics when woken.
struct TestWaker {
    wakes: Arc<AtomicUsize>,
    panics: bool,
}

impl std::task::Wake for TestWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        assert!(!self.panics, "a waker that panics");
    }
}

/// A cancel wakes every task inside the scope even if one of their wakers panics; the
/// panic then reaches the caller of `cancel`, as a panicking waker's does from
/// `Event::set`. (A cancel that stopped at that waker would leave the rest asleep.)
#[test]
fn a_cancel_wakes_everything_inside_even_past_a_waker_that_panics() {
    run(1, 60, || async {
        let wakes = Arc::new(AtomicUsize::new(0));
        let waker = |panics| {
            std::task::Waker::from(Arc::new(TestWaker {
                wakes: wakes.clone(),
                panics,
            }))
        };
        let wakers: Vec<_> = (0..9).map(|i| waker(i == 4)).collect();
        let scope = CancelScope::new();
        let mut outer = std::pin::pin!(scope.clone().run(async {
            // Nine scopes inside, each suspended under its own waker.
            let mut inner: Vec<_> = (0..9)
                .map(|_| Box::pin(CancelScope::new().run(pending::<()>())))
                .collect();
            std::future::poll_fn(|_| {
                for (run, waker) in inner.iter_mut().zip(&wakers) {
                    let mut cx = std::task::Context::from_waker(waker);
                    assert!(run.as_mut().poll(&mut cx).is_pending());
                }
                std::task::Poll::<()>::Pending
            })
            .await
        }));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(outer.as_mut().poll(&mut cx).is_pending());
        let cancel = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scope.cancel()));
        assert!(cancel.is_err(), "the waker's panic reaches the caller");
        assert_eq!(wakes.load(SeqCst), 9, "every waker was woken");
    });
}
