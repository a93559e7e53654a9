//! The dump from outside: with `PRIDE_DUMP_ON_SIGQUIT=1` in the environment, each
//! runtime starts a thread that prints its task tree and metrics to stderr whenever
//! the process gets SIGQUIT (`kill -QUIT <pid>`, or Ctrl-\ in a terminal). Without
//! the variable, or with it empty or `0`, nothing is registered, and SIGQUIT keeps its
//! default action.

use std::thread::JoinHandle;

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
