//! Latches: how the maker of `par` jobs learns that they have run.
//!
//! A [`CountLatch`] is waited on by a worker (the maker of a join or a scope), which
//! helps with other jobs meanwhile and parks like an idle worker when there are none;
//! the setter that brings the count to zero unparks it. A [`LockLatch`] is waited on by
//! a thread that is not a worker (a `block_on` thread, or any thread outside a
//! runtime), which just blocks.
//!
//! Rule: a latch may be freed by its waiter as soon as it is set, so `set` takes a
//! raw pointer (not a reference that must stay valid for the whole call) and touches
//! nothing of the latch after the store that sets it (rule 3 in `job.rs`). The loom
//! model in `loom-tests/par_latch.rs` checks the wake-up and the publication.
//!
//! No wake-up is lost: the waiter checks the latch after announcing that it parks,
//! and the setter unparks it after setting; the parker's state turns an unpark that
//! comes before the park into a park that returns at once.

use std::sync::{Arc, Condvar, Mutex};

use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// What a job sets when it has run.
pub(crate) trait Latch {
    /// Marks one event done; the waiter may return (and free the latch) as soon as the
    /// latch is set, so this touches nothing of it afterwards.
    ///
    /// # Safety
    /// `this` points at a live latch (its waiter has not returned).
    unsafe fn set(this: *const Self);

    /// Whether the latch is set.
    fn probe(&self) -> bool;
}

/// Set when its count reaches zero; waited on by the worker `owner`.
pub struct CountLatch {
    count: AtomicUsize,
    owner: usize,
}

impl CountLatch {
    /// A latch that `count` sets release, waited on by worker `owner`.
    pub fn new(count: usize, owner: usize) -> CountLatch {
        CountLatch {
            count: AtomicUsize::new(count),
            owner,
        }
    }

    /// The waiter's own event is done (it does not need waking).
    pub fn release_own(&self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }

    /// One more event to wait for (a spawn in a scope). Only valid while the count is
    /// above zero, which the spawning code ensures by holding one count itself.
    pub(crate) fn increment(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one event done; the one that brings the count to zero then calls
    /// `wake(owner)` (which must not touch the latch: the waiter may be gone).
    ///
    /// # Safety
    /// `this` points at a live latch (its count is above zero).
    pub unsafe fn set_and_wake(this: *const Self, wake: impl FnOnce(usize)) {
        // SAFETY: alive until the count reaches zero (the caller's contract); read
        // before the decrement that may release the waiter.
        let owner = unsafe { (*this).owner };
        // SAFETY: as above; after this decrement nothing of `*this` is touched.
        let last = unsafe { (*this).count.fetch_sub(1, Ordering::AcqRel) } == 1;
        if last {
            wake(owner);
        }
    }

    /// Whether the count reached zero (what was done before each set is visible).
    pub fn probe(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }
}

impl Latch for CountLatch {
    unsafe fn set(this: *const Self) {
        // SAFETY: forwarded from the caller.
        unsafe { CountLatch::set_and_wake(this, super::registry::unpark_worker) }
    }

    fn probe(&self) -> bool {
        CountLatch::probe(self)
    }
}

/// A latch a non-worker thread blocks on.
pub(crate) struct LockLatch {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl LockLatch {
    pub(crate) fn new() -> LockLatch {
        LockLatch {
            inner: Arc::new((Mutex::new(false), Condvar::new())),
        }
    }

    /// Blocks until set.
    pub(crate) fn wait(&self) {
        let (lock, condvar) = &*self.inner;
        let mut set = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*set {
            set = condvar.wait(set).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Latch for LockLatch {
    unsafe fn set(this: *const Self) {
        // SAFETY: alive until set (the caller's contract); the clone keeps the lock
        // alive past the moment the waiter may return.
        let inner = unsafe { (*this).inner.clone() };
        let (lock, condvar) = &*inner;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        condvar.notify_all();
    }

    fn probe(&self) -> bool {
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
