//! The environment every bench reads, in one place: `PRIDE_BENCH_WORKERS` (worker
//! threads per runtime) and `PRIDE_BENCH_SAMPLES` (a fixed sample count). Every bench
//! target includes it once, at its root, with `mod settings;`; `workloads` and
//! `versus` re-export it from there.

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
