//! loom model of the time driver's shards: timers filed in two workers' shards, cancelled
//! and re-armed from another thread while a third turns the driver, and a timer armed
//! while the driver computes its park timeout.
//!
//! `loom_time_entry` checks one entry against the driver; this model checks what the
//! shards add: the driver visiting every shard while an owner on another thread unfiles
//! or re-files an entry in one of them, each shard's published `earliest` (which may be
//! early, never late), and the hand-shake between arming a timer and parking the driver
//! (the arming thread stores the shard's lowered `earliest` and reads `parked_until`;
//! the parker stores `parked_until` and reads every `earliest`; one of them must see the
//! other, or the driver sleeps past the deadline), and the one between arming a timer
//! and `advance` (the arm reads the clock under the shard lock, the advance sweeps every
//! shard under its lock after moving the clock: one of them fires the timer).
//!
//! Checked: no lost unpark (the parker either sees the new timer as due or is unparked);
//! every waker woken once per arming that fired; no fire before a deadline; a timer
//! dropped on another thread is never touched by the driver afterwards (its release
//! writes every cell of the entry, so loom reports any unordered driver access); after
//! a cancel the shard's `earliest` is still at or before every remaining deadline; on a
//! mock clock standing within a tick, no timer moved later fires for its new deadline;
//! a timer armed while another thread advances the clock past its deadline is fired by
//! the advance's sweep or at its arm, never left filed; a timer polled while its
//! runtime is dropped moves to the runtime it is polled in; two sweeps that overlap,
//! each with the clock it read, lose no timer.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test
//! loom_timer`. The seeded bugs it catches are rows of the mutation table
//! (`loom-tests/README.md`, `loom-tests/mutate.sh`).
#![cfg(pride_loom)]

use std::sync::Arc as StdArc;
use std::task::{Wake, Waker};
use std::time::Duration;

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
/// spawned the others, and without. Under the preemption bound each explores schedules
/// the other does not (`remote_drop_and_reset_vs_turn` catches a cancel that forgets
/// the shard's next deadline only without the yield; `loom_time_entry`'s `fire_vs_drop`
/// needs the yield to catch its bug).
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

/// A driver with two worker shards, and the count of its unparks (sticky: an unpark
/// before the park makes the park return at once, so counting them is enough).
fn driver() -> (Arc<Driver>, Arc<AtomicUsize>) {
    let unparks = Arc::new(AtomicUsize::new(0));
    let counted = unparks.clone();
    let driver = Driver::with_workers(2, move || {
        counted.fetch_add(1, Ordering::SeqCst);
    });
    (Arc::new(driver), unparks)
}

/// Worker 1 arms a timer for the next tick while worker 0 moves the clock there and
/// computes its park timeout. A timer armed before the clock moved is filed, and is
/// then due without anyone having processed it: the parker sees it due, or the arming
/// thread unparks it. (Armed after, its deadline has passed and it fires at once.)
#[test]
fn arm_vs_park() {
    model(|yield_first| {
        let (driver, unparks) = driver();
        let (c1, w1) = counter();
        let mut timer = LoomTimer::new(&driver, 1);

        let parker = {
            let driver = driver.clone();
            thread::spawn(move || {
                driver.advance_clock(1);
                driver.park_timeout()
            })
        };
        maybe_yield(yield_first);
        let filed = !timer.poll_on(&driver, Some(1), &w1);
        let timeout = parker.join().unwrap();

        assert!(
            !filed || timeout == Some(Duration::ZERO) || unparks.load(Ordering::SeqCst) > 0,
            "lost unpark: the driver sleeps ({timeout:?}) past a due timer"
        );
        assert_eq!(driver.process(), usize::from(filed));
        assert_eq!(wakes(&c1), usize::from(filed));
        assert!(timer.poll_on(&driver, Some(1), &w1));
        timer.release();
    });
}

/// Worker 1 arms a timer while worker 0 advances the clock to or past its deadline: a
/// deadline within the next tick passed by the advance, and one on the tick's boundary
/// that the advance reaches exactly; in a shard holding a far timer, so an arm does not
/// catch the wheel up. Once both are done the clock stands at or past the deadline, so
/// the timer has fired: by the advance's sweep, or at once when it was armed. A timer
/// filed behind the sweep's back would wait for the next advance.
#[test]
fn arm_vs_advance() {
    for (deadline_us, advance_us) in [(500, 700), (1000, 1000)] {
        model(move |yield_first| arm_vs_advance_by(deadline_us, advance_us, yield_first));
    }
}

fn arm_vs_advance_by(deadline_us: u64, advance_us: u64, yield_first: bool) {
    let (driver, _unparks) = driver();
    let (cf, wf) = counter();
    let (c1, w1) = counter();
    let mut far = LoomTimer::new(&driver, 1000);
    assert!(!far.poll_on(&driver, Some(1), &wf));
    let mut timer = LoomTimer::new_us(&driver, deadline_us);

    let advancer = {
        let driver = driver.clone();
        thread::spawn(move || driver.advance_us(advance_us))
    };
    maybe_yield(yield_first);
    let at_once = timer.poll_on(&driver, Some(1), &w1);
    advancer.join().unwrap();

    assert!(
        timer.is_elapsed(),
        "the clock reached the deadline, but the timer was left filed"
    );
    // A poll that returned pending was woken (the sweep fired it after the poll
    // registered the waker); one that saw the timer fire need not be.
    assert!(wakes(&c1) <= 1, "woken twice");
    assert!(at_once || wakes(&c1) == 1, "pending, and never woken");
    assert_eq!(wakes(&cf), 0);
    timer.release();
    far.release();
}

/// Two threads advance the clock by a tick each, over three scope deadlines due at the
/// second tick in one shard. The sweep with the later clock hands the three out two at
/// a time (its batch of scope wakers is full, and it wakes them with the lock released);
/// the sweep with the older clock may come into the shard in that gap and find the
/// third handed out for a tick later than its own. Once both are done the clock stands
/// at the deadline: every timer has fired, and woken once. (Elapsed against the older
/// clock, the third would be re-filed for a tick the wheel has passed, and lost.)
#[test]
fn advance_vs_advance() {
    model(|yield_first| {
        let (driver, _unparks) = driver();
        let mut timers: Vec<_> = (0..3)
            .map(|_| {
                let (count, waker) = counter();
                let mut timer = LoomTimer::scope_deadline(&driver, 2);
                assert!(!timer.poll_on(&driver, Some(1), &waker));
                (timer, count)
            })
            .collect();

        let advancer = {
            let driver = driver.clone();
            thread::spawn(move || driver.advance_us(1000))
        };
        maybe_yield(yield_first);
        driver.advance_us(1000);
        advancer.join().unwrap();

        for (timer, count) in &mut timers {
            assert!(
                timer.is_elapsed(),
                "the clock reached the deadline, but a timer was lost"
            );
            assert_eq!(wakes(count), 1);
            timer.release();
        }
    });
}

/// A timer filed in driver A is polled by its task, now in runtime B, while A's runtime
/// is dropped (A shuts down). The poll either sees A shut down and files the timer in
/// B's driver, or registers the task's waker in time for the shutdown to wake it, and
/// the next poll moves it. Either way it ends up filed in B and fires there, once.
#[test]
fn shut_down_vs_poll() {
    model(|yield_first| {
        let (a, _) = driver();
        let (b, _) = driver();
        let (count, waker) = counter();
        let mut timer = LoomTimer::new(&a, 1);
        assert!(!timer.poll_on(&a, Some(0), &waker));

        let shutter = {
            let a = a.clone();
            thread::spawn(move || a.shut_down())
        };
        maybe_yield(yield_first);
        let ready = timer.poll_on(&b, Some(1), &waker);
        shutter.join().unwrap();

        assert!(!ready, "fired before its deadline");
        if wakes(&count) > 0 {
            // Woken by the shutdown: the task polls again.
            assert!(!timer.poll_on(&b, Some(1), &waker));
        }
        assert_eq!(a.process(), 0);
        // B's clock started after A's: two of its milliseconds pass the deadline.
        b.advance_clock(2);
        assert_eq!(b.process(), 1, "the timer was left in A's driver");
        assert!(timer.poll_on(&b, Some(1), &waker));
        timer.release();
    });
}

/// Two shards with a due timer each, and a later one in shard 0. Another thread drops
/// shard 0's due timer and moves shard 1's later while the driver turns.
#[test]
fn remote_drop_and_reset_vs_turn() {
    model(|yield_first| {
        let (driver, _unparks) = driver();
        let (ca, wa) = counter();
        let (cb, wb) = counter();
        let (cc, wc) = counter();
        let mut a = LoomTimer::new(&driver, 1);
        let mut b = LoomTimer::new(&driver, 1);
        let mut c = LoomTimer::new(&driver, 3);
        assert!(!a.poll_on(&driver, Some(0), &wa));
        assert!(!b.poll_on(&driver, Some(1), &wb));
        assert!(!c.poll_on(&driver, Some(0), &wc));
        driver.advance_clock(1);

        let turner = {
            let driver = driver.clone();
            thread::spawn(move || driver.process())
        };
        maybe_yield(yield_first);
        // The owners' task runs on another worker now.
        a.release();
        b.reset(&driver, 1); // due at 2
        let fired = turner.join().unwrap();

        assert!(fired <= 2, "fired {fired} of two due timers");
        assert!(wakes(&ca) <= 1 && wakes(&cb) <= 1, "a waker woken twice");
        assert_eq!(wakes(&cc), 0, "fired before its deadline");
        assert_eq!(wakes(&ca) + wakes(&cb), fired, "woken iff fired");
        let b_fired_early = wakes(&cb);

        // B's new deadline; A is gone; C (3) remains.
        driver.advance_clock(1);
        if !b.poll(&driver, &wb) {
            assert_eq!(driver.process(), 1, "B's re-armed deadline");
        }
        assert_eq!(
            wakes(&cb),
            b_fired_early + 1,
            "one wake per arming that fired"
        );
        assert!(b.poll(&driver, &wb));

        // Never late: at C's deadline the parker must see it due.
        driver.advance_clock(1);
        assert_eq!(driver.park_timeout(), Some(Duration::ZERO), "C forgotten");
        assert_eq!(driver.process(), 1);
        assert_eq!(wakes(&cc), 1);
        assert_eq!(wakes(&ca), fired - b_fired_early);
        c.release();
        b.release();
        drop(a);
    });
}

/// Another thread cancels the earliest timer of shard 1 (raising its `earliest`) while
/// the driver moves the clock and parks; a later timer stays in that shard and must not
/// be overslept, and a timer armed on shard 0 meanwhile, for the tick the clock moves
/// to, must unpark the driver or be seen (unless armed after the clock moved: then it
/// fires at once).
#[test]
fn remote_cancel_vs_arm_vs_park() {
    model(|yield_first| {
        let (driver, unparks) = driver();
        let (ca, wa) = counter();
        let (cb, wb) = counter();
        let (cn, wn) = counter();
        let mut a = LoomTimer::new(&driver, 3);
        let mut b = LoomTimer::new(&driver, 4);
        assert!(!a.poll_on(&driver, Some(1), &wa));
        assert!(!b.poll_on(&driver, Some(1), &wb));
        driver.advance_clock(1);
        let mut new = LoomTimer::new(&driver, 1);

        let parker = {
            let driver = driver.clone();
            thread::spawn(move || {
                driver.advance_clock(1);
                driver.park_timeout()
            })
        };
        let canceller = thread::spawn(move || {
            a.release();
            a
        });
        maybe_yield(yield_first);
        let filed = !new.poll_on(&driver, Some(0), &wn);
        let timeout = parker.join().unwrap();
        let a = canceller.join().unwrap();

        assert!(
            !filed || timeout == Some(Duration::ZERO) || unparks.load(Ordering::SeqCst) > 0,
            "lost unpark: the driver sleeps ({timeout:?}) past a due timer"
        );
        assert_eq!(driver.process(), usize::from(filed));
        assert_eq!(wakes(&cn), usize::from(filed));
        driver.advance_clock(2);
        assert_eq!(driver.park_timeout(), Some(Duration::ZERO), "B forgotten");
        assert_eq!(driver.process(), 1);
        assert_eq!((wakes(&ca), wakes(&cb)), (0, 1));
        new.release();
        b.release();
        drop(a);
    });
}

/// A mock clock standing within a tick: the driver fires the timers of the next tick
/// whose exact deadline (the entry's `fraction`) the clock reached, while their owner
/// moves them later, one to a later tick (lock-free), one within the same tick (which
/// must take the lock: lock-free, the tick would look unchanged, and the driver could
/// fire it by the fraction it read before the move).
#[test]
fn reset_vs_fire_within_a_tick() {
    model(|yield_first| {
        let (driver, _unparks) = driver();
        let (ca, wa) = counter();
        let (cb, wb) = counter();
        driver.advance_clock_us(500);
        // Deadlines at 1.2 ms and 1.4 ms, both in tick 2; the clock moves to 1.5 ms.
        let mut a = LoomTimer::new_us(&driver, 700);
        let mut b = LoomTimer::new_us(&driver, 900);
        assert!(!a.poll_on(&driver, Some(0), &wa));
        assert!(!b.poll_on(&driver, Some(0), &wb));
        driver.advance_clock_us(1000);

        let turner = {
            let driver = driver.clone();
            thread::spawn(move || driver.process())
        };
        maybe_yield(yield_first);
        // From the clock's 1.5 ms: A to 3.5 ms (tick 4), B to 1.8 ms (still tick 2).
        a.reset_us(&driver, 2000);
        b.reset_us(&driver, 300);
        let fired = turner.join().unwrap();

        assert_eq!(wakes(&ca) + wakes(&cb), fired, "woken iff fired");
        assert!(
            !a.is_elapsed() && !b.is_elapsed(),
            "a timer moved past the clock fired for its new deadline"
        );
        // B's new deadline, then A's.
        driver.advance_clock_us(299);
        assert_eq!(driver.process(), 0, "before B's new deadline");
        driver.advance_clock_us(1);
        assert_eq!(driver.process(), 1, "B at its new deadline");
        assert!(b.poll(&driver, &wb));
        driver.advance_clock_us(1700);
        assert_eq!(driver.process(), 1, "A at its new deadline");
        assert!(a.poll(&driver, &wa));
        a.release();
        b.release();
    });
}
