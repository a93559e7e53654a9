//! Cancellation: the tree of cancel scopes, and the current-scope context.
//!
//! `node.rs` holds the lock-free tree every wrapper consults on each poll;
//! `current.rs` tracks which scope the running code is inside.

pub(crate) mod current;
pub(crate) mod deadline;
pub(crate) mod inside;
pub(crate) mod node;
pub(crate) mod run;
mod scope;
mod timeout;

pub use run::{ScopeRun, checkpoint};
pub(crate) use run::{
    assert_polled_in_place, cancel_stands, caught_after_cleanup, left_for_the_catcher,
    pending_for_the_catcher,
};
pub use scope::CancelScope;
pub use timeout::{
    FailAfter, TimeoutError, current_effective_deadline, fail_after, fail_at, move_on_after,
    move_on_at,
};
