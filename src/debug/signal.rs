//! The dump from outside: with `PRIDE_DUMP_ON_SIGQUIT=1` in the environment, each
//! runtime starts a thread that prints its task tree and metrics to stderr whenever
//! the process gets SIGQUIT (`kill -QUIT <pid>`, or Ctrl-\ in a terminal). Without
//! the variable, or with it empty or `0`, nothing is registered, and SIGQUIT keeps its
//! default action.
//!
//! The process-wide handler that `signal-hook` installs for the first runtime's thread
//! stays installed for the life of the process (`signal-hook` never takes it out).
//! While no runtime's dump thread runs (once the last such runtime is dropped), the
//! handler does what SIGQUIT does by default: it puts the default action back and
//! raises the signal again, which ends the process. So with the variable set, SIGQUIT
//! ends the process whenever no runtime is there to dump, even if the program handles
//! SIGQUIT itself (through `signal-hook`, or with a handler installed before): such a
//! program should leave the variable unset.

use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use parking_lot::Mutex;
use signal_hook::consts::SIGQUIT;
use signal_hook::iterator::{Handle as SignalsHandle, Signals};

use crate::runtime::Handle;

/// The environment variable that turns the SIGQUIT dump on: any value but an empty
/// one or `0` (an empty variable counts as unset).
pub(crate) const ENV: &str = "PRIDE_DUMP_ON_SIGQUIT";

/// Whether a value of [`ENV`] (`None`: unset) asks for the dump.
fn asked(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|value| !value.is_empty() && value != "0")
}

/// The signal thread; dropping it stops and joins the thread.
pub(crate) struct DumpOnSignal {
    signals: SignalsHandle,
    thread: Option<JoinHandle<()>>,
    /// Dropped after the thread is joined.
    _live: Live,
}

/// The runtimes with a running dump thread, in the whole process.
static DUMPERS: Mutex<Dumpers> = Mutex::new(Dumpers {
    live: 0,
    none_live: None,
});

struct Dumpers {
    live: usize,
    /// Set while `live` is 0: the SIGQUIT handler then does what SIGQUIT does by
    /// default. `None` until that handler is installed.
    none_live: Option<StdArc<AtomicBool>>,
}

/// One runtime counted in [`DUMPERS`] until dropped.
struct Live(());

impl Live {
    /// Counts a runtime in, first installing the handler's default action if needed.
    /// Counted before its dump thread registers: a SIGQUIT in between does nothing.
    fn start() -> std::io::Result<Live> {
        let mut dumpers = DUMPERS.lock();
        let none_live = match &dumpers.none_live {
            Some(flag) => flag.clone(),
            None => {
                let flag = StdArc::new(AtomicBool::new(false));
                signal_hook::flag::register_conditional_default(SIGQUIT, flag.clone())?;
                dumpers.none_live.insert(flag).clone()
            }
        };
        dumpers.live += 1;
        none_live.store(false, Ordering::SeqCst);
        Ok(Live(()))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut dumpers = DUMPERS.lock();
        dumpers.live -= 1;
        if dumpers.live == 0 {
            if let Some(none_live) = &dumpers.none_live {
                none_live.store(true, Ordering::SeqCst);
            }
        }
    }
}

impl DumpOnSignal {
    /// Starts the thread if the environment asks for it. `runtime` reaches the
    /// runtime without keeping it alive.
    pub(crate) fn start_if_asked(
        runtime: std::sync::Weak<crate::runtime::Shared>,
        thread_name: String,
    ) -> std::io::Result<Option<DumpOnSignal>> {
        if !asked(std::env::var_os(ENV).as_deref()) {
            return Ok(None);
        }
        let live = Live::start()?;
        let mut signals = Signals::new([SIGQUIT])?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                for _ in signals.forever() {
                    let Some(shared) = runtime.upgrade() else {
                        return;
                    };
                    let runtime = Handle { shared };
                    eprintln!("{}{:#?}", runtime.dump(), runtime.metrics());
                }
            })?;
        Ok(Some(DumpOnSignal {
            signals: handle,
            thread: Some(thread),
            _live: live,
        }))
    }
}

impl Drop for DumpOnSignal {
    fn drop(&mut self) {
        self.signals.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::asked;

    #[test]
    fn unset_empty_and_zero_leave_the_dump_off() {
        assert!(!asked(None));
        assert!(!asked(Some(OsStr::new(""))));
        assert!(!asked(Some(OsStr::new("0"))));
        assert!(asked(Some(OsStr::new("1"))));
        assert!(asked(Some(OsStr::new("yes"))));
    }
}
