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
//!   idle worker turns the driver for all of them.
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

mod metrics;
pub(crate) mod tree;
pub(crate) mod watchdog;

pub use metrics::{RuntimeMetrics, WorkerMetrics};
pub use tree::{Deadline, DumpNode, NodeKind, TreeDump};
pub use watchdog::BlockedWorker;

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
