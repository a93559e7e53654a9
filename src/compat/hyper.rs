//! hyper 1 on pride: an executor that spawns into a task group, a timer on
//! [`pride::sleep`](crate::sleep), and an I/O adapter from `futures_io` to
//! `hyper::rt::{Read, Write}`.
//!
//! Structured concurrency holds here too: [`Executor`] spawns hyper's background
//! futures (HTTP/2 connection tasks, for one) as children of the [`TaskGroup`] it was
//! made from, so they cannot outlive it and are cancelled with it.
//!
//! Rules of this module's one `unsafe` block: `ReadBufCursor::advance(n)` is sound
//! only if `n` more bytes of the cursor are initialized; we read into
//! `initialize_unfilled()` (all initialized) and advance by what the read reported,
//! which is at most that slice's length.
//!
//! ```
//! use pride::compat::hyper::{HyperIo, Timer};
//! use pride::net::{TcpListener, TcpStream};
//!
//! async fn hello(
//!     _: hyper::Request<hyper::body::Incoming>,
//! ) -> Result<hyper::Response<String>, std::convert::Infallible> {
//!     Ok(hyper::Response::new("hello".to_owned()))
//! }
//!
//! pride::run(async {
//!     pride::task_group(async |tg| {
//!         let listener = TcpListener::bind("127.0.0.1:0").await?;
//!         let addr = listener.local_addr()?;
//!         tg.start_soon(async move {
//!             let (stream, _) = listener.accept().await?;
//!             hyper::server::conn::http1::Builder::new()
//!                 .timer(Timer)
//!                 .serve_connection(HyperIo::new(stream), hyper::service::service_fn(hello))
//!                 .await?;
//!             Ok::<_, pride::BoxError>(())
//!         });
//!         let stream = TcpStream::connect(addr).await?;
//!         let (mut sender, conn) =
//!             hyper::client::conn::http1::handshake::<_, String>(HyperIo::new(stream)).await?;
//!         tg.start_soon(conn);
//!         let request = hyper::Request::get("/").body(String::new())?;
//!         let response = sender.send_request(request).await?;
//!         assert_eq!(response.status(), 200);
//!         Ok::<_, pride::BoxError>(())
//!     })
//!     .await
//!     .unwrap();
//! });
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use crate::TaskGroup;

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
    fn execute(&self, fut: F) {
        self.group.start_soon(async move {
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

impl<T> hyper::rt::Read for HyperIo<T>
where
    T: futures_io::AsyncRead + Unpin,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        let len = unfilled.len();
        let n = ready!(Pin::new(&mut self.inner).poll_read(cx, unfilled))?;
        assert!(
            n <= len,
            "pride: a reader reported more bytes than it was given"
        );
        // SAFETY: the first `n` bytes of the unfilled part are initialized:
        // `initialize_unfilled` initialized all `len` of them and `n <= len`.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
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
