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
pub use group::error::TaskOutput;
pub use group::{
    BoxError, GroupClosed, GroupError, TaskError, TaskGroup, TaskGroupFuture, TaskHandle,
    task_group,
};
pub use runtime::{Builder, Runtime, run, yield_now};

/// The lock-free core, reached by the loom models in `loom-tests/`. Exists only under
/// `--cfg pride_loom`; the items it names are `pub` inside `pub(crate)` modules, so
/// nothing of this leaks into a normal build.
#[cfg(pride_loom)]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod __loom {
    /// Tasks: the state word, the waker vtable and the join handle.
    pub mod task {
        pub use crate::task::{JoinHandle, Notified, Schedule, Task, new_joinable, new_task};
    }

    /// The workers' sleep/wake protocol.
    pub mod runtime {
        pub use crate::runtime::idle::Idle;
        pub use crate::runtime::park::{Parker, Unparker, WakeDriver};
    }

    /// A group's child counter and error stack.
    pub mod group {
        pub use crate::group::TaskError;
        pub use crate::group::shared::{ChildCounter, ErrorStack};

        /// A task error holding `error`, as a failing child reports it.
        pub fn task_error(error: crate::BoxError) -> TaskError {
            TaskError::new(None, crate::group::error::Kind::Error(error))
        }
    }

    /// The cancel-scope tree.
    pub mod cancel {
        pub use crate::cancel::node::ScopeNode;
    }
}
