//! The links from a node down to the scopes entered inside it, and from a group's node
//! to its children (a child's own node, or the task of a child that has none), through
//! which a cancel wakes every task below.
//!
//! A node's scopes are linked in one table, under the node's lock, at the index their
//! `slot` holds; a scope wrapper unlinks its node as it exits. A group's children are
//! linked in one table per worker of its runtime, and one for other threads, each
//! under its own lock: a child goes into the table of the thread that starts it, so
//! workers that start children into one group at once do not contend for a lock, nor
//! pass its cache lines back and forth. The first child makes the tables, under the
//! node's lock, as it records the group in its runtime's list; a cancel's walk and a
//! teardown take each table's lock in turn, after the node's (never the other way
//! round). A child is never unlinked one by one: its node is marked exited, or its task
//! completes, without a lock taken on the finishing worker, and the next link into a
//! full table sweeps such links out.

use std::sync::Arc as StdArc;
use std::task::Waker;

use crossbeam_utils::CachePadded;

use super::{LINKED, Label, ScopeNode, TASKS};
use crate::loom::sync::atomic::Ordering;
use crate::loom::sync::{Arc, Mutex};

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
/// let go of meanwhile, dropped once the node's lock is released; `Err`: the runtime
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

/// Exited links a table tolerates before a sweep (see `Table::sweep_at`). Small: a
/// group that runs a few children at a time frees its finished children's links (and
/// their tasks) in small batches, which the allocator hands straight back to the next
/// links on the same thread.
pub(super) const SWEEP_MIN: usize = 8;

/// What a node's lock guards: the waker of the task inside it, and the links to the
/// scopes entered inside it.
#[derive(Default)]
pub(super) struct Links {
    pub(super) waker: Option<Waker>,
    /// The links to scopes entered inside the node; a scope's at the index its `slot`
    /// holds.
    scopes: Table,
    /// A group's node: its first child's link has recorded it in its runtime's list.
    recorded: bool,
    /// A group's node: its runtime had shut down when the first child came, so it
    /// makes no tables of children, and every child is cancelled instead of linked.
    shut: bool,
}

/// A table of links, with free slots, swept of exited links when it fills.
struct Table {
    below: Vec<Option<Below>>,
    /// Free indices of `below`.
    free: Vec<usize>,
    /// Linking into a full table of this many links first drops those of nodes that
    /// have exited; after a sweep, twice what survived (at least `SWEEP_MIN`), so that
    /// each link is looked at a bounded number of times on average.
    sweep_at: usize,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            below: Vec::new(),
            free: Vec::new(),
            sweep_at: SWEEP_MIN,
        }
    }
}

impl Table {
    /// Puts `below` in a free slot, sweeping first if the table is full. Returns its
    /// index and the links swept out, which the caller drops after unlocking (each may
    /// be its node's or task's last reference).
    fn insert(&mut self, below: Below) -> (usize, Vec<Below>) {
        let swept = if self.free.is_empty() && self.below.len() >= self.sweep_at {
            self.sweep()
        } else {
            Vec::new()
        };
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.below.push(None);
                self.below.len() - 1
            }
        };
        self.below[index] = Some(below);
        (index, swept)
    }

    /// Takes the links of nodes that have exited and tasks that have completed out,
    /// freeing their slots.
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

    /// Takes the link at `index` out, freeing its slot.
    fn remove(&mut self, index: usize) -> Option<Below> {
        let link = self.below[index].take();
        self.free.push(index);
        link
    }

    /// Takes every link. Their nodes become unlinked.
    fn take(&mut self) -> Vec<Below> {
        self.free.clear();
        let taken: Vec<Below> = self.below.drain(..).flatten().collect();
        for below in &taken {
            if let Below::Scope(node) = below {
                node.slot.store(UNLINKED, Ordering::Relaxed);
            }
        }
        taken
    }

    fn iter(&self) -> impl Iterator<Item = &Below> {
        self.below.iter().flatten()
    }
}

/// A group's links to its children, one table per worker of its runtime and one for
/// other threads: a child is linked in the table of the thread that starts it. Workers
/// that start children into the same group at once would otherwise contend for one
/// lock and pass one table's cache lines back and forth on every start. Made by the
/// group's first child (see [`ScopeNode::children`]).
pub(super) struct Children {
    tables: Box<[CachePadded<Mutex<ChildTable>>]>,
}

struct ChildTable {
    table: Table,
    /// The runtime shut down: a child is cancelled instead of linked here.
    shut: bool,
}

impl Children {
    fn new(tables: usize) -> Children {
        let table = || {
            CachePadded::new(Mutex::new(ChildTable {
                table: Table::default(),
                shut: false,
            }))
        };
        Children {
            tables: (0..tables.max(1)).map(|_| table()).collect(),
        }
    }

    /// Links `child` in this thread's table, or cancels it if the runtime shut down.
    fn insert(&self, child: Below) {
        let last = self.tables.len() - 1;
        let index = crate::runtime::context::worker_index().map_or(last, |index| index.min(last));
        let mut table = self.tables[index].lock();
        if table.shut {
            drop(table);
            child.cancel_task();
            return;
        }
        let (_, swept) = table.table.insert(child);
        drop(table);
        drop(swept);
    }

    /// Runs `f` on each table's links, under its lock.
    fn for_each(&self, mut f: impl FnMut(&Table)) {
        for table in self.tables.iter() {
            f(&table.lock().table);
        }
    }

    /// Takes every link; with `shut`, marks each table shut down as it goes.
    fn take(&self, shut: bool, taken: &mut Vec<Below>) {
        for table in self.tables.iter() {
            let mut table = table.lock();
            table.shut |= shut;
            taken.append(&mut table.table.take());
        }
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

    /// Links `child`, a scope entered below `self` below which nothing runs yet, so
    /// that cancelling `self` wakes it (see [`link_new`](Self::link_new)). If `self`
    /// is already effectively cancelled, the child will see it on its first poll.
    pub(crate) fn link(&self, child: Arc<ScopeNode>) {
        debug_assert!(
            child
                .parent()
                .is_some_and(|parent| std::ptr::eq(parent, self))
        );
        child.flags.fetch_or(LINKED, Ordering::AcqRel);
        let mut links = self.links.lock();
        let (index, swept) = links.scopes.insert(Below::Scope(child.clone()));
        child.slot.store(index, Ordering::Relaxed);
        drop(links);
        drop(swept);
    }

    /// Links a new child of the group whose node this is, below which nothing runs
    /// yet: its task directly (a child that runs in the group's scope), or its own
    /// node, holding its task's waker. `record` is how the group records its node in
    /// its runtime's list: the first child's link does it, under the node's lock, so a
    /// child linked at the same time waits for it, and none is linked below a group
    /// the runtime's shutdown cannot reach. If the runtime has shut down, the node is
    /// shut down with it and the child is cancelled instead of linked. `tables`: how
    /// many tables the group's children are spread over (its runtime's workers, plus
    /// one), fixed by the first child.
    pub(crate) fn link_child(&self, child: Below, record: Record<'_>, tables: usize) {
        self.link_below(child, Some(record), tables);
    }

    /// Links a group child that runs in this group's scope, without recording the
    /// group anywhere: for models and tests of the tree alone.
    #[cfg(any(test, pride_loom))]
    pub fn link_task(&self, waker: Waker, name: Option<StdArc<str>>) {
        self.link_below(Below::Task { waker, name }, None, 1);
    }

    fn link_below(&self, child: Below, record: Option<Record<'_>>, tables: usize) {
        match &child {
            Below::Scope(node) => {
                debug_assert!(
                    node.parent()
                        .is_some_and(|parent| std::ptr::eq(parent, self))
                );
                node.flags.fetch_or(LINKED, Ordering::AcqRel);
            }
            // Written once: every child reads these flags on each poll.
            Below::Task { .. } => {
                if self.flags.load(Ordering::Relaxed) & TASKS == 0 {
                    self.flags.fetch_or(TASKS, Ordering::Relaxed);
                }
            }
        }
        match self.children(record, tables) {
            Some(children) => children.insert(child),
            None => child.cancel_task(),
        }
    }

    /// The group's tables of children, made (under the node's lock, after the group
    /// is recorded) by the first child's link; `None` if the runtime has shut down.
    fn children(&self, record: Option<Record<'_>>, tables: usize) -> Option<&Children> {
        if let Some(children) = self.children.get() {
            return Some(children);
        }
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
        let children = (!links.shut).then(|| self.children.get_or_init(|| Children::new(tables)));
        drop(links);
        drop(released);
        children
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
        let link = links.scopes.remove(index);
        debug_assert!(matches!(&link, Some(Below::Scope(link)) if Arc::ptr_eq(link, node)));
        drop(links);
        drop(link);
    }

    /// Takes every link (a group tearing down). Their nodes become unlinked.
    pub(crate) fn take_links(&self) -> Vec<Below> {
        self.take_all(false)
    }

    /// The runtime has shut down: takes every link, for the caller to cancel the
    /// children among them, and from now on cancels what would be linked instead of
    /// linking it (a child started while futures are being dropped). Links to scopes
    /// entered below are dropped too: a cancel of this node no longer reaches them,
    /// which no longer matters with every task of the runtime being dropped.
    pub(crate) fn shut_down(&self) -> Vec<Below> {
        self.take_all(true)
    }

    /// With `shut`, each table of children is marked as it is taken. A node is shut
    /// down only once its runtime's list holds it, and its first child made its tables
    /// as it recorded it, under the node's lock, which is held here too: the tables
    /// exist.
    fn take_all(&self, shut: bool) -> Vec<Below> {
        let mut links = self.links.lock();
        let mut taken = links.scopes.take();
        if let Some(children) = self.children.get() {
            children.take(shut, &mut taken);
        }
        taken
    }

    /// The links below this node whose scopes have not exited and whose tasks have not
    /// completed, for the debug dump.
    pub(crate) fn linked(&self) -> Vec<Below> {
        let mut live = Vec::new();
        self.for_each_link(|below| {
            if !below.has_exited() {
                live.push(below.clone());
            }
        });
        live
    }

    /// Runs `f` on every link below this node, its scopes' and its children's, under
    /// the node's lock (and each table's, in turn).
    fn for_each_link(&self, f: impl FnMut(&Below)) {
        self.for_each_link_locked(&self.links.lock(), f);
    }

    /// [`for_each_link`](Self::for_each_link) for a caller that holds the node's lock
    /// (`links`).
    pub(super) fn for_each_link_locked(&self, links: &Links, mut f: impl FnMut(&Below)) {
        links.scopes.iter().for_each(&mut f);
        if let Some(children) = self.children.get() {
            children.for_each(|table| table.iter().for_each(&mut f));
        }
    }

    /// How many links the node holds, exited ones included.
    #[cfg(all(test, not(pride_loom)))]
    pub(crate) fn link_count(&self) -> usize {
        let mut count = 0;
        self.for_each_link(|_| count += 1);
        count
    }

    /// The waker of the task running inside this scope, for the debug dump and a
    /// group's teardown (a group child's node holds its task's own waker).
    pub(crate) fn waker(&self) -> Option<Waker> {
        self.links.lock().waker.clone()
    }
}
