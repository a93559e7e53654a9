//! Loom model of a task group's concurrency limit (`src/group/limit.rs`): children
//! queued behind the limit, a slot a finishing child hands to the next queued one, a
//! queued child taken out by a cancel of its own scope (`Limit::unqueue_cancelled`, by
//! its handle or by its `start` caller), the limit closed by a teardown, and the line
//! of `start_soon_wait` callers. The real `Limit` runs, reached through
//! `pride::__loom::limit` without a runtime: a slot's child is handed to a function of
//! the model's, which puts it in the releasing thread's own list (as the runtime puts
//! a child spawned by a worker into that worker's LIFO slot); that thread then runs
//! it, and releases its slot as the child's wrapper does once its future is gone.
//!
//! The limit's state is all behind one lock, so loom has no orderings of its own to
//! check there. What interleaves is that lock against what is outside it: a cancel
//! marks the child's scope (an atomic flag, set by a handle, or by a `start` caller's
//! cancel walking the tree, which cannot take the child out of the queue there) before
//! it takes the lock, and a slot passed on reads that flag under the lock; a child is
//! spawned, and a queued child that will never run is dropped, after the lock is let
//! go; and a decision taken under the lock must be acted on in the same hold of it (a
//! child queued, a slot freed, the limit closed). The children are real tasks
//! (`pride::__loom::task`) whose work counts its polls and its drops; a waiter waits
//! until woken, so a slot lost while a waiter waits is a loom deadlock.
//!
//! `TaskHandle::cancel` (cancel the child's scope, then `unqueue_cancelled`) and the
//! part of `StartFuture::drop` that does the same are two-line copies in the models;
//! the node of a queued child has no waker here (in the runtime it holds the child's
//! task, queued and never run, which a wake leaves as it is: `loom_task_state`).
//!
//! Rows L1–L10 of the mutation table in `README.md` (`mutate.sh`) seed bugs in these
//! parts; each is caught. L11 (a free slot taken whatever is queued or waiting)
//! escapes: the count alone already decides there (the table's note says why).
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --target-dir target/loom --test loom_group_limit`.

#![cfg(pride_loom)]

mod common;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
// Bookkeeping only, read after the joins: std atomics add no interleavings to explore.
use std::sync::atomic::{AtomicUsize as Count, Ordering::Relaxed};
use std::task::{Context, Poll};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::thread;
use pride::__loom::cancel::ScopeNode;
use pride::__loom::limit::{Closed, Limit, Waiter};
use pride::__loom::start;
use pride::__loom::task::{self, Notified, Schedule};

/// The models are small: each explores every schedule it has (16 preemptions find no
/// more than 64 do), all of them in about two seconds, whatever `LOOM_MAX_PREEMPTIONS`
/// says.
fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    common::model_preempting(16, f);
}

/// What one child's work did.
#[derive(Default)]
struct Record {
    polls: Count,
    drops: Count,
}

impl Record {
    fn polls(&self) -> usize {
        self.polls.load(Relaxed)
    }

    fn drops(&self) -> usize {
        self.drops.load(Relaxed)
    }
}

/// A child's work: done at its first poll.
struct Work(StdArc<Record>);

impl Future for Work {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.0.polls.fetch_add(1, Relaxed);
        Poll::Ready(())
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        self.0.drops.fetch_add(1, Relaxed);
    }
}

/// A child's scheduler. Its work is done at its first poll, so nothing wakes it; the
/// loom `Arc` it holds makes a task cell never freed a reported leak.
struct NoWakes(#[allow(dead_code)] Arc<()>);

impl Schedule for NoWakes {
    fn schedule(&self, _task: Notified) {
        panic!("a child's task was woken");
    }
}

/// A new child's task, not yet scheduled, and what its work will do.
fn child() -> (Notified, StdArc<Record>) {
    let record = StdArc::new(Record::default());
    let (notified, task) = task::new_task(Work(record.clone()), NoWakes(Arc::new(())));
    drop(task);
    (notified, record)
}

/// Where a child goes that must not be spawned: the limit is full.
fn full(_task: Notified) {
    panic!("a full limit started a child at once");
}

/// A worker: the children given a slot on this thread, run here, each releasing its
/// slot once its future is gone.
#[derive(Default)]
struct Worker(RefCell<Vec<Notified>>);

impl Worker {
    fn spawn(&self, task: Notified) {
        self.0.borrow_mut().push(task);
    }

    fn run(&self, limit: &Limit) {
        loop {
            let next = self.0.borrow_mut().pop();
            let Some(task) = next else { return };
            task.run();
            limit.release(&|task| self.spawn(task));
        }
    }
}

/// A running child finishes on this thread: its slot goes on, and the children it
/// went to run here.
fn finish(limit: &Limit) {
    let worker = Worker::default();
    limit.release(&|task| worker.spawn(task));
    worker.run(limit);
}

/// A limit of `max` with `running` slots taken (children running).
fn limit(max: usize, running: usize) -> Arc<Limit> {
    let limit = Arc::new(Limit::new(max));
    for _ in 0..running {
        assert_eq!(limit.try_acquire(), Ok(true));
    }
    limit
}

/// Once every thread is done: no slot held, nothing queued.
fn settled(limit: &Limit) {
    assert_eq!(limit.running(), 0, "a slot was lost");
    assert_eq!(limit.queued(), 0, "a child was left in the queue");
}

/// (a) The one running child finishes while another thread cancels, by its handle, a
/// child queued behind it with a scope of its own (`behind`: with a child that has
/// none queued after it). The cancelled child never runs once its scope was cancelled
/// before the slot came (it may run if the slot reached it first: then it starts,
/// and meets the cancel as it runs), its future is dropped once, and it is out of the
/// queue once the cancel returns; the slot is never lost: the child behind runs once,
/// and at the end no slot is held.
fn finish_vs_cancel_of_a_queued_child(behind: bool) {
    model(move || {
        let limit = limit(1, 1);
        let node = ScopeNode::new();
        let (task, cancelled) = child();
        limit.start_or_queue(&full, task, Some(node.clone()));
        let next = behind.then(|| {
            let (task, record) = child();
            limit.start_or_queue(&full, task, None);
            record
        });
        let flagged = Arc::new(AtomicBool::new(false));
        let canceller = {
            let (limit, flagged) = (limit.clone(), flagged.clone());
            thread::spawn(move || {
                // `TaskHandle::cancel`.
                node.cancel();
                flagged.store(true, SeqCst);
                drop(limit.unqueue_cancelled(&node));
                assert!(
                    !limit.is_queued(&node),
                    "a cancelled child is still queued after its cancel"
                );
            })
        };
        let finisher = {
            let (limit, flagged) = (limit.clone(), flagged.clone());
            thread::spawn(move || {
                let after_cancel = flagged.load(SeqCst);
                finish(&limit);
                after_cancel
            })
        };
        canceller.join().unwrap();
        let after_cancel = finisher.join().unwrap();
        if after_cancel {
            assert_eq!(cancelled.polls(), 0, "a child cancelled in the queue ran");
        }
        assert!(cancelled.polls() <= 1, "a child ran twice");
        assert_eq!(cancelled.drops(), 1, "the cancelled child's future");
        if let Some(next) = next {
            assert_eq!(
                next.polls(),
                1,
                "the child behind did not get the slot once"
            );
            assert_eq!(next.drops(), 1, "the child behind's future");
        }
        settled(&limit);
    });
}

#[test]
fn finish_vs_cancel_of_the_only_queued_child() {
    finish_vs_cancel_of_a_queued_child(false);
}

#[test]
fn finish_vs_cancel_of_a_queued_child_before_another() {
    finish_vs_cancel_of_a_queued_child(true);
}

/// (b) Both running children of a limit of two finish at once, with two children
/// queued: each queued child gets a slot exactly once, and at the end no slot is held.
#[test]
fn two_finishes_vs_two_queued() {
    model(|| {
        let limit = limit(2, 2);
        let records: Vec<_> = (0..2)
            .map(|_| {
                let (task, record) = child();
                limit.start_or_queue(&full, task, None);
                record
            })
            .collect();
        let finishers: Vec<_> = (0..2)
            .map(|_| {
                let limit = limit.clone();
                thread::spawn(move || finish(&limit))
            })
            .collect();
        for finisher in finishers {
            finisher.join().unwrap();
        }
        for record in &records {
            assert_eq!(record.polls(), 1, "a queued child did not run exactly once");
            assert_eq!(record.drops(), 1, "a queued child's future");
        }
        settled(&limit);
    });
}

/// A child is started while the one running child finishes: it runs at once or is
/// queued and given the slot, exactly once; at the end no slot is held.
#[test]
fn start_vs_finish() {
    model(|| {
        let limit = limit(1, 1);
        let (task, record) = child();
        let starter = {
            let limit = limit.clone();
            thread::spawn(move || {
                let worker = Worker::default();
                limit.start_or_queue(&|task| worker.spawn(task), task, None);
                worker.run(&limit);
            })
        };
        let finisher = {
            let limit = limit.clone();
            thread::spawn(move || finish(&limit))
        };
        starter.join().unwrap();
        finisher.join().unwrap();
        assert_eq!(record.polls(), 1, "the child did not run exactly once");
        assert_eq!(record.drops(), 1, "the child's future");
        settled(&limit);
    });
}

/// A child is started while the group is torn down (its limit closed), the one running
/// child still running: the child never runs, whether it was queued before the close
/// (which drops it) or comes after (dropped at once); nothing is left in the queue,
/// also once the running child has finished.
#[test]
fn start_vs_close() {
    model(|| {
        let limit = limit(1, 1);
        let (task, record) = child();
        let starter = {
            let limit = limit.clone();
            thread::spawn(move || limit.start_or_queue(&full, task, None))
        };
        let closer = {
            let limit = limit.clone();
            thread::spawn(move || limit.close())
        };
        starter.join().unwrap();
        closer.join().unwrap();
        assert_eq!(
            record.drops(),
            1,
            "a child started as the group was torn down was kept"
        );
        finish(&limit);
        assert_eq!(record.polls(), 0, "a child of a torn-down group ran");
        settled(&limit);
    });
}

/// Two `start_soon_wait` callers wait behind the one running child. It finishes while
/// the first caller goes away (is dropped): a slot granted to that caller and never
/// used goes on to the second, which gets it (else it waits for ever), starts its
/// child, which finishes; at the end no slot is held.
#[test]
fn finish_vs_granted_waiter_dropped() {
    model(|| {
        let limit = limit(1, 1);
        let (first, second) = (common::Runner::new(), common::Runner::new());
        let mut waiters = [Waiter::default(), Waiter::default()];
        for (waiter, runner) in waiters.iter_mut().zip([&first, &second]) {
            assert!(
                limit
                    .poll_acquire(&full, waiter, &runner.waker)
                    .is_pending()
            );
        }
        let [dropped, mut waiting] = waiters;
        let finisher = {
            let limit = limit.clone();
            thread::spawn(move || finish(&limit))
        };
        let dropper = {
            let limit = limit.clone();
            thread::spawn(move || limit.cancel_wait(&full, dropped))
        };
        loop {
            match limit.poll_acquire(&full, &mut waiting, &second.waker) {
                Poll::Ready(Ok(())) => break,
                Poll::Ready(Err(Closed)) => panic!("the limit closed"),
                Poll::Pending => second.wait(),
            }
        }
        // The second caller's child runs, and finishes.
        finish(&limit);
        finisher.join().unwrap();
        dropper.join().unwrap();
        settled(&limit);
        drop(first);
    });
}

/// A `start`'s child queued behind the one running child; the caller's scope is
/// cancelled (the walk of the tree reaches the child's scope, but cannot take it out
/// of the queue there), and the caller then lets go of the start (`StartFuture::drop`,
/// which does). The running child finishes meanwhile. A child whose scope the cancel
/// reached before the slot came never runs; its future is dropped once, and at the end
/// nothing is queued and no slot is held.
#[test]
fn finish_vs_start_callers_cancel() {
    model(|| {
        let limit = limit(1, 1);
        let caller_scope = ScopeNode::new();
        let (starter, status, wrapper, node) = start::new::<()>(caller_scope.clone());
        let (task, record) = child();
        limit.start_or_queue(&full, task, Some(node.clone()));
        let flagged = Arc::new(AtomicBool::new(false));
        let canceller = {
            let (limit, flagged) = (limit.clone(), flagged.clone());
            thread::spawn(move || {
                caller_scope.cancel();
                flagged.store(true, SeqCst);
                // `StartFuture::drop`.
                drop(starter);
                drop(limit.unqueue_cancelled(&node));
                assert!(
                    !limit.is_queued(&node),
                    "a cancelled start's child is still queued after its caller let go"
                );
            })
        };
        let finisher = {
            let (limit, flagged) = (limit.clone(), flagged.clone());
            thread::spawn(move || {
                let after_cancel = flagged.load(SeqCst);
                finish(&limit);
                after_cancel
            })
        };
        canceller.join().unwrap();
        let after_cancel = finisher.join().unwrap();
        if after_cancel {
            assert_eq!(
                record.polls(),
                0,
                "a start's child ran after its caller's cancel"
            );
        }
        assert!(record.polls() <= 1, "a child ran twice");
        assert_eq!(record.drops(), 1, "the child's future");
        settled(&limit);
        drop(status);
        wrapper.finished();
    });
}
