//! Deadlock reports on an autojump clock: every task blocked, no timer to jump to, and
//! no socket registered, for longer than a grace period.
//!
//! Only the driver holder calls [`Watch::observe`] (with the driver held), so the
//! episode state behind its mutex is never contended.

use std::fmt;
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::TreeDump;

/// How long (in real time) the runtime must stay stuck before it is reported. A task
/// waiting on another thread that answers quickly is not worth a report.
const GRACE: Duration = Duration::from_millis(100);

/// A runtime on an autojump clock in which every task is blocked and nothing inside
/// the runtime can wake any of them: no timer is armed and no socket is registered.
///
/// Printed to stderr (the tree of every `block_on` call, its groups, scopes and tasks
/// by name), or handed to [`Builder::on_deadlock`](crate::Builder::on_deadlock). Only
/// another thread can still wake a task, so the runtime goes on waiting.
///
/// ```
/// use pride::time::Clock;
///
/// let rt = pride::Runtime::builder()
///     .clock(Clock::autojump())
///     .on_deadlock(|deadlock| eprintln!("{deadlock}"))
///     .build()
///     .unwrap();
/// # drop(rt);
/// ```
#[derive(Debug, Clone)]
pub struct Deadlock {
    dump: TreeDump,
}

impl Deadlock {
    /// The task tree when the deadlock was found.
    pub fn dump(&self) -> &TreeDump {
        &self.dump
    }
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pride: every task is blocked and no timer is armed (autojump clock, no socket \
             registered); only another thread can wake them. The task tree:"
        )?;
        write!(f, "{}", self.dump)
    }
}

/// What the runtime does with a deadlock report.
pub(crate) type Report = StdArc<dyn Fn(&Deadlock) + Send + Sync>;

/// The default report: the message and the tree on stderr.
pub(crate) fn print_report() -> Report {
    StdArc::new(|deadlock: &Deadlock| eprintln!("{deadlock}"))
}

/// One runtime's deadlock episodes.
pub(crate) struct Watch {
    report: Report,
    episode: Mutex<Episode>,
}

/// Where the runtime stands; `polls` is the runtime's poll count (tasks on the workers
/// and `block_on` futures together) when the episode began, so a task or a root that
/// ran between two looks ends the episode even if no look saw it running.
enum Episode {
    /// Not stuck at the last look.
    None,
    /// Stuck since then, not yet reported.
    Since { at: Instant, polls: u64 },
    /// Reported; nothing more until the runtime runs again.
    Reported { polls: u64 },
}

impl Watch {
    pub(crate) fn new(report: Report) -> Watch {
        Watch {
            report,
            episode: Mutex::new(Episode::None),
        }
    }

    /// Notes that the runtime is not stuck: the episode, if any, is over.
    pub(crate) fn moved(&self) {
        *self.episode.lock() = Episode::None;
    }

    /// Notes that the runtime is stuck now, with its poll count (tasks and `block_on`
    /// futures together); the first look past the grace period of an episode reports it
    /// with the tree that `dump` copies. A panic of the handler is caught and ignored
    /// (the hook has printed it).
    pub(crate) fn observe(&self, polls: u64, dump: impl FnOnce() -> TreeDump) {
        let mut episode = self.episode.lock();
        match *episode {
            Episode::Since { at, polls: began } if began == polls && at.elapsed() >= GRACE => {
                *episode = Episode::Reported { polls };
                drop(episode);
                let deadlock = Deadlock { dump: dump() };
                let report = &self.report;
                let _ =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| report(&deadlock)));
            }
            Episode::Since { polls: began, .. } | Episode::Reported { polls: began }
                if began == polls => {}
            _ => {
                *episode = Episode::Since {
                    at: Instant::now(),
                    polls,
                }
            }
        }
    }
}
