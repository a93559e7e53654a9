//! Loom model of `TaskGroup::start`'s hand-over between the caller and the child
//! (`src/group/start.rs`): the `StartShared` state behind its lock,
//! `TaskStatus::started` / its drop, the caller's `StartFuture::poll` / its drop, and
//! the child wrapper's `try_fail` / `after_poll`, with the real code reached through
//! `pride::__loom::start` (no runtime: `start::new` sets a start up as
//! `StartFuture::launch` does, and `Starter` is the future after its launch).
//!
//! A caller that waits polls, and while pending waits until its waker is woken: a lost
//! wake-up leaves it waiting for ever, which loom reports as a deadlock. Values and
//! errors count their drops; the caller's waker holds loom objects, so a leaked waker
//! is reported by loom as a leak.
//!
//! A caller cancelled after `started(v)` settled but before it polled again drops `v`
//! with the start: the child was handed over (unshielded, now the group's) and is not
//! cancelled. So "exactly one" below is between *the hand-over* and *the cancel*; the
//! caller receives `v` only if it polls, and then the child is unshielded.
//!
//! The `POLLING` thread-local is a `std` one, which loom's threads (coroutines on one
//! OS thread) share: no model drops a status in one thread while another is inside
//! `polling` for the same start.
//!
//! Seen to fail when broken by hand (each break undone afterwards):
//! - `StartShared::caller_gone` (the `StartFuture` drop) not cancelling the node:
//!   `started_vs_caller_drop` and both `status_drop_*` models fail ("exactly one of
//!   hand-over / cancel": neither happened).
//! - `StartShared::transition` (under `settle`) not checking `Waiting` (overwriting
//!   any state): `started_vs_caller_drop` and the `status_drop_*` models fail
//!   ("exactly one": both happened), `fail_vs_started` fails ("error lost").
//! - `poll_outcome` not storing the caller's waker: `started_vs_poll` and
//!   `fail_vs_started` deadlock (lost wake-up), the others fail on the wake count.
//!
//! - `StartShared::not_started` (a status dropped) ignoring the caller's cancel:
//!   `caller_cancel_then_status_drop_vs_child_poll` fails (row G14 of the mutation
//!   table in `README.md`); cancelling the child's node only after settling the start:
//!   `caller_cancel_vs_status_drop_vs_child_poll` fails (G15).
//! - A cancel's look at the start (`CallerLink`) cancelling the child without
//!   looking whether it was handed over, or `started` reading the caller's cancel
//!   before taking the start's lock: `started_vs_caller_cancel` fails (rows G16,
//!   G17).
//!
//! Found (fixed): the caller's own drop woke its own waker (`StartFuture::drop` went
//! through `settle`, which wakes whatever waker the state holds): a spurious wake of a
//! task that has just dropped the future. The `status_drop_*` models failed on the
//! wake count; `caller_gone` now drops the waker unwoken.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --target-dir target/loom --test loom_start`.

#![cfg(pride_loom)]

mod common;

use std::fmt;
use std::task::{Context, Poll};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;
use pride::__loom::cancel::ScopeNode;
use pride::__loom::group::task_error;
use pride::__loom::start::{self, StartError, Starter};

/// A started value that counts its drops.
struct Value(Arc<AtomicUsize>);

impl Drop for Value {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A child's error that counts its drops.
struct Failure(Arc<AtomicUsize>);

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Failure")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the child failed")
    }
}

impl std::error::Error for Failure {}

impl Drop for Failure {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Polls the start once with `runner`'s waker.
fn poll_once<T>(starter: &mut Starter<T>, runner: &common::Runner) -> Poll<Result<T, StartError>> {
    starter.poll(&mut Context::from_waker(&runner.waker))
}

/// The caller awaiting the start: polls, and waits to be woken while pending.
fn wait<T>(starter: &mut Starter<T>, runner: &common::Runner) -> Result<T, StartError> {
    loop {
        match poll_once(starter, runner) {
            Poll::Ready(outcome) => return outcome,
            Poll::Pending => runner.wait(),
        }
    }
}

/// 1. `started(v)` races the caller, which polls once more and is then cancelled
///    (drops its future). Exactly one of: the child is handed over (unshielded) or it
///    is cancelled; if the caller got `v`, the child is unshielded; `v` is dropped
///    exactly once; the waker is woken only by a hand-over.
#[test]
fn started_vs_caller_drop() {
    common::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut starter, status, wrapper, node) = start::new::<Value>(ScopeNode::new());
        let runner = common::Runner::new();
        assert!(poll_once(&mut starter, &runner).is_pending());
        let child = {
            let drops = drops.clone();
            thread::spawn(move || status.started(Value(drops)))
        };
        let received = match poll_once(&mut starter, &runner) {
            Poll::Ready(Ok(value)) => {
                drop(value);
                true
            }
            Poll::Ready(Err(e)) => panic!("unexpected outcome {e}"),
            Poll::Pending => false,
        };
        drop(starter);
        child.join().unwrap();
        drop(wrapper);
        let handed_over = !node.is_shielded();
        let cancelled = node.cancel_called();
        assert!(
            handed_over != cancelled,
            "exactly one of hand-over / cancel"
        );
        if received {
            assert!(
                handed_over,
                "the caller got v but the child is still shielded"
            );
        }
        assert_eq!(drops.load(SeqCst), 1, "v dropped exactly once");
        // The child's settle wakes the caller; the caller's own drop does not.
        assert_eq!(
            runner.wakes(),
            usize::from(handed_over),
            "wakes: only the child's settle wakes the caller, once"
        );
    });
}

/// 2. `started(v)` races the caller's poll: no lost wake-up (else deadlock), the
///    caller receives `v`, `v` is dropped exactly once, the child is unshielded and
///    not cancelled.
#[test]
fn started_vs_poll() {
    common::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut starter, status, wrapper, node) = start::new::<Value>(ScopeNode::new());
        let child = {
            let drops = drops.clone();
            thread::spawn(move || status.started(Value(drops)))
        };
        let runner = common::Runner::new();
        let value = match wait(&mut starter, &runner) {
            Ok(value) => value,
            Err(e) => panic!("unexpected outcome {e}"),
        };
        assert_eq!(drops.load(SeqCst), 0, "v dropped before the caller got it");
        drop(value);
        drop(starter);
        child.join().unwrap();
        drop(wrapper);
        assert!(!node.is_shielded(), "handed over");
        assert!(!node.cancel_called(), "not cancelled");
        assert_eq!(drops.load(SeqCst), 1, "v dropped exactly once");
        assert!(runner.wakes() <= 1, "woken more than once");
    });
}

/// 3. The child fails (the wrapper's `try_fail`) while its status, handed to another
///    thread, calls `started(v)`; the caller waits. The error goes to the starter
///    (`Failed`) xor back to the wrapper (for the group); the caller gets `v` exactly
///    when the error went to the group.
#[test]
fn fail_vs_started() {
    common::model(|| {
        let values = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(AtomicUsize::new(0));
        let (mut starter, status, wrapper, node) = start::new::<Value>(ScopeNode::new());
        let starter_thread = {
            let values = values.clone();
            thread::spawn(move || status.started(Value(values)))
        };
        let failer = {
            let errors = errors.clone();
            thread::spawn(move || {
                let to_group = wrapper
                    .try_fail(task_error(Box::new(Failure(errors))))
                    .err();
                wrapper.finished();
                to_group
            })
        };
        let runner = common::Runner::new();
        let outcome = wait(&mut starter, &runner);
        let to_group = failer.join().unwrap();
        starter_thread.join().unwrap();
        match &outcome {
            Ok(_) => {
                assert!(to_group.is_some(), "error lost: neither starter nor group");
                assert!(!node.is_shielded(), "started but still shielded");
            }
            Err(StartError::Failed(_)) => {
                assert!(to_group.is_none(), "error went to starter and group");
                assert!(node.is_shielded(), "failed before starting but unshielded");
            }
            Err(e) => panic!("unexpected outcome {e}"),
        }
        assert!(!node.cancel_called());
        drop(outcome);
        drop(to_group);
        drop(starter);
        assert_eq!(values.load(SeqCst), 1, "v dropped exactly once");
        assert_eq!(errors.load(SeqCst), 1, "error dropped exactly once");
    });
}

/// 4. The status is dropped without `started` (`drop_in_poll`: by the child's own
///    poll, deferred to `after_poll`; else outside it) while the caller, pending, is
///    cancelled and drops its future. The node ends up unshielded (the child joins
///    the group) xor cancelled; the caller is woken only by the child's settle (a
///    wake that can land just after the drop: harmless and spurious), never by its own
///    drop; the waker is not leaked (loom checks).
fn status_drop_vs_caller_drop(drop_in_poll: bool) {
    common::model(move || {
        let (mut starter, status, wrapper, node) = start::new::<Value>(ScopeNode::new());
        let runner = common::Runner::new();
        assert!(poll_once(&mut starter, &runner).is_pending());
        let child = thread::spawn(move || {
            if drop_in_poll {
                wrapper.polling(|| drop(status));
                wrapper.after_poll();
            } else {
                drop(status);
            }
            wrapper.finished();
        });
        let not_started = match poll_once(&mut starter, &runner) {
            Poll::Ready(Err(StartError::NotStarted)) => true,
            Poll::Ready(_) => panic!("unexpected outcome"),
            Poll::Pending => false,
        };
        drop(starter);
        child.join().unwrap();
        let unshielded = !node.is_shielded();
        let cancelled = node.cancel_called();
        assert!(unshielded != cancelled, "exactly one of unshield / cancel");
        if not_started {
            assert!(unshielded, "NotStarted but still shielded");
        }
        assert_eq!(
            runner.wakes(),
            usize::from(unshielded),
            "wakes: only the child's settle wakes the caller, once"
        );
    });
}

#[test]
fn status_drop_vs_caller_drop_outside_poll() {
    status_drop_vs_caller_drop(false);
}

#[test]
fn status_drop_in_poll_vs_caller_drop() {
    status_drop_vs_caller_drop(true);
}

/// 5. A scope of the caller's is cancelled while the child calls `started(v)`:
///    exactly one of: the child is handed over (it started before the cancel; the
///    caller gets `v`), or it is cancelled and never handed over (`started` after the
///    cancel does nothing).
#[test]
fn started_vs_caller_cancel() {
    common::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let caller_scope = ScopeNode::new();
        let (mut starter, status, wrapper, node) = start::new::<Value>(caller_scope.clone());
        let caller = common::Runner::new();
        assert!(poll_once(&mut starter, &caller).is_pending());
        let canceller = thread::spawn(move || {
            caller_scope.cancel();
        });
        let child = {
            let (drops, node) = (drops.clone(), node.clone());
            thread::spawn(move || {
                status.started(Value(drops));
                // Before the child's end, which unshields a child never handed over.
                let handed_over = !node.is_shielded();
                wrapper.finished();
                handed_over
            })
        };
        canceller.join().unwrap();
        let handed_over = child.join().unwrap();
        let cancelled = node.cancel_called();
        assert!(
            handed_over != cancelled,
            "exactly one of hand-over / cancel"
        );
        match poll_once(&mut starter, &caller) {
            Poll::Ready(Ok(value)) => {
                assert!(handed_over, "the caller got v from a cancelled child");
                drop(value);
            }
            Poll::Ready(Err(StartError::NotStarted)) => assert!(cancelled),
            Poll::Ready(Err(e)) => panic!("unexpected outcome {e}"),
            Poll::Pending => panic!("the start never settled"),
        }
        drop(starter);
        assert_eq!(drops.load(SeqCst), 1, "v dropped exactly once");
    });
}

/// 5b. The child, between polls, registers its waker (`before_poll`) while a scope of
///    the caller's is cancelled; it waits to be woken and re-checks as its next poll
///    would. The cancel reaches it (a lost wake-up is a loom deadlock), and its
///    `started(v)` after that does not hand it over.
#[test]
fn caller_cancel_reaches_a_waiting_child() {
    common::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let caller_scope = ScopeNode::new();
        let (starter, status, wrapper, node) = start::new::<Value>(caller_scope.clone());
        let canceller = thread::spawn(move || {
            caller_scope.cancel();
        });
        let child = {
            let (drops, node) = (drops.clone(), node.clone());
            thread::spawn(move || {
                let runner = common::Runner::new();
                wrapper.before_poll(&runner.waker);
                while !node.cancel_called() {
                    runner.wait();
                    wrapper.before_poll(&runner.waker);
                }
                status.started(Value(drops));
                let handed_over = !node.is_shielded();
                wrapper.finished();
                handed_over
            })
        };
        canceller.join().unwrap();
        assert!(
            !child.join().unwrap(),
            "handed over after the caller's cancel"
        );
        assert!(starter.cancel().is_none());
        assert_eq!(drops.load(SeqCst), 1, "v dropped exactly once");
    });
}

/// 5c. A scope of the caller's is cancelled and then, in the same thread (so after
///    the cancel), the status is dropped without `started`, while the child, between
///    polls, looks for a cancel as its wrapper does before resuming its work
///    (`before_poll`, then its node). A look that begins after the caller's cancel
///    never lets the work resume, and once all is done the child is cancelled and
///    still shielded: a status dropped after the caller's cancel does not move the
///    child into the group. The caller ends with `NotStarted`.
#[test]
fn caller_cancel_then_status_drop_vs_child_poll() {
    common::model(|| {
        let caller_scope = ScopeNode::new();
        let (mut starter, status, wrapper, node) = start::new::<Value>(caller_scope.clone());
        let controller = {
            let caller_scope = caller_scope.clone();
            thread::spawn(move || {
                caller_scope.cancel();
                drop(status);
            })
        };
        let child = {
            let node = node.clone();
            thread::spawn(move || {
                let runner = common::Runner::new();
                let saw_cancel = caller_scope.cancel_called();
                wrapper.before_poll(&runner.waker);
                let resumes = node.cancelled_by().is_none();
                assert!(
                    !(saw_cancel && resumes),
                    "the work resumed after the caller's cancel"
                );
                wrapper
            })
        };
        controller.join().unwrap();
        let wrapper = child.join().unwrap();
        assert!(
            node.cancel_called(),
            "the child escaped the caller's cancel"
        );
        assert!(
            node.is_shielded(),
            "the child joined the group after the caller's cancel"
        );
        let caller = common::Runner::new();
        assert!(matches!(
            poll_once(&mut starter, &caller),
            Poll::Ready(Err(StartError::NotStarted))
        ));
        wrapper.finished();
        drop(starter);
    });
}

/// 5d. As 5c, but the status is dropped on a thread of its own, so the drop may
///    decide between the cancel's flag and its look at the start (or before the
///    cancel: then the child joins the group and the cancel does not reach it). Once
///    all is done the child either joined the group or was cancelled, not both; and a
///    look that began after the caller's cancel resumed the work only if the child
///    joined the group (before the cancel). The caller ends with `NotStarted`.
#[test]
fn caller_cancel_vs_status_drop_vs_child_poll() {
    common::model(|| {
        let caller_scope = ScopeNode::new();
        let (mut starter, status, wrapper, node) = start::new::<Value>(caller_scope.clone());
        let canceller = {
            let caller_scope = caller_scope.clone();
            thread::spawn(move || caller_scope.cancel())
        };
        let dropper = thread::spawn(move || drop(status));
        let child = {
            let node = node.clone();
            thread::spawn(move || {
                let runner = common::Runner::new();
                let saw_cancel = caller_scope.cancel_called();
                wrapper.before_poll(&runner.waker);
                let resumes = node.cancelled_by().is_none();
                (saw_cancel && resumes, wrapper)
            })
        };
        canceller.join().unwrap();
        dropper.join().unwrap();
        let (resumed_after_cancel, wrapper) = child.join().unwrap();
        let joined = !node.is_shielded();
        let cancelled = node.cancel_called();
        assert!(joined != cancelled, "exactly one of: joined / cancelled");
        assert!(
            !resumed_after_cancel || joined,
            "the work resumed after the caller's cancel and the child was cancelled"
        );
        let caller = common::Runner::new();
        assert!(matches!(
            poll_once(&mut starter, &caller),
            Poll::Ready(Err(StartError::NotStarted))
        ));
        wrapper.finished();
        drop(starter);
    });
}

/// 6. The child fails while a scope of its caller's is cancelled and the caller,
///    cancelled, drops its future. The error is never lost: it goes back to the
///    wrapper (for the group) or comes out of the caller's drop (for the group), not
///    both, and is dropped exactly once.
#[test]
fn fail_vs_caller_cancel() {
    common::model(|| {
        let errors = Arc::new(AtomicUsize::new(0));
        let caller_scope = ScopeNode::new();
        let (mut starter, status, wrapper, node) = start::new::<Value>(caller_scope.clone());
        let caller = common::Runner::new();
        assert!(poll_once(&mut starter, &caller).is_pending());
        let failer = {
            let errors = errors.clone();
            thread::spawn(move || {
                let to_group = wrapper
                    .try_fail(task_error(Box::new(Failure(errors))))
                    .err();
                drop(status);
                wrapper.finished();
                to_group
            })
        };
        caller_scope.cancel();
        let from_caller = starter.cancel();
        let to_group = failer.join().unwrap();
        assert!(
            to_group.is_some() != from_caller.is_some(),
            "the error went nowhere, or twice"
        );
        drop((to_group, from_caller));
        assert_eq!(errors.load(SeqCst), 1, "error dropped exactly once");
        drop(node);
    });
}
