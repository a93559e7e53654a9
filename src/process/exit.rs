//! How a child's exit is noticed without a thread per child.
//!
//! On Linux the child gets a pidfd (`pidfd_open`, Linux 5.3+): a descriptor that
//! becomes readable when the process exits, registered with the reactor like a
//! socket. Where there is none (another Unix, an older kernel, a sandbox that
//! forbids the call), the waiter polls `try_wait` between waits that back off from
//! 1 ms to 100 ms. The waits are in real time, on the blocking pool: the exit is the
//! kernel's news, which the runtime's clock (mock or autojump) has no say in.
//!
//! Children dropped before they were reaped are kept in [`ORPHANS`], each with its
//! pidfd (if it has one) still registered with the reactor, as a background
//! registration: no task waits on it, so it neither counts as a registered socket nor
//! holds off the deadlock report. Each orphan's pidfd holds a waker of its own: the
//! driver's event for its exit reaps that orphan (and polls those without a pidfd), so
//! it is reaped at once, with no later spawn, and one exit costs one pidfd poll.
//! [`reap_orphans`] (at each spawn) sweeps them all, reaping without waiting those
//! that have exited. Nothing ever waits for an orphan (no thread, no pool job): one
//! that never exits costs only its entry. An orphan without a pidfd, or whose runtime
//! is gone (the pidfd then fails, and goes), is reaped by whichever look comes after
//! its exit: at a spawn, at another child's drop, or at another orphan's exit.
//!
//! Sweeps may be asked for on any thread at any time, also while another sweep runs:
//! [`SWEEPS`] counts the asks not yet served, and only the asker that finds it at zero
//! sweeps, again and again until every ask counted meanwhile is served. An orphan's
//! poll has a fresh cooperative budget, so that it is never refused (a refusal would
//! wake its waker at once, which locks [`ORPHANS`] again), and records no wait for the
//! dump (no task waits there).
//!
//! Unsafe code here: the `pidfd_open` system call and taking ownership of the
//! descriptor it returns. Rules: the call is given only integers; a non-negative
//! result is a new descriptor that nothing else owns.

use std::io;
use std::process::ExitStatus;
#[cfg(target_os = "linux")]
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
#[cfg(target_os = "linux")]
use std::task::{Wake, Waker};
use std::time::Duration;

use parking_lot::Mutex;

use crate::time::Backoff;

/// Children dropped unreaped, reaped by [`reap_orphans`] and by their exits.
static ORPHANS: Mutex<Vec<Orphan>> = Mutex::new(Vec::new());

/// Sweeps asked for and not yet served. Every ask and every serve is a read-modify-write
/// of this one word, so all of them fall in one order: an ask that finds it above zero
/// comes before the sweeper's subtraction that would take it to zero, which then leaves
/// it above zero, and the sweeper sweeps again. No ask is lost, whatever the memory
/// model (as a flag set on one side and a lock read on the other could be).
static SWEEPS: AtomicUsize = AtomicUsize::new(0);

/// A child dropped before it was reaped.
struct Orphan {
    child: std::process::Child,
    /// Its pidfd, registered with the reactor of the runtime it was spawned in (in the
    /// background), while that runtime lasts: its readiness wakes `waker`.
    #[cfg(target_os = "linux")]
    pidfd: Option<crate::net::reactor::IoSource<pidfd::PidFd>>,
    /// Reaps this orphan: an [`Exited`] with its process id.
    #[cfg(target_os = "linux")]
    waker: Waker,
}

impl Orphan {
    /// Reaps the child if it has exited: false then (or if it cannot be waited for
    /// at all), and it can go. True while it runs; its pidfd (if any) then holds its
    /// waker, which reaps it when it exits.
    fn still_running(&mut self) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(io) = &self.pidfd {
            let child = &mut self.child;
            let mut cx = Context::from_waker(&self.waker);
            // A fresh budget: a refusal would wake the waker at once. No wait is
            // recorded: the task (or `block_on`) on this thread does not wait here.
            let polled = crate::debug::task::unrecorded(|| {
                crate::runtime::coop::budget(|| {
                    io.poll_io(&mut cx, crate::net::Direction::Read, |_| exited(child))
                })
            });
            match polled {
                Poll::Pending => return true,
                Poll::Ready(Ok(_)) => return false,
                // The runtime is gone (or the descriptor failed): later looks only ask.
                Poll::Ready(Err(_)) => self.pidfd = None,
            }
        }
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Whether a look for `exited` (a process id; `None`: for all) polls this orphan:
    /// one without a pidfd has nothing else to notice its exit, and is always looked at.
    fn looked_at(&self, exited: Option<u32>) -> bool {
        #[cfg(target_os = "linux")]
        if self.pidfd.is_some() {
            return exited.is_none_or(|pid| pid == self.child.id());
        }
        let _ = exited;
        true
    }
}

/// Reaps, without waiting, the orphans of `orphans` that a look for `exited` polls
/// (see [`Orphan::looked_at`]) and that have exited.
fn look(orphans: &mut Vec<Orphan>, exited: Option<u32>) {
    orphans.retain_mut(|orphan| !orphan.looked_at(exited) || orphan.still_running());
}

/// What an orphan's pidfd wakes: a look at the orphan with this process id (unique
/// among unreaped children; a stale wake after its reaping only polls another).
#[cfg(target_os = "linux")]
struct Exited(u32);

#[cfg(target_os = "linux")]
impl Wake for Exited {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Never called with the lock held: a poll in a look is never refused, and
        // nothing dropped in a look wakes anyone.
        look(&mut ORPHANS.lock(), Some(self.0));
    }
}

/// Keeps `child`, dropped with its `exit` watch, for reaping when it exits, if it has
/// not exited yet.
pub(super) fn orphan(mut child: std::process::Child, exit: ExitWatch) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    let pid = child.id();
    let orphan = Orphan {
        child,
        #[cfg(target_os = "linux")]
        pidfd: match exit {
            ExitWatch::PidFd(mut io) => {
                io.set_background();
                Some(io)
            }
            ExitWatch::Poll { .. } => None,
        },
        #[cfg(target_os = "linux")]
        waker: Waker::from(Arc::new(Exited(pid))),
    };
    #[cfg(not(target_os = "linux"))]
    drop(exit);
    let mut orphans = ORPHANS.lock();
    orphans.push(orphan);
    // Leaves the waker on its pidfd, or reaps it if it exited meanwhile.
    look(&mut orphans, Some(pid));
}

/// Reaps the orphans that have exited since, without waiting.
pub(super) fn reap_orphans() {
    if SWEEPS.fetch_add(1, Ordering::AcqRel) != 0 {
        // The sweeper sweeps again for this ask.
        return;
    }
    let mut asked = 1;
    loop {
        look(&mut ORPHANS.lock(), None);
        // Serves the asks counted before this sweep began.
        let left = SWEEPS.fetch_sub(asked, Ordering::AcqRel) - asked;
        if left == 0 {
            return;
        }
        asked = left;
    }
}

/// Tells when a child has exited.
#[derive(Debug)]
pub(super) enum ExitWatch {
    #[cfg(target_os = "linux")]
    PidFd(crate::net::reactor::IoSource<pidfd::PidFd>),
    /// Polls `try_wait` after each real-time wait.
    Poll {
        backoff: Backoff,
        /// The wait in flight. In a mutex only so that a `Child` stays `Sync`: it is
        /// reached through `&mut`, never locked.
        wait: Option<Mutex<crate::ToThread<()>>>,
    },
}

impl ExitWatch {
    /// A watch for the child `pid` (not yet reaped). Needs a runtime.
    pub(super) fn new(pid: u32) -> ExitWatch {
        #[cfg(target_os = "linux")]
        if let Ok(io) = pidfd::PidFd::open(pid).and_then(crate::net::reactor::IoSource::new) {
            return ExitWatch::PidFd(io);
        }
        let _ = pid;
        ExitWatch::polling()
    }

    /// The watch, leaving a polling one in its place (for a `Child`'s drop).
    pub(super) fn take(&mut self) -> ExitWatch {
        std::mem::replace(self, ExitWatch::polling())
    }

    /// A watch that polls the child's status: where there is no pidfd.
    fn polling() -> ExitWatch {
        ExitWatch::Poll {
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(100)),
            wait: None,
        }
    }

    /// Waits until the child has exited (reaping it) and returns its status.
    pub(super) async fn wait(&mut self, child: &mut std::process::Child) -> io::Result<ExitStatus> {
        #[cfg(target_os = "linux")]
        if let ExitWatch::PidFd(io) = self {
            return io
                .async_io(crate::net::Direction::Read, |_| exited(child))
                .await;
        }
        std::future::poll_fn(|cx| self.poll_exit(cx, child)).await
    }

    /// Ready with the child's status once it has exited (reaping it).
    pub(super) fn poll_exit(
        &mut self,
        cx: &mut Context<'_>,
        child: &mut std::process::Child,
    ) -> Poll<io::Result<ExitStatus>> {
        match self {
            #[cfg(target_os = "linux")]
            ExitWatch::PidFd(io) => io.poll_io(cx, crate::net::Direction::Read, |_| exited(child)),
            ExitWatch::Poll { backoff, wait } => loop {
                if let Some(status) = child.try_wait()? {
                    return Poll::Ready(Ok(status));
                }
                let pending = wait.get_or_insert_with(|| Mutex::new(backoff.wait()));
                let ran = std::task::ready!(pending.get_mut().poll_ran(cx));
                *wait = None;
                if ran.is_err() {
                    // The runtime's drop skipped the wait: no runtime is left to wait in.
                    return Poll::Ready(match child.try_wait()? {
                        Some(status) => Ok(status),
                        None => Err(io::Error::other(
                            "pride: the runtime was dropped while this child process was \
                             waited for; the child may still run",
                        )),
                    });
                }
            },
        }
    }
}

/// The child's status if it has exited, `WouldBlock` if not.
#[cfg(target_os = "linux")]
fn exited(child: &mut std::process::Child) -> io::Result<ExitStatus> {
    match child.try_wait() {
        Ok(Some(status)) => Ok(status),
        Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
        Err(e) => Err(e),
    }
}

#[cfg(target_os = "linux")]
mod pidfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    use mio::unix::SourceFd;
    use mio::{Interest, Registry, Token};

    /// A process descriptor: readable once the process has exited.
    #[derive(Debug)]
    pub(crate) struct PidFd(OwnedFd);

    impl PidFd {
        pub(crate) fn open(pid: u32) -> io::Result<PidFd> {
            let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
            // SAFETY: `pidfd_open(pid, flags)` takes two integers and touches no memory
            // of ours.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = RawFd::try_from(fd).map_err(io::Error::other)?;
            // SAFETY: a non-negative result is a descriptor the call just opened for us;
            // nothing else owns or closes it.
            Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd) }))
        }
    }

    impl mio::event::Source for PidFd {
        fn register(
            &mut self,
            registry: &Registry,
            token: Token,
            interest: Interest,
        ) -> io::Result<()> {
            SourceFd(&self.0.as_raw_fd()).register(registry, token, interest)
        }

        fn reregister(
            &mut self,
            registry: &Registry,
            token: Token,
            interest: Interest,
        ) -> io::Result<()> {
            SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interest)
        }

        fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
            SourceFd(&self.0.as_raw_fd()).deregister(registry)
        }
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;
    use crate::time::Clock;
    use std::future::Future;

    /// The polling fallback (used where pidfd is missing) finds the exit too.
    #[test]
    fn the_polling_watch_sees_the_exit() {
        let rt = crate::Runtime::builder().worker_threads(1).build().unwrap();
        rt.block_on(async {
            let mut child = std::process::Command::new("sh")
                .args(["-c", "sleep 0.05; exit 3"])
                .spawn()
                .unwrap();
            let mut watch = ExitWatch::polling();
            let status = std::future::poll_fn(|cx| watch.poll_exit(cx, &mut child))
                .await
                .unwrap();
            assert_eq!(status.code(), Some(3));
        });
    }

    /// Spawns `program` with `args` on a runtime with `clock` and waits for its exit
    /// through a polling watch, as where there is no pidfd. Gives the status and how far
    /// the runtime's clock moved meanwhile. A watchdog turns a hang into a failure.
    fn poll_for_exit(clock: Clock, program: &str, args: &[&str]) -> (bool, Duration) {
        let mut command = std::process::Command::new(program);
        command.args(args);
        let runtime = crate::Runtime::builder()
            .worker_threads(2)
            .clock(clock)
            .build()
            .unwrap();
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let outcome = runtime.block_on(async move {
                let start = crate::time::current_time();
                let mut child = command.spawn().unwrap();
                let mut watch = ExitWatch::polling();
                let status = std::future::poll_fn(|cx| watch.poll_exit(cx, &mut child)).await;
                (
                    status.unwrap().success(),
                    crate::time::current_time() - start,
                )
            });
            let _ = done.send(outcome);
        });
        result
            .recv_timeout(Duration::from_secs(20))
            .expect("the exit of the child was not seen")
    }

    /// Where the exit is polled, a wait still queued on the blocking pool when the
    /// runtime is dropped (so it never runs) makes the next poll an error, not a panic.
    #[test]
    fn polling_fails_when_its_runtime_was_dropped_before_the_wait_ran() {
        let (done, result) = std::sync::mpsc::channel();
        let check = std::thread::spawn(move || {
            let runtime = crate::Runtime::builder()
                .worker_threads(1)
                .max_blocking_threads(1)
                .build()
                .unwrap();
            let mut child = std::process::Command::new("sleep")
                .arg("600")
                .spawn()
                .unwrap();
            let mut watch = ExitWatch::polling();
            let mut cx = Context::from_waker(std::task::Waker::noop());
            let (release, held) = std::sync::mpsc::channel::<()>();
            let (started, running) = std::sync::mpsc::channel::<()>();
            runtime.block_on(async {
                // Keep the pool's one thread busy, so that the watch's wait is queued.
                let mut blocker = Box::pin(crate::to_thread(move || {
                    started.send(()).unwrap();
                    let _ = held.recv();
                }));
                assert!(blocker.as_mut().poll(&mut cx).is_pending());
                running.recv().unwrap();
                drop(blocker);
                assert!(watch.poll_exit(&mut cx, &mut child).is_pending());
            });
            drop(runtime);
            release.send(()).unwrap();
            let polled = watch.poll_exit(&mut cx, &mut child);
            child.kill().unwrap();
            child.wait().unwrap();
            let _ = done.send(match polled {
                Poll::Ready(Err(error)) => Ok(error.kind()),
                other => Err(format!("{other:?}")),
            });
        });
        match result.recv_timeout(Duration::from_secs(20)) {
            Ok(outcome) => {
                assert_eq!(outcome, Ok(io::ErrorKind::Other));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match check.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the check sends its outcome"),
            },
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("the check hung"),
        }
    }

    #[test]
    fn polling_sees_an_exit_on_a_mock_clock_nobody_advances() {
        let (success, _) = poll_for_exit(Clock::mock(), "true", &[]);
        assert!(success);
    }

    #[test]
    fn polling_does_not_move_an_autojump_clock() {
        // The child is still running at the first poll, so the watch has to wait.
        let (success, moved) = poll_for_exit(Clock::autojump(), "sleep", &["0.01"]);
        assert!(success);
        assert_eq!(
            moved,
            Duration::ZERO,
            "virtual time jumped while the child ran"
        );
    }
}
