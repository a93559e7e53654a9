//! Tasks: one heap allocation each, holding the header (state word and reference
//! count), the vtable, the scheduler hook, the future and then its output.
//!
//! This room knows nothing about schedulers. A task is created with something that
//! implements [`Schedule`]; waking the task hands a [`Notified`] reference to it, and
//! whoever pops that reference calls [`Notified::run`]. Three kinds of owned reference
//! exist, and each is one count in the state word:
//! - [`Notified`]: the task is queued to run. At most one exists at a time.
//! - [`Task`]: a plain reference that can [`cancel`](Task::cancel) the task (a group
//!   turns it into the waker through which it links its child, directly or by the
//!   child's scope node, and cancels the task through that waker when it tears down
//!   or the runtime shuts down: [`with_task`]).
//! - [`JoinHandle`]: reads the output.
//!
//! Every waker is a reference too. The state machine is in `state.rs`; the loom model
//! `loom-tests/task_state.rs` checks wake vs complete vs cancel vs handle drop.

mod raw;
mod state;
#[cfg(all(test, not(pride_loom)))]
mod tests;
mod waker;

use std::future::Future;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::task::{Context, Poll};

pub(crate) use raw::Header;
pub(crate) use waker::{debug_of, into_waker, with_task};

/// The scheduler a task reports to when it becomes runnable.
pub trait Schedule: Send + Sync + 'static {
    /// The task was woken (or just created): queue it.
    fn schedule(&self, task: Notified);

    /// The task woke itself during its own poll (a yield): queue it behind other work.
    fn yield_now(&self, task: Notified) {
        self.schedule(task);
    }
}

/// Creates a task whose first run is queued by the caller.
pub fn new_task<F, S>(future: F, scheduler: S) -> (Notified, Task)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let ptr = raw::Cell::allocate(future, scheduler, 2, false);
    (Notified(ptr), Task(ptr))
}

/// Creates a task with a join handle.
pub fn new_joinable<F, S>(future: F, scheduler: S) -> (Notified, Task, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let ptr = raw::Cell::allocate(future, scheduler, 3, true);
    (Notified(ptr), Task(ptr), JoinHandle(ptr, PhantomData))
}

/// # Safety
/// The caller owns one reference to the live task at `ptr` and gives it up.
#[inline]
unsafe fn drop_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller owns a reference, so the header is alive.
    let header = unsafe { ptr.as_ref() };
    if header.state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}

/// A task queued to run. Dropping it without running cancels the task.
pub struct Notified(NonNull<Header>);

// SAFETY: tasks are created only from `Send` futures and outputs, and every access to
// the cell is synchronised by the state word (see `raw`'s rules).
unsafe impl Send for Notified {}
// SAFETY: as above; `Notified` has no `&self` method that touches the future.
unsafe impl Sync for Notified {}

impl Notified {
    pub(super) fn from_raw(ptr: NonNull<Header>) -> Notified {
        Notified(ptr)
    }

    /// The task's debug words, for the worker to stamp its poll.
    pub(crate) fn debug(&self) -> &crate::debug::task::TaskDebug {
        // SAFETY: we hold a reference.
        &unsafe { self.0.as_ref() }.debug
    }

    /// Polls the task once (or drops its future if it was cancelled).
    pub fn run(self) {
        let ptr = self.0;
        std::mem::forget(self);
        // SAFETY: we hand our notified reference to the vtable's poll, which consumes it.
        unsafe { (ptr.as_ref().vtable.poll)(ptr) };
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // A queued task that will never run (runtime shutdown): drop its future.
        raw::cancel(self.0);
        // SAFETY: our notified reference.
        unsafe { drop_ref(self.0) };
    }
}

/// A reference that can cancel the task.
pub struct Task(NonNull<Header>);

// SAFETY: see `Notified`.
unsafe impl Send for Task {}
// SAFETY: see `Notified`; `cancel` is synchronised by the state word.
unsafe impl Sync for Task {}

impl Task {
    /// Drops the future now if it is idle; if it is being polled, its runner drops it
    /// when the poll returns. Idempotent.
    pub fn cancel(&self) {
        raw::cancel(self.0);
    }

    /// What the task is doing, for the debug dump: `running` (being polled),
    /// `cancelled` (its future is about to be dropped), `scheduled` (queued to run),
    /// `idle` (waiting to be woken) or `done`.
    pub fn state_name(&self) -> &'static str {
        // SAFETY: we hold a reference.
        let state = unsafe { self.0.as_ref() }.state.load();
        if state.has(state::COMPLETE) {
            "done"
        } else if state.has(state::RUNNING) {
            "running"
        } else if state.has(state::CANCELLED) {
            "cancelled"
        } else if state.has(state::NOTIFIED) {
            "scheduled"
        } else {
            "idle"
        }
    }

    /// The task's debug words, for the task-tree dump.
    pub(crate) fn debug(&self) -> &crate::debug::task::TaskDebug {
        // SAFETY: we hold a reference.
        &unsafe { self.0.as_ref() }.debug
    }

    /// Whether the future is gone.
    pub fn is_complete(&self) -> bool {
        // SAFETY: we hold a reference.
        unsafe { self.0.as_ref() }.state.load().has(state::COMPLETE)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe { drop_ref(self.0) };
    }
}

/// Reads a task's output once it completes. An output never read (the handle was
/// dropped) is dropped with the task, by whichever thread lets go of it last; a panic
/// in its `Drop` is discarded there (the panic hook reports it).
pub struct JoinHandle<T>(NonNull<Header>, PhantomData<T>);

// SAFETY: the handle only moves a `T` out; it is `Send` when `T` is.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: the handle has no `&self` method that touches the task.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

// The output is moved out by value and never pinned.
impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// `Ready(Some(output))` when the task finished, `Ready(None)` when its future was
    /// dropped before finishing. The output is taken once: a poll after `Ready`
    /// answers `Ready(None)` too, so a caller that may poll again remembers it is done.
    pub fn poll_join(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut out = Poll::Pending;
        // SAFETY: we hold a reference; `read_output` writes a `Poll<Option<T>>`, the
        // output type this handle was created with.
        unsafe {
            (self.0.as_ref().vtable.read_output)(
                self.0,
                &mut out as *mut Poll<Option<T>> as *mut (),
                cx.waker(),
            )
        };
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: we hold a reference.
        unsafe { self.0.as_ref() }.drop_join_interest();
        // SAFETY: our reference.
        unsafe { drop_ref(self.0) };
    }
}
