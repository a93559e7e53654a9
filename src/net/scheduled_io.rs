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
//! - When the runtime is dropped, nothing turns its driver any more: its reactor sets
//!   `SHUT_DOWN` on every registration, as an event (same tick and wake-up rules).
//!   Every operation that would wait then fails instead.

use std::io;
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
    /// An error if the registration's runtime is gone: no event can come any more, so
    /// an operation must not wait.
    pub(crate) fn check(self) -> io::Result<()> {
        if self.ready & SHUT_DOWN != 0 {
            return Err(io::Error::other(
                "pride: the runtime this socket was made in is gone",
            ));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Waiters {
    reader: Vec<Waker>,
    writer: Vec<Waker>,
}

/// The shared state of one registration.
pub(crate) struct ScheduledIo {
    /// Bits 0..8: readiness (`READABLE`, `WRITABLE`, `READ_CLOSED`, `WRITE_CLOSED`,
    /// `SHUT_DOWN`).
    /// Bits 8..32: tick, bumped by every event the driver delivers.
    /// Bits 32..56: generation, fixed at registration.
    word: AtomicU64,
    /// Tasks waiting for each direction. Several tasks may wait on one socket at once
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
            if ready & Direction::Read.mask() != 0 {
                woken.append(&mut waiters.reader);
            }
            if ready & Direction::Write.mask() != 0 {
                woken.append(&mut waiters.writer);
            }
        }
        for waker in woken {
            waker.wake();
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

    /// Ready if the direction has readiness; otherwise registers `cx`'s waker.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<ReadyEvent> {
        self.poll_ready_after(cx, direction, None)
    }

    /// [`poll_ready`](Self::poll_ready), counting only readiness newer than `spent`.
    fn poll_ready_after(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
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
        let list = match direction {
            Direction::Read => &mut waiters.reader,
            Direction::Write => &mut waiters.writer,
        };
        if !list.iter().any(|w| w.will_wake(cx.waker())) {
            list.push(cx.waker().clone());
        }
        crate::debug::task::waits(cx, direction.waited_on());
        Poll::Pending
    }

    /// Runs `op` while the direction is ready, until it returns anything but
    /// `WouldBlock`; each `WouldBlock` clears the readiness the poll saw, and `op` runs
    /// again only after a newer event. `Pending` (with `cx`'s waker registered) once
    /// there is none.
    pub(crate) fn poll_op<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let mut spent = None;
        loop {
            let Poll::Ready(event) = self.poll_ready_after(cx, direction, spent) else {
                return Poll::Pending;
            };
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Once the runtime is gone no event can come: fail rather than
                    // wait (an operation that need not wait still works).
                    event.check()?;
                    self.clear(event, direction);
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
        let mut cx = Context::from_waker(Waker::noop());
        let event = match self.poll_ready(&mut cx, direction) {
            Poll::Ready(event) => Some(event),
            Poll::Pending => None,
        };
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

        /// The runtime is dropped: every wait on this registration ends in an error.
        pub fn shut_down(&self) {
            self.0.shut_down();
        }

        /// `IoSource::try_io` for the read side.
        pub fn try_read<R>(&self, op: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
            self.0.try_op(Direction::Read, op)
        }
    }
}
