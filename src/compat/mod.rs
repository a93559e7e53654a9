//! Adapters that let other ecosystems' libraries run on pride.
//!
//! - `hyper` (cargo feature `hyper`): [`hyper::Executor`], [`hyper::Timer`] and
//!   [`hyper::HyperIo`], the three pieces hyper 1 asks of a runtime.

#[cfg(feature = "hyper")]
pub mod hyper;
