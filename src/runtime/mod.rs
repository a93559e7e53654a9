//! The runtime: workers, queues, parking, `block_on`.
pub(crate) mod context;
