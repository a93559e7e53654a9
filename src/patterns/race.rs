//! `race`: the first success wins, the rest are cancelled.

use std::future::Future;

use super::Pattern;
use crate::cancel::cancel_stands;
use crate::group::error::{Kind, Reason, TaskError};
use crate::loom::sync::{Arc, Mutex};
use crate::{GroupError, TaskOutput, task_group};

/// Runs every future concurrently and returns the first success; the others are
/// cancelled. A failure does not cancel the others: only if none succeeds is the
/// result an error, holding every failure in completion order (and an empty list for
/// no futures at all). A panic is a bug, not a failed attempt: it fails the race at
/// once, with the failures that came before it, then the panic, then whatever came
/// after it while the others were cancelled (a failure of a future that finished a
/// shielded section, a panic in a `Drop`), in the order it came. Each failure is from
/// the task named `race[i]` for the future at position `i`.
///
/// A panic is never lost, not even after the race was won: a loser that panics as it
/// is cancelled (in its `Drop`, say) makes the race an error, with the failures that
/// came before the win and then that panic; the winner's value is dropped. Apart from
/// panics, what a loser does after the win (a value or a failure at the end of a
/// shielded section) is dropped with it.
///
/// A failure is never lost to a cancel from outside either: one that comes while such
/// a cancel stands (a future that finishes a shielded section with an error) makes the
/// race an error, with the failures that came before it and then that failure, and the
/// error passes out through the cancelled scopes. A race cancelled from outside with no
/// failure after the cancel ends as cancelled work, as any group does (the attempts
/// that failed before the cancel go with it: the race was still under way).
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
            for (index, future) in futures.into_iter().enumerate() {
                let (winner, failures) = (winner.clone(), failures.clone());
                let scope = tg.cancel_scope().clone();
                let name = super::name("race", index);
                let own = name.clone();
                tg.start_detached(
                    Some(name),
                    async move {
                        let outcome = future.await.into_result();
                        let mut winner = winner.lock();
                        match outcome {
                            // The race is won: this loser's outcome goes with it.
                            _ if winner.is_some() => {}
                            Ok(value) if !scope.cancel_called() => {
                                *winner = Some(value);
                                scope.cancel();
                            }
                            // A panic failed the race: the value is not wanted.
                            Ok(_) => {}
                            // Under a cancel (the race's own after a panic, or one from
                            // outside), a failure is the group's, which keeps it and passes
                            // it out through the cancelled scopes; the race's own list holds
                            // the failed attempts of a race still under way.
                            Err(error) if scope.cancel_called() || cancel_stands() => {
                                return Err(error);
                            }
                            Err(error) => failures
                                .lock()
                                .push(TaskError::new(Some(own), Kind::Error(error))),
                        }
                        Ok(())
                    },
                    false,
                );
            }
        })
        .await
        .map_err(|mut error| {
            // A panic failed the race: the attempts that failed before it (and before
            // any win) go first; the group holds the panic and what came after it.
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
