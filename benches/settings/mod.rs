//! The environment every bench reads, in one place: `PRIDE_BENCH_WORKERS` (worker
//! threads per runtime), `PRIDE_BENCH_SAMPLES` (a fixed sample count) and the row
//! filters on the command line. Every bench target includes it once, at its root, with
//! `mod settings;`; `workloads` and `versus` re-export it from there.

/// The worker count every runtime gets: `PRIDE_BENCH_WORKERS`, or else
/// `std::thread::available_parallelism()`.
pub fn worker_count() -> usize {
    positive("PRIDE_BENCH_WORKERS")
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `PRIDE_BENCH_SAMPLES`, if set.
#[allow(dead_code)] // not every bench target fixes its sample count
pub fn fixed_samples() -> Option<usize> {
    positive("PRIDE_BENCH_SAMPLES")
}

/// A positive integer from the environment variable `name`, if it is set.
///
/// # Panics
/// If it is set to anything else.
pub fn positive(name: &str) -> Option<usize> {
    let value = std::env::var(name).ok()?;
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!("{name} must be a positive integer, got {value:?}"),
    }
}

/// The rows asked for on the command line: every word that is not a flag (`--bench`,
/// criterion's options). With none, every row runs.
#[allow(dead_code)] // the criterion bench filters with criterion's own options
pub struct Filters(Vec<String>);

#[allow(dead_code)]
impl Filters {
    /// Reads the command line.
    pub fn from_args() -> Filters {
        Filters(
            std::env::args()
                .skip(1)
                .filter(|arg| !arg.starts_with('-'))
                .collect(),
        )
    }

    /// Whether the row (or section) called `name` runs: no filter was given, or its
    /// name contains one of them.
    pub fn selected(&self, name: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|word| name.contains(word.as_str()))
    }
}
