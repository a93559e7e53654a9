//! The parts of [`TaskGroup`]'s API that concern a concurrency limit
//! ([`task_group_with_limit`](super::task_group_with_limit)).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::error::TaskOutput;
use super::shared::Slot;
use super::{GroupClosed, TaskGroup};
use crate::sync::waiters::WaiterId;

/// Why [`TaskGroup::try_start_now`] did not start a task; the future comes back.
pub enum TryStartError<F> {
    /// The group runs as many children as its limit allows.
    Full(F),
    /// The group has exited.
    Closed(F),
}

impl<F> TryStartError<F> {
    /// The future that was not started.
    pub fn into_inner(self) -> F {
        match self {
            TryStartError::Full(f) | TryStartError::Closed(f) => f,
        }
    }

    /// Whether the group was at its limit (rather than closed).
    pub fn is_full(&self) -> bool {
        matches!(self, TryStartError::Full(_))
    }
}

impl<F> fmt::Debug for TryStartError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryStartError::Full(_) => f.write_str("Full(..)"),
            TryStartError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<F> fmt::Display for TryStartError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryStartError::Full(_) => {
                f.write_str("the task group runs as many tasks as its limit allows")
            }
            TryStartError::Closed(_) => fmt::Display::fmt(&GroupClosed, f),
        }
    }
}

impl<F> std::error::Error for TryStartError<F> {}

impl TaskGroup {
    /// The group's concurrency limit, if it has one.
    pub fn limit(&self) -> Option<usize> {
        self.shared.limit.as_ref().map(|l| l.max())
    }

    /// The number of the limit's slots taken now, on a group with a limit: children
    /// running, and slots just handed to a [`start_soon_wait`](Self::start_soon_wait)
    /// caller that has not yet started its child (queued children are not counted).
    /// Zero once the group was dropped before it finished: its children were
    /// cancelled, and the queued ones dropped without running.
    pub fn running(&self) -> Option<usize> {
        self.shared.limit.as_ref().map(|l| l.running())
    }

    /// Starts `future` only if it can run at once: on a group with a limit, refuses
    /// (giving the future back) while the limit's worth of children run. On a group
    /// without a limit this is [`try_start_soon`](Self::try_start_soon).
    pub fn try_start_now<F>(&self, future: F) -> Result<(), TryStartError<F>>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        let slot = match &self.shared.limit {
            None => Slot::Queue,
            Some(limit) => match limit.try_acquire() {
                Ok(true) => Slot::Held,
                Ok(false) => return Err(TryStartError::Full(future)),
                Err(_closed) => return Err(TryStartError::Closed(future)),
            },
        };
        self.start_with_slot(None, future, slot, false)
            .map_err(|future| {
                self.give_back(slot);
                TryStartError::Closed(future)
            })
    }

    /// Returns a slot taken for a child that could not start (the group closed).
    fn give_back(&self, slot: Slot) {
        if let (Slot::Held, Some(limit)) = (slot, &self.shared.limit) {
            limit.release(&self.shared.handle);
        }
    }

    /// Waits until the group's limit lets another child run, then starts `future`.
    /// On a group without a limit it starts at once. The wait is cancel-safe: dropped
    /// while waiting, nothing starts. Gives [`GroupClosed`] (and drops `future`) if the
    /// group no longer takes children, also when it is dropped before it finished while
    /// this waits.
    pub fn start_soon_wait<F>(&self, future: F) -> StartSoonWait<F>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.start_soon_wait_as(None, future)
    }

    /// [`start_soon_wait`](Self::start_soon_wait) for a child named `name`.
    pub(crate) fn start_soon_wait_as<F>(
        &self,
        name: Option<std::sync::Arc<str>>,
        future: F,
    ) -> StartSoonWait<F>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        StartSoonWait {
            group: self.clone(),
            name,
            future: Some(future),
            waiter: None,
        }
    }
}

/// The future of [`TaskGroup::start_soon_wait`].
#[must_use = "nothing starts unless this is awaited"]
pub struct StartSoonWait<F> {
    group: TaskGroup,
    /// The child's name.
    name: Option<std::sync::Arc<str>>,
    future: Option<F>,
    /// Its place in the limit's line of waiters, while it waits.
    waiter: Option<WaiterId>,
}

// The task's future is only moved, never pinned, until it is started.
impl<F> Unpin for StartSoonWait<F> {}

impl<F> Future for StartSoonWait<F>
where
    F: Future + Send + 'static,
    F::Output: TaskOutput,
{
    type Output = Result<(), GroupClosed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(
            this.future.is_some(),
            "pride: `start_soon_wait` polled after it completed"
        );
        let group = &this.group;
        let slot = match &group.shared.limit {
            None => Slot::Queue,
            Some(limit) => {
                let acquired =
                    limit.poll_acquire(&group.shared.handle, &mut this.waiter, cx.waker());
                if std::task::ready!(acquired).is_err() {
                    this.future = None;
                    return Poll::Ready(Err(GroupClosed));
                }
                Slot::Held
            }
        };
        let future = this.future.take().expect("checked above");
        Poll::Ready(
            group
                .start_with_slot(this.name.take(), future, slot, false)
                .map_err(|_| {
                    group.give_back(slot);
                    GroupClosed
                }),
        )
    }
}

impl<F> Drop for StartSoonWait<F> {
    /// Leaves the line of waiters; a slot granted but not used goes to the next one.
    fn drop(&mut self) {
        if let (Some(waiter), Some(limit)) = (self.waiter.take(), &self.group.shared.limit) {
            limit.cancel_wait(&self.group.shared.handle, waiter);
        }
    }
}

impl<F> fmt::Debug for StartSoonWait<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartSoonWait").finish_non_exhaustive()
    }
}
