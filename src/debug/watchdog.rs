//! The blocked-worker watchdog: a thread that notices a poll running too long.
//!
//! Every worker bumps its `poll_seq` counter before and after each poll (see
//! `runtime/metrics.rs`), so the counter is odd exactly while a poll runs. The watchdog
//! wakes a few times per threshold and compares each worker's counter with what it saw
//! before: the same odd value for at least the threshold means one poll has held the
//! worker that long. It reports that poll once, with the name of the task if the task
//! has one (a named task's poll publishes its name in the worker's counters). The
//! workers pay nothing for this beyond the counter they keep anyway.
//!
//! At each look the watchdog also tends the runtime (a [`Tend`]): it advances the
//! coarse clock that stamps polls, and for each worker held past the threshold it moves
//! the task in that worker's LIFO slot where the other workers can take it. It does so
//! with the report turned off too (`blocked_poll_threshold(None)`), watching then at
//! the default threshold and reporting nothing: without the hand-off, that task would
//! wait for the held worker.
//!
//! A runtime with nothing to do is not looked at. When a look finds no poll running,
//! the looks have backed off to one per threshold, and the previous look was not the
//! one a ring caused, and every worker is parked, the watchdog dozes: it sets its
//! [`Bell`]'s flag and waits without a timeout. The flag is set under the lock that
//! every worker takes on its way out of a park, so the first worker to wake sees it,
//! clears it and rings the bell (a lock and a condvar notification); the watchdog looks
//! at once, and then once per threshold again. No poll can begin while every worker is
//! parked, so a dozing watchdog misses none. Every other wake-up costs a worker one
//! relaxed load, and since a ring is followed by at least one threshold without a doze,
//! rings come at most once per threshold.

use std::fmt;
use std::sync::Arc as StdArc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Condvar, Mutex};

use crate::runtime::idle::Idle;
use crate::runtime::metrics::{Counters, WorkerCounters};

/// A poll that has kept its worker thread busy for longer than the runtime's
/// [`blocked_poll_threshold`](crate::Builder::blocked_poll_threshold).
///
/// While one poll runs, its worker runs nothing else: a blocking call (a
/// `std::thread::sleep`, a synchronous lock or file read, a long computation) inside
/// async code stalls every task queued behind it on that worker. Move such work to
/// [`to_thread`](crate::to_thread), or break it up with [`yield_now`](crate::yield_now).
///
/// The time counted is wall-clock time: on a machine so loaded that the OS keeps a
/// worker thread off the CPU for longer than the threshold, a short poll can be
/// reported too.
///
/// Its `Display` is the message printed to stderr when no
/// [`on_blocked_worker`](crate::Builder::on_blocked_worker) handler is set.
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// let (tx, rx) = mpsc::channel();
/// let tx = std::sync::Mutex::new(tx);
/// let rt = pride::Runtime::builder()
///     .worker_threads(2)
///     .blocked_poll_threshold(Some(Duration::from_millis(50)))
///     .on_blocked_worker(move |blocked| {
///         let _ = tx.lock().unwrap().send(blocked.task_name().map(str::to_owned));
///     })
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     pride::task_group(async |tg| {
///         tg.start_soon_named("compress", async move {
///             // A blocking wait in async code: it holds the worker until reported.
///             let reported = rx.recv_timeout(Duration::from_secs(60)).unwrap();
///             assert_eq!(reported.as_deref(), Some("compress"));
///         });
///     })
///     .await
///     .unwrap();
/// });
/// assert!(rt.metrics().blocked_polls >= 1);
/// ```
#[derive(Debug, Clone)]
pub struct BlockedWorker {
    worker: usize,
    task: Option<StdArc<str>>,
    blocked_for: Duration,
}

impl BlockedWorker {
    /// The index of the worker thread (its thread is named `{thread_name}-{index}`).
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// The name of the task being polled, if it was started with a name.
    pub fn task_name(&self) -> Option<&str> {
        self.task.as_deref()
    }

    /// How long, at least, the poll had run when it was reported: the time since the
    /// watchdog first saw it running, which is at least the threshold. The poll may
    /// have begun up to about a threshold before that first look (the watchdog looks a
    /// few times per threshold while a poll runs, once per threshold while none does),
    /// and so have run up to that much longer. Polls are not timed from their start,
    /// which would cost every poll a clock read.
    pub fn blocked_for(&self) -> Duration {
        self.blocked_for
    }
}

impl fmt::Display for BlockedWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pride: worker {} has been polling ", self.worker)?;
        match &self.task {
            Some(name) => write!(f, "task {name:?}")?,
            None => write!(f, "an unnamed task")?,
        }
        write!(
            f,
            " for at least {} ms without returning; every task queued on that worker \
             waits. Move blocking calls to `pride::to_thread`.",
            self.blocked_for.as_millis()
        )
    }
}

/// What the runtime does with a report.
pub(crate) type Report = StdArc<dyn Fn(&BlockedWorker) + Send + Sync>;

/// What the watchdog does to its runtime at each look, given the workers held by one
/// poll past the threshold.
pub(crate) type Tend = Box<dyn Fn(&[usize]) + Send>;

/// Runs the closure given with the runtime's idle state, if the runtime still exists.
pub(crate) type WithIdle = Box<dyn Fn(&dyn Fn(&Idle)) + Send>;

/// Where the watchdog waits between looks: woken early to stop, or by the first worker
/// to wake up while the watchdog dozes. Built on the sync facade, so that the loom
/// model of the idle protocol (`loom-tests/idle.rs`) runs it with the real `Idle`.
pub struct Bell {
    stopped: Mutex<bool>,
    rung: Condvar,
    /// Set while the watchdog waits for a worker to wake up instead of for a timeout.
    /// Relaxed is enough: it is set under the idle lock that a worker takes before it
    /// reads it, and the watchdog reads it under `stopped`, which a worker takes after
    /// clearing it.
    dozing: AtomicBool,
}

impl Default for Bell {
    fn default() -> Bell {
        Bell::new()
    }
}

impl Bell {
    /// Not dozing, not stopped.
    pub fn new() -> Bell {
        Bell {
            stopped: Mutex::new(false),
            rung: Condvar::new(),
            dozing: AtomicBool::new(false),
        }
    }

    /// Marks the watchdog as dozing, so that its next wait lasts until a worker wakes,
    /// if every worker of `idle` is parked and `quiet()`. Both are decided, and the mark
    /// made, under the lock each worker takes on its way out of a park: the next worker
    /// to wake sees the mark.
    pub fn doze_if_idle(&self, idle: &Idle, quiet: impl Fn() -> bool) {
        idle.if_all_parked(&mut || {
            if quiet() {
                self.dozing.store(true, Ordering::Relaxed);
            }
        });
    }

    /// Called by a worker that woke up and counts as unparked again: wakes the
    /// watchdog if it dozes.
    #[inline]
    pub fn worker_woke(&self) {
        if self.dozing.load(Ordering::Relaxed) && self.dozing.swap(false, Ordering::Relaxed) {
            // Under the lock: the watchdog either waits already or has not yet read
            // the flag, which it reads under this lock.
            let _stopped = self.stopped.lock();
            self.rung.notify_one();
        }
    }

    /// Whether the watchdog dozes now.
    pub fn dozing(&self) -> bool {
        self.dozing.load(Ordering::Relaxed)
    }

    /// Waits `period`, or while dozing until a worker wakes up, or until stopped.
    /// Returns `None` once stopped, else whether it dozed.
    pub fn wait(&self, period: Duration) -> Option<bool> {
        let mut stopped = self.stopped.lock();
        let dozed = self.dozing();
        if dozed {
            while !*stopped && self.dozing() {
                self.rung.wait(&mut stopped);
            }
        } else if !*stopped {
            let _ = self.rung.wait_for(&mut stopped, period);
        }
        (!*stopped).then_some(dozed)
    }

    fn stop(&self) {
        *self.stopped.lock() = true;
        self.rung.notify_one();
    }
}

/// The default report: a line on stderr.
pub(crate) fn print_report() -> Report {
    StdArc::new(|blocked: &BlockedWorker| eprintln!("{blocked}"))
}

/// Publishes the name of the named task a worker is polling, for the report, until
/// dropped. Unnamed tasks (and polls on threads that are not workers) cost nothing.
pub(crate) fn polling_named(name: Option<&StdArc<str>>) -> NamedPoll {
    let Some(name) = name else {
        return NamedPoll(false);
    };
    NamedPoll(crate::runtime::with_worker_counters(|counters| {
        *counters.task_name.lock() = Some(name.clone());
    }))
}

/// Clears the published name when the poll ends.
pub(crate) struct NamedPoll(bool);

impl Drop for NamedPoll {
    fn drop(&mut self) {
        if self.0 {
            crate::runtime::with_worker_counters(|counters| {
                counters.task_name.lock().take();
            });
        }
    }
}

/// The running watchdog thread; dropping it stops and joins the thread.
pub(crate) struct Watchdog {
    counters: StdArc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching `counters`' workers for polls longer than `threshold`; each is
    /// reported if `report` is set, and its worker tended either way.
    pub(crate) fn start(
        counters: StdArc<Counters>,
        threshold: Duration,
        report: Option<Report>,
        tend: Tend,
        with_idle: WithIdle,
        thread_name: String,
    ) -> std::io::Result<Watchdog> {
        let thread = {
            let counters = counters.clone();
            std::thread::Builder::new()
                .name(thread_name)
                .spawn(move || watch(&counters, threshold, report.as_ref(), &tend, &with_idle))?
        };
        Ok(Watchdog {
            counters,
            thread: Some(thread),
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.counters.watchdog.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the watchdog last saw of one worker.
#[derive(Clone, Copy)]
struct Seen {
    seq: u64,
    since: Instant,
    reported: bool,
}

fn watch(
    counters: &Counters,
    threshold: Duration,
    report: Option<&Report>,
    tend: &Tend,
    with_idle: &WithIdle,
) {
    // Several looks per threshold while a poll runs, so a poll is reported soon after
    // it crosses it; while no worker is polling, the looks back off to one per
    // threshold, and stop while every worker sleeps. A poll is first seen at most one
    // threshold after it began, and reported at most two after.
    let busy_period = (threshold / 4).max(Duration::from_millis(1));
    let idle_period = threshold.max(busy_period);
    let mut period = busy_period;
    let start = Instant::now();
    let mut seen = vec![
        Seen {
            seq: 0,
            since: start,
            reported: false
        };
        counters.workers.len()
    ];
    let mut held = Vec::new();
    let bell = &counters.watchdog;
    while let Some(dozed) = bell.wait(period) {
        let now = Instant::now();
        let polling = counters.any_polling();
        // Back from a doze, the next look may as well be a threshold away: a poll
        // that begins now is still seen within one threshold.
        period = if polling {
            busy_period
        } else if dozed {
            idle_period
        } else {
            (period * 2).min(idle_period)
        };
        held.clear();
        for (index, (worker, seen)) in counters.workers.iter().zip(&mut seen).enumerate() {
            let blocked = look(index, worker, seen, now, threshold);
            if let (Some(blocked), Some(report)) = (blocked, report) {
                counters.blocked_polls.bump_shared();
                // A panicking handler must not kill the watchdog.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| report(&blocked)));
            }
            if seen.reported {
                held.push(index);
            }
        }
        tend(&held);
        // Quiet for a while (and not just rung): if every worker sleeps, and none of
        // them inside a poll (waiting for a `par` job), sleep until one wakes.
        if !polling && !dozed && period == idle_period {
            with_idle(&|idle| bell.doze_if_idle(idle, || !counters.any_polling()));
        }
    }
}

/// Looks at one worker; returns the report if its current poll just crossed the
/// threshold.
fn look(
    index: usize,
    worker: &WorkerCounters,
    seen: &mut Seen,
    now: Instant,
    threshold: Duration,
) -> Option<BlockedWorker> {
    let seq = worker.poll_seq.get();
    if seq % 2 == 0 || seq != seen.seq {
        *seen = Seen {
            seq,
            // Read after `seq`, so not before the poll began: `blocked_for` is never
            // more than the poll had run.
            since: Instant::now(),
            reported: false,
        };
        return None;
    }
    let blocked_for = now.duration_since(seen.since);
    if seen.reported || blocked_for < threshold {
        return None;
    }
    let task = worker.task_name.lock().clone();
    // The poll may have ended (and another begun) while we read the name: then the
    // name may not be the blocking task's, and the poll is not blocked any more.
    if worker.poll_seq.get() != seq {
        return None;
    }
    seen.reported = true;
    Some(BlockedWorker {
        worker: index,
        task,
        blocked_for,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    use super::*;

    /// A watchdog over a stand-in runtime whose one worker is parked and never polls:
    /// it dozes once its looks have backed off, makes no look while it dozes, looks
    /// again once a waking worker rings it, dozes again a threshold later, and stops
    /// while dozing. Nothing else can ring it, so the count of looks is exact.
    #[test]
    fn a_dozing_watchdog_makes_no_look_until_rung() {
        const THRESHOLD: Duration = Duration::from_millis(4);
        /// Long enough that only a bug makes a wait run out.
        const PATIENCE: Duration = Duration::from_secs(30);
        let counters = StdArc::new(Counters::new(1));
        let idle = StdArc::new(Idle::new(1));
        let _ = idle.transition_worker_to_parked(0, false);
        let looks = StdArc::new(AtomicUsize::new(0));
        let tend: Tend = {
            let looks = looks.clone();
            Box::new(move |_| {
                looks.fetch_add(1, Relaxed);
            })
        };
        let with_idle: WithIdle = Box::new(move |then| then(&idle));
        let watchdog = Watchdog::start(
            counters.clone(),
            THRESHOLD,
            Some(print_report()),
            tend,
            with_idle,
            "pride-test-watchdog".into(),
        )
        .unwrap();
        let bell = &counters.watchdog;
        let until = |what: &str, done: &dyn Fn() -> bool| {
            let start = Instant::now();
            while !done() {
                assert!(start.elapsed() < PATIENCE, "{what}");
                std::thread::sleep(Duration::from_millis(1));
            }
        };

        until("the watchdog never dozed", &|| bell.dozing());
        // The look that dozed was counted before the doze began.
        let before = looks.load(Relaxed);
        std::thread::sleep(THRESHOLD * 25);
        assert_eq!(
            looks.load(Relaxed),
            before,
            "the watchdog looked while dozing"
        );

        bell.worker_woke();
        until("the ring brought no look", &|| looks.load(Relaxed) > before);
        until("the watchdog never dozed again", &|| bell.dozing());
        // Not at the look the ring caused, but at the next one, a threshold later: a
        // worker rings at most once per threshold.
        assert_eq!(looks.load(Relaxed), before + 2);
        // Stops and joins the thread, which dozes.
        drop(watchdog);
    }
}
