//! The runtime, time, sync primitives, patterns, `par`, services, macros and the debug
//! tools. One test binary, so the suite links once per area instead of once per file.

#[path = "../common/mod.rs"]
mod common;

mod blocking;
mod debug_blocked;
mod debug_deadlock;
mod debug_dump;
mod debug_metrics;
mod macros;
mod panic_style;
mod par_basic;
mod par_cancel;
mod par_failures;
mod par_threads;
mod patterns;
mod patterns_retry;
mod runtime_basic;
mod runtime_budget;
mod runtime_cancel_wake;
mod runtime_panics;
mod runtime_wake_vs_drop;
mod select;
mod send;
mod service_isolated;
mod service_shutdown;
mod service_supervise;
mod stress;
mod sync_primitives;
mod sync_queue;
mod sync_signals;
mod sync_stress;
mod time_interval;
mod time_sleep;
