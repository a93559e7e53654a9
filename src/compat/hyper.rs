//! hyper 1 on pride: an executor that spawns into a task group, a timer on
//! [`pride::sleep`](crate::sleep), and an I/O adapter from `futures_io` to
//! `hyper::rt::{Read, Write}`.
//!
//! Structured concurrency holds here too: [`Executor`] spawns any background future
//! hyper hands it as a child of the [`TaskGroup`] it was made from, so it cannot
//! outlive the group and is cancelled with it. (The `hyper` feature enables HTTP/1;
//! with hyper's `http2` feature enabled too, its connection tasks go there.)
//!
//! A server: [`net::serve`](crate::net::serve) runs each connection as an isolated
//! child, so a client that sends garbage or vanishes mid-request ends its own
//! connection only; [`graceful_connection`] lets the connections in flight finish their
//! request when the server shuts down.
//!
//! ```
//! use std::time::Duration;
//! use pride::compat::hyper::{HyperIo, Timer, graceful_connection};
//! use pride::net::{TcpListener, TcpStream, serve};
//! use pride::shutdown::Shutdown;
//!
//! async fn hello(
//!     _: hyper::Request<hyper::body::Incoming>,
//! ) -> Result<hyper::Response<String>, std::convert::Infallible> {
//!     Ok(hyper::Response::new("hello".to_owned()))
//! }
//!
//! pride::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let shutdown = Shutdown::new();
//!     pride::task_group(async |tg| {
//!         let stop = shutdown.clone();
//!         let server = serve(listener, move |stream: TcpStream, _| {
//!             let connection = hyper::server::conn::http1::Builder::new()
//!                 .timer(Timer)
//!                 .serve_connection(HyperIo::new(stream), hyper::service::service_fn(hello));
//!             let stop = stop.clone();
//!             async move { graceful_connection(connection, &stop).await }
//!         })
//!         .graceful(shutdown.clone(), Duration::from_secs(10));
//!         tg.start_soon(server);
//!
//!         let stream = TcpStream::connect(addr).await?;
//!         let (mut sender, conn) =
//!             hyper::client::conn::http1::handshake::<_, String>(HyperIo::new(stream)).await?;
//!         tg.start_soon(conn);
//!         let request = hyper::Request::get("/").body(String::new())?;
//!         let response = sender.send_request(request).await?;
//!         assert_eq!(response.status(), 200);
//!         shutdown.trigger(); // the server closes the kept-alive connection and ends
//!         Ok::<_, pride::BoxError>(())
//!     })
//!     .await?;
//!     Ok::<_, pride::BoxError>(())
//! })
//! .unwrap();
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::TaskGroup;
use crate::shutdown::Shutdown;

/// A [`hyper::rt::Executor`] that starts each future as a child of a task group.
///
/// ```
/// pride::run(async {
///     pride::task_group(async |tg| {
///         let executor = pride::compat::hyper::Executor::new(tg.clone());
///         hyper::rt::Executor::execute(&executor, async { /* a background future */ });
///     })
///     .await
///     .unwrap();
/// });
/// ```
#[derive(Clone, Debug)]
pub struct Executor {
    group: TaskGroup,
}

impl Executor {
    /// An executor that spawns into `group`.
    pub fn new(group: TaskGroup) -> Executor {
        Executor { group }
    }
}

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// Starts `fut` in the group; its output is dropped. A panic in it fails the group.
    /// Once the group has exited, `fut` is dropped unstarted (nothing outlives the
    /// group): hyper sees the work it stood for end, as when a connection closes.
    fn execute(&self, fut: F) {
        // The error says the group has exited; the future is dropped with it.
        let _ = self.group.try_start_soon(async move {
            fut.await;
        });
    }
}

/// A [`hyper::rt::Timer`] on the runtime's clock ([`pride::sleep`](crate::sleep)), so
/// hyper's timeouts follow a mock or autojump clock too.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer;

impl hyper::rt::Sleep for crate::Sleep {}

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(crate::sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(crate::sleep_until(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<crate::Sleep>() {
            Some(ours) => ours.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }

    fn now(&self) -> Instant {
        crate::current_time()
    }
}

/// Adapts a `futures_io` stream (such as [`TcpStream`](crate::net::TcpStream) or
/// [`UnixStream`](crate::net::UnixStream)) to hyper's `Read` and `Write`, like
/// hyper-util's `TokioIo` does for tokio.
#[derive(Debug)]
pub struct HyperIo<T> {
    inner: T,
}

impl<T> HyperIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> HyperIo<T> {
        HyperIo { inner }
    }

    /// The wrapped stream.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// The most one read of a [`HyperIo`] takes at once.
const SCRATCH_LEN: usize = 64 * 1024;

thread_local! {
    static SCRATCH: std::cell::Cell<Option<Box<[u8]>>> = const { std::cell::Cell::new(None) };
}

impl<T> hyper::rt::Read for HyperIo<T>
where
    T: futures_io::AsyncRead + Unpin,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // hyper hands over a fresh, uninitialized cursor on every read; zeroing it
        // costs as much as the read. Read into this thread's scratch buffer instead and
        // copy out only what arrived. The buffer is taken out of its cell for the read,
        // so a reader that reads another `HyperIo` inside gets a buffer of its own.
        let mut scratch = SCRATCH
            .take()
            .unwrap_or_else(|| vec![0; SCRATCH_LEN].into_boxed_slice());
        let len = buf.remaining().min(scratch.len());
        let read = Pin::new(&mut self.inner).poll_read(cx, &mut scratch[..len]);
        if let Poll::Ready(Ok(n)) = read {
            assert!(
                n <= len,
                "pride: a reader reported more bytes than it was given"
            );
            buf.put_slice(&scratch[..n]);
        }
        SCRATCH.set(Some(scratch));
        read.map_ok(drop)
    }
}

impl<T> hyper::rt::Write for HyperIo<T>
where
    T: futures_io::AsyncWrite + Unpin,
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// A hyper connection that can be asked to finish gracefully: stop reading new
/// requests, finish the one in flight, then close.
pub trait GracefulConnection: Future {
    /// Starts the graceful shutdown; the connection future then completes once done.
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, B, S> GracefulConnection for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::Connection::graceful_shutdown(self);
    }
}

impl<I, B, S> GracefulConnection for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::UpgradeableConnection::graceful_shutdown(self);
    }
}

/// Drives `connection` to its end; once `shutdown` is triggered, asks it to finish
/// gracefully (the request in flight is answered, then the connection closes).
///
/// Pair it with [`Serve::graceful`](crate::net::Serve::graceful), whose grace period
/// bounds how long the connection may take to finish; see the module example.
pub async fn graceful_connection<C: GracefulConnection>(
    connection: C,
    shutdown: &Shutdown,
) -> C::Output {
    let mut connection = std::pin::pin!(connection);
    let mut requested = std::pin::pin!(shutdown.triggered());
    let mut asked = false;
    std::future::poll_fn(|cx| {
        if !asked && requested.as_mut().poll(cx).is_ready() {
            asked = true;
            connection.as_mut().graceful_shutdown();
        }
        connection.as_mut().poll(cx)
    })
    .await
}
