//! The reactor: registrations of sockets with the driver's `mio::Poll`, and the slab of
//! per-registration readiness state the driver dispatches events into.
//!
//! Who calls it: the I/O types of this room register their mio sources through
//! [`IoSource::new`] and wait with [`IoSource::poll_io`]; the runtime's driver, whichever
//! worker holds it, calls [`Reactor::dispatch`] for every event of a `Poll::poll` turn.
//!
//! Rules:
//! - A registration's mio token is its slab index (low 24 bits) and the slot's
//!   generation (the next 24 bits). Releasing a slot bumps its generation, so events
//!   still buffered for a released registration are dropped by [`Reactor::dispatch`]
//!   instead of reaching the slot's next owner.
//! - Slab pages are allocated on demand and never freed while the reactor lives, so a
//!   slot found by index stays valid; lookups take no lock. Only allocating and
//!   releasing a slot lock the free list.
//! - Registration is edge-triggered (mio's only mode). [`IoSource::poll_io`] runs the
//!   operation while the slot says ready, and on `WouldBlock` clears exactly the
//!   readiness it saw (see `scheduled_io.rs`), then waits for the next edge.
//! - Dropping an [`IoSource`] deregisters its source and then releases its slot.

use std::io;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use mio::event::Source;

use super::scheduled_io::{
    Direction, GEN_MASK, READ_CLOSED, READABLE, ScheduledIo, WRITABLE, WRITE_CLOSED,
};
use crate::loom::sync::{Arc, Mutex};

const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Slots in the first page; page `p` holds `FIRST_PAGE << p`.
const FIRST_PAGE: usize = 64;
/// Enough pages for `2^24` slots, the most a token can name.
const PAGES: usize = 19;

/// The readiness half of the driver: shared by the driver and every registration.
pub(crate) struct Reactor {
    registry: mio::Registry,
    pages: [OnceLock<Box<[ScheduledIo]>>; PAGES],
    free: Mutex<FreeList>,
}

struct FreeList {
    released: Vec<usize>,
    next: usize,
}

/// Page and offset of slot `index`: page `p` starts at `FIRST_PAGE * (2^p - 1)`.
fn locate(index: usize) -> (usize, usize) {
    let page = (index / FIRST_PAGE + 1).ilog2() as usize;
    let start = FIRST_PAGE * ((1 << page) - 1);
    (page, index - start)
}

impl Reactor {
    pub(crate) fn new(registry: mio::Registry) -> Reactor {
        Reactor {
            registry,
            pages: std::array::from_fn(|_| OnceLock::new()),
            free: Mutex::new(FreeList {
                released: Vec::new(),
                next: 0,
            }),
        }
    }

    fn slot(&self, index: usize) -> Option<&ScheduledIo> {
        let (page, offset) = locate(index);
        self.pages.get(page)?.get()?.get(offset)
    }

    fn allocate(&self) -> io::Result<usize> {
        let mut free = self.free.lock();
        let index = match free.released.pop() {
            Some(index) => index,
            None => {
                if free.next > INDEX_MASK {
                    return Err(io::Error::other(
                        "pride: too many sockets registered with the reactor",
                    ));
                }
                free.next += 1;
                free.next - 1
            }
        };
        let (page, _) = locate(index);
        self.pages[page].get_or_init(|| {
            (0..FIRST_PAGE << page)
                .map(|_| ScheduledIo::default())
                .collect()
        });
        Ok(index)
    }

    /// How many sockets are registered now, for the runtime's metrics.
    pub(crate) fn registered(&self) -> usize {
        let free = self.free.lock();
        free.next - free.released.len()
    }

    fn release(&self, index: usize) {
        if let Some(slot) = self.slot(index) {
            slot.release();
        }
        self.free.lock().released.push(index);
    }

    /// Delivers one event of a driver turn.
    pub(crate) fn dispatch(&self, event: &mio::event::Event) {
        let token = event.token().0;
        let generation = ((token >> INDEX_BITS) as u64) & GEN_MASK;
        let Some(slot) = self.slot(token & INDEX_MASK) else {
            return;
        };
        let mut ready = 0;
        // An error is reported to whichever operation runs next, in either direction.
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            ready |= READABLE;
        }
        if event.is_writable() || event.is_write_closed() || event.is_error() {
            ready |= WRITABLE;
        }
        if event.is_read_closed() {
            ready |= READ_CLOSED;
        }
        if event.is_write_closed() {
            ready |= WRITE_CLOSED;
        }
        slot.set_readiness(generation, ready);
    }
}

/// A mio source registered with the current runtime's reactor.
pub(crate) struct IoSource<S: Source> {
    source: S,
    reactor: Arc<Reactor>,
    index: usize,
}

impl<S: Source> IoSource<S> {
    /// Registers `source` for reading and writing with the current runtime.
    ///
    /// # Panics
    /// Outside a pride runtime.
    #[track_caller]
    pub(crate) fn new(mut source: S) -> io::Result<IoSource<S>> {
        let handle = crate::runtime::context::handle("creating a pride socket");
        let reactor = handle.shared.driver.reactor().clone();
        let index = reactor.allocate()?;
        let slot = reactor.slot(index).expect("an allocated slot exists");
        let token = mio::Token(index | ((slot.generation() as usize) << INDEX_BITS));
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        if let Err(e) = reactor.registry.register(&mut source, token, interest) {
            reactor.release(index);
            return Err(e);
        }
        Ok(IoSource {
            source,
            reactor,
            index,
        })
    }

    fn slot(&self) -> &ScheduledIo {
        self.reactor
            .slot(self.index)
            .expect("a registered slot exists")
    }

    /// Runs `op` once the source is ready in `direction`, until it returns anything but
    /// `WouldBlock`. Dropping the caller between polls loses nothing: readiness is only
    /// cleared by an operation that saw `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        std::task::ready!(crate::runtime::coop::poll_proceed(cx));
        loop {
            let Poll::Ready(event) = self.slot().poll_ready(cx, direction) else {
                return Poll::Pending;
            };
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.slot().clear(event, direction);
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// Ready once the slot reports readiness in `direction`. The source may still say
    /// `WouldBlock`; an operation run through [`IoSource::try_io`] then clears it.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<()> {
        self.slot().poll_ready(cx, direction).map(|_| ())
    }

    /// `op` without waiting: `WouldBlock` clears the readiness it saw and is returned.
    pub(crate) fn try_io<R>(
        &self,
        direction: Direction,
        op: impl FnOnce(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let event = match self.slot().poll_ready(&mut cx, direction) {
            Poll::Ready(event) => Some(event),
            Poll::Pending => None,
        };
        let result = op(&self.source);
        if let (Some(event), Err(e)) = (event, &result)
            && e.kind() == io::ErrorKind::WouldBlock
        {
            self.slot().clear(event, direction);
        }
        result
    }

    /// The registered source.
    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }
}

impl<S: Source> Drop for IoSource<S> {
    fn drop(&mut self) {
        // Deregister before releasing: once the generation moves on, nothing can reach
        // the slot through the old token, and the source no longer produces events.
        let _ = self.reactor.registry.deregister(&mut self.source);
        self.reactor.release(self.index);
    }
}

impl<S: Source + std::fmt::Debug> std::fmt::Debug for IoSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_every_index_once() {
        let mut expected = (0, 0);
        for index in 0..FIRST_PAGE * 20 {
            let (page, offset) = locate(index);
            assert_eq!((page, offset), expected, "index {index}");
            expected.1 += 1;
            if expected.1 == FIRST_PAGE << expected.0 {
                expected = (expected.0 + 1, 0);
            }
        }
        let (last_page, _) = locate(INDEX_MASK);
        assert!(last_page < PAGES);
    }
}
