//! Per-thread free lists for the shared objects every scope and group makes.
//!
//! A cancel scope's node and a task group's shared state are `Arc`s: handles, links
//! and children keep them alive past their wrapper. Most die exactly where they were
//! made, though, with their wrapper as the only owner, and a program that opens a
//! scope per request or a `fail_after` per read makes and frees millions of them. So
//! the wrapper that finishes with one hands it back here instead of dropping it, and
//! the next scope on this thread takes it instead of allocating.
//!
//! Rules:
//! - Only a *unique* `Arc` goes back ([`Arc::get_mut`] succeeds: no other strong and
//!   no weak reference). Nothing else can observe a recycled object, so reuse is
//!   invisible: a handle kept anywhere keeps its object out of the pool.
//! - The caller resets the object to its freshly-made state before it goes back.
//! - A list holds at most [`CAPACITY`] objects; the rest are dropped as usual. A list
//!   dies with its thread.
//! - Under loom every object is made and dropped normally (the free lists would hide
//!   allocations from the model, and loom's `Arc` is checked for leaks): there no
//!   object is ever unique in the sense of [`unique_mut`], so nothing is listed.

#![cfg_attr(pride_loom, allow(dead_code))]

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::loom::sync::Arc;

/// Objects kept per thread and type.
pub(crate) const CAPACITY: usize = 64;

/// One thread's free list of one type.
pub(crate) type FreeList<T> = RefCell<Vec<Arc<T>>>;

/// A type whose `Arc`s are never downgraded, so that a strong count of one proves an
/// `Arc` unique with one load (where `Arc::get_mut` must also lock out weak counts
/// with a compare-exchange).
///
/// # Safety
/// No `Weak` reference to a value of the type is ever made.
pub(crate) unsafe trait NoWeak {}

/// Takes an object from this thread's list, if it has one, with mutable access to
/// it. Its contents are whatever [`put`]'s reset left; the caller sets what differs.
#[inline]
pub(crate) fn take<T: NoWeak + 'static>(
    list: &'static LocalKey<FreeList<T>>,
    prepare: impl FnOnce(&mut T),
) -> Option<Arc<T>> {
    let mut object = list
        .try_with(|list| list.borrow_mut().pop())
        .ok()
        .flatten()?;
    // Listed objects are unique (only `put` lists them, after checking).
    let inner = unique_mut(&mut object)?;
    prepare(inner);
    Some(object)
}

/// Offers `object` back: if it is unique, `reset` puts it back to its fresh state and
/// it joins this thread's list (unless the list is full); otherwise it is dropped as
/// usual, which only decrements its count.
#[inline]
pub(crate) fn put<T: NoWeak + 'static>(
    list: &'static LocalKey<FreeList<T>>,
    mut object: Arc<T>,
    reset: impl FnOnce(&mut T),
) {
    let Some(inner) = unique_mut(&mut object) else {
        return;
    };
    reset(inner);
    // If the thread's list is gone (thread exit) or full, `object` is dropped here,
    // outside the borrow: its drop may free further objects.
    let full = list.try_with(move |list| {
        let mut list = list.borrow_mut();
        if list.len() < CAPACITY {
            list.push(object);
            None
        } else {
            Some(object)
        }
    });
    drop(full);
}

/// `Arc::get_mut` for a [`NoWeak`] type: one load instead of a compare-exchange.
#[cfg(not(any(pride_loom, pride_tsan)))]
#[inline]
pub(crate) fn unique_mut<T: NoWeak>(object: &mut Arc<T>) -> Option<&mut T> {
    if Arc::strong_count(object) != 1 {
        return None;
    }
    // Every other owner let go with a Release decrement; this fence makes their
    // accesses happen before ours (the load above read the last of those writes).
    std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
    // SAFETY: ours is the only strong reference, and there are no weak ones (the
    // `NoWeak` contract), so nobody else can reach the value while the `&mut Arc`
    // we borrow from is held; `Arc::as_ptr` keeps write provenance (std relies on
    // that for `get_mut`).
    Some(unsafe { &mut *Arc::as_ptr(object).cast_mut() })
}

#[cfg(pride_loom)]
pub(crate) fn unique_mut<T: NoWeak>(_: &mut Arc<T>) -> Option<&mut T> {
    None
}

/// Under ThreadSanitizer (`scripts/tsan.sh`), which does not model fences and so would
/// report every reuse as a race: `Arc::get_mut`, whose ordering is an `Acquire` load.
#[cfg(all(pride_tsan, not(pride_loom)))]
pub(crate) fn unique_mut<T: NoWeak>(object: &mut Arc<T>) -> Option<&mut T> {
    Arc::get_mut(object)
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;

    struct Thing {
        uses: u32,
        data: Vec<u8>,
    }

    // SAFETY: the tests never downgrade an `Arc<Thing>`.
    unsafe impl NoWeak for Thing {}

    thread_local! {
        static THINGS: FreeList<Thing> = const { RefCell::new(Vec::new()) };
    }

    fn reset(thing: &mut Thing) {
        thing.data.clear();
    }

    #[test]
    fn a_unique_object_is_reused_after_its_reset() {
        let thing = Arc::new(Thing {
            uses: 1,
            data: vec![1, 2, 3],
        });
        let address = Arc::as_ptr(&thing);
        put(&THINGS, thing, reset);
        let again = take(&THINGS, |thing| thing.uses += 1).expect("the object was listed");
        assert_eq!(Arc::as_ptr(&again), address);
        assert_eq!(again.uses, 2);
        assert!(again.data.is_empty());
        assert!(take(&THINGS, |_| ()).is_none());
    }

    #[test]
    fn a_shared_object_is_not_listed_and_stays_intact() {
        let thing = Arc::new(Thing {
            uses: 1,
            data: vec![7],
        });
        let other = thing.clone();
        put(&THINGS, thing, reset);
        assert!(take(&THINGS, |_| ()).is_none());
        assert_eq!(other.data, [7]);
        let mut other = other;
        assert!(unique_mut(&mut other).is_some());
    }

    #[test]
    fn a_full_list_drops_the_rest() {
        let things: Vec<_> = (0..CAPACITY + 5)
            .map(|uses| {
                Arc::new(Thing {
                    uses: uses as u32,
                    data: Vec::new(),
                })
            })
            .collect();
        for thing in things {
            put(&THINGS, thing, reset);
        }
        let mut taken = 0;
        while take(&THINGS, |_| ()).is_some() {
            taken += 1;
        }
        assert_eq!(taken, CAPACITY);
    }

    #[test]
    fn an_object_freed_on_another_thread_is_seen_complete() {
        let thing = Arc::new(Thing {
            uses: 0,
            data: Vec::new(),
        });
        let remote = thing.clone();
        std::thread::spawn(move || {
            // Written before the Release decrement of the drop.
            let _ = &remote;
            drop(remote);
        })
        .join()
        .unwrap();
        let mut thing = thing;
        let inner = unique_mut(&mut thing).expect("the other owner is gone");
        inner.data.push(1);
        assert_eq!(thing.data, [1]);
    }
}
