//! Who is asleep and who is searching: the idle protocol that decides when a worker is
//! woken for new work. See `README.md` in this folder for why no wake-up is lost.
//!
//! The hot path (`notify_parked` after every push) is one fence and one load; the
//! sleeper list sits behind a short lock taken only when a worker parks or is woken.
//!
//! The worker's side of the protocol (when it searches, when it wakes another worker,
//! and the re-check before it sleeps) is written once, here, over the [`Worker`]
//! trait: the run loop in `worker.rs` and the loom model in `loom-tests/idle.rs` both
//! run it.

use std::cell::Cell;

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering, fence};

/// Bits 0..16: workers searching for work. Bits 16..: workers not parked.
const SEARCHING_ONE: usize = 1;
const SEARCHING_MASK: usize = (1 << 16) - 1;
const UNPARKED_ONE: usize = 1 << 16;

/// The most workers a runtime may have: the searching count must fit in its bits.
pub(crate) const MAX_WORKERS: usize = SEARCHING_MASK - 1;

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state >> 16
}

/// The searching and unparked counts, and the list of parked workers.
pub struct Idle {
    state: AtomicUsize,
    /// Indices of parked workers. Under the lock: the decision to wake one.
    sleepers: Mutex<Vec<usize>>,
    workers: usize,
}

impl Idle {
    /// All `workers` start unparked and not searching.
    pub fn new(workers: usize) -> Idle {
        assert!(workers <= MAX_WORKERS, "pride: too many worker threads");
        Idle {
            state: AtomicUsize::new(workers * UNPARKED_ONE),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            workers,
        }
    }

    /// Work was pushed: returns the index of a parked worker to wake, if one must be.
    /// The woken worker is counted as unparked and searching before this returns.
    #[must_use]
    pub fn worker_to_notify(&self) -> Option<usize> {
        // Order the push that preceded this call before the state read (see README).
        // `Shared::push_remote` relies on this fence too, to order its push before its
        // second look at whether the runtime's drop has drained its tasks: it must stay
        // unconditional.
        fence(Ordering::SeqCst);
        if !self.should_notify(self.state.load(Ordering::SeqCst)) {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.should_notify(self.state.load(Ordering::SeqCst)) {
            return None;
        }
        let index = sleepers.pop()?;
        self.state
            .fetch_add(SEARCHING_ONE + UNPARKED_ONE, Ordering::SeqCst);
        Some(index)
    }

    /// Nobody searches and somebody sleeps: wake one.
    fn should_notify(&self, state: usize) -> bool {
        searching(state) == 0 && unparked(state) < self.workers
    }

    /// A worker starts searching other queues. Fails when half the workers already
    /// search, so stealing does not turn into a stampede.
    pub fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(Ordering::SeqCst);
        if 2 * searching(state) >= self.workers.max(2) {
            return false;
        }
        self.state.fetch_add(SEARCHING_ONE, Ordering::SeqCst);
        true
    }

    /// The last searcher, which announced its sleep and then saw work, searches again
    /// (see [`park_unless`]). Not capped: it takes back the role it just gave up.
    pub fn resume_searching(&self) {
        self.state.fetch_add(SEARCHING_ONE, Ordering::SeqCst);
    }

    /// A searching worker found work. Returns true if it was the last searcher, in
    /// which case the caller wakes another worker so the rest of the work spreads.
    #[must_use]
    pub fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(SEARCHING_ONE, Ordering::SeqCst);
        searching(prev) == 1
    }

    /// A worker goes to sleep (it must then re-check every queue before it really
    /// parks). Returns true if it was the last searcher: if that re-check sees work,
    /// it searches again (see [`park_unless`]).
    #[must_use]
    pub fn transition_worker_to_parked(&self, index: usize, is_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let dec = UNPARKED_ONE + if is_searching { SEARCHING_ONE } else { 0 };
        let prev = self.state.fetch_sub(dec, Ordering::SeqCst);
        sleepers.push(index);
        is_searching && searching(prev) == 1
    }

    /// A worker woke up. Returns true if it had been woken by `worker_to_notify` (and is
    /// therefore already counted as searching); false if it woke for another reason
    /// (driver, timer, shutdown) and has now removed itself from the sleepers.
    pub fn transition_worker_from_parked(&self, index: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&i| i == index) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                self.state.fetch_add(UNPARKED_ONE, Ordering::SeqCst);
                false
            }
            None => true,
        }
    }

    /// Runs `then` if every worker is parked, holding the lock that each worker takes
    /// on its way out of a park (`transition_worker_from_parked`, or its notifier's
    /// `worker_to_notify`): a worker that counts as unparked again after this sees
    /// whatever `then` wrote.
    pub fn if_all_parked(&self, then: &mut dyn FnMut()) {
        let _sleepers = self.sleepers.lock();
        if unparked(self.state.load(Ordering::SeqCst)) == 0 {
            then();
        }
    }

    /// Number of workers not parked.
    pub(crate) fn num_unparked(&self) -> usize {
        unparked(self.state.load(Ordering::SeqCst))
    }
}

/// One worker as the idle protocol sees it: where it finds work, how it runs it and
/// how it sleeps. The runtime's worker implements it over its deques, the injector,
/// the driver and its parker; the loom model over stand-ins that loom can see into.
pub trait Worker {
    /// What the queues hold.
    type Task;

    /// The runtime's idle state.
    fn idle(&self) -> &Idle;
    /// This worker's index among the runtime's workers.
    fn index(&self) -> usize;
    /// Whether this worker is counted as searching; only this worker touches it.
    fn searching(&self) -> &Cell<bool>;
    /// Whether the runtime is shutting down.
    fn is_shutdown(&self) -> bool;
    /// A task from this worker's own queues.
    fn next_task(&self) -> Option<Self::Task>;
    /// A task from another worker's queue or from the injector.
    fn steal_task(&self) -> Option<Self::Task>;
    /// Runs a task.
    fn run_task(&self, task: Self::Task);
    /// Runs one piece of other work, if any (calling [`found_work`] first); returns
    /// whether it did.
    fn run_other(&self) -> bool;
    /// Whether any queue that any worker may take from holds work.
    fn has_visible_work(&self) -> bool;
    /// Wakes a sleeping worker, if one must be woken (the producer's side).
    fn notify_parked(&self);
    /// Sleeps until unparked.
    fn sleep(&self);
    /// Back from `park_unless` and counted as unparked again, whether it slept or not.
    fn woke(&self);
}

/// The worker loop: runs this worker's tasks, then stolen ones, then other work, and
/// sleeps when there is none, until the runtime shuts down.
pub fn run<W: Worker>(worker: &W) {
    while !worker.is_shutdown() {
        if let Some(task) = worker.next_task().or_else(|| search(worker)) {
            found_work(worker);
            worker.run_task(task);
        } else if !worker.run_other() {
            park_unless(worker, || false);
        }
    }
}

/// Looks in other workers' queues and the injector, as a searcher; finds nothing
/// without looking when too many workers already search.
pub fn search<W: Worker>(worker: &W) -> Option<W::Task> {
    let searching = worker.searching();
    if !searching.get() {
        if !worker.idle().transition_worker_to_searching() {
            return None;
        }
        searching.set(true);
    }
    worker.steal_task()
}

/// Called before running what was found: the last searcher to find work wakes
/// another worker, since there may be more.
pub fn found_work<W: Worker>(worker: &W) {
    if worker.searching().replace(false) && worker.idle().transition_worker_from_searching() {
        worker.notify_parked();
    }
}

/// Parks until woken, unless there is work, the runtime shuts down, or `ready()`.
/// All three are checked after announcing the sleep: a push that raced the
/// announcement either saw this worker asleep (and wakes someone) or is visible here.
///
/// The worker may come back counted as searching (a notifier woke it for a push, or
/// it was the last searcher and the re-check saw work): pushes then count on it, so
/// it must look for work and call [`found_work`] when it finds some. A thread that
/// will not look parks with [`park_waiter`] instead.
pub fn park_unless<W: Worker>(worker: &W, ready: impl Fn() -> bool) {
    let idle = worker.idle();
    let was_searching = worker.searching().replace(false);
    let last_searcher = idle.transition_worker_to_parked(worker.index(), was_searching);
    let work = worker.has_visible_work();
    if !(work || worker.is_shutdown() || ready()) {
        worker.sleep();
    }
    if idle.transition_worker_from_parked(worker.index()) {
        // A notifier already counted this worker as searching.
        worker.searching().set(true);
    } else if last_searcher && work {
        // Pushes that came while this worker searched woke nobody: they counted on
        // this searcher. It takes the role back, so that when it takes the work it
        // wakes a sleeper for the rest (`found_work`); as a plain worker it would run
        // the rest one task at a time, or never, while a task holds it.
        idle.resume_searching();
        worker.searching().set(true);
    }
    worker.woke();
}

/// Parks a worker that waits for `ready()` (a `par` call's latch, whose setter unparks
/// it) and, woken, goes back to its wait, not to looking for work: as
/// [`park_unless`], then it hands on at once a searcher's role it came back with
/// ([`found_work`]), since the push that woke it counts on a searcher to find its task.
pub fn park_waiter<W: Worker>(worker: &W, ready: impl Fn() -> bool) {
    park_unless(worker, ready);
    found_work(worker);
}
