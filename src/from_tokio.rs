//! Coming from tokio: where each tool is in pride, and a small service ported whole.
//!
//! pride has no free-standing `spawn`. Every task is started in a [`TaskGroup`](crate::TaskGroup), and
//! the group's future does not finish before its children. A failing child cancels
//! its siblings, and the group returns every error with the task's name. Code that
//! spawned and forgot in tokio picks a group to own the task: the group of the
//! request, of the connection or of `main`.
//!
//! # The same tools, by name
//!
//! | tokio | pride |
//! | --- | --- |
//! | `#[tokio::main]`, `#[tokio::test]` | [`#[pride::main]`](crate::main), [`#[pride::test]`](crate::test) (the test clock is autojump, like `start_paused = true`) |
//! | `Runtime::block_on`, `Builder::new_multi_thread()` | [`Runtime::block_on`](crate::Runtime::block_on), [`Runtime::builder`](crate::Runtime::builder), or [`pride::run`](crate::run) |
//! | `tokio::spawn`, `JoinSet` | [`TaskGroup::spawn`](crate::TaskGroup::spawn) (returns a [`TaskHandle`](crate::TaskHandle)), [`TaskGroup::start_soon`](crate::TaskGroup::start_soon) (no handle), inside [`task_group`](crate::task_group) |
//! | `JoinHandle::abort` | [`TaskHandle::cancel`](crate::TaskHandle::cancel), or cancel a [`CancelScope`](crate::CancelScope) around the work |
//! | `CancellationToken` | [`CancelScope`](crate::CancelScope): cancel it, and everything run inside it stops at its next await |
//! | `tokio::time::timeout` | [`fail_after`](crate::fail_after) (an error on expiry) or [`move_on_after`](crate::move_on_after) (`None` on expiry) |
//! | `sleep`, `sleep_until`, `interval` | [`sleep`](crate::sleep), [`sleep_until`](crate::sleep_until), [`interval`](crate::interval) (also a `Stream`) |
//! | `time::pause`, `time::advance` | [`Clock::autojump`](crate::time::Clock::autojump), [`Clock::mock`](crate::time::Clock::mock), [`time::advance`](crate::time::advance) |
//! | `select!` | [`pride::select!`](crate::select), or [`race`](crate::race) for futures of one type |
//! | `spawn_blocking` | [`to_thread`](crate::to_thread) (cancellable: the caller stops waiting) |
//! | rayon inside `spawn_blocking` | [`pride::par`](crate::par): fork-join on the same workers, cancellable |
//! | `task::yield_now` | [`yield_now`](crate::yield_now) (or its other name, [`checkpoint`](crate::checkpoint)): a yield that is also where a cancel takes effect |
//! | `sync::Mutex`, `RwLock`, `Semaphore`, `Notify`, `Barrier` | [`Lock`](crate::Lock), [`sync::RwLock`](crate::sync::RwLock), [`Semaphore`](crate::Semaphore), [`sync::Notify`](crate::sync::Notify), [`sync::Barrier`](crate::sync::Barrier) |
//! | `sync::mpsc`, `oneshot`, `broadcast`, `watch` | [`sync::channel`](crate::sync::channel) or [`Queue`](crate::Queue), [`sync::oneshot`](crate::sync::oneshot), [`sync::broadcast`](crate::sync::broadcast), [`sync::watch`](crate::sync::watch) |
//! | `net::TcpListener`, `TcpStream`, `UdpSocket`, `UnixStream` | [`pride::net`](crate::net), with `&self` `read`/`write_all` and futures-io `AsyncRead`/`AsyncWrite` |
//! | an accept loop with `tokio::spawn` per connection | [`net::serve`](crate::net::serve): one isolated child per connection, limits, graceful drain |
//! | `tokio::fs`, `tokio::process` | [`pride::fs`](crate::fs), [`pride::process`](crate::process) (`kill_on_drop` too) |
//! | `tokio::signal::ctrl_c` | [`signal::ctrl_c`](crate::signal::ctrl_c), [`pride::shutdown`](crate::shutdown) for a graceful stop |
//! | tokio-console | [`debug::dump`](crate::debug::dump), [`Runtime::metrics`](crate::Runtime::metrics), the `tracing` feature |
//! | a crate that needs a tokio reactor (reqwest, tonic, sqlx) | feature `tokio`: [`compat::tokio`](crate::compat) runs it, and pride's scopes still cancel it |
//!
//! `tokio::io::AsyncReadExt` and friends have no copy here: pride's sockets, files and
//! pipes implement the `futures-io` traits, so `futures-lite` or `futures-util`
//! extension traits work on them.
//!
//! # What works differently
//!
//! - **Cancellation reaches the task.** A task is not dropped from outside at an
//!   arbitrary point: its future is dropped at its next suspension point inside a
//!   cancelled scope, its `Drop` code runs as cleanup, and a
//!   [shielded](crate::CancelScope::shield) scope can finish its work first. See
//!   [`semantics`](crate::semantics).
//! - **Errors are never lost.** A group returns a [`GroupError`](crate::GroupError) with
//!   every failure and panic of its children, by task name. tokio's `JoinSet` needs a
//!   loop to collect them and drops panics of tasks nobody joined.
//! - **Nothing outlives its group.** There is no detached task. A background task is a
//!   child of a group that lives as long as the work it serves (often `main`'s).
//! - **`select!` polls in order.** tokio's `select!` starts at a random branch (fair by
//!   default, `biased;` to opt out); [`pride::select!`](crate::select) always polls its
//!   branches in the order written, so put the branch that must not starve (a shutdown
//!   signal) first, and a branch that is always ready last.
//!
//! # A small service, ported
//!
//! An echo service with a timeout per read, a config read from a file, a child
//! process, and a `select!` between a shutdown signal and the server. Everything is
//! cancelled and joined when the block ends.
//!
//! ```
//! # #[cfg(unix)] {
//! use std::time::Duration;
//!
//! use pride::net::{TcpListener, TcpStream, serve};
//! use pride::{BoxError, Event};
//!
//! async fn echo(stream: TcpStream) -> Result<(), BoxError> {
//!     let mut buf = [0; 1024];
//!     loop {
//!         // tokio::time::timeout(d, stream.read(..)).await?? becomes:
//!         let n = pride::fail_after(Duration::from_secs(10), stream.read(&mut buf)).await??;
//!         if n == 0 {
//!             return Ok(());
//!         }
//!         stream.write_all(&buf[..n]).await?;
//!     }
//! }
//!
//! pride::run(async {
//!     // tokio::fs::write / read_to_string
//!     let path = std::env::temp_dir().join(format!("pride-port-{}", std::process::id()));
//!     pride::fs::write(&path, "greeting = hello").await?;
//!     let config = pride::fs::read_to_string(&path).await?;
//!     pride::fs::remove_file(&path).await?;
//!
//!     // tokio::process::Command
//!     let out = pride::process::Command::new("echo").arg("ready").output().await?;
//!     assert_eq!(out.stdout, b"ready\n");
//!
//!     let stop = Event::new();
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     pride::task_group(async |tg| {
//!         // tokio::spawn(server) becomes a child of this group.
//!         let server_stop = stop.clone();
//!         tg.start_soon_named("server", async move {
//!             pride::select! {
//!                 () = server_stop.wait() => Ok::<_, BoxError>(()),
//!                 served = serve(listener, |stream, _peer| echo(stream)) => Ok(served?),
//!             }
//!         });
//!         // A client, as a second child.
//!         let reply = tg.spawn(async move {
//!             let client = TcpStream::connect(addr).await?;
//!             client.write_all(config.as_bytes()).await?;
//!             let mut buf = vec![0; config.len()];
//!             let mut got = 0;
//!             while got < buf.len() {
//!                 got += client.read(&mut buf[got..]).await?;
//!             }
//!             Ok::<_, BoxError>(String::from_utf8(buf)?)
//!         });
//!         assert_eq!(reply.await?, "greeting = hello");
//!         stop.set(); // the server returns; the group then ends
//!         Ok::<_, BoxError>(())
//!     })
//!     .await?;
//!     Ok::<_, BoxError>(())
//! })
//! .unwrap();
//! # }
//! ```
