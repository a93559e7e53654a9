//! Clocks: where a runtime reads "now" from.
//!
//! A [`Clock`] is chosen once per runtime (`Builder::clock`). The system clock reads
//! `Instant::now()`. A mock clock reads a fixed base `Instant` plus an atomic offset in
//! nanoseconds; the offset only grows, so mock time is monotonic like real time. An
//! autojump clock is a mock clock that the runtime moves forward to the next timer
//! deadline whenever every task is blocked, so tests full of long sleeps finish at once
//! and still observe exact, reproducible times.

use std::fmt;
use std::time::{Duration, Instant};

use super::driver::Shard;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicU64, Ordering};

/// What moving the system clock panics with: only a mock clock moves by hand.
pub(crate) const SYSTEM_CLOCK_CANNOT_ADVANCE: &str = "pride: `pride::time::advance` needs a \
     mock clock: build the runtime with `.clock(Clock::mock())` or `.clock(Clock::autojump())`";

/// The wheel shards of one runtime's time driver, as a mock clock reaches them.
type DriverShards = std::sync::Weak<[Arc<Shard>]>;

/// The source of time for a runtime: the system clock, a mock clock, or an autojump
/// clock.
///
/// Clones share the same time: advancing one advances all of them. Runtimes built on
/// clones of one mock clock (as runtimes built from one `Builder` are) share it fully:
/// [`advance`](crate::time::advance) in any of them, and an autojump clock's jump,
/// fires the due timers of every runtime on the clock. Each runtime on an autojump
/// clock jumps it when that runtime is idle, to its own next deadline, without waiting
/// for the others to be idle: where several runtimes must agree on when time moves,
/// share a plain mock clock and advance it by hand.
///
/// ```
/// use pride::time::Clock;
///
/// let system = Clock::system();
/// let mock = Clock::mock();
/// let autojump = Clock::autojump();
/// // Pass one of them to `pride::Runtime::builder().clock(..)`.
/// # let _ = (system, mock, autojump);
/// ```
#[derive(Clone)]
pub struct Clock {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    System,
    Mock(Arc<Mock>),
}

struct Mock {
    /// The `Instant` mock time 0 stands for, captured when the clock was made.
    base: Instant,
    /// Nanoseconds since `base`. Only grows (saturating at `u64::MAX`, about 584
    /// years), so mock time never runs backwards.
    offset_nanos: AtomicU64,
    /// Whether the runtime may move this clock to the next deadline when it is idle.
    autojump: bool,
    /// The time drivers of the runtimes built on this clock (dropped ones are pruned
    /// as drivers are added), so that advancing it fires the due timers of each.
    drivers: std::sync::Mutex<Vec<DriverShards>>,
}

impl Clock {
    /// The operating system's monotonic clock (`Instant::now()`). The default.
    pub fn system() -> Clock {
        Clock { kind: Kind::System }
    }

    /// A clock that stands still until `pride::time::advance(d)` moves it.
    ///
    /// It starts at the `Instant` at which it was created. A runtime on a mock clock
    /// whose tasks all wait on timers, with no task left to call `advance`, waits
    /// forever: use [`Clock::autojump`] for that.
    ///
    /// Mock time ends about 584 years after the start: advancing further (by
    /// `Duration::MAX`, say) stops there, and a clock at its end is past every
    /// deadline, so every sleep on it completes at once, but for one whose deadline
    /// lies more than about 146 million years after the runtime started, which never
    /// completes: timers treat deadlines that far off as never, and put a deadline that
    /// overflowed `Instant` (`sleep(Duration::MAX)`'s) there.
    pub fn mock() -> Clock {
        Clock::new_mock(false)
    }

    /// A mock clock that the runtime advances to the next timer deadline whenever every
    /// task is blocked (Trio's `MockClock(autojump_threshold=0)`).
    ///
    /// Sleeps finish at once in real time, while `current_time()` reports exact,
    /// reproducible times: after `sleep(d)` the clock reads the sleep's deadline, to
    /// the nanosecond. `pride::time::advance(d)` moves it too.
    ///
    /// "Blocked" means waiting on something other than a running computation: a task
    /// waiting for [`to_thread`](crate::to_thread) work (and so for `pride::fs`) is not
    /// blocked while that work is queued or running, and time does not jump then. The
    /// one exception is a `to_thread` closure that calls
    /// [`Runtime::block_on`](crate::Runtime::block_on) of its own runtime: while it is
    /// inside that call, the closure does not hold the clock, and the call's root future
    /// counts as any `block_on`'s does (time jumps when it, too, is blocked). A closure
    /// whose future was dropped (its task cancelled) runs on, but holds the clock no
    /// longer: nobody waits for it. So a closure that waits, through an executor of its
    /// own or on another thread, for tasks of its runtime that wait on time waits for
    /// ever (nothing reports it): wait in the runtime's `block_on` on the closure's own
    /// thread instead. A `block_on` root that blocks its thread the same way (a foreign
    /// executor's `block_on` inside it) holds the clock too. A task waiting on a
    /// socket, a pipe or a child process counts as blocked, as in Trio.
    /// Before time jumps, the runtime looks for what the kernel already holds: bytes
    /// that a task of the runtime has written to its peer over a Unix socket or a pipe,
    /// or a Unix connection it has made, are seen first, and no deadline overtakes them
    /// (TCP on loopback almost always delivers as promptly, but the kernel may defer it
    /// under load). Only this runtime's sockets are looked at, when several share the
    /// clock. A peer outside the runtime (a child process, another program, a remote
    /// host) gets no real time to answer: time jumps past any deadline while it works.
    /// Test such code on the system clock.
    ///
    /// Every task blocked with no timer left to jump to, and no socket registered, is a
    /// deadlock: only another thread can wake a task now. After 100 ms of real time in
    /// that state the runtime prints "pride: every task is blocked and no timer is
    /// armed" and the task tree (each `block_on`, its groups, scopes and tasks by name)
    /// to stderr, once per episode, or hands it to
    /// [`Builder::on_deadlock`](crate::Builder::on_deadlock). It does not panic and goes
    /// on waiting, since a std thread may still set the event a task waits for. While a
    /// socket is registered nothing is reported: a peer outside the runtime may still
    /// send.
    pub fn autojump() -> Clock {
        Clock::new_mock(true)
    }

    fn new_mock(autojump: bool) -> Clock {
        Clock {
            kind: Kind::Mock(Arc::new(Mock {
                base: Instant::now(),
                offset_nanos: AtomicU64::new(0),
                autojump,
                drivers: Default::default(),
            })),
        }
    }

    /// The current time of this clock.
    pub(crate) fn now(&self) -> Instant {
        match &self.kind {
            Kind::System => Instant::now(),
            Kind::Mock(mock) => {
                let offset = Duration::from_nanos(mock.offset_nanos.load(Ordering::Acquire));
                mock.base.checked_add(offset).unwrap_or(mock.base)
            }
        }
    }

    /// Whether this is a mock clock (plain or autojump).
    pub(crate) fn is_mock(&self) -> bool {
        matches!(self.kind, Kind::Mock(_))
    }

    /// Whether this is a mock clock moved as far as it goes: it can move no further, so
    /// the time driver treats it as past every deadline.
    pub(crate) fn is_at_end(&self) -> bool {
        matches!(&self.kind, Kind::Mock(mock) if mock.offset_nanos.load(Ordering::Acquire) == u64::MAX)
    }

    /// Whether the runtime should jump this clock to the next deadline when idle.
    pub(crate) fn is_autojump(&self) -> bool {
        matches!(&self.kind, Kind::Mock(mock) if mock.autojump)
    }

    /// Moves a mock clock forward by `d` (saturating).
    ///
    /// # Panics
    ///
    /// On the system clock, which cannot be moved.
    pub(crate) fn advance(&self, d: Duration) {
        let mock = self.expect_mock();
        let add = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // `fetch_update` with a closure that always returns `Some` cannot fail.
        let _ = mock
            .offset_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |off| {
                Some(off.saturating_add(add))
            });
    }

    /// Moves a mock clock forward to `target`; never backwards.
    ///
    /// # Panics
    ///
    /// On the system clock.
    pub(crate) fn advance_to(&self, target: Instant) {
        let mock = self.expect_mock();
        let nanos = target.saturating_duration_since(mock.base).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        mock.offset_nanos.fetch_max(nanos, Ordering::AcqRel);
    }

    /// Records the shards of a time driver built on this clock (a mock one; else
    /// nothing), for `drivers`.
    pub(crate) fn add_driver(&self, shards: DriverShards) {
        if let Kind::Mock(mock) = &self.kind {
            let mut drivers = mock.drivers.lock().unwrap_or_else(|e| e.into_inner());
            drivers.retain(|d| d.strong_count() > 0);
            drivers.push(shards);
        }
    }

    /// How many drivers this clock keeps handles to, alive or not (for tests).
    #[cfg(all(test, not(pride_loom)))]
    pub(crate) fn driver_slots(&self) -> usize {
        match &self.kind {
            Kind::System => 0,
            Kind::Mock(mock) => mock.drivers.lock().unwrap_or_else(|e| e.into_inner()).len(),
        }
    }

    /// The shards of every time driver alive on this clock (none on the system clock).
    pub(crate) fn drivers(&self) -> Vec<std::sync::Arc<[Arc<Shard>]>> {
        match &self.kind {
            Kind::System => Vec::new(),
            Kind::Mock(mock) => {
                let drivers = mock.drivers.lock().unwrap_or_else(|e| e.into_inner());
                drivers.iter().filter_map(|d| d.upgrade()).collect()
            }
        }
    }

    fn expect_mock(&self) -> &Mock {
        match &self.kind {
            Kind::Mock(mock) => mock,
            Kind::System => panic!("{SYSTEM_CLOCK_CANNOT_ADVANCE}"),
        }
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::System => f.write_str("Clock::system()"),
            Kind::Mock(mock) => f
                .debug_struct(if mock.autojump {
                    "Clock::autojump"
                } else {
                    "Clock::mock"
                })
                .field(
                    "elapsed",
                    &Duration::from_nanos(mock.offset_nanos.load(Ordering::Relaxed)),
                )
                .finish(),
        }
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;

    #[test]
    fn mock_stands_still_until_advanced() {
        let clock = Clock::mock();
        let t0 = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), t0 + Duration::from_millis(1500));
        assert!(clock.is_mock() && !clock.is_autojump());
    }

    #[test]
    fn clones_share_time_and_advance_to_never_goes_back() {
        let clock = Clock::autojump();
        let other = clock.clone();
        let t0 = clock.now();
        other.advance_to(t0 + Duration::from_secs(3));
        assert_eq!(clock.now(), t0 + Duration::from_secs(3));
        clock.advance_to(t0 + Duration::from_secs(1));
        assert_eq!(clock.now(), t0 + Duration::from_secs(3));
        assert!(clock.is_autojump() && clock.is_mock());
    }

    #[test]
    fn advance_saturates_at_the_end_of_the_clock() {
        let clock = Clock::mock();
        let start = clock.now();
        assert!(!clock.is_at_end());
        clock.advance(Duration::MAX);
        let end = clock.now();
        assert!(clock.is_at_end());
        assert!(end - start > Duration::from_secs(500 * 365 * 24 * 3600));
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), end);
    }

    #[test]
    #[should_panic(expected = "needs a mock clock")]
    fn system_clock_cannot_advance() {
        Clock::system().advance(Duration::from_secs(1));
    }

    #[test]
    fn debug_names_the_kind() {
        assert_eq!(format!("{:?}", Clock::system()), "Clock::system()");
        assert!(format!("{:?}", Clock::autojump()).starts_with("Clock::autojump"));
    }
}
