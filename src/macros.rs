//! The `#[pride::main]` and `#[pride::test]` attributes, from the `pride-macros` crate,
//! with their documentation.

/// Runs `async fn main` on a pride runtime: the body is the root future of
/// [`Runtime::block_on`](crate::Runtime::block_on).
///
/// Options: `workers = N` (worker threads, default one per core) and
/// `clock = "system" | "mock" | "autojump"` (default `"system"`). `main` may return
/// what a plain `main` may, such as `Result<(), E>`. `N` is an integer literal in any
/// of Rust's spellings (`4`, `1_000`, `4usize`), and the clock a string literal, plain
/// or raw (`r"system"`). Each option may be given once.
///
/// ```
/// #[pride::main(workers = 2)]
/// async fn main() -> Result<(), pride::GroupError> {
///     let squares = pride::gather((1..=3).map(|i| async move { Ok::<_, pride::BoxError>(i * i) })).await?;
///     assert_eq!(squares, [1, 4, 9]);
///     Ok(())
/// }
/// ```
///
/// The function must be `async`, take no arguments, and the options must be known:
///
/// ```compile_fail
/// #[pride::main]
/// fn main() {}
/// ```
///
/// ```compile_fail
/// #[pride::main(workers = 0)]
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[pride::main]
/// async fn main(args: Vec<String>) {}
/// ```
///
/// ```compile_fail
/// #[pride::main(workers = 2, workers = 4)]
/// async fn main() {}
/// ```
///
/// A runtime has at most [`Builder::MAX_WORKER_THREADS`](crate::Builder::MAX_WORKER_THREADS)
/// workers; a larger `workers` does not compile:
///
/// ```compile_fail,E0080
/// #[pride::main(workers = 70000)]
/// async fn main() {}
/// ```
#[doc(inline)]
pub use pride_macros::main;
/// Runs an `async fn` test on a fresh pride runtime, with the autojump clock by
/// default: when every task waits, time jumps to the next deadline, so a test of an
/// hour-long timeout finishes at once.
///
/// Options: `workers = N` (worker threads, default one per core) and
/// `clock = "autojump" | "mock" | "system"` (default `"autojump"`), each given at most
/// once and written as for [`#[pride::main]`](crate::main). Other test attributes
/// (`#[should_panic]`, `#[ignore]`) go after it. A test may return `Result<(), E>`.
///
/// The autojump clock does not jump while blocking-pool work (`pride::fs`,
/// [`to_thread`](crate::to_thread)) is queued or running (a closure waiting in a
/// `block_on` of the same runtime excepted: see
/// [`Clock::autojump`](crate::time::Clock::autojump)), but it counts a task that
/// waits on a socket, a child process or a tokio future (inside
/// `compat::tokio::enter`, whose timers run on tokio's own clock) as blocked. What the
/// kernel already holds is seen before time jumps (bytes or a connection another task
/// of the test made over a Unix socket or a pipe; over TCP on loopback almost always),
/// but a pride deadline around a wait for another process, a remote peer or a tokio
/// future fires at once: give those tests `clock = "system"`.
///
/// A test stuck on the autojump clock says why: when every task has been blocked for
/// 100 ms with no timer armed and no socket registered, the runtime prints "pride:
/// every task is blocked and no timer is armed" and the task tree, with each task's
/// name, to stderr, once per episode. The test goes on waiting (another thread may
/// still wake a task); name the tasks you start (`start_soon_named`) to read the tree
/// easily.
///
/// ```
/// #[pride::test]
/// async fn an_hour_passes_at_once() {
///     let start = pride::current_time();
///     pride::sleep(std::time::Duration::from_secs(3600)).await;
///     assert_eq!(pride::current_time() - start, std::time::Duration::from_secs(3600));
/// }
///
/// #[pride::test(workers = 2, clock = "system")]
/// async fn on_the_real_clock() -> std::io::Result<()> {
///     let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
///     assert!(listener.local_addr()?.port() > 0);
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// An unknown option, or an unknown clock, is an error:
///
/// ```compile_fail
/// #[pride::test(threads = 2)]
/// async fn t() {}
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// #[pride::test(clock = "fast")]
/// async fn t() {}
/// # fn main() {}
/// ```
///
/// An option given twice is an error too:
///
/// ```compile_fail
/// #[pride::test(clock = "system", clock = "autojump")]
/// async fn t() {}
/// # fn main() {}
/// ```
#[doc(inline)]
pub use pride_macros::test;
