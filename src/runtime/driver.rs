//! The driver: the one thing a parked runtime waits on. It owns the `mio::Poll` (I/O
//! readiness and the cross-thread `mio::Waker`) and turns the time wheel.
//!
//! One worker at a time holds the driver (`try_lock`); it blocks in `Poll::poll` with
//! the timeout of the next timer. Every other idle worker sleeps on its condvar. A
//! busy worker turns the driver without blocking every few dozen tasks, so timers and
//! I/O make progress on a runtime that never idles.

use std::io;
use std::time::Duration;

use super::park::{Parker, WakeDriver};
use crate::loom::sync::{Arc, Mutex};
use crate::net::reactor::Reactor;

/// The token of the driver's own waker.
const WAKE_TOKEN: mio::Token = mio::Token(usize::MAX);

struct Core {
    poll: mio::Poll,
    events: mio::Events,
}

pub(crate) struct Driver {
    core: Mutex<Core>,
    waker: std::sync::Arc<mio::Waker>,
    reactor: Arc<Reactor>,
}

impl Driver {
    pub(crate) fn new() -> io::Result<Driver> {
        let poll = mio::Poll::new()?;
        let waker = std::sync::Arc::new(mio::Waker::new(poll.registry(), WAKE_TOKEN)?);
        let reactor = Arc::new(Reactor::new(poll.registry().try_clone()?));
        Ok(Driver {
            core: Mutex::new(Core {
                poll,
                events: mio::Events::with_capacity(1024),
            }),
            waker,
            reactor,
        })
    }

    /// The reactor sockets register with.
    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        &self.reactor
    }

    /// A function that interrupts the parked driver, for the time driver to call when
    /// a timer earlier than the current park deadline is armed. It holds only the
    /// waker, not the runtime.
    pub(crate) fn unpark_fn(&self) -> Box<dyn Fn() + Send + Sync> {
        let waker = self.waker.clone();
        Box::new(move || {
            let _ = waker.wake();
        })
    }

    /// Parks `parker`'s thread in the driver if no other thread holds it: `timeout` is
    /// asked (with the driver held) how long to block, and `after` runs once the turn
    /// is over (to fire timers). `timeout` is handed a function that turns the driver
    /// without blocking first, to dispatch what the kernel already holds: it says
    /// whether any socket had news. Returns false, without parking, if the driver is
    /// taken.
    pub(crate) fn park(
        &self,
        parker: &Parker,
        timeout: impl FnOnce(&mut dyn FnMut() -> bool) -> Option<Duration>,
        after: impl FnOnce(),
    ) -> bool {
        let Some(mut core) = self.core.try_lock() else {
            return false;
        };
        let timeout = timeout(&mut || core.turn(Some(Duration::ZERO), &self.reactor));
        parker.park_in_driver(|| {
            core.turn(timeout, &self.reactor);
        });
        after();
        true
    }

    /// Turns the driver without blocking, if nobody else holds it; `after` runs if it
    /// did.
    pub(crate) fn poll_nonblocking(&self, after: impl FnOnce()) {
        if let Some(mut core) = self.core.try_lock() {
            core.turn(Some(Duration::ZERO), &self.reactor);
            after();
        }
    }
}

impl Core {
    /// Waits up to `timeout` for events and dispatches them; returns whether a socket
    /// had any (a wake-up of the driver is not one).
    fn turn(&mut self, timeout: Option<Duration>, reactor: &Reactor) -> bool {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("pride: the I/O driver failed: {e}"),
        }
        let mut news = false;
        for event in self.events.iter() {
            if event.token() != WAKE_TOKEN {
                news = true;
                // The event's wakers run here: one that panics must not take the
                // worker (and with it the driver) down, nor the other events.
                contain_waker_panic(|| reactor.dispatch(event));
            }
        }
        news
    }
}

/// Runs `f`, which wakes wakers where nothing may unwind (a worker between tasks:
/// timers that fired, sockets that became ready; a `par` look that fires a passed
/// deadline), and contains a panic of one of those wakers: `None` if one panicked.
/// There is no task to hand the panic to, so the caller goes on; the panic hook has
/// already reported it. A worker that unwound here would strand its queue and the
/// driver, and the runtime would hang. The payload is forgotten, not dropped: its
/// drop could panic too.
pub(crate) fn contain_waker_panic<R>(f: impl FnOnce() -> R) -> Option<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => Some(value),
        Err(panic) => {
            std::mem::forget(panic);
            None
        }
    }
}

impl WakeDriver for Driver {
    fn wake_driver(&self) {
        // A failed wake means the poll is gone, which only happens at shutdown.
        let _ = self.waker.wake();
    }
}
