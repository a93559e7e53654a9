//! The links from a node down to the nodes entered inside it, through which a cancel
//! wakes every task below; a group's child is linked with its task, so that the
//! group can tear it down, and is unlinked lazily (see the `DETACHED` flag and the
//! sweep).

use std::task::Waker;

use super::{DETACHED, LINKED, ScopeNode};
use crate::debug::task::TaskInfo;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::Ordering;
use crate::task::Task;

pub(super) const UNLINKED: usize = usize::MAX;

/// Stale child links a node tolerates before a sweep (see `Links::sweep_at`).
pub(super) const SWEEP_MIN: usize = 64;

/// A child linked below a node: a nested scope or group, or a group's child task.
pub(crate) struct Link {
    pub(crate) node: Arc<ScopeNode>,
    /// Set for a group's child task: lets the group tear the task down synchronously.
    pub(crate) task: Option<Task>,
}

pub(super) struct Links {
    pub(super) waker: Option<Waker>,
    pub(super) slots: Vec<Option<Link>>,
    pub(super) free: Vec<usize>,
    /// Linking into a full table of this many slots first sweeps out the links of
    /// detached children; after a sweep, twice what survived (at least `SWEEP_MIN`),
    /// so that each link is looked at a bounded number of times on average.
    pub(super) sweep_at: usize,
}

impl Default for Links {
    fn default() -> Links {
        Links {
            waker: None,
            slots: Vec::new(),
            free: Vec::new(),
            sweep_at: SWEEP_MIN,
        }
    }
}

impl Links {
    /// Drops the links of children that have detached (finished), freeing their slots.
    fn sweep(&mut self) {
        let mut live = 0;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(link) = slot else { continue };
            if link.node.flags.load(Ordering::Acquire) & DETACHED == 0 {
                live += 1;
                continue;
            }
            link.node.slot.store(UNLINKED, Ordering::Relaxed);
            if let Some(link) = slot.take() {
                // Usually the last reference: the node goes back to this (the
                // spawning) thread's free list, where the next child takes it.
                drop(link.task);
                ScopeNode::recycle(link.node);
            }
            self.free.push(index);
        }
        self.sweep_at = (2 * live).max(SWEEP_MIN);
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
        if let Some(parent) = node.parent.get() {
            parent.link(node.clone(), None);
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
    pub(super) fn link(&self, child: Arc<ScopeNode>, task: Option<Task>) {
        let mut links = self.links.lock();
        if links.free.is_empty() && links.slots.len() >= links.sweep_at {
            links.sweep();
        }
        let index = match links.free.pop() {
            Some(index) => index,
            None => {
                links.slots.push(None);
                links.slots.len() - 1
            }
        };
        child.slot.store(index, Ordering::Relaxed);
        links.slots[index] = Some(Link { node: child, task });
    }

    /// A group child's task is done with this node: its link in the group's node (made
    /// at launch) may go. Instead of taking the group's lock now, on the finishing
    /// worker, the link stays until the group links its next child and sweeps, or the
    /// group ends. A stale link is harmless meanwhile: waking or cancelling a finished
    /// task does nothing.
    #[inline]
    pub(crate) fn detach(&self) {
        self.flags.fetch_or(DETACHED, Ordering::AcqRel);
    }

    /// Unlinks `self` from its parent (idempotent). Returns the link's task reference.
    #[inline]
    pub fn unlink(node: &Arc<ScopeNode>) -> Option<Task> {
        if node.flags.load(Ordering::Acquire) & LINKED == 0 {
            return None;
        }
        ScopeNode::unlink_linked(node)
    }

    fn unlink_linked(node: &Arc<ScopeNode>) -> Option<Task> {
        let parent = node.parent.get()?;
        let mut links = parent.links.lock();
        let index = node.slot.swap(UNLINKED, Ordering::Relaxed);
        if index == UNLINKED {
            return None;
        }
        match links.slots.get(index) {
            Some(Some(link)) if Arc::ptr_eq(&link.node, node) => {}
            _ => return None,
        }
        let link = links.slots[index].take();
        links.free.push(index);
        link.and_then(|l| l.task)
    }

    /// Takes every link (a group tearing down). Their nodes become unlinked.
    pub(crate) fn take_links(&self) -> Vec<Link> {
        let mut links = self.links.lock();
        links.free.clear();
        let taken: Vec<Link> = links.slots.drain(..).flatten().collect();
        for link in &taken {
            link.node.slot.store(UNLINKED, Ordering::Relaxed);
        }
        taken
    }

    /// The nodes linked below this one that have not finished, each with the state of
    /// its task if it is a group's child, for the debug dump.
    pub(crate) fn linked(&self) -> Vec<(Arc<ScopeNode>, Option<TaskInfo>)> {
        let links = self.links.lock();
        links
            .slots
            .iter()
            .flatten()
            .filter(|link| link.node.flags.load(Ordering::Acquire) & DETACHED == 0)
            .map(|link| (link.node.clone(), link.task.as_ref().map(TaskInfo::of)))
            .collect()
    }
}
