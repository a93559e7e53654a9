//! [`serve`]: an accept loop with one isolated child per connection.
//!
//! The loop's rules: a connection's error or panic is reported and ends that connection
//! only; an accept error that concerns one connection (it was aborted or reset while in
//! the backlog, or its network or host failed) is skipped, after a yield so that a
//! listener that fails at once every time cannot hold the loop in one poll; an accept
//! error that says the process or system is out of some resource (`EMFILE`, `ENFILE`,
//! `ENOBUFS`, `ENOMEM`, or `ENOSPC` when an accepted socket cannot be watched: that one
//! connection is closed) is reported and retried after a pause that doubles from 1 ms
//! up to 1 s, and resets once an accept succeeds (the queued connections wait in the
//! listener's backlog meanwhile); a run of [`SKIPS_IN_A_ROW`] skipped errors with no
//! accept between them is taken for a listener that fails the same way every time (a
//! socket that is no listener gives `EOPNOTSUPP`, a sandbox that denies `accept` gives
//! `EPERM`), so the error after it is treated as a shortage: reported and retried after
//! the pause; any other accept error says the listener cannot accept (`EINVAL`: not
//! listening or shut down, `EBADF`, `ENOTSOCK`, ...) and ends the server with that
//! error.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::configured::Configured;
use crate::group::error::{Kind, TaskError, TaskOutput};
use crate::shutdown::{Shutdown, graceful};
use crate::sync::Semaphore;
use crate::{GroupError, TaskGroup};

/// A listener that [`serve`] can accept connections from: [`TcpListener`](super::TcpListener)
/// and [`UnixListener`](super::UnixListener).
pub trait Listener: Send + Sync + 'static {
    /// The accepted connection.
    type Stream: Send + 'static;
    /// The peer's address; its `Debug` form names the connection's task.
    type Addr: fmt::Debug + Send + 'static;

    /// Polls for the next connection, like `accept`.
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Stream, Self::Addr)>>;
}

impl Listener for super::TcpListener {
    type Stream = super::TcpStream;
    type Addr = std::net::SocketAddr;

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Stream, Self::Addr)>> {
        super::TcpListener::poll_accept(self, cx)
    }
}

#[cfg(unix)]
impl Listener for super::UnixListener {
    type Stream = super::UnixStream;
    type Addr = std::os::unix::net::SocketAddr;

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Stream, Self::Addr)>> {
        super::UnixListener::poll_accept(self, cx)
    }
}

type Report = Arc<dyn Fn(TaskError) + Send + Sync>;

/// Serves `listener`: accepts connections and runs `handler(stream, peer)` for each as
/// an isolated child named `connection <peer>`. Built with [`serve`]; await it.
///
/// A connection's error or panic is reported (by default as one line on standard error;
/// see [`on_error`](Self::on_error)) and never stops the server. An accept error that
/// concerns one pending connection (aborted or reset in the backlog, or a network error
/// Linux passes on from it: `ENETDOWN`, `ENETUNREACH`, `EHOSTUNREACH`, `EHOSTDOWN`,
/// `ENONET`, `EPROTO`, `ENOPROTOOPT`, `EOPNOTSUPP`, or `EPERM` from a firewall) is
/// skipped; one that says the process or system is out of some resource (`EMFILE`,
/// `ENFILE`, `ENOBUFS`, `ENOMEM`, or `ENOSPC` when an accepted socket cannot be
/// watched, which closes that one connection) is reported and retried after a pause
/// that doubles from 1 ms up to 1 s, while the queued connections wait in the backlog.
/// The pause is reset once an accept succeeds. Skipped errors that keep coming with no
/// connection accepted between them (16 in a row) say that the listener fails the same
/// way every time, as a socket that is no listener (`EOPNOTSUPP`) or an
/// `accept` denied by a sandbox (`EPERM`) does: the next one is treated as a shortage,
/// reported and retried after the pause, instead of being retried at once for ever.
/// Any other accept error means the listener cannot accept (`EINVAL`: it is not
/// listening or was shut down; `EBADF`, `ENOTSOCK`, ...): the server stops, cancels its
/// connections and fails with that error, named `accept`. Otherwise the server runs
/// until it is cancelled, or, with [`graceful`](Self::graceful), until a shutdown is
/// requested and the connections have drained.
///
/// Awaiting it gives `Ok(())`, or `Err` if accepting failed as above, if the error
/// handler itself panicked, or if a connection panicked while it was being cancelled
/// (in a `Drop`).
///
/// ```
/// use std::time::Duration;
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use pride::net::{TcpListener, TcpStream, serve};
/// use pride::shutdown::Shutdown;
///
/// pride::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let shutdown = Shutdown::new();
///     pride::task_group(async |tg| {
///         let stop = shutdown.clone();
///         tg.start_soon(async move {
///             serve(listener, |mut stream: TcpStream, _peer| async move {
///                 let (mut reader, mut writer) = stream.split();
///                 futures_lite::io::copy(&mut reader, &mut writer).await.map(|_| ())
///             })
///             .max_connections(100)
///             .graceful(stop, Duration::from_secs(5))
///             .await
///         });
///         let mut client = TcpStream::connect(addr).await?;
///         client.write_all(b"hi").await?;
///         let mut buf = [0; 2];
///         client.read_exact(&mut buf).await?;
///         assert_eq!(&buf, b"hi");
///         shutdown.trigger();
///         Ok::<_, pride::BoxError>(())
///     })
///     .await?;
///     Ok::<_, pride::BoxError>(())
/// })
/// .unwrap();
/// ```
#[must_use = "a server does nothing until awaited"]
pub struct Serve<L, H> {
    state: Configured<Config<L, H>>,
}

struct Config<L, H> {
    listener: L,
    handler: H,
    max_connections: Option<usize>,
    report: Report,
    shutdown: Option<(Shutdown, Duration)>,
}

// The listener and handler are never pinned: the first poll moves them into a box.
impl<L, H> Unpin for Serve<L, H> {}

/// Serves `listener` with `handler`, one isolated child per connection.
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use pride::net::{TcpListener, TcpStream, serve};
/// use pride::shutdown::Shutdown;
/// use std::time::Duration;
///
/// pride::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let shutdown = Shutdown::new();
///     pride::task_group(async |tg| {
///         let server = serve(listener, |mut stream: TcpStream, _peer| async move {
///             let mut buf = [0; 5];
///             stream.read_exact(&mut buf).await?;
///             stream.write_all(&buf).await
///         })
///         .graceful(shutdown.clone(), Duration::from_secs(5));
///         tg.start_soon(server);
///
///         let mut client = TcpStream::connect(addr).await?;
///         client.write_all(b"hello").await?;
///         let mut echoed = [0; 5];
///         client.read_exact(&mut echoed).await?;
///         assert_eq!(&echoed, b"hello");
///         shutdown.trigger(); // stop accepting, drain, and end the server
///         Ok::<_, std::io::Error>(())
///     })
///     .await
///     .unwrap();
/// });
/// ```
#[doc(alias("serve_tcp", "serve_listeners", "accept_loop"))]
pub fn serve<L, H, Fut>(listener: L, handler: H) -> Serve<L, H>
where
    L: Listener,
    H: Fn(L::Stream, L::Addr) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput,
{
    Serve {
        state: Configured::new(
            "Serve",
            Config {
                listener,
                handler,
                max_connections: None,
                report: Arc::new(crate::group::isolated::report_to_stderr),
                shutdown: None,
            },
        ),
    }
}

impl<L, H> Serve<L, H> {
    #[track_caller]
    fn config(&mut self) -> &mut Config<L, H> {
        self.state.config()
    }

    /// Serves at most `limit` connections at once: while `limit` are open, no more are
    /// accepted (they wait in the listener's backlog).
    ///
    /// # Panics
    /// If `limit` is 0, or once the `Serve` has been polled.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// use pride::net::{TcpListener, TcpStream, serve};
    /// use pride::shutdown::Shutdown;
    ///
    /// pride::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let shutdown = Shutdown::new();
    ///     pride::task_group(async |tg| {
    ///         let stop = shutdown.clone();
    ///         tg.start_soon(async move {
    ///             // At most 2 connections at once; more wait in the backlog.
    ///             serve(listener, |mut stream: TcpStream, _peer| async move {
    ///                 let (mut reader, mut writer) = stream.split();
    ///                 futures_lite::io::copy(&mut reader, &mut writer).await.map(|_| ())
    ///             })
    ///             .max_connections(2)
    ///             .graceful(stop, Duration::from_secs(5))
    ///             .await
    ///         });
    ///         let mut client = TcpStream::connect(addr).await?;
    ///         client.write_all(b"hi").await?;
    ///         let mut buf = [0; 2];
    ///         client.read_exact(&mut buf).await?;
    ///         assert_eq!(&buf, b"hi");
    ///         shutdown.trigger();
    ///         Ok::<_, pride::BoxError>(())
    ///     })
    ///     .await?;
    ///     Ok::<_, pride::BoxError>(())
    /// })
    /// .unwrap();
    /// ```
    #[track_caller]
    pub fn max_connections(mut self, limit: usize) -> Self {
        assert!(
            limit > 0,
            "pride: `serve` with `max_connections(0)` would never accept"
        );
        self.config().max_connections = Some(limit);
        self
    }

    /// Hands every failure the server lives through to `report` instead of standard
    /// error: a connection's error or panic (named `connection <peer>`) and an accept
    /// error that it retries after a pause, a shortage of descriptors or memory or an
    /// error that comes back on every accept (named `accept`). An accept error that
    /// ends the server is its outcome instead. `report` runs on the
    /// failing connection's task (on the accept loop's for an accept error); if it
    /// panics, the server fails.
    ///
    /// # Panics
    /// Once the `Serve` has been polled.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// use pride::net::{TcpListener, TcpStream, serve};
    /// use pride::shutdown::Shutdown;
    ///
    /// pride::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let shutdown = Shutdown::new();
    ///     pride::task_group(async |tg| {
    ///         let stop = shutdown.clone();
    ///         tg.start_soon(async move {
    ///             serve(listener, |mut stream: TcpStream, _peer| async move {
    ///                 let (mut reader, mut writer) = stream.split();
    ///                 futures_lite::io::copy(&mut reader, &mut writer).await.map(|_| ())
    ///             })
    ///             .on_error(|error| eprintln!("{error}")) // or a logger, or metrics
    ///             .graceful(stop, Duration::from_secs(5))
    ///             .await
    ///         });
    ///         let mut client = TcpStream::connect(addr).await?;
    ///         client.write_all(b"hi").await?;
    ///         let mut buf = [0; 2];
    ///         client.read_exact(&mut buf).await?;
    ///         assert_eq!(&buf, b"hi");
    ///         shutdown.trigger();
    ///         Ok::<_, pride::BoxError>(())
    ///     })
    ///     .await?;
    ///     Ok::<_, pride::BoxError>(())
    /// })
    /// .unwrap();
    /// ```
    #[track_caller]
    pub fn on_error(mut self, report: impl Fn(TaskError) + Send + Sync + 'static) -> Self {
        self.config().report = Arc::new(report);
        self
    }

    /// Shuts down gracefully on `shutdown`: stop accepting (the listener is closed),
    /// give the open connections `grace` to finish, then cancel what is left and
    /// return. Handlers that hold long-lived connections should watch `shutdown`
    /// too and close at a clean point.
    ///
    /// # Panics
    /// Once the `Serve` has been polled.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// use pride::net::{TcpListener, TcpStream, serve};
    /// use pride::shutdown::Shutdown;
    ///
    /// pride::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let shutdown = Shutdown::new();
    ///     pride::task_group(async |tg| {
    ///         let stop = shutdown.clone();
    ///         tg.start_soon(async move {
    ///             // Once `stop` is triggered: stop accepting, give open connections 5 s.
    ///             serve(listener, |mut stream: TcpStream, _peer| async move {
    ///                 let (mut reader, mut writer) = stream.split();
    ///                 futures_lite::io::copy(&mut reader, &mut writer).await.map(|_| ())
    ///             })
    ///             .graceful(stop, Duration::from_secs(5))
    ///             .await
    ///         });
    ///         let mut client = TcpStream::connect(addr).await?;
    ///         client.write_all(b"hi").await?;
    ///         let mut buf = [0; 2];
    ///         client.read_exact(&mut buf).await?;
    ///         assert_eq!(&buf, b"hi");
    ///         shutdown.trigger();
    ///         Ok::<_, pride::BoxError>(())
    ///     })
    ///     .await?;
    ///     Ok::<_, pride::BoxError>(())
    /// })
    /// .unwrap();
    /// ```
    #[track_caller]
    pub fn graceful(mut self, shutdown: Shutdown, grace: Duration) -> Self {
        self.config().shutdown = Some((shutdown, grace));
        self
    }
}

impl<L, H, Fut> Future for Serve<L, H>
where
    L: Listener,
    H: Fn(L::Stream, L::Addr) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput,
{
    type Output = Result<(), GroupError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().state.poll(cx, Config::run)
    }
}

impl<L, H, Fut> Config<L, H>
where
    L: Listener,
    H: Fn(L::Stream, L::Addr) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput,
{
    async fn run(self) -> Result<(), GroupError> {
        let Config {
            listener,
            handler,
            max_connections,
            report,
            shutdown,
        } = self;
        let (shutdown, grace) = shutdown.unwrap_or_else(|| (Shutdown::new(), Duration::MAX));
        let limit = max_connections.map(|n| Arc::new(Semaphore::new(n)));
        let stop = shutdown.clone();
        let connections = crate::task_group(move |tg| {
            let accepting = accept_loop(listener, tg.clone(), handler, limit, report);
            tg.start_soon_named("accept", stop_on(stop, accepting));
            std::future::ready(())
        });
        // `None`: the grace period ran out and the connections left were cancelled.
        graceful(&shutdown, grace, connections)
            .await
            .unwrap_or(Ok(()))
    }
}

/// Runs `work` until `shutdown` is requested, then drops it and gives `Ok(())`.
async fn stop_on(shutdown: Shutdown, work: impl Future<Output = io::Result<()>>) -> io::Result<()> {
    let mut work = pin!(work);
    let mut stopped = pin!(shutdown.triggered());
    poll_fn(|cx| {
        if stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(()));
        }
        work.as_mut().poll(cx)
    })
    .await
}

/// Accepts until the listener fails, starting `handler` on each connection as an
/// isolated child of `tg`. Owns the listener: dropping this future stops accepting.
async fn accept_loop<L, H, Fut>(
    listener: L,
    tg: TaskGroup,
    handler: H,
    limit: Option<Arc<Semaphore>>,
    report: Report,
) -> io::Result<()>
where
    L: Listener,
    H: Fn(L::Stream, L::Addr) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput,
{
    // Called on the connection's own task, so that a panic in the handler's
    // synchronous part is that connection's failure too.
    let handler = Arc::new(handler);
    let mut pause = Duration::ZERO;
    // Errors skipped since the last accepted connection or pause.
    let mut skipped = 0;
    loop {
        let permit = match &limit {
            Some(limit) => Some(limit.acquire_owned().await),
            None => None,
        };
        match poll_fn(|cx| listener.poll_accept(cx)).await {
            Ok((stream, peer)) => {
                pause = Duration::ZERO;
                skipped = 0;
                let name = format!("connection {peer:?}");
                let (handler, report) = (handler.clone(), report.clone());
                tg.start_soon_isolated_with(
                    name,
                    async move {
                        let _permit = permit;
                        handler(stream, peer).await
                    },
                    move |error| report(error),
                );
            }
            Err(e) if concerns_one_connection(&e) && skipped < SKIPS_IN_A_ROW => {
                skipped += 1;
                // A listener that fails at once every time would otherwise keep this
                // task in one poll: no other task on this worker would run, and the
                // shutdown would never be seen.
                crate::yield_now().await;
            }
            // A run of skipped errors says the listener fails the same way every time:
            // retrying at once would spin, so it is paused on like a shortage.
            Err(e) if concerns_one_connection(&e) || out_of_resources(&e) => {
                skipped = 0;
                report(TaskError::new(Some("accept".into()), Kind::Error(e.into())));
                pause = (pause * 2).clamp(Duration::from_millis(1), Duration::from_secs(1));
                crate::sleep(pause).await;
            }
            // The listener itself cannot accept: retrying would fail the same way.
            Err(e) => return Err(e),
        }
    }
}

/// How many accept errors that concern one connection are skipped in a row, with no
/// connection accepted between them, before the next is reported and paused on.
const SKIPS_IN_A_ROW: u32 = 16;

/// Errors that end one pending connection, not the listener's ability to accept: it
/// was aborted or reset in the backlog, or (Linux passes network errors already
/// pending on the new connection to `accept`) its network or host is unreachable or
/// down, it broke the protocol, or a firewall refused it (`EPERM`).
fn concerns_one_connection(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    let one = matches!(
        error.kind(),
        ConnectionAborted
            | ConnectionReset
            | ConnectionRefused
            | Interrupted
            | TimedOut
            | NetworkDown
            | NetworkUnreachable
            | HostUnreachable
    );
    #[cfg(unix)]
    let one = one || error.raw_os_error().is_some_and(pending_network_error);
    one
}

/// The codes of [`concerns_one_connection`] that have no `ErrorKind` of their own.
#[cfg(unix)]
fn pending_network_error(code: i32) -> bool {
    #[cfg(target_os = "linux")]
    if code == libc::ENONET {
        return true;
    }
    matches!(
        code,
        libc::EPROTO | libc::ENOPROTOOPT | libc::EHOSTDOWN | libc::EOPNOTSUPP | libc::EPERM
    )
}

/// Errors that say the process or system is out of some resource, which passes once
/// descriptors, memory or reactor watches are freed: `EMFILE`, `ENFILE`, `ENOBUFS`,
/// `ENOMEM`, and `ENOSPC` (an accepted socket could not be registered: the system's
/// limit on watched descriptors was met).
fn out_of_resources(error: &io::Error) -> bool {
    #[cfg(unix)]
    if let Some(code) = error.raw_os_error() {
        return matches!(
            code,
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::ENOSPC
        );
    }
    error.kind() == io::ErrorKind::OutOfMemory
}
