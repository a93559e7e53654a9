//! `bounded_map`: map with at most `limit` in flight, results in input order.

use std::future::Future;

use super::Pattern;
use crate::loom::sync::{Arc, Mutex};
use crate::{BoxError, TaskOutput, task_group_with_limit};

/// Calls `f` on every item and runs the futures with at most `limit` in flight,
/// returning the values in input order. Items become tasks only as slots free up, so a
/// long input does not allocate all its tasks at once: `f` is called for the next item
/// just before waiting for a slot, so at most `limit + 1` of its futures exist at a
/// time. The first failure cancels the rest; the error holds every failure, each from
/// the task named `bounded_map[i]` for the item at position `i`.
///
/// ```
/// pride::run(async {
///     let lengths = pride::bounded_map(["a", "bb", "ccc"], 2, |s| async move {
///         Ok::<_, pride::BoxError>(s.len())
///     })
///     .await
///     .unwrap();
///     assert_eq!(lengths, [1, 2, 3]);
/// });
/// ```
///
/// # Panics
/// If `limit` is zero.
#[track_caller]
#[doc(alias("buffered", "buffer_unordered", "map_concurrent"))]
pub fn bounded_map<I, M, Fut, U>(items: I, limit: usize, mut f: M) -> Pattern<Vec<U>>
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Send,
    M: FnMut(I::Item) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput<Ok = U>,
    U: Send + 'static,
{
    assert!(limit > 0, "pride: bounded_map needs a limit of at least 1");
    let items = items.into_iter();
    let results: Arc<Mutex<Vec<(usize, U)>>> = Arc::new(Mutex::new(Vec::new()));
    let collected = results.clone();
    Pattern::new(async move {
        task_group_with_limit(limit, move |tg| async move {
            for (index, item) in items.enumerate() {
                let future = f(item);
                let results = results.clone();
                tg.start_soon_wait_as(Some(super::name("bounded_map", index)), async move {
                    let value = future.await.into_result()?;
                    results.lock().push((index, value));
                    Ok::<(), BoxError>(())
                })
                .await?;
            }
            Ok::<(), BoxError>(())
        })
        .await?;
        let mut values = std::mem::take(&mut *collected.lock());
        values.sort_unstable_by_key(|(index, _)| *index);
        Ok(values.into_iter().map(|(_, value)| value).collect())
    })
}
