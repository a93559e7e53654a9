//! Unit tests of the task cell with a one-queue test scheduler. They are small enough
//! for Miri (`cargo +nightly miri test --lib task::`), which checks the cell's unsafe
//! code: reference counting, in-place drops, output hand-over.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use super::{Notified, Schedule, new_joinable, new_task};
use crate::loom::sync::Mutex;

#[derive(Default)]
struct Queue {
    tasks: Mutex<VecDeque<Notified>>,
    scheduled: AtomicUsize,
}

#[derive(Clone, Default)]
struct TestScheduler(Arc<Queue>);

impl Schedule for TestScheduler {
    fn schedule(&self, task: Notified) {
        self.0.scheduled.fetch_add(1, Ordering::SeqCst);
        self.0.tasks.lock().push_back(task);
    }
}

impl TestScheduler {
    /// Runs queued tasks until none is left; returns how many runs happened.
    fn run_all(&self) -> usize {
        let mut runs = 0;
        loop {
            let Some(task) = self.0.tasks.lock().pop_front() else {
                return runs;
            };
            task.run();
            runs += 1;
        }
    }

    fn queued(&self) -> usize {
        self.0.tasks.lock().len()
    }
}

/// Counts its drops.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn noop_context<R>(f: impl FnOnce(&mut Context<'_>) -> R) -> R {
    f(&mut Context::from_waker(Waker::noop()))
}

/// Pending until `woken` wakers were stored; hands its waker out through `slot`.
fn park_in(slot: Arc<Mutex<Option<Waker>>>, times: usize) -> impl Future<Output = ()> {
    let mut left = times;
    poll_fn(move |cx| {
        if left == 0 {
            return Poll::Ready(());
        }
        left -= 1;
        *slot.lock() = Some(cx.waker().clone());
        Poll::Pending
    })
}

#[test]
fn a_task_runs_to_completion_and_hands_over_its_output() {
    let sched = TestScheduler::default();
    let (notified, task, mut join) = new_joinable(async { 42 }, sched.clone());
    sched.schedule(notified);
    assert_eq!(sched.run_all(), 1);
    assert!(task.is_complete());
    assert_eq!(noop_context(|cx| join.poll_join(cx)), Poll::Ready(Some(42)));
}

#[test]
fn a_wake_from_outside_queues_the_task_once() {
    let sched = TestScheduler::default();
    let slot = Arc::new(Mutex::new(None));
    let (notified, _task, mut join) = new_joinable(park_in(slot.clone(), 1), sched.clone());
    sched.schedule(notified);
    sched.run_all();
    let waker = slot.lock().take().unwrap();
    waker.wake_by_ref();
    waker.wake_by_ref();
    assert_eq!(
        sched.queued(),
        1,
        "a second wake of a queued task is a no-op"
    );
    drop(waker);
    sched.run_all();
    assert_eq!(noop_context(|cx| join.poll_join(cx)), Poll::Ready(Some(())));
}

#[test]
fn a_wake_during_the_poll_requeues_after_it() {
    let sched = TestScheduler::default();
    let mut yielded = false;
    let future = poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        let by_value = cx.waker().clone();
        by_value.wake();
        Poll::Pending
    });
    let (notified, task) = new_task(future, sched.clone());
    sched.schedule(notified);
    assert_eq!(sched.run_all(), 2, "polled once more, not twice more");
    assert!(task.is_complete());
}

#[test]
fn cancelling_an_idle_task_drops_its_future_at_once() {
    let sched = TestScheduler::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    let slot = Arc::new(Mutex::new(None));
    let parked = park_in(slot.clone(), 1);
    let (notified, task, mut join) = new_joinable(
        async move {
            let _guard = guard;
            parked.await;
        },
        sched.clone(),
    );
    sched.schedule(notified);
    sched.run_all();
    task.cancel();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    task.cancel();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "cancel is idempotent");
    // A late wake finds the task complete.
    slot.lock().take().unwrap().wake();
    assert_eq!(sched.run_all(), 0);
    assert_eq!(noop_context(|cx| join.poll_join(cx)), Poll::Ready(None));
}

/// A task reference turned into the task's own waker still cancels the task, through
/// the waker (how a group tears down an idle child); another waker has no task.
#[test]
fn a_task_cancelled_through_its_own_waker_drops_its_future() {
    let sched = TestScheduler::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    let (notified, task) = new_task(
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        },
        sched.clone(),
    );
    let waker = super::into_waker(task);
    sched.schedule(notified);
    sched.run_all();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    assert_eq!(super::with_task(&waker, |t| t.state_name()), Some("idle"));
    assert_eq!(super::with_task(&waker, super::Task::cancel), Some(()));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(super::with_task(&waker, |t| t.is_complete()), Some(true));
    assert!(super::with_task(Waker::noop(), |_| ()).is_none());
    // The waker held the last reference: dropping it frees the cell (Miri checks).
    drop(waker);
}

#[test]
fn cancelling_a_queued_task_drops_it_and_the_queued_run_is_skipped() {
    let sched = TestScheduler::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    let (notified, task) = new_task(
        async move {
            let _guard = guard;
            unreachable!("never polled");
        },
        sched.clone(),
    );
    sched.schedule(notified);
    task.cancel();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(sched.run_all(), 1);
}

#[test]
fn cancelling_a_running_task_drops_it_when_its_poll_returns() {
    let sched = TestScheduler::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    let me: Arc<Mutex<Option<super::Task>>> = Arc::new(Mutex::new(None));
    let me2 = me.clone();
    let seen = Arc::new(AtomicUsize::new(usize::MAX));
    let (seen2, drops2) = (seen.clone(), drops.clone());
    let future = poll_fn(move |_| {
        let _keep = &guard;
        me2.lock().as_ref().unwrap().cancel();
        seen2.store(drops2.load(Ordering::SeqCst), Ordering::SeqCst);
        Poll::<()>::Pending
    });
    let (notified, task) = new_task(future, sched.clone());
    *me.lock() = Some(task);
    sched.schedule(notified);
    sched.run_all();
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "not dropped inside its own poll"
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "dropped once the poll returned"
    );
    drop(me.lock().take());
}

#[test]
fn dropping_a_queued_notified_drops_the_future() {
    let sched = TestScheduler::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    let (notified, task) = new_task(
        async move {
            let _guard = guard;
        },
        sched.clone(),
    );
    drop(notified);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(task.is_complete());
}

#[test]
fn an_unread_output_is_dropped_with_the_task() {
    let sched = TestScheduler::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let output = DropCount(drops.clone());
    let (notified, task, join) = new_joinable(async move { output }, sched.clone());
    sched.schedule(notified);
    sched.run_all();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "the output waits for the handle"
    );
    drop(join);
    drop(task);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// A dropped join handle lets go of the waker its pending poll left in the cell. Here
/// that waker is the task's own (a reference to its cell): kept there, the cell and
/// its unread output would never be freed.
#[test]
fn a_dropped_join_handle_lets_go_of_its_waker() {
    let sched = TestScheduler::default();
    let slot = Arc::new(Mutex::new(None));
    let drops = Arc::new(AtomicUsize::new(0));
    let output = DropCount(drops.clone());
    let parked = park_in(slot.clone(), 1);
    let (notified, task, mut join) = new_joinable(
        async move {
            parked.await;
            output
        },
        sched.clone(),
    );
    sched.schedule(notified);
    sched.run_all();
    let own = slot.lock().take().unwrap();
    assert!(join.poll_join(&mut Context::from_waker(&own)).is_pending());
    drop(join);
    own.wake();
    sched.run_all();
    assert!(task.is_complete());
    drop(task);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the cell was never freed");
}

#[test]
fn the_join_handle_is_woken_when_the_task_completes() {
    let sched = TestScheduler::default();
    let slot = Arc::new(Mutex::new(None));
    let (notified, _task, mut join) = new_joinable(park_in(slot.clone(), 1), sched.clone());
    sched.schedule(notified);
    sched.run_all();
    let woken = crate::test_util::Counter::new();
    let mut cx = Context::from_waker(woken.waker());
    assert_eq!(join.poll_join(&mut cx), Poll::Pending);
    slot.lock().take().unwrap().wake();
    sched.run_all();
    assert_eq!(woken.wakes(), 1);
    assert_eq!(join.poll_join(&mut cx), Poll::Ready(Some(())));
}

#[test]
fn a_panicking_future_is_contained_and_dropped() {
    let sched = TestScheduler::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    let (notified, task, mut join) = new_joinable(
        async move {
            let _guard = guard;
            if drops_never() {
                return;
            }
            panic!("inside the task");
        },
        sched.clone(),
    );
    sched.schedule(notified);
    sched.run_all();
    assert!(task.is_complete());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(noop_context(|cx| join.poll_join(cx)), Poll::Ready(None));
}

fn drops_never() -> bool {
    std::hint::black_box(false)
}

/// A future whose `Drop` follows a pointer into its own state: the task must drop it
/// where it was pinned, never after moving it.
#[test]
fn a_self_referential_future_is_dropped_in_place() {
    struct Bump<'a>(&'a AtomicUsize);
    impl Drop for Bump<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let sched = TestScheduler::default();
    let slot = Arc::new(Mutex::new(None));
    let parked = park_in(slot.clone(), 1);
    let (notified, task) = new_task(
        async move {
            let counter = AtomicUsize::new(0);
            let _bump = Bump(&counter);
            parked.await;
        },
        sched.clone(),
    );
    sched.schedule(notified);
    sched.run_all();
    task.cancel();
    assert!(task.is_complete());
    drop(slot.lock().take());
}

#[test]
fn wakers_keep_the_task_alive_and_free_it_last() {
    let sched = TestScheduler::default();
    let slot = Arc::new(Mutex::new(None));
    let (notified, task) = new_task(park_in(slot.clone(), 1), sched.clone());
    sched.schedule(notified);
    sched.run_all();
    drop(task);
    let waker = slot.lock().take().unwrap();
    let clones: Vec<Waker> = (0..3).map(|_| waker.clone()).collect();
    drop(clones);
    waker.wake();
    assert_eq!(sched.run_all(), 1);
}

/// An unread output whose `Drop` panics: the panic stays inside the freeing of the task
/// (it does not unwind out of the last reference's drop), and the cell is freed all the
/// same (its scheduler, holding the queue, is gone).
#[test]
fn an_unread_output_that_panics_on_drop_is_contained_and_the_cell_freed() {
    struct Bomb(Arc<AtomicUsize>);
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("the output panics on drop");
        }
    }
    let sched = TestScheduler::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let output = Bomb(drops.clone());
    let (notified, task, join) = new_joinable(async move { output }, sched.clone());
    sched.schedule(notified);
    sched.run_all();
    drop(join);
    drop(task);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(Arc::strong_count(&sched.0), 1, "the cell was not freed");
}
