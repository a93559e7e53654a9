//! The counters behind [`Runtime::metrics`](crate::Runtime::metrics).
//!
//! Each worker owns one [`WorkerCounters`], on its own cache line. The counters a
//! worker bumps for itself (polls, steals, parks, budget exhaustions) are written by
//! that worker only, with a relaxed load and store (no locked instruction); spawns and
//! completions happen on any thread, so a thread that is not one of this runtime's
//! workers counts them with `fetch_add` in the shared `remote` counters. A reader sums
//! everything with relaxed loads: each number is exact for its counter, but numbers
//! read together are not one atomic snapshot.
//!
//! These are `std` atomics and a `parking_lot` lock even under loom: they order
//! nothing, and modelling them would only multiply the interleavings a model explores.
//! The exception is the watchdog's `Bell`, which does order something (the watchdog's
//! doze against a worker's wake-up) and is built on the sync facade.
//!
//! `poll_seq` is the blocked-worker detector's signal: the worker bumps it before and
//! after every poll, so it is odd exactly while a poll runs, and a watcher that sees
//! the same odd value twice, far enough apart, knows one poll is that long. It also
//! moves when a poll in progress is restarted for the watch, so the poll count is a
//! counter of its own, bumped once per poll: each number a reader gets is one
//! counter's value, and never less than the one it got before.

use std::cell::Cell;
use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

/// A counter written by one thread (or by `fetch_add` where noted).
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds one. Only the owning worker calls this: no other thread writes the counter.
    #[inline]
    pub(crate) fn bump_owned(&self) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// Adds `n`. Only the owning worker calls this.
    #[inline]
    pub(crate) fn add_owned(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds one from any thread.
    #[inline]
    pub(crate) fn bump_shared(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One worker's counters (or, for `remote`, those of every other thread).
pub(crate) struct WorkerCounters {
    /// Bumped before and after each poll: odd while one runs. A poll nested in another
    /// (see `Core::run_nested`) moves it on by two at each end, so it stays odd.
    pub(crate) poll_seq: Counter,
    /// Polls begun: bumped once at the start of each poll, nested or not (a restart of
    /// the poll in progress moves only `poll_seq`). One counter, so a reader never sees
    /// it go down.
    pub(crate) polls: Counter,
    pub(crate) steals: Counter,
    pub(crate) parks: Counter,
    pub(crate) budget_exhausted: Counter,
    pub(crate) spawned: Counter,
    pub(crate) completed: Counter,
    /// The name of the named task being polled, for the blocked-worker report. Written
    /// only around the polls of named tasks.
    pub(crate) task_name: Mutex<Option<StdArc<str>>>,
}

impl Default for WorkerCounters {
    fn default() -> WorkerCounters {
        WorkerCounters {
            poll_seq: Counter::default(),
            polls: Counter::default(),
            steals: Counter::default(),
            parks: Counter::default(),
            budget_exhausted: Counter::default(),
            spawned: Counter::default(),
            completed: Counter::default(),
            task_name: Mutex::new(None),
        }
    }
}

/// The poll counters: the worker itself calls all but `polls`.
impl WorkerCounters {
    /// Whether a poll is in progress on this worker.
    #[inline]
    pub(crate) fn in_poll(&self) -> bool {
        self.poll_seq.get() % 2 == 1
    }

    /// A poll begins while none is in progress: counted, and odd for the watch.
    #[inline]
    pub(crate) fn begin_poll(&self) {
        self.polls.bump_owned();
        self.poll_seq.bump_owned();
    }

    /// The poll that [`begin_poll`](Self::begin_poll) began has ended.
    #[inline]
    pub(crate) fn end_poll(&self) {
        self.poll_seq.bump_owned();
    }

    /// A poll nested in the one in progress begins: counted, and watched as a poll of
    /// its own (the sequence moves on by two and stays odd). When it ends,
    /// [`restart_poll`](Self::restart_poll) starts the outer poll anew.
    pub(crate) fn begin_nested_poll(&self) {
        self.polls.bump_owned();
        self.poll_seq.add_owned(2);
    }

    /// Starts the poll in progress anew for the blocked-poll watch (the counter moves
    /// on by two and stays odd) without counting a new poll: after a nested poll, and
    /// at each upkeep of a `par` call.
    pub(crate) fn restart_poll(&self) {
        self.poll_seq.add_owned(2);
    }

    /// Polls begun so far; read from any thread.
    pub(crate) fn polls(&self) -> u64 {
        self.polls.get()
    }
}

thread_local! {
    /// On a worker thread: the address of its runtime's [`Counters`] and its index, so
    /// that counting from code that knows only the runtime finds the worker's own
    /// counters with one plain thread-local read; `(0, 0)` on other threads.
    static WORKER: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Marks this thread as worker `index` of the runtime that owns `counters` until
/// dropped.
pub(crate) fn enter_worker(counters: &Counters, index: usize) -> WorkerGuard {
    WORKER.with(|w| w.set((counters as *const Counters as usize, index)));
    WorkerGuard(())
}

/// Unmarks the worker thread when dropped.
pub(crate) struct WorkerGuard(());

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        WORKER.with(|w| w.set((0, 0)));
    }
}

/// Every counter of one runtime.
pub(crate) struct Counters {
    pub(crate) workers: Box<[CachePadded<WorkerCounters>]>,
    /// Spawns and completions seen on threads that are not this runtime's workers.
    pub(crate) remote: CachePadded<WorkerCounters>,
    /// Polls the blocked-worker watchdog reported.
    pub(crate) blocked_polls: Counter,
    /// Where the blocked-worker watchdog waits, and dozes while every worker sleeps.
    pub(crate) watchdog: crate::debug::watchdog::Bell,
}

impl Counters {
    pub(crate) fn new(workers: usize) -> Counters {
        Counters {
            workers: (0..workers).map(|_| CachePadded::default()).collect(),
            remote: CachePadded::default(),
            blocked_polls: Counter::default(),
            watchdog: crate::debug::watchdog::Bell::new(),
        }
    }

    /// Whether some worker is inside a poll now.
    pub(crate) fn any_polling(&self) -> bool {
        self.workers
            .iter()
            .any(|worker| worker.poll_seq.get() % 2 == 1)
    }

    /// This thread's own counters, if it is one of this runtime's workers.
    #[inline]
    fn mine(&self) -> Option<&WorkerCounters> {
        let (runtime, index) = WORKER.with(Cell::get);
        (runtime == self as *const Counters as usize).then(|| &*self.workers[index])
    }

    /// Counts a task whose future now exists.
    #[inline]
    pub(crate) fn task_created(&self) {
        match self.mine() {
            Some(mine) => mine.spawned.bump_owned(),
            None => self.remote.spawned.bump_shared(),
        }
    }

    /// Counts a task whose future is gone (finished or dropped).
    #[inline]
    pub(crate) fn task_finished(&self) {
        match self.mine() {
            Some(mine) => mine.completed.bump_owned(),
            None => self.remote.completed.bump_shared(),
        }
    }

    /// Tasks spawned, and tasks whose future is gone, over every thread.
    pub(crate) fn spawned_completed(&self) -> (u64, u64) {
        let all = self.workers.iter().chain(std::iter::once(&self.remote));
        all.fold((0, 0), |(s, c), w| {
            (s + w.spawned.get(), c + w.completed.get())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

    use super::WorkerCounters;

    /// A worker's poll count, read from another thread, never goes down, even while
    /// the worker restarts the poll in progress between reads. A thread plays the
    /// worker, with the calls a worker makes in that order for a task whose `par`
    /// call's upkeep (one restart) polls another task nested in it (the nested poll,
    /// and the restart after it), while another reads the count as fast as it can,
    /// until it has both read many times and seen the count move many times (if the
    /// two threads share a core, it moves only when the worker's turn comes).
    /// Each round is two polls: the restarts count none.
    #[test]
    fn the_poll_count_never_goes_down() {
        const READS: u32 = 1_000_000;
        const MOVES: u32 = 100;
        let counters = WorkerCounters::default();
        let (started, stop) = (AtomicBool::new(false), AtomicBool::new(false));
        let (rounds, dropped) = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                while !started.load(Relaxed) {
                    std::hint::spin_loop();
                }
                let (mut last, mut reads, mut moves) = (0, 0, 0);
                let mut dropped = None;
                while reads < READS || moves < MOVES {
                    let polls = counters.polls();
                    if polls < last {
                        dropped = Some((last, polls));
                        break;
                    }
                    moves += u32::from(polls > last);
                    last = polls;
                    reads += 1;
                }
                stop.store(true, Relaxed);
                dropped
            });
            let mut rounds = 0u64;
            started.store(true, Relaxed);
            while !stop.load(Relaxed) {
                counters.begin_poll();
                counters.restart_poll();
                counters.begin_nested_poll();
                counters.restart_poll();
                counters.end_poll();
                rounds += 1;
            }
            (rounds, reader.join().unwrap())
        });
        assert_eq!(dropped, None, "the poll count went down (from, to)");
        assert_eq!(counters.polls(), 2 * rounds);
        assert!(!counters.in_poll());
    }
}
