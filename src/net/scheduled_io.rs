//! The readiness state of one registration: what the driver has seen of a socket, and
//! who waits for more.
//!
//! Rules of this module:
//! - The state word holds three fields (see [`ScheduledIo::word`]): readiness bits, a
//!   *tick* that counts readiness events, and the registration's *generation*. The
//!   driver sets bits (and bumps the tick) only for an event whose token carries that
//!   generation, so an event still buffered for an earlier registration with the same
//!   slab key is ignored (no ABA).
//! - Readiness is edge-triggered: bits stay set until an operation that got
//!   `WouldBlock` clears them with [`ScheduledIo::clear`], and only if the tick is still
//!   the one it observed. An event that arrived in between is therefore never lost.
//! - An operation that got `WouldBlock` after the readiness of tick `t` waits for an
//!   event newer than `t`, whatever bits are still set. The closed bits cannot be
//!   cleared, and a socket may say `WouldBlock` although they are set (a Unix datagram
//!   socket after `shutdown(Read)`), so retrying on them alone would never end.
//! - Waking does not consume readiness. A task that is woken and then dropped (a
//!   cancelled read) leaves the bits set for the next poll, by it or by anyone else.
//! - Waiters register under the `waiters` lock and then look at the word again; the
//!   driver sets the bits before taking that lock. Either the waiter sees the bits, or
//!   the driver sees the waiter: no lost wake-up.
//! - A waker is kept only while its waiter can still be polled. A future that waits
//!   holds a [`Wait`]: its waker has its own entry, which goes when the `Wait` does
//!   (the future completed or was dropped). A poll function with no future of its own
//!   (`AsyncRead::poll_read`, `poll_accept`) cannot say when its caller is gone: its
//!   waker goes into its direction's one polled slot, which each such poll replaces.
//!   So only the last task to wait through a poll function is woken, as with tokio;
//!   any number of futures waiting at once are each woken.
//! - When the runtime is dropped, nothing turns its driver any more: its reactor sets
//!   `SHUT_DOWN` on every registration, as an event (same tick and wake-up rules).
//!   Every operation that would wait then fails instead.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::task::{Context, Poll, Waker};

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicU64, Ordering};

/// The socket can be read (or accepted from).
pub(crate) const READABLE: u64 = 0b0001;
/// The socket can be written (or a connect finished).
pub(crate) const WRITABLE: u64 = 0b0010;
/// The read side is closed; never cleared.
pub(crate) const READ_CLOSED: u64 = 0b0100;
/// The write side is closed; never cleared.
pub(crate) const WRITE_CLOSED: u64 = 0b1000;
/// The runtime the registration belongs to is gone; never cleared.
const SHUT_DOWN: u64 = 0b1_0000;

const READY_MASK: u64 = 0xff;
const TICK_SHIFT: u32 = 8;
const TICK_MASK: u64 = 0xff_ffff << TICK_SHIFT;
const GEN_SHIFT: u32 = 32;
/// Generations are 24 bits: they also go into the mio token (see `reactor.rs`).
pub(crate) const GEN_MASK: u64 = 0xff_ffff;

/// Which way an operation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::Read => 0,
            Direction::Write => 1,
        }
    }

    /// What a task waiting for this direction waits for, in the task-tree dump.
    fn waited_on(self) -> crate::debug::task::WaitOn {
        match self {
            Direction::Read => crate::debug::task::WaitOn::Readable,
            Direction::Write => crate::debug::task::WaitOn::Writable,
        }
    }

    /// The bits that end a wait in this direction.
    fn mask(self) -> u64 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | SHUT_DOWN,
            Direction::Write => WRITABLE | WRITE_CLOSED | SHUT_DOWN,
        }
    }

    /// The bits a `WouldBlock` may clear: closed bits stay, a closed side never
    /// becomes open again.
    fn clearable(self) -> u64 {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

/// What a poll saw: the ready bits of one direction and the tick they were seen at,
/// for [`ScheduledIo::clear`].
#[derive(Debug, Clone, Copy)]
#[must_use]
pub(crate) struct ReadyEvent {
    tick: u64,
    ready: u64,
}

impl ReadyEvent {
    /// For an operation that got `WouldBlock`: an error if the registration's runtime
    /// is gone, since no event can come any more and the operation must not wait.
    pub(crate) fn check(self) -> io::Result<()> {
        if self.ready & SHUT_DOWN != 0 {
            return Err(gone());
        }
        Ok(())
    }

    /// For a wait for readiness alone (`readable()`): readiness of the direction
    /// itself ends it, even after the runtime is gone; an error only if the runtime's
    /// going is all there is, since waiting on would then never end.
    pub(crate) fn check_ready(self) -> io::Result<()> {
        if self.ready & !SHUT_DOWN == 0 {
            return Err(gone());
        }
        Ok(())
    }
}

fn gone() -> io::Error {
    io::Error::other("pride: the runtime this socket, pipe or child process was made in is gone")
}

#[derive(Default)]
struct Waiters {
    /// The waits of futures (each a [`Wait`]), by key: the direction and the waker, or
    /// `None` once woken. Only the `Wait`'s drop removes its entry, so a key names its
    /// own entry for as long as the `Wait` lives.
    owned: slab::Slab<(Direction, Option<Waker>)>,
    /// The waker of the last wait through a poll function, per direction.
    polled: [Option<Waker>; 2],
}

impl Waiters {
    /// Registers `waker`, for `who` (see [`ScheduledIo::poll_ready_as`]).
    fn register(&mut self, direction: Direction, who: Option<&mut Option<usize>>, waker: &Waker) {
        let slot = match who {
            None => &mut self.polled[direction.index()],
            Some(key) => match *key {
                Some(key) => &mut self.owned[key].1,
                None => {
                    *key = Some(self.owned.insert((direction, Some(waker.clone()))));
                    return;
                }
            },
        };
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Takes every waker waiting for `direction` into `woken`.
    fn take(&mut self, direction: Direction, woken: &mut Vec<Waker>) {
        woken.extend(self.polled[direction.index()].take());
        for (_, (waits_for, waker)) in self.owned.iter_mut() {
            if *waits_for == direction {
                woken.extend(waker.take());
            }
        }
    }
}

/// The shared state of one registration.
pub(crate) struct ScheduledIo {
    /// Bits 0..8: readiness (`READABLE`, `WRITABLE`, `READ_CLOSED`, `WRITE_CLOSED`,
    /// `SHUT_DOWN`).
    /// Bits 8..32: tick, bumped by every event the driver delivers.
    /// Bits 32..56: generation, fixed at registration.
    word: AtomicU64,
    /// Tasks waiting for each direction. Several futures may wait on one socket at once
    /// (a shared `UdpSocket`, the two halves of a stream); every one is woken.
    waiters: Mutex<Waiters>,
}

impl ScheduledIo {
    /// The state of a new registration of generation `generation`: not ready.
    pub(crate) fn new(generation: u64) -> ScheduledIo {
        ScheduledIo {
            word: AtomicU64::new((generation & GEN_MASK) << GEN_SHIFT),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// The driver saw `ready` for a token of generation `generation`. Returns false,
    /// changing nothing, if the token belongs to another registration.
    pub(crate) fn set_readiness(&self, generation: u64, ready: u64) -> bool {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            if (current >> GEN_SHIFT) & GEN_MASK != generation {
                return false;
            }
            let tick = ((current & TICK_MASK) + (1 << TICK_SHIFT)) & TICK_MASK;
            let new = (current & !(TICK_MASK)) | tick | (ready & READY_MASK);
            match self
                .word
                .compare_exchange_weak(current, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        self.wake(ready);
        true
    }

    /// The runtime is gone: sets `SHUT_DOWN` as an event, waking every waiter.
    pub(crate) fn shut_down(&self) {
        // The generation is fixed at registration.
        let generation = (self.word.load(Ordering::Relaxed) >> GEN_SHIFT) & GEN_MASK;
        self.set_readiness(generation, SHUT_DOWN);
    }

    /// Wakes the waiters of the directions in `ready`, outside the lock.
    fn wake(&self, ready: u64) {
        let mut woken = Vec::new();
        {
            let mut waiters = self.waiters.lock();
            for direction in [Direction::Read, Direction::Write] {
                if ready & direction.mask() != 0 {
                    waiters.take(direction, &mut woken);
                }
            }
        }
        // A waker that panics (a foreign executor's bug) does not keep the others from
        // being woken: each may be a task this event is its only wake for. The first
        // panic is resumed once all are woken (the driver contains it).
        let mut panic = None;
        for waker in woken {
            if let Err(caught) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
                panic.get_or_insert(caught);
            }
        }
        if let Some(panic) = panic {
            resume_unwind(panic);
        }
    }

    /// The direction's readiness, unless it is no newer than `spent` (the readiness an
    /// operation got `WouldBlock` after).
    fn ready_now(&self, direction: Direction, spent: Option<ReadyEvent>) -> Option<ReadyEvent> {
        let word = self.word.load(Ordering::Acquire);
        let ready = word & direction.mask();
        let tick = word & TICK_MASK;
        (ready != 0 && spent.is_none_or(|spent| spent.tick != tick))
            .then_some(ReadyEvent { tick, ready })
    }

    /// Ready if the direction has readiness; otherwise registers `cx`'s waker in the
    /// direction's polled slot (for a poll function with no future of its own).
    #[cfg(all(test, not(pride_loom)))]
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<ReadyEvent> {
        self.poll_ready_as(cx, direction, None, None)
    }

    /// A wait for `direction` owned by a future: its waker is kept until it is dropped.
    pub(crate) fn wait(&self, direction: Direction) -> Wait<'_> {
        Wait {
            io: self,
            direction,
            key: None,
        }
    }

    /// Ready if the direction has readiness newer than `spent`; otherwise registers
    /// `cx`'s waker for `who`: `None` for the direction's polled slot, or a [`Wait`]'s
    /// key (set on its first registration).
    fn poll_ready_as(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        who: Option<&mut Option<usize>>,
        spent: Option<ReadyEvent>,
    ) -> Poll<ReadyEvent> {
        if let Some(event) = self.ready_now(direction, spent) {
            return Poll::Ready(event);
        }
        let mut waiters = self.waiters.lock();
        // Look again under the lock: an event set before we took it is seen here, one
        // set after it finds our waker.
        if let Some(event) = self.ready_now(direction, spent) {
            return Poll::Ready(event);
        }
        waiters.register(direction, who, cx.waker());
        drop(waiters);
        crate::debug::task::waits(cx, direction.waited_on());
        Poll::Pending
    }

    /// Runs `op` while the direction is ready, until it returns anything but
    /// `WouldBlock`; each `WouldBlock` clears the readiness the poll saw, and `op` runs
    /// again only after a newer event. `Pending` (with `cx`'s waker registered in the
    /// polled slot) once there is none.
    pub(crate) fn poll_op<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_op_as(cx, direction, None, op)
    }

    /// [`poll_op`](Self::poll_op) for `who` (see [`poll_ready_as`](Self::poll_ready_as)).
    fn poll_op_as<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut who: Option<&mut Option<usize>>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let mut spent = None;
        loop {
            let Poll::Ready(event) = self.poll_ready_as(cx, direction, who.as_deref_mut(), spent)
            else {
                return Poll::Pending;
            };
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.clear(event, direction);
                    // Once the runtime is gone no event can come: fail rather than
                    // wait (an operation that need not wait still works).
                    event.check()?;
                    spent = Some(event);
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// Runs `op` once, without waiting; a `WouldBlock` clears the readiness seen before
    /// it (if any) and is returned.
    pub(crate) fn try_op<R>(
        &self,
        direction: Direction,
        op: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let event = self.ready_now(direction, None);
        let result = op();
        if let (Some(event), Err(e)) = (event, &result) {
            if e.kind() == io::ErrorKind::WouldBlock {
                self.clear(event, direction);
            }
        }
        result
    }

    /// An operation got `WouldBlock` after `event`: clears the readiness it saw, unless
    /// a newer event arrived since (then the operation should simply try again).
    pub(crate) fn clear(&self, event: ReadyEvent, direction: Direction) {
        let clear = event.ready & direction.clearable();
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            if current & TICK_MASK != event.tick {
                return;
            }
            let new = current & !clear;
            match self
                .word
                .compare_exchange_weak(current, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }
}

/// A future's wait on one direction of a registration: the waker it registers is
/// kept for it until the `Wait` is dropped, however many times it is polled.
pub(crate) struct Wait<'a> {
    io: &'a ScheduledIo,
    direction: Direction,
    /// The entry in `Waiters::owned`, from the first `Pending` poll on.
    key: Option<usize>,
}

impl Wait<'_> {
    /// Ready if the direction has readiness; otherwise registers `cx`'s waker for
    /// this wait.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<ReadyEvent> {
        self.io
            .poll_ready_as(cx, self.direction, Some(&mut self.key), None)
    }

    /// [`ScheduledIo::poll_op`] for this wait.
    pub(crate) fn poll_op<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.io
            .poll_op_as(cx, self.direction, Some(&mut self.key), op)
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Dropped outside the lock: the last reference to a task frees it.
            let removed = self.io.waiters.lock().owned.remove(key);
            drop(removed);
        }
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;
    use crate::test_util::Counter;

    #[test]
    fn an_event_between_poll_and_clear_is_not_lost() {
        let io = ScheduledIo::new(0);
        assert!(io.set_readiness(0, READABLE));
        let counter = Counter::new();
        let mut cx = Context::from_waker(counter.waker());
        let Poll::Ready(seen) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable")
        };
        // A new edge arrives while the operation runs; its WouldBlock must not clear it.
        assert!(io.set_readiness(0, READABLE));
        io.clear(seen, Direction::Read);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_ready());
    }

    #[test]
    fn clearing_waits_and_the_next_event_wakes() {
        let io = ScheduledIo::new(0);
        assert!(io.set_readiness(0, READABLE | WRITABLE));
        let counter = Counter::new();
        let mut cx = Context::from_waker(counter.waker());
        let Poll::Ready(seen) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable")
        };
        io.clear(seen, Direction::Read);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
        // Writability is untouched by a read's WouldBlock.
        assert!(io.poll_ready(&mut cx, Direction::Write).is_ready());
        assert!(io.set_readiness(0, READABLE));
        assert_eq!(counter.wakes(), 1);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_ready());
    }

    #[test]
    fn events_of_another_generation_are_ignored() {
        let io = ScheduledIo::new(1);
        assert!(!io.set_readiness(0, READABLE));
        let counter = Counter::new();
        let mut cx = Context::from_waker(counter.waker());
        assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
        assert!(io.set_readiness(1, READABLE));
        assert_eq!(counter.wakes(), 1);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_ready());
    }

    #[test]
    fn closed_bits_survive_a_clear() {
        let io = ScheduledIo::new(0);
        assert!(io.set_readiness(0, READABLE | READ_CLOSED));
        let counter = Counter::new();
        let mut cx = Context::from_waker(counter.waker());
        let Poll::Ready(seen) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable")
        };
        io.clear(seen, Direction::Read);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_ready());
    }

    /// A waker whose references can be counted.
    struct Tracked;

    impl std::task::Wake for Tracked {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    fn tracked() -> (std::sync::Arc<Tracked>, Waker) {
        let tracked = std::sync::Arc::new(Tracked);
        (tracked.clone(), Waker::from(tracked))
    }

    /// Waits that are dropped let their wakers go at once, although no event comes;
    /// a wait that stays keeps its place and is woken by the next event.
    #[test]
    fn a_dropped_wait_lets_its_waker_go() {
        let io = ScheduledIo::new(0);
        let staying = Counter::new();
        let mut stays = io.wait(Direction::Read);
        assert!(
            stays
                .poll_ready(&mut Context::from_waker(staying.waker()))
                .is_pending()
        );
        for _ in 0..100 {
            let (tracked, waker) = tracked();
            let mut wait = io.wait(Direction::Read);
            assert!(
                wait.poll_ready(&mut Context::from_waker(&waker))
                    .is_pending()
            );
            // Polled again: still one entry.
            assert!(
                wait.poll_ready(&mut Context::from_waker(&waker))
                    .is_pending()
            );
            drop((wait, waker));
            assert_eq!(std::sync::Arc::strong_count(&tracked), 1);
        }
        assert_eq!(io.waiters.lock().owned.len(), 1);
        assert!(io.set_readiness(0, READABLE));
        assert_eq!(staying.wakes(), 1);
        drop(stays);
        assert!(io.waiters.lock().owned.is_empty());
    }

    /// Any number of waits at once are each woken by one event, once; a woken wait
    /// registers again when polled again.
    #[test]
    fn every_wait_is_woken_by_one_event() {
        let io = ScheduledIo::new(0);
        let counters: Vec<_> = (0..3).map(|_| Counter::new()).collect();
        let mut waits: Vec<_> = counters.iter().map(|_| io.wait(Direction::Write)).collect();
        for (wait, counter) in waits.iter_mut().zip(&counters) {
            let mut cx = Context::from_waker(counter.waker());
            assert!(wait.poll_ready(&mut cx).is_pending());
        }
        // A read event wakes no writer.
        assert!(io.set_readiness(0, READABLE));
        assert!(counters.iter().all(|c| c.wakes() == 0));
        assert!(io.set_readiness(0, WRITABLE));
        assert!(counters.iter().all(|c| c.wakes() == 1));
        assert!(io.set_readiness(0, WRITABLE));
        assert!(
            counters.iter().all(|c| c.wakes() == 1),
            "woken wakers are gone"
        );
    }

    /// A waker that panics as an event wakes it does not keep the event from waking the
    /// others; the panic comes out after.
    #[test]
    fn a_panicking_waker_does_not_strand_the_others() {
        struct Panics;
        impl std::task::Wake for Panics {
            fn wake(self: std::sync::Arc<Self>) {
                panic!("a faulty waker");
            }
        }
        let io = ScheduledIo::new(0);
        let panics = Waker::from(std::sync::Arc::new(Panics));
        let mut first = io.wait(Direction::Read);
        assert!(
            first
                .poll_ready(&mut Context::from_waker(&panics))
                .is_pending()
        );
        let counter = Counter::new();
        let mut second = io.wait(Direction::Read);
        assert!(
            second
                .poll_ready(&mut Context::from_waker(counter.waker()))
                .is_pending()
        );
        let caught = catch_unwind(AssertUnwindSafe(|| io.set_readiness(0, READABLE)));
        assert!(caught.is_err(), "the waker's panic comes out");
        assert_eq!(counter.wakes(), 1, "the other waiter was not woken");
    }

    /// Through a poll function, each poll replaces the waker of the last.
    #[test]
    fn a_poll_replaces_the_last_polled_waker() {
        let io = ScheduledIo::new(0);
        let (first, first_waker) = tracked();
        assert!(
            io.poll_ready(&mut Context::from_waker(&first_waker), Direction::Read)
                .is_pending()
        );
        drop(first_waker);
        let second = Counter::new();
        assert!(
            io.poll_ready(&mut Context::from_waker(second.waker()), Direction::Read)
                .is_pending()
        );
        assert_eq!(std::sync::Arc::strong_count(&first), 1);
        assert!(io.set_readiness(0, READABLE));
        assert_eq!(second.wakes(), 1);
    }

    #[test]
    fn would_block_on_closed_bits_waits_for_a_newer_event() {
        let io = ScheduledIo::new(0);
        assert!(io.set_readiness(0, READABLE | READ_CLOSED));
        let counter = Counter::new();
        let mut cx = Context::from_waker(counter.waker());
        let ops = std::cell::Cell::new(0);
        let would_block = || -> io::Result<()> {
            ops.set(ops.get() + 1);
            assert!(ops.get() <= 2, "the operation ran again with no new event");
            Err(io::ErrorKind::WouldBlock.into())
        };
        assert!(
            io.poll_op(&mut cx, Direction::Read, would_block)
                .is_pending()
        );
        assert_eq!(ops.get(), 1);
        assert!(io.set_readiness(0, READABLE | READ_CLOSED));
        assert_eq!(counter.wakes(), 1);
        assert!(
            io.poll_op(&mut cx, Direction::Read, would_block)
                .is_pending()
        );
        assert_eq!(ops.get(), 2);
    }
}

/// What the loom model in `loom-tests/reactor.rs` drives: one registration's readiness
/// state, set as the driver sets it and polled, cleared and waited on through the same
/// loop the I/O types use. Only under `cfg(pride_loom)`; reached as `pride::__loom::net`.
#[cfg(pride_loom)]
pub(crate) mod loom_api {
    use std::io;
    use std::task::{Context, Poll, Waker};

    use super::{Direction, ScheduledIo};

    /// The socket can be read.
    pub const READABLE: u64 = super::READABLE;
    /// The socket can be written.
    pub const WRITABLE: u64 = super::WRITABLE;
    /// The read side is closed.
    pub const READ_CLOSED: u64 = super::READ_CLOSED;

    /// One registration's readiness state.
    pub struct Registration(ScheduledIo);

    impl Registration {
        /// A new registration of generation `generation`.
        pub fn new(generation: u64) -> Registration {
            Registration(ScheduledIo::new(generation))
        }

        /// The driver delivers an event (`ready`: the bits above) for `generation`.
        pub fn set_readiness(&self, generation: u64, ready: u64) -> bool {
            self.0.set_readiness(generation, ready)
        }

        /// `IoSource::poll_io`'s loop: runs `op` while readable, until it returns
        /// anything but `WouldBlock`; `Pending` with `waker` registered once nothing is
        /// left.
        pub fn poll_read<R>(
            &self,
            waker: &Waker,
            op: impl FnMut() -> io::Result<R>,
        ) -> Poll<io::Result<R>> {
            self.0
                .poll_op(&mut Context::from_waker(waker), Direction::Read, op)
        }

        /// `poll_read` for the write side.
        pub fn poll_write<R>(
            &self,
            waker: &Waker,
            op: impl FnMut() -> io::Result<R>,
        ) -> Poll<io::Result<R>> {
            self.0
                .poll_op(&mut Context::from_waker(waker), Direction::Write, op)
        }

        /// A wait owned by a future (as `IoSource::async_io` makes) on the read side.
        pub fn wait_read(&self) -> Waiting<'_> {
            Waiting(self.0.wait(Direction::Read))
        }

        /// How many futures' waits hold an entry (woken or not).
        pub fn owned_waits(&self) -> usize {
            self.0.waiters.lock().owned.len()
        }

        /// The runtime is dropped: every wait on this registration ends in an error.
        pub fn shut_down(&self) {
            self.0.shut_down();
        }

        /// `IoSource::try_io` for the read side.
        pub fn try_read<R>(&self, op: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
            self.0.try_op(Direction::Read, op)
        }
    }

    /// A future's wait on the read side: `IoSource::async_io`'s loop, polled with any
    /// waker; dropping it is dropping the future.
    pub struct Waiting<'a>(super::Wait<'a>);

    impl Waiting<'_> {
        /// One poll of the future: runs `op` while readable, until it returns anything
        /// but `WouldBlock`; `Pending` with `waker` registered once nothing is left.
        pub fn poll<R>(
            &mut self,
            waker: &Waker,
            op: impl FnMut() -> io::Result<R>,
        ) -> Poll<io::Result<R>> {
            self.0.poll_op(&mut Context::from_waker(waker), op)
        }
    }
}
