//! Unix signals as async events: [`ctrl_c`] and [`Signal`].
//!
//! Each [`Signal`] is its own listener (a self-pipe from `signal-hook`, registered with
//! the runtime's reactor), so any number of tasks can listen for the same signal and
//! each sees every delivery. Deliveries that arrive while nobody is waiting are kept
//! for the next [`Signal::recv`]; several deliveries in between count as one, as with
//! the operating system's own pending signals.
//!
//! Once a listener for a signal has been created, the process keeps a handler for that
//! signal installed for the rest of its life: for SIGINT and SIGTERM this means they
//! no longer end the process by themselves, even after the listener is dropped. A
//! service that listens for Ctrl-C is expected to shut itself down (see
//! [`crate::shutdown`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use pride::shutdown::Shutdown;
//!
//! pride::run(async {
//!     let shutdown = Shutdown::new();
//!     pride::task_group(async |tg| {
//!         let stop = shutdown.clone();
//!         tg.start_soon(async move {
//!             pride::signal::ctrl_c().await?;
//!             stop.trigger();
//!             Ok::<_, std::io::Error>(())
//!         });
//!         shutdown.triggered().await;
//!         tg.cancel_scope().cancel();
//!     })
//!     .await
//!     .unwrap();
//! });
//! ```

use std::fmt;
use std::io;

use parking_lot::Mutex;
use signal_hook_mio::v1_0::Signals;

use crate::net::reactor::IoSource;
use crate::net::scheduled_io::Direction;

/// Which signal a [`Signal`] listens for.
///
/// ```no_run
/// use pride::signal::{Signal, SignalKind};
///
/// pride::run(async {
///     let mut hangups = Signal::new(SignalKind::HANGUP)?;
///     loop {
///         hangups.recv().await?;
///         println!("reloading the configuration");
///     }
///     # #[allow(unreachable_code)]
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// `SIGINT`: Ctrl-C in a terminal.
    pub const INTERRUPT: SignalKind = SignalKind(signal_hook::consts::SIGINT);
    /// `SIGTERM`: the polite request to stop (what `kill` and service managers send).
    pub const TERMINATE: SignalKind = SignalKind(signal_hook::consts::SIGTERM);
    /// `SIGHUP`: the terminal went away; by convention, daemons reload their config.
    pub const HANGUP: SignalKind = SignalKind(signal_hook::consts::SIGHUP);
    /// `SIGQUIT`.
    pub const QUIT: SignalKind = SignalKind(signal_hook::consts::SIGQUIT);
    /// `SIGUSR1`.
    pub const USER_DEFINED1: SignalKind = SignalKind(signal_hook::consts::SIGUSR1);
    /// `SIGUSR2`.
    pub const USER_DEFINED2: SignalKind = SignalKind(signal_hook::consts::SIGUSR2);

    /// The signal with number `signum`. [`Signal::new`] refuses the signals a process
    /// cannot or must not handle: `SIGKILL`, `SIGSTOP`, and the fault signals `SIGBUS`,
    /// `SIGFPE`, `SIGILL`, `SIGSEGV`, `SIGSYS` and `SIGTRAP`.
    ///
    /// ```
    /// use pride::signal::SignalKind;
    ///
    /// let usr1 = SignalKind::from_raw(SignalKind::USER_DEFINED1.as_raw());
    /// assert_eq!(usr1, SignalKind::USER_DEFINED1);
    /// assert_eq!(format!("{usr1:?}"), "SIGUSR1");
    /// ```
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    ///
    /// ```
    /// assert_eq!(pride::signal::SignalKind::INTERRUPT.as_raw(), 2);
    /// ```
    pub const fn as_raw(self) -> i32 {
        self.0
    }
}

impl fmt::Debug for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match signal_hook::low_level::signal_name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}

/// The signals [`Signal::new`] refuses (see its errors): those no process can handle,
/// and the fault signals, which the system raises in the thread that faulted.
const REFUSED: [i32; 8] = {
    use signal_hook::consts::signal::*;
    [
        SIGKILL, SIGSTOP, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGSYS, SIGTRAP,
    ]
};

/// A listener for one kind of signal.
///
/// ```no_run
/// use pride::signal::{Signal, SignalKind};
///
/// pride::run(async {
///     let mut hangups = Signal::new(SignalKind::HANGUP)?;
///     loop {
///         hangups.recv().await?;
///         println!("reloading the configuration");
///     }
///     # #[allow(unreachable_code)]
///     Ok::<_, std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct Signal {
    // `Signals::pending` takes `&mut`, the reactor lends `&`: the lock is never contended
    // (only `recv`, which takes `&mut self`, reads the pending set).
    io: IoSource<Pipe>,
    kind: SignalKind,
}

/// `signal-hook`'s self-pipe, as a mio source the reactor can lend out by `&`.
struct Pipe(Mutex<Signals>);

impl mio::event::Source for Pipe {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.0.get_mut().register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        self.0.get_mut().reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        self.0.get_mut().deregister(registry)
    }
}

impl Signal {
    /// Starts listening for `kind`. Deliveries from now on are seen by
    /// [`recv`](Self::recv).
    ///
    /// # Errors
    /// `InvalidInput` for a number that is no signal (below 1, or 128 and above), and
    /// for these signals: `SIGKILL` and `SIGSTOP`, which no process can handle, and
    /// the fault signals `SIGBUS`, `SIGFPE`, `SIGILL`, `SIGSEGV`, `SIGSYS` and
    /// `SIGTRAP`, which the system raises in the thread whose instruction or system
    /// call faulted, for that thread to deal with at once (a listener's handler only
    /// notes the delivery and returns: after `SIGSEGV` or `SIGBUS`, straight back into
    /// the faulting access). The operating system's error if the handler cannot be set
    /// up (a number in that range that the system does not use).
    ///
    /// ```
    /// use pride::signal::{Signal, SignalKind};
    ///
    /// pride::run(async {
    ///     let err = Signal::new(SignalKind::from_raw(-1)).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// ```
    ///
    /// # Panics
    /// Outside a pride runtime, before anything is installed: the signal keeps what
    /// the process had for it.
    #[track_caller]
    pub fn new(kind: SignalKind) -> io::Result<Signal> {
        // First, so that a call outside a runtime changes nothing in the process: a
        // handler once installed stays for the process's life (see the module docs).
        let _ = crate::runtime::context::handle("creating a signal listener");
        // Every platform's signal numbers are below 128 (Linux's real-time signals end
        // at 64); the handler's table is no larger.
        if !(1..128).contains(&kind.0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("pride: {} is not a signal number", kind.0),
            ));
        }
        if REFUSED.contains(&kind.0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "pride: no listener can be made for {kind:?}: SIGKILL and SIGSTOP \
                     cannot be handled, and a fault signal is for the faulting thread"
                ),
            ));
        }
        let signals = Signals::new([kind.0])?;
        Ok(Signal {
            io: IoSource::new(Pipe(Mutex::new(signals)))?,
            kind,
        })
    }

    /// Waits for the next delivery of the signal (or returns at once if one arrived
    /// since the last `recv`).
    ///
    /// Cancel-safe: dropped before it completes, it consumed no delivery.
    ///
    /// # Errors
    /// Once the runtime this listener was made in is gone (dropped), nothing can tell
    /// it of a new delivery: `recv` then fails instead of waiting for ever, like any
    /// socket's operation past its runtime. A delivery that arrived before is still
    /// returned first.
    ///
    /// ```
    /// use pride::process::Command;
    /// use pride::signal::{Signal, SignalKind};
    ///
    /// pride::run(async {
    ///     let mut usr2 = Signal::new(SignalKind::USER_DEFINED2)?;
    ///     // A child process signals this one; the delivery waits for `recv`.
    ///     let sent = Command::new("sh").args(["-c", "kill -USR2 $PPID"]).status().await?;
    ///     assert!(sent.success());
    ///     usr2.recv().await?;
    ///     assert_eq!(usr2.kind(), SignalKind::USER_DEFINED2);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn recv(&mut self) -> io::Result<()> {
        self.io
            .async_io(Direction::Read, |pipe| {
                match pipe.0.lock().pending().next() {
                    Some(_) => Ok(()),
                    None => Err(io::ErrorKind::WouldBlock.into()),
                }
            })
            .await
    }

    /// The signal this listener is for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}

/// Waits for Ctrl-C (`SIGINT`) delivered from its first poll on.
///
/// Each call listens afresh, from the first poll of its future: a Ctrl-C that arrived
/// before is not seen. To
/// react to every Ctrl-C, keep one [`Signal`] and call [`Signal::recv`] in a loop.
///
/// # Errors
/// If the signal handler cannot be set up, or (as for [`Signal::recv`]) once the
/// runtime it was called in is gone.
///
/// # Panics
/// Outside a pride runtime.
///
/// ```no_run
/// pride::run(async {
///     pride::signal::ctrl_c().await.unwrap();
///     println!("shutting down");
/// });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    Signal::new(SignalKind::INTERRUPT)?.recv().await
}
