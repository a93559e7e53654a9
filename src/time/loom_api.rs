//! What the loom models in `loom-tests/time_*.rs` drive: a time driver on a mock clock
//! and timers polled, re-armed and released by hand. Only under `cfg(pride_loom)`;
//! reached as `pride::__loom::time`.

use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Duration;

use super::clock::Clock;
use super::driver::TimeDriver;
use super::timer::Timer;

/// A time driver on a mock clock, with worker shards and the shared shard.
pub struct Driver(TimeDriver);

impl Driver {
    /// A driver with one worker shard whose `unpark` does nothing.
    pub fn new() -> Driver {
        Driver(TimeDriver::new(Clock::mock(), 1, Box::new(|| {})))
    }

    /// A driver with `workers` worker shards whose `unpark` runs `unpark`.
    pub fn with_workers(workers: usize, unpark: impl Fn() + Send + Sync + 'static) -> Driver {
        Driver(TimeDriver::new(Clock::mock(), workers, Box::new(unpark)))
    }

    /// What the worker that parks in the driver computes right before parking: how long
    /// it may sleep (`None`: until unparked; `Some(ZERO)`: a timer is due).
    pub fn park_timeout(&self) -> Option<Duration> {
        self.0.park_timeout()
    }

    /// Moves the clock forward without firing anything.
    pub fn advance_clock(&self, ms: u64) {
        self.0.clock().advance(Duration::from_millis(ms));
    }

    /// Moves the clock forward by `us` microseconds without firing anything.
    pub fn advance_clock_us(&self, us: u64) {
        self.0.clock().advance(Duration::from_micros(us));
    }

    /// `pride::time::advance` by `us` microseconds: moves the clock, then fires what
    /// came due.
    pub fn advance_us(&self, us: u64) {
        self.0.advance(Duration::from_micros(us));
    }

    /// What the runtime's drop does to its time driver: unfiles every timer, wakes its
    /// task, and files none from now on.
    pub fn shut_down(&self) {
        self.0.shut_down();
    }

    /// Fires what is due; returns how many fired.
    pub fn process(&self) -> usize {
        self.0.process()
    }
}

impl Default for Driver {
    fn default() -> Driver {
        Driver::new()
    }
}

/// A `Timer` whose owner's side the model drives. `release` runs the timer's `Drop` in
/// place but keeps its memory until this value is dropped, so that a driver access
/// after the release is reported by loom instead of reading freed memory.
pub struct LoomTimer {
    timer: Pin<Box<ManuallyDrop<Timer>>>,
    released: bool,
}

impl LoomTimer {
    /// A timer due `ms` after the driver's current time.
    pub fn new(driver: &Driver, ms: u64) -> LoomTimer {
        let deadline = driver.0.now() + Duration::from_millis(ms);
        LoomTimer {
            timer: Box::pin(ManuallyDrop::new(Timer::new(deadline))),
            released: false,
        }
    }

    /// A scope deadline's timer due `ms` after the driver's current time: a sweep wakes
    /// these in batches, with the shard's lock released in between, before any task's.
    pub fn scope_deadline(driver: &Driver, ms: u64) -> LoomTimer {
        let deadline = driver.0.now() + Duration::from_millis(ms);
        LoomTimer {
            timer: Box::pin(ManuallyDrop::new(Timer::for_scope(deadline))),
            released: false,
        }
    }

    /// A timer due `us` microseconds after the driver's current time.
    pub fn new_us(driver: &Driver, us: u64) -> LoomTimer {
        let deadline = driver.0.now() + Duration::from_micros(us);
        LoomTimer {
            timer: Box::pin(ManuallyDrop::new(Timer::new(deadline))),
            released: false,
        }
    }

    fn pinned(&mut self) -> Pin<&mut Timer> {
        assert!(!self.released, "used after release");
        // SAFETY: `ManuallyDrop` is a transparent wrapper; the timer is not moved.
        unsafe { self.timer.as_mut().map_unchecked_mut(|t| &mut **t) }
    }

    /// Polls the timer (the first poll files it in worker 0's shard); `true` if ready.
    pub fn poll(&mut self, driver: &Driver, waker: &Waker) -> bool {
        self.poll_on(driver, Some(0), waker)
    }

    /// Polls the timer as worker `worker` (`None`: a thread that is no worker); the
    /// first poll files it in that worker's shard, later polls from anywhere use it.
    pub fn poll_on(&mut self, driver: &Driver, worker: Option<usize>, waker: &Waker) -> bool {
        let mut cx = Context::from_waker(waker);
        self.pinned()
            .poll_elapsed_in(&driver.0, worker, &mut cx)
            .is_ready()
    }

    /// Moves the deadline to `ms` after the driver's current time.
    pub fn reset(&mut self, driver: &Driver, ms: u64) {
        let deadline = driver.0.now() + Duration::from_millis(ms);
        self.pinned().reset(deadline);
    }

    /// Moves the deadline to `us` microseconds after the driver's current time.
    pub fn reset_us(&mut self, driver: &Driver, us: u64) {
        let deadline = driver.0.now() + Duration::from_micros(us);
        self.pinned().reset(deadline);
    }

    /// Whether the timer has elapsed.
    pub fn is_elapsed(&self) -> bool {
        self.timer.is_elapsed()
    }

    /// Runs the timer's `Drop` (cancel, then a loom write to every cell of the entry,
    /// modelling its deallocation).
    pub fn release(&mut self) {
        assert!(!self.released);
        self.released = true;
        // SAFETY: dropped in place exactly once (guarded by `released`), and never used
        // again; the memory stays allocated until `self` is dropped.
        unsafe { ManuallyDrop::drop(self.timer.as_mut().get_unchecked_mut()) };
    }
}

impl Drop for LoomTimer {
    fn drop(&mut self) {
        if !self.released {
            self.release();
        }
    }
}
