//! `race`: the first success wins, the rest are cancelled.

use std::future::Future;

use super::Pattern;
use crate::group::error::{Kind, Reason, TaskError};
use crate::loom::sync::{Arc, Mutex};
use crate::{GroupError, TaskOutput, task_group};

/// Runs every future concurrently and returns the first success; the others are
/// cancelled. A failure does not cancel the others: only if none succeeds is the
/// result an error, holding every failure in completion order (and an empty list for
/// no futures at all). A panic is a bug, not a failed attempt: it fails the race at
/// once, with the failures that came before it and then the panic.
///
/// ```
/// use std::time::Duration;
///
/// let rt = pride::Runtime::builder().clock(pride::time::Clock::autojump()).build().unwrap();
/// rt.block_on(async {
///     let winner = pride::race([
///         Box::pin(async { pride::sleep(Duration::from_secs(2)).await; Ok::<_, pride::BoxError>("slow") })
///             as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>,
///         Box::pin(async { pride::sleep(Duration::from_secs(1)).await; Ok("fast") }),
///     ])
///     .await
///     .unwrap();
///     assert_eq!(winner, "fast");
/// });
/// ```
#[doc(alias("select_ok", "first_completed"))]
pub fn race<I, F, T>(futures: I) -> Pattern<T>
where
    I: IntoIterator<Item = F>,
    F: Future + Send + 'static,
    F::Output: TaskOutput<Ok = T>,
    T: Send + 'static,
{
    let futures: Vec<F> = futures.into_iter().collect();
    let winner: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
    let failures: Arc<Mutex<Vec<TaskError>>> = Arc::new(Mutex::new(Vec::new()));
    let (won, failed) = (winner.clone(), failures.clone());
    Pattern::new(async move {
        task_group(move |tg| async move {
            for future in futures {
                let (winner, failures) = (winner.clone(), failures.clone());
                let scope = tg.cancel_scope().clone();
                tg.start_soon(async move {
                    match future.await.into_result() {
                        Ok(value) => {
                            let mut winner = winner.lock();
                            if winner.is_none() {
                                *winner = Some(value);
                                scope.cancel();
                            }
                        }
                        Err(error) => failures
                            .lock()
                            .push(TaskError::new(None, Kind::Error(error))),
                    }
                });
            }
        })
        .await
        .map_err(|mut error| {
            // A panic failed the race: the attempts that failed before it are kept.
            error.prepend(std::mem::take(&mut *failed.lock()));
            error
        })?;
        let value = won.lock().take();
        value.ok_or_else(|| {
            let failures = std::mem::take(&mut *failed.lock());
            GroupError::new(failures, Reason::Failed, None)
        })
    })
}
