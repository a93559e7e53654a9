//! Loom model of the workers' sleep/wake protocol (`src/runtime/idle.rs`,
//! `src/runtime/park.rs`): no wake-up is lost, in the worker loop and in the parker.
//!
//! Worker 0 is the producer: busy running a task that spawns, it pushes onto its own
//! queue and calls `notify_parked`, and never looks at its queue again. Workers 1.. run
//! the real worker loop, replicated faithfully from `src/runtime/worker.rs` (the
//! `Core::run` loop, `steal`, `run_task` and `park` with its re-check of every queue
//! after `transition_worker_to_parked`), with the real `Idle` and `Parker`; only the
//! driver is left out (nobody parks in it here; `Parker::park` is the condvar path).
//! The queue is a stand-in for crossbeam's deque (which loom cannot see into) that
//! keeps the orderings crossbeam uses for `Worker::push` (a release fence and a
//! relaxed store), `Stealer::steal` and `Stealer::is_empty` (a `SeqCst` fence between
//! reading the two ends); the injector uses `SeqCst` throughout, so the deque is the
//! weaker case. The worker that takes the last task shuts the runtime down the way
//! `Handle::shutdown` does, so the model ends exactly when every task was taken; a lost
//! wake-up leaves the workers parked for ever, which loom reports as a deadlock.
//!
//! Found a real lost wake-up in the unbroken code (`two_sleepers_one_task` with
//! `LOOM_MAX_PREEMPTIONS=3`): in `Parker::park`, when the CAS to `PARKED_CONDVAR`
//! failed on `NOTIFIED`, the state was reset with a plain `store(EMPTY)`. If a second
//! unpark (here `Handle::shutdown`'s) lands between that CAS and the store, the store
//! swallows its notification without synchronising with it; the worker returns, may
//! still read `shutdown == false`, parks again and is never woken. Fixed in `park.rs`
//! by resetting with `swap` (same in `park_in_driver` and `park_timeout`).
//! `parker_two_unparks` reproduces it with the default two preemptions.
//!
//! Seen to fail when broken by hand (each break undone afterwards):
//! - `Idle::worker_to_notify` with the state read before the `SeqCst` fence (the fence
//!   moved after the first `should_notify` check): every model fails with a deadlock.
//! - the model's `park` without the re-check of the queues (replicating a `worker.rs`
//!   that parks right after `transition_worker_to_parked`): deadlock.
//! - `Idle::transition_worker_to_parked` decrementing the unparked count but not
//!   pushing the worker on the sleeper list: deadlock.
//! - `Parker::park` resetting a found `NOTIFIED` with `store(EMPTY)` (the code before
//!   the fix above): `parker_two_unparks` deadlocks.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test loom_idle`.

#![cfg(pride_loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use loom::thread;

mod common;
use pride::__loom::runtime::{Idle, Parker, Unparker, WakeDriver};

/// A work-stealing deque reduced to its two ends, with crossbeam's orderings. Only the
/// owner (worker 0) pushes; anyone steals.
#[derive(Default)]
struct Deque {
    front: AtomicUsize,
    back: AtomicUsize,
}

enum Steal {
    Success,
    Empty,
    Retry,
}

impl Deque {
    fn push(&self) {
        let back = self.back.load(Ordering::Relaxed);
        fence(Ordering::Release);
        self.back.store(back + 1, Ordering::Relaxed);
    }

    fn steal(&self) -> Steal {
        let front = self.front.load(Ordering::Acquire);
        fence(Ordering::SeqCst);
        let back = self.back.load(Ordering::Acquire);
        if back <= front {
            return Steal::Empty;
        }
        match self
            .front
            .compare_exchange(front, front + 1, Ordering::SeqCst, Ordering::Relaxed)
        {
            Ok(_) => Steal::Success,
            Err(_) => Steal::Retry,
        }
    }

    fn is_empty(&self) -> bool {
        let front = self.front.load(Ordering::Acquire);
        fence(Ordering::SeqCst);
        let back = self.back.load(Ordering::Acquire);
        back <= front
    }
}

/// Nobody parks in the driver in this model.
struct NoDriver;

impl WakeDriver for NoDriver {
    fn wake_driver(&self) {
        unreachable!("no worker parks in the driver in this model");
    }
}

/// `worker::Shared`, reduced to what the protocol touches.
struct Shared {
    queue: Deque,
    idle: Idle,
    unparkers: Vec<Unparker>,
    shutdown: AtomicBool,
    taken: AtomicUsize,
    tasks: usize,
}

impl Shared {
    /// `Shared::notify_parked`.
    fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.unparkers[index].unpark(&NoDriver);
        }
    }

    /// `Shared::has_visible_work`.
    fn has_visible_work(&self) -> bool {
        !self.queue.is_empty()
    }

    fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// `Handle::shutdown`.
    fn shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for unparker in &self.unparkers {
            unparker.unpark(&NoDriver);
        }
    }
}

/// `worker::Core`, reduced to what the protocol touches.
struct Core {
    index: usize,
    shared: Arc<Shared>,
    searching: bool,
    parker: Parker,
}

impl Core {
    /// `Core::run`; the worker's own queue is always empty here, so `next_task` finds
    /// nothing and only `steal` can.
    fn run(mut self) {
        while !self.shared.is_shutdown() {
            if self.steal() {
                self.run_task();
                continue;
            }
            self.park();
        }
    }

    /// `Core::run_task`: running the task is taking it.
    fn run_task(&mut self) {
        if std::mem::replace(&mut self.searching, false)
            && self.shared.idle.transition_worker_from_searching()
        {
            self.shared.notify_parked();
        }
        let taken = self.shared.taken.fetch_add(1, Ordering::SeqCst) + 1;
        if taken == self.shared.tasks {
            self.shared.shutdown();
        }
    }

    /// `Core::steal`.
    fn steal(&mut self) -> bool {
        if !self.searching {
            if !self.shared.idle.transition_worker_to_searching() {
                return false;
            }
            self.searching = true;
        }
        loop {
            match self.shared.queue.steal() {
                Steal::Success => return true,
                Steal::Retry => continue,
                Steal::Empty => return false,
            }
        }
    }

    /// `Core::park`, minus the driver.
    fn park(&mut self) {
        let shared = &*self.shared;
        let was_searching = std::mem::replace(&mut self.searching, false);
        let _ = shared
            .idle
            .transition_worker_to_parked(self.index, was_searching);
        if shared.has_visible_work() || shared.is_shutdown() {
            if shared.idle.transition_worker_from_parked(self.index) {
                self.searching = true;
            }
            return;
        }
        self.parker.park();
        if shared.idle.transition_worker_from_parked(self.index) {
            self.searching = true;
        }
    }
}

/// Worker 0 pushes `tasks` tasks, notifying after each; `sleepers` workers run the
/// worker loop. Every task must be taken.
fn model(sleepers: usize, tasks: usize) {
    common::model(move || {
        let parkers: Vec<Parker> = (0..=sleepers).map(|_| Parker::new()).collect();
        let shared = Arc::new(Shared {
            queue: Deque::default(),
            idle: Idle::new(sleepers + 1),
            unparkers: parkers.iter().map(Parker::unparker).collect(),
            shutdown: AtomicBool::new(false),
            taken: AtomicUsize::new(0),
            tasks,
        });
        let workers: Vec<_> = parkers
            .into_iter()
            .enumerate()
            .skip(1)
            .map(|(index, parker)| {
                let core = Core {
                    index,
                    shared: shared.clone(),
                    searching: false,
                    parker,
                };
                thread::spawn(move || core.run())
            })
            .collect();
        for _ in 0..tasks {
            shared.queue.push();
            shared.notify_parked();
        }
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(shared.taken.load(Ordering::SeqCst), tasks);
    });
}

#[test]
fn one_sleeper_one_task() {
    model(1, 1);
}

#[test]
fn one_sleeper_two_tasks() {
    model(1, 2);
}

#[test]
fn two_sleepers_one_task() {
    model(2, 1);
}

#[test]
fn two_sleepers_two_tasks() {
    model(2, 2);
}

/// The parker alone: two unparks race one `park`, each after publishing a flag. Once
/// woken by both, the parked thread sees both flags; a notification swallowed without
/// synchronising (both unparks land during one `park`) would leave it parked on a
/// stale view.
#[test]
fn parker_two_unparks() {
    common::model(|| {
        let parker = Parker::new();
        let flags = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let threads: Vec<_> = (0..2)
            .map(|i| {
                let (unparker, flags) = (parker.unparker(), flags.clone());
                thread::spawn(move || {
                    flags[i].store(true, Ordering::Release);
                    unparker.unpark(&NoDriver);
                })
            })
            .collect();
        while !flags.iter().all(|f| f.load(Ordering::Acquire)) {
            parker.park();
        }
        for th in threads {
            th.join().unwrap();
        }
    });
}
