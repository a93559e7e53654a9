//! The time driver: sharded timing wheels, the parker's timeout, firing.
//!
//! There is one wheel shard per worker plus one shared shard for every other thread,
//! each behind its own lock. A timer is filed in the shard of the thread that first
//! polls it and stays there, so a timer armed and dropped on one worker only ever
//! takes that worker's (uncontended) lock. Whichever worker turns the driver
//! (`park_timeout` + `process`) visits every shard.
//!
//! Ticks are milliseconds; a deadline is filed at its tick rounded up. On a mock clock,
//! which may stand within a tick, `process` also fires the entries of the next tick
//! whose exact deadline the clock has reached (by the entry's `fraction`), so that
//! `advance` to a deadline fires it, and an autojump stops at each exact deadline; the
//! system clock fires by whole ticks only.
//!
//! Each shard publishes the earliest tick it may need attention at in an atomic, so the
//! parker computes its timeout without taking any lock. That value may be early (a
//! cancelled timer, a cascade point), never late.
//!
//! # No lost wake-up of the parked driver
//!
//! `park_timeout` stores `parked_until = PARKING`, then runs a `SeqCst` fence, then
//! reads every shard's `earliest`; arming a timer stores the shard's lowered
//! `earliest`, then runs a `SeqCst` fence, then reads `parked_until`. The two fences are
//! ordered one way or the other: either the parker's read sees the new `earliest` (and
//! sleeps no longer than it), or the arming thread's read sees `PARKING` or a later
//! tick and calls `unpark`. (Fences, not `SeqCst` accesses, because loom checks the
//! fence form exactly: `loom-tests/timer.rs` runs this hand-shake on the real code.)
//! `unpark` must be sticky (an unpark before the park makes the park return at once,
//! as `mio::Waker` does), because the arming thread may call it before the parker
//! sleeps.
//!
//! # No timer left behind by a sweep
//!
//! A mock clock moves only in `advance` and `jump_to_next`, and each, after moving it,
//! sweeps every shard of every driver on the clock: it takes each shard's lock (whatever
//! the shard's `earliest` says) and fires what the clock, read after the move, reached.
//! `Shard::arm` reads the clock under the same lock, and decides there between firing
//! the timer at once (the clock has reached its deadline) and filing it. The lock
//! orders the arm and the sweep of its shard, one way or the other:
//! - the arm first: the sweep finds the timer filed, and fires it if the clock it read
//!   has reached the deadline;
//! - the sweep first: the arm's clock read comes after the sweep released the lock, so
//!   after the move, and it fires the timer at once if the move reached the deadline.
//!
//! So once an `advance` has returned and a timer has been armed, the timer has fired if
//! the clock reached its deadline, whichever order the two threads took. Two shortcuts
//! would each break this: reading the clock before taking the lock (the sweep may run
//! between the read and the filing), and skipping a shard by its `earliest`, read
//! without the lock (the sweep may miss a filing it is ordered after).
//! (`loom-tests/timer.rs` explores both orders: `arm_vs_advance`.) A lock-free postpone
//! (`Timer::reset` to a later tick) leaves the entry filed at its old tick, which a
//! sweep reaches first: it re-files the entry at the new tick and fires it there if the
//! clock reached that too.
//!
//! Sweeps may overlap, each with the clock it read: one that hands out what its clock
//! reached releases the lock between batches of scope deadlines' wakers (see below), and
//! a sweep with an older clock may come in then and find entries handed out for a later
//! tick than its own. It fires them as of the tick the wheel has reached (the clock has
//! passed it: some sweep read it), never re-filing an entry for a tick the wheel has
//! passed.
//!
//! # Scope deadlines before tasks
//!
//! A sweep wakes the wakers of the timers it fired after it released the shard lock,
//! and it wakes every scope deadline's waker (which cancels its scope where it is
//! woken) before any task's: those it keeps until the sweep has visited every shard.
//! So when deadlines and sleeps come due in one sweep, every scope whose deadline
//! passed is cancelled before any task woken by the sweep can run, on whichever worker:
//! a sleep that ends with the deadline of a scope around it is caught by the scope, on
//! every run, whatever order the sweep met the two timers in (a scope's timer may be in
//! another shard than the sleep's, its task having moved to another worker since).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::clock::Clock;
use super::entry::{Elapse, MAX_TICK, TimerEntry, WHOLE_TICK, Wakes};
use super::wheel::Wheel;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use crate::loom::sync::{Arc, Mutex};

/// `Shard::earliest` when the shard holds no timer.
const NO_TIMER: u64 = u64::MAX;
/// `Shared::parked_until` while `park_timeout` is computing: any new deadline unparks.
const PARKING: u64 = u64::MAX;
/// Scope deadlines' wakers are woken in batches of this many, outside the shard lock.
const WAKE_BATCH: usize = if cfg!(pride_loom) { 2 } else { 32 };

/// The runtime's time driver. See the module docs.
pub(crate) struct TimeDriver {
    shared: Arc<Shared>,
    /// `shards[i]` for worker `i`; the last one for every other thread. A mock clock
    /// keeps a weak handle to them, so that advancing it from any runtime on it fires
    /// this runtime's due timers too.
    shards: std::sync::Arc<[Arc<Shard>]>,
}

/// What every shard needs from the driver.
pub(crate) struct Shared {
    clock: Clock,
    /// Tick 0: the clock's time when the driver was made. Ticks are milliseconds.
    start: Instant,
    /// The tick the parked driver sleeps until: `0` when it does not sleep (or has not
    /// parked yet), `PARKING` while it computes its timeout or sleeps with none. Arming
    /// a timer for an earlier tick calls `unpark` (and lowers this to that tick).
    parked_until: AtomicU64,
    /// The latest tick `process` ran to. An empty wheel may jump its `elapsed` here
    /// when a timer is armed in it, so a deadline already past fires at once, and a
    /// near one is filed low in the wheel (few cascades).
    processed_tick: AtomicU64,
    /// The coarse clock that stamps each task's polls for the task-tree dump: moved to
    /// the tick every sweep runs to before it wakes anyone (so a task a timer wakes is
    /// never stamped with a time before its deadline, however far a mock clock jumped),
    /// and by the runtime when a worker wakes or turns the driver.
    coarse: crate::debug::task::CoarseTick,
    /// Set when the runtime is dropped (`TimeDriver::shut_down`): no timer is filed
    /// here any more.
    shut: AtomicBool,
    unpark: Box<dyn Fn() + Send + Sync>,
}

/// One wheel and its published earliest deadline.
pub(crate) struct Shard {
    wheel: Mutex<Wheel>,
    /// A tick at or before every armed deadline in this shard (`NO_TIMER`: none), so
    /// `process` may skip the shard until then; `process` cascades whatever it must on
    /// the way. Written only under `wheel`'s lock.
    earliest: AtomicU64,
    /// Timers filed in this shard, for the runtime's metrics. Written only under
    /// `wheel`'s lock (so a load and a store suffice); read without it.
    armed: std::sync::atomic::AtomicUsize,
    shared: Arc<Shared>,
}

impl TimeDriver {
    /// A driver with `workers` worker shards and one shared shard. `unpark` interrupts
    /// the parked driver; it must be sticky, and must not own the runtime (capture the
    /// `mio::Waker`, or a `Weak`), since timers keep it alive.
    pub(crate) fn new(
        clock: Clock,
        workers: usize,
        unpark: Box<dyn Fn() + Send + Sync>,
    ) -> TimeDriver {
        let shared = Arc::new(Shared {
            start: clock.now(),
            clock,
            parked_until: AtomicU64::new(0),
            processed_tick: AtomicU64::new(0),
            coarse: Default::default(),
            shut: AtomicBool::new(false),
            unpark,
        });
        let shards = (0..=workers)
            .map(|_| {
                Arc::new(Shard {
                    wheel: Mutex::new(Wheel::new()),
                    earliest: AtomicU64::new(NO_TIMER),
                    armed: Default::default(),
                    shared: shared.clone(),
                })
            })
            .collect::<std::sync::Arc<[_]>>();
        shared.clock.add_driver(std::sync::Arc::downgrade(&shards));
        TimeDriver { shared, shards }
    }

    /// The clock's current time.
    pub(crate) fn now(&self) -> Instant {
        self.shared.clock.now()
    }

    /// The runtime's clock.
    pub(crate) fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// The clock's current tick (milliseconds since the driver was made), in which the
    /// task-tree dump stamps polls and reads sleeps' deadlines.
    pub(crate) fn tick_now(&self) -> u64 {
        self.shared.now_tick(self.shared.clock.now())
    }

    /// Moves the coarse clock that stamps polls to the clock's current tick.
    pub(crate) fn note_time(&self) {
        self.shared.coarse.advance(self.tick_now());
    }

    /// The coarse clock's tick: what a poll starting now is stamped with.
    #[inline]
    pub(crate) fn coarse_tick(&self) -> u64 {
        self.shared.coarse.get()
    }

    /// The tick `deadline` falls due in, rounded up: what a task dump shows a sleep
    /// waiting for, due or not, whichever runtime's driver the timer is filed in.
    pub(crate) fn due_tick(&self, deadline: Instant) -> u64 {
        self.shared.tick_ceil(deadline)
    }

    /// The shard for timers first polled on `worker` (`None`: not a worker thread).
    pub(crate) fn shard_for(&self, worker: Option<usize>) -> &Arc<Shard> {
        let shared = self.shards.len() - 1;
        &self.shards[worker.map_or(shared, |i| i.min(shared))]
    }

    /// How long the worker that parks in the driver may sleep: `None` if no timer can
    /// come due by itself (none is armed, or the clock is a mock), `Some(ZERO)` if one
    /// already has. Records the tick it sleeps until, so that arming an earlier timer
    /// unparks it; call it right before each park.
    pub(crate) fn park_timeout(&self) -> Option<Duration> {
        let shared = &*self.shared;
        shared.parked_until.store(PARKING, Ordering::Relaxed);
        // Pairs with the fence in `note_deadline` (see the module docs).
        fence(Ordering::SeqCst);
        let earliest = self
            .shards
            .iter()
            .map(|s| s.earliest.load(Ordering::Relaxed))
            .min()
            .unwrap_or(NO_TIMER);
        let now = shared.clock.now();
        let now_tick = shared.now_tick(now);
        if earliest <= now_tick {
            shared.parked_until.store(0, Ordering::SeqCst);
            return Some(Duration::ZERO);
        }
        if shared.clock.is_mock() {
            // Time stands still: only a timer armed for a past tick can come due.
            shared
                .parked_until
                .fetch_min(now_tick + 1, Ordering::SeqCst);
            return None;
        }
        if earliest == NO_TIMER {
            return None;
        }
        shared.parked_until.fetch_min(earliest, Ordering::SeqCst);
        let since_start = now.saturating_duration_since(shared.start);
        Some(Duration::from_millis(earliest).saturating_sub(since_start))
    }

    /// Timers armed now, over every shard.
    pub(crate) fn armed(&self) -> usize {
        let armed = self.shards.iter().map(|s| s.armed.load(Ordering::Relaxed));
        armed.sum()
    }

    /// Fires every expired timer of every shard, waking their wakers outside the shard
    /// locks. Returns how many fired.
    ///
    /// # Panics
    ///
    /// If a waker panics: the panic is caught, every other due timer still fires, and
    /// the first panic is then resumed, so it reaches the caller (as a panicking waker
    /// does from `Event::set`) with the driver consistent.
    pub(crate) fn process(&self) -> usize {
        let mut batch = WakeBatch::new();
        let fired = process_shards(&self.shared, &self.shards, &mut batch, false);
        batch.finish();
        fired
    }

    /// On an autojump clock, when a timer is armed: moves the clock to the earliest
    /// deadline, exactly (not rounded to its tick), and fires what came due. Returns
    /// whether some timer fired (and so some task was woken); `false` on other clocks
    /// or with no timer armed.
    ///
    /// The runtime calls this instead of parking when every task is blocked.
    pub(crate) fn jump_to_next(&self) -> bool {
        if !self.shared.clock.is_autojump() {
            return false;
        }
        loop {
            let next = self
                .shards
                .iter()
                .filter_map(|shard| shard.wheel.lock().next_deadline())
                .min();
            let Some(target) = next.and_then(|tick| self.jump_target(tick)) else {
                return false;
            };
            self.shared.clock.advance_to(target);
            // Every shard, even one whose `earliest` is later: the target may be a
            // cascade point, which `earliest` does not count. Nothing fires when the
            // earliest slot only cascades, or its timers moved later, or the clock
            // stopped at the start of the tick before theirs: then look again. (No task
            // runs in between, so none sees the clock stop there.)
            let mut batch = WakeBatch::new();
            let fired = process_shards(&self.shared, &self.shards, &mut batch, true);
            // The clock is shared with every runtime on it: their due timers fire too.
            self.process_others(&mut batch);
            batch.finish();
            if fired > 0 {
                return true;
            }
        }
    }

    /// Where an autojump towards `tick`, the wheels' earliest, stops: the exact deadline
    /// of the earliest timer filed for `tick`, so that deadlines within one tick come
    /// due one at a time, each at its instant, as an exact `advance` brings them. A
    /// wheel finds those timers in its next tick once it stands on the tick before,
    /// where every sweep leaves it; so from further back the clock first stops at the
    /// start of the tick before. The end of `tick` if none is found there (`tick` is a
    /// cascade point, or its timers moved later). `None` where `Instant` cannot go.
    fn jump_target(&self, tick: u64) -> Option<Instant> {
        let shared = &*self.shared;
        let end = shared.instant_of(tick)?;
        let Some(before) = tick.checked_sub(1).and_then(|t| shared.instant_of(t)) else {
            return Some(end);
        };
        if shared.clock.now() < before {
            return Some(before);
        }
        let earliest = self
            .shards
            .iter()
            .filter_map(|shard| shard.earliest_fraction_of(tick))
            .min();
        Some(earliest.map_or(end, |fraction| {
            before + Duration::from_nanos(fraction.into())
        }))
    }

    /// Fires the due timers of the other runtimes on this (mock) clock, sweeping every
    /// shard (see "No timer left behind by a sweep" in the module docs).
    fn process_others(&self, batch: &mut WakeBatch) {
        for shards in self.shared.clock.drivers() {
            if !std::sync::Arc::ptr_eq(&shards, &self.shards) {
                process_shards(&shards[0].shared, &shards, batch, true);
            }
        }
    }

    /// Called when the runtime is dropped, after its tasks are: nobody turns this driver
    /// any more. Unfiles every timer filed in it and wakes its task, and files none from
    /// now on; a timer polled again lets go of this driver and is filed in the driver of
    /// the runtime it is polled in (rule 7 of `entry.rs`). Its deadline has not passed,
    /// so it does not fire: it moves.
    ///
    /// # Panics
    ///
    /// If a waker panics, after every other one was woken.
    pub(crate) fn shut_down(&self) {
        // Before the shard locks: an arm after a shard's drain sees it (under the lock).
        self.shared.shut.store(true, Ordering::SeqCst);
        let mut batch = WakeBatch::new();
        for shard in self.shards.iter() {
            shard.drain(&mut batch);
        }
        batch.finish();
    }

    /// Moves a mock clock forward by `d` and fires what came due, in every runtime on
    /// the clock. Sweeps every shard under its lock, so that a timer armed meanwhile is
    /// fired by the sweep or at its arm (see the module docs).
    ///
    /// # Panics
    ///
    /// On the system clock.
    pub(crate) fn advance(&self, d: Duration) {
        self.shared.clock.advance(d);
        let mut batch = WakeBatch::new();
        process_shards(&self.shared, &self.shards, &mut batch, true);
        self.process_others(&mut batch);
        batch.finish();
    }
}

/// Fires every expired timer of `shards` (a driver's, whose `Shared` is `shared`) by its
/// clock's now, with `batch` to wake them. Returns how many fired.
///
/// With `every_shard` it takes each shard's lock, even one whose `earliest` is later: a
/// sweep after a move of the clock must, so that an arm ordered before it by the lock
/// is seen (see the module docs). Without, it skips a shard whose `earliest` is later
/// than now, which is enough after a park: the park/arm hand-shake covers a timer armed
/// meanwhile.
fn process_shards(
    shared: &Shared,
    shards: &[Arc<Shard>],
    batch: &mut WakeBatch,
    every_shard: bool,
) -> usize {
    let now = shared.clock.now();
    let now_tick = shared.now_tick(now);
    shared.note_processed(now_tick);
    shared.coarse.advance(now_tick);
    let within = shared.within_tick(now, now_tick);
    // A clock standing within a tick may have reached deadlines in the next one.
    let due_by = now_tick + u64::from(within > 0);
    shards
        .iter()
        .filter(|shard| every_shard || shard.earliest.load(Ordering::Acquire) <= due_by)
        .map(|shard| shard.process(now_tick, within, batch))
        .sum()
}

impl Shared {
    /// The tick of a deadline, rounded up: a timer never fires early.
    fn tick_ceil(&self, deadline: Instant) -> u64 {
        let d = deadline.saturating_duration_since(self.start);
        let ms = d
            .as_secs()
            .saturating_mul(1000)
            .saturating_add(u64::from(d.subsec_nanos().div_ceil(1_000_000)));
        ms.min(MAX_TICK)
    }

    /// The tick the clock, which read `now`, is in. A mock clock moved to the end of
    /// its range (`advance(Duration::MAX)`) is past every deadline: there it could
    /// never reach a later one, so every timer fires, but for those armed for
    /// `MAX_TICK`, which no clock reaches.
    fn now_tick(&self, now: Instant) -> u64 {
        if self.clock.is_at_end() {
            MAX_TICK - 1
        } else {
            self.tick_floor(now)
        }
    }

    /// On a mock clock, how far (in nanoseconds, `1..WHOLE_TICK`) `now` lies into the
    /// tick after `now_tick`, its tick: a timer of that next tick whose deadline's
    /// `fraction` is not greater has come due. `0` on a clock standing on a tick's
    /// boundary or at its end, and on the system clock, whose timers fire by whole ticks.
    fn within_tick(&self, now: Instant, now_tick: u64) -> u32 {
        if !self.clock.is_mock() || self.clock.is_at_end() || now_tick >= MAX_TICK - 1 {
            return 0;
        }
        let nanos = now.saturating_duration_since(self.start).as_nanos();
        (nanos - u128::from(now_tick) * u128::from(WHOLE_TICK)) as u32
    }

    /// The tick `now` is in, rounded down.
    fn tick_floor(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.start);
        let ms = d
            .as_secs()
            .saturating_mul(1000)
            .saturating_add(u64::from(d.subsec_millis()));
        ms.min(MAX_TICK - 1)
    }

    /// The instant a tick starts at, if `Instant` can represent it.
    fn instant_of(&self, tick: u64) -> Option<Instant> {
        self.start.checked_add(Duration::from_millis(tick))
    }

    fn note_processed(&self, now_tick: u64) {
        // Read first: the line stays shared while time stands still.
        if self.processed_tick.load(Ordering::Relaxed) < now_tick {
            self.processed_tick.fetch_max(now_tick, Ordering::Relaxed);
        }
    }

    /// After a shard's `earliest` was lowered to `tick`: unparks the driver if it sleeps
    /// past `tick` (see the module docs for why no wake-up is lost).
    fn note_deadline(&self, tick: u64) {
        // Pairs with the fence in `park_timeout`: the lowered `earliest` was stored
        // before it (see the module docs).
        fence(Ordering::SeqCst);
        if tick < self.parked_until.load(Ordering::Relaxed)
            && self.parked_until.fetch_min(tick, Ordering::SeqCst) > tick
        {
            (self.unpark)();
        }
    }
}

impl Shard {
    /// The tick to arm a timer for `deadline` at on this shard's driver: the deadline
    /// rounded up to a tick (a timer never fires early), except that a deadline not
    /// later than the clock's now gets tick 0, which every wheel has handed out from
    /// the start, so the timer fires at once. Rounded up, it would wait for the
    /// clock's next tick, which a mock clock standing within a tick never reaches.
    pub(crate) fn tick_for(&self, deadline: Instant) -> u64 {
        if deadline <= self.shared.clock.now() {
            return 0;
        }
        self.shared.tick_ceil(deadline)
    }

    /// The tick `deadline` falls due in, rounded up (what a task dump shows a sleep
    /// waiting for, due or not).
    pub(crate) fn due_tick(&self, deadline: Instant) -> u64 {
        self.shared.tick_ceil(deadline)
    }

    /// Where in its tick `tick` (from `tick_for`) `deadline` lies, for
    /// `TimerEntry::set_fraction`: on a mock clock, nanoseconds after the start of the
    /// tick before; `WHOLE_TICK` on the system clock, whose timers fire by whole ticks.
    pub(crate) fn fraction(&self, deadline: Instant, tick: u64) -> u32 {
        let shared = &*self.shared;
        if !shared.clock.is_mock() || tick == 0 || tick >= MAX_TICK {
            return WHOLE_TICK;
        }
        let nanos = deadline.saturating_duration_since(shared.start).as_nanos();
        let before = u128::from(tick - 1) * u128::from(WHOLE_TICK);
        nanos
            .saturating_sub(before)
            .clamp(1, u128::from(WHOLE_TICK)) as u32
    }

    /// The clock of this shard's driver.
    pub(crate) fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Whether this shard's runtime was dropped: a timer filed here must move to the
    /// driver of the runtime it is polled in. Check after registering the waker (rule
    /// 7 of `entry.rs`).
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shared.shut.load(Ordering::Acquire)
    }

    /// (Re-)arms `entry` for `deadline`: unfiles it if filed, then files it at the
    /// deadline's tick, or fires it at once (waking its registered waker) if the clock
    /// has reached the deadline or its tick has already been handed out, or, for
    /// `MAX_TICK`, leaves it armed and unfiled, so that it never fires (nor does the
    /// autojump clock jump towards it). After `shut_down`, a timer not due is left
    /// armed and unfiled too, for its owner to move. Returns whether it is now armed
    /// (`false`: elapsed).
    ///
    /// The clock is read under the shard lock: see "No timer left behind by a sweep" in
    /// the module docs.
    ///
    /// # Safety
    ///
    /// `entry` is pinned and alive, is never filed in another shard, and its owner calls
    /// `cancel` on this shard before freeing it (unless it is retired).
    pub(crate) unsafe fn arm(&self, entry: Pin<&TimerEntry>, deadline: Instant) -> bool {
        let ptr = NonNull::from(entry.get_ref());
        let mut wheel = self.wheel.lock();
        // SAFETY: alive, filed nowhere else, and we hold the lock.
        let was_armed = unsafe { wheel.remove(ptr) }.is_some();
        // `processed_tick` is a tick the clock has reached: safe to treat as handed out.
        wheel.catch_up(self.shared.processed_tick.load(Ordering::Relaxed));
        let tick = self.tick_for(deadline);
        entry.set_fraction(self.fraction(deadline, tick));
        entry.arm(tick);
        // Left unfiled: never; or, if not due, because the runtime was dropped: the
        // owner's next poll moves the timer to another driver (rule 7 of `entry.rs`).
        // `shut` is read under the lock: after `shut_down` set it, or before it drains
        // this shard.
        let shut = self.shared.shut.load(Ordering::Relaxed);
        let unfiled = tick == MAX_TICK || (shut && tick > wheel.elapsed());
        // SAFETY: alive and unfiled; the caller keeps it alive until `cancel` (rule 4 of
        // `entry.rs`) or until the driver retires it.
        let armed = unfiled || unsafe { wheel.insert(ptr, tick) }.is_ok();
        let filed = armed && !unfiled;
        self.count_armed(filed as usize, was_armed as usize);
        let lowered = filed && tick < self.earliest.load(Ordering::Relaxed);
        if lowered {
            // Ordered before the read of `parked_until` by the fence in `note_deadline`.
            self.earliest.store(tick, Ordering::Relaxed);
        }
        let waker = if armed {
            None
        } else {
            entry.elapse_now();
            entry.finish_fire()
        };
        drop(wheel);
        if lowered {
            self.shared.note_deadline(tick);
        }
        if let Some(waker) = waker {
            waker.wake();
        }
        armed
    }

    /// Unfiles `entry` so it never fires; after this the driver no longer touches it.
    ///
    /// # Safety
    ///
    /// As for `arm`: `entry` is alive and filed in this shard or nowhere.
    pub(crate) unsafe fn cancel(&self, entry: &TimerEntry) {
        if entry.is_retired() {
            // The driver retired it and let go of it (rule 4 of `entry.rs`).
            return;
        }
        let mut wheel = self.wheel.lock();
        // SAFETY: alive, filed here or nowhere, and we hold the lock.
        let filed_for = unsafe { wheel.remove(NonNull::from(entry)) };
        self.count_armed(0, filed_for.is_some() as usize);
        let was_earliest = |when| when <= self.earliest.load(Ordering::Relaxed) || wheel.is_empty();
        if filed_for.is_some_and(was_earliest) {
            // It was (or tied) the earliest, or the last: raise the estimate, so the
            // driver does not wake up for nothing. Still at or before every deadline.
            let earliest = wheel.next_deadline().unwrap_or(NO_TIMER);
            self.earliest.store(earliest, Ordering::SeqCst);
        }
    }

    /// The least `fraction` of the entries armed for `tick`, if this wheel stands on the
    /// tick before (the one whose next tick holds them) and holds some.
    fn earliest_fraction_of(&self, tick: u64) -> Option<u32> {
        let wheel = self.wheel.lock();
        if wheel.elapsed().checked_add(1) != Some(tick) {
            return None;
        }
        let mut earliest: Option<u32> = None;
        wheel.find_in_next_tick(|entry| {
            if entry.armed_tick() == Some(tick) {
                let fraction = entry.fraction();
                earliest = Some(earliest.map_or(fraction, |e| e.min(fraction)));
            }
            // Look at every one.
            false
        });
        earliest
    }

    /// At shutdown: unfiles every entry, leaving it armed, and puts its waker in `batch`
    /// (rule 7 of `entry.rs`).
    fn drain(&self, batch: &mut WakeBatch) {
        let mut wheel = self.wheel.lock();
        while let Some(ptr) = wheel.pop_any() {
            self.count_armed(0, 1);
            // SAFETY: a filed entry stays alive until it is unfiled under this lock (rule
            // 4 of `entry.rs`); it was just unfiled and we still hold the lock.
            let entry = unsafe { ptr.as_ref() };
            if let Some(waker) = entry.take_waker() {
                batch.push(waker, entry.wakes());
                if batch.is_full() {
                    drop(wheel);
                    batch.wake_scopes();
                    wheel = self.wheel.lock();
                }
            }
        }
        self.earliest.store(NO_TIMER, Ordering::SeqCst);
        drop(wheel);
        batch.wake_scopes();
    }

    /// Adds `filed` and takes `unfiled` from the armed count; called with the wheel's
    /// lock held.
    #[inline]
    fn count_armed(&self, filed: usize, unfiled: usize) {
        let armed = self.armed.load(Ordering::Relaxed);
        debug_assert!(armed + filed >= unfiled, "pride: timer count below zero");
        let armed = armed.wrapping_add(filed).wrapping_sub(unfiled);
        self.armed.store(armed, Ordering::Relaxed);
    }

    /// Fires every entry due by `now_tick`, and, with `within > 0` (a mock clock that
    /// far into the next tick, see `Shared::within_tick`), the entries of the next tick
    /// whose exact deadline that reaches; with `batch` to wake them (the scopes' before
    /// this returns, the tasks' when the sweep is over). A waker's panic is kept in it.
    fn process(&self, now_tick: u64, within: u32, batch: &mut WakeBatch) -> usize {
        let mut fired = 0;
        let mut wheel = self.wheel.lock();
        loop {
            let (ptr, due) = match wheel.pop_expired(now_tick) {
                // Filed for a tick the clock reached: by this sweep's now, or by a
                // later sweep's that moved the wheel on (`wheel.elapsed()`) and left
                // it to hand out while it woke a batch with the lock released. The
                // clock has passed both, so the later one is the due tick: elapsed
                // against this sweep's older now, the entry would be re-filed for a
                // tick the wheel has passed. (`elapsed` may also lie before `now_tick`:
                // a cascade hands out what the clock reached at once.)
                Some(ptr) => (ptr, now_tick.max(wheel.elapsed())),
                None if within == 0 => break,
                None => {
                    // `elapsed` is `now_tick` now, or later if a sweep with a later
                    // clock moved the wheel on: then the next tick holds no entry of
                    // `now_tick + 1`, and nothing is found (that sweep fires them). The
                    // entry's state may have moved past the next tick since the check:
                    // `try_elapse` below sees it.
                    let reached = |e: &TimerEntry| {
                        e.armed_tick() == Some(now_tick + 1) && e.fraction() <= within
                    };
                    let Some(ptr) = wheel.find_in_next_tick(reached) else {
                        break;
                    };
                    // SAFETY: alive (filed, rule 4 of `entry.rs`), filed here, and locked.
                    unsafe { wheel.remove(ptr) };
                    (ptr, now_tick + 1)
                }
            };
            // SAFETY: a filed entry stays alive until it is unfiled under this lock (rule
            // 4 of `entry.rs`); it was just unfiled and we still hold the lock.
            let entry = unsafe { ptr.as_ref() };
            match entry.try_elapse(due) {
                Elapse::MovedTo(tick) => {
                    debug_assert!(tick < MAX_TICK, "postponed to never (`Timer::reset` arms)");
                    // SAFETY: alive (above) and unfiled; its owner will cancel it here.
                    let refiled = unsafe { wheel.insert(ptr, tick) };
                    debug_assert!(refiled.is_ok(), "a moved deadline is later");
                }
                Elapse::Elapsed => {
                    fired += 1;
                    self.count_armed(0, 1);
                    let wakes = entry.wakes();
                    // The last access to the entry (rule 2 of `entry.rs`).
                    if let Some(waker) = entry.finish_fire() {
                        batch.push(waker, wakes);
                        if batch.is_full() {
                            drop(wheel);
                            batch.wake_scopes();
                            wheel = self.wheel.lock();
                        }
                    }
                }
            }
        }
        let earliest = wheel.next_deadline().unwrap_or(NO_TIMER);
        self.earliest.store(earliest, Ordering::SeqCst);
        drop(wheel);
        batch.wake_scopes();
        fired
    }
}

/// The wakers of the timers one sweep fires, woken outside the shard locks: the
/// scopes' (`Wakes::Scope`) in batches, each once it is full or a shard is done, and the
/// tasks' when the sweep is over (`finish`). See "Scope deadlines before tasks" in the
/// module docs.
struct WakeBatch {
    scopes: [Option<Waker>; WAKE_BATCH],
    len: usize,
    tasks: Vec<Waker>,
    /// The first panic of a waker: kept until every other waker was woken.
    panic: Option<Box<dyn Any + Send>>,
}

impl WakeBatch {
    fn new() -> WakeBatch {
        WakeBatch {
            scopes: std::array::from_fn(|_| None),
            len: 0,
            tasks: Vec::new(),
            panic: None,
        }
    }

    fn push(&mut self, waker: Waker, wakes: Wakes) {
        match wakes {
            Wakes::Scope => {
                self.scopes[self.len] = Some(waker);
                self.len += 1;
            }
            Wakes::Task => self.tasks.push(waker),
        }
    }

    /// Whether the scopes' batch is full: release the shard lock and `wake_scopes`.
    fn is_full(&self) -> bool {
        self.len == WAKE_BATCH
    }

    /// Wakes the scopes' wakers collected so far (no shard lock may be held).
    fn wake_scopes(&mut self) {
        for slot in &mut self.scopes[..self.len] {
            if let Some(waker) = slot.take() {
                wake_keeping_panic(waker, &mut self.panic);
            }
        }
        self.len = 0;
    }

    /// Ends the sweep: wakes the scopes' wakers left, then every task's, then resumes
    /// the first panic of a waker, if any. One that panics does not stop the others.
    fn finish(mut self) {
        self.wake_scopes();
        for waker in std::mem::take(&mut self.tasks) {
            wake_keeping_panic(waker, &mut self.panic);
        }
        if let Some(panic) = self.panic.take() {
            resume_unwind(panic);
        }
    }
}

/// Wakes `waker`, keeping its panic in `panic` if that holds none yet.
fn wake_keeping_panic(waker: Waker, panic: &mut Option<Box<dyn Any + Send>>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
        panic.get_or_insert(payload);
    }
}

#[cfg(all(test, not(pride_loom)))]
#[path = "driver_tests.rs"]
mod tests;
