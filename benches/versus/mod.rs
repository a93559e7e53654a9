//! What the bench targets share: how a pride-vs-tokio row is sampled, summarised and
//! printed (`timer` and `group` use all of it; `compare` and `sync` sample their own
//! cells and use the command line, the summaries and the table printer).
//!
//! A row runs one measurement closure per runtime; each call is one iteration and
//! returns the duration it measured (the closure decides what part of the iteration is
//! timed, e.g. only from `cancel()` to the join). Both closures first warm up, then the
//! samples are taken interleaved, the order swapping each round, so that drift in the
//! machine's speed hits both columns alike.
//!
//! Without `--bench` on the command line (as `cargo test --benches` runs a bench
//! target) every row runs once, untimed, as a smoke test.

use std::time::Duration;

#[allow(unused_imports)] // not every bench target reads both
pub use crate::settings::{fixed_samples, worker_count};

/// Default and largest number of samples per row.
const DEFAULT_SAMPLES: usize = 40;
/// Fewest samples per row when the time budget cuts the count.
const MIN_SAMPLES: usize = 5;
/// Warm-up iterations per runtime and row.
const WARM_UP_RUNS: usize = 2;
/// Time budget for the samples of one row, both runtimes together.
const ROW_BUDGET: Duration = Duration::from_secs(5);

/// How this run was asked to measure.
pub struct Mode {
    /// `--bench` was passed: take real samples (otherwise one smoke iteration each).
    pub timed: bool,
    /// `PRIDE_BENCH_SAMPLES`, if set.
    pub fixed_samples: Option<usize>,
    /// The rows asked for on the command line.
    pub filters: crate::settings::Filters,
}

impl Mode {
    /// Reads the command line and `PRIDE_BENCH_SAMPLES`.
    pub fn from_env() -> Mode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let fixed_samples = crate::settings::fixed_samples();
        Mode {
            timed: args.iter().any(|arg| arg == "--bench"),
            fixed_samples,
            filters: crate::settings::Filters::from_args(),
        }
    }

    /// Whether the section or row called `name` was selected on the command line.
    pub fn selected(&self, name: &str) -> bool {
        self.filters.selected(name)
    }

    /// Prints what is compared, on what machine, and how busy the machine is.
    pub fn print_preamble(&self, what: &str, workers: usize) {
        println!(
            "{what}: pride vs tokio (multi-thread), {workers} worker threads each; \
             {} available cores; load average at start: {}",
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            load_average(),
        );
        println!(
            "samples: {}, interleaved across runtimes; times are medians ± half the \
             interquartile range; ratio < 1.00: pride is faster",
            self.fixed_samples.map_or_else(
                || format!(
                    "up to {DEFAULT_SAMPLES} per row (~{}s budget)",
                    ROW_BUDGET.as_secs()
                ),
                |n| n.to_string()
            ),
        );
        println!();
    }

    /// Samples one row: `pride` and `tokio` each run one iteration per call and return
    /// the time they measured. Returns the samples of each, in that order.
    pub fn sample<P, T>(&self, mut pride: P, mut tokio: T) -> (Vec<Duration>, Vec<Duration>)
    where
        P: FnMut() -> Duration,
        T: FnMut() -> Duration,
    {
        if !self.timed {
            return (vec![pride()], vec![tokio()]);
        }
        let mut round = Duration::ZERO;
        for _ in 0..WARM_UP_RUNS {
            let started = std::time::Instant::now();
            pride();
            tokio();
            round = started.elapsed();
        }
        let samples = self.fixed_samples.unwrap_or_else(|| {
            ((ROW_BUDGET.as_secs_f64() / round.as_secs_f64().max(1e-9)) as usize)
                .clamp(MIN_SAMPLES, DEFAULT_SAMPLES)
        });
        let (mut p, mut t) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
        for i in 0..samples {
            if i % 2 == 0 {
                p.push(pride());
                t.push(tokio());
            } else {
                t.push(tokio());
                p.push(pride());
            }
        }
        (p, t)
    }
}

/// A pride runtime with `workers` workers.
pub fn pride_runtime(workers: usize) -> pride::Runtime {
    pride::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("build the pride runtime")
}

/// A tokio multi-thread runtime with `workers` workers and every driver enabled (as
/// pride has them), built like `benches/workloads/mod.rs` builds it.
pub fn tokio_runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("build the tokio runtime")
}

/// The `q` quantile (0.0..=1.0, nearest rank) of `values`.
pub fn quantile(values: &[Duration], q: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Median and half the interquartile range of `values`, as "1.23 ms ±4%".
pub fn median_cell(values: &[Duration]) -> String {
    let median = quantile(values, 0.5);
    let spread = (quantile(values, 0.75) - quantile(values, 0.25)) / 2;
    let relative = 100.0 * spread.as_secs_f64() / median.as_secs_f64().max(1e-12);
    format!("{} ±{relative:.0}%", format_duration(median))
}

/// pride / tokio, as "0.87".
pub fn ratio(pride: f64, tokio: f64) -> String {
    if tokio <= 0.0 {
        return "-".to_string();
    }
    format!("{:.2}", pride / tokio)
}

/// A duration with a unit that suits it.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else if secs >= 1e-6 {
        format!("{:.1} µs", secs * 1e6)
    } else {
        format!("{:.0} ns", secs * 1e9)
    }
}

/// `/proc/loadavg`'s three averages, or "?" off Linux.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_string(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

/// A table: a header and rows of cells, printed as a Markdown table with the first
/// column left-aligned and the others right-aligned.
pub struct Table {
    lines: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Table {
        Table {
            lines: vec![header.iter().map(|s| s.to_string()).collect()],
        }
    }

    /// Adds a row; it must have as many cells as the header.
    pub fn push(&mut self, row: Vec<String>) {
        assert_eq!(row.len(), self.lines[0].len(), "a row with the wrong width");
        self.lines.push(row);
    }

    /// Prints the table to stdout.
    pub fn print(&self) {
        print_table(&self.lines, 1);
    }
}

/// Prints `lines` (the header first) as a Markdown table: the first `left` columns
/// left-aligned, the rest right-aligned.
pub fn print_table(lines: &[Vec<String>], left: usize) {
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|i| {
            lines
                .iter()
                .map(|line| line[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (n, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (text, &width))| {
                if i < left {
                    format!("{text:<width$}")
                } else {
                    format!("{text:>width$}")
                }
            })
            .collect();
        println!("| {} |", cells.join(" | "));
        if n == 0 {
            let rules: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, &width)| {
                    if i < left {
                        "-".repeat(width)
                    } else {
                        format!("{}:", "-".repeat(width.saturating_sub(1)))
                    }
                })
                .collect();
            println!("| {} |", rules.join(" | "));
        }
    }
}
