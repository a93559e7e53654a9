//! A task group's own future: it runs the body inside the group's scope, waits for
//! the children, drains them under a cancel, and reports; dropped by hand, it tears
//! every child down.

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::TaskGroup;
use super::error::{GroupError, Kind, Payload, Reason, TaskError, TaskOutput};
use super::shared::GroupShared;
use crate::cancel::inside::{Armed, Inside, Step};
use crate::cancel::node::ScopeNode;
use crate::cancel::{
    assert_polled_in_place, caught_after_cleanup, current, left_for_the_catcher,
    pending_for_the_catcher,
};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::Ordering;

pin_project_lite::pin_project! {
    /// The future of [`task_group`](crate::task_group). `T` is the body's success value.
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
    /// the CPU cannot forward: a stall on every move.
    #[must_use = "a task group does nothing unless awaited"]
    pub struct TaskGroupFuture<B, Fut, T> {
        // At most this many children run at once.
        limit: Option<NonZeroUsize>,
        // The body's closure, until the first poll calls it.
        init: Option<B>,
        // Set by the first poll; taken when the group completes. A group that ended as
        // cancelled work keeps it (closed) until it is dropped, or until it completes
        // as cancelled, polled where no cancel stands.
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
            // It ended as cancelled work (drained, closed): nothing is left to tear down,
            // unless it still waits for a group dropped below it.
            if shared.children.is_closed() && !shared.outlasting.load(Ordering::Relaxed) {
                return;
            }
            // The body first: it may hold nested groups, whose drops tear down their
            // own. The future is dropped by hand: there is no result left to report a
            // panic from the body's `Drop` in, so it is contained.
            drop(this.body.drop_work());
            teardown(&shared);
            this.armed.clear();
        }
    }
}

impl<B, Fut, T> TaskGroupFuture<B, Fut, T> {
    pub(super) fn new(limit: Option<NonZeroUsize>, body: B) -> Self {
        TaskGroupFuture {
            limit,
            init: Some(body),
            shared: None,
            body: Inside::new(None),
            value: None,
            armed: Armed::new(),
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
        let mut init = None;
        let shared = match this.shared {
            Some(shared) => {
                if shared.children.is_closed() && !shared.outlasting.swap(false, Ordering::Relaxed)
                {
                    // It ended as cancelled work that a scope further out catches; if
                    // that scope has come and gone, the body was dropped by a cancel.
                    let node = shared.node();
                    let dropped = pending_for_the_catcher(|| {
                        let reason = node.reason().cloned();
                        Err(GroupError::new(Vec::new(), Reason::Cancelled, reason))
                    });
                    if dropped.is_ready() {
                        *this.shared = None;
                    }
                    return dropped;
                }
                assert_polled_in_place(shared.node(), "`task_group`");
                shared
            }
            None => {
                init = Some(
                    this.init
                        .take()
                        .expect("pride: a task group future was polled after it completed"),
                );
                this.shared
                    .insert(GroupShared::open(*this.limit, current::current()))
            }
        };
        let node = shared.node();
        if init.is_some() || this.body.is_running() {
            let armed = &mut *this.armed;
            let arm = |cx: &Context<'_>| armed.arm(node, cx);
            let step = match init {
                // The closure is called inside the group's scope; its panic is the body's.
                Some(init) => {
                    let group = TaskGroup {
                        shared: shared.clone(),
                    };
                    this.body.as_mut().start(node, cx, arm, || init(group))
                }
                None => this.body.as_mut().poll(node, cx, arm),
            };
            let mut cleanup = false;
            let failure = match step {
                Step::Pending => return suspended(node),
                Step::Ready(output) => match output.into_result() {
                    Ok(value) => {
                        *this.value = Some(value);
                        None
                    }
                    // It only relays a cancel, or a failure a group around it already
                    // has, and a cancel reaches it: it would have been dropped at its
                    // next suspension point, and is cancelled work, not a failure.
                    Err(error)
                        if node.cancelled_by().is_some()
                            && TaskError::only_relays(&error, node) =>
                    {
                        shared.cut_short.store(true, Ordering::Release);
                        None
                    }
                    Err(error) => Some(Kind::Error(error)),
                },
                Step::Panicked(panic) => Some(Kind::Panic(Payload::new(panic))),
                Step::Cancelled(panic) => {
                    shared.cut_short.store(true, Ordering::Release);
                    cleanup = true;
                    panic.map(|panic| Kind::Panic(Payload::new(panic)))
                }
            };
            // The body is done (unless it suspended): the failure that ended it is an
            // entry of the group, then a panic in its `Drop` (cleanup), as for a child.
            if let Some(kind) = failure {
                shared.report(TaskError::of_body(kind), cleanup);
            }
            if let Some(panic) = this.body.as_mut().drop_work() {
                shared.report(TaskError::of_body(Kind::Panic(Payload::new(panic))), true);
            }
        }
        // Waiting for the children: the last one wakes the waker registered by `arm`.
        let armed = &mut *this.armed;
        if !shared.children.close_or_register(|| armed.arm(node, cx)) {
            crate::debug::task::waits(cx, crate::debug::task::WaitOn::Join);
            return suspended(node);
        }
        // A group dropped below this one could not wait for some of its children: they
        // are cancelled, and this group ends once their futures are gone (the last one
        // wakes the waker registered by `arm`). Closed meanwhile: no child can start.
        // `outlasting` says so to the next poll, which clears it and looks again.
        if node.has_leftovers() {
            armed.arm(node, cx);
            if node.has_leftovers() {
                shared.outlasting.store(true, Ordering::Relaxed);
                crate::debug::task::waits(cx, crate::debug::task::WaitOn::Join);
                return suspended(node);
            }
        }
        // Closed with no children left: every child future has been dropped, and their
        // nodes have exited. Dropping their links breaks the cycle group node -> child
        // node -> parent (the group node) that would otherwise keep both alive, and
        // lets the finished children's tasks go. Each node linked below holds a count
        // on this one, as does a `CancelScope` handle that could still set a deadline;
        // a `TaskGroup` handle kept past the body holds a count on `shared` (through
        // which it reaches the scope); a child linked by its task alone marks the
        // node. With none of them (a group that started no child and kept no handle),
        // there is nothing to drop and nobody to tell that the scope has exited.
        ScopeNode::unlink(node);
        armed.clear();
        if Arc::strong_count(node) > 1 || Arc::strong_count(shared) > 1 || node.has_linked_tasks() {
            drop(node.take_links());
            node.mark_exited();
        }
        // Work was dropped because a scope further out was cancelled, and nothing
        // failed: that scope catches, now that the cleanup is over (it decides after
        // the cleanup, so a scope a `Drop` cancelled meanwhile counts too). The group
        // is done, and returns `Pending`, unprotected: the wrapper of that scope, in
        // this task, drops it before this poll returns. It keeps `shared`, closed, to
        // stay pending if it is polled again first.
        if shared.cut_short.load(Ordering::Acquire)
            && !caught_after_cleanup(node)
            && !shared.errors.has_any()
        {
            return left_for_the_catcher(node, cx);
        }
        // Why the group stopped and what failed are apart: a deadline that cut work
        // short is a timeout, and a cancel that dropped the body before its value is a
        // cancel, with the failures that came after them (cleanup panics) as entries;
        // a failure that cancelled the group makes it a failed one.
        let errors = shared.errors.drain();
        let cut_short = shared.cut_short.load(Ordering::Acquire);
        let timed_out = node.deadline_fired() && cut_short;
        let result = match this.value.take() {
            Some(value) if errors.is_empty() && !timed_out => Ok(value),
            value => {
                let why = if timed_out {
                    Reason::TimedOut
                } else if value.is_none()
                    && cut_short
                    && errors.iter().all(TaskError::came_after_cancel)
                {
                    Reason::Cancelled
                } else {
                    Reason::Failed
                };
                Err(GroupError::new(errors, why, node.reason().cloned()))
            }
        };
        *this.shared = None;
        Poll::Ready(result)
    }
}

/// The group waits for its body or a child: it tells the wrappers around it not to
/// drop it (see `cancel::inside`; its node, linked into the tree by `arm`, says so
/// while it is there). A cancel from outside reaches the body and the children through
/// the tree, and the group drains them before it ends.
fn suspended<R>(node: &ScopeNode) -> Poll<R> {
    current::report_suspended(node, true);
    Poll::Pending
}

/// Cancels every child and returns once none is left: idle children are dropped here,
/// on this thread; a child being polled on another worker is dropped by that worker
/// when its poll returns, and we wait for that. It also waits for the futures of a
/// group dropped below this one that could not wait for them.
///
/// A wait for a poll further down this thread's stack would never end, so:
/// - When this thread runs `par` work (a task polled during a `par` call's upkeep, or
///   a piece of a call), the poll of any child, or a piece of its call, may be below:
///   it waits for none.
/// - When the running code is inside this group, it does not wait for what a group
///   dropped below left (that may be the running code), and if it runs in one of the
///   group's children (a child dropping its own group's future), it does not wait for
///   that child.
/// - When the runtime's drop, run inside a task on one of its own workers, drops the
///   runtime's tasks (or has dropped them), the poll of any child may be below (the
///   dropping task's, say, a child of this group or of one inside it): it waits for
///   none. The other workers have been joined by then, so no child is polled
///   anywhere else.
///
/// The children not waited for are cancelled all the same: each is dropped when its
/// poll in progress returns, never polled again. Until the last is gone, every group
/// around this one holds on (see `GroupShared::hand_over`), so none of them ends
/// before these children.
fn teardown(shared: &GroupShared) {
    let node = shared.node();
    // The limit first: a child that ends once the cancel wakes it must not hand its
    // slot to a queued child, which would run.
    if let Some(limit) = &shared.limit {
        limit.close();
    }
    node.cancel();
    shared.children.close();
    let below = Below::here(shared);
    let mut spins = 0u32;
    loop {
        for child in node.take_links() {
            child.cancel_task();
        }
        // A child whose error waits for an outside `start` caller is not waited
        // for: that caller may never run again, and the group has no outcome left.
        let left = shared.futures_left();
        // What a group below left, the groups around hold on for too.
        let leftovers = !below.leftovers && node.has_leftovers();
        if left <= below.children && !leftovers {
            if left == 0 {
                break;
            }
            // The last child to go finishes this teardown. The node leaves its parent
            // now: the work around no longer holds the group. A child linked since the
            // sweep above (counted in before the close, started from another thread) is
            // cancelled too; one linked later still runs to its first suspension.
            shared.hand_over();
            for child in node.take_links() {
                child.cancel_task();
            }
            ScopeNode::unlink(node);
            return;
        }
        spins += 1;
        if spins < 64 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
    // A child counted in before the close may have linked itself after the last
    // take and finished before the count was read: drop its link too (it would keep
    // the group node and itself alive through each other).
    drop(node.take_links());
    ScopeNode::unlink(node);
}

/// What of a group's may run further down this thread's stack, for its teardown.
struct Below {
    /// How many of its children's polls (`usize::MAX`: any number).
    children: usize,
    /// The futures a group dropped below it left.
    leftovers: bool,
}

impl Below {
    #[cold]
    fn here(shared: &GroupShared) -> Below {
        let node = shared.node();
        if crate::par::runs_par_work_here() || shared.handle.dropped_from_this_worker() {
            return Below {
                children: usize::MAX,
                leftovers: true,
            };
        }
        match node.runs_inside() {
            None => Below {
                children: 0,
                leftovers: false,
            },
            Some(in_child) => Below {
                children: usize::from(in_child),
                leftovers: true,
            },
        }
    }
}
