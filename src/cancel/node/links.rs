//! The links from a node down to the scopes entered inside it, and from a group's node
//! to its children (a child's own node, or the task of a child that has none), through
//! which a cancel wakes every task below.
//!
//! A node's scopes are linked in one table, under the node's lock, at the index their
//! `slot` holds; a scope wrapper unlinks its node as it exits. A group's children are
//! linked by the shard of the thread that starts them (its worker's, or the one shard
//! of the threads that are not workers: see `runtime::Shard`): the shard that started
//! the first child links in the node's own table (`home`), under the node's lock, and
//! any other in a table of its own ([`Children`]), made under the node's lock the
//! first time and locked alone after that. So workers that start children into one
//! group at once do not contend for a lock, nor pass its cache lines back and forth,
//! and a group whose children one thread starts costs what one table does. A cancel's
//! walk and a teardown take the node's lock, then each other table's in turn; a lock is
//! waited for while another is held only in that order (a sweep that holds a table
//! only tries the others).
//!
//! A child is never unlinked one by one: its node is marked exited, or its task
//! completes, without a lock taken on the finishing worker, and a link into a full
//! table sweeps such links out of it and of the group's idle tables (see
//! [`Children`]). The same goes for the node a child makes when its work first enters a
//! scope of its own: it is linked in the group node's table of scopes, and swept from
//! there once marked exited.

use std::sync::{Arc as StdArc, OnceLock};
use std::task::Waker;

use crossbeam_utils::CachePadded;

use super::{LINKED, Label, ScopeNode, TASKS};
use crate::loom::sync::atomic::Ordering;
use crate::loom::sync::{Arc, Mutex};
use crate::runtime::Shard;

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

/// Nodes let go of, to be dropped once no lock is held.
pub(crate) type Released = Vec<Arc<ScopeNode>>;

pub(super) const UNLINKED: usize = usize::MAX;

/// Exited links a table tolerates before a sweep (see `Table::sweep_at`). Small: a
/// group that runs a few children at a time frees its finished children's links (and
/// their tasks) in small batches, which the allocator hands straight back to the next
/// links on the same thread.
pub(super) const SWEEP_MIN: usize = 8;

/// What a node's lock guards: the waker of the task inside it, the links to the scopes
/// entered inside it, and, for a group's node, the table of the children started from
/// the shard that started its first child.
#[derive(Default)]
pub(super) struct Links {
    pub(super) waker: Option<Waker>,
    /// A starting child's node: its caller's node, through which it sees the caller's
    /// deadlines until it has started (see [`ScopeNode::set_start_caller`]).
    pub(super) start_caller: Option<Arc<ScopeNode>>,
    /// A start's caller node: the start, told when a cancel reaches this node (see
    /// [`ScopeNode::set_start_child`]).
    pub(super) start_child: Option<std::sync::Arc<dyn super::StartChild>>,
    /// The links to scopes entered inside the node; a scope's at the index its `slot`
    /// holds.
    scopes: Table,
    /// The children started from shard `home_shard`.
    home: ChildTable,
    /// The shard that started the group's first child.
    home_shard: Option<usize>,
    /// A group's node: its first child's link has recorded it in its runtime's list.
    recorded: bool,
    /// The runtime shut down (see [`ScopeNode::shut_down`]): nothing is linked any
    /// more, and every child is cancelled instead of linked.
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
        // Room for every link at once: a list grown from empty is reallocated as it
        // fills, at each sweep of each busy group. (A sweep runs on a full table: no
        // slot is free.)
        let mut swept = Vec::with_capacity(self.below.len());
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

/// The tables of a group's children started from shards other than the one that
/// started its first child (whose children stay in the node's own table, `home`): one
/// per worker of the runtime and one for the threads that are not workers, each made
/// by the first child started from that shard, under the node's lock. Workers that
/// start children into the same group at once would otherwise contend for one lock and
/// pass one table's cache lines back and forth on every start; a group whose children
/// one shard starts pays for no table of its own.
///
/// A link into a full table sweeps it, and with it every other table of the group that
/// no child was linked into since the last such look at it (and that is not locked at
/// that moment): a table that stops receiving links (its worker no longer starts
/// children here) does not keep its finished children until the group exits, and a
/// table in use is left to its own sweeps. The full table may then take as many links
/// as the swept tables held live ones (`SWEEP_MIN` at least) before it is full again,
/// and a table swept along is never given less room than it had: each sweep looks at
/// what was live at the full table's previous one and what was linked since, which the
/// links that filled it pay for, so each link is looked at a bounded number of times
/// on average. Finished children are kept meanwhile up to about the room of every
/// table, so about the shards' count times the live children at most.
pub(super) struct Children {
    /// Indexed by shard; the home shard's is never made.
    tables: Box<[OnceLock<Box<Padded>>]>,
}

/// A table on cache lines of its own: two workers' tables side by side would pass a
/// line back and forth.
type Padded = CachePadded<Mutex<ChildTable>>;

/// One table of a group's children.
struct ChildTable {
    below: Vec<Below>,
    /// The length at which the table is full (see [`Children`]).
    sweep_at: usize,
    /// A child was linked here since a sweep last looked at this table.
    linked: bool,
    /// The runtime shut down: a child is cancelled instead of linked here.
    shut: bool,
}

impl Default for ChildTable {
    fn default() -> ChildTable {
        ChildTable {
            below: Vec::new(),
            sweep_at: SWEEP_MIN,
            linked: false,
            shut: false,
        }
    }
}

impl ChildTable {
    fn is_full(&self) -> bool {
        self.below.len() >= self.sweep_at
    }

    fn push(&mut self, child: Below) {
        self.below.push(child);
        self.linked = true;
    }

    /// A sweep of another table looks at this one: true if no child was linked here
    /// since the last look (it is to be swept too).
    fn look(&mut self) -> bool {
        !std::mem::replace(&mut self.linked, false)
    }

    /// Moves the links of exited nodes and completed tasks to `swept`; returns how
    /// many links stay.
    fn sweep(&mut self, swept: &mut Vec<Below>) -> usize {
        self.linked = false;
        let mut index = 0;
        while index < self.below.len() {
            if self.below[index].has_exited() {
                swept.push(self.below.swap_remove(index));
            } else {
                index += 1;
            }
        }
        self.below.len()
    }

    /// After a sweep of this table, full, that found `live` links in the tables it
    /// swept.
    fn room_for(&mut self, live: usize) {
        self.sweep_at = self.below.len() + live.max(SWEEP_MIN);
    }

    /// [`room_for`](Self::room_for) for an idle table swept along: never less room
    /// than it had (its room is what paid for the sweeps its own links make; a smaller
    /// one would let a big idle table be looked at again after a few links).
    fn more_room_for(&mut self, live: usize) {
        self.sweep_at = self.sweep_at.max(self.below.len() + live.max(SWEEP_MIN));
    }
}

impl Children {
    fn new(tables: usize) -> Children {
        Children {
            tables: (0..tables.max(1)).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The tables made so far.
    fn made(&self) -> impl Iterator<Item = &Mutex<ChildTable>> {
        self.tables
            .iter()
            .filter_map(|table| table.get().map(|table| &***table))
    }

    /// Runs `f` on each table's links, under its lock.
    fn for_each(&self, mut f: impl FnMut(&Below)) {
        for table in self.made() {
            table.lock().below.iter().for_each(&mut f);
        }
    }

    /// Takes every link; with `shut`, marks each table shut down as it goes.
    fn take(&self, shut: bool, taken: &mut Vec<Below>) {
        for table in self.made() {
            let mut table = table.lock();
            table.shut |= shut;
            taken.extend(std::mem::take(&mut table.below));
        }
    }
}

impl ScopeNode {
    /// The scopes entered inside this node that are still linked (not a group's
    /// children's own scopes).
    fn linked_scopes(&self) -> Vec<Arc<ScopeNode>> {
        let links = self.links.lock();
        links
            .scopes
            .iter()
            .filter_map(|below| match below {
                Below::Scope(node) if !matches!(node.label(), Some(Label::Task(_))) => {
                    Some(node.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// Whether work suspended inside this scope may be inside a shield within it: a
    /// scope entered inside it and not exited is shielded, or holds such a scope in
    /// turn; with `groups`, also if one is a task group's (a group that waits drains
    /// its own children under a cancel: it is not dropped mid-wait by a wrapper around
    /// it). Read live, so a shield set or dropped while the work is suspended counts at
    /// once. Only a cancelled scope's wrapper asks, before it drops its work.
    pub(crate) fn shields_work_inside(&self, groups: bool) -> bool {
        let mut below = self.linked_scopes();
        while let Some(node) = below.pop() {
            if node.has_exited() {
                continue;
            }
            if node.is_shielded() || (groups && matches!(node.label(), Some(Label::Group))) {
                return true;
            }
            below.extend(node.linked_scopes());
        }
        false
    }

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
        // parent's lock, after the cancel's flag store and before our load:
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
        if links.shut {
            return;
        }
        let (index, swept) = links.scopes.insert(Below::Scope(child.clone()));
        child.slot.store(index, Ordering::Relaxed);
        drop(links);
        drop(swept);
    }

    /// Links a new child of the group whose node this is, below which nothing runs
    /// yet: its task directly (a child that runs in the group's scope), or its own
    /// node, holding its task's waker, in the table of `shard` (where the thread
    /// starting it belongs). `record` is how the group records its node in its runtime's list: the first
    /// child's link does it, under the node's lock, so a child linked at the same time
    /// waits for it, and none is linked below a group the runtime's shutdown cannot
    /// reach. If the runtime has shut down, the node is shut down with it and the child
    /// is cancelled instead of linked.
    pub(crate) fn link_child(&self, child: Below, record: Record<'_>, shard: Shard) {
        self.link_below(child, Some(record), shard);
    }

    /// Links a group child that runs in this group's scope, without recording the
    /// group anywhere: for models and tests of the tree alone.
    #[cfg(any(test, pride_loom))]
    pub fn link_task(&self, waker: Waker, name: Option<StdArc<str>>) {
        let shard = Shard { count: 1, index: 0 };
        self.link_below(Below::Task { waker, name }, None, shard);
    }

    /// [`link_task`](Self::link_task) from the thread of shard `index` of `count`.
    #[cfg(any(test, pride_loom))]
    pub fn link_task_in(&self, waker: Waker, count: usize, index: usize) {
        let task = Below::Task { waker, name: None };
        self.link_below(task, None, Shard { count, index });
    }

    fn link_below(&self, child: Below, record: Option<Record<'_>>, shard: Shard) {
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
        debug_assert!(shard.index < shard.count, "{shard:?}");
        // A shard with a table of its own links there.
        if let Some(children) = self.children.get() {
            debug_assert_eq!(children.tables.len(), shard.count, "one runtime's shards");
            let index = shard.index.min(children.tables.len() - 1);
            if let Some(table) = children.tables[index].get() {
                self.link_in(table, child);
                return;
            }
        }
        // Otherwise under the node's lock: the first child records the group first, and
        // nothing is linked once the runtime has shut down. A cancel's walk reads the
        // home table, and which other tables exist, under the same lock: it sees every
        // table made before it, and a table made after it links a child that will see
        // the cancel.
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
            child.cancel_task();
            return;
        }
        if *links.home_shard.get_or_insert(shard.index) == shard.index {
            let swept = if links.home.is_full() {
                self.sweep_children(&mut links.home, None)
            } else {
                Vec::new()
            };
            links.home.push(child);
            drop(links);
            drop(swept);
            drop(released);
            return;
        }
        let children = self.children.get_or_init(|| Children::new(shard.count));
        let index = shard.index.min(children.tables.len() - 1);
        let table = children.tables[index].get_or_init(Box::default);
        drop(links);
        drop(released);
        self.link_in(table, child);
    }

    /// Links `child` in `table`, one of the group's [`Children`] tables, or cancels it
    /// if the runtime shut down.
    fn link_in(&self, table: &Mutex<ChildTable>, child: Below) {
        let mut locked = table.lock();
        if locked.shut {
            drop(locked);
            child.cancel_task();
            return;
        }
        let swept = if locked.is_full() {
            self.sweep_children(&mut locked, Some(table))
        } else {
            Vec::new()
        };
        locked.push(child);
        drop(locked);
        // Each may be its node's or task's last reference: dropped with no lock held.
        drop(swept);
    }

    /// A table of this group's children is full: sweeps it, and every other table
    /// that no child was linked into since the last look and that is not locked now
    /// (a lock held by another thread is not waited for, so two sweeps never wait for
    /// each other). Returns the links swept out.
    fn sweep_children(&self, full: &mut ChildTable, own: Option<&Mutex<ChildTable>>) -> Vec<Below> {
        // Room for every link of the full table at once (see `Table::sweep`).
        let mut swept = Vec::with_capacity(full.below.len());
        let mut live = full.sweep(&mut swept);
        let mut home = None;
        if own.is_some() {
            if let Some(mut links) = self.links.try_lock() {
                if links.home.look() {
                    live += links.home.sweep(&mut swept);
                    home = Some(links);
                }
            }
        }
        let mut idle = Vec::new();
        for other in self.children.get().into_iter().flat_map(Children::made) {
            if own.is_some_and(|own| std::ptr::eq(own, other)) {
                continue;
            }
            if let Some(mut other) = other.try_lock() {
                if other.look() {
                    live += other.sweep(&mut swept);
                    idle.push(other);
                }
            }
        }
        full.room_for(live);
        if let Some(links) = &mut home {
            links.home.more_room_for(live);
        }
        for other in &mut idle {
            other.more_room_for(live);
        }
        swept
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

    /// With `shut`, the node and each table of children are marked as they are taken:
    /// under the node's lock, so no table is made after this.
    fn take_all(&self, shut: bool) -> Vec<Below> {
        let mut links = self.links.lock();
        links.shut |= shut;
        // The home table's buffer is handed out as it is: most groups link all their
        // children there, and have no scopes linked when they end.
        let mut taken = std::mem::take(&mut links.home.below);
        taken.extend(links.scopes.take());
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
        links.home.below.iter().for_each(&mut f);
        if let Some(children) = self.children.get() {
            children.for_each(&mut f);
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
