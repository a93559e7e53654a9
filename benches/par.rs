//! CPU fork-join and parallel slices: `pride::par` against rayon (and, for the
//! fine-grained join, chili), with the same number of worker threads.
//!
//! Rows:
//! - `tree_join`: the sum of a balanced binary tree of 2^21 boxed nodes, one join per
//!   node (chili's benchmark shape);
//! - `map_2m`: a map of 2M items of about 60 ns each, collected in order
//!   (`par::map` vs `par_iter().map().collect()`);
//! - `fanout_1024`: 1,024 chunks of uneven cost (1x to 16x), started from inside an
//!   async task for pride (the pool's own thread for rayon).
//!
//! Samples are interleaved across the contenders (order rotating each round), so the
//! machine's drift hits each column alike; the table shows medians, their spread
//! (half the interquartile range) and pride's ratio to each peer (below 1.00: pride
//! is faster).
//!
//! Run: `cargo bench -p pride-benches --bench par` (all rows) or `-- map` (rows whose
//! name contains a word). `PRIDE_BENCH_WORKERS=n` sets the worker count (else one per
//! core), `PRIDE_BENCH_SAMPLES=n` the sample count (default 15). Without `--bench` (as
//! `cargo test --benches` runs it) each cell runs once, untimed, as a smoke test.

use std::hint::black_box;
use std::num::NonZero;
use std::time::{Duration, Instant};

use rayon::prelude::*;

mod settings;

struct Node {
    val: u64,
    left: Option<Box<Node>>,
    right: Option<Box<Node>>,
}

impl Node {
    fn tree(layers: usize) -> Node {
        Node {
            val: 1,
            left: (layers != 1).then(|| Box::new(Node::tree(layers - 1))),
            right: (layers != 1).then(|| Box::new(Node::tree(layers - 1))),
        }
    }
}

fn sum_pride(node: &Node) -> u64 {
    let (l, r) = pride::par::join(
        || node.left.as_deref().map_or(0, sum_pride),
        || node.right.as_deref().map_or(0, sum_pride),
    );
    node.val + l + r
}

fn sum_rayon(node: &Node) -> u64 {
    let (l, r) = rayon::join(
        || node.left.as_deref().map_or(0, sum_rayon),
        || node.right.as_deref().map_or(0, sum_rayon),
    );
    node.val + l + r
}

fn sum_chili(node: &Node, scope: &mut chili::Scope<'_>) -> u64 {
    let (l, r) = scope.join(
        |s| node.left.as_deref().map_or(0, |n| sum_chili(n, s)),
        |s| node.right.as_deref().map_or(0, |n| sum_chili(n, s)),
    );
    node.val + l + r
}

/// About 60 ns of arithmetic the optimiser cannot drop.
fn item_work(x: &u64) -> u64 {
    let mut h = black_box(*x) | 1;
    for _ in 0..24 {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
    }
    h
}

/// Chunk `i` of the fan-out: 1 to 16 units of ~20 µs.
fn chunk_work(i: usize) -> u64 {
    let units = 1 + (i * 7919) % 16;
    let mut acc = 0;
    for u in 0..units * 330 {
        acc ^= item_work(&(u as u64 + i as u64));
    }
    acc
}

type Run<'a> = Box<dyn FnMut() -> Duration + 'a>;

struct Row<'a> {
    name: &'static str,
    contenders: Vec<(&'static str, Run<'a>)>,
}

fn timed(f: impl FnOnce() -> u64) -> Duration {
    let start = Instant::now();
    black_box(f());
    start.elapsed()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn spread(v: &[Duration]) -> f64 {
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64();
    100.0 * (q(0.75) - q(0.25)) / 2.0 / q(0.5).max(1e-12)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let timed_mode = args.iter().any(|a| a == "--bench");
    let filters = settings::Filters::from_args();
    let samples = settings::fixed_samples().unwrap_or(15);
    let workers = settings::worker_count();

    let rt = pride::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("pride runtime");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("rayon pool");
    let chili_pool = chili::ThreadPool::with_config(chili::Config {
        thread_count: NonZero::new(workers),
        ..Default::default()
    });

    let layers = if timed_mode { 21 } else { 10 };
    let tree = Node::tree(layers);
    let items: Vec<u64> = (0..if timed_mode { 2_000_000 } else { 1_000 }).collect();
    let chunks = if timed_mode { 1024 } else { 16 };

    let rt = &rt;
    let pool = &pool;
    let tree = &tree;
    let items = &items;
    let rows = vec![
        Row {
            name: "tree_join",
            contenders: vec![
                (
                    "pride",
                    Box::new(move || timed(|| rt.block_on(async { sum_pride(tree) }))) as Run,
                ),
                (
                    "rayon",
                    Box::new(move || timed(|| pool.install(|| sum_rayon(tree)))),
                ),
                (
                    "chili",
                    Box::new(|| timed(|| sum_chili(tree, &mut chili_pool.scope()))),
                ),
            ],
        },
        Row {
            name: "map_2m",
            contenders: vec![
                (
                    "pride",
                    Box::new(move || {
                        timed(|| {
                            rt.block_on(async { pride::par::map(items, item_work).len() as u64 })
                        })
                    }) as Run,
                ),
                (
                    "rayon",
                    Box::new(move || {
                        timed(|| {
                            pool.install(|| {
                                items.par_iter().map(item_work).collect::<Vec<_>>().len() as u64
                            })
                        })
                    }),
                ),
            ],
        },
        Row {
            name: "fanout_1024",
            contenders: vec![
                (
                    "pride",
                    Box::new(move || {
                        rt.block_on(async move {
                            // Timed inside the task: from the task's call to its end.
                            let (tx, rx) = std::sync::mpsc::channel();
                            pride::task_group(async move |tg| {
                                tg.start_soon(async move {
                                    let start = Instant::now();
                                    let v = pride::par::map_range(0..chunks, chunk_work);
                                    black_box(v);
                                    tx.send(start.elapsed()).unwrap();
                                });
                            })
                            .await
                            .unwrap();
                            rx.recv().unwrap()
                        })
                    }) as Run,
                ),
                (
                    "rayon",
                    Box::new(move || {
                        pool.install(|| {
                            let start = Instant::now();
                            let v: Vec<u64> = (0..chunks).into_par_iter().map(chunk_work).collect();
                            black_box(v);
                            start.elapsed()
                        })
                    }),
                ),
            ],
        },
    ];

    println!(
        "par: pride vs rayon/chili, {workers} worker threads each, {samples} samples; load average: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for mut row in rows {
        if !filters.selected(row.name) {
            continue;
        }
        if !timed_mode {
            for (_, run) in &mut row.contenders {
                run();
            }
            continue;
        }
        let n = row.contenders.len();
        // Warm up.
        for (_, run) in &mut row.contenders {
            for _ in 0..2 {
                run();
            }
        }
        let mut times = vec![Vec::with_capacity(samples); n];
        for round in 0..samples {
            for k in 0..n {
                let i = (round + k) % n;
                times[i].push((row.contenders[i].1)());
            }
        }
        let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
        let mut line = format!("{:<12}", row.name);
        for (i, (name, _)) in row.contenders.iter().enumerate() {
            line += &format!(
                "  {name} {:>9.2} ms ±{:>4.1}%",
                medians[i].as_secs_f64() * 1e3,
                spread(&times[i])
            );
        }
        for (i, (name, _)) in row.contenders.iter().enumerate().skip(1) {
            line += &format!(
                "  pride/{name} {:.2}",
                medians[0].as_secs_f64() / medians[i].as_secs_f64()
            );
        }
        println!("{line}");
    }
}
