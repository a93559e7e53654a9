//! Loom model of the task state word (`src/task/state.rs`, `raw.rs`, `waker.rs`):
//! wake vs completion, wake during poll, external cancel vs running/notified/idle,
//! join-handle drop vs completion, join-handle read vs completion, a join handle that
//! registered its waker and is dropped vs completion, cancel vs wake vs
//! join-handle drop all at once, and a flag set before a wake of a queued task vs the
//! run that polls it.
//!
//! Every model counts polls, future drops, output drops and deallocations (the test
//! scheduler lives in the task cell, so its drop is the cell's), and loom itself
//! reports a leaked `Arc` (the cell holds one) at the end of each execution.
//!
//! Freeing the cell is a write to its stage under loom (`raw.rs` `dealloc`), so a last
//! reference released without being ordered after another thread's use of the cell
//! is a reported race: `ref_dec` weakened from AcqRel to Relaxed fails
//! `join_drop_vs_complete` (it passed every model before). `loom-tests/mutate.sh`
//! re-runs this and the other seeded bugs of `loom-tests/README.md`.
//!
//! Seen to fail when broken by hand (each break undone afterwards):
//! - `transition_to_idle` with the NOTIFIED case dropped (a wake during the poll ends
//!   as `Idle` with `NOTIFIED` cleared): `wake_by_val_vs_run`, `wake_by_ref_vs_run` and
//!   `self_wake_during_poll` fail with "lost wake-up: task not complete".
//! - `transition_to_cancelled` returning `DoNothing` for a RUNNING task without setting
//!   `CANCELLED`: the `cancel_*` models fail ("future not dropped after cancel", and
//!   `task.is_complete()` in `cancel_vs_wake_vs_join_drop`).
//! - `read_output` reading `COMPLETE` before taking the join-waker lock (the waker is
//!   stored after the completer looked for it): `join_read_vs_complete` fails with a
//!   loom deadlock (the joiner waits for ever).
//! - `JoinHandle::drop` not releasing its reference: `join_drop_vs_complete` fails
//!   ("output drops": the cell, and the output in it, is never freed).
//! - `JoinHandle::drop` clearing `JOIN_INTEREST` without taking the waker its last
//!   poll left: `join_poll_then_drop_vs_complete` fails ("join waker kept with the
//!   cell after its handle was dropped").
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test loom_task_state`.

#![cfg(pride_loom)]

mod common;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::sync::atomic::AtomicBool;
use loom::sync::atomic::Ordering::{Acquire, Release};
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;
use pride::__loom::task::{self, Notified, Schedule};

/// What the models count.
/// `Counts::runs`: a runner is inside `Notified::run`.
const IN_RUN: usize = 1;
/// `Counts::runs`: one poll of the future.
const POLL: usize = 2;

#[derive(Default)]
struct Counts {
    /// Polls (in units of `POLL`) and the `IN_RUN` bit, in one word so that one
    /// read-modify-write snapshots both (a read-modify-write reads the latest value).
    runs: AtomicUsize,
    future_drops: AtomicUsize,
    output_drops: AtomicUsize,
    /// Drops of the scheduler inside the cell: one per freed cell.
    deallocs: AtomicUsize,
    /// Notified references handed to the scheduler and not yet taken to run.
    queued: AtomicUsize,
    /// Re-queues after a wake during the task's own poll.
    yields: AtomicUsize,
}

/// The run queue and the counts.
#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Notified>>,
    counts: Counts,
    /// The futures' wake condition, as a real future keeps it: the condition and the
    /// waker its last pending poll left behind, under one lock.
    slot: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    /// The futures in these models complete once this is set.
    go: bool,
    waker: Option<Waker>,
}

impl Counts {
    fn polls(&self) -> usize {
        self.runs.load(SeqCst) / POLL
    }
}

impl Shared {
    fn push(&self, task: Notified) {
        let prev = self.counts.queued.fetch_add(1, SeqCst);
        assert_eq!(prev, 0, "two notified references to one task");
        self.queue.lock().unwrap().push_back(task);
    }

    /// Runs the task at the head of the queue; false if the queue was empty.
    fn run_one(&self) -> bool {
        let Some(task) = self.queue.lock().unwrap().pop_front() else {
            return false;
        };
        self.counts.queued.fetch_sub(1, SeqCst);
        self.counts.runs.fetch_or(IN_RUN, SeqCst);
        task.run();
        self.counts.runs.fetch_and(!IN_RUN, SeqCst);
        true
    }

    fn drain(&self) {
        while self.run_one() {}
    }

    fn waker(&self) -> Waker {
        self.slot
            .lock()
            .unwrap()
            .waker
            .clone()
            .expect("no waker registered")
    }

    fn set_go(&self) {
        self.slot.lock().unwrap().go = true;
    }
}

/// The scheduler stored in the task cell.
struct Sched(Arc<Shared>);

impl Schedule for Sched {
    fn schedule(&self, task: Notified) {
        self.0.push(task);
    }

    fn yield_now(&self, task: Notified) {
        self.0.counts.yields.fetch_add(1, SeqCst);
        self.0.push(task);
    }
}

impl Drop for Sched {
    fn drop(&mut self) {
        self.0.counts.deallocs.fetch_add(1, SeqCst);
    }
}

/// A future that is ready once `go` is set; while pending it leaves its waker in
/// `slot`, and, if `self_wake`, wakes itself during its first poll (a yield).
struct Probe {
    shared: Arc<Shared>,
    self_wake: bool,
}

/// The output; counts its drops.
struct Output(Arc<Shared>);

impl Drop for Output {
    fn drop(&mut self) {
        self.0.counts.output_drops.fetch_add(1, SeqCst);
    }
}

impl Future for Probe {
    type Output = Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        let shared = &self.shared;
        let polls = shared.counts.runs.fetch_add(POLL, SeqCst) / POLL + 1;
        let mut slot = shared.slot.lock().unwrap();
        if slot.go {
            return Poll::Ready(Output(shared.clone()));
        }
        slot.waker = Some(cx.waker().clone());
        drop(slot);
        if self.self_wake && polls == 1 {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.shared.counts.future_drops.fetch_add(1, SeqCst);
    }
}

fn probe(shared: &Arc<Shared>, self_wake: bool) -> (Probe, Sched) {
    (
        Probe {
            shared: shared.clone(),
            self_wake,
        },
        Sched(shared.clone()),
    )
}

/// The end of every model: drop the last references and check that the cell was
/// freed exactly once, with its future (and output, if any) dropped exactly once.
fn finish(shared: Arc<Shared>, task: task::Task, output_drops: usize) {
    drop(task);
    drop(shared.slot.lock().unwrap().waker.take());
    assert_eq!(shared.counts.queued.load(SeqCst), 0);
    assert_eq!(shared.counts.future_drops.load(SeqCst), 1, "future drops");
    assert_eq!(
        shared.counts.output_drops.load(SeqCst),
        output_drops,
        "output drops"
    );
    assert_eq!(
        shared.counts.deallocs.load(SeqCst),
        1,
        "cell not freed exactly once"
    );
}

/// A waker (by value or by reference) races the runner that polls the task and may
/// complete it (the wake may land before, during or after the poll). After both, the
/// task must be complete: a wake is never lost, and at most one notified reference
/// exists at a time (checked in `Shared::push`).
fn wake_vs_run(by_ref: bool, self_wake: bool) {
    common::model(move || {
        let shared = Arc::new(Shared::default());
        let (future, sched) = probe(&shared, self_wake);
        let (notified, task) = task::new_task(future, sched);
        notified.run();
        if self_wake {
            // The wake during the poll re-queued the task, exactly once.
            assert_eq!(shared.counts.yields.load(SeqCst), 1);
            assert_eq!(shared.counts.queued.load(SeqCst), 1);
        } else {
            assert_eq!(shared.counts.queued.load(SeqCst), 0);
            shared.waker().wake_by_ref();
        }

        let waker = shared.waker();
        let remote = shared.clone();
        let th = thread::spawn(move || {
            remote.set_go();
            if by_ref {
                waker.wake_by_ref();
                drop(waker);
            } else {
                waker.wake();
            }
        });
        shared.run_one();
        th.join().unwrap();
        shared.drain();

        assert!(task.is_complete(), "lost wake-up: task not complete");
        assert!(shared.counts.polls() <= 3);
        finish(shared, task, 1);
    });
}

#[test]
fn wake_by_val_vs_run() {
    wake_vs_run(false, false);
}

#[test]
fn wake_by_ref_vs_run() {
    wake_vs_run(true, false);
}

#[test]
fn self_wake_during_poll() {
    wake_vs_run(false, true);
}

#[derive(Clone, Copy)]
enum CancelCase {
    /// The first run is queued; the runner takes and runs it during the cancel.
    Notified,
    /// The task was polled once and is idle; the runner wakes and runs it during the
    /// cancel.
    Idle,
    /// The queued task is dropped unrun (runtime shutdown) during the cancel.
    Shutdown,
}

/// `Task::cancel` races a runner. The future must be dropped exactly once, by the time
/// both are done; and no poll may begin after `cancel` returned (only a poll already
/// in progress may finish).
fn cancel_vs(case: CancelCase) {
    common::model(move || {
        let shared = Arc::new(Shared::default());
        let (future, sched) = probe(&shared, false);
        let (notified, task) = task::new_task(future, sched);
        match case {
            CancelCase::Notified | CancelCase::Shutdown => shared.push(notified),
            CancelCase::Idle => notified.run(),
        }

        let waker = match case {
            CancelCase::Idle => Some(shared.waker()),
            _ => None,
        };
        let remote = shared.clone();
        let th = thread::spawn(move || {
            task.cancel();
            let runs = remote.counts.runs.fetch_or(0, SeqCst);
            (task, runs / POLL, runs & IN_RUN != 0)
        });
        match case {
            CancelCase::Notified => {
                shared.run_one();
            }
            CancelCase::Idle => {
                waker.unwrap().wake();
                shared.run_one();
            }
            CancelCase::Shutdown => {
                let task = shared.queue.lock().unwrap().pop_front();
                if task.is_some() {
                    shared.counts.queued.fetch_sub(1, SeqCst);
                }
                drop(task);
            }
        }
        let (task, polls_at_cancel, in_run_at_cancel) = th.join().unwrap();

        assert_eq!(
            shared.counts.future_drops.load(SeqCst),
            1,
            "future not dropped after cancel"
        );
        assert!(task.is_complete());
        assert!(
            shared.counts.polls() <= polls_at_cancel + usize::from(in_run_at_cancel),
            "polled after cancel returned: {} polls, {polls_at_cancel} at cancel, in run: {in_run_at_cancel}",
            shared.counts.polls()
        );
        shared.drain();
        finish(shared, task, 0);
    });
}

#[test]
fn cancel_vs_notified_run() {
    cancel_vs(CancelCase::Notified);
}

#[test]
fn cancel_vs_idle_wake() {
    cancel_vs(CancelCase::Idle);
}

#[test]
fn cancel_vs_shutdown_drop() {
    cancel_vs(CancelCase::Shutdown);
}

/// The join handle is dropped while the task completes: the output is dropped exactly
/// once (by whoever frees the cell) and the cell is freed.
#[test]
fn join_drop_vs_complete() {
    common::model(|| {
        let shared = Arc::new(Shared::default());
        shared.set_go();
        let (future, sched) = probe(&shared, false);
        let (notified, task, join) = task::new_joinable(future, sched);
        drop(task);
        let th = thread::spawn(move || drop(join));
        notified.run();
        th.join().unwrap();
        let counts = &shared.counts;
        assert_eq!(counts.future_drops.load(SeqCst), 1, "future drops");
        assert_eq!(counts.output_drops.load(SeqCst), 1, "output drops");
        assert_eq!(
            counts.deallocs.load(SeqCst),
            1,
            "cell not freed exactly once"
        );
    });
}

/// A join waker that counts how often it was let go of (its last clone dropped).
struct DropCountingWaker(Arc<AtomicUsize>);

impl std::task::Wake for DropCountingWaker {
    fn wake(self: std::sync::Arc<Self>) {}
}

impl Drop for DropCountingWaker {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// The join handle polls once (registering its waker if the task is not complete yet)
/// and is dropped, while the task completes. Once both are done, and before the cell
/// is freed, the waker must have been dropped exactly once (by the handle's drop or by
/// the completion's wake): a waker kept in the cell after its handle is gone keeps
/// whatever it wakes alive with the cell, and two tasks that polled each other's handle
/// would keep each other's cells for ever.
///
/// Seen to fail ("join waker kept with the cell") with the handle's drop clearing
/// `JOIN_INTEREST` without taking the waker (the code before the take was added).
#[test]
fn join_poll_then_drop_vs_complete() {
    common::model(|| {
        let shared = Arc::new(Shared::default());
        shared.set_go();
        let (future, sched) = probe(&shared, false);
        let (notified, task, mut join) = task::new_joinable(future, sched);
        let waker_drops = Arc::new(AtomicUsize::new(0));
        let waker = Waker::from(std::sync::Arc::new(DropCountingWaker(waker_drops.clone())));
        let th = thread::spawn(move || {
            let polled = join.poll_join(&mut Context::from_waker(&waker));
            drop(join);
            drop(waker);
            // An output read here is dropped here.
            drop(polled);
        });
        notified.run();
        th.join().unwrap();
        assert_eq!(
            waker_drops.load(SeqCst),
            1,
            "join waker kept with the cell after its handle was dropped"
        );
        finish(shared, task, 1);
    });
}

/// The join handle polls while the task completes: if it sees `Pending`, the
/// completion wakes it (else it waits for ever and loom reports a deadlock), and the
/// next poll yields the output.
#[test]
fn join_read_vs_complete() {
    common::model(|| {
        let shared = Arc::new(Shared::default());
        shared.set_go();
        let (future, sched) = probe(&shared, false);
        let (notified, task, mut join) = task::new_joinable(future, sched);
        let th = thread::spawn(move || {
            let runner = common::Runner::new();
            let mut cx = Context::from_waker(&runner.waker);
            loop {
                match join.poll_join(&mut cx) {
                    Poll::Ready(output) => break output.is_some(),
                    Poll::Pending => runner.wait(),
                }
            }
        });
        notified.run();
        assert!(th.join().unwrap(), "join handle got no output");
        finish(shared, task, 1);
    });
}

/// All at once on an idle joinable task: an external cancel, a wake by value, and the
/// join handle's drop, while the runner runs whatever gets queued. The future is
/// dropped exactly once, no output exists, and the cell is freed exactly once.
#[test]
fn cancel_vs_wake_vs_join_drop() {
    common::model(|| {
        let shared = Arc::new(Shared::default());
        let (future, sched) = probe(&shared, false);
        let (notified, task, join) = task::new_joinable(future, sched);
        notified.run();
        let waker = shared.waker();
        let canceller = thread::spawn(move || {
            task.cancel();
            task
        });
        let dropper = thread::spawn(move || drop(join));
        waker.wake();
        shared.run_one();
        let task = canceller.join().unwrap();
        dropper.join().unwrap();
        shared.drain();
        assert!(task.is_complete());
        finish(shared, task, 0);
    });
}

/// A future that ends once a flag is set, read without a lock (as a cancel scope's
/// wrapper reads its scope's flags); while pending it leaves its waker in `slot`.
struct FlagProbe {
    shared: Arc<Shared>,
    flag: Arc<AtomicBool>,
}

impl Future for FlagProbe {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.counts.runs.fetch_add(POLL, SeqCst);
        if self.flag.load(Acquire) {
            return Poll::Ready(());
        }
        self.shared.slot.lock().unwrap().waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for FlagProbe {
    fn drop(&mut self) {
        self.shared.counts.future_drops.fetch_add(1, SeqCst);
    }
}

/// A queued task (woken once already) is woken again by a thread that first sets the
/// flag the task's poll reads (a cancel: the scope's flag, then a wake), while the
/// runner takes the task and polls it. The second wake finds the task `NOTIFIED` and
/// queues nothing; the poll then in line must see the flag, or the task waits for a
/// wake that already happened: it must be complete once both are done.
///
/// Seen to fail (`lost wake-up: flag set before the wake not seen`) when the wake that
/// finds `NOTIFIED` decides on a plain load without writing the word (the code before
/// it became a read-modify-write; mutation row M17).
fn flag_then_wake_vs_run(by_ref: bool) {
    common::model(move || {
        let shared = Arc::new(Shared::default());
        let flag = Arc::new(AtomicBool::new(false));
        let future = FlagProbe {
            shared: shared.clone(),
            flag: flag.clone(),
        };
        let (notified, task) = task::new_task(future, Sched(shared.clone()));
        notified.run();
        let waker = shared.waker();
        // Someone else's wake: the task is queued.
        waker.wake_by_ref();
        let th = thread::spawn(move || {
            flag.store(true, Release);
            if by_ref {
                waker.wake_by_ref();
                drop(waker);
            } else {
                waker.wake();
            }
        });
        shared.run_one();
        th.join().unwrap();
        shared.drain();
        assert!(
            task.is_complete(),
            "lost wake-up: flag set before the wake not seen"
        );
        finish(shared, task, 0);
    });
}

#[test]
fn flag_then_wake_by_val_vs_run() {
    flag_then_wake_vs_run(false);
}

#[test]
fn flag_then_wake_by_ref_vs_run() {
    flag_then_wake_vs_run(true);
}
