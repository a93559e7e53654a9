//! Time: the hierarchical timing wheel, sleeps, intervals and clocks.

/// Placeholder until the wheel lands.
pub(crate) struct TimeDriver;
