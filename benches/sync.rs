//! A ratio table for the sync primitives: pride's against their usual peers, each peer
//! timed both on tokio's multi-thread runtime and on pride's runtime, all with the same
//! worker count.
//!
//! Three columns per workload:
//!
//! - **pride**: pride's primitive on pride's runtime;
//! - **peer @ tokio**: the peer primitive on tokio (its home);
//! - **peer @ pride**: the same peer primitive on pride's runtime, which separates the
//!   primitive from the scheduler: `pride / peer@pride` compares primitives alone,
//!   `pride / peer@tokio` compares the whole stack.
//!
//! Workloads (one iteration each):
//!
//! - `mpmc_channel`, `mpmc_queue`: 100,000 items through a bounded MPMC queue of 128
//!   with 4 producers and 4 consumers. pride's side is `pride::sync::channel` (closed by
//!   dropping the last sender) or `pride::Queue` (closed after the producers join); the
//!   peer is `async-channel` (tokio's `mpsc` is not MPMC).
//! - `semaphore`: 64 tasks × 1,000 acquire / yield / release on a semaphore of 8:
//!   `pride::Semaphore` vs `tokio::sync::Semaphore`. Each task yields while holding its
//!   permit (with its runtime's own `yield_now`), so there is a real wait queue.
//! - `event_fanout`: 10,000 waiter tasks register, then one `set` wakes them all and
//!   they are joined: `pride::Event` vs `tokio::sync::Notify::notify_waiters` (each
//!   waiter `enable()`s its `Notified` before counting itself as registered, so no
//!   wake-up can be missed; the setter waits for all to register in both columns).
//!
//! Tasks are spawned the runtime's usual way: into a `task_group` on pride (its join
//! is part of what is measured) and into a `JoinSet` on tokio.
//!
//! Each sample times one iteration; the columns are sampled interleaved (order
//! rotating) after a warm-up, and the table shows medians ± half the interquartile
//! range. Run: `cargo bench -p pride-benches --bench sync` (well under 60 s), optionally with workload
//! names as filters. `PRIDE_BENCH_SAMPLES=n` sets the samples per cell (default 41);
//! `PRIDE_BENCH_WORKERS=n` the worker count (default: available cores). Without
//! `--bench` (as `cargo test --benches` runs it) each cell runs once as a smoke test.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod settings;
// The command line, the runtimes, the cell summaries and the table printer.
#[allow(dead_code, unused_imports)]
mod versus;

use versus::{Mode, median_cell, quantile, ratio};

const DEFAULT_SAMPLES: usize = 41;
const WARM_UP_RUNS: usize = 2;

const ITEMS: usize = 100_000;
const CAPACITY: usize = 128;
const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;

const SEM_TASKS: usize = 64;
const SEM_ROUNDS: usize = 1_000;
const SEM_PERMITS: usize = 8;

const WAITERS: usize = 10_000;

/// Both runtimes, built once.
struct Runtimes {
    pride: pride::Runtime,
    tokio: tokio::runtime::Runtime,
}

/// Which column a run fills.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Column {
    Pride,
    PeerOnTokio,
    PeerOnPride,
}

const COLUMNS: [Column; 3] = [Column::Pride, Column::PeerOnTokio, Column::PeerOnPride];

struct Workload {
    name: &'static str,
    peer: &'static str,
    run: fn(&Runtimes, Column),
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "mpmc_channel",
        peer: "async-channel",
        run: mpmc_channel,
    },
    Workload {
        name: "mpmc_queue",
        peer: "async-channel",
        run: mpmc_queue,
    },
    Workload {
        name: "semaphore",
        peer: "tokio Semaphore",
        run: semaphore,
    },
    Workload {
        name: "event_fanout",
        peer: "tokio Notify",
        run: event_fanout,
    },
];

fn main() {
    let mode = Mode::from_env();
    let selected: Vec<&Workload> = WORKLOADS.iter().filter(|w| mode.selected(w.name)).collect();

    let workers = versus::worker_count();
    let runtimes = Runtimes {
        pride: versus::pride_runtime(workers),
        tokio: versus::tokio_runtime(workers),
    };

    if !mode.timed {
        for workload in &selected {
            for column in COLUMNS {
                (workload.run)(&runtimes, column);
            }
            println!("sync: {} ran once in every column", workload.name);
        }
        println!("sync: smoke run done (pass --bench, as `cargo bench` does, for timings)");
        return;
    }

    let samples = mode.fixed_samples.unwrap_or(DEFAULT_SAMPLES);
    println!(
        "pride sync primitives vs peers: {workers} worker threads per runtime, {samples} samples \
         per cell (interleaved); median of one iteration ± half the IQR; ratio < 1.00: pride \
         is faster"
    );
    println!();

    let started = Instant::now();
    let mut lines = vec![
        [
            "workload",
            "peer",
            "pride",
            "peer @ tokio",
            "peer @ pride",
            "pride/peer@tokio",
            "pride/peer@pride",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for workload in &selected {
        let times = measure(workload, &runtimes, samples);
        eprintln!("sync: {} done", workload.name);
        let mut line = vec![workload.name.to_string(), workload.peer.to_string()];
        line.extend(times.iter().map(|t| median_cell(t)));
        let medians: Vec<f64> = times
            .iter()
            .map(|t| quantile(t, 0.5).as_secs_f64())
            .collect();
        line.push(ratio(medians[0], medians[1]));
        line.push(ratio(medians[0], medians[2]));
        lines.push(line);
    }
    versus::print_table(&lines, 2);
    println!();
    println!("total time: {:.1}s", started.elapsed().as_secs_f64());
}

/// Warms every column up, then samples them interleaved; one `Vec` of per-iteration
/// times per column, in `COLUMNS` order.
fn measure(workload: &Workload, runtimes: &Runtimes, samples: usize) -> Vec<Vec<Duration>> {
    for column in COLUMNS {
        for _ in 0..WARM_UP_RUNS {
            (workload.run)(runtimes, column);
        }
    }
    let mut times = vec![Vec::with_capacity(samples); COLUMNS.len()];
    for round in 0..samples {
        for offset in 0..COLUMNS.len() {
            let index = (round + offset) % COLUMNS.len();
            let start = Instant::now();
            (workload.run)(runtimes, COLUMNS[index]);
            times[index].push(start.elapsed());
        }
    }
    times
}

// ---------------------------------------------------------------------------------
// Spawning and joining on each runtime

/// Runs `tasks` concurrently on pride (in a task group) and returns when all are done.
fn pride_join<F>(rt: &pride::Runtime, tasks: Vec<F>)
where
    F: Future<Output = ()> + Send + 'static,
{
    rt.block_on(pride::task_group(async |tg| {
        for task in tasks {
            tg.start_soon(task);
        }
    }))
    .expect("no task fails");
}

/// Runs `tasks` concurrently on tokio (in a `JoinSet`) and returns when all are done.
fn tokio_join<F>(rt: &tokio::runtime::Runtime, tasks: Vec<F>)
where
    F: Future<Output = ()> + Send + 'static,
{
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for task in tasks {
            set.spawn(task);
        }
        while let Some(result) = set.join_next().await {
            result.expect("no task panics");
        }
    });
}

/// Runs `tasks` on the runtime `column` names.
fn join<F>(runtimes: &Runtimes, column: Column, tasks: Vec<F>)
where
    F: Future<Output = ()> + Send + 'static,
{
    match column {
        Column::Pride | Column::PeerOnPride => pride_join(&runtimes.pride, tasks),
        Column::PeerOnTokio => tokio_join(&runtimes.tokio, tasks),
    }
}

/// A boxed task, so one `Vec` can hold producers and consumers.
type Task = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

// ---------------------------------------------------------------------------------
// MPMC queue throughput

/// Producer `p`'s share of the items.
fn share(p: usize) -> std::ops::Range<usize> {
    p * ITEMS / PRODUCERS..(p + 1) * ITEMS / PRODUCERS
}

fn expected_sum() -> usize {
    ITEMS * (ITEMS - 1) / 2
}

fn mpmc_channel(runtimes: &Runtimes, column: Column) {
    let sum = Arc::new(AtomicUsize::new(0));
    let mut tasks: Vec<Task> = Vec::new();
    match column {
        Column::Pride => {
            let (tx, rx) = pride::sync::channel::<usize>(CAPACITY);
            for p in 0..PRODUCERS {
                let tx = tx.clone();
                tasks.push(Box::pin(async move {
                    for i in share(p) {
                        tx.send(i).await.expect("receivers are alive");
                    }
                }));
            }
            for _ in 0..CONSUMERS {
                let (rx, sum) = (rx.clone(), sum.clone());
                tasks.push(Box::pin(async move {
                    let mut local = 0;
                    while let Ok(i) = rx.recv().await {
                        local += i;
                    }
                    sum.fetch_add(local, Ordering::Relaxed);
                }));
            }
        }
        Column::PeerOnTokio | Column::PeerOnPride => {
            let (tx, rx) = async_channel::bounded::<usize>(CAPACITY);
            for p in 0..PRODUCERS {
                let tx = tx.clone();
                tasks.push(Box::pin(async move {
                    for i in share(p) {
                        tx.send(i).await.expect("receivers are alive");
                    }
                }));
            }
            for _ in 0..CONSUMERS {
                let (rx, sum) = (rx.clone(), sum.clone());
                tasks.push(Box::pin(async move {
                    let mut local = 0;
                    while let Ok(i) = rx.recv().await {
                        local += i;
                    }
                    sum.fetch_add(local, Ordering::Relaxed);
                }));
            }
        }
    }
    join(runtimes, column, tasks);
    assert_eq!(sum.load(Ordering::Relaxed), expected_sum());
}

fn mpmc_queue(runtimes: &Runtimes, column: Column) {
    if column != Column::Pride {
        return mpmc_channel(runtimes, column);
    }
    let sum = Arc::new(AtomicUsize::new(0));
    let queue = pride::Queue::<usize>::with_maxsize(CAPACITY);
    let producers = Arc::new(AtomicUsize::new(PRODUCERS));
    let mut tasks: Vec<Task> = Vec::new();
    for p in 0..PRODUCERS {
        let (queue, producers) = (queue.clone(), producers.clone());
        tasks.push(Box::pin(async move {
            for i in share(p) {
                queue.put(i).await.expect("the queue is open");
            }
            if producers.fetch_sub(1, Ordering::AcqRel) == 1 {
                queue.close();
            }
        }));
    }
    for _ in 0..CONSUMERS {
        let (queue, sum) = (queue.clone(), sum.clone());
        tasks.push(Box::pin(async move {
            let mut local = 0;
            while let Ok(i) = queue.get().await {
                local += i;
            }
            sum.fetch_add(local, Ordering::Relaxed);
        }));
    }
    join(runtimes, column, tasks);
    assert_eq!(sum.load(Ordering::Relaxed), expected_sum());
}

// ---------------------------------------------------------------------------------
// Semaphore under contention

fn semaphore(runtimes: &Runtimes, column: Column) {
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks: Vec<Task> = Vec::new();
    match column {
        Column::Pride => {
            let sem = Arc::new(pride::Semaphore::new(SEM_PERMITS));
            for _ in 0..SEM_TASKS {
                let (sem, done) = (sem.clone(), done.clone());
                tasks.push(Box::pin(async move {
                    for _ in 0..SEM_ROUNDS {
                        let permit = sem.acquire().await;
                        pride::yield_now().await;
                        drop(black_box(permit));
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }));
            }
        }
        Column::PeerOnTokio | Column::PeerOnPride => {
            let on_pride = column == Column::PeerOnPride;
            let sem = Arc::new(tokio::sync::Semaphore::new(SEM_PERMITS));
            for _ in 0..SEM_TASKS {
                let (sem, done) = (sem.clone(), done.clone());
                tasks.push(Box::pin(async move {
                    for _ in 0..SEM_ROUNDS {
                        let permit = sem.acquire().await.expect("never closed");
                        if on_pride {
                            pride::yield_now().await;
                        } else {
                            tokio::task::yield_now().await;
                        }
                        drop(black_box(permit));
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }));
            }
        }
    }
    join(runtimes, column, tasks);
    assert_eq!(done.load(Ordering::Relaxed), SEM_TASKS);
}

// ---------------------------------------------------------------------------------
// Event fan-out

fn event_fanout(runtimes: &Runtimes, column: Column) {
    let registered = Arc::new(AtomicUsize::new(0));
    let woke = Arc::new(AtomicUsize::new(0));
    let mut tasks: Vec<Task> = Vec::new();
    match column {
        Column::Pride => {
            let event = pride::Event::new();
            for _ in 0..WAITERS {
                let (event, registered, woke) = (event.clone(), registered.clone(), woke.clone());
                tasks.push(Box::pin(async move {
                    let mut wait = pin!(event.wait());
                    // Register (first poll) before counting, as the Notify column does.
                    if futures_lite::future::poll_once(wait.as_mut())
                        .await
                        .is_none()
                    {
                        registered.fetch_add(1, Ordering::Release);
                        wait.await;
                    }
                    woke.fetch_add(1, Ordering::Relaxed);
                }));
            }
            let registered = registered.clone();
            tasks.push(Box::pin(async move {
                while registered.load(Ordering::Acquire) < WAITERS {
                    pride::yield_now().await;
                }
                event.set();
            }));
        }
        Column::PeerOnTokio | Column::PeerOnPride => {
            let on_pride = column == Column::PeerOnPride;
            let notify = Arc::new(tokio::sync::Notify::new());
            for _ in 0..WAITERS {
                let (notify, registered, woke) = (notify.clone(), registered.clone(), woke.clone());
                tasks.push(Box::pin(async move {
                    let mut notified = pin!(notify.notified());
                    notified.as_mut().enable();
                    registered.fetch_add(1, Ordering::Release);
                    notified.await;
                    woke.fetch_add(1, Ordering::Relaxed);
                }));
            }
            let registered = registered.clone();
            tasks.push(Box::pin(async move {
                while registered.load(Ordering::Acquire) < WAITERS {
                    if on_pride {
                        pride::yield_now().await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
                notify.notify_waiters();
            }));
        }
    }
    join(runtimes, column, tasks);
    assert_eq!(woke.load(Ordering::Relaxed), WAITERS);
}
