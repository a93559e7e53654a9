//! When a timeout started, for a tenth of the price of asking.
//!
//! A timeout (`fail_after`, `move_on_after`, `CancelScope::with_timeout`) counts from
//! the moment its scope is entered. Reading the precise clock there costs more than
//! everything else a scope does on entry, and most scopes never need the answer: their
//! work finishes without suspending, and a deadline nobody waits for is never looked
//! at. So on the system clock a scope notes a *coarse* monotonic reading at entry (the
//! kernel's time as of its last tick, a few nanoseconds to read) and turns it into an
//! exact deadline the first time the deadline is wanted (when the work suspends and
//! its timer is armed, or when someone asks for the deadline).
//!
//! The coarse clock lags the precise one by less than its resolution `res`, so the
//! scope was entered at precise time `e < c + res`, where `c` is the coarse reading.
//! When the deadline is needed, at precise time `p`, the entry is placed at
//! `min(p, c + res)` (on the precise clock: `p - max(0, p - c - res)`), which is never
//! before the true entry. So the deadline is never early, and at most `res` late (one
//! kernel tick, 1–4 ms on Linux, the same order as the timing wheel's 1 ms ticks).
//!
//! Where the platform has no coarse clock, `now` is `None` and scopes read the precise
//! clock at entry, as before.

use std::time::{Duration, Instant};

/// A coarse monotonic reading in nanoseconds, or `None` where there is no cheap one.
#[inline]
pub(crate) fn now() -> Option<u64> {
    imp::coarse()
}

/// The deadline of a timeout of `timeout` whose scope was entered at coarse reading
/// `entered` (from [`now`]): never before the true entry plus `timeout`, at most one
/// coarse tick after it.
pub(crate) fn deadline_since(entered: u64, timeout: Duration) -> Instant {
    // The precise reading comes first: `anchor` is taken after it, so it is no earlier.
    let precise = imp::precise();
    let anchor = Instant::now();
    let back = entry_offset(entered, imp::resolution(), precise);
    let entry = anchor.checked_sub(back).unwrap_or(anchor);
    super::deadline_after(entry, timeout)
}

/// How far before the precise reading `precise` to place an entry seen at coarse
/// reading `entered`, with coarse resolution `res` (all in nanoseconds): the entry
/// happened before `entered + res`, so go back to that, but never forward.
fn entry_offset(entered: u64, res: u64, precise: u64) -> Duration {
    Duration::from_nanos(precise.saturating_sub(entered.saturating_add(res)))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Reads `clock` in nanoseconds.
    fn read(clock: libc::clockid_t) -> Option<u64> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable `timespec`; `clock_gettime` only writes it.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        if rc != 0 {
            return None;
        }
        let secs = u64::try_from(ts.tv_sec).ok()?;
        let nanos = u64::try_from(ts.tv_nsec).ok()?;
        secs.checked_mul(1_000_000_000)?.checked_add(nanos)
    }

    #[inline]
    pub(super) fn coarse() -> Option<u64> {
        read(libc::CLOCK_MONOTONIC_COARSE)
    }

    /// The precise clock of the same time base as the coarse one.
    pub(super) fn precise() -> u64 {
        read(libc::CLOCK_MONOTONIC).unwrap_or(u64::MAX)
    }

    /// The coarse clock's resolution in nanoseconds, asked once.
    pub(super) fn resolution() -> u64 {
        static RES: AtomicU64 = AtomicU64::new(0);
        let cached = RES.load(Ordering::Relaxed);
        if cached != 0 {
            return cached;
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: as in `read`.
        let rc = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        // Unknown: assume a slow 100 Hz tick, which only makes deadlines later.
        let res = if rc == 0 {
            (ts.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(ts.tv_nsec as u64)
                .max(1)
        } else {
            10_000_000
        };
        RES.store(res, Ordering::Relaxed);
        res
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    pub(super) fn coarse() -> Option<u64> {
        None
    }

    pub(super) fn precise() -> u64 {
        unreachable!("pride: no coarse clock on this platform")
    }

    pub(super) fn resolution() -> u64 {
        unreachable!("pride: no coarse clock on this platform")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn entry_is_placed_at_the_latest_moment_it_could_have_been() {
        // Asked within the coarse tick of entry: the entry may have been just now.
        assert_eq!(entry_offset(100 * MS, 4 * MS, 101 * MS), Duration::ZERO);
        assert_eq!(entry_offset(100 * MS, 4 * MS, 104 * MS), Duration::ZERO);
        // Asked 50 ms of coarse time later: the entry was before 104 ms.
        assert_eq!(
            entry_offset(100 * MS, 4 * MS, 150 * MS),
            Duration::from_millis(46)
        );
    }

    #[test]
    fn the_placed_entry_is_never_early_and_at_most_one_tick_late() {
        let res = 4 * MS;
        // True entries at every offset within a tick, asked at several later times.
        for true_entry in (100 * MS..104 * MS).step_by(250_000) {
            let coarse = true_entry - true_entry % res;
            for asked in [
                true_entry,
                true_entry + MS / 3,
                true_entry + 7 * MS,
                true_entry + 1_000 * MS,
            ] {
                let placed = asked - entry_offset(coarse, res, asked).as_nanos() as u64;
                assert!(placed >= true_entry, "early: {placed} < {true_entry}");
                assert!(placed - true_entry <= res, "late by more than a tick");
            }
        }
    }

    #[test]
    fn readings_are_monotonic_and_close_to_the_precise_clock() {
        let Some(first) = now() else { return };
        let precise = imp::precise();
        let res = imp::resolution();
        assert!(first <= precise, "the coarse clock ran ahead");
        assert!(
            precise - first < res + 50 * MS,
            "the coarse clock lags by too much"
        );
        assert!(now().unwrap() >= first);
    }

    #[test]
    fn a_deadline_since_entry_is_not_before_entry_plus_timeout() {
        let Some(entered) = now() else { return };
        let before = Instant::now();
        let deadline = deadline_since(entered, Duration::from_secs(1));
        // The scope was entered before `before`, so its deadline may be at most
        // `before + 1 s + res`; it is never before the true entry + 1 s, which we
        // cannot see, but is at least `entered`'s lower bound.
        assert!(deadline >= before - Duration::from_millis(50) + Duration::from_secs(1));
        assert!(deadline <= Instant::now() + Duration::from_secs(1));
    }
}
