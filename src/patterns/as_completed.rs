//! `as_completed`: a stream of results in completion order.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::sync::{Receiver, unbounded_channel};
use crate::{BoxError, TaskGroup, TaskOutput};

/// Starts every future as a child of `group` and returns a stream of their values in
/// the order they complete. The stream ends when all of them have finished.
///
/// The tasks belong to `group`, so they cannot outlive it: a failure goes to the group
/// (cancelling the rest, and whoever reads the stream inside the group), from the task
/// named `as_completed[i]` for the future at position `i`.
///
/// ```
/// use std::time::Duration;
/// use futures_lite::StreamExt;
///
/// let rt = pride::Runtime::builder().clock(pride::time::Clock::autojump()).build().unwrap();
/// rt.block_on(pride::task_group(async |tg| {
///     let delays = [3u64, 1, 2];
///     let mut done = pride::as_completed(&tg, delays.map(|s| async move {
///         pride::sleep(Duration::from_secs(s)).await;
///         Ok::<_, pride::BoxError>(s)
///     }));
///     let mut order = Vec::new();
///     while let Some(s) = done.next().await {
///         order.push(s);
///     }
///     assert_eq!(order, [1, 2, 3]);
/// }))
/// .unwrap();
/// ```
///
/// # Panics
/// If `group` has already exited, as [`TaskGroup::start_soon`] does, when there is a
/// future to start (with none, the stream is simply empty).
#[doc(alias("FuturesUnordered", "JoinSet"))]
#[track_caller]
pub fn as_completed<I, F, T>(group: &TaskGroup, futures: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = F>,
    F: Future + Send + 'static,
    F::Output: TaskOutput<Ok = T>,
    T: Send + 'static,
{
    let (sender, receiver) = unbounded_channel();
    for (index, future) in futures.into_iter().enumerate() {
        let sender = sender.clone();
        let name = super::name("as_completed", index);
        group.start_detached(
            Some(name),
            async move {
                let value = future.await.into_result()?;
                // The reader may have gone; then the value is not wanted.
                let _ = sender.try_send(value);
                Ok::<(), BoxError>(())
            },
            false,
        );
    }
    AsCompleted { receiver }
}

/// The stream of [`as_completed`].
///
/// ```
/// use futures_lite::StreamExt;
///
/// pride::run(async {
///     pride::task_group(async |tg| {
///         let mut results = pride::as_completed(&tg, (1..=3).map(|i| async move {
///             Ok::<_, pride::BoxError>(i * 10)
///         }));
///         let mut sum = 0;
///         while let Some(value) = results.next().await {
///             sum += value;
///         }
///         assert_eq!(sum, 60);
///     })
///     .await
///     .unwrap();
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<T> {
    receiver: Receiver<T>,
}

impl<T> Stream for AsCompleted<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        Pin::new(&mut self.receiver).poll_next(cx)
    }
}

impl<T> std::fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsCompleted").finish_non_exhaustive()
    }
}
