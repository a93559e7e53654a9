//! A hashed hierarchical timing wheel (G. Varghese and A. Lauck, "Hashed and
//! Hierarchical Timing Wheels: Data Structures for the Efficient Implementation of a
//! Timer Facility", SOSP 1987, scheme 7).
//!
//! Time is counted in 1 ms ticks. Six levels of 64 slots each cover 64^6 ticks (about
//! 795 days): level `l` slot `s` holds the entries whose deadline agrees with `elapsed`
//! on every base-64 digit above `l` and has digit `s` at `l`. A `u64` bitmap per level
//! says which slots are non-empty, so the next expiration is found with
//! `trailing_zeros`, never by scanning. When a slot of level `l > 0` is reached, its
//! entries are re-filed ("cascaded") into lower levels by their exact deadline; level 0
//! slots hold single ticks, whose entries have expired.
//!
//! Deviations from the paper:
//! - The wheel does not tick: `pop_expired(now)` jumps `elapsed` from one occupied slot
//!   to the next, so idle stretches cost nothing.
//! - Deadlines beyond the top level's range are clamped into the top level at the
//!   latest slot that is not later than the deadline, and re-cascaded when that slot is
//!   reached: nothing fires early and nothing is refused. A cascade moves such an entry
//!   straight to the expired entries if the advance has already reached its deadline,
//!   so one advance past a far deadline costs a cascade per level, not one per top
//!   level's span on the way.
//! - Lists are intrusive and doubly linked through the entries, so filing and
//!   unfiling are O(1) and allocate nothing.
//!
//! Rules of this module (see also `entry.rs`): the wheel is always used behind its
//! shard's lock; every entry filed in it is alive until it is unfiled (by `remove` or
//! by `pop_expired`), which its owner guarantees by unfiling it under the same lock
//! before freeing it.

use std::ptr::NonNull;

use super::entry::{Links, Position, TimerEntry, UNLINKED};

const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = SLOTS as u64 - 1;
const LEVELS: usize = 6;
/// Ticks the levels can hold without clamping: 64^6.
const SPAN: u64 = 1 << (SLOT_BITS * LEVELS as u32);
/// The position of entries whose tick was reached but that `pop_expired` has not
/// handed out yet.
const EXPIRED_LIST: Position = (LEVELS * SLOTS) as Position;

/// The deadline was not after `elapsed`: the caller fires the entry itself.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Expired;

pub(crate) struct Wheel {
    /// Every tick up to and including this one has been handed out. Entries are filed
    /// only for later ticks.
    elapsed: u64,
    levels: [Level; LEVELS],
    /// Entries whose tick was reached (`<= elapsed`, or, far ones, `<=` the `now` of
    /// the `pop_expired` that cascaded them), waiting in `pop_expired`.
    expired: List,
    /// Slots cascaded so far, for tests.
    #[cfg(all(test, not(pride_loom)))]
    cascades: usize,
}

struct Level {
    /// Bit `s` is set iff `slots[s]` is non-empty.
    occupied: u64,
    slots: [List; SLOTS],
}

#[derive(Clone, Copy)]
struct List {
    head: Option<NonNull<TimerEntry>>,
}

/// The earliest non-empty slot.
struct Expiration {
    level: usize,
    slot: usize,
    /// The tick at which the slot must be processed.
    deadline: u64,
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        Wheel {
            elapsed: 0,
            levels: std::array::from_fn(|_| Level {
                occupied: 0,
                slots: [List { head: None }; SLOTS],
            }),
            expired: List { head: None },
            #[cfg(all(test, not(pride_loom)))]
            cascades: 0,
        }
    }

    /// The last tick handed out.
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Whether no entry is filed.
    pub(crate) fn is_empty(&self) -> bool {
        self.expired.head.is_none() && self.levels.iter().all(|l| l.occupied == 0)
    }

    /// If the wheel is empty, moves `elapsed` up to `tick`, which must be a tick the
    /// clock has reached (then nothing can be filed for an earlier tick by mistake).
    pub(crate) fn catch_up(&mut self, tick: u64) {
        if tick > self.elapsed && self.is_empty() {
            self.elapsed = tick;
        }
    }

    /// Files `entry` for `when`. `Err(Expired)` if `when <= elapsed`; the entry is then
    /// left unfiled.
    ///
    /// # Safety
    ///
    /// `entry` is alive and unfiled, and stays alive until it is unfiled again (by
    /// `remove` or `pop_expired` on this wheel); the caller holds this wheel's lock.
    pub(crate) unsafe fn insert(
        &mut self,
        entry: NonNull<TimerEntry>,
        when: u64,
    ) -> Result<(), Expired> {
        if when <= self.elapsed {
            return Err(Expired);
        }
        let (level, slot) = self.slot_for(when);
        let position = (level * SLOTS + slot) as Position;
        // SAFETY: the caller's promises are `push_front`'s.
        unsafe { push_front(&mut self.levels[level].slots[slot], entry, when, position) };
        self.levels[level].occupied |= 1 << slot;
        Ok(())
    }

    /// Unfiles `entry` if it is filed, returning the tick it was filed for; O(1).
    ///
    /// # Safety
    ///
    /// `entry` is alive and either unfiled or filed in this wheel; the caller holds this
    /// wheel's lock.
    pub(crate) unsafe fn remove(&mut self, entry: NonNull<TimerEntry>) -> Option<u64> {
        // SAFETY: alive, and we hold the lock.
        let (position, when) = unsafe { TimerEntry::with_links(entry, |l| (l.position, l.when)) };
        if position == UNLINKED {
            return None;
        }
        if position == EXPIRED_LIST {
            // SAFETY: the entry is filed in this list; we hold the lock.
            unsafe { unlink(&mut self.expired, entry) };
            return Some(when);
        }
        let (level, slot) = (usize::from(position) / SLOTS, usize::from(position) % SLOTS);
        let list = &mut self.levels[level].slots[slot];
        // SAFETY: the position says the entry is in this list; we hold the lock.
        unsafe { unlink(list, entry) };
        if list.head.is_none() {
            self.levels[level].occupied &= !(1 << slot);
        }
        Some(when)
    }

    /// Unfiles some filed entry, whatever its tick, and returns it; `None` when the
    /// wheel is empty. For emptying the wheel when its runtime is dropped.
    pub(crate) fn pop_any(&mut self) -> Option<NonNull<TimerEntry>> {
        let head = self.expired.head.or_else(|| {
            let level = self.levels.iter().find(|l| l.occupied != 0)?;
            level.slots[level.occupied.trailing_zeros() as usize].head
        })?;
        // SAFETY: a list head is filed in this wheel, so alive (module rules); we hold
        // the lock (we have `&mut self`, which lives behind it).
        unsafe { self.remove(head) };
        Some(head)
    }

    /// The tick by which `pop_expired` must next be called, if any entry is filed. May
    /// be earlier than every deadline (a slot to cascade), never later.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        if self.expired.head.is_some() {
            return Some(self.elapsed);
        }
        self.next_expiration().map(|e| e.deadline)
    }

    /// Advances to `now` and hands out one entry whose filed tick is `<= now`, unfiled;
    /// `None` when there is none left (then `elapsed == max(elapsed, now)`).
    ///
    /// Call it until it returns `None`; releasing the lock in between is fine (entries
    /// waiting to be handed out stay filed, and `remove` still finds them).
    pub(crate) fn pop_expired(&mut self, now: u64) -> Option<NonNull<TimerEntry>> {
        loop {
            // SAFETY: we hold the lock (we have `&mut self`, which lives behind it).
            if let Some(entry) = unsafe { pop_front(&mut self.expired) } {
                return Some(entry);
            }
            let next = match self.next_expiration() {
                Some(next) if next.deadline <= now => next,
                _ => {
                    self.elapsed = self.elapsed.max(now);
                    return None;
                }
            };
            self.elapsed = next.deadline;
            #[cfg(all(test, not(pride_loom)))]
            {
                self.cascades += 1;
            }
            let level = &mut self.levels[next.level];
            let mut list = std::mem::replace(&mut level.slots[next.slot], List { head: None });
            level.occupied &= !(1 << next.slot);
            // Every entry in the detached list is alive (module rules) and we hold the
            // lock (we have `&mut self`, which lives behind it).
            // SAFETY: see above.
            while let Some(entry) = unsafe { pop_front(&mut list) } {
                // SAFETY: alive and locked; no other `with_links` runs for it.
                let when = unsafe { TimerEntry::with_links(entry, |l| l.when) };
                // Re-filed, a deadline beyond the top level's span would be clamped and
                // cascaded again, once per span; reached, it is handed out in this call
                // anyway. The others are re-filed, to be handed out in deadline order.
                let far_and_reached = when <= now && when.saturating_sub(self.elapsed) >= SPAN;
                // SAFETY: alive; popped, so in no list; it stays alive until unfiled.
                if far_and_reached || unsafe { self.insert(entry, when) }.is_err() {
                    // SAFETY: as for `insert`.
                    unsafe { push_front(&mut self.expired, entry, when, EXPIRED_LIST) };
                }
            }
        }
    }

    /// An entry filed for the tick after `elapsed` that `pred` accepts, left filed.
    ///
    /// They all sit in the slot that `insert` would pick for that tick now: an entry
    /// filed for it from further back sits in a slot whose window starts at or before
    /// `elapsed` unless it starts at that tick itself, and the ones before were cascaded
    /// on the way. That slot may hold later ticks too (at a window's start), which are
    /// skipped.
    pub(crate) fn find_in_next_tick(
        &self,
        mut pred: impl FnMut(&TimerEntry) -> bool,
    ) -> Option<NonNull<TimerEntry>> {
        let tick = self.elapsed.checked_add(1)?;
        let (level, slot) = self.slot_for(tick);
        let mut next = self.levels[level].slots[slot].head;
        while let Some(entry) = next {
            // SAFETY: list members are alive (module rules) and we hold the lock (we
            // have `&self`, which lives behind it); no other `with_links` is running.
            let (when, after) = unsafe { TimerEntry::with_links(entry, |l| (l.when, l.next)) };
            // SAFETY: alive, as above; only shared references are made.
            if when == tick && pred(unsafe { entry.as_ref() }) {
                return Some(entry);
            }
            next = after;
        }
        None
    }

    /// The level and slot for `when > elapsed`: the level of the highest base-64 digit
    /// in which they differ. Beyond the top level, the top level's slot that holds
    /// `min(when, elapsed + SPAN - 1)`: that slot is reached after `elapsed` and no later
    /// than `when`, and there the entry is re-filed.
    fn slot_for(&self, when: u64) -> (usize, usize) {
        let masked = (self.elapsed ^ when) | SLOT_MASK;
        let level = ((63 - masked.leading_zeros()) / SLOT_BITS) as usize;
        if level < LEVELS {
            return (level, digit(when, level));
        }
        let clamped = when.min(self.elapsed.saturating_add(SPAN - 1));
        (LEVELS - 1, digit(clamped, LEVELS - 1))
    }

    /// The earliest non-empty slot. Level `l`'s slots lie in the 64^(l+1)-tick window of
    /// `elapsed` (after its slot), except clamped ones in the top level, which may lie in
    /// the next window; so the first occupied level holds the earliest slot, and within
    /// a level the first occupied slot after `elapsed`'s, wrapping around, is it.
    fn next_expiration(&self) -> Option<Expiration> {
        self.levels.iter().enumerate().find_map(|(level, l)| {
            if l.occupied == 0 {
                return None;
            }
            let shift = SLOT_BITS * level as u32;
            let now_slot = digit(self.elapsed, level) as u64;
            // Bit d of `rotated` is slot now_slot + 1 + d (mod 64).
            let rotated = l.occupied.rotate_right(((now_slot + 1) & SLOT_MASK) as u32);
            let ahead = now_slot + 1 + u64::from(rotated.trailing_zeros());
            let window_start = self.elapsed & !((1u64 << (shift + SLOT_BITS)) - 1);
            Some(Expiration {
                level,
                slot: (ahead & SLOT_MASK) as usize,
                deadline: window_start + (ahead << shift),
            })
        })
    }
}

// SAFETY: the wheel owns no entries; the pointers it holds are only followed under its
// shard lock (module rules), whichever thread holds it.
unsafe impl Send for Wheel {}

/// Base-64 digit `level` of `tick`.
fn digit(tick: u64, level: usize) -> usize {
    ((tick >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize
}

/// # Safety
///
/// `entry` is alive and in no list; the caller holds the wheel's lock.
unsafe fn push_front(list: &mut List, entry: NonNull<TimerEntry>, when: u64, position: Position) {
    let old_head = list.head;
    // SAFETY: alive, locked, and no other `with_links` is running for it.
    unsafe {
        TimerEntry::with_links(entry, |l| {
            debug_assert_eq!(l.position, UNLINKED);
            *l = Links {
                prev: None,
                next: old_head,
                when,
                position,
            };
        })
    };
    if let Some(old) = old_head {
        // SAFETY: list members are alive; `old != entry` as `entry` was in no list.
        unsafe { TimerEntry::with_links(old, |l| l.prev = Some(entry)) };
    }
    list.head = Some(entry);
}

/// # Safety
///
/// Members of `list` are alive; the caller holds the wheel's lock.
unsafe fn pop_front(list: &mut List) -> Option<NonNull<TimerEntry>> {
    let entry = list.head?;
    // SAFETY: the head is a member of `list`.
    unsafe { unlink(list, entry) };
    Some(entry)
}

/// # Safety
///
/// `entry` is a member of `list`, whose members are alive; the caller holds the lock.
unsafe fn unlink(list: &mut List, entry: NonNull<TimerEntry>) {
    // SAFETY: alive and locked; each call below touches one entry at a time.
    let (prev, next) = unsafe {
        TimerEntry::with_links(entry, |l| {
            let pair = (l.prev.take(), l.next.take());
            l.position = UNLINKED;
            pair
        })
    };
    match prev {
        // SAFETY: `prev` is a member of the same list, distinct from `entry`.
        Some(prev) => unsafe { TimerEntry::with_links(prev, |l| l.next = next) },
        None => list.head = next,
    }
    if let Some(next) = next {
        // SAFETY: `next` is a member of the same list, distinct from `entry`.
        unsafe { TimerEntry::with_links(next, |l| l.prev = prev) };
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;
    use crate::time::entry::Wakes;

    /// Entries at stable addresses (the vector is never grown afterwards).
    fn entries(n: usize) -> Vec<TimerEntry> {
        (0..n).map(|_| TimerEntry::new(Wakes::Task)).collect()
    }

    fn ptr(e: &TimerEntry) -> NonNull<TimerEntry> {
        NonNull::from(e)
    }

    fn when_of(e: NonNull<TimerEntry>) -> u64 {
        // SAFETY: test entries outlive the wheel's use of them; single-threaded.
        unsafe { TimerEntry::with_links(e, |l| l.when) }
    }

    /// Pops everything due by `now`, as filed ticks.
    fn drain(wheel: &mut Wheel, now: u64) -> Vec<u64> {
        std::iter::from_fn(|| wheel.pop_expired(now))
            .map(when_of)
            .collect()
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn ten_thousand_random_deadlines_pop_in_order_and_on_time() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let es = entries(if cfg!(miri) { 300 } else { 10_000 });
        let mut wheel = Wheel::new();
        let mut whens = Vec::new();
        for e in &es {
            // Mix near and far deadlines so every level is used.
            let when = 1 + rng.next() % (1 << (6 * (1 + rng.next() % 6)));
            whens.push(when);
            // SAFETY: `es` outlives `wheel`'s use; entries are fresh.
            unsafe { wheel.insert(ptr(e), when) }.unwrap();
        }
        whens.sort_unstable();
        let mut fired = Vec::new();
        let mut now = 0;
        while let Some(next) = wheel.next_deadline() {
            assert!(next >= now, "next_deadline went back: {next} < {now}");
            now = next;
            for when in drain(&mut wheel, now) {
                assert!(when <= now, "fired early: {when} at {now}");
                assert_eq!(when, now, "fired late: {when} at {now}");
                fired.push(when);
            }
        }
        assert_eq!(fired, whens);
        assert!(wheel.is_empty());
    }

    #[test]
    fn next_deadline_is_exact_for_level_zero_and_never_late() {
        let es = entries(3);
        let mut wheel = Wheel::new();
        assert_eq!(wheel.next_deadline(), None);
        // SAFETY: `es` outlives the wheel's use.
        unsafe {
            wheel.insert(ptr(&es[0]), 40).unwrap();
            wheel.insert(ptr(&es[1]), 5000).unwrap();
        }
        assert_eq!(wheel.next_deadline(), Some(40));
        assert_eq!(drain(&mut wheel, 39), Vec::<u64>::new());
        assert_eq!(drain(&mut wheel, 40), vec![40]);
        // 5000 sits in level 2 (its slot starts at 4096): a cascade point, then exact.
        assert_eq!(wheel.next_deadline(), Some(4096));
        assert_eq!(drain(&mut wheel, 4096), Vec::<u64>::new());
        assert_eq!(wheel.next_deadline(), Some(4992));
        assert_eq!(drain(&mut wheel, 4999), Vec::<u64>::new());
        assert_eq!(wheel.next_deadline(), Some(5000));
        assert_eq!(drain(&mut wheel, 10_000), vec![5000]);
        assert_eq!(wheel.elapsed(), 10_000);
        // SAFETY: as above.
        assert_eq!(unsafe { wheel.insert(ptr(&es[2]), 10_000) }, Err(Expired));
    }

    #[test]
    fn remove_before_and_while_expired() {
        let es = entries(4);
        let mut wheel = Wheel::new();
        // SAFETY: `es` outlives the wheel's use; entries are filed once each.
        unsafe {
            for e in &es {
                wheel.insert(ptr(e), 10).unwrap();
            }
            // Before: never fires.
            wheel.remove(ptr(&es[0]));
            wheel.remove(ptr(&es[0]));
        }
        // Pop one; the rest wait in the expired list, where remove still finds them.
        let first = wheel.pop_expired(10).unwrap();
        let rest: Vec<_> = es[1..].iter().map(ptr).filter(|&e| e != first).collect();
        // SAFETY: as above.
        unsafe { wheel.remove(rest[0]) };
        let left: Vec<_> = std::iter::from_fn(|| wheel.pop_expired(10)).collect();
        assert_eq!(left, vec![rest[1]]);
        assert!(wheel.is_empty());
        // After: removing a handed-out entry is a no-op.
        // SAFETY: as above.
        unsafe { wheel.remove(first) };
    }

    #[test]
    fn pop_any_empties_every_level_and_the_expired_list() {
        let es = entries(LEVELS + 2);
        let mut wheel = Wheel::new();
        for (i, e) in es.iter().enumerate() {
            // One entry per level, and two that expire together.
            let when = if i < LEVELS {
                64u64.pow(i as u32) * 3
            } else {
                5
            };
            // SAFETY: `es` outlives the wheel's use; entries are fresh.
            unsafe { wheel.insert(ptr(e), when) }.unwrap();
        }
        // The one at 3 and one of the two at 5 handed out, the other left in the
        // expired list.
        assert!(wheel.pop_expired(5).is_some() && wheel.pop_expired(5).is_some());
        assert!(wheel.expired.head.is_some());
        let mut popped = 2;
        while let Some(e) = wheel.pop_any() {
            // SAFETY: as above; single-threaded.
            let position = unsafe { TimerEntry::with_links(e, |l| l.position) };
            assert_eq!(position, UNLINKED);
            popped += 1;
        }
        assert_eq!(popped, es.len());
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn removing_the_last_entry_clears_the_bitmap() {
        let es = entries(2);
        let mut wheel = Wheel::new();
        // SAFETY: `es` outlives the wheel's use.
        unsafe {
            wheel.insert(ptr(&es[0]), 100_000).unwrap();
            wheel.insert(ptr(&es[1]), 100_001).unwrap();
            wheel.remove(ptr(&es[1]));
            assert!(!wheel.is_empty());
            wheel.remove(ptr(&es[0]));
        }
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn cascades_through_every_level() {
        let es = entries(LEVELS);
        let mut wheel = Wheel::new();
        let whens: Vec<u64> = (0..LEVELS as u32).map(|l| 64u64.pow(l) * 3 + 7).collect();
        for (e, &when) in es.iter().zip(&whens) {
            // SAFETY: `es` outlives the wheel's use.
            unsafe { wheel.insert(ptr(e), when) }.unwrap();
        }
        for (level, l) in wheel.levels.iter().enumerate() {
            assert_eq!(l.occupied.count_ones(), 1, "level {level}");
        }
        for &when in &whens {
            assert_eq!(drain(&mut wheel, when - 1), Vec::<u64>::new());
            assert_eq!(drain(&mut wheel, when), vec![when]);
        }
    }

    #[test]
    fn a_24_hour_deadline() {
        let day = 24 * 60 * 60 * 1000;
        let es = entries(1);
        let mut wheel = Wheel::new();
        // SAFETY: `es` outlives the wheel's use.
        unsafe { wheel.insert(ptr(&es[0]), day) }.unwrap();
        let mut steps = 0;
        while let Some(next) = wheel.next_deadline() {
            assert!(next <= day);
            let fired = drain(&mut wheel, next);
            steps += 1;
            if next == day {
                assert_eq!(fired, vec![day]);
            } else {
                assert!(fired.is_empty());
            }
        }
        assert!(steps <= LEVELS + 1, "{steps} steps");
    }

    #[test]
    fn deadlines_beyond_the_wheel_are_clamped_and_re_cascaded() {
        let es = entries(3);
        let mut wheel = Wheel::new();
        let far = [SPAN + 5, 3 * SPAN + 12_345, SPAN * 1000];
        // Start from an awkward `elapsed`, in the last top-level slot.
        assert!(drain(&mut wheel, SPAN - 3).is_empty());
        for (e, &when) in es.iter().zip(&far) {
            // SAFETY: `es` outlives the wheel's use.
            unsafe { wheel.insert(ptr(e), when) }.unwrap();
        }
        let mut fired = Vec::new();
        let mut now = wheel.elapsed();
        while let Some(next) = wheel.next_deadline() {
            assert!(next > now || next == wheel.elapsed());
            now = next;
            for when in drain(&mut wheel, now) {
                assert_eq!(when, now, "fired at the wrong tick");
                fired.push(when);
            }
        }
        assert_eq!(fired, far);
    }

    #[test]
    fn one_advance_past_a_far_deadline_cascades_once_per_level() {
        let es = entries(2);
        let mut wheel = Wheel::new();
        // About a hundred million years: tens of thousands of top-level spans away.
        let far = 100_000_000 * 365 * 24 * 3_600_000;
        // SAFETY: `es` outlives the wheel's use.
        unsafe {
            wheel.insert(ptr(&es[0]), far).unwrap();
            wheel.insert(ptr(&es[1]), far + SPAN * 7 + 12_345).unwrap();
        }
        let end = u64::MAX >> 2;
        let fired = drain(&mut wheel, end);
        assert_eq!(fired.len(), 2);
        assert!(wheel.is_empty());
        assert_eq!(wheel.elapsed(), end);
        assert!(
            wheel.cascades <= LEVELS,
            "{} cascades for two entries",
            wheel.cascades
        );
    }

    #[test]
    fn one_big_advance_hands_out_everything_due() {
        let mut rng = XorShift(7);
        let es = entries(1000);
        let mut wheel = Wheel::new();
        for e in &es {
            // SAFETY: `es` outlives the wheel's use.
            unsafe { wheel.insert(ptr(e), 1 + rng.next() % 1_000_000) }.unwrap();
        }
        let mut got = drain(&mut wheel, 500_000);
        assert!(got.iter().all(|&w| w <= 500_000));
        got.extend(drain(&mut wheel, u64::MAX >> 4));
        assert_eq!(got.len(), 1000);
        assert!(got.windows(2).all(|w| w[0] <= w[1]), "not in order");
    }
}
