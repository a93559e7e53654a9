//! The links from a node down to the nodes entered inside it, through which a cancel
//! wakes every task below. A scope wrapper unlinks its node as it exits; a node that is
//! only marked exited (a group child's, whose finishing worker should not take the
//! group's lock) is dropped by the next sweep, when a link finds the table full.

use std::task::Waker;

use slab::Slab;

use super::{LINKED, ScopeNode};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::Ordering;

pub(super) const UNLINKED: usize = usize::MAX;

/// Exited links a node tolerates before a sweep (see `Links::sweep_at`). Small: a
/// group that runs a few children at a time frees its finished children's nodes (and
/// their tasks) in small batches, which the allocator hands straight back to the next
/// links on the same thread.
pub(super) const SWEEP_MIN: usize = 8;

pub(super) struct Links {
    pub(super) waker: Option<Waker>,
    /// The nodes linked below, each at the key its `slot` holds.
    pub(super) below: Slab<Arc<ScopeNode>>,
    /// Linking into a full table of this many links first drops those of nodes that
    /// have exited; after a sweep, twice what survived (at least `SWEEP_MIN`), so that
    /// each link is looked at a bounded number of times on average.
    sweep_at: usize,
}

impl Default for Links {
    fn default() -> Links {
        Links {
            waker: None,
            below: Slab::new(),
            sweep_at: SWEEP_MIN,
        }
    }
}

impl Links {
    /// Takes the links of nodes that have exited out (the caller drops them after
    /// unlocking: each may be its node's last reference).
    fn sweep(&mut self) -> Vec<Arc<ScopeNode>> {
        let exited: Vec<usize> = (self.below.iter())
            .filter(|(_, node)| node.has_exited())
            .map(|(key, _)| key)
            .collect();
        let swept: Vec<_> = exited.iter().map(|&key| self.below.remove(key)).collect();
        for node in &swept {
            node.slot.store(UNLINKED, Ordering::Relaxed);
        }
        self.sweep_at = (2 * self.below.len()).max(SWEEP_MIN);
        swept
    }
}

impl ScopeNode {
    /// Links an entered node into its parent, so that cancelling the parent wakes what
    /// runs inside (idempotent; called by the node's own wrapper).
    #[inline]
    pub fn link_into_parent(node: &Arc<ScopeNode>) {
        if node.flags.load(Ordering::Acquire) & LINKED != 0 {
            return;
        }
        ScopeNode::link_unlinked(node);
    }

    fn link_unlinked(node: &Arc<ScopeNode>) {
        node.flags.fetch_or(LINKED, Ordering::AcqRel);
        if let Some(parent) = node.parent() {
            parent.link(node.clone());
            // Other tasks may already run below this node (a group's children, also
            // those started through a handle that left the group's first poll), and a
            // cancel above that came before this link found no way down to them. Both
            // take the parent's links lock, after the cancel's flag store and before
            // our load: either that cancel's walk sees our link and wakes them, or we
            // see its flag here and wake them ourselves.
            if node.cancelled_by().is_some() {
                node.wake_subtree();
            }
        }
    }

    /// Links `child` below `self` so cancelling `self` wakes it. If `self` is already
    /// effectively cancelled, the child will see it on its first poll.
    pub(super) fn link(&self, child: Arc<ScopeNode>) {
        let mut links = self.links.lock();
        let swept = if links.below.len() >= links.sweep_at {
            links.sweep()
        } else {
            Vec::new()
        };
        child
            .slot
            .store(links.below.vacant_key(), Ordering::Relaxed);
        links.below.insert(child);
        drop(links);
        drop(swept);
    }

    /// Unlinks `node` from its parent (idempotent).
    #[inline]
    pub fn unlink(node: &Arc<ScopeNode>) {
        if node.flags.load(Ordering::Acquire) & LINKED != 0 {
            ScopeNode::unlink_linked(node);
        }
    }

    fn unlink_linked(node: &Arc<ScopeNode>) {
        let Some(parent) = node.parent() else {
            return;
        };
        let mut links = parent.links.lock();
        let key = node.slot.swap(UNLINKED, Ordering::Relaxed);
        if key == UNLINKED {
            return;
        }
        // Dropped outside the lock: it may be the node's last reference.
        let link = links.below.remove(key);
        debug_assert!(Arc::ptr_eq(&link, node));
        drop(links);
        drop(link);
    }

    /// Takes every link (a group tearing down). Their nodes become unlinked.
    pub(crate) fn take_links(&self) -> Vec<Arc<ScopeNode>> {
        let mut links = self.links.lock();
        let taken: Vec<Arc<ScopeNode>> = links.below.drain().collect();
        for node in &taken {
            node.slot.store(UNLINKED, Ordering::Relaxed);
        }
        taken
    }

    /// The nodes linked below this one whose scopes have not exited, for the debug
    /// dump.
    pub(crate) fn linked(&self) -> Vec<Arc<ScopeNode>> {
        let links = self.links.lock();
        let live = links.below.iter().map(|(_, node)| node);
        live.filter(|node| !node.has_exited()).cloned().collect()
    }

    /// The waker of the task running inside this scope, for the debug dump and a
    /// group's teardown (a group child's node holds its task's own waker).
    pub(crate) fn waker(&self) -> Option<Waker> {
        self.links.lock().waker.clone()
    }
}
