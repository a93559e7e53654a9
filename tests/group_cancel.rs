//! Cancelling a group (DESIGN §3 rules 3, 6 and 13, and cancel reasons): an explicit
//! cancel is a clean shutdown, cancellation is never an error entry, a child spawned
//! into a cancelled but open group is dropped at its first suspension point, and nested
//! groups keep their error structure.

use std::fmt;
use std::future::{Future, pending};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use pride::{BoxError, Event, GroupError, Runtime, checkpoint, task_group};

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

#[derive(Debug)]
struct Boom(&'static str);

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "boom: {}", self.0)
    }
}

impl std::error::Error for Boom {}

fn pending_children(tg: &pride::TaskGroup, drops: &Drops, n: usize) {
    for _ in 0..n {
        let guard = drops.guard();
        tg.start_soon(async move {
            let _guard = guard;
            pending::<()>().await;
        });
    }
}

#[test]
fn explicit_cancel_with_a_body_value_is_ok() {
    run(|| async {
        let drops = Drops::default();
        let drops2 = drops.clone();
        let value = task_group(async |tg| {
            pending_children(&tg, &drops2, 3);
            checkpoint().await;
            tg.cancel_scope().cancel();
            // Not a suspension point: the body goes on and produces its value.
            Ok::<_, BoxError>("done")
        })
        .await
        .unwrap();
        assert_eq!(value, "done");
        assert_eq!(drops.count(), 3);
    });
}

#[test]
fn explicit_cancel_before_the_body_produced_a_value_is_cancelled() {
    run(|| async {
        let drops = Drops::default();
        let drops2 = drops.clone();
        let body_guard = drops.guard();
        let error = task_group(async |tg| {
            let _guard = body_guard;
            pending_children(&tg, &drops2, 2);
            tg.cancel_scope().cancel();
            checkpoint().await;
            Ok::<_, BoxError>(1)
        })
        .await
        .unwrap_err();
        assert!(error.is_cancelled());
        assert!(!error.is_timeout());
        assert!(error.errors().is_empty(), "cancellation is never an entry");
        assert_eq!(error.cancel_reason(), None);
        assert_eq!(drops.count(), 3);
        assert!(error.to_string().contains("cancelled"), "{error}");
    });
}

#[test]
fn a_child_cancelling_the_group_drops_the_waiting_body() {
    run(|| async {
        let body_guard = Drops::default();
        let guard = body_guard.guard();
        let error = task_group(async |tg| {
            let _guard = guard;
            let scope = tg.cancel_scope().clone();
            tg.start_soon(async move {
                checkpoint().await;
                scope.cancel();
            });
            pending::<()>().await;
        })
        .await
        .unwrap_err();
        assert!(error.is_cancelled());
        assert!(error.errors().is_empty());
        assert_eq!(body_guard.count(), 1);
    });
}

#[test]
fn cancel_reason_shows_in_the_group_error() {
    run(|| async {
        let error = task_group(async |tg| {
            tg.start_soon(pending::<()>());
            tg.cancel_scope().cancel_with_reason("shutting down");
            checkpoint().await;
        })
        .await
        .unwrap_err();
        assert!(error.is_cancelled());
        assert_eq!(error.cancel_reason(), Some("shutting down"));
        let shown = error.to_string();
        assert!(shown.contains("shutting down"), "{shown}");
        assert!(error.errors().is_empty());
    });
}

#[test]
fn cancel_with_reason_is_still_a_clean_shutdown_when_the_body_finished() {
    run(|| async {
        let value = task_group(async |tg| {
            tg.start_soon(pending::<()>());
            tg.cancel_scope().cancel_with_reason("shutting down");
            Ok::<_, BoxError>(5)
        })
        .await
        .unwrap();
        assert_eq!(value, 5);
    });
}

#[test]
fn cancelled_siblings_are_not_error_entries() {
    run(|| async {
        let drops = Drops::default();
        let drops2 = drops.clone();
        let error = task_group(async |tg| {
            pending_children(&tg, &drops2, 5);
            let handle = tg.spawn(pending::<Result<u8, BoxError>>());
            tg.start_soon_named("failing", async {
                checkpoint().await;
                Err::<(), _>(Boom("the only error"))
            });
            let _ = handle.await;
        })
        .await
        .unwrap_err();
        assert!(!error.is_cancelled());
        assert_eq!(error.errors().len(), 1, "{error:?}");
        assert_eq!(error.errors()[0].name(), Some("failing"));
        assert_eq!(drops.count(), 5);
    });
}

/// Rule 3: a child's error cancels the group's scope; siblings and the body are dropped
/// at their next suspension point.
#[test]
fn a_child_error_drops_siblings_and_the_body() {
    run(|| async {
        let drops = Drops::default();
        let past = Flag::default();
        let (drops2, past2, body_guard) = (drops.clone(), past.clone(), drops.guard());
        let error = task_group(async |tg| {
            let _guard = body_guard;
            pending_children(&tg, &drops2, 2);
            tg.start_soon(async { Err::<(), _>(Boom("first")) });
            pending::<()>().await;
            past2.set();
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        assert!(error.cancel_reason().is_none());
        assert_eq!(drops.count(), 3);
        assert!(!past.get());
    });
}

#[test]
fn a_body_error_cancels_the_children() {
    run(|| async {
        let drops = Drops::default();
        let drops2 = drops.clone();
        let error = task_group(async |tg| {
            pending_children(&tg, &drops2, 3);
            checkpoint().await;
            Err::<(), _>(Boom("body"))
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        assert_eq!(error.errors()[0].name(), None);
        assert_eq!(error.find::<Boom>().unwrap().0, "body");
        assert_eq!(drops.count(), 3);
    });
}

#[test]
fn a_child_spawned_into_a_cancelled_open_group_is_dropped_by_its_first_suspension_point() {
    run(|| async {
        let drops = Drops::default();
        let past = Flag::default();
        let (guard, past2) = (drops.guard(), past.clone());
        let value = task_group(async |tg| {
            tg.cancel_scope().cancel();
            // The group is cancelled but still open: spawning is accepted.
            tg.try_start_soon(async move {
                let _guard = guard;
                checkpoint().await;
                past2.set();
            })
            .unwrap();
            Ok::<_, BoxError>("open")
        })
        .await
        .unwrap();
        assert_eq!(value, "open");
        assert!(!past.get());
        assert_eq!(drops.count(), 1);
    });
}

/// DESIGN rule 6 says such a child is *started* and dropped at its first suspension
/// point, like Trio: the code before its first suspension point runs.
#[test]
fn a_child_spawned_into_a_cancelled_group_runs_until_its_first_suspension_point() {
    run(|| async {
        let before = Flag::default();
        let past = Flag::default();
        let (before2, past2) = (before.clone(), past.clone());
        task_group(async |tg| {
            tg.cancel_scope().cancel();
            tg.start_soon(async move {
                before2.set();
                checkpoint().await;
                past2.set();
            });
        })
        .await
        .unwrap();
        assert!(before.get(), "the child never started");
        assert!(!past.get());
    });
}

/// A child may spawn siblings while the body waits; in a cancelled group those too are
/// dropped, and the group still returns the body's value.
#[test]
fn siblings_spawned_by_a_child_into_a_cancelled_group_are_dropped() {
    run(|| async {
        let drops = Drops::default();
        let spawned = Event::new();
        let (drops2, spawned2) = (drops.clone(), spawned.clone());
        let value = task_group(async |tg| {
            let spawner = tg.clone();
            tg.start_soon(async move {
                spawner.cancel_scope().cancel();
                pending_children(&spawner, &drops2, 4);
                spawned2.set();
            });
            spawned.wait().await;
            Ok::<_, BoxError>(9)
        })
        .await;
        // The body may have been dropped (it was waiting when the child cancelled) or
        // may have produced its value first: both are clean shutdowns.
        match value {
            Ok(v) => assert_eq!(v, 9),
            Err(e) => assert!(e.is_cancelled() && e.errors().is_empty(), "{e:?}"),
        }
        assert_eq!(drops.count(), 4);
    });
}

#[test]
fn nested_groups_keep_their_error_structure() {
    run(|| async {
        let error = task_group(async |outer| {
            outer.start_soon_named("inner group", async {
                task_group(async |inner| {
                    inner.start_soon_named("leaf", async { Err::<(), _>(Boom("deep")) });
                })
                .await
            });
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        let entry = &error.errors()[0];
        assert_eq!(entry.name(), Some("inner group"));
        // The nested group's error is kept whole as one entry.
        let nested = entry
            .downcast_ref::<GroupError>()
            .expect("a nested GroupError");
        assert_eq!(nested.errors().len(), 1);
        assert_eq!(nested.errors()[0].name(), Some("leaf"));
        // `find` reaches into it.
        assert_eq!(error.find::<Boom>().unwrap().0, "deep");
        let shown = error.to_string();
        assert!(
            shown.contains("inner group") && shown.contains("leaf"),
            "{shown}"
        );
        assert!(shown.contains("deep"), "{shown}");
    });
}

#[test]
fn a_cancelled_nested_group_propagated_by_a_child_is_an_entry_of_its_own() {
    run(|| async {
        // A child that returns its nested group's `is_cancelled` error fails the outer
        // group with that error: it is the child's error, not a cancellation entry.
        let error = task_group(async |outer| {
            outer.start_soon_named("stopper", async {
                task_group(async |inner| {
                    inner.cancel_scope().cancel_with_reason("stop");
                    checkpoint().await;
                })
                .await
            });
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        let nested = error.errors()[0].downcast_ref::<GroupError>().unwrap();
        assert!(nested.is_cancelled());
        assert_eq!(nested.cancel_reason(), Some("stop"));
        assert_eq!(error.cancel_reason(), None);
    });
}
