//! pride is a multi-threaded, work-stealing async runtime in which all concurrency is
//! structured.
//!
//! # Task groups
//!
//! There is no free-standing `spawn`. Concurrent work runs in a [`task_group`]: the
//! group's body starts children, and the group's future completes only when the body
//! and every child have finished.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! pride::run(async {
//!     let sum = Arc::new(AtomicU64::new(0));
//!     pride::task_group(async |tg| {
//!         for i in 1..=100 {
//!             let sum = sum.clone();
//!             tg.start_soon(async move {
//!                 sum.fetch_add(i, Ordering::Relaxed);
//!             });
//!         }
//!     })
//!     .await
//!     .unwrap();
//!     // Every child has finished here.
//!     assert_eq!(sum.load(Ordering::Relaxed), 5050);
//! });
//! ```
//!
//! # Errors
//!
//! A child (or the body) fails by returning `Err` or by panicking. The first failure
//! cancels the group: the other children, and the body, are dropped at their next
//! suspension point. The group then returns a [`GroupError`] with every error and
//! panic, each with its task's name.
//!
//! ```
//! pride::run(async {
//!     let error = pride::task_group(async |tg| {
//!         tg.start_soon_named("parser", async { Err::<(), _>("unexpected end of input") });
//!         tg.start_soon_named("waiter", std::future::pending::<()>());
//!     })
//!     .await
//!     .unwrap_err();
//!     assert_eq!(error.errors().len(), 1);
//!     assert_eq!(error.errors()[0].name(), Some("parser"));
//! });
//! ```
//!
//! # Cancellation
//!
//! Cancellation is dropping: a cancelled task's future is dropped at its next
//! suspension point, and its `Drop` impls are its cleanup. Each group owns a
//! [`CancelScope`]; cancelling it cancels everything inside, down through nested
//! groups. Dropping a group's future cancels its children and returns only once none
//! of them is running.
//!
//! # Running
//!
//! [`Runtime::block_on`] runs a future on the calling thread while the runtime's
//! workers (one per core by default) run the children; [`run`] does both in one call.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub(crate) mod cancel;
pub mod compat;
pub(crate) mod group;
pub(crate) mod loom;
pub mod net;
pub(crate) mod runtime;
pub mod sync;
pub(crate) mod task;
pub mod time;

pub use cancel::{
    CancelScope, FailAfter, ScopeRun, TimeoutError, checkpoint, current_effective_deadline,
    fail_after, fail_at, move_on_after, move_on_at,
};
pub use group::error::TaskOutput;
pub use group::{
    BoxError, GroupClosed, GroupError, StartError, StartFuture, TaskError, TaskGroup,
    TaskGroupFuture, TaskHandle, TaskStatus, task_group,
};
pub use runtime::{Builder, Runtime, ToThread, YieldNow, run, to_thread, yield_now};
pub use sync::{CapacityLimiter, Closed, Event, Lock, Queue, Semaphore, WouldBlock};
pub use time::{Interval, Sleep, current_time, interval, sleep, sleep_until};

#[cfg(pride_loom)]
#[doc(hidden)]
pub mod __loom {
    pub mod sync {
        pub use crate::sync::loom_api::*;
    }
    pub mod time {
        pub use crate::time::loom_api::*;
    }
}
