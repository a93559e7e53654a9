//! Task groups: the only way to run concurrent work in pride.
//!
//! [`task_group`] opens a group and runs its body; the body (and any child) starts
//! children with [`TaskGroup::start_soon`] or [`TaskGroup::spawn`]. The group's future
//! completes only when the body and every child have finished, and it reports every
//! error and panic in a [`GroupError`]. The first failure cancels the group's scope,
//! so siblings (and the body) are dropped at their next suspension point. Dropping the
//! group's future tears every child down before the drop returns.
//!
//! `shared.rs` holds the lock-free child counter and error stack, `child.rs` the
//! wrapper each child task runs, `error.rs` what a group reports.

mod child;
pub(crate) mod error;
pub(crate) mod isolated;
mod limit;
mod limit_api;
pub(crate) mod shared;
pub(crate) mod start;

pub use self::limit_api::{StartSoonWait, TryStartError};

use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

use self::child::Child;
pub use self::error::{BoxError, GroupClosed, GroupError, TaskError};
use self::error::{Kind, Payload, Reason, TaskOutput};
use self::shared::{GroupShared, Slot};
pub use self::start::{StartError, StartFuture, TaskStatus};
use crate::CancelScope;
use crate::cancel::inside::{Armed, Inside, Step};
use crate::cancel::node::{Enclosing, ScopeNode};
use crate::cancel::{assert_polled_in_place, caught_after_cleanup, current};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::Ordering;
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
///   and waits, inside the drop, for each to be dropped.
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
    TaskGroupFuture {
        limit: None,
        init: Some(body),
        shared: None,
        body: Inside::new(None),
        value: None,
        armed: Armed::new(),
    }
}

/// Like [`task_group`], with at most `limit` children running at once (Go's
/// `errgroup.SetLimit`): [`start_soon`](TaskGroup::start_soon), [`spawn`](TaskGroup::spawn)
/// and [`start`](TaskGroup::start) never block, and queue a child past the limit until
/// a running one finishes; [`try_start_now`](TaskGroup::try_start_now) refuses instead,
/// and [`start_soon_wait`](TaskGroup::start_soon_wait) waits for a free slot.
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
    let mut group = task_group(body);
    group.limit = NonZeroUsize::new(limit);
    group
}

pin_project_lite::pin_project! {
    /// The future of [`task_group`]. `T` is the body's success value.
    ///
    /// A named type with no bounds on its definition, and no `TaskOutput` projection in
    /// its fields, so that a task awaiting a group whose body returns
    /// `Result<_, BoxError>` is still `Send` (rustc cannot prove auto traits through
    /// such a projection inside an `async` block).
    ///
    /// Its fields are word-sized where they can be (no `done` flag: an empty `init` and
    /// `shared` say it; the limit uses `NonZeroUsize`'s niche). A group future is built
    /// and then moved into its caller's state at every `.await`; byte-sized fields
    /// between the words made that move load across several fresh narrow stores, which
    /// the CPU cannot forward, and the stall cost a third of an empty group's time.
    #[must_use = "a task group does nothing unless awaited"]
    pub struct TaskGroupFuture<B, Fut, T> {
        // At most this many children run at once.
        limit: Option<NonZeroUsize>,
        // The body's closure, until the first poll calls it.
        init: Option<B>,
        // Set by the first poll; taken when the group completes.
        shared: Option<Arc<GroupShared>>,
        // The body, polled inside the group's scope.
        #[pin]
        body: Inside<Fut>,
        // The body's value, once it has returned one.
        value: Option<T>,
        armed: Armed,
    }

    impl<B, Fut, T> PinnedDrop for TaskGroupFuture<B, Fut, T> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let Some(shared) = this.shared.take() else {
                return;
            };
            // The body first: it may hold nested groups, whose drops tear down their
            // own. The future is dropped by hand: there is no result left to report a
            // panic from the body's `Drop` in, so it is contained.
            drop(this.body.drop_work());
            teardown(&shared);
            this.armed.clear();
            // Not recycled: a drop may run on a thread outside the runtime (its
            // shutdown), whose free list would then keep the runtime's handle alive.
            drop(shared);
        }
    }
}

impl<B, Fut, T> Future for TaskGroupFuture<B, Fut, T>
where
    B: FnOnce(TaskGroup) -> Fut,
    Fut: Future,
    Fut::Output: TaskOutput<Ok = T>,
{
    type Output = Result<T, GroupError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut loan = None;
        let shared = match this.shared {
            Some(shared) => {
                assert_polled_in_place(shared.node(), "`task_group`");
                shared
            }
            None => {
                let init = this
                    .init
                    .take()
                    .expect("pride: a task group future was polled after it completed");
                let (shared, borrowed) = GroupShared::open(*this.limit, Enclosing::current());
                loan = Some(borrowed);
                let shared = this.shared.insert(shared);
                // The closure is called inside the group's scope; its panic is the body's.
                let group = TaskGroup {
                    shared: shared.clone(),
                };
                let (made, _) = current::enter(shared.node(), || {
                    catch_unwind(AssertUnwindSafe(|| init(group)))
                });
                match made {
                    Ok(body) => this.body.as_mut().set(body),
                    Err(panic) => {
                        shared.report(TaskError::new(None, Kind::Panic(Payload::new(panic))))
                    }
                }
                shared
            }
        };
        let node = shared.node();
        if this.body.is_running() {
            let armed = &mut *this.armed;
            let step = this.body.as_mut().poll(node, cx, |cx| armed.arm(node, cx));
            let failure = match step {
                Step::Pending => return suspended(node),
                Step::Ready(output) => match output.into_result() {
                    Ok(value) => {
                        *this.value = Some(value);
                        None
                    }
                    Err(error) => Some(Kind::Error(error)),
                },
                Step::Panicked(panic) => Some(Kind::Panic(Payload::new(panic))),
                Step::Cancelled(panic) => {
                    shared.cut_short.store(true, Ordering::Release);
                    panic.map(|panic| Kind::Panic(Payload::new(panic)))
                }
            };
            // The body is done (unless it suspended): a panic in its `Drop` (cleanup,
            // often running because it was cancelled) is an entry of the group, before
            // the failure that ended it.
            if let Some(panic) = this.body.as_mut().drop_work() {
                shared.report(TaskError::new(None, Kind::Panic(Payload::new(panic))));
            }
            if let Some(kind) = failure {
                shared.report(TaskError::new(None, kind));
            }
        }
        // The body finished on its first poll, with no child, no failure and no handle
        // left: nothing was linked, armed or cancelled, so the group is done without
        // closing or checking anything else.
        if let Some(borrowed) = loan {
            if this.value.is_some() && GroupShared::is_finished_alone(shared) {
                if let Some(shared) = this.shared.take() {
                    GroupShared::recycle_untouched(shared, borrowed);
                }
                return Poll::Ready(Ok(this.value.take().expect("checked above")));
            }
        }
        // Waiting for the children: the last one wakes the waker registered by `arm`.
        let armed = &mut *this.armed;
        if !GroupShared::close_or_register(shared, || armed.arm(node, cx)) {
            return suspended(node);
        }
        // Closed with no children left: every child future has been dropped. Their
        // links are stale; dropping them breaks the cycle group node -> child node
        // -> parent (the group node) that would otherwise keep both alive.
        drop(ScopeNode::unlink(node));
        drop(node.take_links());
        armed.clear();
        node.mark_exited();
        // Work was dropped because a scope further out was cancelled, and nothing
        // failed: that scope catches, now that the cleanup is over (it decides after
        // the cleanup, so a scope a `Drop` cancelled meanwhile counts too). The group
        // is done, and returns `Pending`, unprotected: the wrapper of that scope, in
        // this task, drops it before this poll returns.
        if shared.cut_short.load(Ordering::Acquire)
            && !caught_after_cleanup(node)
            && !shared.errors.has_any()
        {
            if let Some(shared) = this.shared.take() {
                GroupShared::recycle(shared);
            }
            return Poll::Pending;
        }
        let result = if shared.errors.has_any() {
            let reason = node.reason().cloned();
            Err(GroupError::new(
                shared.errors.drain(),
                Reason::Failed,
                reason,
            ))
        } else if node.deadline_fired() && shared.cut_short.load(Ordering::Acquire) {
            let reason = node.reason().cloned();
            Err(GroupError::new(Vec::new(), Reason::TimedOut, reason))
        } else {
            match this.value.take() {
                Some(value) => Ok(value),
                None => {
                    let reason = node.reason().cloned();
                    Err(GroupError::new(Vec::new(), Reason::Cancelled, reason))
                }
            }
        };
        if let Some(shared) = this.shared.take() {
            GroupShared::recycle(shared);
        }
        Poll::Ready(result)
    }
}

/// The group waits for its body or a child: it tells the wrappers around it not to
/// drop it. A cancel from outside reaches the body and the children through the tree,
/// and the group drains them before it ends.
fn suspended<R>(node: &ScopeNode) -> Poll<R> {
    current::report_suspended(node, true);
    Poll::Pending
}

/// Cancels every child and returns once none is left: idle children are dropped here,
/// on this thread; a child being polled on another worker is dropped by that worker
/// when its poll returns, and we wait for that.
fn teardown(shared: &GroupShared) {
    let node = shared.node();
    node.cancel();
    shared.children.close();
    let mut spins = 0u32;
    loop {
        for link in node.take_links() {
            if let Some(task) = link.task {
                task.cancel();
            }
        }
        // A child whose error waits for an outside `start` caller is not waited
        // for: that caller may never run again, and the group has no outcome left.
        if shared.no_future_left() {
            break;
        }
        spins += 1;
        if spins < 64 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
    // A child counted in before the close may have linked itself after the last
    // take and finished before the count was read: drop its stale link too (it would
    // keep the group node and itself alive through each other).
    drop(node.take_links());
    drop(ScopeNode::unlink(node));
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
        self.start_detached(None, future);
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
        self.start_detached(Some(name.into().into()), future);
    }

    /// Starts `future` as a child, or returns [`GroupClosed`] if the group has exited.
    pub fn try_start_soon<F>(&self, future: F) -> Result<(), GroupClosed>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.try_start_detached(None, future)
    }

    #[track_caller]
    fn start_detached<F>(&self, name: Option<StdArc<str>>, future: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        if self.try_start_detached(name, future).is_err() {
            panic!(
                "pride: `start_soon` on a task group that has already exited; \
                 use `try_start_soon` to handle this case"
            );
        }
    }

    fn try_start_detached<F>(&self, name: Option<StdArc<str>>, future: F) -> Result<(), GroupClosed>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        self.start_with_slot(name, future, Slot::Queue)
            .map_err(|_| GroupClosed)
    }

    /// Counts and launches a detached child; gives the future back if the group is
    /// closed.
    fn start_with_slot<F>(&self, name: Option<StdArc<str>>, future: F, slot: Slot) -> Result<(), F>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        if !self.shared.children.try_add() {
            return Err(future);
        }
        let node = ScopeNode::new();
        let child = Child::new(future, node.clone(), self.shared.clone(), name, false);
        let (notified, task) = task::new_task(Detached { child }, self.shared.handle.clone());
        self.shared.launch(&node, notified, task, slot);
        Ok(())
    }

    /// Starts `future` as a child and returns a handle to its result.
    ///
    /// The child belongs to the group like any other: if it fails, its error goes to
    /// the group (and the handle gets a summary of it). Dropping the handle does not
    /// cancel the child; [`TaskHandle::cancel`] does.
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
        let node = ScopeNode::new();
        let child = Child::new(
            future,
            node.clone(),
            self.shared.clone(),
            name.clone(),
            true,
        );
        let (notified, task, join) = task::new_joinable(child, self.shared.handle.clone());
        self.shared.launch(&node, notified, task, Slot::Queue);
        TaskHandle { join, node, name }
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
/// to the group; the handle gets a summary), panicked, or was cancelled.
pub struct TaskHandle<T> {
    // Unpin: the handle holds no pinned data.
    join: JoinHandle<Result<T, TaskError>>,
    node: Arc<ScopeNode>,
    name: Option<StdArc<str>>,
}

impl<T> TaskHandle<T> {
    /// Cancels this child only. Not a group failure: the handle then resolves to an
    /// error with [`TaskError::is_cancelled`].
    pub fn cancel(&self) {
        self.node.cancel();
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
        let name = &this.name;
        this.join.poll_join(cx).map(|outcome| {
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
