//! `TaskGroup::start`: run a child until it says it has started, and hand its value to
//! the caller.
//!
//! Until `started(v)`, the child belongs to the caller:
//! - its scope node is *shielded*, so cancelling the target group does not reach it;
//! - a *caller node*, entered below the caller's scope when the start is launched,
//!   stands for the caller's scopes: a cancel of one of them reaches it through the
//!   tree, and cancels the child's node at once if the child is still the caller's
//!   (the caller node links to the start, see `ScopeNode::set_start_child`), which
//!   wakes what runs inside the child. The child's poll also cancels its own node if
//!   it finds the caller node cancelled (a start launched in a scope already
//!   cancelled). `started(v)` after that cancel does nothing: the child stays
//!   cancelled and never joins the group. Which came first, the hand-over or the
//!   cancel, is decided under the start's lock: `started`, a dropped status, and the
//!   cancel's look (after the cancel flag is set) each decide there;
//! - the caller's drop (it was cancelled) cancels the child's own node too;
//! - a child cancelled as its caller's while it still waits behind its group's
//!   concurrency limit never runs: the caller's drop takes it out of the queue, and a
//!   slot that comes first drops it instead of running it (see `limit.rs`);
//! - an error or panic goes to the starter as [`StartError::Failed`], not to the group,
//!   unless the caller was cancelled or went away: then it goes to the group as the
//!   child's failure (never lost);
//! - the child still counts as one of the group's children, so it keeps the group open;
//!   a child that failed while its caller waited stays counted, after its future is
//!   gone, until the caller has taken its error or handed it to the group: a caller
//!   outside the group cannot lose it to a group that has already drained.
//!
//! `started(v)` hands `v` over and unshields the node: from then on the child is an
//! ordinary member of the group, and its errors go there. A child that drops its
//! status without `started` and keeps running joins the group the same way, unless a
//! scope of the caller's was cancelled before the drop: then, as after `started`, it
//! stays cancelled and never joins the group.
//!
//! A status dropped *by the child's own poll* (its future returned or unwound, taking
//! the status with it) does not decide at once: the wrapper decides after the poll,
//! so that an error or panic is reported as `Failed`, not as `NotStarted`.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};

use super::child::Child;
use super::error::{TaskError, TaskOutput};
use super::shared::{GroupShared, Slot};
use super::{Detached, TaskGroup};
use crate::cancel::node::ScopeNode;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::task;

/// Why [`TaskGroup::start`] did not return a value.
#[derive(Debug)]
pub enum StartError {
    /// The task returned, or dropped its [`TaskStatus`], without calling `started`
    /// (also when a cancel of the caller's scopes dropped it, and the start future is
    /// awaited again after the scope that caught that cancel).
    NotStarted,
    /// The task failed or panicked before calling `started`.
    Failed(TaskError),
    /// The group had already exited (the task function was not called).
    Closed,
}

/// What a failed start's text says before the task's failure.
pub(super) const FAILED_BEFORE_STARTED: &str = "the task failed before it started: ";

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NotStarted => {
                f.write_str("the task ended without calling `TaskStatus::started`")
            }
            StartError::Failed(e) => write!(f, "{FAILED_BEFORE_STARTED}{e}"),
            StartError::Closed => {
                f.write_str("the task group has exited and accepts no more tasks")
            }
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Failed(e) => Some(e),
            _ => None,
        }
    }
}

enum State<T> {
    Waiting(Option<Waker>),
    Started(T),
    /// `holds_count`: the child is gone, and its count in the group was left to
    /// whoever takes the error.
    Failed {
        error: TaskError,
        holds_count: bool,
    },
    NotStarted,
    /// The caller took the outcome, or went away.
    Done,
}

pub(crate) struct StartShared<T> {
    state: Mutex<State<T>>,
    /// The child's node.
    node: Arc<ScopeNode>,
    /// Entered below the caller's scope: cancelled (through the tree) when one of the
    /// caller's scopes is.
    caller: Arc<ScopeNode>,
    /// The status was dropped during the child's own poll; the wrapper decides.
    status_dropped: AtomicBool,
}

thread_local! {
    /// The start whose child is being polled on this thread (its `StartShared`'s
    /// address), so a `TaskStatus` dropped by that poll defers to the wrapper.
    static POLLING: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` (the child's poll) with `link` marked as the start being polled.
pub(crate) fn polling<R>(link: &dyn StartLink, f: impl FnOnce() -> R) -> R {
    struct Restore(*const ());
    impl Drop for Restore {
        fn drop(&mut self) {
            POLLING.with(|p| p.set(self.0));
        }
    }
    let _restore = Restore(POLLING.with(|p| p.replace(link.id())));
    f()
}

/// What the child wrapper needs from a start in progress, whatever `T` is.
pub(crate) trait StartLink: Send + Sync {
    /// The child failed: give the error to the starter if it still waits, else return it.
    fn try_fail(&self, error: TaskError) -> Result<(), TaskError>;
    /// Before each poll of the child: registers its waker with the caller node, and if
    /// a scope of the caller's is cancelled while the start waits, cancels the child.
    fn before_poll(&self, waker: &Waker);
    /// A poll of the child ended without failing: if it dropped the status, the start
    /// did not happen.
    fn after_poll(&self);
    /// The child's future is gone. True: its error waits for the caller, who counts
    /// the child out of the group once the error is taken (the child must not).
    fn finished(&self) -> bool;
    /// Identity, for [`polling`].
    fn id(&self) -> *const ();
}

impl<T> StartShared<T> {
    /// A start in progress for the child whose node is `node` (already shielded). Its
    /// caller node enters the caller's scope in [`enter_caller`](Self::enter_caller);
    /// until the start is settled, the child sees the caller's deadlines through it.
    fn new(node: Arc<ScopeNode>) -> Arc<StartShared<T>>
    where
        T: Send + 'static,
    {
        let caller = ScopeNode::new();
        node.set_start_caller(Some(caller.clone()));
        let shared = Arc::new(StartShared {
            state: Mutex::new(State::Waiting(None)),
            node,
            caller,
            status_dropped: AtomicBool::new(false),
        });
        shared
            .caller
            .set_start_child(Some(StdArc::new(CallerLink(shared.clone()))));
        shared
    }

    /// Whether a cancel of the caller's scopes has reached the child: one stands now,
    /// or one cancelled the child's node before (a shield set on the caller's side
    /// since may hide it now). Before the start is over only such a cancel sets that
    /// node's flag. Read under the state lock, where the hand-over is decided.
    fn cancel_reached(&self) -> bool {
        self.caller_cancelled() || self.node.cancel_flag_set()
    }

    /// Whether the child is still the caller's (the start waits) and a cancel of the
    /// caller's scopes has reached it: decided under the state lock.
    fn still_the_callers_and_cancelled(&self) -> bool {
        let state = self.state.lock();
        matches!(*state, State::Waiting(_)) && self.cancel_reached()
    }

    /// The start is over: the child no longer sees its caller's scopes, nor is told of
    /// their cancels (which also ends the cycle between the caller node and the start).
    /// A child cancelled as its caller's stays inside them until it ends.
    fn end_caller_link(&self) {
        self.caller.set_start_child(None);
        self.node.set_start_caller(None);
    }

    /// The caller node enters the caller's scope, `caller_scope`, and is linked there.
    fn enter_caller(&self, caller_scope: Option<Arc<ScopeNode>>) {
        ScopeNode::enter(&self.caller, caller_scope);
    }

    /// Whether a scope of the caller's has been cancelled.
    fn caller_cancelled(&self) -> bool {
        self.caller.cancelled_by().is_some()
    }

    /// The start is over for the caller: its node leaves the caller's scope.
    fn release_caller(&self) {
        ScopeNode::unlink(&self.caller);
    }

    /// The caller's poll: takes the outcome, or registers the caller's waker. With the
    /// outcome: whether the caller must count the (gone) child out of the group.
    fn poll_outcome(&self, cx: &mut Context<'_>) -> Poll<(Result<T, StartError>, bool)> {
        let mut state = self.state.lock();
        let outcome = match std::mem::replace(&mut *state, State::Done) {
            State::Waiting(waker) => {
                let waker = match waker {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                *state = State::Waiting(Some(waker));
                return Poll::Pending;
            }
            State::Started(value) => (Ok(value), false),
            State::Failed { error, holds_count } => (Err(StartError::Failed(error)), holds_count),
            State::NotStarted => (Err(StartError::NotStarted), false),
            // The start ended as cancelled work, and is polled again.
            State::Done => (Err(StartError::NotStarted), false),
        };
        drop(state);
        Poll::Ready(outcome)
    }

    /// The caller went away (it was cancelled) before taking the outcome: if the child
    /// has not started yet, it was the caller's, so it is cancelled too. The caller's
    /// waker is dropped unwoken: nothing waits on this start any more. Returns an
    /// error of the child's that the caller never took, for the group, and whether the
    /// caller must then count the (gone) child out of the group.
    fn caller_gone(&self) -> Option<(TaskError, bool)> {
        self.release_caller();
        let previous = std::mem::replace(&mut *self.state.lock(), State::Done);
        let gone = match previous {
            State::Waiting(waker) => {
                drop(waker);
                self.node.cancel();
                None
            }
            State::Failed { error, holds_count } => Some((error, holds_count)),
            State::Started(_) | State::NotStarted | State::Done => None,
        };
        // No cancel of the caller's scopes need reach the child now. A child cancelled
        // here is still inside them until it ends (its end ends the rest of the link):
        // what it passes on is seen from there.
        self.caller.set_start_child(None);
        gone
    }

    /// Moves from `Waiting` to `next` and wakes the caller; `Err(next)` if the start
    /// was already settled.
    fn settle(&self, next: State<T>) -> Result<(), State<T>> {
        if let Some(waker) = self.transition(next)? {
            waker.wake();
        }
        Ok(())
    }

    /// Moves from `Waiting` to `next`, returning the caller's waker (taken under the
    /// lock, to wake or drop outside it); `Err(next)` if the start was already settled.
    fn transition(&self, next: State<T>) -> Result<Option<Waker>, State<T>> {
        let mut state = self.state.lock();
        match &mut *state {
            State::Waiting(waker) => {
                let waker = waker.take();
                *state = next;
                Ok(waker)
            }
            _ => Err(next),
        }
    }

    /// The child will never call `started`: tell the starter, and let the child (if
    /// it keeps running) belong to the group, where the group's cancel reaches it;
    /// unless a scope of the caller's was cancelled first: then the child stays
    /// cancelled and never joins the group, as after `started`.
    fn not_started(&self) {
        // Decided under the lock, against a cancel's look (see `CallerLink`).
        let (waiting, cancelled, waker) = {
            let mut state = self.state.lock();
            let cancelled = self.cancel_reached();
            match &mut *state {
                State::Waiting(waker) if !cancelled => {
                    let waker = waker.take();
                    *state = State::NotStarted;
                    (true, false, waker)
                }
                State::Waiting(_) => (true, true, None),
                _ => (false, cancelled, None),
            }
        };
        if waiting && cancelled {
            // Before the start is settled: a poll of the child that finds it settled
            // (and so no longer looks at the caller) finds its node cancelled.
            self.node.cancel();
            let _ = self.settle(State::NotStarted);
        } else if waiting {
            if let Some(waker) = waker {
                waker.wake();
            }
            self.node.set_shield(false);
        }
        // After the shield is gone (a shielded node looks through the caller).
        self.end_caller_link();
    }

    /// `started(v)`: hands `v` over, unless a scope of the caller's was cancelled
    /// first (decided under the lock, against a cancel's look), or the start is over.
    fn hand_over(&self, value: T) -> HandOver {
        let waker = {
            let mut state = self.state.lock();
            if self.cancel_reached() {
                return HandOver::CallerCancelled;
            }
            match &mut *state {
                State::Waiting(waker) => {
                    let waker = waker.take();
                    *state = State::Started(value);
                    waker
                }
                _ => return HandOver::Over,
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        HandOver::Done
    }
}

impl<T: Send> StartLink for StartShared<T> {
    fn try_fail(&self, error: TaskError) -> Result<(), TaskError> {
        // A cancelled caller will not take it: the group does.
        if self.caller_cancelled() {
            return Err(error);
        }
        self.settle(State::Failed {
            error,
            holds_count: false,
        })
        .map_err(|state| match state {
            State::Failed { error, .. } => error,
            _ => unreachable!(),
        })
    }

    fn before_poll(&self, waker: &Waker) {
        if !matches!(*self.state.lock(), State::Waiting(_)) {
            return;
        }
        // Registered before the check: a cancel after the check wakes the child.
        self.caller.set_waker(waker);
        // Decided under the lock: a `started` elsewhere (the status was sent to
        // another task) may have handed the child over meanwhile.
        if self.still_the_callers_and_cancelled() {
            self.node.cancel();
        }
    }

    fn after_poll(&self) {
        if self.status_dropped.load(Ordering::Acquire) {
            self.not_started();
        }
    }

    fn finished(&self) -> bool {
        self.not_started();
        match &mut *self.state.lock() {
            State::Failed { holds_count, .. } => {
                *holds_count = true;
                true
            }
            _ => false,
        }
    }

    fn id(&self) -> *const () {
        self as *const Self as *const ()
    }
}

/// Given to a task started with [`TaskGroup::start`]: call [`started`](Self::started)
/// once the task is ready, with the value `start` returns.
///
/// Dropping it without calling `started` makes `start` return
/// [`StartError::NotStarted`] at once; a task that goes on running after that is an
/// ordinary child of the group, whose errors go to the group. (An `async move` block
/// does not capture a status it never uses: with `|_status| async move { .. }` the
/// status is dropped as the task function returns.)
pub struct TaskStatus<T> {
    link: Option<Arc<StartShared<T>>>,
}

impl<T> TaskStatus<T> {
    /// A status that goes nowhere, to call a task function directly (not through
    /// `start`).
    pub fn ignored() -> TaskStatus<T> {
        TaskStatus { link: None }
    }

    /// Signals that the task has started: `start` returns `value`, and the task now
    /// belongs to the group.
    ///
    /// If the caller of `start` was cancelled before this call, it does nothing: the
    /// task stays cancelled (it is dropped at its next suspension point), and never
    /// joins the group.
    pub fn started(mut self, value: T) {
        if let Some(link) = self.link.take() {
            match link.hand_over(value) {
                HandOver::Done => {
                    crate::debug::trace::started();
                    link.node.set_shield(false);
                }
                HandOver::CallerCancelled => {
                    // The child stays its caller's, cancelled, until it ends (its end
                    // ends the link): what it passes on is still seen from there.
                    link.node.cancel();
                    return;
                }
                HandOver::Over => {}
            }
            // The start is over: from now on the child sees its group's deadlines.
            link.end_caller_link();
        }
    }
}

/// What [`StartShared::hand_over`] did.
enum HandOver {
    Done,
    /// Not handed over: a scope of the caller's was cancelled first.
    CallerCancelled,
    /// Not handed over: the start was over (the caller went away).
    Over,
}

/// The caller node's link to its start (see `ScopeNode::set_start_child`).
struct CallerLink<T>(Arc<StartShared<T>>);

impl<T: Send> crate::cancel::node::StartChild for CallerLink<T> {
    /// Called by a walk that reached the caller node: a cancel (its flag is set by
    /// then: a `started` or a dropped status that decides after this look sees it, and
    /// one that decided before it has settled the start), or an unshield, which
    /// cancels nothing unless it uncovers a cancel. The walk cancels the child's node
    /// it is given.
    fn look(&self) -> Option<Arc<ScopeNode>> {
        if self.0.still_the_callers_and_cancelled() {
            return Some(self.0.node.clone());
        }
        None
    }
}

impl<T> Drop for TaskStatus<T> {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            let id = Arc::as_ptr(&link) as *const ();
            if POLLING.with(Cell::get) == id {
                link.status_dropped.store(true, Ordering::Release);
            } else {
                link.not_started();
            }
        }
    }
}

impl<T> fmt::Debug for TaskStatus<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskStatus")
            .field("ignored", &self.link.is_none())
            .finish()
    }
}

/// The future of [`TaskGroup::start`].
#[must_use = "a start does nothing unless awaited"]
pub struct StartFuture<F, T> {
    group: TaskGroup,
    name: Option<StdArc<str>>,
    init: Option<F>,
    shared: Option<Arc<StartShared<T>>>,
}

impl<F, T> StartFuture<F, T> {
    pub(super) fn new(group: TaskGroup, name: Option<StdArc<str>>, init: F) -> Self {
        StartFuture {
            group,
            name,
            init: Some(init),
            shared: None,
        }
    }
}

// The future holds no pinned data: the child runs in its own task.
impl<F, T> Unpin for StartFuture<F, T> {}

impl<F, Fut, T> Future for StartFuture<F, T>
where
    F: FnOnce(TaskStatus<T>) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput,
    T: Send + 'static,
{
    type Output = Result<T, StartError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(init) = this.init.take() {
            if let Err(e) = this.launch(init) {
                return Poll::Ready(Err(e));
            }
        }
        let Some(shared) = &this.shared else {
            panic!("pride: a start future was polled after it completed");
        };
        let (outcome, holds_count) = std::task::ready!(shared.poll_outcome(cx));
        shared.release_caller();
        if holds_count {
            this.group.shared.release_held();
        }
        if matches!(outcome, Err(StartError::NotStarted)) && shared.caller_cancelled() {
            // The child did not start because the caller's scope was cancelled: that
            // scope catches. Its wrapper, in this task, drops this future before this
            // poll returns; the future keeps `shared`, settled, to stay pending if it
            // is polled again first. If that scope has come and gone without dropping
            // it, it ends here, not started.
            std::task::ready!(crate::cancel::pending_for_the_catcher(|| ()));
        }
        this.shared = None;
        Poll::Ready(outcome)
    }
}

impl<F, T> StartFuture<F, T> {
    fn launch<Fut>(&mut self, init: F) -> Result<(), StartError>
    where
        F: FnOnce(TaskStatus<T>) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
        T: Send + 'static,
    {
        crate::debug::trace::start(self.name.as_deref());
        let group = &self.group.shared;
        // Counted in before the task function runs: a closed group refuses without
        // calling it, and an open one stays open for the child.
        if !group.children.try_add() {
            return Err(StartError::Closed);
        }
        let node = group.child_node(self.name.clone());
        node.set_shield(true);
        let shared = StartShared::new(node.clone());
        // Entered before `init` runs, so that a `started` made there finds a cancel of
        // the caller's scopes.
        shared.enter_caller(crate::cancel::current::current());
        let unwinding = Unwinding {
            shared: &shared,
            group,
        };
        let future = init(TaskStatus {
            link: Some(shared.clone()),
        });
        std::mem::forget(unwinding);
        let link: std::sync::Arc<dyn StartLink> = std::sync::Arc::new(LinkRef(shared.clone()));
        let child = Child::new(
            future,
            Some(node.clone()),
            group.clone(),
            self.name.clone(),
            false,
        )
        .with_start(link);
        let (notified, task) = task::new_task(Detached { child }, group.handle.clone());
        group.launch(node, notified, task, Slot::Queue);
        self.shared = Some(shared);
        Ok(())
    }
}

/// Undoes a launch that the task function unwound out of: the caller node leaves the
/// caller's scope (it would keep that scope, and itself, alive), and the child, never
/// launched, is counted out of its group.
struct Unwinding<'a, T> {
    shared: &'a StartShared<T>,
    group: &'a GroupShared,
}

impl<T> Drop for Unwinding<'_, T> {
    fn drop(&mut self) {
        self.shared.release_caller();
        self.group.count_out();
    }
}

/// Type-erases the facade `Arc` for the child wrapper.
struct LinkRef<T>(Arc<StartShared<T>>);

impl<T: Send> StartLink for LinkRef<T> {
    fn try_fail(&self, error: TaskError) -> Result<(), TaskError> {
        self.0.try_fail(error)
    }

    fn before_poll(&self, waker: &Waker) {
        self.0.before_poll(waker);
    }

    fn after_poll(&self) {
        self.0.after_poll();
    }

    fn finished(&self) -> bool {
        self.0.finished()
    }

    fn id(&self) -> *const () {
        Arc::as_ptr(&self.0) as *const ()
    }
}

impl<F, T> Drop for StartFuture<F, T> {
    fn drop(&mut self) {
        // The caller went away (it was cancelled) before the child started: the child
        // was the caller's, so it is cancelled too; an error it gave the caller, which
        // the caller never took, goes to the group (among its entries, in the place of
        // when the child failed), before the child, if it is gone, is counted out (so
        // the group cannot have drained without it).
        if let Some(shared) = self.shared.take() {
            let gone = shared.caller_gone();
            if let Some(limit) = &self.group.shared.limit {
                // A child cancelled here that still waits behind the group's limit
                // never runs: it leaves the queue, and is dropped now (outside the
                // limit's lock: this runs the child's `Drop`).
                drop(limit.unqueue_cancelled(&shared.node));
            }
            if let Some((error, holds_count)) = gone {
                self.group.shared.report(error, false);
                if holds_count {
                    self.group.shared.release_held();
                }
            }
        }
    }
}

impl<F, T> fmt::Debug for StartFuture<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartFuture")
            .field("name", &self.name)
            .finish()
    }
}

/// What `loom-tests/start.rs` drives: the hand-over of a start between its caller and
/// its child, without a runtime. Only under `cfg(pride_loom)`; reached as
/// `pride::__loom::start`.
#[cfg(pride_loom)]
pub(crate) mod loom_api {
    use std::sync::Arc as StdArc;
    use std::task::{Context, Poll};

    use super::{LinkRef, StartError, StartLink, StartShared, TaskStatus};
    use crate::cancel::node::ScopeNode;
    use crate::group::TaskError;
    use crate::loom::sync::Arc;

    /// The caller's side: what a [`StartFuture`](super::StartFuture) holds once it has
    /// launched the child. Its `poll` and `Drop` are the future's.
    pub struct Starter<T>(Option<Arc<StartShared<T>>>);

    impl<T> Starter<T> {
        /// `StartFuture::poll`, after the launch.
        pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, StartError>> {
            let Some(shared) = &self.0 else {
                panic!("pride: a start future was polled after it completed");
            };
            let (outcome, _) = std::task::ready!(shared.poll_outcome(cx));
            shared.release_caller();
            self.0 = None;
            Poll::Ready(outcome)
        }
    }

    impl<T> Starter<T> {
        /// `StartFuture::drop`, returning the error it hands to the group.
        pub fn cancel(mut self) -> Option<TaskError> {
            self.0
                .take()
                .and_then(|shared| shared.caller_gone())
                .map(|(error, _)| error)
        }
    }

    impl<T> Drop for Starter<T> {
        /// `StartFuture::drop`.
        fn drop(&mut self) {
            if let Some(shared) = self.0.take() {
                drop(shared.caller_gone());
            }
        }
    }

    /// The child wrapper's side: the link `Child` holds while the start waits.
    pub struct Wrapper(StdArc<dyn StartLink>);

    impl Wrapper {
        /// The child failed: `Ok` if the starter takes the error, else it is returned
        /// (for the group).
        pub fn try_fail(&self, error: TaskError) -> Result<(), TaskError> {
            self.0.try_fail(error)
        }

        /// Runs `f` as the child's poll (a status dropped inside defers to
        /// [`after_poll`](Self::after_poll)).
        pub fn polling<R>(&self, f: impl FnOnce() -> R) -> R {
            super::polling(&*self.0, f)
        }

        /// Before a poll of the child, with its waker.
        pub fn before_poll(&self, waker: &std::task::Waker) {
            self.0.before_poll(waker);
        }

        /// A poll of the child ended without failing.
        pub fn after_poll(&self) {
            self.0.after_poll();
        }

        /// The child's future is gone.
        pub fn finished(&self) {
            self.0.finished();
        }
    }

    /// A start as `StartFuture::launch` sets it up, launched inside `caller_scope`: the
    /// caller's side, the status given to the child, the child wrapper's link, and the
    /// child's (shielded) node.
    pub fn new<T: Send + 'static>(
        caller_scope: Arc<ScopeNode>,
    ) -> (Starter<T>, TaskStatus<T>, Wrapper, Arc<ScopeNode>) {
        let node = ScopeNode::new();
        node.set_shield(true);
        let shared = StartShared::new(node.clone());
        shared.enter_caller(Some(caller_scope));
        let status = TaskStatus {
            link: Some(shared.clone()),
        };
        let wrapper = Wrapper(StdArc::new(LinkRef(shared.clone())));
        (Starter(Some(shared)), status, wrapper, node)
    }
}
