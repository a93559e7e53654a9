//! Sleeps, intervals and clocks through the public API.
//!
//! Timing assertions use the mock/autojump clocks (exact) or generous bounds on the
//! system clock; none races the clock.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use pride::time::{self, Clock};

const MS: Duration = Duration::from_millis(1);

fn runtime(clock: Clock) -> pride::Runtime {
    pride::Runtime::builder()
        .worker_threads(4)
        .clock(clock)
        .build()
        .expect("runtime")
}

/// Polls `fut` once with a no-op waker.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

fn _assert_auto_traits() {
    fn send_sync<T: Send + Sync>() {}
    fn unpin<T: Unpin>() {}
    send_sync::<time::Sleep>();
    send_sync::<time::Interval>();
    send_sync::<Clock>();
    unpin::<time::Interval>();
}

#[test]
fn ten_thousand_sleeps_wake_in_deadline_order_at_exact_mock_times() {
    let rt = runtime(Clock::autojump());
    let log = Arc::new(Mutex::new(Vec::new()));
    let wall = Instant::now();
    rt.block_on(async {
        let start = pride::current_time();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        pride::task_group(async |tg| {
            for _ in 0..10_000 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let after = Duration::from_millis(rng % 100_000);
                let log = log.clone();
                tg.start_soon(async move {
                    pride::sleep(after).await;
                    let at = pride::current_time() - start;
                    log.lock().unwrap().push((after, at));
                });
            }
        })
        .await
        .expect("no task fails");
    });
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 10_000);
    for &(after, at) in log.iter() {
        // Zero is a yield: it wakes at the start, like every whole-ms deadline, exactly.
        assert_eq!(at, after, "woke at the wrong mock time");
    }
    assert!(
        log.windows(2).all(|w| w[0].1 <= w[1].1),
        "woken out of order"
    );
    assert!(
        wall.elapsed() < Duration::from_secs(60),
        "autojump did not jump"
    );
}

#[test]
fn a_24_hour_sleep_finishes_at_once_on_autojump() {
    let rt = runtime(Clock::autojump());
    let wall = Instant::now();
    let slept = rt.block_on(async {
        let start = pride::current_time();
        pride::sleep(Duration::from_secs(24 * 3600)).await;
        pride::current_time() - start
    });
    assert_eq!(slept, Duration::from_secs(24 * 3600));
    assert!(wall.elapsed() < Duration::from_secs(30));
}

#[test]
fn intervals_tick_at_multiples_of_the_period_and_skip_missed_ticks() {
    let rt = runtime(Clock::autojump());
    let ticks = rt.block_on(async {
        let start = pride::current_time();
        let mut every = pride::interval(100 * MS);
        let mut ticks = Vec::new();
        for i in 0..5 {
            ticks.push(every.tick().await - start);
            if i == 1 {
                // Fall behind: the tick of 200 is late (seen at 350), 300 is skipped.
                pride::sleep(250 * MS).await;
            }
        }
        ticks.push(pride::current_time() - start);
        ticks
    });
    let ms = |v: &[u64]| {
        v.iter()
            .map(|&m| Duration::from_millis(m))
            .collect::<Vec<_>>()
    };
    assert_eq!(ticks, ms(&[0, 100, 200, 400, 500, 500]));
}

#[test]
fn mock_clock_moves_only_by_advance() {
    let rt = runtime(Clock::mock());
    rt.block_on(async {
        let t0 = pride::current_time();
        std::thread::sleep(5 * MS);
        assert_eq!(pride::current_time(), t0, "mock time stands still");

        let mut sleep = pin!(pride::sleep(Duration::from_secs(10)));
        assert!(poll_once(sleep.as_mut()).is_pending());
        time::advance(Duration::from_secs(9));
        assert!(poll_once(sleep.as_mut()).is_pending());
        time::advance(Duration::from_secs(1));
        assert!(poll_once(sleep.as_mut()).is_ready());
        assert_eq!(pride::current_time() - t0, Duration::from_secs(10));
    });
}

#[test]
fn reset_moves_a_sleep_earlier_and_later() {
    let rt = runtime(Clock::autojump());
    rt.block_on(async {
        let start = pride::current_time();
        let mut sleep = pin!(pride::sleep(Duration::from_secs(3600)));
        assert!(poll_once(sleep.as_mut()).is_pending());
        sleep.as_mut().reset(start + 20 * MS);
        assert_eq!(sleep.deadline(), start + 20 * MS);
        sleep.as_mut().await;
        assert_eq!(pride::current_time() - start, 20 * MS);
        // Completed, then re-armed later: waits again.
        sleep.as_mut().reset(start + 70 * MS);
        assert!(!sleep.is_elapsed());
        sleep.as_mut().await;
        assert_eq!(pride::current_time() - start, 70 * MS);
    });
}

#[test]
fn zero_and_huge_durations() {
    let rt = runtime(Clock::autojump());
    rt.block_on(async {
        let start = pride::current_time();
        // Zero yields once and completes without moving time.
        let mut zero = pin!(pride::sleep(Duration::ZERO));
        assert!(poll_once(zero.as_mut()).is_pending());
        assert!(poll_once(zero.as_mut()).is_ready());
        assert_eq!(pride::current_time(), start);
        // Overflowing `Instant` saturates to a far-future deadline, without panicking.
        let huge = pride::sleep(Duration::MAX);
        assert!(huge.deadline() > start + Duration::from_secs(20 * 365 * 24 * 3600));
        let mut huge = pin!(huge);
        assert!(poll_once(huge.as_mut()).is_pending());
    });
}

/// A deadline not later than the clock's now completes at the first poll (of
/// `sleep_until`, or of a sleep reset to it), without waiting for the next 1 ms tick:
/// on a mock clock standing at a fraction of a millisecond that tick never comes, and
/// on the autojump clock waiting for it would move the clock.
#[test]
fn a_deadline_already_reached_completes_at_the_first_poll() {
    for clock in [Clock::mock(), Clock::autojump()] {
        let builder = crate::common::builder(2).clock(clock).clone();
        let moved = crate::common::block_on(30, &builder, || async {
            time::advance(Duration::from_micros(1500));
            let now = pride::current_time();
            for deadline in [now - Duration::from_micros(200), now] {
                let mut sleep = pin!(pride::sleep_until(deadline));
                assert!(
                    poll_once(sleep.as_mut()).is_ready(),
                    "{deadline:?} for {now:?}"
                );
                let mut sleep = pin!(pride::sleep(Duration::from_secs(3600)));
                assert!(poll_once(sleep.as_mut()).is_pending());
                sleep.as_mut().reset(deadline);
                assert!(
                    poll_once(sleep.as_mut()).is_ready(),
                    "reset to {deadline:?}"
                );
            }
            pride::sleep_until(now - Duration::from_micros(200)).await;
            pride::current_time() - now
        });
        assert_eq!(moved, Duration::ZERO);
    }
}

#[test]
fn a_system_clock_sleep_takes_at_least_its_duration() {
    let rt = runtime(Clock::system());
    let slept = rt.block_on(async {
        let before = Instant::now();
        pride::sleep(10 * MS).await;
        before.elapsed()
    });
    assert!(slept >= 10 * MS, "woke early: {slept:?}");
    assert!(slept < Duration::from_secs(2), "woke very late: {slept:?}");
}

#[test]
fn many_concurrent_system_sleeps_all_wake() {
    let rt = runtime(Clock::system());
    rt.block_on(async {
        let before = Instant::now();
        pride::task_group(async |tg| {
            for i in 0..1000u64 {
                tg.start_soon(async move {
                    let d = Duration::from_millis(i % 20);
                    let t = Instant::now();
                    pride::sleep(d).await;
                    assert!(t.elapsed() >= d);
                });
            }
        })
        .await
        .expect("no task fails");
        assert!(before.elapsed() < Duration::from_secs(10));
    });
}

#[test]
#[should_panic(expected = "mock clock")]
fn advance_on_the_system_clock_panics_clearly() {
    let rt = runtime(Clock::system());
    rt.block_on(async { time::advance(Duration::from_secs(1)) });
}

#[test]
#[should_panic(expected = "within a pride runtime")]
fn sleep_outside_a_runtime_panics_clearly() {
    drop(pride::sleep(MS));
}

#[test]
fn a_system_clock_timeout_never_fires_early() {
    let rt = runtime(Clock::system());
    let (out, waited) = rt.block_on(async {
        let before = Instant::now();
        let out = pride::fail_after(20 * MS, pride::sleep(Duration::from_secs(3600))).await;
        (out, before.elapsed())
    });
    assert!(out.is_err(), "the timeout did not fire");
    assert!(waited >= 20 * MS, "fired early: {waited:?}");
    assert!(
        waited < Duration::from_secs(2),
        "fired very late: {waited:?}"
    );
}

/// A timeout counts from entry, not from when its deadline is first looked at: here the
/// work blocks for 50 ms before the deadline is read, and the deadline still lies
/// within a coarse clock tick (at most 10 ms on Linux; 20 ms allowed) of entry + 30 ms.
/// Both bounds follow from the order of the readings, not from how fast anything runs.
#[test]
fn a_system_clock_timeout_counts_from_entry() {
    let rt = runtime(Clock::system());
    rt.block_on(async {
        let scope = pride::CancelScope::with_timeout(30 * MS);
        let before = Instant::now();
        let bounds = scope
            .run(async {
                let entered_by = Instant::now();
                std::thread::sleep(50 * MS);
                (
                    entered_by,
                    scope.deadline().expect("a timeout has a deadline"),
                )
            })
            .await;
        let (entered_by, deadline) = bounds.expect("the work finished without suspending");
        assert!(deadline >= before + 30 * MS, "early deadline");
        assert!(
            deadline <= entered_by + 30 * MS + 20 * MS,
            "the timeout counted from later than entry: {:?} after entry",
            deadline - entered_by
        );
    });
}

/// After `advance(Duration::MAX)` the mock clock is at the end of its range: every
/// sleep, armed before or after, completes instead of waiting for a time the clock can
/// never reach (before, the runtime spun at 100% CPU and the sleep never completed).
#[test]
fn sleeps_complete_after_advancing_by_duration_max() {
    crate::common::autojump(30, || async {
        let before = pride::sleep(Duration::from_secs(3600));
        let mut before = pin!(before);
        assert!(poll_once(before.as_mut()).is_pending());
        time::advance(Duration::MAX);
        pride::sleep(MS).await;
        pride::sleep(Duration::from_secs(3600)).await;
        before.await;
    });
}

/// A waker that panics when woken.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("waker boom");
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Arms two sleeps due at `after`: one whose waker panics, one that counts.
fn arm_two(after: Duration) -> (PinnedSleep, PinnedSleep, Arc<CountingWaker>) {
    let counting = Arc::new(CountingWaker::default());
    let mut bad = Box::pin(pride::sleep(after));
    let mut good = Box::pin(pride::sleep(after));
    let panicking = Waker::from(Arc::new(PanickingWaker));
    assert!(
        bad.as_mut()
            .poll(&mut Context::from_waker(&panicking))
            .is_pending()
    );
    let counter = Waker::from(counting.clone());
    assert!(
        good.as_mut()
            .poll(&mut Context::from_waker(&counter))
            .is_pending()
    );
    (bad, good, counting)
}

type PinnedSleep = std::pin::Pin<Box<time::Sleep>>;

/// A timer whose waker panics, fired by the worker that turns the driver, neither
/// kills that worker nor keeps the other due timers from firing: the runtime goes on
/// (before, the panic unwound out of the worker and the runtime hung at 0% CPU).
#[test]
fn a_waker_that_panics_when_the_driver_fires_it_does_not_stop_the_runtime() {
    let builder = crate::common::builder(1).clock(Clock::autojump()).clone();
    crate::common::block_on(30, &builder, || async {
        let (_bad, _good, counting) = arm_two(5 * MS);
        // The only worker fires both timers when time jumps, then this sleep's.
        pride::sleep(10 * MS).await;
        assert_eq!(counting.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        pride::sleep(10 * MS).await;
    });
}

/// `advance` fires what came due; a waker that panics there reaches the caller of
/// `advance`, as one does from `Event::set`, after every other due timer was woken.
#[test]
fn advance_hands_a_panicking_waker_to_its_caller() {
    let builder = crate::common::builder(1).clock(Clock::mock()).clone();
    crate::common::block_on(30, &builder, || async {
        let (_bad, _good, counting) = arm_two(5 * MS);
        let advanced =
            std::panic::catch_unwind(|| time::advance(10 * MS)).expect_err("the waker panicked");
        assert_eq!(advanced.downcast_ref::<&str>(), Some(&"waker boom"));
        assert_eq!(counting.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        // The driver is intact: the next timer fires too.
        let (_bad, _good, counting) = arm_two(5 * MS);
        let _ = std::panic::catch_unwind(|| time::advance(10 * MS));
        assert_eq!(counting.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    });
}

/// A clone of a finished `block_on`'s waker, kept by anyone (here, by the test; in a
/// program, by the waiter list of a socket whose read was cancelled), does not count
/// as a running `block_on`: the autojump clock still jumps. Before, the hour below
/// was waited in real time (and the watchdog turns that into a failure); waking the
/// kept waker afterwards is harmless.
#[test]
fn a_kept_waker_of_a_finished_block_on_does_not_stop_the_autojump_clock() {
    let rt = runtime(Clock::autojump());
    crate::common::watchdog(20, move || {
        let kept = rt.block_on(std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())));
        rt.block_on(async { time::sleep(Duration::from_secs(3600)).await });
        kept.wake();
        rt.block_on(async { time::sleep(Duration::from_secs(3600)).await });
    });
}

/// A mock runtime with one worker.
fn mock_builder() -> pride::Builder {
    crate::common::builder(1).clock(Clock::mock()).clone()
}

/// `advance` wakes "every sleep whose deadline that reaches", including one whose
/// deadline lies within a millisecond tick: the clock at 0.5 ms, `sleep(1 ms)` is due
/// at 1.5 ms, and advancing by 1 ms reaches it, though not the tick after it. A sleep
/// of the same tick that the clock has not reached stays pending until it does.
#[test]
fn advancing_a_mock_clock_to_a_deadline_within_a_tick_wakes_the_sleep() {
    let steps = crate::common::block_on(30, &mock_builder(), || async {
        time::advance(Duration::from_micros(500));
        let mut due = pin!(pride::sleep(MS));
        let mut later = pin!(pride::sleep(Duration::from_micros(1300)));
        let armed = (poll_once(due.as_mut()), poll_once(later.as_mut()));
        time::advance(MS);
        let reached = pride::current_time() == due.deadline();
        let at_deadline = (poll_once(due.as_mut()), poll_once(later.as_mut()));
        time::advance(Duration::from_micros(300));
        (armed, reached, at_deadline, poll_once(later.as_mut()))
    });
    let (armed, reached, at_deadline, later) = steps;
    assert_eq!(armed, (Poll::Pending, Poll::Pending));
    assert!(reached, "the clock stands on the first sleep's deadline");
    assert_eq!(
        at_deadline,
        (Poll::Ready(()), Poll::Pending),
        "the sleep whose deadline the clock reached is ready, the later one is not"
    );
    assert_eq!(
        later,
        Poll::Ready(()),
        "and the later one once it is reached"
    );
}

/// The same for a task that awaits the sleep: `advance` wakes it, and it runs when the
/// caller yields.
#[test]
fn a_task_sleeping_until_a_deadline_within_a_tick_is_woken_by_advance() {
    let woke_at = crate::common::block_on(30, &mock_builder(), || async {
        time::advance(Duration::from_micros(250));
        let start = pride::current_time();
        let at = Arc::new(Mutex::new(None));
        let (slept, armed) = (at.clone(), Arc::new(pride::Event::new()));
        pride::task_group(async |tg| {
            let armed_too = armed.clone();
            tg.start_soon(async move {
                let mut sleep = pin!(pride::sleep(Duration::from_micros(2500)));
                assert!(poll_once(sleep.as_mut()).is_pending());
                armed_too.set();
                sleep.await;
                *slept.lock().unwrap() = Some(pride::current_time() - start);
            });
            // Once the task armed its sleep, reach its deadline.
            armed.wait().await;
            time::advance(Duration::from_micros(2500));
        })
        .await
        .expect("no task fails");
        at.lock().unwrap().take()
    });
    assert_eq!(woke_at, Some(Duration::from_micros(2500)));
}

/// A deadline passing is a `cancel()` that happens by itself, also when it lies
/// within a millisecond tick and `advance` lands exactly on it.
#[test]
fn advancing_a_mock_clock_to_a_scope_deadline_within_a_tick_cancels_the_scope() {
    let (cancelled, done) = crate::common::block_on(30, &mock_builder(), || async {
        time::advance(Duration::from_micros(500));
        let scope = pride::CancelScope::with_timeout(MS);
        let mut run = pin!(scope.run(std::future::pending::<()>()));
        assert!(poll_once(run.as_mut()).is_pending(), "entered, waiting");
        time::advance(MS);
        (scope.cancel_called(), poll_once(run.as_mut()))
    });
    assert!(cancelled, "the clock reached the scope's deadline");
    assert_eq!(done, Poll::Ready(None));
}

/// Resetting a sleep to a later deadline within the same tick moves it: advancing to
/// the old deadline does not complete it, advancing to the new one does.
#[test]
fn a_sleep_reset_later_within_its_tick_waits_for_the_new_deadline() {
    let steps = crate::common::block_on(30, &mock_builder(), || async {
        let start = pride::current_time();
        let mut sleep = pin!(pride::sleep(Duration::from_micros(200)));
        let first = poll_once(sleep.as_mut());
        sleep.as_mut().reset(start + Duration::from_micros(700));
        time::advance(Duration::from_micros(400));
        let at_old = poll_once(sleep.as_mut());
        time::advance(Duration::from_micros(300));
        (first, at_old, poll_once(sleep.as_mut()))
    });
    assert_eq!(steps, (Poll::Pending, Poll::Pending, Poll::Ready(())));
}

/// Runs a sleep of `d` in `rt` on its own thread; returns the thread, a receiver that
/// says when the sleep is armed, and one that says whether it completed (`false`: the
/// test gave up on it through the event).
fn sleep_on_another_runtime(
    rt: pride::Runtime,
    d: Duration,
    give_up: Arc<pride::Event>,
) -> (
    std::thread::JoinHandle<()>,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Receiver<bool>,
) {
    let (armed_tx, armed_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let woke = rt.block_on(async move {
            let mut sleep = pin!(pride::sleep(d));
            assert!(poll_once(sleep.as_mut()).is_pending());
            armed_tx.send(()).unwrap();
            let slept = async {
                sleep.await;
                true
            };
            let gave_up = async {
                give_up.wait().await;
                false
            };
            futures_lite::future::or(slept, gave_up).await
        });
        let _ = done_tx.send(woke);
    });
    (thread, armed_rx, done_rx)
}

/// Clones of a mock clock share its time, and advancing it from one runtime fires
/// the due sleeps of every runtime on it: here two runtimes built from one `Builder`,
/// and a deadline within a tick of the second runtime's ticks.
#[test]
fn advancing_a_shared_mock_clock_wakes_the_sleeps_of_every_runtime_on_it() {
    let mut builder = mock_builder();
    let rt_a = builder.build().unwrap();
    rt_a.block_on(async { time::advance(Duration::from_micros(300)) });
    // Ticks count from when each runtime was built: B's start at 0.3 ms.
    let rt_b = builder.build().unwrap();
    let give_up = Arc::new(pride::Event::new());
    let d = Duration::from_micros(1500);
    let (b, armed, done) = sleep_on_another_runtime(rt_b, d, give_up.clone());
    armed.recv().expect("runtime B armed its sleep");
    rt_a.block_on(async { time::advance(d) });
    // A bound that only turns a hang into a failure: B's sleep was fired by `advance`.
    let woke = done.recv_timeout(Duration::from_secs(10));
    give_up.set();
    b.join().unwrap();
    let woke = woke.or_else(|_| done.recv()).unwrap();
    assert!(
        woke,
        "the shared clock reached runtime B's sleep deadline, but the sleep was never woken"
    );
}

/// `Sleep::is_elapsed` says whether the timer fired: false before the first poll arms
/// it, true as soon as `advance` reaches the deadline, with no poll in between.
#[test]
fn is_elapsed_turns_true_when_the_timer_fires_without_a_poll() {
    let rt = pride::Runtime::builder()
        .worker_threads(1)
        .clock(Clock::mock())
        .build()
        .unwrap();
    crate::common::watchdog(30, move || {
        rt.block_on(async {
            let mut sleep = pin!(pride::sleep(Duration::from_secs(1)));
            time::advance(Duration::from_secs(2));
            assert!(
                !sleep.is_elapsed(),
                "elapsed before the first poll armed it"
            );
            assert!(poll_once(sleep.as_mut()).is_ready());
            let mut sleep = pin!(pride::sleep(Duration::from_secs(1)));
            assert!(poll_once(sleep.as_mut()).is_pending());
            assert!(!sleep.is_elapsed());
            time::advance(Duration::from_secs(2));
            assert!(
                sleep.is_elapsed(),
                "the timer fired: no poll is needed to see it"
            );
        });
    });
}

/// At the end of mock time every sleep completes, but for one whose deadline lies more
/// than about 146 million years past the runtime's start, as `Clock::mock` says: such a
/// deadline (a billion years, though it fits in an `Instant`) is never.
#[test]
fn at_the_end_of_mock_time_a_sleep_further_than_the_wheel_reaches_never_completes() {
    crate::common::autojump(30, || async {
        let billion_years = Duration::from_secs(1_000_000_000 * 365 * 24 * 3600);
        time::advance(Duration::MAX);
        assert!(pride::current_time().checked_add(billion_years).is_some());
        let mut hour = pin!(pride::sleep(Duration::from_secs(3600)));
        assert!(poll_once(hour.as_mut()).is_ready());
        let mut huge = pin!(pride::sleep(billion_years));
        assert!(poll_once(huge.as_mut()).is_pending());
        // Timers due at the end fire meanwhile; this one is not among them.
        for _ in 0..3 {
            pride::sleep(MS).await;
            pride::yield_now().await;
        }
        assert!(
            poll_once(huge.as_mut()).is_pending(),
            "a sleep past the wheel's reach completed"
        );
        assert!(!huge.is_elapsed());
    });
}

/// A child sleeps until an instant the parent's `advance` reaches while the child arms
/// its sleep: whichever of the two gets to the timer's shard first, once both are done
/// the clock stands past the deadline, so the sleep fires (by the advance's sweep, or at
/// once when it is armed). A sleep filed behind the sweep's back would wait for the next
/// advance, which never comes: the round hangs, and the guard fails the test. Every
/// round lands the advance at a different point of the arm; the loom model
/// `arm_vs_advance` explores each interleaving.
#[test]
fn a_child_sleeping_while_its_parent_advances_always_wakes() {
    let builder = crate::common::builder(2).clock(Clock::mock()).clone();
    // The guard only turns a hang into a failure: the rounds take a few seconds, and
    // a round left behind never ends.
    crate::common::block_on(300, &builder, || async {
        for round in 0..2_000u64 {
            let deadline = pride::current_time() + Duration::from_micros(500);
            let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let arming = armed.clone();
            pride::task_group(async |tg| {
                tg.start_soon(async move {
                    arming.store(true, std::sync::atomic::Ordering::Release);
                    pride::sleep_until(deadline).await;
                });
                // Spin, to meet the child as it arms; yield if it is slow to start.
                let mut spins = 0u32;
                while !armed.load(std::sync::atomic::Ordering::Acquire) {
                    spins += 1;
                    if spins < 10_000 {
                        std::hint::spin_loop();
                    } else {
                        pride::yield_now().await;
                    }
                }
                for _ in 0..(round % 61) * 5 {
                    std::hint::spin_loop();
                }
                time::advance(Duration::from_micros(700));
            })
            .await
            .expect("no task fails");
            // Back to a tick boundary.
            time::advance(Duration::from_micros(300));
        }
    });
}

/// A sleep first polled in runtime A, then awaited in runtime B after A was dropped:
/// nobody turns A's driver any more, so the sleep moves to B's, and completes there at
/// its deadline (it does not wait for ever on A's). The two share an autojump clock,
/// which B moves to the deadline once the sleep is filed in B's driver.
#[test]
fn a_sleep_armed_in_a_dropped_runtime_completes_in_another() {
    let mut builder = crate::common::builder(1).clock(Clock::autojump()).clone();
    crate::common::watchdog(30, move || {
        let a = builder.build().unwrap();
        let hour = a.block_on(async { pride::current_time() }) + Duration::from_secs(3600);
        let mut sleep = Box::pin(pride::sleep_until(hour));
        a.block_on(async { assert!(poll_once(sleep.as_mut()).is_pending(), "armed in A") });
        drop(a);
        let b = builder.build().unwrap();
        let deadline = sleep.deadline();
        let woke_at = b.block_on(async move {
            sleep.await;
            pride::current_time()
        });
        assert!(woke_at >= deadline, "completed before its deadline");
    });
}

/// The same for a sleep that a task of runtime B already waits on when A is dropped:
/// A's drop wakes the task, whose poll files the sleep in B's driver; an advance of the
/// (shared, mock) clock then completes it. Left in A's driver, it would never be filed
/// in B's, and the test would hang.
#[test]
fn a_sleep_waited_on_in_another_runtime_when_its_runtime_drops_moves_there() {
    let mut builder = crate::common::builder(1).clock(Clock::mock()).clone();
    crate::common::watchdog(30, move || {
        let a = builder.build().unwrap();
        let hour = a.block_on(async { pride::current_time() }) + Duration::from_secs(3600);
        let mut sleep = Box::pin(pride::sleep_until(hour));
        a.block_on(async { assert!(poll_once(sleep.as_mut()).is_pending(), "armed in A") });
        let b = builder.build().unwrap();
        let (waiting, waits) = std::sync::mpsc::channel();
        let dropped = Arc::new(pride::Event::new());
        let dropper = {
            let dropped = dropped.clone();
            std::thread::spawn(move || {
                waits.recv().unwrap();
                drop(a);
                dropped.set();
            })
        };
        b.block_on(async {
            pride::task_group(async |tg| {
                tg.start_soon(async move {
                    // Registers this task with A's timer, then lets A go.
                    std::future::poll_fn(|cx| {
                        let poll = sleep.as_mut().poll(cx);
                        if poll.is_pending() {
                            let _ = waiting.send(());
                        }
                        poll
                    })
                    .await;
                });
                dropped.wait().await;
                crate::common::yield_until(|| b.metrics().timers_armed == 1).await;
                time::advance(Duration::from_secs(3600));
            })
            .await
            .expect("no task fails");
        });
        dropper.join().unwrap();
    });
}

/// A sleep of a dropped runtime polled outside any runtime has no driver to move to:
/// it panics with pride's message, as a first poll there does.
#[test]
#[should_panic(expected = "from within a pride runtime")]
fn a_sleep_of_a_dropped_runtime_polled_outside_any_panics_clearly() {
    let a = crate::common::runtime(1);
    let hour = a.block_on(async { pride::current_time() }) + Duration::from_secs(3600);
    let mut sleep = Box::pin(pride::sleep_until(hour));
    a.block_on(async { assert!(poll_once(sleep.as_mut()).is_pending(), "armed in A") });
    drop(a);
    let _ = poll_once(sleep.as_mut());
}

/// At the end of mock time a sleep of a hundred million years (within the wheel's
/// reach) completes: `advance(Duration::MAX)` hands it out with a cascade per wheel
/// level (the unit test `one_advance_past_a_far_deadline_cascades_once_per_level`
/// counts them), not one per top-level span on the way. The bound only turns a hang
/// into a failure.
#[test]
fn advancing_to_the_end_completes_a_hundred_million_year_sleep() {
    let rt = pride::Runtime::builder()
        .worker_threads(1)
        .clock(Clock::mock())
        .build()
        .unwrap();
    crate::common::watchdog(60, move || {
        rt.block_on(async {
            let years = Duration::from_secs(100_000_000 * 365 * 24 * 3600);
            let mut sleep = pin!(pride::sleep(years));
            assert!(poll_once(sleep.as_mut()).is_pending());
            time::advance(Duration::MAX);
            assert!(sleep.is_elapsed());
        });
    });
}

/// A waker that counts its wakes and runs `f` at the first.
struct OnFirstWake(std::sync::atomic::AtomicUsize, Box<dyn Fn() + Send + Sync>);

impl std::task::Wake for OnFirstWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            (self.1)();
        }
    }
}

fn on_first_wake(f: impl Fn() + Send + Sync + 'static) -> (Waker, Arc<OnFirstWake>) {
    let waker = Arc::new(OnFirstWake(
        std::sync::atomic::AtomicUsize::new(0),
        Box::new(f),
    ));
    (Waker::from(waker.clone()), waker)
}

/// Work that never ends, in a scope whose deadline is `after` from now, polled once by
/// hand with `waker`: the scope's timer is filed in the shard of this thread, and its
/// firing cancels the scope, which wakes `waker`.
fn poll_timed_scope(
    after: Duration,
    waker: &Waker,
) -> std::pin::Pin<Box<dyn Future<Output = Option<()>> + Send>> {
    let scope = pride::CancelScope::with_deadline(pride::current_time() + after);
    let mut run = Box::pin(scope.run(std::future::pending::<()>()));
    assert!(
        run.as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_pending()
    );
    run
}

/// Two `advance` calls racing on one runtime's mock clock: once an advance has
/// returned, every timer whose deadline the clock reached has fired, whichever order
/// the threads took, and the armed count is exact. Here thread B's sweep read the
/// clock at +100 ms and is held (in a waker) before it reaches the shard of 40 scope
/// deadlines of +150 ms, while thread A advances to +200 ms and, halfway through
/// handing those out (it wakes scope deadlines in batches, with the shard's lock
/// released), lets B go on into that shard. B must fire what it finds handed out (its
/// clock is behind, but the clock has passed their deadline), not re-file it for a
/// tick the wheel has passed. (The blocking wakers pin down an interleaving that
/// preemption gives on its own: an `advance` against a worker's sweep, or two runtimes
/// on one clock.)
#[test]
fn two_sweeps_racing_on_a_mock_clock_lose_no_timer() {
    crate::common::watchdog(60, || {
        let rt = Arc::new(
            pride::Runtime::builder()
                .worker_threads(1)
                .clock(Clock::mock())
                .build()
                .unwrap(),
        );
        let rt2 = rt.clone();
        let rt3 = rt.clone();
        rt.block_on(async move {
            let (b_in_wake_tx, b_in_wake_rx) = std::sync::mpsc::channel::<()>();
            let (release_b_tx, release_b_rx) = std::sync::mpsc::channel::<()>();
            let (b_done_tx, b_done_rx) = std::sync::mpsc::channel::<std::thread::Result<()>>();
            let b_in_wake_tx = Mutex::new(b_in_wake_tx);
            let release_b_rx = Mutex::new(release_b_rx);
            let release_b_tx = Mutex::new(release_b_tx);
            let b_done_rx = Arc::new(Mutex::new(b_done_rx));

            // Victims: 40 scope deadlines of +150 ms in the shared shard (polled on this
            // thread). The first of them to be woken (on thread A, mid-sweep) lets B go
            // on and waits for B to finish.
            let b_done_rx2 = b_done_rx.clone();
            let (victim_waker, victims_woken) = on_first_wake(move || {
                release_b_tx.lock().unwrap().send(()).unwrap();
                let _ = b_done_rx2
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(20));
            });
            let victims: Vec<_> = (0..40)
                .map(|_| poll_timed_scope(150 * MS, &victim_waker))
                .collect();
            let victims_woken = move || victims_woken.0.load(std::sync::atomic::Ordering::SeqCst);

            // Blocker: a scope deadline of +100 ms in worker 0's shard (shard 0, swept
            // first), whose waker holds thread B until A is mid-sweep.
            let (blocker_waker, _) = on_first_wake(move || {
                b_in_wake_tx.lock().unwrap().send(()).unwrap();
                let _ = release_b_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(20));
            });
            let ready = pride::Event::new();
            let hold = pride::Event::new();
            let out = pride::task_group(async |tg| {
                let (ready2, hold2) = (ready.clone(), hold.clone());
                tg.start_soon(async move {
                    let blocker = poll_timed_scope(100 * MS, &blocker_waker);
                    drop(blocker_waker);
                    ready2.set();
                    hold2.wait().await;
                    drop(blocker);
                });
                ready.wait().await;

                // Thread B: advance to +100 ms; blocks in the blocker's wake.
                let b = std::thread::spawn(move || {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        rt2.block_on(async { pride::time::advance(100 * MS) })
                    }));
                    let msg = r.map_err(|p| {
                        p.downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_default()
                    });
                    let _ = b_done_tx.send(msg.clone().map_err(|m| Box::new(m) as _));
                    msg
                });
                b_in_wake_rx
                    .recv_timeout(Duration::from_secs(20))
                    .expect("B reached the blocker's wake");
                // Thread A (this one): advance to +200 ms.
                pride::time::advance(100 * MS);
                let b_result = b.join().unwrap();
                hold.set();
                let fired = victims_woken();
                // One more move of the clock: a lost timer stays lost.
                pride::time::advance(Duration::from_secs(1));
                Ok::<_, pride::BoxError>((b_result, fired, victims_woken()))
            })
            .await;
            let (b_result, fired, later) = out.unwrap();
            // Every scope is gone now.
            drop(victims);
            let armed = rt3.metrics().timers_armed;
            assert!(
                b_result.is_ok() && fired == 40 && later == 40 && armed == 0,
                "thread B's advance: {b_result:?}; scope deadlines of +150 ms fired with the \
                 clock at +200 ms: {fired} of 40, and after one more second: {later}; \
                 timers_armed with every scope dropped: {armed}"
            );
        });
    });
}
/// The autojump clock stops at each sleep's exact deadline, also within a millisecond:
/// sleeps of 1.6 ms and 1.5 ms end at their own instants, the earlier first.
#[test]
fn autojump_sleeps_within_a_millisecond_end_at_their_own_instants() {
    let ends = crate::common::autojump(20, || async {
        let start = pride::current_time();
        let ends = Arc::new(Mutex::new(Vec::new()));
        pride::task_group(async |tg| {
            for micros in [1600, 1500] {
                let ends = ends.clone();
                tg.start_soon(async move {
                    pride::sleep(Duration::from_micros(micros)).await;
                    ends.lock().unwrap().push(pride::current_time() - start);
                });
            }
        })
        .await
        .unwrap();
        ends.lock().unwrap().clone()
    });
    let us = Duration::from_micros;
    assert_eq!(ends, [us(1500), us(1600)]);
}
