//! A group's concurrency limit (Go's `errgroup.SetLimit`): at most `max` children run
//! at once. A child started beyond the limit is created and counted (so it keeps the
//! group open, and a teardown reaches it) but its first run is queued here, and it is
//! scheduled when a running child finishes. All of it sits behind one short lock,
//! taken only by limited groups when a child starts or finishes.

use std::collections::VecDeque;
use std::task::Waker;

use crate::loom::sync::Mutex;
use crate::runtime::Handle;
use crate::task::Notified;

pub(crate) struct Limit {
    max: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    running: usize,
    /// Children started with `start_soon` past the limit, in order.
    queued: VecDeque<Notified>,
    /// `start_soon_wait` callers waiting for a free slot.
    waiters: VecDeque<Waker>,
}

impl Limit {
    pub(crate) fn new(max: usize) -> Limit {
        Limit {
            max,
            inner: Mutex::new(Inner {
                running: 0,
                queued: VecDeque::new(),
                waiters: VecDeque::new(),
            }),
        }
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Runs `task` now if a slot is free, else queues it behind the others.
    pub(crate) fn start_or_queue(&self, handle: &Handle, task: Notified) {
        let mut inner = self.inner.lock();
        if inner.running < self.max && inner.queued.is_empty() {
            inner.running += 1;
            drop(inner);
            handle.spawn(task);
        } else {
            inner.queued.push_back(task);
        }
    }

    /// Takes a slot if one is free (for `try_start_now` and `start_soon_wait`);
    /// otherwise registers `waker`, if given, to hear when one frees.
    pub(crate) fn try_acquire(&self, waker: Option<&Waker>) -> bool {
        let mut inner = self.inner.lock();
        if inner.running < self.max && inner.queued.is_empty() {
            inner.running += 1;
            return true;
        }
        if let Some(waker) = waker {
            if !inner.waiters.iter().any(|w| w.will_wake(waker)) {
                inner.waiters.push_back(waker.clone());
            }
        }
        false
    }

    /// A running child finished: its slot goes to the first queued child, or is freed
    /// (waking one waiter).
    pub(crate) fn release(&self, handle: &Handle) {
        let mut inner = self.inner.lock();
        if let Some(next) = inner.queued.pop_front() {
            drop(inner);
            handle.spawn(next);
            return;
        }
        inner.running -= 1;
        let waiter = inner.waiters.pop_front();
        drop(inner);
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }

    /// Children running now.
    pub(crate) fn running(&self) -> usize {
        self.inner.lock().running
    }
}
