//! Child processes: spawn, wait without blocking a worker, and talk to them through
//! pipes (like `std::process`, with futures).
//!
//! [`Command`] builds and spawns a [`Child`]; its piped standard streams are
//! [`ChildStdin`] ([`futures_io::AsyncWrite`]), [`ChildStdout`] and [`ChildStderr`]
//! ([`futures_io::AsyncRead`]), registered with the runtime's reactor like sockets.
//! On Linux, waiting for the exit takes no thread: the reactor watches a process
//! descriptor (pidfd). Elsewhere, or where pidfd is refused, the child's status is
//! polled between real-time waits on the blocking pool that back off to every 100 ms;
//! the runtime's clock (mock or autojump) neither stalls nor hurries them. A pipe that
//! outlives its runtime fails as a socket does (see [`net`](crate::net)): an operation
//! that would wait returns an error instead; so does a `Child`'s wait through its
//! process descriptor, and a polled wait whose runtime was dropped while it waited.
//!
//! **The autojump clock.** Under [`Clock::autojump`](crate::time::Clock::autojump), a
//! task waiting for a child's exit through its process descriptor, or on one of its
//! pipes, counts as blocked, as one waiting on a socket does: once every task waits
//! like that, time jumps to the next deadline while the child still runs (as with
//! Trio's autojump clock and tokio's paused clock). No deadline is long enough then: a
//! [`fail_after`](crate::fail_after) of an hour around a child that runs for a moment
//! fails at once, in real time, and the child is dropped. (Only where the exit is
//! polled on the blocking pool does the wait hold the clock, as `to_thread` work
//! does.) Tests that wait on real processes should use the system clock
//! (`#[pride::test(clock = "system")]`), or the mock clock that moves only when told
//! to.
//!
//! **Cancel safety.** [`Child::wait`] and the pipe reads and writes are cancel-safe:
//! dropped before they complete, they took nothing, and a later call picks up where
//! things were (a `wait` closes the child's standard input first, as its docs say).
//! Cancelling work never stops the child by itself: a dropped `Child`
//! keeps running unless [`Command::kill_on_drop`] asked for it to be killed, which a
//! cancelled task then does as its future is dropped.
//!
//! **Dropped children.** A child whose `Child` was dropped before it was reaped (a
//! killed one too: the kill takes a moment) is reaped by the runtime when it exits,
//! so it does not stay a zombie: its process descriptor stays with the reactor, and
//! its exit is noticed like any other. Nothing waits for it, though: no thread, and
//! not the runtime's drop, which neither kills nor waits for dropped children still
//! running. Where the exit is polled instead (no process descriptor), and for a child
//! still running when its runtime was dropped, reaping is best effort (as in tokio): it
//! happens at the next spawn after the exit, in any runtime, or when the exit of
//! another dropped child is noticed; until then the exited child stays a zombie.
//!
//! ```
//! use futures_lite::AsyncWriteExt;
//! use std::process::Stdio;
//!
//! pride::run(async {
//!     let mut child = pride::process::Command::new("tr")
//!         .arg("a-z")
//!         .arg("A-Z")
//!         .stdin(Stdio::piped())
//!         .stdout(Stdio::piped())
//!         .spawn()?;
//!     let mut stdin = child.stdin.take().unwrap();
//!     stdin.write_all(b"shout").await?;
//!     drop(stdin);
//!     let output = child.wait_with_output().await?;
//!     assert!(output.status.success());
//!     assert_eq!(output.stdout, b"SHOUT");
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```

mod exit;
mod pipe;

use std::ffi::OsStr;
use std::future::{Future, poll_fn};
use std::io;
use std::path::Path;
use std::pin::{Pin, pin};
use std::process::{ExitStatus, Output, Stdio};
use std::task::Poll;

use exit::ExitWatch;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};

/// A process to spawn: program, arguments, environment, working directory and
/// standard streams, like [`std::process::Command`], plus [`kill_on_drop`].
///
/// Options the builder methods do not cover are reached through
/// [`as_std_mut`](Command::as_std_mut).
///
/// [`kill_on_drop`]: Command::kill_on_drop
///
/// ```
/// # pride::run(async {
/// let status = pride::process::Command::new("sh")
///     .args(["-c", "exit $CODE"])
///     .env("CODE", "3")
///     .status()
///     .await?;
/// assert_eq!(status.code(), Some(3));
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    /// Standard input was set (by [`stdin`](Command::stdin), or on the std command this
    /// one was made from): [`output`](Command::output) keeps it.
    stdin_set: bool,
    /// Standard output was set by [`stdout`](Command::stdout): [`output`](Command::output)
    /// keeps it instead of piping it.
    stdout_set: bool,
    /// Standard error was set by [`stderr`](Command::stderr), as for `stdout_set`.
    stderr_set: bool,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` when it has no `/`), with no
    /// arguments, the parent's environment and working directory, and inherited
    /// standard streams.
    ///
    /// ```
    /// # pride::run(async {
    /// assert!(pride::process::Command::new("true").status().await?.success());
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            std: std::process::Command::new(program),
            kill_on_drop: false,
            stdin_set: false,
            stdout_set: false,
            stderr_set: false,
        }
    }

    /// Adds an argument.
    ///
    /// ```
    /// # pride::run(async {
    /// let out = pride::process::Command::new("echo").arg("one").output().await?;
    /// assert_eq!(out.stdout, b"one\n");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    ///
    /// ```
    /// # pride::run(async {
    /// let out = pride::process::Command::new("echo").args(["a", "b"]).output().await?;
    /// assert_eq!(out.stdout, b"a b\n");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// ```
    /// # pride::run(async {
    /// let out = pride::process::Command::new("sh").args(["-c", "echo $X"]).env("X", "x").output().await?;
    /// assert_eq!(out.stdout, b"x\n");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, value);
        self
    }

    /// Sets several environment variables for the child.
    ///
    /// ```
    /// # pride::run(async {
    /// let out = pride::process::Command::new("sh")
    ///     .args(["-c", "echo $A$B"])
    ///     .envs([("A", "1"), ("B", "2")])
    ///     .output()
    ///     .await?;
    /// assert_eq!(out.stdout, b"12\n");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// ```
    /// # pride::run(async {
    /// let out = pride::process::Command::new("sh")
    ///     .args(["-c", "echo ${X-unset}"])
    ///     .env("X", "set")
    ///     .env_remove("X")
    ///     .output()
    ///     .await?;
    /// assert_eq!(out.stdout, b"unset\n");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what [`env`](Command::env)
    /// adds afterwards).
    ///
    /// ```
    /// # pride::run(async {
    /// let out = pride::process::Command::new("/bin/sh")
    ///     .args(["-c", "echo ${HOME-none}"])
    ///     .env_clear()
    ///     .output()
    ///     .await?;
    /// assert_eq!(out.stdout, b"none\n");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// ```
    /// # pride::run(async {
    /// let out = pride::process::Command::new("pwd").current_dir("/").output().await?;
    /// assert_eq!(out.stdout, b"/\n");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's standard input: [`Stdio::piped`] gives
    /// [`Child::stdin`], [`Stdio::null`] reads nothing, [`Stdio::inherit`] (the
    /// default, except for [`output`](Command::output)) shares the parent's.
    ///
    /// ```
    /// use std::process::Stdio;
    /// # pride::run(async {
    /// let out = pride::process::Command::new("cat").stdin(Stdio::null()).output().await?;
    /// assert!(out.stdout.is_empty());
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(stdio);
        self.stdin_set = true;
        self
    }

    /// Sets the child's standard output; [`Stdio::piped`] gives [`Child::stdout`].
    ///
    /// ```
    /// use std::process::Stdio;
    /// # pride::run(async {
    /// let child = pride::process::Command::new("true").stdout(Stdio::piped()).spawn()?;
    /// assert!(child.stdout.is_some());
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stdout_set = true;
        self.std.stdout(stdio);
        self
    }

    /// Sets the child's standard error; [`Stdio::piped`] gives [`Child::stderr`].
    ///
    /// ```
    /// use std::process::Stdio;
    /// # pride::run(async {
    /// let child = pride::process::Command::new("true").stderr(Stdio::null()).spawn()?;
    /// assert!(child.stderr.is_none());
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stderr_set = true;
        self.std.stderr(stdio);
        self
    }

    /// Whether dropping the [`Child`] before it exited kills it (`SIGKILL`). Off by
    /// default, as in `std`: a dropped child keeps running. Turn it on to have a
    /// cancelled task take its child down with it.
    ///
    /// ```
    /// use std::time::Duration;
    /// # pride::run(async {
    /// let out = pride::move_on_after(Duration::from_millis(50), async {
    ///     let mut child = pride::process::Command::new("sleep").arg("600").kill_on_drop(true).spawn()?;
    ///     child.wait().await
    /// })
    /// .await;
    /// assert!(out.is_none()); // cancelled, and the sleep was killed
    /// # });
    /// ```
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Command {
        self.kill_on_drop = kill;
        self
    }

    /// The underlying standard command, for options not mirrored here (such as
    /// `std::os::unix::process::CommandExt`). Set the standard streams with
    /// [`stdin`](Self::stdin), [`stdout`](Self::stdout) and [`stderr`](Self::stderr),
    /// not here: [`output`](Self::output) does not see them set on the std command
    /// (it gives the child an empty input and pipes the output and error).
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    /// # pride::run(async {
    /// let mut cmd = pride::process::Command::new("sh");
    /// cmd.args(["-c", "echo $0"]);
    /// cmd.as_std_mut().arg0("renamed");
    /// assert_eq!(cmd.output().await?.stdout, b"renamed\n");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child. Its piped streams are registered with the current runtime.
    ///
    /// # Errors
    /// If the system cannot start the child, an error of the system error's kind
    /// whose message names the program and the working directory, if one was set
    /// (``pride: cannot spawn `prog` in `dir`: No such file or directory (os error 2)``):
    /// a missing program and a missing working directory give the system the same
    /// error, so the message names both suspects. The system's error itself is the
    /// error's [`source`](std::error::Error::source), for its
    /// [`raw_os_error`](io::Error::raw_os_error) (the returned error's own is `None`,
    /// as for any error made with a message), and its text ends the message, so that
    /// printing the error alone says what went wrong.
    ///
    /// If the child started but its pipes cannot be registered with the runtime, the
    /// child is killed (and reaped without blocking, as a dropped child is: see the
    /// [module docs](self)) and the registration's error is returned: no child is left running that
    /// nobody holds.
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// use std::error::Error;
    ///
    /// # pride::run(async {
    /// let mut child = pride::process::Command::new("sh").args(["-c", "exit 1"]).spawn()?;
    /// assert_eq!(child.wait().await?.code(), Some(1));
    ///
    /// let error = pride::process::Command::new("true").current_dir("/no/such/dir").spawn().unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    /// assert!(error.to_string().starts_with("pride: cannot spawn `true` in `/no/such/dir`: "));
    /// let os = error.source().and_then(|e| e.downcast_ref::<std::io::Error>()).unwrap();
    /// assert!(os.raw_os_error().is_some());
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    #[track_caller]
    pub fn spawn(&mut self) -> io::Result<Child> {
        let _ = crate::runtime::context::handle("pride::process::Command::spawn");
        exit::reap_orphans();
        let mut std_child = self
            .std
            .spawn()
            .map_err(|error| SpawnError::of(&self.std, error))?;
        let stdin = std_child.stdin.take();
        let stdout = std_child.stdout.take();
        let stderr = std_child.stderr.take();
        let exit = ExitWatch::new(std_child.id());
        // From here on, the child is ours to reap. Until its pipes are registered it
        // is killed if they fail (the `?`s drop it): nobody else could reach it.
        let mut child = Child {
            stdin: None,
            stdout: None,
            stderr: None,
            inner: Some(std_child),
            exit,
            kill_on_drop: true,
        };
        child.stdin = stdin.map(ChildStdin::new).transpose()?;
        child.stdout = stdout.map(ChildStdout::new).transpose()?;
        child.stderr = stderr.map(ChildStderr::new).transpose()?;
        child.kill_on_drop = self.kill_on_drop;
        Ok(child)
    }

    /// Spawns the child and waits for its exit status. Standard streams are
    /// inherited unless set otherwise.
    ///
    /// A stream set to [`Stdio::piped`] has nobody to read or write it here: its pipe
    /// is closed before the wait (as [`Child::wait`] closes standard input), so that a
    /// child that writes more than a pipe holds gets a broken pipe instead of waiting
    /// for ever. To see what a child writes, use [`output`](Self::output).
    ///
    /// ```
    /// use std::process::Stdio;
    /// # pride::run(async {
    /// assert!(!pride::process::Command::new("false").status().await?.success());
    /// // Nobody reads the pipe: the child's write fails, the wait still ends.
    /// let status = pride::process::Command::new("head")
    ///     .args(["-c", "1000000", "/dev/zero"])
    ///     .stdout(Stdio::piped())
    ///     .status()
    ///     .await?;
    /// assert!(!status.success());
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        child.stdout = None;
        child.stderr = None;
        child.wait().await
    }

    /// Spawns the child with its standard output and error piped, and collects them
    /// and its exit status. As with std's `output`, the child's standard input is
    /// empty ([`Stdio::null`]) unless [`stdin`](Self::stdin) set one: a child that
    /// reads it sees its end at once instead of waiting on the parent's; and a
    /// standard output or error set by [`stdout`](Self::stdout) or
    /// [`stderr`](Self::stderr) is kept (it comes back empty unless it is
    /// [`Stdio::piped`]).
    ///
    /// The streams this call piped or emptied, because nothing was set on them through
    /// this type, are inherited again afterwards: a later [`spawn`](Self::spawn) or
    /// [`status`](Self::status) inherits them. A standard output or error set on the
    /// std `Command` this one was made from, or through `as_std_mut`, is not seen here:
    /// this call pipes it too, and it is inherited afterwards.
    ///
    /// ```
    /// # pride::run(async {
    /// let out = pride::process::Command::new("sh").args(["-c", "echo out; echo err >&2"]).output().await?;
    /// assert_eq!(out.stdout, b"out\n");
    /// assert_eq!(out.stderr, b"err\n");
    /// // `cat` reads an empty input and ends.
    /// assert!(pride::process::Command::new("cat").output().await?.stdout.is_empty());
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn output(&mut self) -> io::Result<Output> {
        if !self.stdin_set {
            self.std.stdin(Stdio::null());
        }
        if !self.stdout_set {
            self.std.stdout(Stdio::piped());
        }
        if !self.stderr_set {
            self.std.stderr(Stdio::piped());
        }
        let child = self.spawn();
        // Back to what `spawn` does with a stream nobody set: inherit it.
        if !self.stdin_set {
            self.std.stdin(Stdio::inherit());
        }
        if !self.stdout_set {
            self.std.stdout(Stdio::inherit());
        }
        if !self.stderr_set {
            self.std.stderr(Stdio::inherit());
        }
        child?.wait_with_output().await
    }
}

impl From<std::process::Command> for Command {
    /// Wraps a configured std command. Its standard input stays as std's command has
    /// it, for [`output`](Command::output) too (std cannot say whether it was set).
    /// Its standard output and error count as not set: `output` pipes them, and
    /// leaves them inherited.
    ///
    /// ```
    /// # pride::run(async {
    /// let mut std_cmd = std::process::Command::new("echo");
    /// std_cmd.arg("from std");
    /// let out = pride::process::Command::from(std_cmd).output().await?;
    /// assert_eq!(out.stdout, b"from std\n");
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            // std does not say whether its command set one: keep what it has.
            stdin_set: true,
            stdout_set: false,
            stderr_set: false,
        }
    }
}

/// Why a spawn failed: the system's error, with what was spawned where.
#[derive(Debug)]
struct SpawnError {
    message: String,
    error: io::Error,
}

impl SpawnError {
    /// The error `spawn` returns for `error`, the system's: of its kind, naming the
    /// program and the working directory (if set), with `error` as its source.
    fn of(command: &std::process::Command, error: io::Error) -> io::Error {
        let program = command.get_program().to_string_lossy();
        let message = match command.get_current_dir() {
            Some(dir) => format!("pride: cannot spawn `{program}` in `{}`", dir.display()),
            None => format!("pride: cannot spawn `{program}`"),
        };
        io::Error::new(error.kind(), SpawnError { message, error })
    }
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.message, self.error)
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A running (or exited) child process, made by [`Command::spawn`].
///
/// The piped standard streams are the public fields; take them out to use them from
/// other tasks. Dropping a `Child` does not wait for the process; it kills it first
/// only if [`Command::kill_on_drop`] said so. Either way the process is reaped once it
/// exits (see the [module docs](self) for when).
///
/// ```
/// # pride::run(async {
/// let mut child = pride::process::Command::new("sleep").arg("600").spawn()?;
/// assert!(child.try_wait()?.is_none());
/// child.kill().await?;
/// assert!(!child.wait().await?.success());
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct Child {
    /// The child's standard input, if it was [`Stdio::piped`].
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was [`Stdio::piped`].
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was [`Stdio::piped`].
    pub stderr: Option<ChildStderr>,
    /// `None` only during drop.
    inner: Option<std::process::Child>,
    exit: ExitWatch,
    kill_on_drop: bool,
}

impl Child {
    /// The operating system's process id.
    ///
    /// ```
    /// # pride::run(async {
    /// let mut child = pride::process::Command::new("true").spawn()?;
    /// assert!(child.id() > 0);
    /// child.wait().await?;
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn id(&self) -> u32 {
        self.std().id()
    }

    /// Closes the child's standard input (so a child that reads it to the end can
    /// finish), then waits until the child exits and returns its status. Once it has
    /// exited, every call returns the same status at once.
    ///
    /// Cancel-safe: a dropped `wait` leaves the child running, its status still to be
    /// taken, but its standard input is closed from the first poll on (waiting with the
    /// input open could wait for ever on a child that reads it to the end). To write
    /// to the child while a wait may be cancelled, `take()` its
    /// [`stdin`](Child::stdin) before waiting: `wait` closes only the one it holds.
    ///
    /// ```
    /// # pride::run(async {
    /// let mut child = pride::process::Command::new("sh").args(["-c", "exit 4"]).spawn()?;
    /// assert_eq!(child.wait().await?.code(), Some(4));
    /// assert_eq!(child.wait().await?.code(), Some(4));
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.stdin = None;
        let child = self.inner.as_mut().expect("a live Child holds its process");
        self.exit.wait(child).await
    }

    /// The exit status if the child has exited, without waiting.
    ///
    /// ```
    /// # pride::run(async {
    /// let mut child = pride::process::Command::new("sleep").arg("600").kill_on_drop(true).spawn()?;
    /// assert_eq!(child.try_wait()?, None);
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.std_mut().try_wait()
    }

    /// Sends `SIGKILL` to the child without waiting for it to exit. Killing a child
    /// that has already exited does nothing and succeeds.
    ///
    /// ```
    /// # pride::run(async {
    /// let mut child = pride::process::Command::new("sleep").arg("600").spawn()?;
    /// child.start_kill()?;
    /// assert!(child.wait().await?.code().is_none()); // ended by a signal
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.std_mut().kill()
    }

    /// Kills the child (`SIGKILL`) and waits until it has exited.
    ///
    /// ```
    /// # pride::run(async {
    /// let mut child = pride::process::Command::new("sleep").arg("600").spawn()?;
    /// child.kill().await?;
    /// assert!(child.try_wait()?.is_some());
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(|_| ())
    }

    /// Closes standard input, reads standard output and error (those that are piped)
    /// to their end while waiting for the child, and returns all three.
    ///
    /// ```
    /// use std::process::Stdio;
    /// # pride::run(async {
    /// let child = pride::process::Command::new("echo").arg("done").stdout(Stdio::piped()).spawn()?;
    /// let out = child.wait_with_output().await?;
    /// assert_eq!(out.stdout, b"done\n");
    /// assert!(out.stderr.is_empty()); // not piped
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        self.stdin = None;
        let mut stdout = pin!(read_to_end(self.stdout.take()));
        let mut stderr = pin!(read_to_end(self.stderr.take()));
        let (mut out, mut err) = (None, None);
        poll_fn(|cx| {
            if out.is_none() {
                if let Poll::Ready(r) = stdout.as_mut().poll(cx) {
                    out = Some(r);
                }
            }
            if err.is_none() {
                if let Poll::Ready(r) = stderr.as_mut().poll(cx) {
                    err = Some(r);
                }
            }
            if out.is_some() && err.is_some() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout: out.expect("read to the end")?,
            stderr: err.expect("read to the end")?,
        })
    }

    fn std(&self) -> &std::process::Child {
        self.inner.as_ref().expect("a live Child holds its process")
    }

    fn std_mut(&mut self) -> &mut std::process::Child {
        self.inner.as_mut().expect("a live Child holds its process")
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(mut child) = self.inner.take() else {
            return;
        };
        if self.kill_on_drop && matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        exit::orphan(child, self.exit.take());
    }
}

/// Reads a pipe, if there is one, to its end.
async fn read_to_end(pipe: Option<impl futures_io::AsyncRead + Unpin>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let Some(mut pipe) = pipe else {
        return Ok(bytes);
    };
    let mut chunk = [0; 4096];
    loop {
        let n = poll_fn(|cx| Pin::new(&mut pipe).poll_read(cx, &mut chunk)).await?;
        if n == 0 {
            return Ok(bytes);
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}
