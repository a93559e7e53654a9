//! Every live task of a runtime, so that dropping the runtime drops every task's
//! future exactly once, also the futures nothing else would ever reach again: the
//! children of a forgotten group, a task asleep on a timer (its waker lives in its own
//! future, a cycle), a task awaiting `to_thread`.
//!
//! A task is recorded when it is created, as one more [`Task`] reference, in the shard
//! of the worker that creates it (one shard per worker plus one for other threads), so
//! recording takes an uncontended lock and a push. Completed tasks are not removed
//! one by one: a shard sweeps them out when it has doubled since its last sweep, so
//! the cost is a constant per task and a shard holds at most about twice its live
//! tasks (a completed task's cell, whose future is already dropped, lingers until the
//! next sweep).
//!
//! At shutdown the list is closed and every task in it cancelled (its future dropped
//! at once; workers are stopped, so none is being polled). A task created after that
//! is cancelled as it is recorded.

use std::mem;

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::task::Task;

/// A shard sweeps no earlier than at this many tasks.
const MIN_SWEEP: usize = 64;

pub(crate) struct OwnedTasks {
    shards: Box<[Mutex<Shard>]>,
    /// Set once, at shutdown; read under a shard's lock (see `bind`).
    closed: AtomicBool,
}

struct Shard {
    tasks: Vec<Task>,
    /// `tasks.len()` at which the next sweep runs.
    sweep_at: usize,
}

impl OwnedTasks {
    /// A list with `shards` shards.
    pub(crate) fn new(shards: usize) -> OwnedTasks {
        OwnedTasks {
            shards: (0..shards.max(1))
                .map(|_| {
                    Mutex::new(Shard {
                        tasks: Vec::new(),
                        sweep_at: MIN_SWEEP,
                    })
                })
                .collect(),
            closed: AtomicBool::new(false),
        }
    }

    /// Records `task` in shard `shard` (clamped to the last); cancels it instead if the
    /// list is closed.
    pub(crate) fn bind(&self, task: Task, shard: usize) {
        let shard = &self.shards[shard.min(self.shards.len() - 1)];
        let swept = {
            let mut shard = shard.lock();
            // Read under the lock: `close` sets the flag before it takes each shard's
            // lock, so a task recorded after `close` emptied this shard sees it set.
            if self.closed.load(Ordering::Relaxed) {
                drop(shard);
                task.cancel();
                return;
            }
            shard.tasks.push(task);
            if shard.tasks.len() < shard.sweep_at {
                return;
            }
            let mut swept = Vec::new();
            let mut i = 0;
            while i < shard.tasks.len() {
                if shard.tasks[i].is_complete() {
                    swept.push(shard.tasks.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            shard.sweep_at = (shard.tasks.len() * 2).max(MIN_SWEEP);
            swept
        };
        // Outside the lock: releasing the last reference drops the task's output, whose
        // `Drop` may create tasks.
        drop(swept);
    }

    /// Closes the list and cancels every task in it. Cancelling drops futures, which
    /// may create tasks; those are cancelled as they are recorded.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for shard in self.shards.iter() {
            let tasks = mem::take(&mut shard.lock().tasks);
            for task in &tasks {
                task.cancel();
            }
        }
    }

    /// Whether [`close`](Self::close) ran.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// What the loom model in `loom-tests/owned.rs` drives: the list itself. Only under
/// `cfg(pride_loom)`; reached as `pride::__loom::owned`.
#[cfg(pride_loom)]
pub(crate) mod loom_api {
    use crate::task::Task;

    /// A runtime's list of every live task.
    pub struct Owned(super::OwnedTasks);

    impl Owned {
        /// A list with `shards` shards.
        pub fn new(shards: usize) -> Owned {
            Owned(super::OwnedTasks::new(shards))
        }

        /// Records `task` in shard `shard`, or cancels it if the list is closed.
        pub fn bind(&self, task: Task, shard: usize) {
            self.0.bind(task, shard);
        }

        /// Closes the list and cancels every task in it.
        pub fn close(&self) {
            self.0.close();
        }
    }
}
