//! Concurrency patterns built on task groups: [`gather`], [`race`], [`bounded_map`],
//! [`as_completed`] and [`retry`].
//!
//! `gather`, `race` and `bounded_map` run their work in a task group, and
//! `as_completed` in the caller's group, so the structured guarantees hold: nothing
//! outlives the call, a failure cancels the rest (except in `race`, where failures are
//! only counted until one succeeds), and every error and panic comes back with the
//! others.
//!
//! Each task a pattern starts is named after the pattern and the position of its input
//! (`gather[2]`, `race[0]`, `bounded_map[5]`, `as_completed[1]`): its errors carry that
//! name, so a failure says which input it came from.
//!
//! `retry` runs one attempt at a time, on the caller's task and in no group of its
//! own: nothing outlives the call either, but a panicking attempt unwinds through the
//! caller (as a panic in any code it awaits would), and only the last attempt's error
//! comes back.
//!
//! Each returns a named future type. Its state is boxed once per call, so a task
//! awaiting it is `Send` whenever the work is, including with `Result<_, BoxError>`
//! outputs (rustc cannot prove an `async fn` with such bounds `Send`, so these
//! entry points return named futures instead).

mod as_completed;
mod bounded_map;
mod gather;
mod race;
mod retry;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use as_completed::{AsCompleted, as_completed};
pub use bounded_map::bounded_map;
pub use gather::gather;
pub use race::race;
pub use retry::{Retry, RetryError, RetryFuture, retry};

use crate::GroupError;

/// The name of a pattern's task: the pattern's and the position of its input
/// (`gather[2]`), which that task's errors carry.
fn name(pattern: &str, index: usize) -> std::sync::Arc<str> {
    format!("{pattern}[{index}]").into()
}

/// The future of [`gather`], [`race`] and [`bounded_map`]: resolves to the pattern's
/// result, or to the group's error.
///
/// ```
/// pride::run(async {
///     // `gather`, `race` and `bounded_map` return a `Pattern`: await it.
///     let pattern: pride::patterns::Pattern<Vec<u32>> =
///         pride::gather((1..=2).map(|i| async move { Ok::<_, pride::BoxError>(i) }));
///     assert_eq!(pattern.await.unwrap(), [1, 2]);
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Pattern<T> {
    inner: Pin<Box<dyn Future<Output = Result<T, GroupError>> + Send>>,
}

impl<T> Pattern<T> {
    fn new(inner: impl Future<Output = Result<T, GroupError>> + Send + 'static) -> Pattern<T> {
        Pattern {
            inner: Box::pin(inner),
        }
    }
}

impl<T> Future for Pattern<T> {
    type Output = Result<T, GroupError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<T> std::fmt::Debug for Pattern<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pattern").finish_non_exhaustive()
    }
}
