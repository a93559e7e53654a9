//! The dump from outside: with `PRIDE_DUMP_ON_SIGQUIT=1` in the environment, each
//! runtime starts a thread that prints its task tree and metrics to stderr whenever
//! the process gets SIGQUIT (`kill -QUIT <pid>`, or Ctrl-\ in a terminal). Without
//! the variable nothing is registered, and SIGQUIT keeps its default action.

use std::thread::JoinHandle;

use signal_hook::consts::SIGQUIT;
use signal_hook::iterator::{Handle as SignalsHandle, Signals};

use crate::runtime::Handle;

/// The environment variable that turns the SIGQUIT dump on (any value but `0`).
pub(crate) const ENV: &str = "PRIDE_DUMP_ON_SIGQUIT";

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
        match std::env::var_os(ENV) {
            Some(value) if !value.is_empty() && value != "0" => {}
            _ => return Ok(None),
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
