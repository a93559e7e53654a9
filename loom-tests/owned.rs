//! loom model of the runtime's owned-task list: tasks recorded by workers while the
//! runtime shuts down and closes the list.
//!
//! The list has no lock-free step of its own: `bind` pushes under a shard's lock and
//! reads the `closed` flag under the same lock; `close` sets the flag before it takes
//! each shard's lock and cancels what it finds. So either `close` finds the task in the
//! shard, or `bind` (locking after `close` did) sees the flag and cancels the task
//! itself.
//!
//! Checked: every task's future is dropped exactly once, by the time both sides are
//! done, whichever side cancels it.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test
//! loom_owned`. The seeded bugs it catches are rows of the mutation table
//! (`loom-tests/README.md`, `loom-tests/mutate.sh`).
#![cfg(pride_loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use pride::__loom::owned::Owned;
use pride::__loom::task::{self, Notified, Schedule};

/// A future that never completes and counts its drops.
struct Pending(Arc<AtomicUsize>);

impl Future for Pending {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A scheduler that drops what it is given (nothing wakes the models' tasks).
struct Sched;

impl Schedule for Sched {
    fn schedule(&self, task: Notified) {
        drop(task);
    }
}

/// A new task whose future counts its drops into `drops`, polled once: idle, as a task
/// asleep when the runtime shuts down, with the list's reference left.
fn task(drops: &Arc<AtomicUsize>) -> pride::__loom::task::Task {
    let (notified, task) = task::new_task(Pending(drops.clone()), Sched);
    notified.run();
    task
}

#[test]
fn bind_vs_close() {
    loom::model(|| {
        let owned = Arc::new(Owned::new(2));
        let drops = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (owned, task) = (owned.clone(), task(&drops));
            thread::spawn(move || owned.bind(task, 0))
        };
        owned.close();
        worker.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "a task outlived the close");
    });
}

#[test]
fn two_workers_bind_vs_close() {
    loom::model(|| {
        let owned = Arc::new(Owned::new(2));
        let drops = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|shard| {
                let (owned, task) = (owned.clone(), task(&drops));
                thread::spawn(move || owned.bind(task, shard))
            })
            .collect();
        owned.close();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(drops.load(SeqCst), 2, "a task outlived the close");
    });
}
