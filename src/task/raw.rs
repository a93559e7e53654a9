//! The task cell and its vtable.
//!
//! # Rules
//! - A task is one heap allocation, a `#[repr(C)]` [`Cell`] whose first field is the
//!   [`Header`], so a `NonNull<Header>` can be cast back to the cell by the vtable
//!   functions, which are the only code that knows the concrete `F` and `S`.
//! - The allocation lives while the reference count in the state word is non-zero; the
//!   thread that drops the last reference frees it through `vtable.dealloc`.
//! - `stage` (the future, then its output) is touched only by the thread that set
//!   `RUNNING` (to poll or drop the future), or, once `COMPLETE` is set, by the join
//!   handle (to take the output) and by `dealloc` (which is last by definition).
//! - `join_waker` (in the header) is behind a small lock; the completer sets `COMPLETE`
//!   before taking the waker under that lock, and the handle checks `COMPLETE` under it,
//!   so one of the two always sees the other.
//! - The join waker lives only while a handle may want it: the completer takes it (to
//!   wake it) if `JOIN_INTEREST` is still set, and a dropped handle clears
//!   `JOIN_INTEREST`, then takes it under the lock; whichever comes second finds the
//!   slot empty, so the waker is dropped exactly once. Left in the cell, it would keep
//!   the task it wakes (a reference to its cell) alive as long as this cell, and two
//!   tasks that polled each other's handle would keep each other's cells for ever.
//! - A waker is never dropped or woken while the join-waker lock is held: the one a new
//!   poll replaces, the one a dropped handle takes and the one the completer takes are
//!   each taken out under the lock and let go of after it (dropping a task's waker can
//!   free a cell, and a waker's code may do anything).
//! - User code that runs here outside the task's own poll (a future's or an output's
//!   `Drop`, the join waker woken by the completer) may panic: each such panic is
//!   caught and discarded where it runs, so it never unwinds into the runner or into
//!   whoever let go of the task. The join waker's `Drop` at a poll or a drop of the
//!   handle runs in whoever polls or drops the handle, and is not caught there.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::state::{State, ToCancelled, ToIdle, ToRunning};
use super::{Notified, Schedule, waker};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::Mutex;

/// The type-erased head of every task.
pub(crate) struct Header {
    pub(super) state: State,
    pub(super) vtable: &'static Vtable,
    /// When the task was last polled and what it waits for, for the task-tree dump.
    pub(crate) debug: crate::debug::task::TaskDebug,
    /// The waker of the join handle's last pending poll (see the module rules).
    join_waker: Mutex<Option<Waker>>,
}

impl Header {
    /// The join handle is dropped: the completer no longer wakes it, and the waker its
    /// last pending poll left is dropped now (after the lock), not kept with the cell.
    pub(super) fn drop_join_interest(&self) {
        self.state.unset_join_interest();
        let waker = self.join_waker.lock().take();
        drop(waker);
    }
}

pub(super) struct Vtable {
    /// Run a notified reference (consumes it).
    pub(super) poll: unsafe fn(NonNull<Header>),
    /// Hand a notified reference to the scheduler (consumes it).
    pub(super) schedule: unsafe fn(NonNull<Header>),
    /// The caller owns `RUNNING` on a cancelled task: drop the future and complete.
    pub(super) cancel: unsafe fn(NonNull<Header>),
    /// Free the allocation; the reference count is zero.
    pub(super) dealloc: unsafe fn(NonNull<Header>),
    /// Join handle: take the output if complete, else register the waker.
    /// Writes `Poll<Option<Output>>` to `dst`.
    pub(super) read_output: unsafe fn(NonNull<Header>, dst: *mut (), waker: &Waker),
}

pub(super) enum Stage<F: Future> {
    Running(F),
    Finished(F::Output),
    Consumed,
}

#[repr(C)]
pub(super) struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
}

impl<F, S> Cell<F, S>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    const VTABLE: Vtable = Vtable {
        poll: Self::poll,
        schedule: Self::schedule,
        cancel: Self::cancel,
        dealloc: Self::dealloc,
        read_output: Self::read_output,
    };

    /// Allocates the task with `refs` references for the caller.
    pub(super) fn allocate(future: F, scheduler: S, refs: usize, join: bool) -> NonNull<Header> {
        let cell = Box::new(Cell {
            header: Header {
                state: State::new(refs, join),
                vtable: &Self::VTABLE,
                debug: Default::default(),
                join_waker: Mutex::new(None),
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
        });
        NonNull::from(Box::leak(cell)).cast()
    }

    /// # Safety
    /// `ptr` points to a live `Cell<F, S>`.
    unsafe fn from_header<'a>(ptr: NonNull<Header>) -> &'a Self {
        // SAFETY: the header is the first field of a `#[repr(C)]` cell of this type
        // (the vtable that called us is this type's), and the caller holds a reference.
        unsafe { ptr.cast::<Self>().as_ref() }
    }

    unsafe fn poll(ptr: NonNull<Header>) {
        // SAFETY: the notified reference being run keeps the cell alive.
        let cell = unsafe { Self::from_header(ptr) };
        match cell.header.state.transition_to_running() {
            ToRunning::Skip => {
                // SAFETY: we release the notified reference we were given.
                unsafe { super::drop_ref(ptr) };
                return;
            }
            ToRunning::Cancel => {
                // SAFETY: we own RUNNING on a cancelled task.
                unsafe { Self::cancel(ptr) };
                // SAFETY: as above, the run's reference.
                unsafe { super::drop_ref(ptr) };
                return;
            }
            ToRunning::Poll => {}
        }

        // SAFETY: the waker borrows the run's reference, which outlives the poll.
        let waker = unsafe { waker::borrowed(ptr) };
        let mut cx = Context::from_waker(&waker);
        let polled = catch_unwind(AssertUnwindSafe(|| {
            cell.stage.with_mut(|stage| {
                // SAFETY: we own RUNNING, so nobody else touches the stage.
                match unsafe { &mut *stage } {
                    Stage::Running(future) => {
                        // SAFETY: the future lives in the heap cell and is never moved
                        // out while `Running`; it is dropped in place by `set_stage`.
                        let future = unsafe { Pin::new_unchecked(future) };
                        future.poll(&mut cx)
                    }
                    _ => unreachable!("pride: polled a task whose future is gone"),
                }
            })
        }));

        match polled {
            Ok(Poll::Ready(output)) => {
                cell.set_stage(Stage::Finished(output));
                cell.complete();
                // SAFETY: the run's reference.
                unsafe { super::drop_ref(ptr) };
            }
            Ok(Poll::Pending) => match cell.header.state.transition_to_idle() {
                ToIdle::Idle => {
                    // SAFETY: the run's reference.
                    unsafe { super::drop_ref(ptr) };
                }
                ToIdle::Notified => cell.scheduler.yield_now(Notified::from_raw(ptr)),
                ToIdle::Cancelled => {
                    // SAFETY: still RUNNING, and cancelled.
                    unsafe { Self::cancel(ptr) };
                    // SAFETY: the run's reference.
                    unsafe { super::drop_ref(ptr) };
                }
            },
            Err(_panic) => {
                // Group children catch their own panics, so this is a panic that
                // escaped a task wrapper. The worker survives; the future is dropped.
                cell.set_stage(Stage::Consumed);
                cell.complete();
                // SAFETY: the run's reference.
                unsafe { super::drop_ref(ptr) };
            }
        }
    }

    /// Replaces the stage, dropping the old one *in place*: a future is pinned, and a
    /// self-referential one must not be moved before its `Drop` runs. A panic while
    /// dropping is contained.
    fn set_stage(&self, next: Stage<F>) {
        self.stage.with_mut(|stage| {
            // SAFETY: only the RUNNING owner calls this (see the module rules), so the
            // stage is ours; it is initialised, and dropped exactly once here.
            let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
                std::ptr::drop_in_place(stage)
            }));
            // SAFETY: the old value was just dropped (even if its drop panicked, the
            // drop glue finished every field), so overwriting without a drop is right.
            unsafe { std::ptr::write(stage, next) };
        });
    }

    fn complete(&self) {
        let prev = self.header.state.transition_to_complete();
        if prev.has(super::state::JOIN_INTEREST) {
            let waker = self.header.join_waker.lock().take();
            if let Some(waker) = waker {
                // A join waker that panics (a hand-written combinator's) is contained:
                // the task is complete either way, and the panic must not unwind into
                // the runner (a worker's loop) before it lets go of its reference.
                let _ = catch_unwind(AssertUnwindSafe(|| waker.wake()));
            }
        }
    }

    unsafe fn schedule(ptr: NonNull<Header>) {
        // SAFETY: the caller hands us a notified reference, which keeps the cell alive.
        let cell = unsafe { Self::from_header(ptr) };
        cell.scheduler.schedule(Notified::from_raw(ptr));
    }

    unsafe fn cancel(ptr: NonNull<Header>) {
        // SAFETY: the caller owns RUNNING and holds a reference.
        let cell = unsafe { Self::from_header(ptr) };
        cell.set_stage(Stage::Consumed);
        cell.complete();
    }

    unsafe fn dealloc(ptr: NonNull<Header>) {
        // Under loom, freeing the cell is a write to it: a last reference released
        // without being ordered after another thread's use of the stage (a `ref_dec`
        // too weak to order them) is reported as a data race, as freeing memory
        // another thread still reads would be.
        #[cfg(pride_loom)]
        // SAFETY: the last reference is ours, so the cell is alive until freed below.
        unsafe { Self::from_header(ptr) }.stage.with_mut(|_| ());
        // SAFETY: the last reference is gone; the cell was made by `Box::new` in
        // `allocate` with this exact type, and nobody can reach it any more.
        let cell = unsafe { Box::from_raw(ptr.cast::<Self>().as_ptr()) };
        // An output nobody read (its join handle was dropped) is dropped here, by
        // whichever thread let go of the task last: a worker, or the code that dropped
        // the last reference (a group's exit, a `block_on`). A panic in its `Drop` is
        // discarded after the panic hook has reported it: it belongs to none of them,
        // and its task has already ended. The drop glue frees the cell even if a
        // field's drop panics.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(cell)));
    }

    unsafe fn read_output(ptr: NonNull<Header>, dst: *mut (), waker: &Waker) {
        // SAFETY: the join handle holds a reference.
        let cell = unsafe { Self::from_header(ptr) };
        let mut slot = cell.header.join_waker.lock();
        let result = if cell.header.state.load().has(super::state::COMPLETE) {
            drop(slot);
            // SAFETY: COMPLETE is set, so only the join handle (us) touches the stage.
            let stage = cell
                .stage
                .with_mut(|stage| unsafe { std::mem::replace(&mut *stage, Stage::Consumed) });
            Poll::Ready(match stage {
                Stage::Finished(output) => Some(output),
                _ => None,
            })
        } else {
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                // The waker it replaces is dropped after the lock (see the rules).
                let replaced = slot.replace(waker.clone());
                drop(slot);
                drop(replaced);
            }
            Poll::Pending
        };
        // SAFETY: the join handle passes a `*mut Poll<Option<F::Output>>`.
        unsafe { dst.cast::<Poll<Option<F::Output>>>().write(result) };
    }
}

/// Cancel from outside: drop the future now if it is idle, or let its runner do it.
pub(super) fn cancel(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference.
    let header = unsafe { ptr.as_ref() };
    if header.state.transition_to_cancelled() == ToCancelled::DropFuture {
        // SAFETY: the transition gave us RUNNING on a cancelled task.
        unsafe { (header.vtable.cancel)(ptr) };
    }
}
