//! A quick ratio table of the runtime core: pride against tokio, async-executor and
//! (for CPU fan-out) rayon, on the workloads of `benches/workloads/mod.rs`, all with the
//! same worker count.
//!
//! For each workload, every runtime first warms up, then the samples are taken
//! interleaved across the runtimes (runtime order rotating each round) so that drift
//! in the machine's speed hits every column alike. A sample times a batch of
//! iterations (at least ~5 ms worth); the table shows the median time of one
//! iteration, its spread (half the interquartile range, relative to the median) and
//! pride's ratio to each peer: below 1.00 means pride is faster.
//!
//! Run: `cargo bench -p pride-benches --bench compare` (all workloads, well under 90 s on 2 cores), or
//! `cargo bench -p pride-benches --bench compare -- ping_pong cpu` (workloads whose name contains one
//! of the words). Environment: `PRIDE_BENCH_SAMPLES=n` fixes the sample count (else up
//! to 30, fewer where a cell would pass ~2 s); `PRIDE_BENCH_WORKERS=n` sets the worker
//! count (else one per available core). Without `--bench` (as `cargo test --benches`
//! runs it) each cell runs once, untimed, as a smoke test.

use std::time::{Duration, Instant};

mod settings;
// The command line, the cell summaries and the table printer.
#[allow(dead_code, unused_imports)]
mod versus;
mod workloads;

use versus::{Mode, median_cell, quantile, ratio};
use workloads::{Kind, RuntimeUnderTest, Workload};

/// Default and largest number of samples per cell.
const DEFAULT_SAMPLES: usize = 30;
/// Fewest samples per cell when the time budget cuts the count.
const MIN_SAMPLES: usize = 5;
/// Warm-up per cell: at least this long and at least `WARM_UP_RUNS` iterations.
const WARM_UP: Duration = Duration::from_millis(150);
const WARM_UP_RUNS: u32 = 3;
/// A sample runs enough iterations to last about this long.
const SAMPLE_TARGET: Duration = Duration::from_millis(5);
/// Time budget for the samples of one cell.
const CELL_BUDGET: Duration = Duration::from_secs(2);

fn main() {
    let mode = Mode::from_env();
    let selected: Vec<&Workload> = workloads::WORKLOADS
        .iter()
        .filter(|w| mode.selected(w.name))
        .collect();

    let workers = workloads::worker_count();
    let runtimes = workloads::build_all(workers);

    if !mode.timed {
        for workload in &selected {
            for kind in workload.kinds() {
                (workload.run)(runtime(&runtimes, kind));
            }
            println!("compare: {} ran once on every runtime", workload.name);
        }
        println!("compare: smoke run done (pass --bench, as `cargo bench` does, for timings)");
        return;
    }

    let fixed_samples = mode.fixed_samples;

    println!(
        "pride runtime-core comparison: {workers} worker threads per runtime; \
         machine: {} available cores, {} CPUs online",
        available_cores(),
        online_cpus().map_or_else(|| "?".to_string(), |n| n.to_string()),
    );
    println!(
        "samples: {}, interleaved across runtimes; times are the median of one iteration \
         ± half the interquartile range; ratio < 1.00: pride is faster",
        fixed_samples.map_or_else(
            || format!(
                "up to {DEFAULT_SAMPLES} per cell (~{}s budget)",
                CELL_BUDGET.as_secs()
            ),
            |n| n.to_string()
        ),
    );
    println!();

    let started = Instant::now();
    let mut rows = Vec::new();
    for workload in &selected {
        let row = measure(workload, &runtimes, fixed_samples);
        eprintln!("compare: {} done ({} samples)", workload.name, row.samples);
        rows.push(row);
    }
    print_table(&rows);
    println!();
    println!("total time: {:.1}s", started.elapsed().as_secs_f64());
}

fn runtime(runtimes: &[RuntimeUnderTest], kind: Kind) -> &RuntimeUnderTest {
    runtimes
        .iter()
        .find(|rt| rt.kind() == kind)
        .expect("build_all builds every kind")
}

/// One runtime's measurements on one workload.
struct Cell {
    kind: Kind,
    /// Iterations per sample.
    batch: u32,
    /// Estimated time of one iteration, from the warm-up.
    estimate: Duration,
    /// Time of one iteration, per sample.
    per_iteration: Vec<Duration>,
}

struct Row {
    name: &'static str,
    samples: usize,
    cells: Vec<Cell>,
}

fn measure(workload: &Workload, runtimes: &[RuntimeUnderTest], fixed: Option<usize>) -> Row {
    let mut cells: Vec<Cell> = workload
        .kinds()
        .map(|kind| {
            let rt = runtime(runtimes, kind);
            let estimate = warm_up(workload, rt);
            let batch = (SAMPLE_TARGET.as_secs_f64() / estimate.as_secs_f64().max(1e-9))
                .ceil()
                .clamp(1.0, 10_000.0) as u32;
            Cell {
                kind,
                batch,
                estimate,
                per_iteration: Vec::new(),
            }
        })
        .collect();

    let samples = fixed.unwrap_or_else(|| {
        cells
            .iter()
            .map(|cell| {
                let sample = cell.estimate.as_secs_f64() * f64::from(cell.batch);
                ((CELL_BUDGET.as_secs_f64() / sample) as usize).clamp(MIN_SAMPLES, DEFAULT_SAMPLES)
            })
            .min()
            .unwrap_or(DEFAULT_SAMPLES)
    });

    let columns = cells.len();
    for round in 0..samples {
        for offset in 0..columns {
            let cell = &mut cells[(round + offset) % columns];
            let rt = runtime(runtimes, cell.kind);
            let start = Instant::now();
            for _ in 0..cell.batch {
                (workload.run)(rt);
            }
            cell.per_iteration.push(start.elapsed() / cell.batch);
        }
    }

    Row {
        name: workload.name,
        samples,
        cells,
    }
}

/// Runs the workload for at least `WARM_UP` and `WARM_UP_RUNS` iterations; returns
/// the mean time of one iteration.
fn warm_up(workload: &Workload, rt: &RuntimeUnderTest) -> Duration {
    let start = Instant::now();
    let mut runs = 0;
    while runs < WARM_UP_RUNS || start.elapsed() < WARM_UP {
        (workload.run)(rt);
        runs += 1;
    }
    start.elapsed() / runs
}

fn print_table(rows: &[Row]) {
    let peers = [Kind::Tokio, Kind::AsyncExecutor, Kind::Rayon];
    let mut header = vec!["workload".to_string()];
    header.extend(Kind::ALL.iter().map(|kind| column_name(*kind).to_string()));
    header.extend(
        peers
            .iter()
            .map(|kind| format!("pride/{}", column_name(*kind))),
    );

    let mut lines = vec![header];
    for row in rows {
        let times_of = |kind: Kind| {
            row.cells
                .iter()
                .find(|cell| cell.kind == kind)
                .map(|cell| cell.per_iteration.as_slice())
        };
        let mut line = vec![row.name.to_string()];
        for kind in Kind::ALL {
            line.push(times_of(kind).map_or_else(|| "-".to_string(), median_cell));
        }
        let median = |times: &[Duration]| quantile(times, 0.5).as_secs_f64();
        let pride = times_of(Kind::Pride).map(median);
        for peer in peers {
            line.push(match (pride, times_of(peer).map(median)) {
                (Some(pride), Some(peer)) => ratio(pride, peer),
                _ => "-".to_string(),
            });
        }
        lines.push(line);
    }
    versus::print_table(&lines, 1);
}

fn column_name(kind: Kind) -> &'static str {
    match kind {
        Kind::AsyncExecutor => "async-executor",
        other => other.name(),
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPUs the kernel has online (`/sys/devices/system/cpu/online`, e.g. `0-7`), which
/// can exceed `available_cores` when the process is confined to fewer.
fn online_cpus() -> Option<usize> {
    let list = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    let mut count = 0;
    for range in list.trim().split(',') {
        count += match range.split_once('-') {
            Some((first, last)) => last.parse::<usize>().ok()? - first.parse::<usize>().ok()? + 1,
            None => {
                range.parse::<usize>().ok()?;
                1
            }
        };
    }
    Some(count)
}
