//! Isolated children: a failure is reported, never cancels siblings; cancel still
//! flows in, and the group still waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pride::{Event, Queue, TaskError};

fn autojump() -> pride::Runtime {
    pride::Runtime::builder()
        .worker_threads(2)
        .clock(pride::time::Clock::autojump())
        .build()
        .unwrap()
}

#[test]
fn a_failing_isolated_child_does_not_cancel_its_siblings() {
    autojump().block_on(async {
        let failures = Queue::<TaskError>::unbounded();
        let sibling_done = Arc::new(AtomicBool::new(false));
        let result = pride::task_group(async |tg| {
            let report = failures.clone();
            tg.start_soon_isolated_with(
                "bad",
                async { Err::<(), _>(std::io::Error::other("reset by peer")) },
                move |e| report.put_nowait(e).unwrap(),
            );
            let report = failures.clone();
            tg.start_soon_isolated_with(
                "panicky",
                async {
                    pride::sleep(Duration::from_secs(1)).await;
                    if true {
                        panic!("handler bug");
                    }
                },
                move |e| report.put_nowait(e).unwrap(),
            );
            let done = sibling_done.clone();
            tg.start_soon(async move {
                pride::sleep(Duration::from_secs(5)).await;
                done.store(true, Ordering::SeqCst);
            });
        })
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert!(sibling_done.load(Ordering::SeqCst));
        let first = failures.get_nowait().unwrap();
        assert_eq!(first.name(), Some("bad"));
        assert!(!first.is_panic());
        assert!(first.downcast_ref::<std::io::Error>().is_some());
        let second = failures.get_nowait().unwrap();
        assert_eq!(second.name(), Some("panicky"));
        assert_eq!(second.panic_message(), Some("handler bug"));
        assert!(failures.get_nowait().is_err());
    });
}

#[test]
fn default_report_keeps_the_group_ok() {
    autojump().block_on(async {
        let result = pride::task_group(async |tg| {
            tg.start_soon_isolated(async { Err::<(), _>("unnamed failure") });
            tg.start_soon_isolated_named("named", async { Err::<(), _>("named failure") });
        })
        .await;
        assert!(result.is_ok());
    });
}

#[test]
fn cancel_flows_into_isolated_children_and_the_group_waits() {
    struct Dropped(Arc<AtomicUsize>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    autojump().block_on(async {
        let dropped = Arc::new(AtomicUsize::new(0));
        let reported = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(Event::new());
        let result = pride::task_group(async |tg| {
            for i in 0..4 {
                let guard = Dropped(dropped.clone());
                let reported = reported.clone();
                let running = running.clone();
                tg.start_soon_isolated_with(
                    format!("child {i}"),
                    async move {
                        let _guard = guard;
                        running.set();
                        std::future::pending::<()>().await;
                    },
                    move |_| {
                        reported.fetch_add(1, Ordering::SeqCst);
                    },
                );
            }
            running.wait().await;
            tg.cancel_scope().cancel();
        })
        .await;
        assert!(result.is_ok(), "{result:?}");
        // Every child was dropped before the group returned; a cancel is no failure.
        assert_eq!(dropped.load(Ordering::SeqCst), 4);
        assert_eq!(reported.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn an_ordinary_sibling_failure_still_cancels_isolated_children() {
    autojump().block_on(async {
        let error = pride::task_group(async |tg| {
            tg.start_soon_isolated_named("server", std::future::pending::<()>());
            tg.start_soon_named("fatal", async {
                pride::sleep(Duration::from_secs(1)).await;
                Err::<(), _>("fatal")
            });
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        assert_eq!(error.errors()[0].name(), Some("fatal"));
    });
}

/// A value whose `Drop` panics.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("cleanup failed");
    }
}

/// A future that completes at once and holds a [`PanicOnDrop`] until it is dropped (a
/// combinator owning a resource whose cleanup fails).
struct DoneThenPanicOnDrop(#[allow(dead_code)] PanicOnDrop);

impl std::future::Future for DoneThenPanicOnDrop {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

/// A panic in the `Drop` of an isolated child that completed is that child's own
/// failure: it goes to the handler, and the sibling goes on.
#[test]
fn a_panic_dropping_a_completed_isolated_child_goes_to_its_handler() {
    autojump().block_on(async {
        let failures = Queue::<TaskError>::unbounded();
        let sibling_done = Arc::new(AtomicBool::new(false));
        pride::task_group(async |tg| {
            let report = failures.clone();
            tg.start_soon_isolated_with("leaky", DoneThenPanicOnDrop(PanicOnDrop), move |e| {
                report.put_nowait(e).unwrap();
            });
            let done = sibling_done.clone();
            tg.start_soon(async move {
                pride::sleep(Duration::from_secs(1)).await;
                done.store(true, Ordering::SeqCst);
            });
        })
        .await
        .unwrap();
        assert!(sibling_done.load(Ordering::SeqCst));
        let failure = failures.get_nowait().unwrap();
        assert_eq!(failure.name(), Some("leaky"));
        assert_eq!(failure.panic_message(), Some("cleanup failed"));
    });
}

/// A `par` call stopped by the group's cancel inside an isolated child is cancelled
/// work, not a failure for the handler.
#[test]
fn a_par_call_stopped_by_a_cancel_in_an_isolated_child_is_no_failure() {
    autojump().block_on(async {
        let failures = Queue::<TaskError>::unbounded();
        let value = pride::task_group(async |tg| {
            tg.cancel_scope().cancel();
            let report = failures.clone();
            tg.start_soon_isolated_with(
                "cpu",
                async { pride::par::for_each_range(0..10_000, |_| {}) },
                move |e| report.put_nowait(e).unwrap(),
            );
            Ok::<_, pride::BoxError>(7)
        })
        .await
        .unwrap();
        assert_eq!(value, 7);
        assert!(failures.get_nowait().is_err());
    });
}

/// An isolated child whose `par` call the group's cancel stopped, and whose state
/// panics when dropped: the stop is no failure, and the panic, a cleanup panic of
/// cancelled work, is the group's entry as for any child.
#[test]
fn a_cleanup_panic_after_a_stopped_par_call_in_an_isolated_child_is_the_groups() {
    autojump().block_on(async {
        let failures = Queue::<TaskError>::unbounded();
        let error = pride::task_group(async |tg| {
            tg.cancel_scope().cancel();
            let report = failures.clone();
            let cpu = crate::common::Beside(
                Box::pin(async { pride::par::for_each_range(0..10_000, |_| {}) }),
                PanicOnDrop,
            );
            tg.start_soon_isolated_with("cpu", cpu, move |e| report.put_nowait(e).unwrap());
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1, "{error:?}");
        assert_eq!(error.errors()[0].panic_message(), Some("cleanup failed"));
        assert!(failures.get_nowait().is_err());
    });
}

/// A future that returns an error and holds a [`PanicOnDrop`] until it is dropped.
struct ErrThenPanicOnDrop(#[allow(dead_code)] PanicOnDrop);

impl std::future::Future for ErrThenPanicOnDrop {
    type Output = Result<(), pride::BoxError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Err("the first failure".into()))
    }
}

/// A child that returns an error and then panics in its `Drop` fails once, with its
/// first failure: the error goes to the handler, not the later panic.
#[test]
fn an_isolated_childs_error_is_not_lost_to_a_later_drop_panic() {
    autojump().block_on(async {
        let failures = Queue::<TaskError>::unbounded();
        pride::task_group(async |tg| {
            let report = failures.clone();
            tg.start_soon_isolated_with("conn", ErrThenPanicOnDrop(PanicOnDrop), move |e| {
                report.put_nowait(e).unwrap();
            });
        })
        .await
        .unwrap();
        let failure = failures.get_nowait().unwrap();
        assert_eq!(failure.name(), Some("conn"));
        assert!(!failure.is_panic(), "{failure}");
        assert_eq!(
            failure.error().map(|e| e.to_string()).as_deref(),
            Some("the first failure")
        );
        assert!(failures.get_nowait().is_err(), "a child fails once");
    });
}
