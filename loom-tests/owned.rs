//! loom model of how a runtime's shutdown reaches every task: through the list of
//! groups that started a child, while children are linked below those groups and the
//! groups record themselves.
//!
//! Two locks order everything; there is no lock-free step. `record` pushes a group's
//! node under a shard's lock and reads the `closed` flag under the same lock; `close`
//! sets the flag before it takes each shard's lock, and shuts down each node it finds.
//! Shutting a node down takes its links and marks it under the node's link lock; a
//! child linked later, under the same lock, sees the mark and is cancelled at once.
//! So each child is cancelled by whoever comes second: the close finds it linked, or
//! the link finds the node shut down; and a group recorded after the close shuts its
//! node down itself.
//!
//! Checked: every child's future is dropped exactly once, by the time every side is
//! done, whichever side cancels it, also when a group's second child is linked before
//! its first child's caller has recorded the group.
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
use pride::__loom::cancel::ScopeNode;
use pride::__loom::owned::{Owned, link_child};
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

/// A new child whose future counts its drops into `drops`, polled once: idle, as a
/// task asleep when the runtime shuts down. Returns the reference its group links.
fn child(drops: &Arc<AtomicUsize>) -> task::Task {
    let (notified, task) = task::new_task(Pending(drops.clone()), Sched);
    notified.run();
    task
}

/// A group's node, entered at the root as `task_group` enters it.
fn group() -> Arc<ScopeNode> {
    let node = ScopeNode::new();
    ScopeNode::enter(&node, None);
    node
}

/// A group recorded before the shutdown links a child while the runtime closes.
#[test]
fn link_vs_close() {
    loom::model(|| {
        let owned = Arc::new(Owned::new(2));
        let drops = Arc::new(AtomicUsize::new(0));
        let group = group();
        owned.record(group.clone(), 0);
        let worker = {
            let (group, child) = (group.clone(), child(&drops));
            thread::spawn(move || link_child(&group, child))
        };
        owned.close();
        worker.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "a child outlived the close");
    });
}

/// A group's first child: the group records itself, then links the child, while the
/// runtime closes.
#[test]
fn record_and_link_vs_close() {
    loom::model(|| {
        let owned = Arc::new(Owned::new(2));
        let drops = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (owned, child) = (owned.clone(), child(&drops));
            thread::spawn(move || {
                let group = group();
                owned.record(group.clone(), 0);
                link_child(&group, child);
            })
        };
        owned.close();
        worker.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "a child outlived the close");
    });
}

/// Two children of one group started on two threads: the second is linked before the
/// first one's caller, which set the group's "recorded" flag, has recorded the group;
/// the runtime closes meanwhile.
#[test]
fn link_before_a_late_record_vs_close() {
    loom::model(|| {
        let owned = Arc::new(Owned::new(2));
        let drops = Arc::new(AtomicUsize::new(0));
        let group = group();
        let second = {
            let (group, child) = (group.clone(), child(&drops));
            thread::spawn(move || link_child(&group, child))
        };
        let first = {
            let (owned, group, child) = (owned.clone(), group.clone(), child(&drops));
            thread::spawn(move || {
                owned.record(group.clone(), 1);
                link_child(&group, child);
            })
        };
        owned.close();
        second.join().unwrap();
        first.join().unwrap();
        assert_eq!(drops.load(SeqCst), 2, "a child outlived the close");
    });
}
