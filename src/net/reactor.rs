//! The reactor: registrations of sockets with the driver's `mio::Poll`, and the
//! per-registration readiness state the driver dispatches events into.
//!
//! Who calls it: the I/O types of this room register their mio sources through
//! [`IoSource::new`] and wait with [`IoSource::async_io`] (an `async fn`) or
//! [`IoSource::poll_io`] (a poll function, such as `AsyncRead::poll_read`); the runtime's
//! driver, whichever worker holds it, calls [`Reactor::dispatch`] for every event of a
//! `Poll::poll` turn.
//!
//! Rules:
//! - Each registration has its own [`ScheduledIo`], shared (an `Arc`) by its
//!   [`IoSource`] and a `slab::Slab` entry. Its mio token is its slab key (low 24
//!   bits) and its generation (the next 24 bits), taken from a counter at
//!   registration. A slab key is reused once its registration is gone, but with a new
//!   generation, so an event still buffered for the old registration is dropped by
//!   [`ScheduledIo::set_readiness`] instead of reaching the new one.
//! - The slab is behind a lock taken to register, to deregister, and by
//!   [`Reactor::dispatch`] just long enough to clone the entry's `Arc`. Waiting for
//!   and clearing readiness go through the `IoSource`'s own `Arc` and take no lock of
//!   the reactor.
//! - Registration is edge-triggered (mio's only mode). [`IoSource::poll_io`] runs the
//!   operation while the slot says ready, and on `WouldBlock` clears exactly the
//!   readiness it saw (see `scheduled_io.rs`), then waits for the next edge.
//! - Dropping an [`IoSource`] deregisters its source and then removes its entry.
//! - A registration made [background](IoSource::set_background) (no task waits on it:
//!   a dropped child's process descriptor) is left out of [`Reactor::registered`], so
//!   it neither shows in the metrics nor holds off the deadlock report.
//! - [`Reactor::shut_down`] (the runtime is dropped) marks the slab shut, so no
//!   registration is added after it, and shuts every registration in it down (see
//!   `scheduled_io.rs`): a socket that outlives its runtime fails instead of waiting
//!   for a driver nobody turns.

use std::io;
use std::task::{Context, Poll};

use mio::event::Source;
use slab::Slab;

use super::scheduled_io::{
    Direction, GEN_MASK, READ_CLOSED, READABLE, ScheduledIo, WRITABLE, WRITE_CLOSED,
};
use crate::loom::sync::{Arc, Mutex};

const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// The generations a token carries above its index: every one `GEN_MASK` allows on a
/// 64-bit target, as many as the bits left allow on a 32-bit one (a generation cut
/// short there would never match its registration's).
const TOKEN_GEN_MASK: u64 = GEN_MASK & (u64::MAX >> (64 - (usize::BITS - INDEX_BITS)));
const _: () = assert!(TOKEN_GEN_MASK <= (usize::MAX >> INDEX_BITS) as u64);

/// The readiness half of the driver: shared by the driver and every registration.
pub(crate) struct Reactor {
    registry: mio::Registry,
    registrations: Mutex<Registrations>,
}

struct Registrations {
    slab: Slab<Arc<ScheduledIo>>,
    /// The generation the next registration gets (modulo `TOKEN_GEN_MASK + 1`).
    next_generation: u64,
    /// Set by [`Reactor::shut_down`]: registering fails from then on.
    shut: bool,
    /// How many registrations in `slab` are background ones.
    background: usize,
}

impl Reactor {
    pub(crate) fn new(registry: mio::Registry) -> Reactor {
        Reactor {
            registry,
            registrations: Mutex::new(Registrations {
                slab: Slab::new(),
                next_generation: 0,
                shut: false,
                background: 0,
            }),
        }
    }

    /// How many sockets are registered now that a task may wait on, for the runtime's
    /// metrics and its deadlock watch: background registrations are left out.
    pub(crate) fn registered(&self) -> usize {
        let registrations = self.registrations.lock();
        registrations.slab.len() - registrations.background
    }

    /// A new registration's state and its mio token.
    fn allocate(&self) -> io::Result<(Arc<ScheduledIo>, usize)> {
        let registrations = &mut *self.registrations.lock();
        if registrations.shut {
            return Err(io::Error::other(
                "pride: the runtime this socket is made in is shutting down",
            ));
        }
        let generation = registrations.next_generation & TOKEN_GEN_MASK;
        let entry = registrations.slab.vacant_entry();
        let key = entry.key();
        if key > INDEX_MASK {
            return Err(io::Error::other(
                "pride: too many sockets registered with the reactor",
            ));
        }
        let io = Arc::new(ScheduledIo::new(generation));
        entry.insert(io.clone());
        registrations.next_generation = registrations.next_generation.wrapping_add(1);
        Ok((io, key | ((generation as usize) << INDEX_BITS)))
    }

    /// The runtime is dropped: nothing turns the driver any more. Every registration,
    /// now and later, fails its operations that would wait.
    pub(crate) fn shut_down(&self) {
        let registered: Vec<Arc<ScheduledIo>> = {
            let registrations = &mut *self.registrations.lock();
            registrations.shut = true;
            registrations
                .slab
                .iter()
                .map(|(_, io)| io.clone())
                .collect()
        };
        for io in registered {
            io.shut_down();
        }
    }

    fn release(&self, token: usize, background: bool) {
        let registrations = &mut *self.registrations.lock();
        registrations.slab.remove(token & INDEX_MASK);
        if background {
            registrations.background -= 1;
        }
    }

    /// Delivers one event of a driver turn.
    pub(crate) fn dispatch(&self, event: &mio::event::Event) {
        let token = event.token().0;
        let generation = ((token >> INDEX_BITS) as u64) & TOKEN_GEN_MASK;
        let Some(io) = self
            .registrations
            .lock()
            .slab
            .get(token & INDEX_MASK)
            .cloned()
        else {
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
        io.set_readiness(generation, ready);
    }
}

/// A mio source registered with the current runtime's reactor.
pub(crate) struct IoSource<S: Source> {
    source: S,
    io: Arc<ScheduledIo>,
    reactor: Arc<Reactor>,
    token: usize,
    /// Counted in the reactor's background registrations.
    background: bool,
}

impl<S: Source> IoSource<S> {
    /// Registers `source` for reading and writing with the current runtime.
    ///
    /// # Panics
    /// Outside a pride runtime.
    #[track_caller]
    pub(crate) fn new(mut source: S) -> io::Result<IoSource<S>> {
        let handle = crate::runtime::context::handle("creating a socket, pipe or child process");
        let reactor = handle.shared.driver.reactor().clone();
        let (io, token) = reactor.allocate()?;
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        if let Err(e) = reactor
            .registry
            .register(&mut source, mio::Token(token), interest)
        {
            reactor.release(token, false);
            return Err(e);
        }
        Ok(IoSource {
            source,
            io,
            reactor,
            token,
            background: false,
        })
    }

    /// Marks this registration as one no task waits on: it is left out of
    /// [`Reactor::registered`] from now on, until it is dropped.
    pub(crate) fn set_background(&mut self) {
        if !self.background {
            self.background = true;
            self.reactor.registrations.lock().background += 1;
        }
    }

    /// Runs `op` once the source is ready in `direction`, until it returns anything but
    /// `WouldBlock`. Dropping the caller between polls loses nothing: readiness is only
    /// cleared by an operation that saw `WouldBlock`.
    ///
    /// A short read does not mean the socket is drained (the kernel ends a TCP read at
    /// the urgent mark, a Unix stream read after a message carrying descriptors), so
    /// only `WouldBlock` clears readiness, never a result.
    ///
    /// For an `async fn`: the future's waker is kept until it completes or is dropped,
    /// and any number of such futures may wait at once.
    pub(crate) async fn async_io<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut wait = self.io.wait(direction);
        std::future::poll_fn(|cx| {
            crate::runtime::coop::poll_proceed(cx, |cx| wait.poll_op(cx, || op(&self.source)))
        })
        .await
    }

    /// [`async_io`](Self::async_io) for a poll function, which cannot say when its
    /// caller is gone: its waker replaces that of the last poll in `direction`, so only
    /// the last task to poll a direction this way is woken.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            self.io.poll_op(cx, direction, || op(&self.source))
        })
    }

    /// Ready once the slot reports readiness in `direction`. The source may still say
    /// `WouldBlock`; an operation run through [`IoSource::try_io`] then clears it. An
    /// error once the runtime is gone and no readiness in `direction` is left.
    pub(crate) async fn ready(&self, direction: Direction) -> io::Result<()> {
        let mut wait = self.io.wait(direction);
        std::future::poll_fn(|cx| {
            crate::runtime::coop::poll_proceed(cx, |cx| {
                wait.poll_ready(cx).map(|event| event.check_ready())
            })
        })
        .await
    }

    /// `op` without waiting: `WouldBlock` clears the readiness it saw and is returned.
    pub(crate) fn try_io<R>(
        &self,
        direction: Direction,
        op: impl FnOnce(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io.try_op(direction, || op(&self.source))
    }

    /// The registered source.
    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }
}

impl<S: Source> Drop for IoSource<S> {
    fn drop(&mut self) {
        // Deregister first, so the source produces no more events; any still buffered
        // carry this registration's generation and are ignored by a later owner of the
        // slab key.
        let _ = self.reactor.registry.deregister(&mut self.source);
        self.reactor.release(self.token, self.background);
    }
}

impl<S: Source + std::fmt::Debug> std::fmt::Debug for IoSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}
