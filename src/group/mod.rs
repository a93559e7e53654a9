//! Task groups: the only way to run concurrent work in pride.
//!
//! [`task_group`] opens a group and runs its body; the body (and any child) starts
//! children with [`TaskGroup::start_soon`] or [`TaskGroup::spawn`]. The group's future
//! completes only when the body and every child have finished, and it reports every
//! error and panic in a [`GroupError`]. The first failure cancels the group's scope,
//! so siblings (and the body) are dropped at their next suspension point. Dropping the
//! group's future tears every child down before the drop returns, but for a child
//! whose poll is further down the dropping thread's stack, which the groups around
//! wait for instead.
//!
//! `future.rs` holds the group's own future, `shared.rs` the lock-free child counter
//! and error stack, `child.rs` the wrapper each child task runs, `start.rs` the
//! hand-over of `start`, `error.rs` what a group reports.

mod child;
pub(crate) mod error;
mod future;
pub(crate) mod isolated;
mod limit;
mod limit_api;
#[cfg(pride_loom)]
pub(crate) use self::limit::loom_api as limit_loom_api;
pub(crate) mod shared;
pub(crate) mod start;

pub use self::limit_api::{StartSoonWait, TryStartError};

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

use self::child::Child;
pub use self::error::{BoxError, GroupClosed, GroupError, TaskError};
use self::error::{Kind, TaskOutput};
pub use self::future::TaskGroupFuture;
use self::limit::Limit;
use self::shared::{GroupShared, Slot};
pub use self::start::{StartError, StartFuture, TaskStatus};
use crate::CancelScope;
use crate::cancel::node::ScopeNode;
use crate::loom::sync::Arc;
use crate::task::{self, JoinHandle};

/// Opens a task group, runs `body` with it, and completes when the body and every
/// child have finished.
///
/// The body's output is `()` or a `Result`; the group returns `Ok` with the body's
/// value, or `Err(GroupError)` with every error and panic of the body and its
/// children. The group's cancel scope is a child of the scope current where the group
/// is opened.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// pride::run(async {
///     let hits = Arc::new(AtomicUsize::new(0));
///     pride::task_group(async |tg| {
///         for _ in 0..10 {
///             let hits = hits.clone();
///             tg.start_soon(async move {
///                 hits.fetch_add(1, Ordering::Relaxed);
///             });
///         }
///     })
///     .await
///     .unwrap();
///     assert_eq!(hits.load(Ordering::Relaxed), 10);
/// });
/// ```
///
/// # Cancellation
///
/// - The first error or panic of the body or a child cancels the group's scope; the
///   others are dropped at their next suspension point, and the group reports every
///   error and panic, including panics in `Drop` code that runs because of the cancel.
/// - A cancel of a scope around the group (a timeout, an outer group failing) reaches
///   the body and every child at once. The group still waits for all of them (shielded
///   work inside a child runs on to its end) before it ends: with `Err` holding every
///   failure, which passes out through the cancelled scopes as a value, or, if nothing
///   failed, as cancelled work that the outermost cancelled scope catches.
/// - Dropping the group's future by hand (not through a scope) cancels the children
///   and waits, inside the drop, for each to be dropped; one whose poll is in progress
///   further down the dropping thread's stack is dropped when that poll returns, and
///   the groups around wait for it (see [`semantics`](crate::semantics), "No orphans").
///
/// ```
/// use std::time::Duration;
///
/// pride::run(async {
///     let out = pride::move_on_after(Duration::from_millis(10), pride::task_group(async |tg| {
///         tg.start_soon(async { Err::<(), _>("failed") });
///         std::future::pending::<()>().await;
///     }))
///     .await;
///     // The error is a value: it is not lost to the timeout.
///     assert!(out.expect("the group completed").is_err());
/// });
/// ```
///
/// # Panics
/// When polled outside a pride runtime.
#[doc(
    alias = "nursery",
    alias = "open_nursery",
    alias = "create_task_group",
    alias = "JoinSet"
)]
pub fn task_group<B, Fut, T>(body: B) -> TaskGroupFuture<B, Fut, T>
where
    B: FnOnce(TaskGroup) -> Fut,
    Fut: Future,
    Fut::Output: TaskOutput<Ok = T>,
{
    TaskGroupFuture::new(None, body)
}

/// Like [`task_group`], with at most `limit` children running at once (Go's
/// `errgroup.SetLimit`): [`start_soon`](TaskGroup::start_soon), [`spawn`](TaskGroup::spawn)
/// and [`start`](TaskGroup::start) never block, and queue a child past the limit until
/// a running one finishes; [`try_start_now`](TaskGroup::try_start_now) refuses instead,
/// and [`start_soon_wait`](TaskGroup::start_soon_wait) waits for a free slot.
///
/// A queued child waits for a running one to finish, so a running child must not wait
/// for a child it queued: with every slot taken, a child awaiting `start` (or the
/// handle) of a new sibling waits for ever. Start such helpers in another group.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// pride::run(async {
///     let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
///     pride::task_group_with_limit(3, async |tg| {
///         for _ in 0..20 {
///             let (running, peak) = (running.clone(), peak.clone());
///             tg.start_soon(async move {
///                 let now = running.fetch_add(1, Ordering::SeqCst) + 1;
///                 peak.fetch_max(now, Ordering::SeqCst);
///                 pride::yield_now().await;
///                 running.fetch_sub(1, Ordering::SeqCst);
///             });
///         }
///     })
///     .await
///     .unwrap();
///     assert!(peak.load(Ordering::SeqCst) <= 3);
/// });
/// ```
///
/// # Panics
/// If `limit` is zero: no child could ever run.
#[track_caller]
pub fn task_group_with_limit<B, Fut, T>(limit: usize, body: B) -> TaskGroupFuture<B, Fut, T>
where
    B: FnOnce(TaskGroup) -> Fut,
    Fut: Future,
    Fut::Output: TaskOutput<Ok = T>,
{
    assert!(
        limit > 0,
        "pride: a task group's concurrency limit must be at least 1"
    );
    TaskGroupFuture::new(NonZeroUsize::new(limit), body)
}

/// A handle to a task group, to start children in it. Cheap to clone; children may
/// keep one to start siblings.
///
/// A group accepts children until it has fully exited; after that
/// [`start_soon`](Self::start_soon) panics and [`try_start_soon`](Self::try_start_soon)
/// returns [`GroupClosed`].
#[derive(Clone)]
pub struct TaskGroup {
    shared: Arc<GroupShared>,
}

impl TaskGroup {
    /// Starts `future` as a child of this group. Not a suspension point.
    ///
    /// # Panics
    /// If the group has already exited.
    #[track_caller]
    #[doc(alias = "spawn")]
    pub fn start_soon<F>(&self, future: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.start_detached(None, future, false);
    }

    /// Starts `future` as a child named `name` (the name appears in its errors).
    ///
    /// # Panics
    /// If the group has already exited.
    #[track_caller]
    pub fn start_soon_named<F>(&self, name: impl Into<String>, future: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.start_detached(Some(name.into().into()), future, false);
    }

    /// Starts `future` as a child, or returns [`GroupClosed`] if the group has exited.
    pub fn try_start_soon<F>(&self, future: F) -> Result<(), GroupClosed>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.try_start_detached(None, future, false)
    }

    /// `isolated`: the child is an isolated one (see `isolated.rs`).
    #[track_caller]
    pub(crate) fn start_detached<F>(&self, name: Option<StdArc<str>>, future: F, isolated: bool)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        if self.try_start_detached(name, future, isolated).is_err() {
            panic!(
                "pride: a child started on a task group that has already exited \
                 (`try_start_soon` returns an error instead)"
            );
        }
    }

    fn try_start_detached<F>(
        &self,
        name: Option<StdArc<str>>,
        future: F,
        isolated: bool,
    ) -> Result<(), GroupClosed>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.start_with_slot(name, future, Slot::Queue, isolated)
            .map_err(|_| GroupClosed)
    }

    /// Counts and launches a detached child; gives the future back if the group is
    /// closed.
    fn start_with_slot<F>(
        &self,
        name: Option<StdArc<str>>,
        future: F,
        slot: Slot,
        isolated: bool,
    ) -> Result<(), F>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        if !self.shared.children.try_add() {
            return Err(future);
        }
        let mut child = Child::new(future, None, self.shared.clone(), name.clone(), false);
        if isolated {
            child = child.isolated();
        }
        let (notified, task) = task::new_task(Detached { child }, self.shared.handle.clone());
        self.shared.launch_in_scope(name, notified, task, slot);
        Ok(())
    }

    /// Starts `future` as a child and returns a handle to its result.
    ///
    /// The child belongs to the group like any other: if it fails, its error goes to
    /// the group (and the handle gets a summary of it). Dropping the handle does not
    /// cancel the child; [`TaskHandle::cancel`] does. That takes a cancel scope of the
    /// child's own, made with it, so [`start_soon`](Self::start_soon) is the cheaper
    /// way to start a child whose outcome nobody awaits.
    ///
    /// ```
    /// pride::run(async {
    ///     pride::task_group(async |tg| {
    ///         let answer = tg.spawn(async { Ok::<_, pride::BoxError>(42) });
    ///         assert_eq!(answer.await.unwrap(), 42);
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    ///
    /// # Panics
    /// If the group has already exited.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> TaskHandle<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
        <F::Output as TaskOutput>::Ok: Send + 'static,
    {
        self.spawn_inner(None, future)
    }

    /// Like [`spawn`](Self::spawn), with a name.
    #[track_caller]
    pub fn spawn_named<F>(
        &self,
        name: impl Into<String>,
        future: F,
    ) -> TaskHandle<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
        <F::Output as TaskOutput>::Ok: Send + 'static,
    {
        self.spawn_inner(Some(name.into().into()), future)
    }

    #[track_caller]
    fn spawn_inner<F>(
        &self,
        name: Option<StdArc<str>>,
        future: F,
    ) -> TaskHandle<<F::Output as TaskOutput>::Ok>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
        <F::Output as TaskOutput>::Ok: Send + 'static,
    {
        if !self.shared.children.try_add() {
            panic!("pride: `spawn` on a task group that has already exited");
        }
        let node = self.shared.child_node(name.clone());
        let child = Child::new(
            future,
            Some(node.clone()),
            self.shared.clone(),
            name.clone(),
            true,
        );
        let (notified, task, join) = task::new_joinable(child, self.shared.handle.clone());
        self.shared
            .launch(node.clone(), notified, task, Slot::Queue);
        let limit = self.shared.limit.clone();
        TaskHandle {
            join,
            node,
            name,
            limit,
            done: false,
        }
    }

    /// Starts a child and waits until it calls [`TaskStatus::started`], returning the
    /// value it passes. Until then the child belongs to the caller: cancelling the
    /// caller cancels it, cancelling this group does not, and an error or panic comes
    /// back here as [`StartError::Failed`]. After `started`, it is an ordinary child of
    /// this group.
    ///
    /// A cancel of a scope around the caller reaches the starting child at once; a
    /// `started` after that cancel does nothing (the child stays cancelled and never
    /// joins this group). An error or panic of a starting child whose caller was
    /// cancelled goes to this group as the child's failure: it is never lost.
    ///
    /// In a group with a concurrency limit, a starting child still queued for a slot
    /// when its caller is cancelled never runs: it leaves the queue, and its future is
    /// dropped when the caller lets go of the start (inside that drop: mind what locks
    /// the caller holds then), or, should a slot come first, when the slot would have
    /// gone to it. Without a limit, such a child runs to its first suspension point.
    ///
    /// ```
    /// use pride::{BoxError, TaskStatus};
    ///
    /// async fn server(status: TaskStatus<u16>) -> Result<(), BoxError> {
    ///     let port = 8080; // bind, then report readiness
    ///     status.started(port);
    ///     Ok(())
    /// }
    ///
    /// pride::run(async {
    ///     pride::task_group(async |tg| {
    ///         let port = tg.start(server).await?;
    ///         assert_eq!(port, 8080);
    ///         Ok::<_, BoxError>(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    pub fn start<F, Fut, T>(&self, f: F) -> StartFuture<F, T>
    where
        F: FnOnce(TaskStatus<T>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
        T: Send + 'static,
    {
        StartFuture::new(self.clone(), None, f)
    }

    /// Like [`start`](Self::start), with a name for the child.
    pub fn start_named<F, Fut, T>(&self, name: impl Into<String>, f: F) -> StartFuture<F, T>
    where
        F: FnOnce(TaskStatus<T>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
        T: Send + 'static,
    {
        StartFuture::new(self.clone(), Some(name.into().into()), f)
    }

    /// The group's cancel scope. Cancelling it is a deliberate shutdown of the group.
    pub fn cancel_scope(&self) -> &CancelScope {
        &self.shared.scope
    }
}

impl std::fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskGroup")
            .field("children", &self.shared.children.live())
            .field("cancel_scope", &self.shared.scope)
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// A child whose outcome nobody reads.
    struct Detached<F> {
        #[pin]
        child: Child<F>,
    }
}

impl<F> Future for Detached<F>
where
    F: Future,
    F::Output: TaskOutput,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().child.poll(cx).map(drop)
    }
}

/// A handle to a child started with [`TaskGroup::spawn`]: await it for the child's
/// value.
///
/// Resolves to `Ok(value)`, or to a [`TaskError`] if the child failed (its error went
/// to the group; the handle gets a copy of its text: see
/// [`TaskError::is_reported`]), panicked, or was cancelled.
///
/// # Panics
/// When polled again after it resolved: the outcome is handed out once.
pub struct TaskHandle<T> {
    // Unpin: the handle holds no pinned data.
    join: JoinHandle<Result<T, TaskError>>,
    node: Arc<ScopeNode>,
    name: Option<StdArc<str>>,
    /// The group's concurrency limit, if it has one (behind which the child may wait).
    limit: Option<Arc<Limit>>,
    /// The outcome was handed out.
    done: bool,
}

impl<T> TaskHandle<T> {
    /// Cancels this child only. Not a group failure: the child is dropped at its next
    /// suspension point, and the handle then resolves to an error with
    /// [`TaskError::is_cancelled`]; a child that finishes first (before the cancel, or
    /// before it next suspends) resolves to its outcome. This holds for a child
    /// cancelled before it first ran, too: it runs up to its first suspension point,
    /// and one that finishes without suspending resolves to its outcome. Only a child
    /// still queued behind its group's concurrency limit never starts: it leaves the
    /// queue and its future is dropped now, on this thread.
    pub fn cancel(&self) {
        self.node.cancel();
        if let Some(limit) = &self.limit {
            // Dropped outside the limit's lock: this runs the child's `Drop`.
            drop(limit.unqueue_cancelled(&self.node));
        }
    }

    /// The child's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // The join handle answers `None` once the output is taken, which would read as
        // a cancel that never happened.
        assert!(
            !this.done,
            "pride: a TaskHandle was polled after it completed"
        );
        let name = &this.name;
        let joined = this.join.poll_join(cx);
        this.done = joined.is_ready();
        crate::debug::task::noting(joined, cx, crate::debug::task::WaitOn::Join).map(|outcome| {
            outcome.unwrap_or_else(|| Err(TaskError::new(name.clone(), Kind::Cancelled)))
        })
    }
}

impl<T> std::fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle")
            .field("name", &self.name)
            .finish()
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    /// A group whose children ran in its scope, linked by their tasks alone, drops
    /// those links when it ends, though a handle to it lives on: they would keep the
    /// finished tasks' cells allocated.
    #[test]
    fn a_finished_group_lets_its_childrens_links_go_while_a_handle_lives() {
        let rt = crate::Runtime::builder().worker_threads(1).build().unwrap();
        let kept = rt.block_on(async {
            let mut kept = None;
            crate::task_group(async |tg| {
                for _ in 0..5 {
                    tg.start_soon(async {});
                }
                kept = Some(tg.clone());
            })
            .await
            .unwrap();
            kept.unwrap()
        });
        assert_eq!(kept.shared.node().link_count(), 0);
    }
}
