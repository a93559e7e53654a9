//! The runtime-core workloads, written once and run on pride and its peers.
//!
//! Both bench targets include this module: `benches/runtime.rs` (criterion) and
//! `benches/compare.rs` (a quick ratio table). Each workload is a
//! `fn run_<name>(rt: &RuntimeUnderTest)` that runs one full iteration on a runtime that
//! was built once, outside the timed loop.
//!
//! The task bodies are written once, generic over [`Spawner`], so every runtime polls
//! the same futures; only the scheduler and the way the caller learns that all tasks
//! are done differ:
//!
//! - pride opens one `task_group` and lets the group's join say when the children are
//!   done (that join is part of what pride is measured on);
//! - tokio and async-executor spawn detached tasks that count down a shared
//!   [`Countdown`], and the last one wakes the caller (the cheapest join they have);
//! - rayon (CPU fan-out only) runs a parallel iterator inside its pool.
//!
//! Channels are `tokio::sync` channels on every runtime: they are runtime-agnostic, so
//! the scheduler is the only thing that changes between columns. On the async runtimes
//! the root future runs on the calling thread (`block_on`), with `n` worker threads besides
//! it; `n` is [`worker_count`].
//!
//! Run with `cargo bench -p pride-benches --bench runtime` or `cargo bench -p pride-benches --bench compare`.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

use async_executor::Executor;
use rayon::prelude::*;
use tokio::sync::{Notify, oneshot};

/// Tasks spawned by `spawn_many`.
pub const SPAWN_MANY_TASKS: usize = 10_000;
/// Tasks spawned by `yield_many`.
pub const YIELD_TASKS: usize = 200;
/// Yields each `yield_many` task makes before it finishes.
pub const YIELDS_PER_TASK: usize = 1_000;
/// Concurrent ping-pong rounds in `ping_pong`.
pub const PING_PONG_ROUNDS: usize = 1_000;
/// Length of the spawn chain in `chained_spawn`.
pub const CHAIN_DEPTH: usize = 1_000;
/// Chunks of CPU work in `cpu_fanout`.
pub const CPU_CHUNKS: usize = 1_024;
/// A chunk does between 1 and this many work units.
pub const CPU_MAX_UNITS: u64 = 64;
/// Rounds of the mixing loop in one work unit: about 1 µs on the project's machine.
const ROUNDS_PER_UNIT: u64 = 100;

#[allow(unused_imports)] // not every bench target reads both
pub use crate::settings::{fixed_samples, worker_count};

/// Which runtime a [`RuntimeUnderTest`] is; its [`name`](Kind::name) is the column
/// and criterion function name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `pride::Runtime`.
    Pride,
    /// tokio's multi-thread runtime.
    Tokio,
    /// An `async_executor::Executor` driven by `n` threads.
    AsyncExecutor,
    /// A rayon thread pool (CPU fan-out only).
    Rayon,
}

impl Kind {
    /// Every kind, in column order.
    pub const ALL: [Kind; 4] = [Kind::Pride, Kind::Tokio, Kind::AsyncExecutor, Kind::Rayon];

    /// The name used for criterion functions and table columns.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pride => "pride",
            Kind::Tokio => "tokio",
            Kind::AsyncExecutor => "async_executor",
            Kind::Rayon => "rayon",
        }
    }
}

/// One runtime, built once with `n` workers and reused by every iteration.
pub enum RuntimeUnderTest {
    /// pride, `worker_threads(n)`.
    Pride(pride::Runtime),
    /// tokio multi-thread, `worker_threads(n)`, all drivers enabled (as pride has them).
    Tokio(tokio::runtime::Runtime),
    /// async-executor on `n` threads.
    AsyncExecutor(ExecutorPool),
    /// rayon, `num_threads(n)`.
    Rayon(rayon::ThreadPool),
}

impl RuntimeUnderTest {
    /// Builds the runtime of `kind` with `workers` worker threads.
    pub fn build(kind: Kind, workers: usize) -> Self {
        match kind {
            Kind::Pride => RuntimeUnderTest::Pride(
                pride::Runtime::builder()
                    .worker_threads(workers)
                    .build()
                    .expect("build the pride runtime"),
            ),
            Kind::Tokio => RuntimeUnderTest::Tokio(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_all()
                    .build()
                    .expect("build the tokio runtime"),
            ),
            Kind::AsyncExecutor => RuntimeUnderTest::AsyncExecutor(ExecutorPool::new(workers)),
            Kind::Rayon => RuntimeUnderTest::Rayon(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(workers)
                    .thread_name(|i| format!("rayon-{i}"))
                    .build()
                    .expect("build the rayon pool"),
            ),
        }
    }

    /// Which runtime this is.
    pub fn kind(&self) -> Kind {
        match self {
            RuntimeUnderTest::Pride(_) => Kind::Pride,
            RuntimeUnderTest::Tokio(_) => Kind::Tokio,
            RuntimeUnderTest::AsyncExecutor(_) => Kind::AsyncExecutor,
            RuntimeUnderTest::Rayon(_) => Kind::Rayon,
        }
    }
}

/// A shared `async_executor::Executor` run by `n` threads until the pool is dropped.
pub struct ExecutorPool {
    executor: Arc<Executor<'static>>,
    /// Dropping these senders is the stop signal.
    stop: Vec<oneshot::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl ExecutorPool {
    fn new(workers: usize) -> Self {
        let executor = Arc::new(Executor::new());
        let mut stop = Vec::with_capacity(workers);
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let executor = Arc::clone(&executor);
            let thread = thread::Builder::new()
                .name(format!("async-executor-{i}"))
                .spawn(move || {
                    futures_lite::future::block_on(executor.run(async {
                        // Err means the pool was dropped: that is the signal.
                        let _ = stop_rx.await;
                    }));
                })
                .expect("spawn an async-executor thread");
            stop.push(stop_tx);
            threads.push(thread);
        }
        ExecutorPool {
            executor,
            stop,
            threads,
        }
    }
}

impl Drop for ExecutorPool {
    fn drop(&mut self) {
        self.stop.clear();
        for thread in self.threads.drain(..) {
            thread.join().expect("an async-executor thread panicked");
        }
    }
}

/// How a generic task body starts more tasks and yields, on one runtime.
pub trait Spawner: Clone + Send + Sync + 'static {
    /// Starts `task` on this runtime (pride: as a child of the group).
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// The runtime's own yield point.
    fn yield_now() -> impl Future<Output = ()> + Send;
}

impl Spawner for pride::TaskGroup {
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.start_soon(task);
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        pride::yield_now()
    }
}

impl Spawner for tokio::runtime::Handle {
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Detached: completion is reported through a `Countdown`.
        drop(tokio::runtime::Handle::spawn(self, task));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

impl Spawner for Arc<Executor<'static>> {
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Executor::spawn(self, task).detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
}

/// The join of the peers' detached tasks: each task counts down once, and the last
/// one wakes the waiter (`Notify` keeps the permit if nobody waits yet).
pub struct Countdown {
    remaining: AtomicUsize,
    done: Notify,
}

impl Countdown {
    fn new(tasks: usize) -> Arc<Self> {
        Arc::new(Countdown {
            remaining: AtomicUsize::new(tasks),
            done: Notify::new(),
        })
    }

    /// The per-task completion callback handed to the generic task bodies.
    fn finisher(self: &Arc<Self>) -> impl Fn() + Clone + Send + Sync + 'static {
        let countdown = Arc::clone(self);
        move || {
            if countdown.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                countdown.done.notify_one();
            }
        }
    }

    async fn wait(&self) {
        self.done.notified().await;
    }
}

/// Runs a workload's root on an async runtime and waits for all of its tasks:
/// `start` gets the runtime's spawner and the per-task completion callback.
///
/// pride: the root is the body of one `task_group`, the callback does nothing, and the
/// group's join is the wait. Peers: the callback counts down `tasks` and the root
/// awaits the countdown.
fn run_joined<S>(rt: &RuntimeUnderTest, tasks: usize, start: S)
where
    S: StartTasks,
{
    match rt {
        RuntimeUnderTest::Pride(rt) => rt.block_on(async {
            pride::task_group(|tg: pride::TaskGroup| async move {
                start.start(&tg, || {});
            })
            .await
            .expect("the benchmark group failed");
        }),
        RuntimeUnderTest::Tokio(rt) => {
            let handle = rt.handle().clone();
            rt.block_on(async {
                let countdown = Countdown::new(tasks);
                start.start(&handle, countdown.finisher());
                countdown.wait().await;
            });
        }
        RuntimeUnderTest::AsyncExecutor(pool) => {
            futures_lite::future::block_on(async {
                let countdown = Countdown::new(tasks);
                start.start(&pool.executor, countdown.finisher());
                countdown.wait().await;
            });
        }
        RuntimeUnderTest::Rayon(_) => {
            panic!("rayon has no async tasks; this workload does not run on it")
        }
    }
}

/// The task-starting half of a workload, generic over the runtime.
trait StartTasks: Send + 'static {
    /// Spawns the workload's tasks on `spawner`; each counted task calls `finish` once
    /// when it is done.
    fn start<S, D>(self, spawner: &S, finish: D)
    where
        S: Spawner,
        D: Fn() + Clone + Send + Sync + 'static;
}

/// Spawns 10,000 tasks that each do trivial work, and waits for all of them.
pub fn run_spawn_many(rt: &RuntimeUnderTest) {
    struct SpawnMany;
    impl StartTasks for SpawnMany {
        fn start<S: Spawner, D: Fn() + Clone + Send + Sync + 'static>(self, s: &S, finish: D) {
            for i in 0..SPAWN_MANY_TASKS {
                let finish = finish.clone();
                s.spawn(async move {
                    black_box(i);
                    finish();
                });
            }
        }
    }
    run_joined(rt, SPAWN_MANY_TASKS, SpawnMany);
}

/// Spawns 200 tasks that each yield 1,000 times, and waits for all of them.
pub fn run_yield_many(rt: &RuntimeUnderTest) {
    struct YieldMany;
    impl StartTasks for YieldMany {
        fn start<S: Spawner, D: Fn() + Clone + Send + Sync + 'static>(self, s: &S, finish: D) {
            for _ in 0..YIELD_TASKS {
                let finish = finish.clone();
                s.spawn(async move {
                    for _ in 0..YIELDS_PER_TASK {
                        S::yield_now().await;
                    }
                    finish();
                });
            }
        }
    }
    run_joined(rt, YIELD_TASKS, YieldMany);
}

/// A spawned driver task starts 1,000 concurrent rounds; in each, a pinger task spawns
/// a ponger, sends it a ping on a oneshot and awaits the pong on another.
pub fn run_ping_pong(rt: &RuntimeUnderTest) {
    struct PingPong;
    impl StartTasks for PingPong {
        fn start<S: Spawner, D: Fn() + Clone + Send + Sync + 'static>(self, s: &S, finish: D) {
            let spawner = s.clone();
            s.spawn(async move {
                for _ in 0..PING_PONG_ROUNDS {
                    let pinger = spawner.clone();
                    let finish = finish.clone();
                    spawner.spawn(async move {
                        let (ping_tx, ping_rx) = oneshot::channel::<()>();
                        let (pong_tx, pong_rx) = oneshot::channel::<()>();
                        pinger.spawn(async move {
                            ping_rx.await.expect("ping lost");
                            pong_tx.send(()).expect("pinger gone");
                        });
                        ping_tx.send(()).expect("ponger gone");
                        pong_rx.await.expect("pong lost");
                        finish();
                    });
                }
            });
        }
    }
    run_joined(rt, PING_PONG_ROUNDS, PingPong);
}

/// A task spawns the next, 1,000 deep, and the last one signals completion (peers: it
/// counts down a countdown of one; pride: every link is a child of the same group, via
/// a cloned `TaskGroup`, and the group's join sees the last one finish).
pub fn run_chained_spawn(rt: &RuntimeUnderTest) {
    fn link<S, D>(spawner: S, depth: usize, finish: D)
    where
        S: Spawner,
        D: Fn() + Clone + Send + Sync + 'static,
    {
        if depth == 0 {
            finish();
        } else {
            let next = spawner.clone();
            spawner.spawn(async move { link(next, depth - 1, finish) });
        }
    }

    struct ChainedSpawn;
    impl StartTasks for ChainedSpawn {
        fn start<S: Spawner, D: Fn() + Clone + Send + Sync + 'static>(self, s: &S, finish: D) {
            link(s.clone(), CHAIN_DEPTH, finish);
        }
    }
    run_joined(rt, 1, ChainedSpawn);
}

/// 1,024 chunks of uneven CPU work (1..=64 units of about 1 µs each, sizes from a
/// fixed pseudo-random sequence), fanned out over the workers, results summed.
pub fn run_cpu_fanout(rt: &RuntimeUnderTest) {
    struct CpuFanout(Arc<AtomicU64>);
    impl StartTasks for CpuFanout {
        fn start<S: Spawner, D: Fn() + Clone + Send + Sync + 'static>(self, s: &S, finish: D) {
            for chunk in 0..CPU_CHUNKS {
                let sum = Arc::clone(&self.0);
                let finish = finish.clone();
                s.spawn(async move {
                    sum.fetch_add(cpu_chunk(chunk), Ordering::Relaxed);
                    finish();
                });
            }
        }
    }

    let total = match rt {
        RuntimeUnderTest::Rayon(pool) => {
            pool.install(|| (0..CPU_CHUNKS).into_par_iter().map(cpu_chunk).sum::<u64>())
        }
        _ => {
            let sum = Arc::new(AtomicU64::new(0));
            run_joined(rt, CPU_CHUNKS, CpuFanout(Arc::clone(&sum)));
            sum.load(Ordering::Relaxed)
        }
    };
    assert_eq!(total, cpu_fanout_expected(), "cpu_fanout lost a chunk");
}

/// The work of chunk `index`: `cpu_chunk_units(index)` units of a dependent
/// multiply-xorshift chain. The result is kept small so 1,024 of them cannot overflow.
fn cpu_chunk(index: usize) -> u64 {
    let rounds = cpu_chunk_units(index) * ROUNDS_PER_UNIT;
    let mut x = black_box(index as u64 | 1);
    for _ in 0..rounds {
        x ^= x >> 29;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 32;
    }
    black_box(x) >> 44
}

/// 1..=`CPU_MAX_UNITS` units for chunk `index`, from a splitmix64 step: uneven, but
/// the same on every run and every runtime.
fn cpu_chunk_units(index: usize) -> u64 {
    let mut z = (index as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    1 + z % CPU_MAX_UNITS
}

/// The sum every runtime must produce, computed serially once (the first call falls in
/// a warm-up iteration).
fn cpu_fanout_expected() -> u64 {
    static EXPECTED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *EXPECTED.get_or_init(|| (0..CPU_CHUNKS).map(cpu_chunk).sum())
}

/// One workload: its name, its runner and which runtimes it runs on.
pub struct Workload {
    /// The criterion group name and the table row.
    pub name: &'static str,
    /// Runs one iteration on one runtime.
    pub run: fn(&RuntimeUnderTest),
    /// Whether rayon takes part (CPU fan-out only).
    pub with_rayon: bool,
}

impl Workload {
    /// The runtimes this workload runs on, in column order.
    pub fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        Kind::ALL
            .into_iter()
            .filter(|&kind| kind != Kind::Rayon || self.with_rayon)
    }
}

/// Every workload, in table order.
pub const WORKLOADS: [Workload; 5] = [
    Workload {
        name: "spawn_many",
        run: run_spawn_many,
        with_rayon: false,
    },
    Workload {
        name: "yield_many",
        run: run_yield_many,
        with_rayon: false,
    },
    Workload {
        name: "ping_pong",
        run: run_ping_pong,
        with_rayon: false,
    },
    Workload {
        name: "chained_spawn",
        run: run_chained_spawn,
        with_rayon: false,
    },
    Workload {
        name: "cpu_fanout",
        run: run_cpu_fanout,
        with_rayon: true,
    },
];

/// Builds one runtime of each kind with `workers` workers, in column order.
pub fn build_all(workers: usize) -> Vec<RuntimeUnderTest> {
    Kind::ALL
        .into_iter()
        .map(|kind| RuntimeUnderTest::build(kind, workers))
        .collect()
}
