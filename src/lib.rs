//! pride: a multi-threaded, work-stealing async runtime in which all concurrency is
//! structured.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub(crate) mod cancel;
pub(crate) mod group;
pub(crate) mod loom;
pub(crate) mod runtime;
pub(crate) mod task;
pub mod time;

pub use cancel::CancelScope;
pub use group::{
    BoxError, GroupClosed, GroupError, TaskError, TaskGroup, TaskGroupFuture, TaskHandle,
    task_group,
};
pub use group::error::TaskOutput;
pub use runtime::{Builder, Runtime, run, yield_now};
