//! The timer entry: the part of a timer that its owner (a `Timer`, inside a `Sleep` or a
//! cancel scope) and the driver (firing it from any thread) share.
//!
//! An entry lives inline in its pinned owner; the wheel links it into intrusive lists
//! by pointer, so arming a timer allocates nothing.
//!
//! # State machine
//!
//! The state word is a deadline tick (`0..=MAX_TICK`) while the entry is armed, then
//! `ELAPSED`, then `RETIRED`:
//!
//! ```text
//!            arm(t)                  driver: pop + CAS(t -> ELAPSED)
//!  RETIRED ---------> t (armed) ------------------------------------> ELAPSED
//!     ^               |     ^                                           |
//!     |               +-----+ owner: CAS(t -> t' >= t), lock-free       | driver: take
//!     |                         (the driver re-files it when it pops    | waker, then
//!     |                          it at the old tick)                    | store RETIRED
//!     +-------------------------------------------------------------------+
//! ```
//!
//! Rules of this module (and of `wheel.rs`, `driver.rs` and `timer.rs`, which use it):
//! 1. `links` is read and written only while holding the lock of the shard whose wheel
//!    the entry is (or was last) filed in.
//! 2. Only the driver moves an armed entry to `ELAPSED`, and only under that lock, after
//!    unlinking it; it then takes the waker and stores `RETIRED` under the same lock
//!    hold. `RETIRED` (stored with `Release`) is its last access to the entry.
//! 3. The owner changes the deadline lock-free only upwards, by CAS from the value it
//!    armed; any other change (earlier deadline, re-arm after `RETIRED`) takes the lock.
//! 4. The owner may free the entry without the lock once it has loaded `RETIRED` with
//!    `Acquire`; otherwise it must take the lock and unlink the entry first. Under the
//!    lock the state is never `ELAPSED` (rule 2), so the driver is done with it.
//! 5. `ELAPSED` is stored before the waker is taken; the owner registers its waker
//!    before it checks the state. With the `AtomicWaker` protocol this loses no wake-up.
//! 6. The owner stores `fraction` (where in its tick the deadline lies, read by the
//!    driver on a mock clock) before the arm or postpone that publishes it. On a mock
//!    clock it postpones lock-free only to a later tick: the driver fires by the
//!    fraction it read while it saw the tick unchanged, which a lock-free move within
//!    the same tick would leave unchanged too. A move to a later tick may still be
//!    fired at its old tick by the new fraction, read before the move is published:
//!    the owner's postpone then fails and it re-arms under the lock, so that is a
//!    spurious wake-up, never a timer that completes early.
//! 7. When its runtime is dropped, the driver marks itself shut down, then, under each
//!    shard's lock, unlinks every entry and takes its waker, leaving the state armed
//!    (the deadline has not passed). The owner registers its waker before it checks
//!    whether the driver is shut down; as for rule 5, no wake-up is lost. An owner that
//!    sees it shut down lets go of that shard (taking its lock to unlink, rule 4) and
//!    arms the entry in the driver of the runtime it is polled in.

use std::marker::PhantomPinned;
use std::ptr::NonNull;
use std::task::Waker;

use super::atomic_waker::AtomicWaker;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Largest deadline tick, and the one no clock reaches: ticks are milliseconds since
/// the driver started, so this is about 146 million years away. Deadlines past it are
/// clamped to it, and a deadline that overflows `Instant` saturates to it (see
/// `deadline_after`). A timer armed for it is never filed in a wheel: it never fires.
pub(crate) const MAX_TICK: u64 = u64::MAX >> 2;
/// The deadline was reached; the driver is still taking the waker.
pub(crate) const ELAPSED: u64 = u64::MAX - 1;
/// The entry is not armed: it fired (the driver is done with it) or was never filed.
pub(crate) const RETIRED: u64 = u64::MAX;

/// `TimerEntry::fraction` of a deadline on a tick's boundary (the latest within it), and
/// of every deadline on the system clock, where the driver does not read it.
pub(crate) const WHOLE_TICK: u32 = 1_000_000;

/// What a timer's waker does when the driver fires it, which decides when, in a sweep,
/// it is woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wakes {
    /// A task (a `Sleep`, an `Interval`), which may run on another worker as soon as
    /// it is woken: woken once the sweep has fired every timer it reached.
    Task,
    /// A scope's deadline: the waker cancels the scope where it is woken. Woken before
    /// any task of the same sweep, so that a task whose sleep ended together with the
    /// deadline of a scope around it finds the scope cancelled when it runs.
    Scope,
}

/// Where an entry is filed in a wheel; see `wheel.rs`.
pub(crate) type Position = u16;
/// Not filed anywhere.
pub(crate) const UNLINKED: Position = u16::MAX;

/// Intrusive list links and wheel bookkeeping. Guarded by the shard lock (rule 1).
pub(crate) struct Links {
    pub(crate) prev: Option<NonNull<TimerEntry>>,
    pub(crate) next: Option<NonNull<TimerEntry>>,
    /// The tick the entry was filed for (the state may have moved later since).
    pub(crate) when: u64,
    /// `level * 64 + slot`, `wheel::EXPIRED_LIST`, or `UNLINKED`.
    pub(crate) position: Position,
}

pub(crate) struct TimerEntry {
    /// A deadline tick (`0..=MAX_TICK`), `ELAPSED` or `RETIRED`; see the module docs.
    state: AtomicU64,
    /// On a mock clock: how far into its tick (nanoseconds after the start of the tick
    /// before, `1..=WHOLE_TICK`) the exact deadline lies, so the driver can fire the
    /// entry as soon as a clock standing within the tick reaches it. Written by the
    /// owner before it arms or postpones (which publishes it).
    fraction: AtomicU32,
    /// Set when the entry is made, never changed.
    wakes: Wakes,
    waker: AtomicWaker,
    links: UnsafeCell<Links>,
    /// The wheel holds pointers to this entry.
    _pinned: PhantomPinned,
}

/// What the driver found when it popped an entry whose filed tick was reached.
#[must_use]
pub(crate) enum Elapse {
    /// The deadline was reached; the entry is now `ELAPSED`: call `finish_fire`.
    Elapsed,
    /// The owner moved the deadline later, to this tick: file the entry again.
    MovedTo(u64),
}

impl TimerEntry {
    pub(crate) fn new(wakes: Wakes) -> TimerEntry {
        TimerEntry {
            state: AtomicU64::new(RETIRED),
            fraction: AtomicU32::new(WHOLE_TICK),
            wakes,
            waker: AtomicWaker::new(),
            links: UnsafeCell::new(Links {
                prev: None,
                next: None,
                when: 0,
                position: UNLINKED,
            }),
            _pinned: PhantomPinned,
        }
    }

    /// What the entry's waker does: see [`Wakes`].
    pub(crate) fn wakes(&self) -> Wakes {
        self.wakes
    }

    /// Whether the deadline has been reached (the driver fired the entry, or it was
    /// already past when it was armed).
    pub(crate) fn is_elapsed(&self) -> bool {
        self.state.load(Ordering::Acquire) >= ELAPSED
    }

    /// Whether the driver is done with the entry, so its owner may free it without the
    /// shard lock (rule 4).
    pub(crate) fn is_retired(&self) -> bool {
        self.state.load(Ordering::Acquire) == RETIRED
    }

    /// Registers the owner's waker; call before checking `is_elapsed` (rule 5).
    pub(crate) fn register_waker(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// Owner, lock-free: moves an armed deadline from `from` to a later `to`.
    ///
    /// Fails when the driver got there first (the entry is `ELAPSED` or `RETIRED`), or
    /// when `from` is not the current deadline; the caller then takes the lock.
    pub(crate) fn try_postpone(&self, from: u64, to: u64) -> bool {
        debug_assert!(from <= to && to <= MAX_TICK);
        // Release: the driver that sees `to` files the entry by it; nothing else is
        // published here.
        self.state
            .compare_exchange(from, to, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }

    /// The armed deadline tick, if armed. Exact while the shard lock is held.
    pub(crate) fn armed_tick(&self) -> Option<u64> {
        let state = self.state.load(Ordering::Acquire);
        (state <= MAX_TICK).then_some(state)
    }

    /// Owner: records where in its tick the deadline about to be armed or postponed to
    /// lies (see `fraction`); call before `arm` or `try_postpone`.
    pub(crate) fn set_fraction(&self, fraction: u32) {
        // Relaxed: published by the `Release` of the arm (under the lock) or postpone.
        self.fraction.store(fraction, Ordering::Relaxed);
    }

    /// Driver, under the shard lock, after reading the state: see `set_fraction`.
    pub(crate) fn fraction(&self) -> u32 {
        self.fraction.load(Ordering::Relaxed)
    }

    /// Arms the entry for `tick`. Call under the shard lock, with the entry unlinked.
    pub(crate) fn arm(&self, tick: u64) {
        debug_assert!(tick <= MAX_TICK);
        self.state.store(tick, Ordering::Release);
    }

    /// Driver, under the shard lock, on an armed entry just unlinked: moves it to
    /// `ELAPSED` if its deadline is at or before `elapsed`.
    pub(crate) fn try_elapse(&self, elapsed: u64) -> Elapse {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            debug_assert!(state <= MAX_TICK, "a filed entry is armed");
            if state > elapsed {
                return Elapse::MovedTo(state);
            }
            // AcqRel: ELAPSED must be visible to an owner that registers a waker after
            // this (rule 5), and a failed owner CAS must not hide its new deadline.
            match self.state.compare_exchange_weak(
                state,
                ELAPSED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Elapse::Elapsed,
                Err(actual) => state = actual,
            }
        }
    }

    /// Marks an unfiled entry as elapsed at once (its deadline was already past when it
    /// was armed). Under the shard lock; follow with `finish_fire`.
    pub(crate) fn elapse_now(&self) {
        self.state.store(ELAPSED, Ordering::Release);
    }

    /// Driver, under the shard lock, on an `ELAPSED` entry: takes the waker and retires
    /// the entry. The caller must not touch the entry afterwards (rule 2), and wakes the
    /// returned waker after releasing the lock.
    #[must_use]
    pub(crate) fn finish_fire(&self) -> Option<Waker> {
        debug_assert_eq!(self.state.load(Ordering::Relaxed), ELAPSED);
        let waker = self.waker.take();
        // Release: everything the driver did to the entry happens before an owner that
        // loads RETIRED frees it without the lock.
        self.state.store(RETIRED, Ordering::Release);
        waker
    }

    /// Driver, under the shard lock, shutting down, on an entry just unlinked: takes the
    /// waker, leaving the entry armed (rule 7).
    #[must_use]
    pub(crate) fn take_waker(&self) -> Option<Waker> {
        self.waker.take()
    }

    /// Runs `f` on the links.
    ///
    /// # Safety
    ///
    /// The entry is alive, the caller holds the lock of the shard the entry is filed in
    /// (or, if unlinked, is about to be filed in), and the caller is not already inside
    /// `with_links` for this entry.
    pub(crate) unsafe fn with_links<R>(
        entry: NonNull<TimerEntry>,
        f: impl FnOnce(&mut Links) -> R,
    ) -> R {
        // SAFETY: the caller promises the entry is alive.
        let entry = unsafe { entry.as_ref() };
        entry.links.with_mut(|links| {
            // SAFETY: the caller's shard lock gives exclusive access to the links
            // (rule 1), and no other reference to them is live (no nested call).
            f(unsafe { &mut *links })
        })
    }

    /// Models deallocation for loom: an unsynchronised write to every cell, so loom
    /// reports any access of the driver that is not ordered before the owner frees the
    /// entry.
    #[cfg(pride_loom)]
    pub(crate) fn retire_check(&self) {
        self.links.with_mut(|_| ());
        self.waker.retire_check();
    }
}

// SAFETY: the links hold pointers to other entries, touched only under the shard lock
// (rule 1); the waker slot is guarded by the AtomicWaker protocol; the state is atomic.
unsafe impl Send for TimerEntry {}
// SAFETY: as for `Send`: every shared access is atomic or made under the shard lock.
unsafe impl Sync for TimerEntry {}
