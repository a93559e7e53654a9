//! The links from a node down to the nodes entered inside it, and from a group's node
//! to its children that have no scope of their own, through which a cancel wakes every
//! task below. A scope wrapper unlinks its node as it exits; a node that is only marked
//! exited (a group child's, whose finishing worker should not take the group's lock),
//! and a child task that has completed, are dropped by the next sweep, when a link
//! finds the table full.

use std::sync::Arc as StdArc;
use std::task::Waker;

use super::{LINKED, Label, ScopeNode, TASKS};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::Ordering;

/// One link down from a node.
#[derive(Clone)]
pub(crate) enum Below {
    /// A scope entered inside the node (a group child's own scope among them).
    Scope(Arc<ScopeNode>),
    /// A group child that runs in the group's scope, having none of its own: its
    /// task's own waker, and its name for the task tree.
    Task {
        waker: Waker,
        name: Option<StdArc<str>>,
    },
}

impl Below {
    /// Drops a child task's future now, if this is a group's child (one being polled
    /// is dropped by its worker when the poll returns). A child is linked below its
    /// group by its task's own waker, a reference to the task: directly, or held by
    /// the child's own node. The other nodes linked below a group are scopes of its
    /// body or of its children, which have nothing to cancel here.
    pub(crate) fn cancel_task(&self) {
        let waker = match self {
            Below::Task { waker, .. } => waker.clone(),
            Below::Scope(node) => match (node.label(), node.waker()) {
                (Some(Label::Task(_)), Some(waker)) => waker,
                _ => return,
            },
        };
        let cancelled = crate::task::with_task(&waker, crate::task::Task::cancel);
        debug_assert!(cancelled.is_some(), "a child is linked by a foreign waker");
    }

    /// The scope has exited, or the task has completed: a cancel has nothing left to
    /// wake there.
    fn has_exited(&self) -> bool {
        match self {
            Below::Scope(node) => node.has_exited(),
            Below::Task { waker, .. } => {
                crate::task::with_task(waker, crate::task::Task::is_complete).unwrap_or(false)
            }
        }
    }
}

/// How a group records its node in its runtime's list of groups before its first
/// child is linked (the list through which the runtime's shutdown reaches every
/// child: see `runtime/owned.rs`). `Ok` holds the nodes of gone groups that the list
/// let go of meanwhile, dropped once the link lock is released; `Err`: the runtime
/// has shut down.
pub(crate) type Record<'a> = &'a dyn Fn() -> Result<Released, ListClosed>;

/// A runtime's list of groups is closed: the runtime has shut down.
pub(crate) struct ListClosed;

/// Nodes let go of; dropped as [`ScopeNode::release`] drops them.
pub(crate) struct Released(pub(crate) Vec<Arc<ScopeNode>>);

impl Drop for Released {
    fn drop(&mut self) {
        ScopeNode::release(std::mem::take(&mut self.0));
    }
}

pub(super) const UNLINKED: usize = usize::MAX;

/// Exited links a node tolerates before a sweep (see `Links::sweep_at`). Small: a
/// group that runs a few children at a time frees its finished children's links (and
/// their tasks) in small batches, which the allocator hands straight back to the next
/// links on the same thread.
pub(super) const SWEEP_MIN: usize = 8;

pub(super) struct Links {
    pub(super) waker: Option<Waker>,
    /// The links down; a scope's at the index its `slot` holds.
    pub(super) below: Vec<Option<Below>>,
    /// Free indices of `below`.
    pub(super) free: Vec<usize>,
    /// A group's node: its first child's link has recorded it in its runtime's list.
    recorded: bool,
    /// The runtime shut down (see [`ScopeNode::shut_down`]): nothing is linked any more.
    shut: bool,
    /// Linking into a full table of this many links first drops those of nodes that
    /// have exited; after a sweep, twice what survived (at least `SWEEP_MIN`), so that
    /// each link is looked at a bounded number of times on average.
    sweep_at: usize,
}

impl Default for Links {
    fn default() -> Links {
        Links {
            waker: None,
            below: Vec::new(),
            free: Vec::new(),
            recorded: false,
            shut: false,
            sweep_at: SWEEP_MIN,
        }
    }
}

impl Links {
    /// Takes the links of nodes that have exited and tasks that have completed out,
    /// freeing their slots (the caller drops them after unlocking: each may be its
    /// node's or task's last reference).
    fn sweep(&mut self) -> Vec<Below> {
        let mut live = 0;
        let mut swept = Vec::new();
        for (index, slot) in self.below.iter_mut().enumerate() {
            let Some(below) = slot else { continue };
            if !below.has_exited() {
                live += 1;
                continue;
            }
            if let Below::Scope(node) = below {
                node.slot.store(UNLINKED, Ordering::Relaxed);
            }
            swept.extend(slot.take());
            self.free.push(index);
        }
        self.sweep_at = (2 * live).max(SWEEP_MIN);
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
        ScopeNode::link_new(node);
        // Other tasks may already run below this node (a group's children, also those
        // started through a handle that left the group's first poll), and a cancel
        // above that came before this link found no way down to them. Both take the
        // parent's links lock, after the cancel's flag store and before our load:
        // either that cancel's walk sees our link and wakes them, or we see its flag
        // here and wake them ourselves.
        if node.parent().is_some() && node.cancelled_by().is_some() {
            node.wake_subtree();
        }
    }

    /// Links an entered node below which nothing runs yet (a scope just entered, a
    /// group child about to be launched) into its parent: the first poll inside it
    /// sees a cancel that came before, so, unlike a late link, there is nothing to
    /// wake.
    pub(crate) fn link_new(node: &Arc<ScopeNode>) {
        match node.parent() {
            Some(parent) => parent.link(node.clone()),
            None => {
                node.flags.fetch_or(LINKED, Ordering::AcqRel);
            }
        }
    }

    /// Links `child`, a node entered below `self` below which nothing runs yet, so
    /// that cancelling `self` wakes it (see [`link_new`](Self::link_new)). If `self`
    /// is already effectively cancelled, the child will see it on its first poll.
    pub(crate) fn link(&self, child: Arc<ScopeNode>) {
        self.link_below(Below::Scope(child), None);
    }

    /// Links a new child of the group whose node this is, below which nothing runs
    /// yet: its task directly (a child that runs in the group's scope), or its own
    /// node, holding its task's waker. `record` is how the group records its node in
    /// its runtime's list: the first child's link does it, under the link lock, so a
    /// child linked at the same time waits for it, and none is linked below a group
    /// the runtime's shutdown cannot reach. If the runtime has shut down, the node is
    /// shut down with it and the child is cancelled instead of linked.
    pub(crate) fn link_child(&self, child: Below, record: Record<'_>) {
        self.link_below(child, Some(record));
    }

    /// Links a group child that runs in this group's scope, without recording the
    /// group anywhere: for models and tests of the tree alone.
    #[cfg(any(test, pride_loom))]
    pub fn link_task(&self, waker: Waker, name: Option<StdArc<str>>) {
        self.link_below(Below::Task { waker, name }, None);
    }

    fn link_below(&self, below: Below, record: Option<Record<'_>>) {
        match &below {
            Below::Scope(child) => {
                debug_assert!(
                    child
                        .parent()
                        .is_some_and(|parent| std::ptr::eq(parent, self))
                );
                child.flags.fetch_or(LINKED, Ordering::AcqRel);
            }
            // Written once: every child reads these flags on each poll.
            Below::Task { .. } => {
                if self.flags.load(Ordering::Relaxed) & TASKS == 0 {
                    self.flags.fetch_or(TASKS, Ordering::Relaxed);
                }
            }
        }
        self.insert(below, record);
    }

    fn insert(&self, below: Below, record: Option<Record<'_>>) {
        let mut links = self.links.lock();
        let mut released = None;
        if let Some(record) = record {
            if !links.recorded {
                links.recorded = true;
                match record() {
                    Ok(list_released) => released = Some(list_released),
                    // Nothing was linked here before: there is nothing else to cancel.
                    Err(ListClosed) => links.shut = true,
                }
            }
        }
        if links.shut {
            drop(links);
            drop(released);
            below.cancel_task();
            return;
        }
        let swept = if links.free.is_empty() && links.below.len() >= links.sweep_at {
            links.sweep()
        } else {
            Vec::new()
        };
        let index = match links.free.pop() {
            Some(index) => index,
            None => {
                links.below.push(None);
                links.below.len() - 1
            }
        };
        if let Below::Scope(node) = &below {
            node.slot.store(index, Ordering::Relaxed);
        }
        links.below[index] = Some(below);
        drop(links);
        drop(swept);
        drop(released);
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
        let index = node.slot.swap(UNLINKED, Ordering::Relaxed);
        if index == UNLINKED {
            return;
        }
        // Dropped outside the lock: it may be the node's last reference.
        let link = links.below[index].take();
        debug_assert!(matches!(&link, Some(Below::Scope(link)) if Arc::ptr_eq(link, node)));
        links.free.push(index);
        drop(links);
        drop(link);
    }

    /// Takes every link (a group tearing down). Their nodes become unlinked.
    pub(crate) fn take_links(&self) -> Vec<Below> {
        let mut links = self.links.lock();
        Self::take_from(&mut links)
    }

    /// The runtime has shut down: takes every link, for the caller to cancel the
    /// children among them, and from now on cancels what would be linked instead of
    /// linking it (a child started while futures are being dropped). Links to scopes
    /// entered below are dropped too: a cancel of this node no longer reaches them,
    /// which no longer matters with every task of the runtime being dropped.
    pub(crate) fn shut_down(&self) -> Vec<Below> {
        let mut links = self.links.lock();
        links.shut = true;
        Self::take_from(&mut links)
    }

    fn take_from(links: &mut Links) -> Vec<Below> {
        links.free.clear();
        let taken: Vec<Below> = links.below.drain(..).flatten().collect();
        for below in &taken {
            if let Below::Scope(node) = below {
                node.slot.store(UNLINKED, Ordering::Relaxed);
            }
        }
        taken
    }

    /// The links below this node whose scopes have not exited and whose tasks have not
    /// completed, for the debug dump.
    pub(crate) fn linked(&self) -> Vec<Below> {
        let links = self.links.lock();
        let live = links.below.iter().flatten();
        live.filter(|below| !below.has_exited()).cloned().collect()
    }

    /// How many links the table holds, exited ones included.
    #[cfg(all(test, not(pride_loom)))]
    pub(crate) fn link_count(&self) -> usize {
        self.links.lock().below.iter().flatten().count()
    }

    /// The waker of the task running inside this scope, for the debug dump and a
    /// group's teardown (a group child's node holds its task's own waker).
    pub(crate) fn waker(&self) -> Option<Waker> {
        self.links.lock().waker.clone()
    }
}
