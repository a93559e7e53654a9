//! tokio-ecosystem libraries (reqwest, tonic, sqlx-style clients, anything built on
//! `tokio::net` or `tokio::time`) on pride.
//!
//! Such libraries need a tokio reactor and timer, and panic with "there is no reactor
//! running" without one. This module keeps one for them: a tokio runtime with a single
//! worker thread (named `pride-tokio`), started the first time it is needed and kept
//! for the life of the process. [`enter`] wraps a future so that every poll of it
//! happens inside that runtime's context: tokio types created inside it register with
//! the background runtime, whose thread drives their I/O and timers and wakes the
//! pride task that awaits them. The future itself still runs on pride.
//!
//! **Cancellation** works as for any pride future: a cancel scope drops the wrapped
//! future at its suspension point, and with it the tokio sleep, socket read or HTTP
//! request inside. `tokio::spawn` inside [`enter`] spawns onto the background runtime:
//! such a task is outside pride's task groups and is not cancelled with them, so
//! prefer awaiting the work directly.
//!
//! **Budget.** pride lets a task complete a bounded number of operations (channel
//! receives, lock acquires, socket reads, ...) in one poll before it makes the task
//! yield its worker to the others; tokio's operations count nothing against it. An
//! [`enter`] that completes counts as one operation, so a loop of `enter` calls over
//! tokio operations that are always ready still yields. A single long-lived `enter`
//! future that loops inside itself over ready tokio operations does not: tokio offers
//! no way to give the code it wraps a budget of its own, so such a loop keeps its
//! worker until it waits. Await something of pride's inside the loop from time to time
//! (`pride::yield_now().await`), or loop outside `enter`.
//!
//! **Clocks.** tokio's timers run on tokio's clock, which is always real time. Under
//! a pride mock or autojump clock (`#[pride::test]`'s default), a task waiting on a
//! tokio timer or socket is, for pride, blocked on nothing it can see: the autojump
//! clock jumps to the next pride deadline as if the task were idle, and a pride
//! deadline around the tokio wait fires at once. Tests that wait on tokio for real
//! want `#[pride::test(clock = "system")]`.
//!
//! For I/O, [`FuturesAsyncReadCompatExt::compat`] and friends (re-exported from
//! `tokio-util`) turn a pride socket (`futures_io`) into a `tokio::io` one, and a
//! tokio socket into a `futures_io` one.
//!
//! ```
//! use std::time::Duration;
//!
//! pride::run(async {
//!     // A tokio timer awaited from pride. It is created inside `enter`'s future:
//!     // `tokio::time::sleep(..)` outside any tokio context panics.
//!     pride::compat::tokio::enter(async { tokio::time::sleep(Duration::from_millis(1)).await }).await;
//!
//!     // A tokio call cut short by a pride deadline.
//!     let slow = pride::compat::tokio::enter(async {
//!         tokio::time::sleep(Duration::from_secs(3600)).await;
//!         "finished"
//!     });
//!     assert_eq!(pride::move_on_after(Duration::from_millis(10), slow).await, None);
//! });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

pub use tokio_util::compat::{
    Compat, FuturesAsyncReadCompatExt, FuturesAsyncWriteCompatExt, TokioAsyncReadCompatExt,
    TokioAsyncWriteCompatExt,
};

/// A handle to the background tokio runtime, started on first use.
///
/// Use it for what needs a handle rather than a context, such as
/// `handle().spawn_blocking(..)` or a library that takes a `tokio::runtime::Handle`.
///
/// # Panics
/// If the runtime's thread cannot be started (the system is out of threads).
///
/// ```
/// let handle = pride::compat::tokio::handle();
/// assert_eq!(handle.block_on(async { 6 * 7 }), 42);
/// ```
pub fn handle() -> ::tokio::runtime::Handle {
    static RUNTIME: OnceLock<::tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            ::tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("pride-tokio")
                .enable_all()
                .build()
                .expect("pride: could not start the background tokio runtime")
        })
        .handle()
        .clone()
}

/// Wraps `future` so that it is polled, and dropped, inside the background tokio
/// runtime's context (see the [module docs](self)). Create tokio types, and clients
/// of tokio libraries, inside the wrapped future, not before: `tokio::time::sleep(..)`
/// called outside a tokio context panics.
///
/// ```
/// pride::run(async {
///     let n = pride::compat::tokio::enter(async {
///         // tokio::spawn and tokio::task::spawn_blocking work in here too.
///         tokio::task::spawn_blocking(|| 7).await.unwrap()
///     })
///     .await;
///     assert_eq!(n, 7);
/// });
/// ```
pub fn enter<F: Future>(future: F) -> Enter<F> {
    Enter {
        future: Some(Box::pin(future)),
        handle: handle(),
    }
}

/// The future of [`enter`]: `F`, polled inside the background tokio runtime's
/// context.
///
/// ```
/// use futures_lite::FutureExt;
///
/// pride::run(async {
///     let local = pride::compat::tokio::enter(async {
///         let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///         listener.local_addr()
///     });
///     // An `Enter` is an ordinary future: combine it, box it, race it.
///     let addr = local.boxed().await.unwrap();
///     assert!(addr.ip().is_loopback());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Enter<F> {
    future: Option<Pin<Box<F>>>,
    handle: ::tokio::runtime::Handle,
}

impl<F: Future> Future for Enter<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let future = this
            .future
            .as_mut()
            .expect("pride::compat::tokio::Enter polled after it completed");
        // tokio's operations do not spend pride's budget: the `enter` that completes
        // spends a unit for them, so that a loop of `enter`s over ready tokio
        // operations yields its worker.
        let output = std::task::ready!(crate::runtime::coop::poll_proceed(cx, |cx| {
            let _context = this.handle.enter();
            future.as_mut().poll(cx)
        }));
        // Dropped inside tokio's context too: some tokio types look for it then.
        let _context = this.handle.enter();
        this.future = None;
        Poll::Ready(output)
    }
}

impl<F> Drop for Enter<F> {
    fn drop(&mut self) {
        // Some tokio types look for a context when they are dropped, too.
        if let Some(future) = self.future.take() {
            let _context = self.handle.enter();
            drop(future);
        }
    }
}

impl<F> std::fmt::Debug for Enter<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enter")
            .field("done", &self.future.is_none())
            .finish_non_exhaustive()
    }
}
