//! Time: sleeps, intervals, deadlines and the clocks they run on.
//!
//! - [`sleep`], [`sleep_until`]: wait for a duration or an instant ([`Sleep`]).
//! - [`interval`]: a periodic tick ([`Interval`], also a `futures_core::Stream`).
//! - [`current_time`]: "now" on the runtime's clock.
//! - [`Clock`]: where "now" comes from. [`Clock::system`] in production;
//!   [`Clock::mock`] (moved by [`advance`]) and [`Clock::autojump`] (which jumps to the
//!   next deadline whenever every task is waiting) make time-dependent tests exact and
//!   instant.
//!
//! Deadlines of cancel scopes ([`move_on_after`](crate::move_on_after),
//! [`fail_after`](crate::fail_after), [`CancelScope`](crate::CancelScope)) use the same
//! timers. Timers never fire early. On the system clock they have a resolution of 1 ms
//! (a deadline is rounded up to the next whole millisecond); on a mock clock a timer
//! fires as soon as the clock reaches its deadline exactly.
//!
//! A [`Sleep`] or an [`Interval`] may outlive the runtime it was first polled in (kept
//! and awaited in another runtime). When that runtime is dropped, the tasks waiting on
//! its timers are woken, and each timer, polled again, moves to the runtime it is polled
//! in and waits there for the same deadline, on that runtime's clock. Polled outside
//! any runtime, it panics.

// How timers work. The parts, in the order a timer meets them:
//
// - [`Clock`] (`clock.rs`): where "now" comes from: the system clock, a mock clock moved
//   by [`advance`], or an autojump clock the runtime moves to the next deadline when
//   every task is blocked.
// - [`sleep`], [`sleep_until`], [`interval`], [`current_time`] (`sleep.rs`): the public
//   API, built on `Timer` (`timer.rs`), the crate's one deadline primitive, which cancel
//   scopes use too.
// - `TimerEntry` (`entry.rs`): the lock-free state a timer's owner and the driver share:
//   an atomic deadline/state word and an atomic waker slot.
// - `Wheel` (`wheel.rs`): a hashed hierarchical timing wheel (Varghese & Lauck), 1 ms
//   ticks, six levels of 64 slots, O(1) filing and cancelling.
// - `TimeDriver` (`driver.rs`): one wheel shard per worker plus a shared one, each
//   behind its own lock, and the runtime's entry points: `park_timeout`, `process`,
//   `jump_to_next`, `advance`.
//
// Invariants:
// - A timer never fires before its deadline (deadlines round up to the next tick), and
//   one whose deadline is not later than the clock's now fires at once. On a mock clock,
//   which may stand within a tick, processing also fires the timers of the next tick
//   whose exact deadline the clock reached: each entry keeps where in its tick its
//   deadline lies (`TimerEntry::fraction`).
// - A timer fires at most once per arming, and its waker is woken outside every lock.
// - No lost wake-up: of a task by a firing timer (`entry.rs`), nor of the parked driver
//   by a newly armed, earlier timer (`driver.rs`). No timer is left filed behind a move
//   of a mock clock that reached its deadline: the arm reads the clock under the shard
//   lock, and the sweep after the move takes every shard's lock (`driver.rs`).
// - Arming, re-arming and cancelling allocate nothing and lock only the timer's own
//   shard; a timer armed and dropped on one worker locks only that worker's shard.
//
// Who calls it: tasks (through the public API and cancel scopes), which reach the
// driver through `runtime::context::with_time` on a timer's first poll; and the runtime,
// which builds the `TimeDriver` with its clock and calls it around parking.

mod atomic_waker;
#[cfg(unix)]
mod backoff;
mod clock;
mod driver;
mod entry;
#[cfg(pride_loom)]
pub(crate) mod loom_api;
mod sleep;
mod timer;
mod wheel;

pub use clock::Clock;
pub use sleep::{Interval, Sleep, advance, current_time, interval, sleep, sleep_until};

#[cfg(unix)]
pub(crate) use backoff::Backoff;
pub(crate) use driver::TimeDriver;
#[allow(unused_imports)] // used by cancel scopes
pub(crate) use sleep::deadline_after;
#[allow(unused_imports)] // used by cancel scopes
pub(crate) use timer::Timer;
