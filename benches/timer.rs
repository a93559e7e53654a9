//! Timers: pride against tokio's multi-thread runtime, same worker count, same run.
//!
//! Rows (section names in brackets, for filtering):
//!
//! - [churn] 1,000,000 timeouts created and cancelled: `pride::fail_after(1 s, fut)` vs
//!   `tokio::time::timeout(1 s, fut)`, awaited, split over 8 tasks per worker. Two
//!   variants of `fut`: `ready(())` (`churn_ready`), and a future that is Pending once
//!   (the runtime's `yield_now`, `churn_armed`). tokio only registers a timer in its
//!   wheel when the timeout is polled Pending, so `churn_ready` never touches tokio's
//!   wheel; `churn_armed` arms and cancels a real timer on both. Total time and time
//!   per timer.
//! - [sleeps] 100,000 concurrent tasks sleeping until `start + d`, `d` uniform in
//!   1–100 ms (a fixed xorshift sequence), `start` taken before the first spawn: wall
//!   time until all have woken, and the overhead per timer, (wall − latest deadline) /
//!   100,000. Every sleep is checked not to wake before its deadline.
//! - [accuracy] lateness (wake time − deadline) of 200 sequential 10 ms sleeps in one
//!   task, p50 and p99, on an idle runtime and on a loaded one (2 tasks per worker
//!   busy-looping with a few hundred ns of work between yields).
//! - [idle_cpu] process CPU time while a fresh runtime sits idle with one task sleeping
//!   2 s, as CPU ms per wall second (sum of `/proc/self/task/*/schedstat`, else
//!   `/proc/self/stat`; Linux only). Only the measured runtime exists in the process
//!   during its window.
//!
//! Run: `cargo bench -p pride-benches --bench timer` (all rows, well under 90 s on 2 cores), or
//! `cargo bench -p pride-benches --bench timer -- churn accuracy` (sections whose name contains one of
//! the words). `PRIDE_BENCH_SAMPLES=n` fixes the sample count of the churn and sleeps
//! rows (else up to 40, fewer where a row would pass ~5 s); `PRIDE_BENCH_WORKERS=n`
//! sets the worker count (else one per available core). Without `--bench` (as `cargo
//! test --benches` runs it) every row runs once, shortened, as a smoke test.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

mod settings;
mod versus;

use versus::{Mode, Table, format_duration, median_cell, quantile, ratio};

/// Timeouts created and cancelled per churn iteration.
const CHURN_TIMERS: usize = 1_000_000;
/// Churn tasks per worker, so that stealing can even out the load.
const CHURN_TASKS_PER_WORKER: usize = 8;
/// The churn timeouts' duration: never reached.
const CHURN_TIMEOUT: Duration = Duration::from_secs(1);
/// Concurrent sleepers in `sleeps`.
const SLEEPERS: usize = 100_000;
/// The sleepers' deadlines lie this far after the start, in µs, uniformly.
const SLEEP_RANGE_US: (u64, u64) = (1_000, 100_000);
/// The sleep whose lateness `accuracy` measures.
const ACCURACY_SLEEP: Duration = Duration::from_millis(10);
/// Sequential sleeps per accuracy measurement (smoke run: `SMOKE_ACCURACY_SAMPLES`).
const ACCURACY_SAMPLES: usize = 200;
const SMOKE_ACCURACY_SAMPLES: usize = 5;
/// Busy tasks per worker while `accuracy` measures a loaded runtime.
const BUSY_TASKS_PER_WORKER: usize = 2;
/// Work between two yields of a busy task: a few hundred ns of xorshift.
const BUSY_ROUNDS: u32 = 300;
/// How long the idle runtime is watched (smoke run: `SMOKE_IDLE_WINDOW`).
const IDLE_WINDOW: Duration = Duration::from_secs(2);
const SMOKE_IDLE_WINDOW: Duration = Duration::from_millis(100);
/// Pause between building a runtime and watching it idle, so that start-up is over.
const IDLE_SETTLE: Duration = Duration::from_millis(200);

fn main() {
    let mode = Mode::from_env();
    let workers = versus::worker_count();
    mode.print_preamble("timers", workers);
    let started = Instant::now();

    let mut table = Table::new(&["timer row", "pride", "tokio", "pride/tokio"]);
    {
        let pride_rt = versus::pride_runtime(workers);
        let tokio_rt = versus::tokio_runtime(workers);
        if mode.selected("churn") {
            churn_rows(&mode, &mut table, &pride_rt, &tokio_rt, workers);
        }
        if mode.selected("sleeps") {
            sleeps_rows(&mode, &mut table, &pride_rt, &tokio_rt);
        }
        if mode.selected("accuracy") {
            accuracy_rows(&mode, &mut table, &pride_rt, &tokio_rt, workers);
        }
    }
    // Both runtimes are gone: the idle windows see only the runtime they measure.
    if mode.selected("idle_cpu") {
        idle_cpu_row(&mode, &mut table, workers);
    }

    if !mode.timed {
        println!("timer: smoke run done (pass --bench, as `cargo bench` does, for timings)");
        return;
    }
    table.print();
    println!();
    println!(
        "total time: {:.1}s; load average at end: {}",
        started.elapsed().as_secs_f64(),
        versus::load_average()
    );
}

// ---------------------------------------------------------------------------------------
// churn

fn churn_rows(
    mode: &Mode,
    table: &mut Table,
    pride_rt: &pride::Runtime,
    tokio_rt: &tokio::runtime::Runtime,
    workers: usize,
) {
    let tasks = workers * CHURN_TASKS_PER_WORKER;
    let ready = mode.sample(
        || churn_pride(pride_rt, tasks, || std::future::ready(())),
        || churn_tokio(tokio_rt, tasks, || std::future::ready(())),
    );
    push_total_and_per(
        table,
        "churn_ready: 1M timeouts around ready()",
        &ready,
        CHURN_TIMERS,
    );
    eprintln!("timer: churn_ready done");
    let armed = mode.sample(
        || churn_pride(pride_rt, tasks, pride::yield_now),
        || churn_tokio(tokio_rt, tasks, tokio::task::yield_now),
    );
    push_total_and_per(
        table,
        "churn_armed: 1M timeouts around a yield",
        &armed,
        CHURN_TIMERS,
    );
    eprintln!("timer: churn_armed done");
}

/// Two rows: the median total, and the median total divided by `per`.
fn push_total_and_per(
    table: &mut Table,
    name: &str,
    (pride, tokio): &(Vec<Duration>, Vec<Duration>),
    per: usize,
) {
    let (p, t) = (quantile(pride, 0.5), quantile(tokio, 0.5));
    table.push(vec![
        format!("{name}, total"),
        median_cell(pride),
        median_cell(tokio),
        ratio(p.as_secs_f64(), t.as_secs_f64()),
    ]);
    let per = per as u32;
    table.push(vec![
        format!("{name}, per timer"),
        format_duration(p / per),
        format_duration(t / per),
        ratio(p.as_secs_f64(), t.as_secs_f64()),
    ]);
}

/// `CHURN_TIMERS` split as evenly as can be over `tasks`.
fn split(total: usize, tasks: usize) -> impl Iterator<Item = usize> {
    (0..tasks).map(move |i| total / tasks + usize::from(i < total % tasks))
}

/// One churn iteration on pride: `tasks` children of one group, each awaiting its
/// share of `fail_after(CHURN_TIMEOUT, inner())`.
fn churn_pride<M, F>(rt: &pride::Runtime, tasks: usize, inner: M) -> Duration
where
    M: Fn() -> F + Copy + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    rt.block_on(async {
        let start = Instant::now();
        pride::task_group(async |tg| {
            for count in split(CHURN_TIMERS, tasks) {
                tg.start_soon(async move {
                    for _ in 0..count {
                        let out = pride::fail_after(CHURN_TIMEOUT, inner()).await;
                        assert!(black_box(out).is_ok(), "pride: a churn timeout fired");
                    }
                });
            }
        })
        .await
        .expect("the pride churn group failed");
        start.elapsed()
    })
}

/// One churn iteration on tokio: `tasks` tasks in a `JoinSet`, each awaiting its share
/// of `timeout(CHURN_TIMEOUT, inner())`.
fn churn_tokio<M, F>(rt: &tokio::runtime::Runtime, tasks: usize, inner: M) -> Duration
where
    M: Fn() -> F + Copy + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    rt.block_on(async {
        let start = Instant::now();
        let mut set = JoinSet::new();
        for count in split(CHURN_TIMERS, tasks) {
            set.spawn(async move {
                for _ in 0..count {
                    let out = tokio::time::timeout(CHURN_TIMEOUT, inner()).await;
                    assert!(black_box(out).is_ok(), "tokio: a churn timeout fired");
                }
            });
        }
        while let Some(joined) = set.join_next().await {
            joined.expect("a tokio churn task panicked");
        }
        start.elapsed()
    })
}

// ---------------------------------------------------------------------------------------
// sleeps

fn sleeps_rows(
    mode: &Mode,
    table: &mut Table,
    pride_rt: &pride::Runtime,
    tokio_rt: &tokio::runtime::Runtime,
) {
    let offsets = sleep_offsets();
    let latest = *offsets.iter().max().expect("there are sleepers");
    let (pride, tokio) = mode.sample(
        || sleeps_pride(pride_rt, &offsets),
        || sleeps_tokio(tokio_rt, &offsets),
    );
    let (p, t) = (quantile(&pride, 0.5), quantile(&tokio, 0.5));
    table.push(vec![
        "sleeps: 100k concurrent, 1-100 ms, wall".to_string(),
        median_cell(&pride),
        median_cell(&tokio),
        ratio(p.as_secs_f64(), t.as_secs_f64()),
    ]);
    let overhead = |wall: Duration| wall.saturating_sub(latest) / SLEEPERS as u32;
    table.push(vec![
        "sleeps: overhead (wall - latest deadline) / 100k".to_string(),
        format_duration(overhead(p)),
        format_duration(overhead(t)),
        ratio(overhead(p).as_secs_f64(), overhead(t).as_secs_f64()),
    ]);
    eprintln!("timer: sleeps done");
}

/// The sleepers' deadlines, as offsets from the start: a fixed xorshift64 sequence,
/// uniform in `SLEEP_RANGE_US`.
fn sleep_offsets() -> Vec<Duration> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let (low, high) = SLEEP_RANGE_US;
    (0..SLEEPERS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_micros(low + x % (high - low + 1))
        })
        .collect()
}

fn sleeps_pride(rt: &pride::Runtime, offsets: &[Duration]) -> Duration {
    rt.block_on(async {
        let early = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        pride::task_group(async |tg| {
            for &offset in offsets {
                let deadline = start + offset;
                let early = Arc::clone(&early);
                tg.start_soon(async move {
                    pride::sleep_until(deadline).await;
                    if Instant::now() < deadline {
                        early.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        })
        .await
        .expect("the pride sleeps group failed");
        let wall = start.elapsed();
        let early = early.load(Ordering::Relaxed);
        assert_eq!(early, 0, "pride: {early} sleeps woke before their deadline");
        wall
    })
}

fn sleeps_tokio(rt: &tokio::runtime::Runtime, offsets: &[Duration]) -> Duration {
    rt.block_on(async {
        let early = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut set = JoinSet::new();
        for &offset in offsets {
            let deadline = start + offset;
            let early = Arc::clone(&early);
            set.spawn(async move {
                tokio::time::sleep_until(deadline.into()).await;
                if Instant::now() < deadline {
                    early.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while let Some(joined) = set.join_next().await {
            joined.expect("a tokio sleeper panicked");
        }
        let wall = start.elapsed();
        let early = early.load(Ordering::Relaxed);
        assert_eq!(early, 0, "tokio: {early} sleeps woke before their deadline");
        wall
    })
}

// ---------------------------------------------------------------------------------------
// accuracy

fn accuracy_rows(
    mode: &Mode,
    table: &mut Table,
    pride_rt: &pride::Runtime,
    tokio_rt: &tokio::runtime::Runtime,
    workers: usize,
) {
    let samples = if mode.timed {
        ACCURACY_SAMPLES
    } else {
        SMOKE_ACCURACY_SAMPLES
    };
    for (label, busy) in [("idle", 0), ("loaded", workers * BUSY_TASKS_PER_WORKER)] {
        let pride = lateness_pride(pride_rt, samples, busy);
        let tokio = lateness_tokio(tokio_rt, samples, busy);
        for (q, q_name) in [(0.5, "p50"), (0.99, "p99")] {
            let (p, t) = (quantile(&pride, q), quantile(&tokio, q));
            table.push(vec![
                format!("accuracy: 10 ms sleep lateness {q_name}, {label}"),
                format_duration(p),
                format_duration(t),
                ratio(p.as_secs_f64(), t.as_secs_f64()),
            ]);
        }
        eprintln!("timer: accuracy {label} done");
    }
}

/// A few hundred ns of work that the optimiser cannot remove.
fn busy_work() {
    let mut x = black_box(0x2545_f491_4f6c_dd1d_u64);
    for _ in 0..BUSY_ROUNDS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x);
}

/// Sleeps `ACCURACY_SLEEP` once untimed, then `samples` times; returns each lateness.
async fn sample_lateness<S, F>(samples: usize, sleep: S) -> Vec<Duration>
where
    S: Fn(Duration) -> F,
    F: Future<Output = ()>,
{
    sleep(ACCURACY_SLEEP).await;
    let mut lateness = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        sleep(ACCURACY_SLEEP).await;
        lateness.push(start.elapsed().saturating_sub(ACCURACY_SLEEP));
    }
    lateness
}

/// Lateness samples from a child task of pride, with `busy` busy siblings.
fn lateness_pride(rt: &pride::Runtime, samples: usize, busy: usize) -> Vec<Duration> {
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let result = Arc::new(Mutex::new(Vec::new()));
        pride::task_group(async |tg| {
            for _ in 0..busy {
                let stop = Arc::clone(&stop);
                tg.start_soon(async move {
                    while !stop.load(Ordering::Relaxed) {
                        busy_work();
                        pride::yield_now().await;
                    }
                });
            }
            let (stop, result) = (Arc::clone(&stop), Arc::clone(&result));
            tg.start_soon(async move {
                let lateness = sample_lateness(samples, pride::sleep).await;
                *result.lock().unwrap() = lateness;
                stop.store(true, Ordering::Relaxed);
            });
        })
        .await
        .expect("the pride accuracy group failed");
        std::mem::take(&mut *result.lock().unwrap())
    })
}

/// Lateness samples from a spawned tokio task, with `busy` busy tasks beside it.
fn lateness_tokio(rt: &tokio::runtime::Runtime, samples: usize, busy: usize) -> Vec<Duration> {
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let mut set = JoinSet::new();
        for _ in 0..busy {
            let stop = Arc::clone(&stop);
            set.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    busy_work();
                    tokio::task::yield_now().await;
                }
            });
        }
        let stopper = Arc::clone(&stop);
        let lateness = tokio::spawn(async move {
            let lateness = sample_lateness(samples, tokio::time::sleep).await;
            stopper.store(true, Ordering::Relaxed);
            lateness
        })
        .await
        .expect("the tokio accuracy task panicked");
        while let Some(joined) = set.join_next().await {
            joined.expect("a tokio busy task panicked");
        }
        lateness
    })
}

// ---------------------------------------------------------------------------------------
// idle_cpu

fn idle_cpu_row(mode: &Mode, table: &mut Table, workers: usize) {
    let window = if mode.timed {
        IDLE_WINDOW
    } else {
        SMOKE_IDLE_WINDOW
    };

    let pride = {
        let rt = versus::pride_runtime(workers);
        rt.block_on(async { pride::sleep(Duration::from_millis(1)).await });
        watch_idle(|| {
            rt.block_on(async {
                pride::task_group(async |tg| tg.start_soon(pride::sleep(window)))
                    .await
                    .expect("the pride idle group failed");
            });
        })
    };
    let tokio = {
        let rt = versus::tokio_runtime(workers);
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
        watch_idle(|| {
            rt.block_on(async {
                tokio::spawn(tokio::time::sleep(window))
                    .await
                    .expect("the tokio idle task panicked");
            });
        })
    };
    table.push(vec![
        format!(
            "idle_cpu: CPU ms per wall s, one 2 s sleep ({} / {} threads)",
            pride.threads, tokio.threads
        ),
        format!("{:.2}", pride.cpu_ms_per_s),
        format!("{:.2}", tokio.cpu_ms_per_s),
        ratio(pride.cpu_ms_per_s, tokio.cpu_ms_per_s),
    ]);
    eprintln!("timer: idle_cpu done ({})", pride.source);
}

struct Idle {
    cpu_ms_per_s: f64,
    /// Threads in the process during the window.
    threads: usize,
    /// Where the CPU time was read.
    source: &'static str,
}

/// Lets start-up settle, then runs `window` and reports the process's CPU time per
/// wall second over it.
fn watch_idle(window: impl FnOnce()) -> Idle {
    std::thread::sleep(IDLE_SETTLE);
    let (cpu_before, source) = process_cpu_time();
    let start = Instant::now();
    window();
    let wall = start.elapsed();
    let (cpu_after, _) = process_cpu_time();
    let threads = std::fs::read_dir("/proc/self/task").map_or(0, |dir| dir.count());
    Idle {
        cpu_ms_per_s: cpu_after.saturating_sub(cpu_before).as_secs_f64() * 1e3 / wall.as_secs_f64(),
        threads,
        source,
    }
}

/// CPU time of the whole process so far: the sum of every thread's
/// `/proc/self/task/*/schedstat` (ns), or else `/proc/self/stat`'s utime + stime (in
/// ticks of 10 ms, the usual `CLK_TCK` of 100).
fn process_cpu_time() -> (Duration, &'static str) {
    if let Some(ns) = schedstat_ns() {
        return (Duration::from_nanos(ns), "schedstat");
    }
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name, which is in parentheses and may hold spaces:
    // state is field 3, utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')').expect("a /proc stat line") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    (
        Duration::from_millis(ticks * 10),
        "/proc/self/stat, 10 ms ticks",
    )
}

fn schedstat_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread may exit between the listing and the read: it then counts as 0.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}
