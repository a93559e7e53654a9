//! loom model of how a runtime's shutdown reaches every task: through the list of the
//! groups that started a child, while children are linked below those groups.
//!
//! Locks order everything; every step of the model happens under one of them. A
//! group's first child, as it is linked (under the group node's lock), records the
//! node: `record` pushes it under a shard's lock and reads the `closed` flag under
//! the same lock, and a group that finds the list closed marks its node shut down,
//! with nothing linked yet. A child started from the shard that started the group's
//! first child is linked in the node's own table, under the node's lock; one from
//! another shard in that shard's table, made under the node's lock by its first
//! child, and then under the table's lock alone. `close` sets the flag before it takes
//! each shard's lock, and shuts down each node it finds: under the node's lock, it
//! marks the node and takes its own links, then takes each other table's links and
//! marks it, under that table's lock. A child linked later, under the node's lock or
//! its table's, sees a mark and is cancelled at once. A launch's shard stands for the
//! thread that starts the child (a worker, or another thread).
//!
//! Checked: every child's future is dropped exactly once by the time every side is
//! done, and a child whose launch had returned when the close returned was dropped by
//! then (the runtime's drop leaves no launched child behind): also when a group's first
//! two children are launched at once. (`two_first_links_vs_close` failed against a
//! first design that recorded through a flag outside the node's lock: a second launch
//! that saw the flag linked its child before the first had recorded the group, or
//! while the first, finding the list closed, was shutting the node down on its own
//! thread after the close had returned.)
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test
//! loom_owned`. The seeded bugs it catches are rows of the mutation table
//! (`loom-tests/README.md`, `loom-tests/mutate.sh`).
#![cfg(pride_loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::thread;
use pride::__loom::cancel::ScopeNode;
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

/// A new child whose future counts its drops into `drops`, polled once: idle, as a
/// task asleep when the runtime shuts down. Returns the reference its group links.
fn child(drops: &Arc<AtomicUsize>) -> task::Task {
    let (notified, task) = task::new_task(Pending(drops.clone()), Sched);
    notified.run();
    task
}

/// A node entered at the root, standing for a group's.
fn group() -> Arc<ScopeNode> {
    let node = ScopeNode::new();
    ScopeNode::enter(&node, None);
    node
}

/// A launch's thread, whether it has returned, and its child's drops.
type Launch = (thread::JoinHandle<()>, Arc<AtomicBool>, Arc<AtomicUsize>);

/// A thread that links a new child below `group` as a launch does, in table `shard`
/// (recording the group in shard `shard` if it is the first), then says it has
/// returned.
fn launch(owned: &Arc<Owned>, group: &Arc<ScopeNode>, shard: usize) -> Launch {
    let drops = Arc::new(AtomicUsize::new(0));
    let launched = Arc::new(AtomicBool::new(false));
    let (owned, group, child, done) = (
        owned.clone(),
        group.clone(),
        child(&drops),
        launched.clone(),
    );
    let thread = thread::spawn(move || {
        owned.link_child(&group, child, shard);
        done.store(true, SeqCst);
    });
    (thread, launched, drops)
}

/// Closes `owned`; then each child whose launch had returned must have been dropped,
/// and, once the launches are joined, every child exactly once.
fn close_and_check(owned: &Owned, launches: Vec<Launch>) {
    owned.close();
    for (_, launched, drops) in &launches {
        if launched.load(SeqCst) {
            assert_eq!(drops.load(SeqCst), 1, "a launched child outlived the close");
        }
    }
    for (thread, _, drops) in launches {
        thread.join().unwrap();
        assert_eq!(
            drops.load(SeqCst),
            1,
            "a child was not dropped exactly once"
        );
    }
}

/// A group that has a child starts another while the runtime closes.
#[test]
fn link_vs_close() {
    loom::model(|| {
        let owned = Arc::new(Owned::new(2));
        let group = group();
        let first = Arc::new(AtomicUsize::new(0));
        owned.link_child(&group, child(&first), 0);
        let launches = vec![launch(&owned, &group, 1)];
        close_and_check(&owned, launches);
        assert_eq!(first.load(SeqCst), 1, "the first child outlived the close");
    });
}

/// A group whose first children came from both shards (so the second has a table of
/// its own) starts one more from each while the runtime closes: one in the node's own
/// table, one in a table made before, under that table's lock alone.
#[test]
fn links_into_made_tables_vs_close() {
    loom::model(|| {
        let owned = Arc::new(Owned::new(2));
        let group = group();
        let first = Arc::new(AtomicUsize::new(0));
        owned.link_child(&group, child(&first), 0);
        owned.link_child(&group, child(&first), 1);
        let launches = (0..2).map(|shard| launch(&owned, &group, shard)).collect();
        close_and_check(&owned, launches);
        assert_eq!(first.load(SeqCst), 2, "a first child outlived the close");
    });
}

/// A group starts its first child while the runtime closes.
#[test]
fn first_link_vs_close() {
    loom::model(|| {
        let owned = Arc::new(Owned::new(2));
        let launches = vec![launch(&owned, &group(), 1)];
        close_and_check(&owned, launches);
    });
}

/// Two threads start the first children of one group at once while the runtime
/// closes.
#[test]
fn two_first_links_vs_close() {
    loom::model(|| {
        let owned = Arc::new(Owned::new(2));
        let group = group();
        let launches = (0..2).map(|shard| launch(&owned, &group, shard)).collect();
        close_and_check(&owned, launches);
    });
}
