//! Seeing inside a running runtime: its counters and the workers a task is blocking.
//!
//! - [`Runtime::metrics`](crate::Runtime::metrics) returns a [`RuntimeMetrics`]: tasks
//!   spawned and alive, polls, steals, parks, queue depths, budget exhaustions, the
//!   blocking pool and the reactor. The counters are per worker and summed when read,
//!   so they stay on at no measurable cost.
//! - A poll that keeps a worker busy longer than a threshold (100 ms by default; see
//!   [`Builder::blocked_poll_threshold`](crate::Builder::blocked_poll_threshold)) is
//!   reported once, with the task's name, as a [`BlockedWorker`]: printed to stderr, or
//!   handed to [`Builder::on_blocked_worker`](crate::Builder::on_blocked_worker).
//!   Meanwhile the other workers go on firing timers and socket readiness, since any
//!   idle worker turns the driver for all of them, and once the poll has run that long
//!   they also take the task the held worker had set aside to run next (with the
//!   report turned off too).
//! - [`dump`] (inside a runtime) and [`Runtime::dump`](crate::Runtime::dump) (from any
//!   thread) copy the live task tree: every `block_on` call, the cancel scopes and
//!   task groups opened inside it, and their tasks by name and state, with how long
//!   ago each was last polled and, when known, what it waits for (a [`Wait`]: a sleep
//!   and its deadline, a socket, a lock, a semaphore, a queue, an event, child tasks).
//! - With the feature `tracing`, each task group and each task gets a span for the
//!   `tracing` crate: a task's span is named `task` (with the task's name in its
//!   `task.name` field) and sits inside its group's span, which sits inside the span of
//!   the task that opened the group. Events mark `start` and `started`, a cancel (with
//!   its `reason`), and each error and panic of a task.
//! - A stuck program can be asked without changing its code: run it with
//!   `PRIDE_DUMP_ON_SIGQUIT=1` in the environment (Unix; any value but an empty one or
//!   `0` will do), and each `kill -QUIT <pid>` (or Ctrl-\\ in its terminal) prints every
//!   runtime's tree and metrics to stderr. While no runtime is there to dump (once the
//!   last one is dropped), SIGQUIT ends the process as it does by default, even if the
//!   program handles SIGQUIT itself: such a program should leave the variable unset.
//! - On an autojump clock, a runtime whose tasks are all blocked with no timer armed
//!   and no socket registered is deadlocked: only another thread can wake them. After
//!   100 ms of that it is reported once, with the tree, as a [`Deadlock`]: printed to
//!   stderr, or handed to [`Builder::on_deadlock`](crate::Builder::on_deadlock).
//!
//! ```
//! let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
//! rt.block_on(async {
//!     pride::task_group(async |tg| {
//!         for _ in 0..10 {
//!             tg.start_soon(pride::yield_now());
//!         }
//!     })
//!     .await
//!     .unwrap();
//! });
//! let m = rt.metrics();
//! assert_eq!(m.workers, 2);
//! assert_eq!(m.tasks_spawned, 10);
//! assert_eq!(m.tasks_alive, 0);
//! assert!(m.polls >= 20); // each child ran, yielded and ran again
//! ```

pub(crate) mod deadlock;
mod metrics;
#[cfg(all(unix, not(pride_loom)))]
mod signal;
pub(crate) mod task;
pub(crate) mod trace;
pub(crate) mod tree;
pub(crate) mod watchdog;

pub use deadlock::Deadlock;
pub use metrics::{RuntimeMetrics, WorkerMetrics};
pub use task::Wait;
pub use tree::{Deadline, DumpNode, NodeKind, TreeDump};
pub use watchdog::BlockedWorker;

/// The threads a runtime runs for observing it (the blocked-worker watchdog and the
/// SIGQUIT dump), stopped and joined when dropped.
pub(crate) struct Observers {
    _watchdog: watchdog::Watchdog,
    #[cfg(all(unix, not(pride_loom)))]
    _signal: Option<signal::DumpOnSignal>,
}

impl Observers {
    /// Starts the watchdog, which hands a held worker's next task to the others once
    /// one poll has held it for `threshold`, and reports that poll if `report` is
    /// set; and the SIGQUIT dump if the environment asks for it.
    pub(crate) fn start(
        runtime: &crate::runtime::Handle,
        threshold: std::time::Duration,
        report: Option<watchdog::Report>,
        thread_name: &str,
    ) -> std::io::Result<Observers> {
        let watchdog = watchdog::Watchdog::start(
            runtime.shared.counters.clone(),
            threshold,
            report,
            tend(runtime),
            with_idle(runtime),
            format!("{thread_name}-watchdog"),
        )?;
        #[cfg(not(all(unix, not(pride_loom))))]
        let _ = runtime;
        Ok(Observers {
            _watchdog: watchdog,
            #[cfg(all(unix, not(pride_loom)))]
            _signal: signal::DumpOnSignal::start_if_asked(
                std::sync::Arc::downgrade(&runtime.shared),
                format!("{thread_name}-sigquit"),
            )?,
        })
    }
}

/// The watchdog's hold on its runtime: weak, so the runtime can go first.
#[cfg(not(pride_loom))]
fn tend(runtime: &crate::runtime::Handle) -> watchdog::Tend {
    let shared = std::sync::Arc::downgrade(&runtime.shared);
    Box::new(move |held| {
        if let Some(shared) = shared.upgrade() {
            shared.note_time();
            for &index in held {
                shared.rescue_lifo(index);
            }
        }
    })
}

/// Under loom the runtime's `Arc` has no weak form, and no model runs a watchdog.
#[cfg(pride_loom)]
fn tend(_: &crate::runtime::Handle) -> watchdog::Tend {
    Box::new(|_| {})
}

/// The watchdog's look at the workers' idle state: weak too.
#[cfg(not(pride_loom))]
fn with_idle(runtime: &crate::runtime::Handle) -> watchdog::WithIdle {
    let shared = std::sync::Arc::downgrade(&runtime.shared);
    Box::new(move |then| {
        if let Some(shared) = shared.upgrade() {
            then(shared.idle());
        }
    })
}

#[cfg(pride_loom)]
fn with_idle(_: &crate::runtime::Handle) -> watchdog::WithIdle {
    Box::new(|_| {})
}

/// A copy of the current runtime's task tree: see [`TreeDump`].
///
/// ```
/// pride::run(async {
///     let dump = pride::debug::dump();
///     assert_eq!(dump.roots.len(), 1); // this `block_on`
///     println!("{dump}");
/// });
/// ```
///
/// # Panics
/// Outside a pride runtime; use [`Runtime::dump`](crate::Runtime::dump) there.
#[track_caller]
pub fn dump() -> TreeDump {
    crate::runtime::context::handle("`pride::debug::dump`").dump()
}
