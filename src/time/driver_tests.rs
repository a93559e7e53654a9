//! Unit tests of the driver and `Timer`, driven directly (no runtime).

use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::*;
use crate::test_util::Counter;
use crate::time::sleep::deadline_after;
use crate::time::timer::Timer;

const MS: Duration = Duration::from_millis(1);

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A counting waker, and the `Waker` to poll with.
fn counter() -> (Counter, Waker) {
    let count = Counter::new();
    let waker = count.waker().clone();
    (count, waker)
}

fn driver(clock: Clock, workers: usize) -> (TimeDriver, StdArc<AtomicUsize>) {
    let unparks = StdArc::new(AtomicUsize::new(0));
    let u = unparks.clone();
    let unpark = Box::new(move || {
        u.fetch_add(1, StdOrdering::SeqCst);
    });
    (TimeDriver::new(clock, workers, unpark), unparks)
}

fn poll_in(
    timer: Pin<&mut Timer>,
    driver: &TimeDriver,
    worker: Option<usize>,
    waker: &Waker,
) -> Poll<()> {
    timer.poll_elapsed_in(driver, worker, &mut Context::from_waker(waker))
}

/// Runs the autojump loop until nothing is left to fire.
fn jump_all(driver: &TimeDriver) {
    while driver.jump_to_next() {}
}

#[test]
fn ten_thousand_timers_fire_in_deadline_order() {
    struct Record {
        index: usize,
        clock: Clock,
        log: StdArc<StdMutex<Vec<(usize, Instant)>>>,
    }
    impl Wake for Record {
        fn wake(self: StdArc<Self>) {
            let now = self.clock.now();
            self.log.lock().unwrap().push((self.index, now));
        }
    }

    let (driver, _) = driver(Clock::autojump(), 3);
    let start = driver.now();
    let log = StdArc::new(StdMutex::new(Vec::new()));
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut timers = Vec::new();
    // Fewer under Miri, which runs this a thousand times slower.
    let n = if cfg!(miri) { 200 } else { 10_000 };
    for index in 0..n {
        // Nanosecond deadlines over ten days: exercises rounding and every level.
        let after = Duration::from_nanos(rng.next() % (10 * 24 * 3600 * 1_000_000_000));
        let mut timer = Box::pin(Timer::new(start + after));
        let waker = Waker::from(StdArc::new(Record {
            index,
            clock: driver.clock().clone(),
            log: log.clone(),
        }));
        let worker = [Some(0), Some(1), Some(2), None][index % 4];
        assert!(poll_in(timer.as_mut(), &driver, worker, &waker).is_pending());
        timers.push((after, timer));
    }
    jump_all(&driver);

    let log = log.lock().unwrap();
    assert_eq!(log.len(), n, "every timer fired once");
    let mut last = start;
    for &(index, at) in log.iter() {
        let (after, timer) = &timers[index];
        // The clock jumps to each exact deadline, within a tick too.
        assert_eq!(at, start + *after, "timer {index} fired at the wrong time");
        assert!(at >= last, "out of order");
        assert!(timer.is_elapsed());
        last = at;
    }
    for (_, timer) in &mut timers {
        let (_, waker) = counter();
        assert!(poll_in(timer.as_mut(), &driver, None, &waker).is_ready());
    }
}

#[test]
fn cancel_before_firing() {
    let (driver, _) = driver(Clock::autojump(), 1);
    let (count, waker) = counter();
    let mut timer = Box::pin(Timer::new(driver.now() + 10 * MS));
    assert!(poll_in(timer.as_mut(), &driver, Some(0), &waker).is_pending());
    drop(timer);
    assert!(
        !driver.jump_to_next(),
        "a cancelled timer leaves nothing to jump to"
    );
    driver.clock().advance(Duration::from_secs(1));
    assert_eq!(driver.process(), 0);
    assert_eq!(count.wakes(), 0);
}

#[test]
fn cancel_after_firing_and_while_a_batch_is_being_woken() {
    // 100 scope deadlines due at the same tick fire in several wake batches, the lock
    // released in between; the first waker woken drops every other timer (taking the
    // shard lock, which must not be held while waking).
    type Slots = StdArc<StdMutex<Vec<Option<Pin<Box<Timer>>>>>>;
    struct DropOthers {
        index: usize,
        slots: Slots,
        woken: AtomicUsize,
        first: StdArc<std::sync::atomic::AtomicBool>,
    }
    impl Wake for DropOthers {
        fn wake(self: StdArc<Self>) {
            self.woken.fetch_add(1, StdOrdering::SeqCst);
            if self.first.swap(false, StdOrdering::SeqCst) {
                self.drop_others();
            }
        }
    }
    impl DropOthers {
        fn drop_others(&self) {
            let doomed: Vec<_> = {
                let mut slots = self.slots.lock().unwrap();
                (0..slots.len())
                    .filter(|&i| i != self.index)
                    .filter_map(|i| slots[i].take())
                    .collect()
            };
            drop(doomed); // cancels each (fired or not) outside our test lock
        }
    }

    let (driver, _) = driver(Clock::mock(), 1);
    let deadline = driver.now() + 5 * MS;
    let slots: Slots = StdArc::new(StdMutex::new(Vec::new()));
    let first = StdArc::new(std::sync::atomic::AtomicBool::new(true));
    let mut wakers = Vec::new();
    for index in 0..100 {
        let mut timer = Box::pin(Timer::for_scope(deadline));
        let record = StdArc::new(DropOthers {
            index,
            slots: slots.clone(),
            woken: AtomicUsize::new(0),
            first: first.clone(),
        });
        let waker = Waker::from(record.clone());
        assert!(poll_in(timer.as_mut(), &driver, Some(0), &waker).is_pending());
        slots.lock().unwrap().push(Some(timer));
        wakers.push(record);
    }
    driver.clock().advance(5 * MS);
    let fired = driver.process();
    let woken: usize = wakers
        .iter()
        .map(|w| w.woken.load(StdOrdering::SeqCst))
        .sum();
    assert_eq!(fired, woken, "every fired timer woke its task once");
    assert!(
        (super::WAKE_BATCH..100).contains(&fired),
        "the first batch fired, the cancelled rest did not: {fired}"
    );
    assert!(
        wakers
            .iter()
            .all(|w| w.woken.load(StdOrdering::SeqCst) <= 1)
    );
    // The survivor has fired; dropping it after firing takes the lock-free path.
    let survivors: Vec<_> = slots.lock().unwrap().drain(..).flatten().collect();
    assert_eq!(survivors.len(), 1);
    assert!(survivors[0].is_elapsed());
}

/// Records its name in a shared log when woken.
struct Named(&'static str, StdArc<StdMutex<Vec<&'static str>>>);

impl Wake for Named {
    fn wake(self: StdArc<Self>) {
        self.1.lock().unwrap().push(self.0);
    }
}

#[test]
fn a_sweep_wakes_every_scope_deadline_before_any_task() {
    // Tasks' timers first in each shard and in the shard swept first, more of them
    // than a batch holds: the sweep still wakes both scope deadlines before them.
    let (driver, _) = driver(Clock::mock(), 2);
    let log = StdArc::new(StdMutex::new(Vec::new()));
    let mut timers = Vec::new();
    let mut arm = |timer: Timer, worker, name| {
        let mut timer = Box::pin(timer);
        let waker = Waker::from(StdArc::new(Named(name, log.clone())));
        assert!(poll_in(timer.as_mut(), &driver, Some(worker), &waker).is_pending());
        timers.push(timer);
    };
    let start = driver.now();
    for _ in 0..super::WAKE_BATCH + 1 {
        arm(Timer::new(start + MS), 0, "task");
    }
    arm(Timer::for_scope(start + 2 * MS), 0, "scope");
    arm(Timer::new(start + MS), 1, "task");
    arm(Timer::for_scope(start + 2 * MS), 1, "scope");
    driver.advance(2 * MS);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), super::WAKE_BATCH + 4);
    assert_eq!(log[..2], ["scope", "scope"], "{log:?}");
}

#[test]
fn rearm_later_is_lock_free_and_fires_once_at_the_new_deadline() {
    let (driver, _) = driver(Clock::autojump(), 1);
    let start = driver.now();
    let (count, waker) = counter();
    let mut timer = Box::pin(Timer::new(start + 10 * MS));
    assert!(poll_in(timer.as_mut(), &driver, Some(0), &waker).is_pending());
    timer.as_mut().reset(start + 3000 * MS);
    // The entry still sits at the 10 ms slot: the driver re-files it there.
    assert!(driver.jump_to_next());
    assert_eq!(driver.now(), start + 3000 * MS);
    assert_eq!(count.wakes(), 1);
    assert!(poll_in(timer.as_mut(), &driver, Some(0), &waker).is_ready());
}

#[test]
fn rearm_earlier_moves_the_entry() {
    let (driver, _) = driver(Clock::autojump(), 1);
    let start = driver.now();
    let (count, waker) = counter();
    let mut timer = Box::pin(Timer::new(start + 3000 * MS));
    assert!(poll_in(timer.as_mut(), &driver, Some(0), &waker).is_pending());
    timer.as_mut().reset(start + 7 * MS);
    assert!(driver.jump_to_next());
    assert_eq!(driver.now(), start + 7 * MS);
    assert_eq!(count.wakes(), 1);
    assert!(!driver.jump_to_next(), "nothing left at the old deadline");
}

#[test]
fn rearm_after_firing_and_into_the_past() {
    let (driver, _) = driver(Clock::autojump(), 1);
    let start = driver.now();
    let (count, waker) = counter();
    let mut timer = Box::pin(Timer::new(start + MS));
    assert!(poll_in(timer.as_mut(), &driver, None, &waker).is_pending());
    assert!(driver.jump_to_next());
    assert!(poll_in(timer.as_mut(), &driver, None, &waker).is_ready());
    // Again, later.
    timer.as_mut().reset(start + 50 * MS);
    assert!(!timer.is_elapsed());
    assert!(poll_in(timer.as_mut(), &driver, None, &waker).is_pending());
    assert!(driver.jump_to_next());
    assert_eq!(driver.now(), start + 50 * MS);
    assert_eq!(count.wakes(), 2);
    // Into the past while armed: fires at once and wakes the registered waker.
    timer.as_mut().reset(start + 100 * MS);
    assert!(poll_in(timer.as_mut(), &driver, None, &waker).is_pending());
    timer.as_mut().reset(start);
    assert!(timer.is_elapsed());
    assert_eq!(count.wakes(), 3);
    assert!(!driver.jump_to_next());
}

#[test]
fn a_deadline_already_passed_completes_on_the_first_poll() {
    let (driver, _) = driver(Clock::mock(), 1);
    driver.advance(Duration::from_secs(1));
    let (count, waker) = counter();
    let mut timer = Box::pin(Timer::new(driver.now() - 10 * MS));
    assert!(poll_in(timer.as_mut(), &driver, Some(0), &waker).is_ready());
    assert_eq!(count.wakes(), 0, "no spurious self-wake");
}

#[test]
fn a_24_hour_timer_needs_a_handful_of_jumps() {
    let (driver, _) = driver(Clock::autojump(), 2);
    let start = driver.now();
    let day = Duration::from_secs(24 * 3600);
    let (count, waker) = counter();
    let mut timer = Box::pin(Timer::new(start + day));
    assert!(poll_in(timer.as_mut(), &driver, Some(1), &waker).is_pending());
    assert!(driver.jump_to_next());
    assert_eq!(driver.now(), start + day);
    assert_eq!(count.wakes(), 1);
}

/// A deadline that overflows `Instant` saturates and never fires: the autojump clock
/// does not jump to it, whether the timer was armed for it or reset to it.
#[test]
fn saturated_deadlines_never_fire_even_on_autojump() {
    let (driver, _) = driver(Clock::autojump(), 1);
    let start = driver.now();
    let (count, waker) = counter();
    let far = deadline_after(start, Duration::MAX);
    let three_years = start + Duration::from_secs(3 * 365 * 24 * 3600);
    let mut far_timer = Box::pin(Timer::new(far));
    let mut near = Box::pin(Timer::new(three_years));
    let mut reset = Box::pin(Timer::new(start + Duration::from_secs(60)));
    assert!(poll_in(far_timer.as_mut(), &driver, Some(0), &waker).is_pending());
    assert!(poll_in(near.as_mut(), &driver, Some(0), &waker).is_pending());
    assert!(poll_in(reset.as_mut(), &driver, Some(0), &waker).is_pending());
    reset.as_mut().reset(far);
    assert_eq!(driver.armed(), 1, "only the three-year timer is filed");
    // Three years is beyond the wheel's top level: clamped, re-cascaded, exact.
    assert!(driver.jump_to_next());
    assert_eq!(driver.now(), three_years);
    assert!(near.is_elapsed() && !far_timer.is_elapsed() && !reset.is_elapsed());
    assert!(
        !driver.jump_to_next(),
        "jumped towards a saturated deadline"
    );
    assert_eq!(driver.now(), three_years);
    assert!(!far_timer.is_elapsed() && !reset.is_elapsed());
    assert_eq!(count.wakes(), 1);
    // Reset to a deadline it can reach, it fires.
    reset.as_mut().reset(three_years + Duration::from_secs(1));
    assert!(driver.jump_to_next());
    assert!(reset.is_elapsed() && !far_timer.is_elapsed());
    // Ticks past `MAX_TICK` clamp instead of overflowing.
    assert_eq!(
        driver
            .shared
            .tick_ceil(start + Duration::from_secs(u64::MAX >> 8)),
        MAX_TICK
    );
}

#[test]
fn timers_file_in_the_polling_workers_shard() {
    let (driver, _) = driver(Clock::mock(), 2);
    let (_, waker) = counter();
    let mut a = Box::pin(Timer::new(driver.now() + 5 * MS));
    let mut b = Box::pin(Timer::new(driver.now() + 9 * MS));
    let mut c = Box::pin(Timer::new(driver.now() + 7 * MS));
    assert!(poll_in(a.as_mut(), &driver, Some(1), &waker).is_pending());
    assert!(poll_in(b.as_mut(), &driver, None, &waker).is_pending());
    assert!(poll_in(c.as_mut(), &driver, Some(7), &waker).is_pending());
    let earliest: Vec<u64> = driver
        .shards
        .iter()
        .map(|s| s.earliest.load(Ordering::SeqCst))
        .collect();
    // Worker 7 does not exist: its timer goes to the shared shard.
    assert_eq!(earliest, vec![NO_TIMER, 5, 7]);
    driver.advance(10 * MS);
    assert!(
        driver
            .shards
            .iter()
            .all(|s| s.earliest.load(Ordering::SeqCst) == NO_TIMER)
    );
}

#[test]
fn park_timeout_and_unpark_on_an_earlier_deadline() {
    let (driver, unparks) = driver(Clock::system(), 1);
    let (_, waker) = counter();
    let unparked = || unparks.load(StdOrdering::SeqCst);
    let now = driver.now();

    // Not parked yet: arming never unparks.
    let mut t60 = Box::pin(Timer::new(now + Duration::from_secs(60)));
    assert!(poll_in(t60.as_mut(), &driver, Some(0), &waker).is_pending());
    assert_eq!(unparked(), 0);

    let timeout = driver.park_timeout().expect("a timer is armed");
    assert!(timeout > Duration::from_secs(59) && timeout <= Duration::from_secs(60) + MS);

    // Later than the parked-until deadline: no unpark.
    let mut t90 = Box::pin(Timer::new(now + Duration::from_secs(90)));
    assert!(poll_in(t90.as_mut(), &driver, None, &waker).is_pending());
    assert_eq!(unparked(), 0);
    // Earlier: unpark, once; then only for an even earlier one.
    let mut t30 = Box::pin(Timer::new(now + Duration::from_secs(30)));
    assert!(poll_in(t30.as_mut(), &driver, None, &waker).is_pending());
    assert_eq!(unparked(), 1);
    let mut t40 = Box::pin(Timer::new(now + Duration::from_secs(40)));
    assert!(poll_in(t40.as_mut(), &driver, Some(0), &waker).is_pending());
    assert_eq!(unparked(), 1);
    let mut t20 = Box::pin(Timer::new(now + Duration::from_secs(20)));
    assert!(poll_in(t20.as_mut(), &driver, Some(0), &waker).is_pending());
    assert_eq!(unparked(), 2);

    let timeout = driver.park_timeout().unwrap();
    assert!(timeout <= Duration::from_secs(20) + MS);
    drop((t20, t30));
    // Raised past the cancelled ones; maybe to a cascade point before 40 s.
    let timeout = driver.park_timeout().unwrap();
    assert!(timeout > Duration::from_secs(30) && timeout <= Duration::from_secs(40) + MS);
    drop((t40, t60, t90));
    assert_eq!(
        driver.park_timeout(),
        None,
        "cancelling refreshed the estimate"
    );
    assert_eq!(driver.process(), 0);
    // Parked with no timer: any new timer unparks.
    let mut t = Box::pin(Timer::new(driver.now() + Duration::from_secs(3600)));
    assert!(poll_in(t.as_mut(), &driver, Some(0), &waker).is_pending());
    assert_eq!(unparked(), 3);
}

#[test]
fn a_due_timer_means_a_zero_timeout() {
    let (driver, _) = driver(Clock::system(), 1);
    let (count, waker) = counter();
    // A deadline that has not passed by the first poll, even in a slow run (Miri):
    // one already reached would fire at that poll.
    let mut timer = Box::pin(Timer::new(driver.now() + 50 * MS));
    assert!(poll_in(timer.as_mut(), &driver, Some(0), &waker).is_pending());
    std::thread::sleep(60 * MS);
    assert_eq!(driver.park_timeout(), Some(Duration::ZERO));
    assert_eq!(driver.process(), 1);
    assert_eq!(count.wakes(), 1);
    assert_eq!(driver.park_timeout(), None);
}

#[test]
fn mock_clocks_never_time_out_by_themselves() {
    let (driver, unparks) = driver(Clock::mock(), 1);
    let (count, waker) = counter();
    let mut timer = Box::pin(Timer::new(driver.now() + 5 * MS));
    assert!(poll_in(timer.as_mut(), &driver, Some(0), &waker).is_pending());
    assert_eq!(driver.park_timeout(), None);
    assert!(
        !driver.jump_to_next(),
        "a plain mock clock only moves by advance"
    );
    driver.clock().advance(5 * MS);
    assert_eq!(driver.park_timeout(), Some(Duration::ZERO));
    assert_eq!(driver.process(), 1);
    assert_eq!(count.wakes(), 1);
    assert_eq!(unparks.load(StdOrdering::SeqCst), 0);
}

#[test]
fn timers_fire_from_another_thread() {
    // Owners on several threads arm, re-arm and drop timers while another thread turns
    // the driver; every timer that is not dropped completes, and wakes its waker at
    // most once per arming: a timer that fires while its owner re-arms it (the wake
    // lands during `reset`) and then fires again at the new deadline wakes twice.
    let (driver, _) = driver(Clock::autojump(), 4);
    let driver = StdArc::new(driver);
    let done = StdArc::new(std::sync::atomic::AtomicBool::new(false));
    let turner = {
        let (driver, done) = (driver.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(StdOrdering::SeqCst) {
                driver.jump_to_next();
                std::thread::yield_now();
            }
        })
    };
    let owners: Vec<_> = (0..4)
        .map(|worker| {
            let driver = driver.clone();
            std::thread::spawn(move || {
                let mut rng = XorShift(worker as u64 + 1);
                for _ in 0..if cfg!(miri) { 10 } else { 500 } {
                    let (count, waker) = counter();
                    let now = driver.now();
                    let mut timer =
                        Box::pin(Timer::new(now + Duration::from_millis(rng.next() % 50)));
                    if poll_in(timer.as_mut(), &driver, Some(worker), &waker).is_ready() {
                        continue;
                    }
                    let armings = match rng.next() % 3 {
                        0 => continue, // dropped (cancelled), fired or not
                        1 => {
                            let deadline = driver.now() + Duration::from_millis(rng.next() % 50);
                            timer.as_mut().reset(deadline);
                            2
                        }
                        _ => 1,
                    };
                    // Wait for it, polling like an executor would.
                    while poll_in(timer.as_mut(), &driver, Some(worker), &waker).is_pending() {
                        std::thread::yield_now();
                    }
                    assert!(count.wakes() <= armings, "{} wakes", count.wakes());
                }
            })
        })
        .collect();
    for owner in owners {
        owner.join().unwrap();
    }
    done.store(true, StdOrdering::SeqCst);
    turner.join().unwrap();
}

#[test]
fn a_mock_clock_within_a_tick_fires_the_timers_it_reached_and_no_others() {
    let (driver, _) = driver(Clock::mock(), 1);
    let start = driver.now();
    let us = Duration::from_micros;
    driver.advance(us(63_500));
    let (count, waker) = counter();
    // Tick 64 starts a level-1 window: these share its slot with a later tick's timer.
    let mut timers = [us(63_700), us(63_900), us(64_000), us(100_000)]
        .map(|at| Box::pin(Timer::new(start + at)));
    for timer in &mut timers {
        assert!(poll_in(timer.as_mut(), &driver, Some(0), &waker).is_pending());
    }
    let elapsed = |timers: &[Pin<Box<Timer>>; 4]| timers.each_ref().map(|t| t.is_elapsed());
    driver.advance(us(200));
    assert_eq!(elapsed(&timers), [true, false, false, false]);
    assert_eq!(
        driver.park_timeout(),
        None,
        "nothing due: the worker may park"
    );
    driver.advance(us(299));
    assert_eq!(elapsed(&timers), [true, true, false, false]);
    driver.advance(us(1));
    assert_eq!(elapsed(&timers), [true, true, true, false]);
    assert_eq!(count.wakes(), 3);
    driver.advance(us(36_000));
    assert_eq!(elapsed(&timers), [true; 4]);
}

#[test]
fn advancing_a_shared_mock_clock_fires_the_timers_of_every_driver_on_it() {
    let us = Duration::from_micros;
    for clock in [Clock::mock(), Clock::autojump()] {
        let (a, _) = driver(clock.clone(), 1);
        a.advance(us(300));
        // Its ticks count from 0.3 ms on `a`'s.
        let (b, _) = driver(clock.clone(), 1);
        let (count, waker) = counter();
        let mut in_b = Box::pin(Timer::new(b.now() + us(1500)));
        assert!(poll_in(in_b.as_mut(), &b, Some(0), &waker).is_pending());
        a.advance(us(1499));
        assert_eq!(count.wakes(), 0, "{clock:?}");
        a.advance(us(1));
        assert_eq!(count.wakes(), 1, "{clock:?}");
        assert!(poll_in(in_b.as_mut(), &b, Some(0), &waker).is_ready());
        drop(b);
        a.advance(us(1));
        // A driver added later prunes the dropped one: `a` and the new one are kept.
        let (_c, _) = driver(clock.clone(), 1);
        assert_eq!(clock.driver_slots(), 2, "a dropped driver is let go");
    }
}

#[test]
fn an_autojump_of_one_driver_fires_the_due_timers_of_the_others() {
    let clock = Clock::autojump();
    let (a, _) = driver(clock.clone(), 1);
    let (b, _) = driver(clock, 1);
    let start = a.now();
    let (count_a, waker_a) = counter();
    let (count_b, waker_b) = counter();
    let mut in_a = Box::pin(Timer::new(start + 5 * MS));
    let mut in_b = Box::pin(Timer::new(start + 3 * MS));
    assert!(poll_in(in_a.as_mut(), &a, None, &waker_a).is_pending());
    assert!(poll_in(in_b.as_mut(), &b, None, &waker_b).is_pending());
    assert!(a.jump_to_next());
    assert_eq!(a.now(), start + 5 * MS);
    assert_eq!((count_a.wakes(), count_b.wakes()), (1, 1));
}
