//! What the loom models in `loom-tests/sync_*.rs` reach, under `cfg(pride_loom)` only.

pub use super::{Closed, Event, Queue, QueueStream, WouldBlock};
