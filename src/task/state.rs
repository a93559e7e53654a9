//! The task state word: lifecycle bits and the reference count in one `AtomicUsize`.
//!
//! Bits 0..6 are flags, bits 6.. count references. Every transition is one
//! compare-and-swap (or one `fetch_*`) and returns a `#[must_use]` enum that tells the
//! caller what it now owns.

use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// A thread owns the future: it is polling it, or dropping it.
pub(super) const RUNNING: usize = 1 << 0;
/// The future is gone (it finished or was dropped). Never cleared.
pub(super) const COMPLETE: usize = 1 << 1;
/// The task is queued to run, or was woken while `RUNNING` and must run again.
pub(super) const NOTIFIED: usize = 1 << 2;
/// Drop the future at the next chance instead of polling it.
pub(super) const CANCELLED: usize = 1 << 3;
/// A join handle exists and wants the output.
pub(super) const JOIN_INTEREST: usize = 1 << 4;
/// One reference.
pub(super) const REF_ONE: usize = 1 << 6;
const REF_MASK: usize = !(REF_ONE - 1);

/// A snapshot of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Snapshot(pub(super) usize);

impl Snapshot {
    pub(super) fn has(self, bits: usize) -> bool {
        self.0 & bits != 0
    }

    pub(super) fn refs(self) -> usize {
        (self.0 & REF_MASK) / REF_ONE
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("running", &self.has(RUNNING))
            .field("complete", &self.has(COMPLETE))
            .field("notified", &self.has(NOTIFIED))
            .field("cancelled", &self.has(CANCELLED))
            .field("join_interest", &self.has(JOIN_INTEREST))
            .field("refs", &self.refs())
            .finish()
    }
}

pub(super) struct State(AtomicUsize);

/// What a thread that popped a notified task may do with it.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ToRunning {
    /// It owns the future: poll it.
    Poll,
    /// It owns the future, which was cancelled: drop it.
    Cancel,
    /// Someone else owns or finished the future: only drop the reference.
    Skip,
}

/// What the runner must do after a poll returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ToIdle {
    /// Nothing: the run's reference is released.
    Idle,
    /// It was woken during the poll: queue it again, reusing the run's reference.
    Notified,
    /// It was cancelled during the poll: the runner still owns the future and drops it.
    Cancelled,
}

/// What a waker must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ToNotified {
    /// Nothing more (already queued, running, or complete).
    DoNothing,
    /// Queue a notified reference (the waker's own, or a new one for `wake_by_ref`).
    Submit,
}

/// What an external cancel must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ToCancelled {
    /// The caller now owns the idle future and must drop it and complete the task.
    DropFuture,
    /// The runner or a previous cancel will do it, or it is complete.
    DoNothing,
}

impl State {
    /// A new task: notified (its first run is queued), `refs` references.
    pub(super) fn new(refs: usize, join_interest: bool) -> State {
        let mut s = NOTIFIED | (refs * REF_ONE);
        if join_interest {
            s |= JOIN_INTEREST;
        }
        State(AtomicUsize::new(s))
    }

    pub(super) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    fn update<R>(&self, mut f: impl FnMut(usize) -> (Option<usize>, R)) -> R {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let (next, ret) = f(cur);
            let Some(next) = next else { return ret };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return ret,
                Err(actual) => cur = actual,
            }
        }
    }

    /// A worker took a notified reference from a queue.
    pub(super) fn transition_to_running(&self) -> ToRunning {
        self.update(|s| {
            debug_assert!(s & NOTIFIED != 0 || s & COMPLETE != 0 || s & RUNNING != 0);
            if s & (RUNNING | COMPLETE) != 0 {
                return (None, ToRunning::Skip);
            }
            let next = (s & !NOTIFIED) | RUNNING;
            let action = if s & CANCELLED != 0 {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            (Some(next), action)
        })
    }

    /// The poll returned `Pending`.
    pub(super) fn transition_to_idle(&self) -> ToIdle {
        self.update(|s| {
            debug_assert!(s & RUNNING != 0);
            if s & CANCELLED != 0 {
                return (None, ToIdle::Cancelled);
            }
            if s & NOTIFIED != 0 {
                // Keep NOTIFIED: the run's reference becomes the queued one.
                (Some(s & !RUNNING), ToIdle::Notified)
            } else {
                (Some(s & !RUNNING), ToIdle::Idle)
            }
        })
    }

    /// The future is gone. Returns the state before, so the caller knows whether a join
    /// handle waits.
    pub(super) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, Ordering::AcqRel));
        debug_assert!(prev.has(RUNNING) && !prev.has(COMPLETE));
        prev
    }

    /// `wake_by_val`: the waker's reference is consumed either way.
    ///
    /// A wake that finds the task already queued changes nothing, but still writes the
    /// word (the value it read): a read-modify-write reads the latest value and
    /// releases what the waker did before it, so the runner's next transition to
    /// `RUNNING` (a read-modify-write after it) sees that, e.g. the cancel flag a
    /// cancel set before waking the task. With a plain load, the waker's (store
    /// flag; load state) and the runner's (write state; load flag) could each miss
    /// the other's write, and the wake-up would be lost.
    pub(super) fn transition_to_notified_by_val(&self) -> ToNotified {
        self.update(|s| {
            if s & COMPLETE != 0 {
                (None, ToNotified::DoNothing)
            } else if s & NOTIFIED != 0 {
                (Some(s), ToNotified::DoNothing)
            } else if s & RUNNING != 0 {
                (Some(s | NOTIFIED), ToNotified::DoNothing)
            } else {
                (Some(s | NOTIFIED), ToNotified::Submit)
            }
        })
    }

    /// `wake_by_ref`: on `Submit`, a new reference was taken for the queue. A wake of
    /// a queued task writes the word, as in `transition_to_notified_by_val`.
    pub(super) fn transition_to_notified_by_ref(&self) -> ToNotified {
        self.update(|s| {
            if s & COMPLETE != 0 {
                (None, ToNotified::DoNothing)
            } else if s & NOTIFIED != 0 {
                (Some(s), ToNotified::DoNothing)
            } else if s & RUNNING != 0 {
                (Some(s | NOTIFIED), ToNotified::DoNothing)
            } else {
                assert!(
                    s <= isize::MAX as usize,
                    "pride: task reference count overflow"
                );
                (Some((s | NOTIFIED) + REF_ONE), ToNotified::Submit)
            }
        })
    }

    /// Cancel from outside the runner (a group tearing down its children).
    pub(super) fn transition_to_cancelled(&self) -> ToCancelled {
        self.update(|s| {
            if s & COMPLETE != 0 {
                (None, ToCancelled::DoNothing)
            } else if s & RUNNING != 0 {
                (Some(s | CANCELLED), ToCancelled::DoNothing)
            } else {
                (Some(s | CANCELLED | RUNNING), ToCancelled::DropFuture)
            }
        })
    }

    /// The join handle is dropped.
    pub(super) fn unset_join_interest(&self) {
        self.0.fetch_and(!JOIN_INTEREST, Ordering::AcqRel);
    }

    pub(super) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Returns true if this was the last reference.
    pub(super) fn ref_dec(&self) -> bool {
        let prev = Snapshot(self.0.fetch_sub(REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.refs() >= 1);
        prev.refs() == 1
    }
}
