//! pride is a multi-threaded, work-stealing async runtime in which all concurrency is
//! structured.
//!
//! # Task groups
//!
//! There is no free-standing `spawn`. Concurrent work runs in a [`task_group`]: the
//! group's body starts children, and the group's future completes only when the body
//! and every child have finished.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! pride::run(async {
//!     let sum = Arc::new(AtomicU64::new(0));
//!     pride::task_group(async |tg| {
//!         for i in 1..=100 {
//!             let sum = sum.clone();
//!             tg.start_soon(async move {
//!                 sum.fetch_add(i, Ordering::Relaxed);
//!             });
//!         }
//!     })
//!     .await
//!     .unwrap();
//!     // Every child has finished here.
//!     assert_eq!(sum.load(Ordering::Relaxed), 5050);
//! });
//! ```
//!
//! # Errors
//!
//! A child (or the body) fails by returning `Err` or by panicking. The first failure
//! cancels the group: the other children, and the body, are dropped at their next
//! suspension point. The group then returns a [`GroupError`] with every error and
//! panic, each with its task's name.
//!
//! ```
//! pride::run(async {
//!     let error = pride::task_group(async |tg| {
//!         tg.start_soon_named("parser", async { Err::<(), _>("unexpected end of input") });
//!         tg.start_soon_named("waiter", std::future::pending::<()>());
//!     })
//!     .await
//!     .unwrap_err();
//!     assert_eq!(error.errors().len(), 1);
//!     assert_eq!(error.errors()[0].name(), Some("parser"));
//! });
//! ```
//!
//! # Cancellation
//!
//! Cancellation is dropping: a cancelled task's future is dropped at its next
//! suspension point, and its `Drop` impls are its cleanup. Each group owns a
//! [`CancelScope`]; cancelling it cancels everything inside, down through nested
//! groups. Dropping a group's future cancels its children and returns only once none
//! of them is running (a drop that runs inside one of them cannot wait for it: see
//! [`semantics`], "No orphans").
//!
//! # Starting a service
//!
//! A server is the one place where "the first failure cancels everything" is the wrong
//! default: one client that resets its connection must not take the others down.
//! [`net::serve`] runs each connection as an *isolated* child
//! ([`TaskGroup::start_soon_isolated`]): its error or panic is reported (to standard
//! error, or to your [`on_error`](net::Serve::on_error) hook) and ends that connection
//! only, while cancelling the server still cancels every connection.
//!
//! [`TaskGroup::start`] runs a child until it reports that it is ready, and returns
//! what it reported. A [`shutdown::Shutdown`] (triggered by [`signal::ctrl_c`] in a
//! real program) stops the server gracefully: it stops accepting, gives open
//! connections a grace period, then cancels them.
//!
//! ```
//! use std::time::Duration;
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use pride::net::{TcpListener, TcpStream, serve};
//! use pride::shutdown::Shutdown;
//!
//! /// Echoes until the client closes; an error ends this connection only.
//! async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
//!     let mut buf = [0; 1024];
//!     loop {
//!         let n = stream.read(&mut buf).await?;
//!         if n == 0 {
//!             return Ok(());
//!         }
//!         stream.write_all(&buf[..n]).await?;
//!     }
//! }
//!
//! pride::run(async {
//!     let shutdown = Shutdown::new();
//!     pride::task_group(async |tg| {
//!         let stop = shutdown.clone();
//!         let addr = tg
//!             .start(|status| async move {
//!                 let listener = TcpListener::bind("127.0.0.1:0").await?;
//!                 status.started(listener.local_addr()?);
//!                 serve(listener, |stream, _peer| echo(stream))
//!                     .graceful(stop, Duration::from_secs(10))
//!                     .await?;
//!                 Ok::<_, pride::BoxError>(())
//!             })
//!             .await?;
//!         let mut client = TcpStream::connect(addr).await?;
//!         client.write_all(b"hello").await?;
//!         let mut echoed = [0; 5];
//!         client.read_exact(&mut echoed).await?;
//!         assert_eq!(&echoed, b"hello");
//!         shutdown.trigger(); // in a real server: on `pride::signal::ctrl_c()`
//!         Ok::<_, pride::BoxError>(())
//!     })
//!     .await
//!     .unwrap();
//! });
//! ```
//!
//! Long-running parts that should come back after a failure go under a supervisor
//! ([`supervise`]): restart one-for-one or one-for-all, with a backoff and a restart
//! budget.
//!
//! # Deadlines
//!
//! A deadline is a cancel that happens by itself. [`move_on_after`] gives up quietly
//! (`None`), [`fail_after`] with a [`TimeoutError`]; a group's own deadline
//! (`tg.cancel_scope().set_deadline(..)`) that cuts work short makes the group return
//! an error with [`GroupError::is_timeout`]. Tests use [`time::Clock::autojump`]: when
//! every task waits, time jumps to the next deadline, so this hour passes at once.
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = pride::Runtime::builder()
//!     .clock(pride::time::Clock::autojump())
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     let start = pride::current_time();
//!     let out = pride::move_on_after(Duration::from_secs(3600), std::future::pending::<()>()).await;
//!     assert_eq!(out, None);
//!     assert_eq!(pride::current_time() - start, Duration::from_secs(3600));
//! });
//! ```
//!
//! # CPU fan-out
//!
//! [`par`] runs CPU-bound work on the same workers as the tasks: its closures may
//! borrow, a worker waiting for a stolen half helps with other pieces, a panic or an
//! error stops the other pieces and reaches the caller, and a cancelled scope stops
//! handing out new pieces.
//!
//! ```
//! pride::run(async {
//!     let words = ["alpha", "beta", "gamma"];
//!     let lengths = pride::par::map(&words, |word| word.len());
//!     assert_eq!(lengths, [5, 4, 5]);
//!     let (total, longest) = pride::par::join(
//!         || lengths.iter().sum::<usize>(),
//!         || lengths.iter().copied().max(),
//!     );
//!     assert_eq!((total, longest), (14, Some(5)));
//! });
//! ```
//!
//! # Running
//!
//! [`Runtime::block_on`] runs a future on the calling thread while the runtime's
//! workers (one per core by default) run the children; [`run`] does both in one call.
//! Blocking code goes to [`to_thread`]; sockets are in [`net`]; primitives in
//! [`sync`]; common shapes of concurrency ([`gather`], [`race`], [`bounded_map`],
//! [`as_completed`], [`retry`]) in [`patterns`].
//! Files are in [`fs`], child processes in [`process`], Unix signals in `signal`;
//! services add isolated children ([`TaskGroup::start_soon_isolated`]), restarts
//! ([`supervise`]), an accept loop ([`net::serve`]) and graceful stops ([`shutdown`]).
//! `#[pride::main]` and `#[pride::test]` build the runtime for a `main` or a test.
//! What a running program is doing (its task tree, its counters, a task that blocks
//! a worker) is in [`debug`].
//!
//! The rules all of this follows (joins, errors, cancellation, deadlines, `start`,
//! cleanup) are written out in one place: [`semantics`].
//!
//! # Where items live
//!
//! The core (running, task groups, cancel scopes and deadlines) lives at the crate
//! root. The most used primitives, timers and patterns are also re-exported at the root
//! (`pride::Event` is `pride::sync::Event`, `pride::sleep` is `pride::time::sleep`);
//! they are documented once, in their module.
//!
//! Coming from tokio? [`from_tokio`] maps each tokio tool to pride's and ports a small
//! service; [`semantics`] states the rules of groups and cancel scopes.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub(crate) mod cancel;
pub mod compat;
mod configured;
pub mod debug;
pub mod from_tokio;
pub mod fs;
pub(crate) mod group;
pub(crate) mod loom;
mod macros;
pub mod net;
pub mod par;
pub mod patterns;
#[cfg(unix)]
pub mod process;
pub(crate) mod runtime;
mod select;
#[doc(hidden)]
pub use select::{__select_cancelled, __select_pending, __select_poll, __select_won};
pub mod semantics;
pub mod shutdown;
#[cfg(unix)]
pub mod signal;
mod supervise;
pub mod sync;
pub(crate) mod task;
#[cfg(test)]
mod test_util;
pub mod time;

pub use cancel::{
    CancelScope, FailAfter, ScopeRun, TimeoutError, checkpoint, current_effective_deadline,
    fail_after, fail_at, move_on_after, move_on_at,
};
pub use group::error::TaskOutput;
pub use group::{
    BoxError, GroupClosed, GroupError, StartError, StartFuture, StartSoonWait, TaskError,
    TaskGroup, TaskGroupFuture, TaskHandle, TaskStatus, TryStartError, task_group,
    task_group_with_limit,
};
pub use macros::{main, test};
#[doc(no_inline)]
pub use patterns::{
    AsCompleted, Retry, RetryError, RetryFuture, as_completed, bounded_map, gather, race, retry,
};
pub use runtime::{Builder, Runtime, ToThread, YieldNow, run, to_thread, yield_now};
pub use supervise::{RestartPolicy, Supervisor, supervise};
#[doc(no_inline)]
pub use sync::{CapacityLimiter, Event, Lock, Queue, Semaphore};
#[doc(no_inline)]
pub use time::{Interval, Sleep, current_time, interval, sleep, sleep_until};

/// The lock-free core, reached by the loom models in `loom-tests/`. Exists only under
/// `--cfg pride_loom`; the items it names are `pub` inside `pub(crate)` modules, so
/// nothing of this leaks into a normal build.
#[cfg(pride_loom)]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod __loom {
    /// Tasks: the state word, the waker vtable and the join handle.
    pub mod task {
        pub use crate::task::{JoinHandle, Notified, Schedule, Task, new_joinable, new_task};
    }

    /// The workers' sleep/wake protocol.
    pub mod runtime {
        pub use crate::runtime::idle::Idle;
        pub use crate::runtime::idle::{Worker, found_work, park_unless, park_waiter, run, search};
        pub use crate::runtime::park::{Parker, Unparker, WakeDriver};

        /// Where the blocked-poll watchdog dozes while every worker sleeps.
        pub use crate::debug::watchdog::Bell;
    }

    /// A group's child counter and error stack.
    pub mod group {
        pub use crate::cancel::run::caught_after_cleanup;
        pub use crate::group::TaskError;
        pub use crate::group::shared::{
            ChildCounter, ErrorStack, count_out, hand_over, hold_count, release_held,
        };

        /// A task error holding `error`, as a failing child reports it.
        pub fn task_error(error: crate::BoxError) -> TaskError {
            TaskError::new(None, crate::group::error::Kind::Error(error))
        }
    }

    /// A task group's concurrency limit.
    pub mod limit {
        pub use crate::group::limit_loom_api::*;
    }

    /// `TaskGroup::start`'s hand-over between the caller and the child.
    pub mod start {
        pub use crate::group::start::loom_api::*;
        pub use crate::group::{StartError, TaskStatus};
    }

    /// The latch a `par` worker waits on for stolen halves and scope spawns.
    pub mod par {
        pub use crate::par::latch::CountLatch;
    }

    /// The cancel-scope tree.
    pub mod cancel {
        pub use crate::cancel::node::{Catcher, ScopeNode};
    }

    /// The sync room's queue.
    pub mod sync {
        pub use crate::sync::loom_api::*;
    }

    /// Timer entries.
    pub mod time {
        pub use crate::time::loom_api::*;
    }

    /// One socket registration's readiness state.
    pub mod net {
        pub use crate::net::scheduled_io::loom_api::*;
    }

    /// The runtime's list of every group that started a child, through which its
    /// shutdown drops every live task.
    pub mod owned {
        pub use crate::runtime::owned::loom_api::*;
    }
}
