//! Loom model of a task group's lock-free parts (`src/group/shared.rs`):
//! (a) the child counter with its `CLOSED` bit and the group's waker: children finish
//! while the group registers its waker and tries to close; (b) the error stack:
//! concurrent pushes vs a drain.
//!
//! (a) replicates `GroupShared::count_out` (`if children.remove().last() { node.wake() }`)
//! and the end of `TaskGroupFuture::poll` (register the waker on the scope node, then
//! `try_close`) with the real `ChildCounter` and `ScopeNode`. The group's task waits
//! until woken, so a lost wake-up is a loom deadlock.
//!
//! What a child did before it was counted out (its future's drop), and what a pusher
//! wrote into an error before pushing it, are loom cells, read by the group after it
//! closed or drained: loom then checks that the real counter and stack order those
//! writes before the reads. (A `SeqCst` atomic of the model's own in their place
//! supplied that ordering itself, and let a `Relaxed` `remove` or `push` pass.)
//!
//! Seen to fail when broken by hand (each break undone afterwards):
//! - `ChildCounter::remove` with `Relaxed` instead of `AcqRel`: the `children_*`
//!   models fail (loom: the group read a child's cell concurrently with its write).
//! - Not caught: `ErrorStack::push`'s CAS with `Relaxed` instead of `Release`. The
//!   `errors_*` models pass (and so does `loom_drain`, where the child counter orders
//!   the push anyway). This is loom 0.7's blind spot, not a redundant `Release`: a
//!   20-line loom model publishing a cell's node with a `Relaxed` CAS and taking it
//!   with an `Acquire` swap is reported as a causality violation, but the same model
//!   with an `Acquire` load of the head before the swap (as `drain` does through
//!   `has_any`) passes.
//! - `ChildCounter::remove` returning true one child too early
//!   (`prev & !CLOSED == 2 * CHILD_ONE`): the `children_*` models deadlock (the group
//!   was woken early, found a child left, and nobody woke it again).
//! - `ChildCounter::try_close` closing whatever the count (`fetch_or(CLOSED)`, true):
//!   "closed with live children".
//! - `ErrorStack::push` publishing with a load and a store instead of the CAS loop:
//!   `errors_*` fail ("errors drained": a concurrent push was lost).
//! - `ErrorStack::drain` taking the list with a load and a store of null instead of
//!   the swap: `errors_*` fail (an error is lost, or drained twice).
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test loom_group`.

#![cfg(pride_loom)]

mod common;

use std::fmt;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use pride::__loom::cancel::ScopeNode;
use pride::__loom::group::{ChildCounter, ErrorStack, TaskError, task_error};

/// `GroupShared::count_out`, of a group that is not handed over.
fn child_done(counter: &ChildCounter, node: &ScopeNode) {
    if counter.remove().last() {
        node.wake();
    }
}

/// A child's future, as far as the group can tell: set when it is dropped. A loom cell,
/// written by the child and read by the group (see the module docs).
struct Future(UnsafeCell<bool>);

// SAFETY: a model of a child's future, written by its one child thread before it is
// counted out and read by the group after it closed; loom checks that ordering.
unsafe impl Sync for Future {}

impl Future {
    fn new() -> Arc<Future> {
        Arc::new(Future(UnsafeCell::new(false)))
    }

    fn drop_it(&self) {
        // SAFETY: only the child writes, once (loom checks the accesses).
        self.0.with_mut(|dropped| unsafe { *dropped = true });
    }

    fn dropped(&self) -> bool {
        // SAFETY: loom checks that the child's write happened before.
        self.0.with(|dropped| unsafe { *dropped })
    }
}

/// `children` children finish concurrently with the group's last poll; the first one
/// starts a sibling while it is alive. The group must close (else it waits for ever),
/// only once every child is gone, and refuse new children afterwards.
fn children_vs_close(children: usize) {
    common::model(move || {
        let node = ScopeNode::new();
        let counter = Arc::new(ChildCounter::new());
        let futures: Vec<Arc<Future>> = (0..=children).map(|_| Future::new()).collect();
        let threads: Vec<_> = (0..children)
            .map(|i| {
                assert!(counter.try_add());
                let (node, counter) = (node.clone(), counter.clone());
                let (future, sibling) = (futures[i].clone(), futures[children].clone());
                thread::spawn(move || {
                    if i == 0 {
                        // Start a sibling (which ends at once) while still alive.
                        assert!(counter.try_add(), "open group refused a child");
                        sibling.drop_it();
                        child_done(&counter, &node);
                    }
                    future.drop_it();
                    child_done(&counter, &node);
                })
            })
            .collect();

        let runner = common::Runner::new();
        node.set_waker(&runner.waker);
        while !counter.try_close() {
            runner.wait();
        }
        assert!(
            futures.iter().all(|f| f.dropped()),
            "closed with live children"
        );
        assert_eq!(counter.live(), 0);
        assert!(!counter.try_add(), "closed group took a child");
        for th in threads {
            th.join().unwrap();
        }
    });
}

#[test]
fn children_vs_close_one() {
    children_vs_close(1);
}

#[test]
fn children_vs_close_two() {
    children_vs_close(2);
}

/// An error with an id that counts its drops. The id is a loom cell written by the
/// pusher and read by the drain (see the module docs).
struct Error {
    id: UnsafeCell<usize>,
    drops: Arc<AtomicUsize>,
}

// SAFETY: the id is written by the pusher before the push and only read after the
// drain took the error; loom checks that ordering.
unsafe impl Sync for Error {}

impl Error {
    fn id(&self) -> usize {
        // SAFETY: see the `Sync` impl.
        self.id.with(|id| unsafe { *id })
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {}", self.id())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Error {}

impl Drop for Error {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

fn error(id: usize, drops: &Arc<AtomicUsize>) -> TaskError {
    let error = Error {
        id: UnsafeCell::new(0),
        drops: drops.clone(),
    };
    // SAFETY: not shared yet.
    error.id.with_mut(|cell| unsafe { *cell = id });
    task_error(Box::new(error))
}

fn ids(errors: &[TaskError]) -> Vec<usize> {
    errors
        .iter()
        .map(|e| e.downcast_ref::<Error>().expect("not a model error").id())
        .collect()
}

/// Pushers push the given ids in order, concurrently with a drain; a last drain after
/// them. Every error is drained exactly once, each pusher's errors oldest first, and
/// every error is dropped exactly once.
fn errors_vs_drain(pushers: &'static [&'static [usize]]) {
    common::model(move || {
        let stack = Arc::new(ErrorStack::new());
        let drops = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = pushers
            .iter()
            .map(|ids| {
                let (stack, drops) = (stack.clone(), drops.clone());
                thread::spawn(move || {
                    for &id in *ids {
                        stack.push(error(id, &drops));
                    }
                })
            })
            .collect();
        let first = stack.drain();
        // Read before the joins, which would order the pushers' writes themselves.
        let first_ids = ids(&first);
        for th in threads {
            th.join().unwrap();
        }
        let second = stack.drain();

        let drained: Vec<usize> = first_ids.into_iter().chain(ids(&second)).collect();
        let mut sorted = drained.clone();
        sorted.sort_unstable();
        let mut expected: Vec<usize> = pushers.iter().flat_map(|ids| ids.iter().copied()).collect();
        expected.sort_unstable();
        assert_eq!(sorted, expected, "errors drained: {drained:?}");
        for ids in pushers {
            let order: Vec<usize> = drained
                .iter()
                .copied()
                .filter(|id| ids.contains(id))
                .collect();
            assert_eq!(&order[..], *ids, "not oldest first: {drained:?}");
        }
        drop((first, second));
        assert!(stack.drain().is_empty());
        drop(stack);
        assert_eq!(drops.load(SeqCst), expected.len(), "errors dropped");
    });
}

#[test]
fn errors_two_pushers_vs_drain() {
    errors_vs_drain(&[&[1, 2], &[3]]);
}

#[test]
fn errors_one_pusher_vs_drain() {
    errors_vs_drain(&[&[1, 2, 3]]);
}
