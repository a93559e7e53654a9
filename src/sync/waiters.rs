//! The FIFO waiter list every primitive in this room queues its waiters on.
//!
//! A [`WaiterList`] lives inside the primitive's state, behind the primitive's facade
//! `Mutex`; every method takes `&mut self`, so holding the lock is the proof of access.
//! It is a slab (a `Vec` of slots plus a free list) threaded by a doubly linked list of
//! indices, so push, grant-the-front and remove-from-the-middle are all O(1) and a
//! steady-state primitive does not allocate.
//!
//! A waiter's life, driven by the future that owns it:
//!
//! 1. **Queued**: on its first `Pending` poll the future pushes a request `R` and its
//!    waker and keeps the returned [`WaiterId`]. Re-polls refresh the waker (cheaply, via
//!    `Waker::will_wake`) through [`WaiterList::poll`], which only borrows the id:
//!    a waker whose clone panics (a foreign executor's bug) leaves the id with its
//!    future, which still removes the waiter when it is dropped.
//! 2. **Granted**: whoever makes the front waiter able to proceed (an unlock, a put, a
//!    release) calls [`WaiterList::grant_front`]: the waiter leaves the FIFO, its slot
//!    now holds the grant `G` (a permit count, an item, a reserved slot), and the caller
//!    wakes the returned waker *after* dropping the lock, through a [`WakeList`]: it
//!    wakes every waker it holds even when one of them panics, so a faulty waker never
//!    strands a grant it was not given.
//! 3. **Gone**: the future either observes the grant ([`WaiterList::poll`], after
//!    which it drops its id unused) or is dropped ([`WaiterList::leave`]). Removing a
//!    granted waiter hands the grant back to the primitive, which passes it on to the
//!    next waiter: that is what makes every wait cancel-safe. (Or the whole list goes:
//!    see below.)
//!
//! A [`WaiterId`] is neither `Clone` nor `Copy`: exactly one future owns each slot and
//! only that future frees it, so an id can never name a slot that was reused. The one
//! exception is a primitive that never queues again (an `Event` once set): it takes
//! its whole list away, in the same hold of its lock as it records that it will never
//! queue again, and its futures, which check that record under the lock before they
//! use an id, drop their ids unused. A primitive that queues again after waking
//! everyone (a `Barrier`) must hand every id back.
//!
//! No waker is dropped under the primitive's lock: a waker may own the last handle to
//! the very primitive (its last sender, a permit), whose drop takes that lock. A waker
//! that leaves the list unwoken (replaced by a re-poll's, or its waiter removed) goes
//! into the caller's [`WakeList`], which drops it with the wakers it wakes, after the
//! lock is released.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::task::{Poll, Waker};

const NIL: usize = usize::MAX;

/// The FIFO of waiters of one primitive: requests `R` waiting, grants `G` not yet seen.
#[derive(Debug)]
pub(crate) struct WaiterList<R, G> {
    slots: Vec<Slot<R, G>>,
    /// Head of the free list threaded through `Slot::Vacant`.
    free: usize,
    /// Oldest queued waiter, or `NIL`.
    head: usize,
    /// Youngest queued waiter, or `NIL`.
    tail: usize,
    /// Number of queued (not granted) waiters.
    queued: usize,
    /// Number of grants not yet collected (by `poll` or `leave`).
    granted: usize,
}

#[derive(Debug)]
enum Slot<R, G> {
    Vacant {
        next_free: usize,
    },
    Queued {
        req: R,
        waker: Waker,
        prev: usize,
        next: usize,
    },
    Granted(G),
}

/// The ticket of one registered waiter; owned by the future that registered it.
#[derive(Debug)]
#[must_use = "a waiter id must be kept until poll returns its grant, or handed back through leave (unless its whole list is gone)"]
pub(crate) struct WaiterId(usize);

/// What [`WaiterList::leave`] found in the slot of a waiter that went away.
#[derive(Debug)]
pub(crate) enum Removed<R, G> {
    /// It was still waiting; here is its request.
    Queued(R),
    /// It had been granted `G` and never saw it: the caller must pass `G` on.
    Granted(G),
}

impl<R, G> Default for WaiterList<R, G> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R, G> WaiterList<R, G> {
    /// An empty list; does not allocate.
    pub(crate) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
            queued: 0,
            granted: 0,
        }
    }

    /// `true` when no waiter is queued (granted waiters do not count).
    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Number of queued waiters.
    pub(crate) fn len(&self) -> usize {
        self.queued
    }

    /// Number of waiters granted something they have not yet collected (a grant
    /// still on its way to its owner).
    pub(crate) fn granted(&self) -> usize {
        self.granted
    }

    /// Number of slots in use (queued or granted and not yet collected).
    #[cfg(test)]
    pub(crate) fn slots_in_use(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| !matches!(slot, Slot::Vacant { .. }))
            .count()
    }

    /// Queues a waiter at the back.
    pub(crate) fn push_back(&mut self, req: R, waker: &Waker) -> WaiterId {
        let slot = Slot::Queued {
            req,
            waker: waker.clone(),
            prev: self.tail,
            next: NIL,
        };
        let index = if self.free == NIL {
            self.slots.push(slot);
            self.slots.len() - 1
        } else {
            let index = self.free;
            match std::mem::replace(&mut self.slots[index], slot) {
                Slot::Vacant { next_free } => self.free = next_free,
                _ => unreachable!("free list points at an occupied slot"),
            }
            index
        };
        if self.tail == NIL {
            self.head = index;
        } else {
            self.set_next(self.tail, index);
        }
        self.tail = index;
        self.queued += 1;
        WaiterId(index)
    }

    /// The request of the oldest queued waiter.
    pub(crate) fn front(&self) -> Option<&R> {
        match self.slots.get(self.head) {
            Some(Slot::Queued { req, .. }) => Some(req),
            _ => None,
        }
    }

    /// Grants the oldest queued waiter `grant(req)` and returns its waker, which the
    /// caller wakes once the lock is released. `None` if nobody is queued.
    pub(crate) fn grant_front(&mut self, grant: impl FnOnce(R) -> G) -> Option<Waker> {
        if self.head == NIL {
            return None;
        }
        let index = self.head;
        let (req, waker) = self.unlink(index);
        self.slots[index] = Slot::Granted(grant(req));
        self.granted += 1;
        Some(waker)
    }

    /// Grants every queued waiter, oldest first, adding their wakers to `wakers`.
    pub(crate) fn grant_all(&mut self, mut grant: impl FnMut(R) -> G, wakers: &mut WakeList) {
        while let Some(waker) = self.grant_front(&mut grant) {
            wakers.push(waker);
        }
    }

    /// Clones the wakers of all queued waiters (they stay queued) into `wakers`.
    pub(crate) fn wakers_of_queued(&self, wakers: &mut WakeList) {
        let mut index = self.head;
        while let Some(Slot::Queued { waker, next, .. }) = self.slots.get(index) {
            wakers.push(waker.clone());
            index = *next;
        }
    }

    /// Takes the grant of `id` if it has one, freeing its slot: the caller must then
    /// drop `id` unused. Otherwise makes `waker` the one a grant will wake; the waker
    /// it replaces goes into `wakers`, to be dropped after the lock.
    ///
    /// The id is only borrowed: if cloning `waker` panics, nothing has changed and the
    /// id is still the caller's to hand back through `leave`.
    pub(crate) fn poll(&mut self, id: &WaiterId, waker: &Waker, wakers: &mut WakeList) -> Poll<G> {
        match &mut self.slots[id.0] {
            Slot::Queued { waker: stored, .. } => {
                if !stored.will_wake(waker) {
                    wakers.drop_later(std::mem::replace(stored, waker.clone()));
                }
                Poll::Pending
            }
            Slot::Granted(_) => match self.free_slot(id.0) {
                Slot::Granted(grant) => {
                    self.granted -= 1;
                    Poll::Ready(grant)
                }
                _ => unreachable!(),
            },
            Slot::Vacant { .. } => unreachable!("a live waiter id names a vacant slot"),
        }
    }

    /// Removes the waiter `id` whatever its state; a grant it never saw comes back.
    /// Its waker, if it was still queued, goes into `wakers`, to be dropped (not woken)
    /// after the lock.
    pub(crate) fn leave(&mut self, id: WaiterId, wakers: &mut WakeList) -> Removed<R, G> {
        match self.slots[id.0] {
            Slot::Queued { .. } => {
                let (req, waker) = self.unlink(id.0);
                self.free_slot(id.0);
                wakers.drop_later(waker);
                Removed::Queued(req)
            }
            Slot::Granted(_) => match self.free_slot(id.0) {
                Slot::Granted(grant) => {
                    self.granted -= 1;
                    Removed::Granted(grant)
                }
                _ => unreachable!(),
            },
            Slot::Vacant { .. } => unreachable!("a live waiter id names a vacant slot"),
        }
    }

    /// Takes a queued slot out of the FIFO, leaving a placeholder the caller overwrites.
    fn unlink(&mut self, index: usize) -> (R, Waker) {
        let placeholder = Slot::Vacant { next_free: NIL };
        let Slot::Queued {
            req,
            waker,
            prev,
            next,
        } = std::mem::replace(&mut self.slots[index], placeholder)
        else {
            unreachable!("unlinking a waiter that is not queued")
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.set_next(prev, next);
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.set_prev(next, prev);
        }
        self.queued -= 1;
        (req, waker)
    }

    fn free_slot(&mut self, index: usize) -> Slot<R, G> {
        let old = std::mem::replace(
            &mut self.slots[index],
            Slot::Vacant {
                next_free: self.free,
            },
        );
        self.free = index;
        old
    }

    fn set_next(&mut self, index: usize, to: usize) {
        match &mut self.slots[index] {
            Slot::Queued { next, .. } => *next = to,
            _ => unreachable!("linked slot is not queued"),
        }
    }

    fn set_prev(&mut self, index: usize, to: usize) {
        match &mut self.slots[index] {
            Slot::Queued { prev, .. } => *prev = to,
            _ => unreachable!("linked slot is not queued"),
        }
    }
}

/// Wakers collected under a primitive's lock, to be woken (or, for those that leave
/// unwoken, dropped) after it is released.
///
/// Most hand-offs wake one waiter, so the first waker of each kind is kept inline and
/// only a broadcast (a set, a close, a large release) allocates.
#[derive(Debug, Default)]
#[must_use = "collected wakers must be woken"]
pub(crate) struct WakeList {
    to_wake: Wakers,
    to_drop: Wakers,
}

/// A few wakers, the first inline.
#[derive(Debug, Default)]
struct Wakers {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Wakers {
    const fn new() -> Self {
        Self {
            first: None,
            rest: Vec::new(),
        }
    }

    fn push(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    fn into_iter(self) -> impl Iterator<Item = Waker> {
        self.first.into_iter().chain(self.rest)
    }
}

impl WakeList {
    pub(crate) const fn new() -> Self {
        Self {
            to_wake: Wakers::new(),
            to_drop: Wakers::new(),
        }
    }

    /// A list of the one waker in `waker`, if any, to wake.
    pub(crate) fn of(waker: Option<Waker>) -> Self {
        let mut wakers = Self::new();
        wakers.to_wake.first = waker;
        wakers
    }

    pub(crate) fn push(&mut self, waker: Waker) {
        self.to_wake.push(waker);
    }

    /// Keeps a waker that leaves its primitive unwoken, to be dropped with the list.
    pub(crate) fn drop_later(&mut self, waker: Waker) {
        self.to_drop.push(waker);
    }

    /// Wakes everything collected, then drops the wakers kept to drop; call it after
    /// the primitive's lock is dropped.
    ///
    /// A waker that panics (a foreign executor's bug) does not stop the others: every
    /// waker is woken, since each may hold a grant it would otherwise never see, and
    /// then the first panic is resumed to the caller. The caller has settled its state
    /// before waking, so the unwinding leaves the primitive consistent. When the
    /// caller is itself unwinding (a future dropped during a panic), the waker's panic
    /// is dropped instead: resuming it there would abort the process.
    pub(crate) fn wake(self) {
        if let Some(payload) = self.wake_all() {
            if !std::thread::panicking() {
                resume_unwind(payload);
            }
        }
    }

    /// [`wake`](Self::wake) for a caller that hands out a value it has taken from the
    /// primitive (an item, a message): a waker's panic, which belongs to some other
    /// task's executor and which the panic hook has reported, is dropped, not resumed
    /// here, where it would lose that value.
    pub(crate) fn wake_handing_out(self) {
        drop(self.wake_all());
    }

    /// Wakes and drops every waker; returns the first panic of one.
    fn wake_all(self) -> Option<Box<dyn std::any::Any + Send>> {
        let Self { to_wake, to_drop } = self;
        let mut panic = None;
        for waker in to_wake.into_iter() {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
                panic.get_or_insert(payload);
            }
        }
        for waker in to_drop.into_iter() {
            // A waker's drop may panic as a wake may: it stops nothing, and never
            // unwinds into a panic already under way.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(waker))) {
                panic.get_or_insert(payload);
            }
        }
        panic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waker() -> Waker {
        Waker::noop().clone()
    }

    #[test]
    fn fifo_order_and_removal_from_the_middle() {
        let mut list: WaiterList<u32, u32> = WaiterList::new();
        let mut wakers = WakeList::new();
        let w = waker();
        let a = list.push_back(1, &w);
        let b = list.push_back(2, &w);
        let c = list.push_back(3, &w);
        assert_eq!(list.len(), 3);
        assert!(matches!(list.leave(b, &mut wakers), Removed::Queued(2)));
        assert_eq!(list.front(), Some(&1));
        assert!(list.grant_front(|r| r * 10).is_some());
        assert_eq!(list.front(), Some(&3));
        assert_eq!(list.poll(&a, &w, &mut wakers), Poll::Ready(10));
        drop(a);
        assert!(list.poll(&c, &w, &mut wakers).is_pending());
        assert!(list.grant_front(|r| r * 10).is_some());
        assert!(list.grant_front(|r| r * 10).is_none());
        assert_eq!(list.granted(), 1);
        assert!(matches!(list.leave(c, &mut wakers), Removed::Granted(30)));
        assert!(list.is_empty());
        assert_eq!(list.granted(), 0);
        wakers.wake();
    }

    #[test]
    fn slots_are_reused() {
        let mut list: WaiterList<(), ()> = WaiterList::new();
        let w = waker();
        for _ in 0..100 {
            let mut wakers = WakeList::new();
            let a = list.push_back((), &w);
            let b = list.push_back((), &w);
            let _ = list.leave(a, &mut wakers);
            let _ = list.leave(b, &mut wakers);
            wakers.wake();
        }
        assert_eq!(list.slots.len(), 2);
    }

    #[test]
    fn wake_wakes_everyone_past_a_panicking_waker_then_resumes_the_first_panic() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        struct Boom(&'static str);
        impl std::task::Wake for Boom {
            fn wake(self: Arc<Self>) {
                std::panic::panic_any(self.0);
            }
        }
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let mut wakers = WakeList::new();
        wakers.push(Waker::from(count.clone()));
        wakers.push(Waker::from(Arc::new(Boom("first"))));
        wakers.push(Waker::from(count.clone()));
        wakers.push(Waker::from(Arc::new(Boom("second"))));
        wakers.push(Waker::from(count.clone()));
        let panic = std::panic::catch_unwind(AssertUnwindSafe(|| wakers.wake())).unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"first"));
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn wake_while_unwinding_lets_a_wakers_panic_go() {
        struct Boom;
        impl std::task::Wake for Boom {
            fn wake(self: std::sync::Arc<Self>) {
                panic!("waker");
            }
        }
        struct WakeOnDrop(Option<WakeList>);
        impl Drop for WakeOnDrop {
            fn drop(&mut self) {
                self.0.take().unwrap().wake();
            }
        }
        let mut wakers = WakeList::new();
        wakers.push(Waker::from(std::sync::Arc::new(Boom)));
        let panic = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _wake_on_drop = WakeOnDrop(Some(wakers));
            panic!("outer");
        }))
        .unwrap_err();
        // Resuming the waker's panic from the drop would have aborted the process.
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"outer"));
    }

    #[test]
    fn grant_all_keeps_order() {
        let mut list: WaiterList<u32, u32> = WaiterList::new();
        let w = waker();
        let ids: Vec<_> = (0..5).map(|i| list.push_back(i, &w)).collect();
        let mut wakers = WakeList::new();
        let mut order = Vec::new();
        list.grant_all(
            |r| {
                order.push(r);
                r
            },
            &mut wakers,
        );
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
        assert_eq!(wakers.to_wake.rest.len(), 4);
        for (i, id) in ids.into_iter().enumerate() {
            assert_eq!(list.poll(&id, &w, &mut wakers), Poll::Ready(i as u32));
        }
        wakers.wake();
    }

    /// Counts the drops of its wakers.
    struct DropCount(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl std::task::Wake for DropCount {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    impl Drop for DropCount {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// A waker whose drop panics, dropped by a wake list while its caller unwinds (a
    /// wait dropped during a panic): contained, as a wake's panic is; it used to unwind
    /// into the panic under way, which aborts.
    #[test]
    fn a_waker_whose_drop_panics_is_contained_while_unwinding() {
        use std::sync::Arc;
        struct PanicsOnDrop;
        impl std::task::Wake for PanicsOnDrop {
            fn wake(self: Arc<Self>) {}
        }
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("a waker's drop panics");
            }
        }
        struct WakeOnDrop(Option<WakeList>);
        impl Drop for WakeOnDrop {
            fn drop(&mut self) {
                self.0.take().expect("once").wake();
            }
        }
        let unwound = std::panic::catch_unwind(|| {
            let mut wakers = WakeList::new();
            wakers.drop_later(Waker::from(Arc::new(PanicsOnDrop)));
            let _wake = WakeOnDrop(Some(wakers));
            panic!("the caller's own panic");
        });
        let payload = unwound.expect_err("the caller's panic comes out");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"the caller's own panic")
        );
        // Outside a panic, the drop's panic comes out of `wake`, after every waker.
        let mut wakers = WakeList::new();
        wakers.drop_later(Waker::from(Arc::new(PanicsOnDrop)));
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wakers.wake())).is_err());
    }

    #[test]
    fn a_waker_that_leaves_unwoken_is_dropped_with_the_wake_list() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let drops = Arc::new(AtomicUsize::new(0));
        let mut list: WaiterList<(), ()> = WaiterList::new();
        let id = list.push_back((), &Waker::from(Arc::new(DropCount(drops.clone()))));

        // Replaced by a re-poll's waker.
        let mut wakers = WakeList::new();
        assert!(list.poll(&id, &waker(), &mut wakers).is_pending());
        assert_eq!(drops.load(Ordering::SeqCst), 0, "dropped under the lock");
        wakers.wake();
        assert_eq!(drops.load(Ordering::SeqCst), 1);

        // Removed with its waiter.
        let mut wakers = WakeList::new();
        assert!(
            list.poll(
                &id,
                &Waker::from(Arc::new(DropCount(drops.clone()))),
                &mut wakers
            )
            .is_pending()
        );
        wakers.wake(); // the no-op waker it replaced
        let mut wakers = WakeList::new();
        let _ = list.leave(id, &mut wakers);
        assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped under the lock");
        wakers.wake();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_waker_whose_clone_panics_leaves_the_id_with_its_owner() {
        use std::task::{RawWaker, RawWakerVTable};
        fn clone(_: *const ()) -> RawWaker {
            panic!("clone")
        }
        fn ignore(_: *const ()) {}
        static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, ignore, ignore, ignore);
        // SAFETY: no function of the vtable reads the data pointer, so a null one is
        // valid for each of them, and having no state they are safe on any thread.
        let bad = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };

        let mut list: WaiterList<(), ()> = WaiterList::new();
        let id = list.push_back((), &waker());
        let mut wakers = WakeList::new();
        let refresh = catch_unwind(AssertUnwindSafe(|| list.poll(&id, &bad, &mut wakers)));
        assert!(refresh.is_err());
        assert_eq!(list.len(), 1, "still queued, under its old waker");
        assert!(matches!(list.leave(id, &mut wakers), Removed::Queued(())));
        assert_eq!(list.slots_in_use(), 0);
        wakers.wake();
    }
}
