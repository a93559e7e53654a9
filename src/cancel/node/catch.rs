//! Which scope catches a cancel: the walk up the tree that every scope wrapper makes
//! on each poll, and the answers nodes keep so that it stays short in a deep tree.
//!
//! The walk reads the flags of up to `DIRECT` nodes. Past that, it asks the node it
//! has reached whether a cancelled scope lies at or above it (up to the first shield),
//! and the node answers from its cache while the global epoch has not moved since the
//! answer was made. Every cancel and every shield change bumps the epoch after it
//! changes its flag and before it wakes anyone, so:
//! - a cached answer reflects every change whose bump its reader has seen (the answer
//!   was made after loading that epoch, which orders those flags before its walk);
//! - a task woken by a cancel or an unshield has seen that bump, and so never reads an
//!   answer made before it: every wake writes the task's state word with a
//!   read-modify-write (even one that finds the task already queued), which releases
//!   the bump, and the runner's transition to running, a read-modify-write after it,
//!   acquires it;
//! - a change whose bump the reader has not seen is one a walk without the cache
//!   could miss too.
//!
//! The first deep walk after a bump answers for every node on its way, so draining a
//! chain of n nested groups costs O(n), not a walk of the chain at every level.
//! The cache uses std atomics even under loom: the models never build trees that deep.

use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{CANCELLED, SHIELD, ScopeNode};

/// Levels a walk reads directly before it asks a node's cache.
const DIRECT: usize = 16;

/// Bumped by every cancel and shield change. Starts at 1, so an empty cache (0) never
/// matches.
static EPOCH: AtomicU64 = AtomicU64::new(1);

/// Which scope catches a cancel, as seen from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catcher {
    /// The node's own scope: it is the outermost cancelled scope that the cancel reaches.
    This,
    /// A scope further out.
    Outer,
}

/// A node's cached answer to "is a cancelled scope at or above me?":
/// `epoch << 1 | answer`, or 0 for none.
pub(super) struct Reach(AtomicU64);

impl Reach {
    pub(super) const fn new() -> Reach {
        Reach(AtomicU64::new(0))
    }
}

/// A flag that answers depend on changed (a cancel, a shield): cached answers are
/// stale. Called after the flag changes and before anyone is woken.
#[inline]
pub(super) fn invalidate() {
    EPOCH.fetch_add(1, Ordering::AcqRel);
}

impl ScopeNode {
    /// Whether a scope at or above `self` that cancellation reaches (the walk stops
    /// after the first shielded scope) is cancelled, and whether the outermost such
    /// scope, the one that catches, is `self`. `None`: not cancelled.
    ///
    /// Atomic loads only: this runs on every poll.
    #[inline]
    pub fn cancelled_by(&self) -> Option<Catcher> {
        let mut node = self;
        let mut catcher = None;
        for _ in 0..DIRECT {
            let flags = node.flags.load(Ordering::Acquire);
            if flags & CANCELLED != 0 {
                catcher = Some(if ptr::eq(node, self) {
                    Catcher::This
                } else {
                    Catcher::Outer
                });
            }
            if flags & SHIELD != 0 {
                return catcher;
            }
            match node.parent() {
                Some(parent) => node = parent,
                None => return catcher,
            }
        }
        // `node` is `DIRECT` levels up: a cancel it reaches is caught further out.
        if node.reaches_cancel() {
            Some(Catcher::Outer)
        } else {
            catcher
        }
    }

    /// Whether a cancelled scope lies at or above `self`, up to the first shield,
    /// answered from the caches (see the module docs), and cached on every node the
    /// walk passed.
    #[cold]
    fn reaches_cancel(&self) -> bool {
        let epoch = EPOCH.load(Ordering::Acquire);
        let mut node = self;
        let mut passed = 0usize;
        let reached = loop {
            let cached = node.reach.0.load(Ordering::Relaxed);
            if cached >> 1 == epoch {
                break cached & 1 != 0;
            }
            let flags = node.flags.load(Ordering::Acquire);
            if flags & (CANCELLED | SHIELD) != 0 {
                break flags & CANCELLED != 0;
            }
            match node.parent() {
                Some(parent) => node = parent,
                None => break false,
            }
            passed += 1;
        };
        // The nodes passed are neither cancelled nor shielded: each has the same answer.
        let answer = epoch << 1 | u64::from(reached);
        let mut node = self;
        for _ in 0..passed {
            node.reach.0.store(answer, Ordering::Relaxed);
            node = node
                .parent()
                .expect("pride: a parent link changed during a walk");
        }
        reached
    }
}
