//! A one-slot waker cell that one registering side and one taking side share without a
//! lock.
//!
//! The protocol is the well-known one of `futures::task::AtomicWaker` (written here from
//! its description, over the loom facade): a two-bit state word says who owns the slot.
//!
//! Rules of this module:
//! - The slot (`waker`) is touched only by the side that moved the state from `IDLE` to
//!   `REGISTERING` (the registerer) or from `IDLE` to `WAKING` (the taker), and only
//!   until it gives the state back.
//! - At most one thread registers at a time (callers hold `&mut` or `Pin<&mut>` of the
//!   owner). Takers may race with each other; only one of them wins the slot.
//!
//! The promise, given that the taker publishes its news (for a timer: "elapsed") before
//! calling `take`, and the registerer checks for news after `register`: either `take`
//! returns the registered waker, or the registerer's check sees the news. So no wake-up
//! is lost, and no waker is woken twice: when the two race, nobody wakes anything and
//! the registerer, which is running anyway, finds the news itself.

use std::task::Waker;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// Nobody is touching the slot.
const IDLE: usize = 0;
/// A registerer owns the slot.
const REGISTERING: usize = 0b01;
/// A taker wants (or owns) the slot.
const WAKING: usize = 0b10;

pub(crate) struct AtomicWaker {
    /// Bit 0: `REGISTERING`; bit 1: `WAKING`. Both set: a take arrived during a
    /// registration, which now must wake the waker itself.
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

impl AtomicWaker {
    pub(crate) fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(IDLE),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` (unless the stored one already wakes the same task).
    ///
    /// The caller must check its condition afterwards: if a `take` raced with this call,
    /// `waker` may not be stored, and that check sees what the taker published.
    pub(crate) fn register(&self, waker: &Waker) {
        if self
            .state
            .compare_exchange(IDLE, REGISTERING, Ordering::Acquire, Ordering::Acquire)
            .is_err()
        {
            // A take is in progress (registrations do not overlap): it published before
            // setting WAKING, and our Acquire read of WAKING makes that visible to the
            // caller's check.
            return;
        }
        // Dropped after the slot is given back: a waker's drop may run any code.
        let old = self.waker.with_mut(|slot| {
            // SAFETY: we moved the state from IDLE to REGISTERING, which gives us sole
            // access to the slot until we move it out of REGISTERING.
            let slot = unsafe { &mut *slot };
            match slot {
                Some(current) if current.will_wake(waker) => None,
                _ => slot.replace(waker.clone()),
            }
        });
        // AcqRel: release our store to the next taker; on failure, acquire what a racing
        // taker published before it set WAKING.
        if self
            .state
            .compare_exchange(REGISTERING, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // A take saw REGISTERING and gave up (returning `None`); the caller's check
            // will see its news. Leave the waker stored and hand the slot back.
            self.state.swap(IDLE, Ordering::AcqRel);
        }
        drop(old);
    }

    /// Takes the stored waker, if any, so the caller can wake it (outside its locks).
    ///
    /// Returns `None` when a registration is in progress: that registerer's own check
    /// sees what the caller published before this call.
    pub(crate) fn take(&self) -> Option<Waker> {
        // AcqRel: acquire the registerer's store; release what we stored before (the
        // timer's elapsed state) to a registerer that sees WAKING.
        match self.state.fetch_or(WAKING, Ordering::AcqRel) {
            IDLE => {
                let waker = self.waker.with_mut(|slot| {
                    // SAFETY: we moved the state from IDLE to WAKING, which gives us sole
                    // access to the slot until we clear WAKING.
                    unsafe { (*slot).take() }
                });
                self.state.fetch_and(!WAKING, Ordering::Release);
                waker
            }
            _ => None,
        }
    }

    /// Drops the stored waker without waking it. Needs exclusive access.
    #[cfg(pride_loom)]
    pub(crate) fn retire_check(&self) {
        // A relaxed load (no synchronisation of its own) gives loom a scheduling point
        // that conflicts with a taker's `fetch_or`, so it also tries a late taker here.
        let _ = self.state.load(Ordering::Relaxed);
        // An unsynchronised write: loom reports any access of another thread to the
        // slot that is not ordered before this one. Models deallocation.
        self.waker.with_mut(|_| ());
    }
}

// SAFETY: the slot holds a `Waker` (Send + Sync) and is reached only under the state
// protocol above, which hands it to one thread at a time.
unsafe impl Send for AtomicWaker {}
// SAFETY: as for `Send`: shared access goes through the state word.
unsafe impl Sync for AtomicWaker {}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;
    use crate::test_util::Counter;

    #[test]
    fn register_then_take_returns_the_waker() {
        let counter = Counter::new();
        let cell = AtomicWaker::new();
        assert!(cell.take().is_none());
        cell.register(counter.waker());
        cell.register(counter.waker());
        cell.take().expect("registered").wake();
        assert!(cell.take().is_none());
        assert_eq!(counter.wakes(), 1);
    }

    #[test]
    fn a_new_waker_replaces_the_old() {
        let (a, b) = (Counter::new(), Counter::new());
        let cell = AtomicWaker::new();
        cell.register(a.waker());
        cell.register(b.waker());
        cell.take().unwrap().wake();
        assert_eq!(a.wakes(), 0);
        assert_eq!(b.wakes(), 1);
    }
}
