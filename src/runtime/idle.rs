//! Who is asleep and who is searching: the idle protocol that decides when a worker is
//! woken for new work. See `README.md` in this folder for why no wake-up is lost.
//!
//! The hot path (`notify_parked` after every push) is one fence and one load; the
//! sleeper list sits behind a short lock taken only when a worker parks or is woken.

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering, fence};

/// Bits 0..16: workers searching for work. Bits 16..: workers not parked.
const SEARCHING_ONE: usize = 1;
const SEARCHING_MASK: usize = (1 << 16) - 1;
const UNPARKED_ONE: usize = 1 << 16;

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
        assert!(workers < SEARCHING_MASK, "pride: too many worker threads");
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

    /// A searching worker found work. Returns true if it was the last searcher, in
    /// which case the caller wakes another worker so the rest of the work spreads.
    #[must_use]
    pub fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(SEARCHING_ONE, Ordering::SeqCst);
        searching(prev) == 1
    }

    /// A worker goes to sleep. Returns true if it was the last searcher: it must then
    /// re-check every queue before it really parks.
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

    /// Number of workers not parked.
    pub(crate) fn num_unparked(&self) -> usize {
        unparked(self.state.load(Ordering::SeqCst))
    }
}
