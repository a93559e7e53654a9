//! Loom model of a group draining under an outer cancel (`src/group/mod.rs`, the end
//! of `TaskGroupFuture::poll`): a scope around the group is cancelled while the group,
//! its body done, waits for its children; the cancel reaches the children through the
//! tree; the last child to finish wakes the group. The real code runs: the cancel tree
//! (`ScopeNode`), the child counter and its `close_or_register` (the group's wait:
//! look, register the waker, look again), the error stack, and
//! `caught_after_cleanup` (which scope catches, decided once the children are gone).
//!
//! A child waits until `cancelled_by` reports a cancel (as its wrapper does), then
//! cleans up (a loom cell it writes) and is counted out as `GroupShared::count_out`
//! does. The group waits until woken; a lost wake-up leaves it waiting for ever, which
//! loom reports as a deadlock. The group reads the children's cells and errors after
//! it closed: loom checks that the counter orders those writes before the reads.
//!
//! Seen to fail when broken by hand (each break undone afterwards):
//! - `ChildCounter::close_or_register` not looking again after `register` (returning
//!   false): `outer_cancel_vs_last_child_vs_group_poll` deadlocks (the last child
//!   finished between the first look and the registration, and woke nobody).
//! - `ChildCounter::remove` with `Relaxed` instead of `AcqRel`: both fail (loom: the
//!   group read a child's cleanup cell concurrently with its write).
//! - `caught_after_cleanup` letting the group catch whichever scope was cancelled:
//!   `outer_cancel_vs_last_child_vs_group_poll` fails ("the group caught the outer
//!   scope's cancel").
//!
//! The hand-over models (`handed_over_*`) run a teardown that cannot wait for its
//! children (`GroupShared::hand_over`) against a child counted out
//! (`GroupShared::count_out`) and a starting child held for its caller
//! (`GroupShared::hold_count`), and then released by that caller
//! (`GroupShared::release_held`), through the real functions those methods call. Exactly
//! one of the three must release the group, after both children's futures are gone
//! (loom cells the releaser reads). Seen to fail when broken (rows H1–H3 of the
//! mutation table).
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test loom_drain`.

#![cfg(pride_loom)]

mod common;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use pride::__loom::cancel::ScopeNode;
use pride::__loom::group::{
    ChildCounter, ErrorStack, caught_after_cleanup, count_out, hand_over, hold_count, release_held,
    task_error,
};

/// A scope entered and linked below `parent` (or a root).
fn entered(parent: Option<&Arc<ScopeNode>>) -> Arc<ScopeNode> {
    let node = ScopeNode::new();
    ScopeNode::enter(&node, parent.cloned());
    node
}

/// `GroupShared::count_out`, of a group that is not handed over.
fn child_done(counter: &ChildCounter, group: &ScopeNode) {
    if counter.remove().last() {
        group.wake();
    }
}

/// A child's cleanup, as far as the group can tell: set when it ran. A loom cell,
/// written by the child before it is counted out and read by the group after it closed.
struct Cleanup(UnsafeCell<bool>);

// SAFETY: written once by its child thread before `ChildCounter::remove`, read by the
// group after `close_or_register` closed; loom checks that ordering.
unsafe impl Sync for Cleanup {}

impl Cleanup {
    fn new() -> Arc<Cleanup> {
        Arc::new(Cleanup(UnsafeCell::new(false)))
    }

    fn run(&self) {
        // SAFETY: see the `Sync` impl.
        self.0.with_mut(|done| unsafe { *done = true });
    }

    fn ran(&self) -> bool {
        // SAFETY: see the `Sync` impl.
        self.0.with(|done| unsafe { *done })
    }
}

/// A child that runs until cancelled, then cleans up and is counted out.
fn child(
    group: &Arc<ScopeNode>,
    counter: &Arc<ChildCounter>,
    cleanup: &Arc<Cleanup>,
) -> thread::JoinHandle<()> {
    assert!(counter.try_add(), "open group refused a child");
    let node = entered(Some(group));
    let (group, counter, cleanup) = (group.clone(), counter.clone(), cleanup.clone());
    thread::spawn(move || {
        let runner = common::Runner::new();
        node.set_waker(&runner.waker);
        while node.cancelled_by().is_none() {
            runner.wait();
        }
        cleanup.run();
        ScopeNode::unlink(&node);
        child_done(&counter, &group);
    })
}

/// The group's poll once its body is done: waits until it can close.
fn drain(group: &ScopeNode, counter: &ChildCounter) {
    let runner = common::Runner::new();
    while !counter.close_or_register(|| group.set_waker(&runner.waker)) {
        runner.wait();
    }
}

/// An outer scope is cancelled while the group waits for its one child. The child is
/// reached through the tree, cleans up, and wakes the group; the group closes only
/// after the cleanup, and the outer scope, not the group's, catches.
#[test]
fn outer_cancel_vs_last_child_vs_group_poll() {
    common::model(|| {
        let outer = entered(None);
        let group = entered(Some(&outer));
        let counter = Arc::new(ChildCounter::new());
        let cleanup = Cleanup::new();
        let child = child(&group, &counter, &cleanup);
        let canceller = {
            let outer = outer.clone();
            thread::spawn(move || assert!(outer.cancel()))
        };

        drain(&group, &counter);
        assert!(cleanup.ran(), "closed before the child's cleanup");
        assert!(!counter.try_add(), "closed group took a child");
        assert!(
            !caught_after_cleanup(&group),
            "the group caught the outer scope's cancel"
        );

        child.join().unwrap();
        canceller.join().unwrap();
        ScopeNode::unlink(&group);
        ScopeNode::unlink(&outer);
    });
}

/// One child fails (its error pushed, the group's scope cancelled, as
/// `GroupShared::report` does) while an outer scope is cancelled; the other child is
/// cancelled by either. The group closes after both cleanups and holds the error.
#[test]
fn failure_and_outer_cancel_vs_drain() {
    common::model(|| {
        let outer = entered(None);
        let group = entered(Some(&outer));
        let counter = Arc::new(ChildCounter::new());
        let errors = Arc::new(ErrorStack::new());
        let (failed, cancelled) = (Cleanup::new(), Cleanup::new());

        assert!(counter.try_add());
        let failing = {
            let (group, counter, errors, failed) = (
                group.clone(),
                counter.clone(),
                errors.clone(),
                failed.clone(),
            );
            thread::spawn(move || {
                failed.run();
                errors.push(task_error("boom".into()));
                group.cancel();
                child_done(&counter, &group);
            })
        };
        let waiting = child(&group, &counter, &cancelled);
        let canceller = {
            let outer = outer.clone();
            thread::spawn(move || assert!(outer.cancel()))
        };

        drain(&group, &counter);
        assert!(failed.ran() && cancelled.ran(), "closed before a cleanup");
        let drained = errors.drain();
        assert_eq!(drained.len(), 1, "the failure was lost: {drained:?}");
        assert!(group.cancelled_by().is_some());

        failing.join().unwrap();
        waiting.join().unwrap();
        canceller.join().unwrap();
        ScopeNode::unlink(&group);
        ScopeNode::unlink(&outer);
    });
}

/// The release of a handed-over group: counts it and checks that every child's future
/// is gone, as far as the releaser sees.
fn released(releases: &AtomicUsize, futures: &[&Arc<Cleanup>]) {
    releases.fetch_add(1, SeqCst);
    for future in futures {
        assert!(future.ran(), "released before a child's future was gone");
    }
}

/// A teardown hands a group of two children over while they go: exactly one of the
/// three calls releases it. The second child is counted out, or (`held`) is a
/// starting child whose future is gone but whose count is held for its caller.
fn handed_over_vs_two_children(held: bool) {
    common::model(move || {
        let counter = Arc::new(ChildCounter::new());
        let held_count = Arc::new(AtomicUsize::new(0));
        let releases = Arc::new(AtomicUsize::new(0));
        let (a, b) = (Cleanup::new(), Cleanup::new());
        assert!(counter.try_add() && counter.try_add());
        let child = |future: &Arc<Cleanup>, held_back: bool| {
            let (counter, held_count) = (counter.clone(), held_count.clone());
            let (releases, future, a, b) = (releases.clone(), future.clone(), a.clone(), b.clone());
            thread::spawn(move || {
                future.run();
                let release = if held_back {
                    hold_count(&counter, &held_count)
                } else {
                    count_out(&counter, &held_count).1
                };
                if release {
                    released(&releases, &[&a, &b]);
                }
            })
        };
        let (first, second) = (child(&a, false), child(&b, held));

        counter.close();
        if hand_over(&counter, &held_count) {
            released(&releases, &[&a, &b]);
        }

        first.join().unwrap();
        second.join().unwrap();
        assert_eq!(releases.load(SeqCst), 1, "released other than once");
    });
}

#[test]
fn handed_over_vs_count_out_vs_hold() {
    handed_over_vs_two_children(true);
}

#[test]
fn handed_over_vs_two_count_outs() {
    handed_over_vs_two_children(false);
}

/// A teardown hands a group over while a child is counted out and a starting child's
/// count, held for its caller, is released by that caller (`GroupShared::release_held`,
/// after the hold): exactly one of the four calls releases the group.
#[test]
fn handed_over_vs_count_out_vs_hold_then_release() {
    common::model(|| {
        let counter = Arc::new(ChildCounter::new());
        let held_count = Arc::new(AtomicUsize::new(0));
        let releases = Arc::new(AtomicUsize::new(0));
        let (a, b) = (Cleanup::new(), Cleanup::new());
        assert!(counter.try_add() && counter.try_add());
        let counted_out = {
            let (counter, held_count) = (counter.clone(), held_count.clone());
            let (releases, a, b) = (releases.clone(), a.clone(), b.clone());
            thread::spawn(move || {
                a.run();
                if count_out(&counter, &held_count).1 {
                    released(&releases, &[&a, &b]);
                }
            })
        };
        let held_then_released = {
            let (counter, held_count) = (counter.clone(), held_count.clone());
            let (releases, a, b) = (releases.clone(), a.clone(), b.clone());
            thread::spawn(move || {
                b.run();
                if hold_count(&counter, &held_count) {
                    released(&releases, &[&a, &b]);
                }
                if release_held(&counter, &held_count).1 {
                    released(&releases, &[&a, &b]);
                }
            })
        };

        counter.close();
        if hand_over(&counter, &held_count) {
            released(&releases, &[&a, &b]);
        }

        counted_out.join().unwrap();
        held_then_released.join().unwrap();
        assert_eq!(releases.load(SeqCst), 1, "released other than once");
    });
}
