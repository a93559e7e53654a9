//! Loom model of the cancel tree (`src/cancel/node.rs`): cancel of a scope vs a child
//! scope being entered (linked) and exited (unlinked), vs a shield toggle, vs a group's
//! child task being linked by its waker, vs its own deadline's cancel; and what
//! `cancelled_by` answers while scopes up the chain are being cancelled.
//!
//! A task inside a scope behaves as a scope wrapper does (`group/child.rs`): it
//! registers its waker on its node, then asks `cancelled_by`; while not cancelled it
//! waits until woken. A wake-up that a cancel owes it and loses leaves it waiting for
//! ever, which loom reports as a deadlock.
//!
//! Found a real lost wake-up in the unbroken code: `cancel_vs_unshield` deadlocked.
//! `cancel` (flag on the parent, then `wake_subtree` reading the child's shield) and
//! `set_shield(false)` (flag on the child, then waking the task, which reads the
//! parent's flag) form a store-buffering pair; with acquire/release atomics both reads
//! may see the old values, so the cancel skips the still-"shielded" child and the task
//! woken by the unshield sees no cancel. Fixed in `node.rs` by reading and flipping the
//! shield under the node's `links` lock (see `ScopeNode::wake_inside`).
//!
//! Seen to fail when broken by hand (each break undone afterwards):
//! - `wake_subtree` not descending into the children: `cancel_vs_enter` and
//!   `cancel_vs_unshield` deadlock.
//! - `set_shield(false)` not calling `wake_subtree`: `cancel_vs_unshield` deadlocks.
//! - `cancelled_by` returning at the first cancelled scope instead of walking on to
//!   the shield: `cancelled_by_is_outermost_below_shield` fails.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test loom_cancel_tree`.

#![cfg(pride_loom)]

mod common;

use loom::sync::Arc;
use loom::thread;
use pride::__loom::cancel::{Catcher, ScopeNode};

/// A scope entered below `parent` (or a root).
fn entered(parent: Option<&Arc<ScopeNode>>) -> Arc<ScopeNode> {
    let node = ScopeNode::new();
    ScopeNode::enter(&node, parent.cloned());
    node
}

/// Exits scopes, innermost first, so no parent-child `Arc` cycle outlives a model
/// (loom reports a leaked `Arc`).
fn exit(nodes: &[&Arc<ScopeNode>]) {
    for node in nodes {
        ScopeNode::unlink(node);
    }
}

/// The task inside `node`, on the calling loom thread: waits until `cancelled_by`
/// reports a cancel, and returns which scope catches.
fn wait_cancelled(node: &ScopeNode) -> Catcher {
    let runner = common::Runner::new();
    node.set_waker(&runner.waker);
    loop {
        if let Some(catcher) = node.cancelled_by() {
            return catcher;
        }
        runner.wait();
    }
}

/// A scope is cancelled while a child scope is entered below it, its task runs and
/// the child exits again. The task must see the cancel (on its first check or by
/// being woken), and the catcher is the cancelled parent.
#[test]
fn cancel_vs_enter() {
    common::model(|| {
        let root = entered(None);
        let parent = entered(Some(&root));
        let canceller = {
            let parent = parent.clone();
            thread::spawn(move || assert!(parent.cancel()))
        };
        let child = entered(Some(&parent));
        assert_eq!(wait_cancelled(&child), Catcher::Outer);
        assert_eq!(parent.cancelled_by(), Some(Catcher::This));
        ScopeNode::unlink(&child);
        canceller.join().unwrap();
        assert!(!parent.cancel(), "cancel is idempotent");
        exit(&[&parent]);
    });
}

/// A shielded scope's parent is cancelled while the shield is lifted. The task inside
/// must end up cancelled, by the parent: either the cancel saw no shield and woke it,
/// or unshielding woke it and it saw the cancel.
#[test]
fn cancel_vs_unshield() {
    common::model(|| {
        let parent = entered(None);
        let shielded = entered(Some(&parent));
        shielded.set_shield(true);
        let canceller = {
            let parent = parent.clone();
            thread::spawn(move || assert!(parent.cancel()))
        };
        let unshielder = {
            let shielded = shielded.clone();
            thread::spawn(move || shielded.set_shield(false))
        };
        assert_eq!(wait_cancelled(&shielded), Catcher::Outer);
        canceller.join().unwrap();
        unshielder.join().unwrap();
        exit(&[&shielded]);
    });
}

/// Cancelling a scope wakes the task of an unshielded child, and neither wakes nor
/// cancels the task of a shielded one.
#[test]
fn shield_keeps_cancel_out() {
    common::model(|| {
        let parent = entered(None);
        let open = entered(Some(&parent));
        let shielded = entered(Some(&parent));
        shielded.set_shield(true);
        let shielded_runner = common::Runner::new();
        shielded.set_waker(&shielded_runner.waker);
        let canceller = {
            let parent = parent.clone();
            thread::spawn(move || assert!(parent.cancel()))
        };
        assert_eq!(wait_cancelled(&open), Catcher::Outer);
        canceller.join().unwrap();
        assert!(shielded.cancelled_by().is_none(), "cancel crossed a shield");
        assert_eq!(shielded_runner.wakes(), 0, "cancel woke a shielded task");
        exit(&[&open, &shielded]);
    });
}

/// Scopes `outer` > `shielded` > `inner` are cancelled concurrently (`outer` and
/// `inner` by two threads, `shielded` by the reading thread in between its reads).
/// The shield stops the walk: `shielded` catches its own cancel, never `outer`'s. And
/// the outermost cancelled scope below the shield catches: once `shielded` is
/// cancelled, `inner` never catches.
#[test]
fn cancelled_by_is_outermost_below_shield() {
    common::model(|| {
        let outer = entered(None);
        let shielded = entered(Some(&outer));
        shielded.set_shield(true);
        let inner = entered(Some(&shielded));
        let threads: Vec<_> = [&outer, &inner]
            .into_iter()
            .map(|node| {
                let node = node.clone();
                thread::spawn(move || assert!(node.cancel()))
            })
            .collect();
        let first = inner.cancelled_by();
        assert!(matches!(first, None | Some(Catcher::This)), "first read");
        shielded.cancel();
        assert_eq!(inner.cancelled_by(), Some(Catcher::Outer), "second read");
        assert_eq!(shielded.cancelled_by(), Some(Catcher::This), "second read");
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(
            inner.cancelled_by(),
            Some(Catcher::Outer),
            "after the cancels"
        );
        assert_eq!(
            shielded.cancelled_by(),
            Some(Catcher::This),
            "after the cancels"
        );
        assert_eq!(outer.cancelled_by(), Some(Catcher::This));
        exit(&[&inner, &shielded]);
    });
}

/// A scope is cancelled by hand as its deadline passes. Exactly one of the two cancels
/// it, and that one alone says why: `deadline_fired` is true only if the deadline's
/// cancel won, and a reader that sees the scope cancelled already sees that answer.
///
/// Seen to fail with the cause stored apart from `CANCELLED`: before it (mutation row
/// G12, the deadline is said to have fired after a cancel by hand), or after it (G13, a
/// reader sees the deadline's cancel without its cause).
#[test]
fn cancel_by_hand_vs_deadline() {
    common::model(|| {
        let scope = entered(None);
        let reader = {
            let scope = scope.clone();
            thread::spawn(move || scope.cancel_called().then(|| scope.deadline_fired()))
        };
        let by_hand = {
            let scope = scope.clone();
            thread::spawn(move || scope.cancel())
        };
        let by_deadline = scope.cancel_by_deadline();
        let seen = reader.join().unwrap();
        let by_hand = by_hand.join().unwrap();
        assert_ne!(by_hand, by_deadline, "exactly one call cancels");
        assert_eq!(
            scope.deadline_fired(),
            by_deadline,
            "the cause is the winner's"
        );
        if let Some(seen) = seen {
            assert_eq!(
                seen, by_deadline,
                "a reader saw the cancel before its cause"
            );
        }
    });
}

/// A scope whose wrapper links it into its parent only when its work first suspends
/// (a group, a `CancelScope::run`) already has a child linked below it (a group's
/// child, started through a handle), and the parent is cancelled while the scope is
/// being linked. The child's task must be woken: by the cancel's walk if the scope is
/// linked by then, otherwise by the link, which then sees the cancel.
///
/// Seen to deadlock with the link not checking for a cancel (mutation row G9).
#[test]
fn cancel_vs_late_link_of_a_scope_with_a_child() {
    common::model(|| {
        let parent = entered(None);
        let scope = ScopeNode::new();
        ScopeNode::enter_unlinked(&scope, Some(parent.clone()));
        let child = entered(Some(&scope));
        let canceller = {
            let parent = parent.clone();
            thread::spawn(move || assert!(parent.cancel()))
        };
        let linker = {
            let scope = scope.clone();
            thread::spawn(move || ScopeNode::link_into_parent(&scope))
        };
        assert_eq!(wait_cancelled(&child), Catcher::Outer);
        canceller.join().unwrap();
        linker.join().unwrap();
        exit(&[&child, &scope]);
    });
}

/// A group's child that runs in the group's scope (it has none of its own) is linked
/// below the group's node by its task's waker alone, then polled: it asks whether it
/// is cancelled, and waits. A cancel of the group, racing the link, must wake it: by
/// the cancel's walk if the link is there by then, otherwise the child's first look
/// sees the cancel.
///
/// Seen to deadlock with the walk skipping the links of child tasks (mutation row G10).
#[test]
fn cancel_vs_link_of_a_child_task() {
    cancel_vs_link_of_a_child_task_after(0);
}

/// The same, the child started from a shard other than the one that started the
/// group's first child: it is linked in a table of that shard's own, made under the
/// node's lock.
///
/// Seen to deadlock with the walk skipping those tables (mutation row G11).
#[test]
fn cancel_vs_link_of_a_child_task_in_a_table_of_its_threads() {
    cancel_vs_link_of_a_child_task_after(1);
}

/// The same, the table made before: the child is linked under its lock alone.
#[test]
fn cancel_vs_link_of_a_child_task_in_a_table_made_before() {
    cancel_vs_link_of_a_child_task_after(2);
}

/// The raced child is started from shard 1, after `earlier` children started from
/// shard 0, then shard 1.
fn cancel_vs_link_of_a_child_task_after(earlier: usize) {
    common::model(move || {
        let group = entered(None);
        let first = common::Runner::new();
        for shard in 0..earlier {
            group.link_task_in(first.waker.clone(), 2, shard);
        }
        let canceller = {
            let group = group.clone();
            thread::spawn(move || assert!(group.cancel()))
        };
        let runner = common::Runner::new();
        group.link_task_in(runner.waker.clone(), 2, 1);
        while group.cancelled_by().is_none() {
            runner.wait();
        }
        canceller.join().unwrap();
    });
}
