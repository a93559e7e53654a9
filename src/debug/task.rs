//! What the task-tree dump shows of each task beyond its state: how long ago its latest
//! poll began, and what it waits for.
//!
//! Each task's header holds a [`TaskDebug`] of two relaxed atomics:
//! - `last_poll`, stamped by the worker right before each poll with a coarse clock: the
//!   runtime's [`CoarseTick`], a millisecond tick that workers advance when they wake
//!   from a park and when they turn the driver between tasks, the blocked-worker
//!   watchdog at each of its looks, and every sweep of the timers, before it wakes
//!   anyone (a task a timer woke is stamped no earlier than its deadline, however far
//!   a mock clock jumped). The stamp is one relaxed load and one store, no
//!   clock read; it may lag the true time by the time since the tick last moved.
//! - `waiting`, a [`Wait`] packed in a word, stored by a leaf future (a sleep, a socket,
//!   a lock...) when it returns `Pending` under a task's own waker, and cleared by the
//!   worker before each poll. A future polled under another waker (a combinator's)
//!   records nothing, and the dump then says nothing about the wait; except on a
//!   thread inside `block_on`, whose root future has debug words of its own (kept by
//!   `tree::Root`, stamped with the clock at each of its polls) that such waits go to.
//!   The record is that of the last leaf to go pending in the poll. A leaf dropped in
//!   the same poll after it recorded (a combinator's losing branch) would leave it
//!   standing while the task waits in something that records nothing:
//!   [`select!`](crate::select) forgets it when a branch wins, as it drops the losers.

use std::cell::RefCell;
use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use super::tree::Deadline;

/// A runtime's coarse clock for poll stamps: the tick (milliseconds of the runtime's
/// clock since its time driver was made) last seen by any thread that read the clock.
#[derive(Default)]
pub(crate) struct CoarseTick(AtomicU64);

impl CoarseTick {
    /// Moves the tick forward to `tick` (never back).
    #[inline]
    pub(crate) fn advance(&self, tick: u64) {
        // Read first: the line stays shared while the tick stands still.
        if self.0.load(Ordering::Relaxed) < tick {
            self.0.fetch_max(tick, Ordering::Relaxed);
        }
    }

    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The debug words of one task (see the module docs).
#[derive(Default)]
pub(crate) struct TaskDebug {
    /// The coarse tick at the start of the latest poll, plus one; 0 before the first.
    last_poll: AtomicU64,
    /// What the task waits for, as [`WaitCode`]; 0 when not known.
    waiting: AtomicU64,
}

impl TaskDebug {
    /// A poll begins at `tick`: stamp it, and forget the previous poll's wait.
    #[inline]
    pub(crate) fn polling(&self, tick: u64) {
        self.last_poll.store(tick + 1, Ordering::Relaxed);
        self.waiting.store(0, Ordering::Relaxed);
    }

    /// What the dump reads.
    pub(crate) fn read(&self) -> (Option<u64>, u64) {
        let last = self.last_poll.load(Ordering::Relaxed);
        (last.checked_sub(1), self.waiting.load(Ordering::Relaxed))
    }
}

/// What a task's dump node carries: its state and its debug words.
#[derive(Clone, Copy)]
pub(crate) struct TaskInfo {
    pub(crate) state: &'static str,
    /// The coarse tick its latest poll began at, if it was polled.
    pub(crate) last_poll: Option<u64>,
    pub(crate) waiting: u64,
}

impl TaskInfo {
    pub(crate) fn of(task: &crate::task::Task) -> TaskInfo {
        let (last_poll, waiting) = task.debug().read();
        TaskInfo {
            state: task.state_name(),
            last_poll,
            waiting,
        }
    }
}

/// What a leaf future waits for, as stored in [`TaskDebug`]: the kind in the low byte,
/// a sleep's deadline tick above it.
#[derive(Clone, Copy)]
pub(crate) enum WaitOn {
    /// A sleep (or interval tick) whose deadline is this tick of the time driver of the
    /// runtime the task runs in (whichever runtime the sleep is filed in).
    Sleep(u64),
    Readable,
    Writable,
    Lock,
    Semaphore,
    Queue,
    Event,
    Join,
    Thread,
}

const SLEEP: u64 = 1;
const READABLE: u64 = 2;
const WRITABLE: u64 = 3;
const LOCK: u64 = 4;
const SEMAPHORE: u64 = 5;
const QUEUE: u64 = 6;
const EVENT: u64 = 7;
const JOIN: u64 = 8;
const THREAD: u64 = 9;

impl WaitOn {
    fn code(self) -> u64 {
        match self {
            // A tick beyond 2^56 ms (two million years) saturates.
            WaitOn::Sleep(tick) => (tick.min(u64::MAX >> 8) << 8) | SLEEP,
            WaitOn::Readable => READABLE,
            WaitOn::Writable => WRITABLE,
            WaitOn::Lock => LOCK,
            WaitOn::Semaphore => SEMAPHORE,
            WaitOn::Queue => QUEUE,
            WaitOn::Event => EVENT,
            WaitOn::Join => JOIN,
            WaitOn::Thread => THREAD,
        }
    }
}

/// Records, for the dump, that the task polled under `cx` waits for `on`. Call it where
/// a leaf future returns `Pending` after registering `cx`'s waker. Under a waker that is
/// not a task's own, the wait is recorded for the `block_on` call running on this
/// thread, if any (a thread-local read).
#[inline]
pub(crate) fn waits(cx: &Context<'_>, on: WaitOn) {
    record(cx, on.code());
}

/// Forgets the wait recorded so far in this poll of the task polled under `cx`: the
/// future that recorded it is gone (a losing `select!` branch), and what the task waits
/// in next may record nothing.
#[inline]
pub(crate) fn forget_wait(cx: &Context<'_>) {
    record(cx, 0);
}

#[inline]
fn record(cx: &Context<'_>, code: u64) {
    match crate::task::debug_of(cx.waker()) {
        Some(debug) => debug.waiting.store(code, Ordering::Relaxed),
        None => {
            let _ = ROOT.try_with(|root| {
                if let Some(debug) = &*root.borrow() {
                    debug.waiting.store(code, Ordering::Relaxed);
                }
            });
        }
    }
}

thread_local! {
    /// On a thread inside `block_on`: the debug words of the future it runs.
    static ROOT: RefCell<Option<StdArc<TaskDebug>>> = const { RefCell::new(None) };
}

/// Makes leaf futures polled on this thread under a waker that is not a task's record
/// their waits in `debug`, until dropped.
pub(crate) struct RootWaits(());

impl RootWaits {
    pub(crate) fn enter(debug: StdArc<TaskDebug>) -> RootWaits {
        ROOT.with(|root| *root.borrow_mut() = Some(debug));
        RootWaits(())
    }
}

impl Drop for RootWaits {
    fn drop(&mut self) {
        let _ = ROOT.try_with(|root| root.borrow_mut().take());
    }
}

/// Runs `f` with no `block_on` call's record on this thread: a leaf future it polls
/// under a waker that is not a task's records no wait (for a wait of the runtime's own
/// that no task is in).
pub(crate) fn unrecorded<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<StdArc<TaskDebug>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(debug) = self.0.take() {
                let _ = ROOT.try_with(|root| *root.borrow_mut() = Some(debug));
            }
        }
    }
    let _restore = Restore(
        ROOT.try_with(|root| root.borrow_mut().take())
            .ok()
            .flatten(),
    );
    f()
}

/// `poll`, after recording (as [`waits`] does) that the task waits for `on` if it is
/// pending.
#[inline]
pub(crate) fn noting<T>(poll: Poll<T>, cx: &Context<'_>, on: WaitOn) -> Poll<T> {
    if poll.is_pending() {
        waits(cx, on);
    }
    poll
}

/// What a task waits for, as the dump shows it.
///
/// ```
/// use std::time::Duration;
/// use pride::debug::{Deadline, Wait};
///
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::autojump())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     pride::task_group(async |tg| {
///         tg.start_soon_named("napper", pride::sleep(Duration::from_secs(60)));
///         pride::sleep(Duration::from_secs(1)).await; // every task is blocked by now
///         let dump = pride::debug::dump();
///         let napper = dump.nodes().find(|n| n.name.as_deref() == Some("napper")).unwrap();
///         assert_eq!(napper.waiting, Some(Wait::Sleep(Deadline::In(Duration::from_secs(59)))));
///         tg.cancel_scope().cancel();
///     })
///     .await
///     .unwrap();
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wait {
    /// A [`sleep`](crate::sleep), a timeout's sleep or an interval's tick, until its
    /// deadline.
    Sleep(Deadline),
    /// A socket to become readable (data, a connection to accept, or its end).
    Readable,
    /// A socket to become writable (room in its send buffer, or a connect to finish).
    Writable,
    /// A [`Lock`](crate::Lock) or [`RwLock`](crate::sync::RwLock) to be released.
    Lock,
    /// Permits of a [`Semaphore`](crate::Semaphore), or a
    /// [`CapacityLimiter`](crate::CapacityLimiter)'s token.
    Semaphore,
    /// A queue or channel (also a oneshot, watch or broadcast channel): a value to
    /// receive, room to send one, or the receiver's end.
    Queue,
    /// An [`Event`](crate::Event) to be set, a [`Notify`](crate::sync::Notify) to be
    /// notified, or a [`Barrier`](crate::sync::Barrier) to fill.
    Event,
    /// Child tasks to finish: a [`TaskHandle`](crate::TaskHandle), or a task group
    /// whose body is done and whose children are not.
    Join,
    /// A closure on the blocking pool: a [`to_thread`](crate::to_thread) call, or a
    /// [`fs`](crate::fs) call or name lookup that runs on it.
    Thread,
}

impl Wait {
    /// Unpacks a stored code; `now_tick` is the time driver's tick when the dump was made.
    pub(crate) fn decode(code: u64, now_tick: u64) -> Option<Wait> {
        Some(match code & 0xff {
            SLEEP => {
                let until = code >> 8;
                Wait::Sleep(if until >= now_tick {
                    Deadline::In(std::time::Duration::from_millis(until - now_tick))
                } else {
                    Deadline::Passed(std::time::Duration::from_millis(now_tick - until))
                })
            }
            READABLE => Wait::Readable,
            WRITABLE => Wait::Writable,
            LOCK => Wait::Lock,
            SEMAPHORE => Wait::Semaphore,
            QUEUE => Wait::Queue,
            EVENT => Wait::Event,
            JOIN => Wait::Join,
            THREAD => Wait::Thread,
            _ => return None,
        })
    }

    /// How the dump's text says it.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Wait::Sleep(_) => "waits in a sleep",
            Wait::Readable => "waits for a socket to be readable",
            Wait::Writable => "waits for a socket to be writable",
            Wait::Lock => "waits for a lock",
            Wait::Semaphore => "waits for semaphore permits",
            Wait::Queue => "waits on a queue",
            Wait::Event => "waits for an event",
            Wait::Join => "waits for child tasks to finish",
            Wait::Thread => "waits for a closure on the blocking pool",
        }
    }

    /// The name the dump's JSON uses.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Wait::Sleep(_) => "sleep",
            Wait::Readable => "readable",
            Wait::Writable => "writable",
            Wait::Lock => "lock",
            Wait::Semaphore => "semaphore",
            Wait::Queue => "queue",
            Wait::Event => "event",
            Wait::Join => "join",
            Wait::Thread => "thread",
        }
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Keeps what is scheduled, to run it by hand.
    #[derive(Default)]
    struct Keep(Mutex<Vec<crate::task::Notified>>);

    impl crate::task::Schedule for std::sync::Arc<Keep> {
        fn schedule(&self, task: crate::task::Notified) {
            self.0.lock().unwrap().push(task);
        }
    }

    /// Small enough for Miri (`cargo +nightly miri test --lib debug::task`), which
    /// checks the header reads behind the stamp, the wait record and the dump's read.
    #[test]
    fn a_poll_is_stamped_and_a_leaf_records_its_wait_through_the_tasks_waker() {
        let keep = std::sync::Arc::new(Keep::default());
        let mut first = true;
        let future = std::future::poll_fn(move |cx| {
            if std::mem::take(&mut first) {
                waits(cx, WaitOn::Lock);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(())
        });
        let (notified, task) = crate::task::new_task(future, keep.clone());
        assert_eq!(task.debug().read(), (None, 0));
        notified.debug().polling(41);
        notified.run();
        let (stamp, code) = task.debug().read();
        assert_eq!(stamp, Some(41));
        assert_eq!(Wait::decode(code, 0), Some(Wait::Lock));
        // Woken by itself: queued again; the next poll forgets the wait.
        let again = keep.0.lock().unwrap().pop().expect("the task woke itself");
        again.debug().polling(42);
        assert_eq!(task.debug().read(), (Some(42), 0));
        again.run();
        assert!(task.is_complete());
        // A waker that is not a task's records nothing (and does not crash).
        let cx = Context::from_waker(std::task::Waker::noop());
        waits(&cx, WaitOn::Event);
    }

    #[test]
    fn codes_round_trip() {
        for (on, wait) in [
            (WaitOn::Readable, Wait::Readable),
            (WaitOn::Writable, Wait::Writable),
            (WaitOn::Lock, Wait::Lock),
            (WaitOn::Semaphore, Wait::Semaphore),
            (WaitOn::Queue, Wait::Queue),
            (WaitOn::Event, Wait::Event),
            (WaitOn::Join, Wait::Join),
            (WaitOn::Thread, Wait::Thread),
        ] {
            assert_eq!(Wait::decode(on.code(), 7), Some(wait));
        }
        let sleep = WaitOn::Sleep(1500).code();
        assert_eq!(
            Wait::decode(sleep, 1000),
            Some(Wait::Sleep(Deadline::In(Duration::from_millis(500))))
        );
        assert_eq!(
            Wait::decode(sleep, 2000),
            Some(Wait::Sleep(Deadline::Passed(Duration::from_millis(500))))
        );
        assert_eq!(Wait::decode(0, 0), None);
    }
}
