//! The runtime: worker threads with work-stealing queues, the driver they park in, and
//! `block_on`, which runs the root future on the calling thread.
//!
//! `worker.rs` holds the run loop and the queues; `idle.rs` the protocol that decides
//! who sleeps and who is woken (its proof is in `README.md` beside it); `park.rs` how a
//! thread sleeps; `driver.rs` the I/O and timer driver; `context.rs` the thread-local
//! that tells code which runtime it runs on; `blocking.rs` the pool behind `to_thread`.

mod blocking;
pub(crate) mod context;
pub(crate) mod coop;
mod driver;
pub(crate) mod idle;
pub(crate) mod metrics;
pub(crate) mod owned;
pub(crate) mod park;
mod worker;
mod yield_now;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::debug::watchdog;
use crate::time::Clock;

pub(crate) use blocking::{NotRun, to_thread_kept};
pub use blocking::{ToThread, to_thread};
pub(crate) use driver::contain_waker_panic;
pub(crate) use owned::Shard;
#[cfg(all(unix, not(pride_loom)))]
pub(crate) use worker::Shared;
pub(crate) use worker::{Core, Handle, wake_many, with_worker_counters};
pub use yield_now::{YieldNow, yield_now};

/// A pride runtime: a pool of worker threads that run the tasks of task groups.
///
/// Create one with [`Runtime::new`] (one worker per core) or [`Runtime::builder`], and
/// run the root future with [`Runtime::block_on`]. Dropping the runtime stops and joins
/// its workers, drops the tasks still there, and waits for the calls of
/// [`fs::File`](crate::fs::File)s that change a file (the last write of a dropped
/// `File`, say), however long they block (a write to a pipe nobody reads, say); it
/// does not wait for other [`to_thread`] closures still running, and those still
/// queued never run.
///
/// The tasks still there are dropped, each task's future once. A task queued on a
/// worker as that worker stops is dropped by the worker, on its thread; the others
/// (waiting, or queued for any worker to take) are dropped on the dropping thread.
/// Dropping one may wake another (a `Drop` that sets an [`Event`](crate::Event), say):
/// the woken task is queued, as while the runtime runs, and dropped after, never inside
/// the waker's call, so a cleanup that takes a lock the waker holds does not deadlock.
/// A task group still awaited when its child is dropped this way (one a `to_thread`
/// closure awaits, say) does not count an ordinary child as done: the child fails, by name,
/// with an error saying the runtime was dropped before the task finished, which goes
/// where its failures go (its group; its `start` caller, before it started). An
/// isolated child's failures never reach its group: this one is not reported.
/// The runtime may also be dropped inside one of its own tasks (the task held the last
/// `Arc` of it, say): the drop can neither join that task's worker nor wait for that
/// task's poll, further down the same thread's stack. That task is cancelled: it goes
/// on to the end of its poll and is then dropped, and the groups dropped meanwhile (its
/// own among them) do not wait for it. The drop joins the other workers first, though:
/// it hangs if one of them waits for that task's poll to end meanwhile (dropping a
/// group the task is a child of, or in a `par` call one of whose pieces the task's
/// worker runs). Drop a runtime from outside it where you can.
///
/// ```
/// let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
/// let sum = rt.block_on(async { 20 + 22 });
/// assert_eq!(sum, 42);
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Vec<JoinHandle<()>>,
    /// The watchdog and signal threads; stopped when the runtime is dropped (after
    /// the workers).
    _observers: crate::debug::Observers,
}

/// Configures a [`Runtime`]. Made by [`Runtime::builder`].
#[derive(Clone)]
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: String,
    clock: Clock,
    max_blocking_threads: usize,
    blocked_poll_threshold: Option<Duration>,
    on_blocked_worker: watchdog::Report,
    on_deadlock: crate::debug::deadlock::Report,
    thread_stack_size: Option<usize>,
}

/// The default [`Builder::blocked_poll_threshold`].
const BLOCKED_POLL_THRESHOLD: Duration = Duration::from_millis(100);

impl Runtime {
    /// A runtime with one worker thread per available core.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A builder to configure the runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Runs `future` to completion on the calling thread, while the workers run the
    /// tasks it spawns, and returns its output.
    ///
    /// # Panics
    /// When called from within a pride runtime (a task, or another `block_on`): that
    /// would block a thread the runtime needs. Await the future instead. Also when
    /// called from a thread-local's destructor after this thread's pride context was
    /// destroyed: the future could reach no runtime.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter(&self.handle);
        let root = crate::debug::tree::Root::enter(&self.handle.shared.roots, self.handle.time());
        let parker = park::Parker::new();
        // Counted as running until `_call` is dropped, at the return or the unwind.
        let (thread, _call) =
            park::ThreadWaker::new(&parker, self.handle.shared.block_on_active.clone());
        // On a blocking-pool thread of this runtime (inside a `to_thread` closure), the
        // closure's job stops holding the autojump clock while this call runs; this
        // call's root counts instead. Dropped before `_call`, so the job counts again
        // before the call stops counting.
        let _nested = self.handle.shared.blocking.nested_block_on();
        let waker = Waker::from(thread.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = root.poll(future.as_mut(), &mut cx) {
                return output;
            }
            thread.sleep(&parker);
        }
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The number of worker threads.
    pub fn worker_threads(&self) -> usize {
        self.threads.len()
    }

    /// The runtime's counters and queue depths, read now. See
    /// [`RuntimeMetrics`](crate::debug::RuntimeMetrics) for each number.
    ///
    /// ```
    /// let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
    /// rt.block_on(async {
    ///     pride::task_group(async |tg| {
    ///         tg.start_soon(async {});
    ///         tg.start_soon(async {});
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// let metrics = rt.metrics();
    /// assert_eq!(metrics.tasks_spawned, 2);
    /// assert_eq!(metrics.tasks_alive, 0);
    /// ```
    pub fn metrics(&self) -> crate::debug::RuntimeMetrics {
        self.handle.metrics()
    }

    /// A copy of the runtime's task tree (what each `block_on` call runs, and its
    /// scopes, groups and tasks); see [`TreeDump`](crate::debug::TreeDump). Callable
    /// from any thread, e.g. a thread that watches a stuck program.
    ///
    /// ```
    /// let rt = pride::Runtime::builder().worker_threads(1).build().unwrap();
    /// assert!(rt.dump().roots.is_empty()); // no `block_on` is running
    /// ```
    pub fn dump(&self) -> crate::debug::TreeDump {
        self.handle.dump()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.handle.shutdown();
        self.handle.shared.blocking.shutdown();
        let current = std::thread::current().id();
        for thread in self.threads.drain(..) {
            // A runtime dropped from one of its own workers cannot join that worker.
            if thread.thread().id() != current {
                let _ = thread.join();
            }
        }
        // A `par` call still queued would wait for ever for a worker: its caller
        // blocks on it.
        self.handle.close_par();
        self.handle.drop_all_tasks();
        // The calls of `fs::File`s that change the file (a dropped file's among them)
        // are writes the program was told were done: they run before the drop returns.
        self.handle.shared.blocking.wait_for_kept();
        // Sockets may outlive the runtime; from now on they fail instead of waiting
        // for a driver that nobody turns.
        self.handle.shared.driver.reactor().shut_down();
        // So may sleeps and deadlines: their tasks are woken, and a timer polled from
        // now on moves to the runtime it is polled in.
        self.handle.time().shut_down();
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("clock", &self.clock)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("blocked_poll_threshold", &self.blocked_poll_threshold)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("worker_threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// The most worker threads a runtime may have: a larger
    /// [`worker_threads`](Builder::worker_threads) panics, and the default of one
    /// worker per core is capped to it.
    pub const MAX_WORKER_THREADS: usize = idle::MAX_WORKERS;

    /// The smallest stack, in bytes, that [`thread_stack_size`](Builder::thread_stack_size)
    /// accepts: 128 KiB. The runtime's own code (a worker's loop, a task's poll, a
    /// panic's unwinding) runs on these stacks, and a stack of a few tens of KiB
    /// overflows in it, more so in a build without optimisations; this leaves room
    /// for a task's own futures too, which need more the deeper they nest.
    pub const MIN_THREAD_STACK_SIZE: usize = 128 << 10;

    /// A builder with the defaults: one worker per core, threads named `pride-worker`.
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            thread_name: "pride-worker".to_owned(),
            clock: Clock::system(),
            max_blocking_threads: blocking::DEFAULT_MAX_THREADS,
            blocked_poll_threshold: Some(BLOCKED_POLL_THRESHOLD),
            on_blocked_worker: watchdog::print_report(),
            on_deadlock: crate::debug::deadlock::print_report(),
            thread_stack_size: None,
        }
    }

    /// Sets the number of worker threads.
    ///
    /// # Panics
    /// If `n` is zero: a runtime without workers could never run a child task. If `n`
    /// is more than [`MAX_WORKER_THREADS`](Builder::MAX_WORKER_THREADS), the most
    /// workers the runtime's bookkeeping can count.
    #[track_caller]
    pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
        assert!(
            n > 0,
            "pride: a runtime needs at least one worker thread (worker_threads(0) was asked for)"
        );
        assert!(
            n <= Builder::MAX_WORKER_THREADS,
            "pride: a runtime has at most {} worker threads (Builder::MAX_WORKER_THREADS); \
             worker_threads({n}) was asked for",
            Builder::MAX_WORKER_THREADS
        );
        self.worker_threads = Some(n);
        self
    }

    /// Sets the worker threads' name prefix (each gets `-{index}` appended).
    ///
    /// # Errors
    /// A name with a NUL byte (`'\0'`) is no thread name: [`build`](Builder::build)
    /// then returns an [`InvalidInput`](io::ErrorKind::InvalidInput) error.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = name.into();
        self
    }

    /// Sets the clock: [`Clock::system`] (the default), [`Clock::mock`] (time moves only
    /// with [`time::advance`](crate::time::advance)) or [`Clock::autojump`] (a mock clock
    /// that jumps to the next deadline whenever every task is blocked, so tests of long
    /// timeouts finish at once). Every runtime built with clones of one mock clock, as
    /// every runtime built from this builder is, shares its time and its `advance`.
    pub fn clock(&mut self, clock: Clock) -> &mut Builder {
        self.clock = clock;
        self
    }

    /// Sets the most threads the blocking pool of [`to_thread`] may run at once
    /// (default 512); closures beyond it wait in a queue. A thread whose closure waits
    /// in [`Runtime::block_on`] of the same runtime does not count while it waits
    /// there, so that the `to_thread` closures its future awaits still find a
    /// thread; nor, until it ends, does a thread whose closure itself called
    /// [`to_thread`] (or a [`fs`](crate::fs) function), which it may wait for.
    ///
    /// # Panics
    /// If `n` is zero: no closure could ever run.
    #[track_caller]
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        assert!(n > 0, "pride: max_blocking_threads must be at least 1");
        self.max_blocking_threads = n;
        self
    }

    /// Sets how long one poll of a task may keep its worker busy before it is reported
    /// as blocking the worker (default 100 ms); `None` turns the report off.
    ///
    /// Each such poll is reported once, with the task's name if it has one, on stderr
    /// or to the [`on_blocked_worker`](Builder::on_blocked_worker) handler, and counted
    /// in [`RuntimeMetrics::blocked_polls`](crate::debug::RuntimeMetrics::blocked_polls).
    /// The watch is a thread that looks at the workers' poll counters a few times per
    /// threshold while a poll runs, once per threshold while none does, and not at all
    /// while every worker sleeps. The workers do no work for it, except that the first
    /// of them to wake up after such a pause wakes it (at most once per threshold). A
    /// blocking poll is reported within about twice the threshold of its start. A task
    /// polled inside another task's poll (the upkeep of a long [`par`](crate::par) call
    /// runs the worker's queued tasks) is watched as a poll of its own, and that upkeep,
    /// which turns the driver between items, counts as progress: a long `par` call
    /// inside a task is reported only when one item (or a wait for another worker's
    /// item) holds the worker past the threshold. The future given to
    /// [`block_on`](Runtime::block_on) runs on the calling thread, not on a worker, and
    /// is not watched.
    ///
    /// While one worker is held, the others keep running the queued tasks (they steal
    /// from the held worker's queue) and keep firing timers and socket readiness. The
    /// one task a worker keeps aside as its next task (the last one it woke or
    /// started) is handed to the other workers once the poll has held the worker past
    /// the threshold. With the report off, the watch still runs for this hand-off, at
    /// the default threshold, and reports and counts nothing. On a runtime with a
    /// single worker, everything waits for it.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = pride::Runtime::builder()
    ///     .blocked_poll_threshold(Some(Duration::from_secs(1)))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    ///
    /// # Panics
    /// If the threshold is zero: every poll would be reported.
    #[track_caller]
    pub fn blocked_poll_threshold(&mut self, threshold: Option<Duration>) -> &mut Builder {
        assert!(
            threshold != Some(Duration::ZERO),
            "pride: blocked_poll_threshold must be more than zero (None turns the report off)"
        );
        self.blocked_poll_threshold = threshold;
        self
    }

    /// Sets what happens when a poll blocks a worker longer than the
    /// [`blocked_poll_threshold`](Builder::blocked_poll_threshold): `handler` gets the
    /// report instead of it being printed to stderr. It runs on the watchdog thread
    /// (not on a worker); a panic in it is caught and ignored.
    ///
    /// ```
    /// let rt = pride::Runtime::builder()
    ///     .on_blocked_worker(|blocked| eprintln!("stall: {blocked}"))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_blocked_worker(
        &mut self,
        handler: impl Fn(&crate::debug::BlockedWorker) + Send + Sync + 'static,
    ) -> &mut Builder {
        self.on_blocked_worker = StdArc::new(handler);
        self
    }

    /// Sets what happens when a runtime on a [`Clock::autojump`] clock is deadlocked:
    /// every task blocked, no timer armed and no socket registered, for 100 ms of real
    /// time. `handler` gets the [`Deadlock`](crate::debug::Deadlock), with the task
    /// tree, instead of it being printed to stderr. It is called once per episode (the
    /// runtime must run again before it can be called again), on a worker thread while
    /// no task runs; a panic in it is caught and ignored. The runtime goes on waiting:
    /// another thread may still wake a task.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let rt = pride::Runtime::builder()
    ///     .clock(pride::time::Clock::autojump())
    ///     .on_deadlock(move |deadlock| tx.send(deadlock.to_string()).unwrap())
    ///     .build()
    ///     .unwrap();
    /// let event = pride::Event::new();
    /// let set = event.clone();
    /// // Sets the event once the deadlock was reported (or after 10 s, if it never is).
    /// let thread = std::thread::spawn(move || {
    ///     let report = rx.recv_timeout(Duration::from_secs(10));
    ///     set.set();
    ///     report
    /// });
    /// rt.block_on(async {
    ///     pride::task_group(async |tg| {
    ///         tg.start_soon_named("waiter", async move { event.wait().await });
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// assert!(thread.join().unwrap().unwrap().contains("waiter"));
    /// ```
    pub fn on_deadlock(
        &mut self,
        handler: impl Fn(&crate::debug::Deadlock) + Send + Sync + 'static,
    ) -> &mut Builder {
        self.on_deadlock = StdArc::new(handler);
        self
    }

    /// Sets the stack size of the runtime's threads (the workers and the blocking
    /// pool's), in bytes (default: the standard library's, 2 MiB unless
    /// `RUST_MIN_STACK` says otherwise). A task's poll runs on its worker's stack:
    /// deeply nested futures (thousands of levels of futures that await each other)
    /// need more, as does a deeply recursive [`to_thread`](crate::to_thread) closure.
    ///
    /// ```
    /// let rt = pride::Runtime::builder()
    ///     .thread_stack_size(16 << 20)
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    ///
    /// # Panics
    /// If `bytes` is less than
    /// [`MIN_THREAD_STACK_SIZE`](Builder::MIN_THREAD_STACK_SIZE) (zero included): the
    /// runtime's own code (its worker loop, a task's poll, a panic's unwinding) would
    /// overflow such a stack, which aborts the whole process.
    #[track_caller]
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        assert!(
            bytes >= Builder::MIN_THREAD_STACK_SIZE,
            "pride: thread_stack_size must be at least {} bytes \
             (Builder::MIN_THREAD_STACK_SIZE), or the runtime's own code overflows it; \
             thread_stack_size({bytes}) was asked for",
            Builder::MIN_THREAD_STACK_SIZE
        );
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Starts the runtime's threads.
    ///
    /// # Errors
    /// [`InvalidInput`](io::ErrorKind::InvalidInput) if the
    /// [`thread_name`](Builder::thread_name) has a NUL byte (checked before anything
    /// starts); otherwise the system's error when the I/O driver cannot be created or
    /// a thread cannot be spawned.
    pub fn build(&mut self) -> io::Result<Runtime> {
        if self.thread_name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "pride: the thread name {:?} has a NUL byte, which no thread name may have",
                    self.thread_name
                ),
            ));
        }
        let workers = match self.worker_threads {
            Some(n) => n,
            None => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(Builder::MAX_WORKER_THREADS),
        };
        let driver = driver::Driver::new()?;
        let blocking = blocking::BlockingPool::new(
            self.max_blocking_threads,
            format!("{}-blocking", self.thread_name),
            self.thread_stack_size,
        );
        let (handle, cores) = worker::create(
            workers,
            driver,
            self.clock.clone(),
            blocking,
            self.on_deadlock.clone(),
        );
        // With the report off, the watch goes on at the default threshold, for the
        // hand-off of a held worker's next task.
        let observers = crate::debug::Observers::start(
            &handle,
            self.blocked_poll_threshold
                .unwrap_or(BLOCKED_POLL_THRESHOLD),
            self.blocked_poll_threshold
                .map(|_| self.on_blocked_worker.clone()),
            &self.thread_name,
        )?;
        let mut threads = Vec::with_capacity(workers);
        for core in cores {
            let name = format!("{}-{}", self.thread_name, core.index());
            let mut thread = std::thread::Builder::new().name(name);
            if let Some(bytes) = self.thread_stack_size {
                thread = thread.stack_size(bytes);
            }
            let spawned = thread.spawn(move || core.run());
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    // Stop the workers already started before reporting.
                    drop(Runtime {
                        handle,
                        threads,
                        _observers: observers,
                    });
                    return Err(e);
                }
            }
        }
        Ok(Runtime {
            handle,
            threads,
            _observers: observers,
        })
    }
}

/// Runs `future` on a new default runtime (one worker per core) and returns its output.
///
/// # Panics
/// If the runtime cannot start (no threads can be spawned); when called from within a
/// pride runtime, or from a thread-local's destructor after this thread's pride
/// context is gone (as [`Runtime::block_on`]), before any runtime is built.
///
/// ```
/// let v = pride::run(async { 7 * 6 });
/// assert_eq!(v, 42);
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    context::assert_can_enter("`pride::run`");
    Runtime::new()
        .expect("pride: failed to start the runtime")
        .block_on(future)
}
