//! pride: a multi-threaded, work-stealing async runtime in which all concurrency is
//! structured.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub(crate) mod loom;
pub(crate) mod runtime;
pub mod time;

#[cfg(pride_loom)]
#[doc(hidden)]
pub mod __loom {
    pub mod time {
        pub use crate::time::loom_api::*;
    }
}
