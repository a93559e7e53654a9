//! loom model of a timer entry: the driver firing it vs its owner re-polling, dropping
//! and re-arming it, from different threads.
//!
//! Checked: no lost wake-up (a poll that returns `Pending` on an entry the driver fires
//! is followed by a wake of that poll's waker); each waker woken at most once per
//! arming; never firing before the (re-armed) deadline; and no use after free: the
//! owner's release writes every cell of the entry (`retire_check`), so loom reports any
//! access of the driver that is not ordered before the release.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test
//! loom_time_entry`.
//!
//! Seen failing when broken, by hand:
//! - `TimerEntry::finish_fire` storing `RETIRED` before taking the waker (so an owner
//!   that sees `RETIRED` frees the entry without the lock while the driver still takes
//!   the waker): `fire_vs_drop` failed with a loom causality violation on the waker cell.
//! - `Timer::poll_armed` not re-checking the state after registering its waker:
//!   `fire_vs_repoll` failed with "lost wake-up: pending, never woken".
//! - (Before the `yield_now`s were added, `fire_vs_drop` missed the first break: loom
//!   did not run the spawned thread before the owner's first step. Keep them.)
#![cfg(pride_loom)]

use std::sync::Arc as StdArc;
use std::task::{Wake, Waker};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use pride::__loom::time::{Driver, LoomTimer};

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> (StdArc<Count>, Waker) {
    let count = StdArc::new(Count(AtomicUsize::new(0)));
    (count.clone(), Waker::from(count))
}

fn wakes(count: &Count) -> usize {
    count.0.load(Ordering::SeqCst)
}

/// Runs `body` as a loom model twice: with the main thread yielding right after it
/// spawned the others (see `fire_vs_drop`), and without. Under the preemption bound each
/// explores schedules the other does not.
fn model(body: impl Fn(bool) + Sync + Send + 'static) {
    let body = StdArc::new(body);
    for yield_first in [true, false] {
        let body = body.clone();
        loom::model(move || body(yield_first));
    }
}

fn maybe_yield(yield_first: bool) {
    if yield_first {
        thread::yield_now();
    }
}

/// A timer due at 1 ms, registered with waker `w1`, with the clock at 1 ms: the next
/// `process` fires it.
fn due_timer(driver: &Driver, w1: &Waker) -> LoomTimer {
    let mut timer = LoomTimer::new(driver, 1);
    assert!(!timer.poll(driver, w1));
    driver.advance_clock(1);
    timer
}

#[test]
fn fire_vs_repoll() {
    model(|yield_first| {
        let driver = Arc::new(Driver::new());
        let (c1, w1) = counter();
        let mut timer = due_timer(&driver, &w1);

        let turner = {
            let driver = driver.clone();
            thread::spawn(move || driver.process())
        };
        let (c2, w2) = counter();
        maybe_yield(yield_first); // see `fire_vs_drop`
        let ready = timer.poll(&driver, &w2);
        assert_eq!(turner.join().unwrap(), 1, "fired exactly once");

        if !ready {
            assert_eq!(wakes(&c2), 1, "lost wake-up: pending, never woken");
        }
        assert!(wakes(&c1) <= 1 && wakes(&c2) <= 1, "a waker woken twice");
        assert!(timer.is_elapsed());
        timer.release();
    });
}

#[test]
fn fire_vs_drop() {
    model(|yield_first| {
        let driver = Arc::new(Driver::new());
        let (c1, w1) = counter();
        let mut timer = due_timer(&driver, &w1);

        let turner = {
            let driver = driver.clone();
            thread::spawn(move || driver.process())
        };
        // Without this loom never runs the new thread before the owner's first step,
        // and so misses a driver that fired completely before the release.
        maybe_yield(yield_first);
        timer.release();
        let fired = turner.join().unwrap();

        assert!(fired <= 1);
        assert_eq!(wakes(&c1), fired, "woken iff fired, once");
        drop(timer);
    });
}

#[test]
fn fire_vs_rearm_later() {
    model(|yield_first| {
        let driver = Arc::new(Driver::new());
        let (c1, w1) = counter();
        let mut timer = due_timer(&driver, &w1);

        let turner = {
            let driver = driver.clone();
            thread::spawn(move || driver.process())
        };
        maybe_yield(yield_first); // see `fire_vs_drop`
        // Lock-free if it wins the race, re-armed under the lock if the driver fired.
        timer.reset(&driver, 5);
        let fired = turner.join().unwrap();

        assert!(fired <= 1);
        assert!(!timer.is_elapsed(), "fired before the re-armed deadline");
        assert!(!timer.poll(&driver, &w1));
        driver.advance_clock(5);
        assert_eq!(driver.process(), 1);
        assert!(timer.poll(&driver, &w1));
        assert_eq!(wakes(&c1), fired + 1, "one wake per arming that fired");
        timer.release();
    });
}

#[test]
fn fire_vs_rearm_earlier() {
    model(|yield_first| {
        let driver = Arc::new(Driver::new());
        let (c1, w1) = counter();
        let mut timer = LoomTimer::new(&driver, 10);
        assert!(!timer.poll(&driver, &w1));
        driver.advance_clock(2);

        let turner = {
            let driver = driver.clone();
            thread::spawn(move || driver.process())
        };
        maybe_yield(yield_first); // see `fire_vs_drop`
        // Earlier, to "now": fires at once, under the lock.
        timer.reset(&driver, 0);
        let fired = turner.join().unwrap();
        let fired = fired + driver.process();

        assert!(timer.is_elapsed());
        assert!(fired <= 1, "fired twice");
        assert_eq!(wakes(&c1), 1, "one wake for the one arming");
        timer.release();
    });
}

#[test]
fn two_turners_vs_repoll_and_drop() {
    model(|yield_first| {
        let driver = Arc::new(Driver::new());
        let (c1, w1) = counter();
        let mut timer = due_timer(&driver, &w1);

        let turners: Vec<_> = (0..2)
            .map(|_| {
                let driver = driver.clone();
                thread::spawn(move || driver.process())
            })
            .collect();
        maybe_yield(yield_first); // see `fire_vs_drop`
        let ready = timer.poll(&driver, &w1);
        timer.release();
        let fired: usize = turners.into_iter().map(|t| t.join().unwrap()).sum();

        assert!(fired <= 1, "fired twice");
        assert!(wakes(&c1) <= 1, "woken twice");
        if ready {
            assert_eq!(fired, 1);
        }
    });
}
