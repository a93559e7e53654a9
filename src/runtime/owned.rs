//! Every live task of a runtime, so that dropping the runtime drops every task's
//! future exactly once, also the futures nothing else would ever reach again: the
//! children of a forgotten group, a task asleep on a timer (its waker lives in its own
//! future, a cycle), a task awaiting `to_thread`.
//!
//! Every task is a group's child, and every child is linked below its group's node
//! from its start until it has completed or its group, tearing down, has taken it to
//! cancel it (the link is how a cancel reaches it). So the list
//! holds groups, not tasks: a group records its node here when it starts its first
//! child, in the shard of the worker that starts it (one shard per worker plus one for
//! other threads), and a task costs the list nothing. A group gone (the list holds
//! the last reference to its node) is not removed at once: a shard sweeps such nodes
//! out when it has doubled since its last sweep, so the cost is a constant per group.
//!
//! At shutdown the list is closed, and each group's node is shut down: its links are
//! taken, and every child task among them is cancelled (its future dropped at once;
//! workers are stopped, so none is being polled). A node shut down cancels a child
//! linked later instead of linking it (both happen under the node's link lock), and a
//! group that records its node after the close shuts the node down itself (both happen
//! under the shard's lock). Cancelling drops futures, which may start children; they
//! are cancelled as they are linked.

use std::mem;

use crate::cancel::node::ScopeNode;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Mutex};

/// A shard sweeps no earlier than at this many groups.
const MIN_SWEEP: usize = 64;

pub(crate) struct OwnedTasks {
    shards: Box<[Mutex<Shard>]>,
    /// Set once, at shutdown; read under a shard's lock (see `record`).
    closed: AtomicBool,
}

struct Shard {
    /// The nodes of groups that started a child.
    groups: Vec<Arc<ScopeNode>>,
    /// `groups.len()` at which the next sweep runs.
    sweep_at: usize,
}

impl OwnedTasks {
    /// A list with `shards` shards.
    pub(crate) fn new(shards: usize) -> OwnedTasks {
        OwnedTasks {
            shards: (0..shards.max(1))
                .map(|_| {
                    Mutex::new(Shard {
                        groups: Vec::new(),
                        sweep_at: MIN_SWEEP,
                    })
                })
                .collect(),
            closed: AtomicBool::new(false),
        }
    }

    /// Records the node of a group about to start its first child in shard `shard`
    /// (clamped to the last); shuts the node down instead if the list is closed.
    pub(crate) fn record(&self, group: Arc<ScopeNode>, shard: usize) {
        let shard = &self.shards[shard.min(self.shards.len() - 1)];
        let swept = {
            let mut shard = shard.lock();
            // Read under the lock: `close` sets the flag before it takes each shard's
            // lock, so a group recorded after `close` emptied this shard sees it set.
            if self.closed.load(Ordering::Relaxed) {
                drop(shard);
                shut_down(&group);
                return;
            }
            shard.groups.push(group);
            if shard.groups.len() < shard.sweep_at {
                return;
            }
            // A node that only this list holds belongs to a group that is gone, with
            // its children: nothing can link below it any more.
            let mut swept = Vec::new();
            let mut i = 0;
            while i < shard.groups.len() {
                if Arc::strong_count(&shard.groups[i]) == 1 {
                    swept.push(shard.groups.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            shard.sweep_at = (shard.groups.len() * 2).max(MIN_SWEEP);
            swept
        };
        // Outside the lock: a node's last reference may hold its parent's.
        release(swept);
    }

    /// Closes the list and shuts down every group in it, cancelling their children.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for shard in self.shards.iter() {
            let groups = mem::take(&mut shard.lock().groups);
            for group in &groups {
                shut_down(group);
            }
            release(groups);
        }
    }

    /// Whether [`close`](Self::close) ran.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Drops the list's references to group nodes. A node dropped here for the last time
/// lets go of its parent first, and the parent is released the same way: a chain of
/// ten thousand nested groups, swept in one batch, would otherwise be dropped by as
/// many nested calls.
fn release(mut nodes: Vec<Arc<ScopeNode>>) {
    while let Some(mut node) = nodes.pop() {
        if let Some(last) = Arc::get_mut(&mut node) {
            nodes.extend(last.take_parent());
        }
        drop(node);
    }
}

/// Cancels every child task linked below a group's node, and every one linked there
/// from now on.
fn shut_down(group: &ScopeNode) {
    for below in group.shut_down() {
        below.cancel_task();
    }
}

/// What the loom model in `loom-tests/owned.rs` drives: the list itself. Only under
/// `cfg(pride_loom)`; reached as `pride::__loom::owned`.
#[cfg(pride_loom)]
pub(crate) mod loom_api {
    use crate::cancel::node::ScopeNode;
    use crate::loom::sync::Arc;

    /// A runtime's list of every group that started a child.
    pub struct Owned(super::OwnedTasks);

    impl Owned {
        /// A list with `shards` shards.
        pub fn new(shards: usize) -> Owned {
            Owned(super::OwnedTasks::new(shards))
        }

        /// Records a group's node in shard `shard`, or shuts it down if the list is
        /// closed.
        pub fn record(&self, group: Arc<ScopeNode>, shard: usize) {
            self.0.record(group, shard);
        }

        /// Closes the list and cancels every child of every group in it.
        pub fn close(&self) {
            self.0.close();
        }
    }

    /// Links `task` below `group` as a group links a child that runs in its scope.
    pub fn link_child(group: &ScopeNode, task: crate::task::Task) {
        group.link_task(crate::task::into_waker(task), None);
    }
}
