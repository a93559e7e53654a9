//! Thread-local runtime context: which runtime (and which worker) this thread serves.
#![allow(dead_code)]

/// Runs `f` with the current runtime's time driver. Panics with a clear message when
/// called outside a pride runtime.
pub(crate) fn with_time<R>(f: impl FnOnce(&crate::time::TimeDriver) -> R) -> R {
    let _ = f;
    panic!("pride: time functions must be called from within a pride runtime")
}

/// Index of the worker this thread is, if it is a worker thread.
pub(crate) fn worker_index() -> Option<usize> {
    None
}
