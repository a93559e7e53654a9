//! Adapters that let other ecosystems' libraries run on pride.
//!
//! - `hyper` (cargo feature `hyper`): `hyper::Executor`, `hyper::Timer` and
//!   `hyper::HyperIo`, the three pieces hyper 1 asks of a runtime.
//! - `tokio` (cargo feature `tokio`): `tokio::enter` runs tokio-ecosystem futures
//!   (reqwest, tonic, ...) on pride with a managed background tokio reactor, and
//!   `compat()` adapters convert between `futures_io` and `tokio::io`.

#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(feature = "tokio")]
pub mod tokio;
