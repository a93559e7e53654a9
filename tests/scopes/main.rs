//! Cancel scopes and task groups: deadlines, shields, timeouts, nesting, draining,
//! errors, joins, limits and `start()`. One test binary, so the suite links once per
//! area instead of once per file.

#[path = "../common/mod.rs"]
mod common;

mod cancel_deadline;
mod cancel_drain;
mod cancel_nested;
mod cancel_scope;
mod cancel_shield;
mod cancel_timeout;
mod conformance;
mod group_cancel;
mod group_deadline;
mod group_drop;
mod group_errors;
mod group_handle;
mod group_join;
mod group_limit;
mod group_many;
mod group_start;
