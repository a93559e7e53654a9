//! `gather`: run all, results in input order, fail fast.

use std::future::Future;

use super::Pattern;
use crate::loom::sync::{Arc, Mutex};
use crate::{BoxError, TaskOutput, task_group};

/// Runs every future concurrently, each as a child task, and returns their values in
/// input order. The first failure cancels the others; the error holds every failure,
/// each from the task named `gather[i]` for the input at position `i`.
///
/// ```
/// pride::run(async {
///     let squares = pride::gather((1..=4u64).map(|i| async move { Ok::<_, pride::BoxError>(i * i) }))
///         .await
///         .unwrap();
///     assert_eq!(squares, [1, 4, 9, 16]);
/// });
/// ```
#[doc(alias("join_all", "try_join_all"))]
pub fn gather<I, F, T>(futures: I) -> Pattern<Vec<T>>
where
    I: IntoIterator<Item = F>,
    F: Future + Send + 'static,
    F::Output: TaskOutput<Ok = T>,
    T: Send + 'static,
{
    let futures: Vec<F> = futures.into_iter().collect();
    let slots: Arc<Vec<Mutex<Option<T>>>> =
        Arc::new((0..futures.len()).map(|_| Mutex::new(None)).collect());
    let results = slots.clone();
    Pattern::new(async move {
        task_group(move |tg| async move {
            for (index, future) in futures.into_iter().enumerate() {
                let slots = slots.clone();
                tg.start_detached(
                    Some(super::name("gather", index)),
                    async move {
                        let value = future.await.into_result()?;
                        *slots[index].lock() = Some(value);
                        Ok::<(), BoxError>(())
                    },
                    false,
                );
            }
        })
        .await?;
        Ok(results
            .iter()
            .map(|slot| {
                slot.lock()
                    .take()
                    .expect("pride: a gathered task left no value")
            })
            .collect())
    })
}
