//! How dropping a runtime reaches every live task, so that it drops every task's
//! future exactly once, also the futures nothing else would ever reach again: the
//! children of a forgotten group, a task asleep on a timer (its waker lives in its own
//! future, a cycle), a task awaiting `to_thread`.
//!
//! Every task is a group's child, and every child is linked below its group's node
//! from its start until it has completed or its group, tearing down, has taken it to
//! cancel it (the link is how a cancel reaches it). So the runtime's list holds
//! groups, not tasks: a group's first child, as it is linked, records the group's node
//! here, in the shard of the worker that starts it (one shard per worker plus one for
//! other threads); a group that starts no child costs the list nothing, nor does a
//! task. A gone group's node (see `ScopeNode::mark_group_gone`) is not removed at
//! once: a shard sweeps such nodes out when it holds twice what survived its last
//! sweep (64 at least), so the cost is a constant per group.
//!
//! At shutdown the list is closed, and each group's node is shut down: its links are
//! taken, and every child task among them is cancelled (its future dropped at once:
//! the other workers are stopped, so none is being polled, except, when the runtime
//! is dropped inside one of its own tasks, the polls further down the dropping
//! worker's stack, whose tasks are dropped when their polls return). Locks order this:
//! - `close` sets `closed`, then takes each shard's groups under its lock; `record`
//!   reads `closed` under the shard's lock. So a node recorded is shut down by the
//!   close, and a group that finds the list closed is not recorded.
//! - A group's node records itself under its own lock, as its first child is linked
//!   there; a group that finds the list closed marks its node shut down instead, with
//!   nothing linked yet. Every later child is linked after that: in the node's own
//!   table, under its lock, or in a table of its starting thread's shard, made under
//!   the node's lock and then locked alone (`cancel/node/links.rs`).
//! - A node shut down is marked, under its lock, and so is each table of its children
//!   as its links are taken, under that table's lock. A child linked later, under
//!   either lock, sees the mark and is cancelled instead of linked, and no table is
//!   made once the node is marked.
//!
//! A lock is waited for while another is held only in this order: the node's, then a
//! shard's of this list or a table's (a sweep that holds a table only tries the other
//! locks). Cancelling drops futures, which may start children; they are cancelled as
//! they are linked.

use std::mem;

use crate::cancel::node::{ListClosed, Released, ScopeNode};
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Mutex};

/// A thread's place in what the runtime keeps per worker, one shard per worker and one
/// for the threads that are not workers: this list, and each group's tables of
/// children.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shard {
    /// How many shards: the runtime's workers, plus one.
    pub(crate) count: usize,
    /// This thread's: the index of the worker it is (of whichever runtime, at most the
    /// last), or the last for any other thread.
    pub(crate) index: usize,
}

/// A shard sweeps no earlier than at this many groups.
const MIN_SWEEP: usize = 64;

pub(crate) struct OwnedTasks {
    shards: Box<[Mutex<ListShard>]>,
    /// Set once, at shutdown; read under a shard's lock (see `record`).
    closed: AtomicBool,
}

struct ListShard {
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
                    Mutex::new(ListShard {
                        groups: Vec::new(),
                        sweep_at: MIN_SWEEP,
                    })
                })
                .collect(),
            closed: AtomicBool::new(false),
        }
    }

    /// Records the node of a group whose first child is being linked in shard
    /// `shard` (clamped to the last). Returns the nodes of gone groups that a sweep let
    /// go of, for the caller to drop once it holds no lock; `Err` if the list is
    /// closed.
    pub(crate) fn record(
        &self,
        group: Arc<ScopeNode>,
        shard: usize,
    ) -> Result<Released, ListClosed> {
        let shard = &self.shards[shard.min(self.shards.len() - 1)];
        let mut shard = shard.lock();
        // Read under the lock: `close` sets the flag before it takes each shard's
        // lock, so a group recorded after `close` emptied this shard sees it set.
        if self.closed.load(Ordering::Relaxed) {
            return Err(ListClosed);
        }
        shard.groups.push(group);
        if shard.groups.len() < shard.sweep_at {
            return Ok(Released::new());
        }
        // A gone group has no child left, and can start none.
        let mut swept = Vec::new();
        let mut i = 0;
        while i < shard.groups.len() {
            if shard.groups[i].is_group_gone() {
                swept.push(shard.groups.swap_remove(i));
            } else {
                i += 1;
            }
        }
        shard.sweep_at = (shard.groups.len() * 2).max(MIN_SWEEP);
        Ok(swept)
    }

    /// Closes the list and shuts down every group in it, cancelling their children.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for shard in self.shards.iter() {
            let groups = mem::take(&mut shard.lock().groups);
            for group in &groups {
                shut_down(group);
            }
            drop(groups);
        }
    }

    /// How many nodes the list holds.
    #[cfg(all(test, not(pride_loom)))]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().groups.len())
            .sum()
    }

    /// Whether [`close`](Self::close) ran.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Cancels every child task linked below a group's node, and every one linked there
/// from now on.
fn shut_down(group: &ScopeNode) {
    for below in group.shut_down() {
        below.cancel_task();
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use std::future::Future;
    use std::pin::Pin;

    /// A group with one child that opens the next group, `depth` deep.
    fn nested(depth: usize) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            if depth > 0 {
                crate::task_group(async move |tg| tg.start_soon(nested(depth - 1)))
                    .await
                    .expect("a nested group failed");
            }
        })
    }

    /// Chains of nested groups, opened and closed again and again: the list lets go of
    /// each group once it is gone, also while a nested group's node still holds its
    /// parent's, so each shard holds at most twice the groups alive at its last sweep
    /// (64 at least), not as many as were ever opened.
    #[test]
    fn gone_groups_leave_the_list() {
        let rt = crate::Runtime::builder()
            .worker_threads(2)
            .build()
            .expect("runtime");
        rt.block_on(async {
            for _ in 0..2_000 {
                nested(8).await;
            }
        });
        let held = rt.handle.recorded_groups();
        assert!(held < 1_000, "the list holds {held} of 16000 groups");
    }
}

/// What the loom model in `loom-tests/owned.rs` drives: the list itself. Only under
/// `cfg(pride_loom)`; reached as `pride::__loom::owned`.
#[cfg(pride_loom)]
pub(crate) mod loom_api {
    use crate::cancel::node::{Below, ScopeNode};
    use crate::loom::sync::Arc;
    use crate::task::Task;

    /// A runtime's list of every group that started a child.
    pub struct Owned(super::OwnedTasks);

    impl Owned {
        /// A list with `shards` shards.
        pub fn new(shards: usize) -> Owned {
            Owned(super::OwnedTasks::new(shards))
        }

        /// Closes the list and cancels every child of every group in it.
        pub fn close(&self) {
            self.0.close();
        }

        /// Links `task` below `group` as a group links a child that runs in its scope,
        /// started from the thread of shard `shard` (of two): in that table of the
        /// group's, recording `group` in that shard of the list if it is the first.
        pub fn link_child(&self, group: &Arc<ScopeNode>, task: Task, shard: usize) {
            let record = || self.0.record(group.clone(), shard);
            let waker = crate::task::into_waker(task);
            let place = crate::runtime::Shard {
                count: 2,
                index: shard,
            };
            group.link_child(Below::Task { waker, name: None }, &record, place);
        }
    }
}
