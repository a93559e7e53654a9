//! Criterion benches of the runtime core: pride side by side with tokio, async-executor
//! and (for CPU fan-out) rayon, all with the same worker count.
//!
//! One criterion group per workload (`spawn_many`, `yield_many`, `ping_pong`,
//! `chained_spawn`, `cpu_fanout`), one function per runtime (`pride`, `tokio`,
//! `async_executor`, `rayon`). The workloads live in `benches/workloads/mod.rs`, shared
//! with `benches/compare.rs`. Each runtime is built once, outside the timed loop, with
//! `PRIDE_BENCH_WORKERS` workers or else one per available core.
//!
//! Run: `cargo bench -p pride-benches --bench runtime` (all), `cargo bench -p pride-benches --bench runtime -- ping_pong`
//! (one group), `cargo bench -p pride-benches --bench runtime -- '/pride'` (pride only). For a one-shot
//! ratio table use `cargo bench -p pride-benches --bench compare` instead.

use std::time::Duration;

use criterion::{Criterion, SamplingMode};

mod settings;
mod workloads;

fn runtime_core(c: &mut Criterion) {
    let workers = workloads::worker_count();
    let runtimes = workloads::build_all(workers);
    for workload in &workloads::WORKLOADS {
        let mut group = c.benchmark_group(workload.name);
        // Iterations last milliseconds: flat sampling keeps the run short.
        group.sampling_mode(SamplingMode::Flat);
        for kind in workload.kinds() {
            let rt = runtimes
                .iter()
                .find(|rt| rt.kind() == kind)
                .expect("build_all builds every kind");
            group.bench_function(kind.name(), |b| b.iter(|| (workload.run)(rt)));
        }
        group.finish();
    }
}

fn main() {
    // What `criterion_group!`/`criterion_main!` expand to, written out: the macro's
    // generated `pub fn` has no doc comment, which the crate's `missing_docs` lint flags.
    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    runtime_core(&mut criterion);
    criterion.final_summary();
}
