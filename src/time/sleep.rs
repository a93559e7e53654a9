//! The public face of time: `sleep`, `sleep_until`, `interval`, `current_time`,
//! `advance`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use super::entry::MAX_TICK;
use super::timer::Timer;
use crate::runtime::context::with_time;

/// Where a deadline that overflows `Instant` is put: `MAX_TICK` milliseconds ahead
/// (about 146 million years, which an `Instant` of seconds in an `i64` or `u64`
/// holds), so that its timer is armed for `MAX_TICK`, which no clock reaches: it never
/// fires, on any clock.
const NEVER: Duration = Duration::from_millis(MAX_TICK);

/// `now + d`, or, if that overflows `Instant`, a stand-in that never fires.
pub(crate) fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(NEVER))
        .unwrap_or(now)
}

/// Waits until `duration` has passed on the runtime's clock.
///
/// A zero duration is a yield: the task is rescheduled once and then continues. A
/// duration too large for `Instant` sleeps forever instead of panicking, as does any
/// whose deadline lies more than about 146 million years after the runtime started:
/// timers treat deadlines that far off as never.
/// Timers never fire early. On the system clock they have a resolution of 1 ms; on a
/// mock clock the sleep completes once the clock reaches its deadline exactly.
///
/// # Panics
///
/// When called outside a pride runtime.
///
/// ```
/// use std::time::Duration;
///
/// pride::run(async {
///     let before = pride::current_time();
///     pride::sleep(Duration::from_millis(10)).await;
///     assert!(pride::current_time() - before >= Duration::from_millis(10));
/// });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let now = current_time();
    Sleep {
        timer: Timer::new(deadline_after(now, duration)),
        yield_once: duration.is_zero(),
        yielded: false,
    }
}

/// Waits until the runtime's clock reaches `deadline`. A deadline the clock has
/// already reached completes at the first poll.
///
/// # Panics
///
/// When the returned future is first polled outside a pride runtime (see [`Sleep`]).
///
/// ```
/// use std::time::Duration;
///
/// pride::run(async {
///     let deadline = pride::current_time() + Duration::from_millis(5);
///     pride::sleep_until(deadline).await;
///     assert!(pride::current_time() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        timer: Timer::new(deadline),
        yield_once: false,
        yielded: false,
    }
}

/// The current time of the runtime's clock (the mock time on a mock clock).
///
/// # Panics
///
/// When called outside a pride runtime.
///
/// ```
/// use std::time::Duration;
///
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::mock())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let start = pride::current_time();
///     pride::time::advance(Duration::from_secs(3));
///     assert_eq!(pride::current_time() - start, Duration::from_secs(3));
/// });
/// ```
#[track_caller]
pub fn current_time() -> Instant {
    with_time(|driver| driver.now())
}

/// Moves the runtime's mock clock forward by `d`, waking every sleep whose deadline
/// that reaches (exactly: a deadline within a millisecond is reached when the clock
/// is at it). The woken tasks run when the caller next yields.
///
/// # Panics
///
/// On a runtime with the system clock, or outside a pride runtime.
///
/// ```
/// use std::time::Duration;
/// use pride::time::Clock;
///
/// let rt = pride::Runtime::builder().clock(Clock::mock()).build().unwrap();
/// rt.block_on(async {
///     let t0 = pride::current_time();
///     pride::time::advance(Duration::from_secs(60));
///     assert_eq!(pride::current_time() - t0, Duration::from_secs(60));
/// });
/// ```
#[track_caller]
pub fn advance(d: Duration) {
    let advanced = with_time(|driver| driver.clock().is_mock().then(|| driver.advance(d)));
    if advanced.is_none() {
        panic!("{}", super::clock::SYSTEM_CLOCK_CANNOT_ADVANCE);
    }
}

pin_project_lite::pin_project! {
    /// Future returned by [`sleep`] and [`sleep_until`].
    ///
    /// `Sleep` is `!Unpin`: the runtime's timer wheel points into it once it is polled, so
    /// it must stay put. `.await` pins it for you; to poll it by hand or keep it across a
    /// loop, pin it with `std::pin::pin!` or `Box::pin`. Dropping it cancels the timer.
    ///
    /// A sleep polled again after the runtime it was first polled in was dropped moves
    /// to the runtime it is polled in, and completes there at its deadline; a task
    /// waiting on it when that runtime is dropped is woken to move it.
    ///
    /// The end of a sleep that suspended is a cancellation point for deadlines: if the
    /// deadline of a scope around it has passed too by then, that scope drops the work
    /// (as in Trio, where deadlines expire before any task runs), whichever of the two
    /// timers fired first and whenever the task is polled.
    ///
    /// # Panics
    ///
    /// When polled outside a pride runtime, the first time or after the runtime it was
    /// first polled in was dropped.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Sleep {
        #[pin]
        timer: Timer,
        // Made by `sleep(Duration::ZERO)`: completes after one yield, with no timer.
        yield_once: bool,
        yielded: bool,
    }
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.timer.deadline()
    }

    /// Whether the sleep's timer has fired: the runtime saw its clock reach the
    /// deadline, whether or not the sleep has been polled since (an
    /// [`advance`](crate::time::advance) past the deadline makes it true at once).
    /// False until the first poll, which arms the timer. After
    /// [`reset`](Self::reset) it is false again, unless the clock has already reached
    /// the new deadline and the sleep had armed a timer (then the timer fires at once
    /// and it stays true). A zero sleep is elapsed once it has yielded; it never arms a
    /// timer, so after a reset it reads false until its next poll.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Waker};
    /// use std::time::Duration;
    /// use pride::time::Clock;
    ///
    /// let rt = pride::Runtime::builder().clock(Clock::mock()).build().unwrap();
    /// rt.block_on(async {
    ///     let mut sleep = pin!(pride::sleep(Duration::from_secs(1)));
    ///     assert!(!sleep.is_elapsed());
    ///     let mut cx = Context::from_waker(Waker::noop());
    ///     assert!(sleep.as_mut().poll(&mut cx).is_pending()); // arms the timer
    ///     pride::time::advance(Duration::from_secs(1));
    ///     assert!(sleep.is_elapsed());
    /// });
    /// ```
    pub fn is_elapsed(&self) -> bool {
        (self.yield_once && self.yielded) || self.timer.is_elapsed()
    }

    /// Moves the deadline, earlier or later, whether or not the sleep has completed; a
    /// completed sleep becomes pending again (unless the clock has already reached the
    /// new deadline). Allocates nothing. It takes no lock before the first poll (it
    /// only records the deadline), nor when it moves a pending sleep's deadline later
    /// (on a mock clock: into a later millisecond); any other move takes the lock of the
    /// timer wheel the sleep is filed in.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// pride::run(async {
    ///     let mut sleep = std::pin::pin!(pride::sleep(Duration::from_secs(3600)));
    ///     let soon = pride::current_time() + Duration::from_millis(1);
    ///     sleep.as_mut().reset(soon);
    ///     sleep.await;
    /// });
    /// ```
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.project();
        *this.yield_once = false;
        this.timer.reset(deadline);
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if *this.yield_once {
            if *this.yielded {
                return Poll::Ready(());
            }
            *this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // A sleep that waited ends as a cancellation point for the deadlines that
        // passed with it. One that completes spends a unit of the task's budget: a
        // loop of sleeps whose deadlines have passed (catching up) completes each at
        // its first poll, and would otherwise keep the worker for ever.
        this.timer.poll_wait(cx)
    }
}

/// A stream of evenly spaced instants, from [`interval`].
///
/// The first tick completes at once. Later ticks are `period` apart, at `start + n *
/// period`. Missed ticks are skipped (tokio's `MissedTickBehavior::Skip`): when the
/// task falls behind, the late tick completes at once (reporting its scheduled
/// instant) and the next one is the first `start + n * period` after the current time,
/// so ticks never bunch up and never drift.
///
/// `Interval` is a [`Stream`](futures_core::Stream) of the ticks' scheduled instants
/// that never ends, so stream combinators (`futures-lite`'s `StreamExt`, for example)
/// work on it. It is `Unpin`; one timer is allocated when it is made and reused for
/// every tick. Waiting for a tick is cancel-safe: a tick wait dropped before it
/// completed loses no tick. Like a [`Sleep`], an interval ticked again after the runtime
/// it was made in was dropped moves to the runtime it is ticked in. The end of a tick
/// that waited is a cancellation point for deadlines, as the end of a [`Sleep`] is.
///
/// ```
/// use std::time::Duration;
/// use futures_lite::StreamExt;
///
/// // On the autojump clock no tick comes late, so none is skipped.
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::autojump())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let ticks: Vec<_> = pride::interval(Duration::from_millis(5)).take(3).collect().await;
///     assert_eq!(ticks[2] - ticks[0], Duration::from_millis(10));
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    timer: Pin<Box<Timer>>,
    period: Duration,
}

/// Ticks every `period` on the runtime's clock, starting now; see [`Interval`].
///
/// # Panics
///
/// If `period` is zero, or outside a pride runtime.
///
/// ```
/// use std::time::Duration;
///
/// pride::run(async {
///     let mut every = pride::interval(Duration::from_millis(10));
///     let first = every.tick().await; // at once
///     let second = every.tick().await;
///     assert_eq!(second - first, Duration::from_millis(10));
/// });
/// ```
#[doc(alias = "periodic")]
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "pride::interval: the period must be non-zero"
    );
    Interval {
        timer: Box::pin(Timer::new(current_time())),
        period,
    }
}

/// The tick after the one scheduled at `scheduled`, seen at `now`: one period later, or,
/// if that has passed too, the first `scheduled + n * period` after `now` (Skip).
fn next_tick(scheduled: Instant, now: Instant, period: Duration) -> Instant {
    let next = deadline_after(scheduled, period);
    if next > now {
        return next;
    }
    // In nanoseconds, as `u128`: no overflow however many periods were missed (the
    // product is at most `now - scheduled + period`).
    let period_nanos = period.as_nanos();
    let nanos = ((now - scheduled).as_nanos() / period_nanos + 1) * period_nanos;
    let ahead = u64::try_from(nanos / 1_000_000_000).map_or(Duration::MAX, |secs| {
        Duration::new(secs, (nanos % 1_000_000_000) as u32)
    });
    deadline_after(scheduled, ahead)
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    ///
    /// Cancel-safe: if the returned future is dropped before it completes, no tick is
    /// lost.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick; `Ready` with its scheduled instant.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        // A tick that waited ends as a cancellation point, as a sleep does; one that
        // completes spends a unit of the task's budget, as a sleep does (a refused
        // tick is not taken: its timer stays fired for the next poll).
        ready!(self.timer.as_mut().poll_wait(cx));
        let scheduled = self.timer.deadline();
        let next = next_tick(scheduled, self.timer.now(), self.period);
        self.timer.as_mut().reset(next);
        Poll::Ready(scheduled)
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the ticks from now: the next tick is one period from now.
    pub fn reset(&mut self) {
        let next = deadline_after(self.timer.now(), self.period);
        self.timer.as_mut().reset(next);
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    /// The next tick's scheduled instant; never `None`.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;
    use crate::test_util::Counter;

    #[test]
    fn zero_sleep_yields_once() {
        let counter = Counter::new();
        let mut cx = Context::from_waker(counter.waker());
        let mut sleep = std::pin::pin!(Sleep {
            timer: Timer::new(Instant::now()),
            yield_once: true,
            yielded: false,
        });
        assert!(!sleep.is_elapsed());
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        assert_eq!(counter.wakes(), 1, "woke itself");
        assert!(sleep.as_mut().poll(&mut cx).is_ready());
        assert!(sleep.is_elapsed());
    }

    #[test]
    fn huge_durations_saturate_to_the_never_stand_in() {
        let now = Instant::now();
        let far = deadline_after(now, Duration::MAX);
        assert_eq!(far, now + NEVER);
        assert_eq!(
            deadline_after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }

    #[test]
    fn interval_skips_missed_ticks() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let period = ms(100);
        // On time: one period later.
        assert_eq!(next_tick(t0, t0, period), t0 + ms(100));
        assert_eq!(next_tick(t0 + ms(100), t0 + ms(100), period), t0 + ms(200));
        // Seen late (at 350 for the tick of 200): the next is 400, not 300.
        assert_eq!(next_tick(t0 + ms(200), t0 + ms(350), period), t0 + ms(400));
        // Exactly on a later multiple: that one has passed, so the one after.
        assert_eq!(next_tick(t0, t0 + ms(300), period), t0 + ms(400));
        // A huge period saturates instead of panicking.
        assert!(next_tick(t0, t0, Duration::MAX) > t0);
        // Billions of missed periods (more than `u32::MAX`): still on the grid.
        let period = Duration::from_micros(7);
        let next = next_tick(t0, t0 + Duration::from_secs(9 * 3600), period);
        assert_eq!((next - t0).as_nanos() % period.as_nanos(), 0);
        assert!(
            next > t0 + Duration::from_secs(9 * 3600)
                && next <= t0 + Duration::from_secs(9 * 3600) + period
        );
    }
}
