//! `Timer`: the owner's side of a timer entry, the deadline primitive under `Sleep`,
//! `Interval` and cancel-scope deadlines.
//!
//! A timer is inert until its first poll, which files it in the shard of the polling
//! thread (found through the runtime context) and keeps that shard (an `Arc`). Re-arming
//! reuses the same inline entry: no allocation, and a later deadline on an armed timer
//! is a single CAS, without the shard lock.
//!
//! A timer outlives its runtime if its owner keeps it (a `Sleep` made in one runtime
//! and awaited in another). When the runtime is dropped its driver wakes every timer
//! filed in it; a timer polled after that lets go of the shard and is filed, as at a
//! first poll, in the runtime it is polled in (or panics outside any). A deadline is
//! an instant, which any runtime can wait for.
//!
//! Rules of this module: a `Timer` is `!Unpin`, because the wheel holds a pointer to its
//! inline entry from the first poll until `Drop` (which unfiles it under the shard lock,
//! or skips the lock once the driver retired the entry, per `entry.rs`).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use super::driver::{Shard, TimeDriver};
use super::entry::{MAX_TICK, TimerEntry, Wakes};
use crate::loom::sync::Arc;

pin_project_lite::pin_project! {
    /// A one-shot deadline that can be re-armed. Poll it with `poll_elapsed`.
    pub(crate) struct Timer {
        #[pin]
        entry: TimerEntry,
        // The shard the entry is filed in, from the first poll on.
        shard: Option<Arc<Shard>>,
        deadline: Instant,
        // For `poll_wait`: the timer was pending at a poll since a wait last ended.
        waited: bool,
    }

    impl PinnedDrop for Timer {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(shard) = this.shard.take() {
                // SAFETY: the entry was filed only in `shard`, and is still alive here.
                unsafe { shard.cancel(&this.entry) };
            }
            #[cfg(pride_loom)]
            this.entry.retire_check();
        }
    }
}

impl Timer {
    /// A timer for `deadline` that wakes a task. Nothing is registered until it is
    /// first polled.
    pub(crate) fn new(deadline: Instant) -> Timer {
        Timer::waking(deadline, Wakes::Task)
    }

    /// A timer for a scope's `deadline`, whose waker cancels the scope: the driver wakes
    /// it before the tasks it wakes in the same sweep (see [`Wakes::Scope`]).
    pub(crate) fn for_scope(deadline: Instant) -> Timer {
        Timer::waking(deadline, Wakes::Scope)
    }

    fn waking(deadline: Instant, wakes: Wakes) -> Timer {
        Timer {
            entry: TimerEntry::new(wakes),
            shard: None,
            deadline,
            waited: false,
        }
    }

    /// The deadline it was created or last reset with.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Polls the timer for a task that waits on it (a sleep, an interval's tick): a
    /// [`poll_elapsed`](Self::poll_elapsed) that records the wait for the task-tree
    /// dump, and whose end, after a wait, is a cancellation point for deadlines. If the
    /// deadline of a scope around the running code has passed too by then, that scope
    /// is cancelled (as its timer would) and the task woken instead of the wait ending,
    /// whichever of the two timers the driver fired first: the scope catches the
    /// cancel at once. Once per wait: woken, the wait ends at its next poll if no
    /// wrapper dropped it. Only for timers that wake a task.
    ///
    /// The end spends a unit of the task's cooperative budget, as any operation that
    /// completes does (a loop over passed deadlines would otherwise never yield).
    /// Refused, the timer stays armed and fired, and the wait ends at the next poll,
    /// which then looks at the deadlines around it.
    pub(crate) fn poll_wait(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.as_mut().poll_elapsed(cx).is_pending() {
            *self.as_mut().project().waited = true;
            self.note_wait(cx);
            return Poll::Pending;
        }
        if crate::runtime::coop::poll_proceed(cx, |_| Poll::Ready(())).is_pending() {
            // The task yields here, as if it had waited: the next poll looks at the
            // deadlines that passed meanwhile.
            *self.as_mut().project().waited = true;
            return Poll::Pending;
        }
        if std::mem::take(self.as_mut().project().waited)
            && crate::cancel::deadline::passed_around(self.now())
        {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(())
    }

    /// Records, for the task-tree dump, that the task polled under `cx` sleeps until
    /// this timer's deadline (once filed). The deadline is recorded as a tick of the
    /// runtime polling the task, the one whose dump shows it: a timer awaited in another
    /// runtime than the one it is filed in counts ticks from a different start. Outside
    /// any runtime, as a tick of the runtime it is filed in.
    fn note_wait(&self, cx: &Context<'_>) {
        if let Some(shard) = &self.shard {
            let tick = crate::runtime::context::with_current(|handle| match handle {
                Some(handle) => handle.time().due_tick(self.deadline),
                None => shard.due_tick(self.deadline),
            });
            crate::debug::task::waits(cx, crate::debug::task::WaitOn::Sleep(tick));
        }
    }

    /// Whether the driver has fired the timer (false until the first poll arms it).
    pub(crate) fn is_elapsed(&self) -> bool {
        self.shard.is_some() && self.entry.is_elapsed()
    }

    /// `Ready` once the deadline has passed and the driver noticed (for a deadline
    /// already passed at the first poll: at once). The first poll registers the timer
    /// with the current runtime, and so does a poll after the runtime it was registered
    /// with was dropped.
    ///
    /// # Panics
    ///
    /// On such a poll outside a pride runtime; and on a poll that would wait, in a
    /// `to_thread` closure, for a deadline still ahead on the autojump clock (see
    /// [`refuse_closure_wait`](Self::refuse_closure_wait)).
    pub(crate) fn poll_elapsed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_or_file(cx, |timer, cx| {
            let worker = crate::runtime::context::worker_index();
            crate::runtime::context::with_time(|driver| timer.file(driver, worker, cx))
        })
    }

    /// `poll_elapsed` with the driver and worker given (a first poll, or one after the
    /// timer's runtime was dropped, files the timer in `driver`'s shard for `worker`):
    /// for the driver's own tests (unit and loom), which run no runtime.
    #[cfg(any(test, pride_loom))]
    pub(crate) fn poll_elapsed_in(
        self: Pin<&mut Self>,
        driver: &TimeDriver,
        worker: Option<usize>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        self.poll_or_file(cx, |timer, cx| timer.file(driver, worker, cx))
    }

    /// The one poll of a timer: polls it where it is filed, or files it with `file`,
    /// and refuses a wait that cannot end.
    fn poll_or_file(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        file: impl FnOnce(Pin<&mut Self>, &mut Context<'_>) -> Poll<()>,
    ) -> Poll<()> {
        let poll = match self.as_mut().poll_filed(cx) {
            Some(poll) => poll,
            None => file(self.as_mut(), cx),
        };
        if poll.is_pending() {
            self.refuse_closure_wait();
        }
        poll
    }

    /// Panics on a wait in a `to_thread` closure (through an executor of its own) for a
    /// deadline still ahead on the autojump clock: time there stands still while a
    /// closure runs (the task awaiting it waits on the closure, not on time), so the
    /// wait would last for ever. Checked at every pending poll, a first one or one of a
    /// re-armed timer alike.
    fn refuse_closure_wait(&self) {
        let Some(shard) = &self.shard else {
            return;
        };
        let clock = shard.clock();
        assert!(
            !(clock.is_autojump()
                && self.deadline > clock.now()
                && crate::runtime::context::in_closure_only()),
            "pride: a `to_thread` closure waits on a timer of a runtime with the autojump \
             clock, whose time does not move while a closure runs: wait in the task, or \
             in `Runtime::block_on` inside the closure"
        );
    }

    /// Files the timer in `driver`'s shard for `worker` and polls it there.
    fn file(
        self: Pin<&mut Self>,
        driver: &TimeDriver,
        worker: Option<usize>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let this = self.project();
        let shard = driver.shard_for(worker).clone();
        // SAFETY: the entry is pinned, is filed in no other shard, and we store `shard`
        // so that `Drop` cancels it there.
        let armed = unsafe { shard.arm(this.entry.as_ref(), *this.deadline) };
        *this.shard = Some(shard);
        if !armed {
            return Poll::Ready(());
        }
        // Registered after filing: rule 5 of `entry.rs` covers a fire in between.
        this.entry.register_waker(cx.waker());
        if this.entry.is_elapsed() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Polls a timer registered with a runtime; `None` if it is not (not yet polled, or
    /// its runtime was dropped: then it lets go of that runtime's shard, and the caller
    /// files it in the current runtime's driver).
    fn poll_filed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Option<Poll<()>> {
        let shard = self.shard.as_ref()?;
        if self.entry.is_elapsed() {
            return Some(Poll::Ready(()));
        }
        self.entry.register_waker(cx.waker());
        if self.entry.is_elapsed() {
            return Some(Poll::Ready(()));
        }
        // After registering: rule 7 of `entry.rs`.
        if !shard.is_shut_down() {
            return Some(Poll::Pending);
        }
        let this = self.project();
        if let Some(shard) = this.shard.take() {
            // SAFETY: the entry was filed only in `shard`, and is still alive here.
            unsafe { shard.cancel(&this.entry) };
        }
        None
    }

    /// Moves the deadline, re-arming the timer if it already fired. A registered waker
    /// is kept (and woken at once if the new deadline has already been handed out).
    pub(crate) fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.project();
        *this.deadline = deadline;
        let Some(shard) = this.shard.as_ref() else {
            // Not filed yet: the first poll uses the new deadline.
            return;
        };
        if let Some(current) = this.entry.armed_tick() {
            let tick = shard.tick_for(deadline);
            // Never (`MAX_TICK`) is not a postponement: `arm` unfiles the entry. On a mock
            // clock the driver reads the fraction of an entry whose tick it sees, so a
            // move within the same tick takes the lock: a lock-free one would leave the
            // tick as it was, and the driver could fire it by the fraction it read before.
            let later = tick > current || (tick == current && !shard.clock().is_mock());
            if later && tick < MAX_TICK {
                this.entry.set_fraction(shard.fraction(deadline, tick));
                if this.entry.try_postpone(current, tick) {
                    // Later: the entry stays filed at the old tick, which a sweep reaches
                    // first; the driver re-files it there.
                    return;
                }
            }
        }
        // SAFETY: pinned, filed only in `shard`, and `Drop` cancels it there.
        unsafe { shard.arm(this.entry.as_ref(), deadline) };
    }

    /// The clock's time, through the shard once filed (no context lookup), else through
    /// the runtime context.
    pub(crate) fn now(&self) -> Instant {
        match &self.shard {
            Some(shard) => shard.clock().now(),
            None => crate::runtime::context::with_time(|driver| driver.now()),
        }
    }

    /// Whether the clock is a mock clock moved as far as it goes, which is past every
    /// deadline it fires a timer for.
    pub(crate) fn clock_at_end(&self) -> bool {
        match &self.shard {
            Some(shard) => shard.clock().is_at_end(),
            None => crate::runtime::context::with_time(|driver| driver.clock().is_at_end()),
        }
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("deadline", &self.deadline)
            .field("elapsed", &self.is_elapsed())
            .finish()
    }
}
