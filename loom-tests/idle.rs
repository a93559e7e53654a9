//! Loom model of the workers' sleep/wake protocol (`src/runtime/idle.rs`,
//! `src/runtime/park.rs`): no wake-up is lost, in the worker loop and in the parker.
//!
//! Worker 0 is the producer: busy running a task that spawns, it pushes onto its own
//! queue and calls `notify_parked`, and never looks at its queue again. Workers 1.. run
//! the real worker loop (`idle::run`, with its `search`, `found_work` and
//! `park_unless`, the code `src/runtime/worker.rs` runs), with the real `Idle` and
//! `Parker`, through the `idle::Worker` trait implemented here over stand-ins:
//! - the queue stands in for crossbeam's deque (which loom cannot see into) and keeps
//!   the orderings crossbeam uses for `Worker::push` (a release fence and a relaxed
//!   store), `Stealer::steal` and `Stealer::is_empty` (a `SeqCst` fence between
//!   reading the two ends); the injector uses `SeqCst` throughout, so the deque is the
//!   weaker case;
//! - the driver stands in for `runtime::driver::Driver`: one sleeper at a time takes
//!   it (a try-lock on an atomic, see `Driver`) and blocks in the real
//!   `Parker::park_in_driver` until the driver's waker fires; the others park on their
//!   condvar, as `Core::sleep` does.
//!
//! The worker that takes the last task shuts the runtime down the way
//! `Handle::shutdown` does, so the model ends exactly when every task was taken; a lost
//! wake-up leaves the workers parked for ever, which loom reports as a deadlock.
//!
//! `a_blocked_poll_does_not_strand_the_next_task` asks more than "every task runs":
//! the producer is not a worker (its pushes go to the injector, which a worker's own
//! loop also reads), and the first task taken blocks its worker until the second has
//! run, so the second must reach the other worker. It was written for a stall that
//! `tests/storm.rs` (`a_drop_that_blocks_does_not_stall_the_other_workers`) hit about
//! once in 1,000 loaded runs: the pushes came while worker 0 searched, so they woke
//! nobody; worker 0 then gave up, its re-check saw the tasks, and it went back to work
//! as a plain worker, took the first task (which blocked) and woke nobody for the
//! second, which sat in the injector beside the parked worker 1. Now the last searcher
//! whose re-check sees work searches again (M15 in the README's table).
//!
//! `a_par_waiter_woken_by_a_push_hands_the_search_on`: a worker waiting in a `par` call
//! parks with the real `idle::park_waiter` and then waits for its latch without
//! looking for work. When the push of the task it waits for wakes it (counting it as
//! the searcher that will find the task), it must hand that role on to the third
//! worker, or the task stays in the producer's deque for ever (M16).
//!
//! The `watched_*` models add the blocked-poll watchdog's doze (`debug/watchdog.rs`'s
//! `Bell::doze_if_idle`, over the real `Idle`): with one worker and a producer
//! that is not a worker, the watchdog may doze while the worker is parked, no task may
//! run while it dozes, and the worker that wakes must ring it.
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
//! - `idle::park_unless` without the re-check of the queues after
//!   `transition_worker_to_parked`: deadlock.
//! - `Idle::transition_worker_to_parked` decrementing the unparked count but not
//!   pushing the worker on the sleeper list: deadlock.
//! - `Parker::park` resetting a found `NOTIFIED` with `store(EMPTY)` (the code before
//!   the fix above): `parker_two_unparks` deadlocks.
//! - `Parker::spin` reporting a notification it consumed as none (the worker then
//!   blocks on the condvar): deadlock.
//! - The doze (M11 to M14 in `README.md`): `Bell::worker_woke` doing nothing, the
//!   unparked count read outside the sleepers lock, the bell's condvar notified
//!   without its lock, `woke` skipped when the re-check found work: each fails a
//!   `watched_*` model.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test loom_idle`. The models here explore at least three preemptions whatever
//! `LOOM_MAX_PREEMPTIONS` says.

#![cfg(pride_loom)]

use std::cell::Cell;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use loom::sync::{Arc, Notify};
use loom::thread;

mod common;
use pride::__loom::runtime::{self as rt, Bell, Idle, Parker, Unparker, WakeDriver};

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

/// The driver: held by one sleeper at a time, which blocks until its waker fires (a
/// wake before the block makes it return at once, like `mio::Waker`).
///
/// `held` is a try-lock on an atomic, not `loom::sync::Mutex::try_lock`: loom 0.7
/// marks a thread that is about to `try_lock` as blocked when another thread takes the
/// lock first (tokio-rs/loom#376), so a sleeper that would have failed the `try_lock`
/// and run stays blocked, and loom reports a deadlock that cannot happen
/// (`two_sleepers_one_task` with `LOOM_MAX_PREEMPTIONS=3`).
#[derive(Default)]
struct Driver {
    held: AtomicBool,
    waker: Notify,
}

impl Driver {
    /// `Mutex::try_lock` of the driver's core: acquires on success, never blocks.
    fn try_hold(&self) -> Option<Held<'_>> {
        self.held
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Held(&self.held))
    }
}

/// The driver held; dropping it releases the driver.
struct Held<'a>(&'a AtomicBool);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl WakeDriver for Driver {
    fn wake_driver(&self) {
        self.waker.notify();
    }
}

/// For the parker alone: nobody parks in the driver.
struct NoDriver;

impl WakeDriver for NoDriver {
    fn wake_driver(&self) {
        unreachable!("nobody parks in the driver in this test");
    }
}

/// `worker::Shared`, reduced to what the protocol touches.
struct Shared {
    queue: Deque,
    idle: Idle,
    /// The watchdog's bell, from the runtime's counters.
    bell: Bell,
    unparkers: Vec<Unparker>,
    driver: Driver,
    shutdown: AtomicBool,
    taken: AtomicUsize,
    tasks: usize,
    /// The queue is the injector, filled by a thread that is not a worker: every
    /// worker's `next_task` takes from it too, as `Core::pop_task` does. Otherwise it
    /// is worker 0's deque, which only stealing reaches.
    injector: bool,
    /// The first task taken blocks its worker until the second has run (a poll that
    /// blocks, as a `Drop` that waits for another task does): the second must reach
    /// another worker.
    blocking: Option<Notify>,
    /// Worker 1 waits in a `par` call for the task: running it sets that latch
    /// (notifies this and unparks worker 1).
    latch: Option<Notify>,
}

impl Shared {
    /// `Shared::notify_parked`.
    fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.unparkers[index].unpark(&self.driver);
        }
    }

    /// `Handle::shutdown`.
    fn shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for unparker in &self.unparkers {
            unparker.unpark(&self.driver);
        }
    }

    /// A runtime of one worker per parker that will take `tasks` tasks from worker 0's
    /// deque; the models change the fields that differ.
    fn new(parkers: &[Parker], tasks: usize) -> Shared {
        Shared {
            queue: Deque::default(),
            idle: Idle::new(parkers.len()),
            bell: Bell::new(),
            unparkers: parkers.iter().map(Parker::unparker).collect(),
            driver: Driver::default(),
            shutdown: AtomicBool::new(false),
            taken: AtomicUsize::new(0),
            tasks,
            injector: false,
            blocking: None,
            latch: None,
        }
    }

    /// The producer's side: pushes every task, notifying after each.
    fn push_tasks(&self) {
        for _ in 0..self.tasks {
            self.queue.push();
            self.notify_parked();
        }
    }

    /// Joins `threads`; every task must have been taken by then.
    fn join(&self, threads: Vec<thread::JoinHandle<()>>) {
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(self.taken.load(Ordering::SeqCst), self.tasks);
    }
}

/// A worker of the model: it has no queue of its own, so it finds work only in the
/// shared queue: by stealing, or, when that queue is the injector, in `next_task` too.
struct Core {
    index: usize,
    shared: Arc<Shared>,
    searching: Cell<bool>,
    parker: Parker,
}

impl rt::Worker for Core {
    type Task = ();

    fn idle(&self) -> &Idle {
        &self.shared.idle
    }

    fn index(&self) -> usize {
        self.index
    }

    fn searching(&self) -> &Cell<bool> {
        &self.searching
    }

    fn is_shutdown(&self) -> bool {
        self.shared.shutdown.load(Ordering::Acquire)
    }

    fn next_task(&self) -> Option<()> {
        if self.shared.injector {
            self.steal_task()
        } else {
            None
        }
    }

    fn steal_task(&self) -> Option<()> {
        loop {
            match self.shared.queue.steal() {
                Steal::Success => return Some(()),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
    }

    /// Running the task is taking it; the last one shuts the runtime down. No task
    /// runs while the watchdog dozes.
    fn run_task(&self, (): ()) {
        assert!(
            !self.shared.bell.dozing(),
            "a task runs while the watchdog dozes"
        );
        let taken = self.shared.taken.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(second_ran) = &self.shared.blocking {
            match taken {
                1 => second_ran.wait(),
                2 => second_ran.notify(),
                _ => {}
            }
        }
        if let Some(latch) = &self.shared.latch {
            latch.notify();
            self.shared.unparkers[1].unpark(&self.shared.driver);
        }
        if taken == self.shared.tasks {
            self.shared.shutdown();
        }
    }

    fn run_other(&self) -> bool {
        false
    }

    fn has_visible_work(&self) -> bool {
        !self.shared.queue.is_empty()
    }

    fn notify_parked(&self) {
        self.shared.notify_parked();
    }

    /// `Core::woke`.
    fn woke(&self) {
        self.shared.bell.worker_woke();
    }

    /// `Core::sleep`: in the driver if it is free, else on the condvar after a look
    /// for an unpark (the runtime looks for a moment; under loom, once).
    fn sleep(&self) {
        let driver = &self.shared.driver;
        match driver.try_hold() {
            Some(_held) => self.parker.park_in_driver(|| driver.waker.wait()),
            None => {
                if !self.parker.spin() {
                    self.parker.park();
                }
            }
        }
    }
}

impl Core {
    fn new(shared: &Arc<Shared>, index: usize, parker: Parker) -> Core {
        Core {
            index,
            shared: shared.clone(),
            searching: Cell::new(false),
            parker,
        }
    }
}

/// Runs the real worker loop on a thread of its own for each `(index, parker)`.
fn run_loops(
    shared: &Arc<Shared>,
    parkers: impl Iterator<Item = (usize, Parker)>,
) -> Vec<thread::JoinHandle<()>> {
    parkers
        .map(|(index, parker)| {
            let core = Core::new(shared, index, parker);
            thread::spawn(move || rt::run(&core))
        })
        .collect()
}

/// Worker 0 pushes `tasks` tasks, notifying after each; `sleepers` workers run the
/// worker loop. Every task must be taken. Explored with three preemptions (ten seconds
/// for all of these models together), which found the parker's lost wake-up below.
fn model(sleepers: usize, tasks: usize) {
    common::model_preempting(3, move || {
        let parkers: Vec<Parker> = (0..=sleepers).map(|_| Parker::new()).collect();
        let shared = Arc::new(Shared::new(&parkers, tasks));
        let workers = run_loops(&shared, parkers.into_iter().enumerate().skip(1));
        shared.push_tasks();
        shared.join(workers);
    });
}

/// The watchdog's doze: one worker runs the loop, a thread that is not a worker (a
/// `block_on` thread) pushes `tasks` tasks, and the watchdog dozes once if every worker
/// is parked, the way its loop does. No task may run while it dozes (`run_task`
/// asserts it), and the first worker to wake must ring it, or the watchdog waits for
/// ever and loom reports the deadlock. Three preemptions, as in `model`: a doze that
/// lands between a worker's announcement of its sleep and its re-check of the queues
/// needs them.
fn watched_model(tasks: usize) {
    common::model_preempting(3, move || {
        let parker = Parker::new();
        let shared = Arc::new(Shared::new(std::slice::from_ref(&parker), tasks));
        let core = Core::new(&shared, 0, parker);
        let worker = thread::spawn(move || rt::run(&core));
        let watchdog = {
            let shared = shared.clone();
            thread::spawn(move || {
                shared.bell.doze_if_idle(&shared.idle, || true);
                while shared.bell.wait(std::time::Duration::ZERO) == Some(true) {}
            })
        };
        shared.push_tasks();
        shared.join(vec![worker, watchdog]);
    });
}

/// A poll that blocks strands no task: a thread that is not a worker (a `block_on`
/// thread) pushes two tasks into the injector while both workers look for work, and
/// the first task taken blocks its worker until the second has run elsewhere. The
/// pushes may land while one worker searches (so they wake nobody) and that worker
/// may then take the first task on its way to sleep; the other worker must still be
/// woken for the second, or both wait for ever, which loom reports as a deadlock.
fn blocked_model() {
    common::model_preempting(3, || {
        let parkers: Vec<Parker> = (0..2).map(|_| Parker::new()).collect();
        let shared = Arc::new(Shared {
            injector: true,
            blocking: Some(Notify::new()),
            ..Shared::new(&parkers, 2)
        });
        let workers = run_loops(&shared, parkers.into_iter().enumerate());
        shared.push_tasks();
        shared.join(workers);
    });
}

#[test]
fn a_blocked_poll_does_not_strand_the_next_task() {
    blocked_model();
}

/// A `par` waiter woken by a push hands the searcher's role on: worker 0 pushes a task
/// onto its own deque and notifies; worker 1 waits in a `par` call for that task to
/// run (its latch), parking with the real `park_waiter`, and then waits on the latch
/// without looking for work, as the rest of its call would; worker 2 runs the loop. If
/// the push woke worker 1, it must pass the role to worker 2, or the task waits in the
/// deque for ever (deadlock).
fn waiter_model() {
    common::model_preempting(3, || {
        let mut parkers: Vec<Parker> = (0..3).map(|_| Parker::new()).collect();
        let shared = Arc::new(Shared {
            latch: Some(Notify::new()),
            ..Shared::new(&parkers, 1)
        });
        let loops = run_loops(&shared, std::iter::once((2, parkers.pop().unwrap())));
        let waiter = Core::new(&shared, 1, parkers.pop().unwrap());
        let waiter = thread::spawn(move || {
            rt::park_waiter(&waiter, || false);
            waiter.shared.latch.as_ref().unwrap().wait();
        });
        shared.push_tasks();
        shared.join(loops.into_iter().chain([waiter]).collect());
    });
}

#[test]
fn a_par_waiter_woken_by_a_push_hands_the_search_on() {
    waiter_model();
}

#[test]
fn watched_sleeper_one_task() {
    watched_model(1);
}

#[test]
fn watched_sleeper_two_tasks() {
    watched_model(2);
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
    common::model_preempting(3, || {
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
