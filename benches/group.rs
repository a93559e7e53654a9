//! Task groups: pride's `task_group` against tokio's `JoinSet` on the multi-thread
//! runtime, same worker count, same run.
//!
//! Rows (names in brackets, for filtering):
//!
//! - [fanout] a group of 10,000 children that each return at once, opened and joined
//!   from `block_on`, vs a `JoinSet`: spawn all, `join_next` until empty.
//! - [cancel] 10,000 children that each sleep 1 h. Once all of them are asleep, the
//!   body calls `tg.cancel_scope().cancel()` and returns; timed from the `cancel()`
//!   until the group has returned (every child dropped), vs `abort_all` and
//!   `join_next` until empty. A second row times the whole iteration (spawn, wait
//!   until all are asleep, cancel, join). Every child's drop is counted.
//! - [error_latency] 1,000 children pending forever, each holding a guard that records
//!   when it is dropped, and one child that (once the 1,000 are pending) takes
//!   `Instant::now()` and returns `Err`. Timed from that instant to the last guard's
//!   drop. tokio: the same tasks in a `JoinSet`; on the first `Err` out of `join_next`
//!   the caller calls `abort_all` and drains the set.
//! - [empty_group] 100,000 times `task_group(async |_| {}).await` in a loop, vs creating
//!   a `JoinSet`, awaiting `join_next` on it (`None` at once) and dropping it. Total
//!   and per group, with the loop in `block_on`; then per group with the loop in a task
//!   (pride: a group's child, inside its scope; tokio: a spawned task).
//!
//! Run: `cargo bench -p pride-benches --bench group` (all rows, well under 90 s on 2 cores), or
//! `cargo bench --bench group -- cancel empty` (rows whose name contains one of the
//! words). `PRIDE_BENCH_SAMPLES=n` fixes the sample count (else up to 40, fewer where
//! a row would pass ~5 s); `PRIDE_BENCH_WORKERS=n` sets the worker count (else one
//! per available core). Without `--bench` (as `cargo test --benches` runs it) every
//! row runs once, untimed, as a smoke test.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

mod settings;
mod versus;

use versus::{Mode, Table, format_duration, median_cell, quantile, ratio};

/// Children in `fanout`.
const FANOUT_CHILDREN: usize = 10_000;
/// Sleeping children in `cancel`, and how long they would sleep.
const CANCEL_CHILDREN: usize = 10_000;
const CANCEL_SLEEP: Duration = Duration::from_secs(3600);
/// Pending siblings of the failing child in `error_latency`.
const ERROR_SIBLINGS: usize = 1_000;
/// Groups opened and closed in one `empty_group` iteration.
const EMPTY_GROUPS: usize = 100_000;

fn main() {
    let mode = Mode::from_env();
    let workers = versus::worker_count();
    mode.print_preamble("task groups", workers);
    let started = Instant::now();

    let pride_rt = versus::pride_runtime(workers);
    let tokio_rt = versus::tokio_runtime(workers);
    let mut table = Table::new(&["group row", "pride", "tokio", "pride/tokio"]);

    if mode.selected("fanout") {
        let samples = mode.sample(|| fanout_pride(&pride_rt), || fanout_tokio(&tokio_rt));
        push_median(&mut table, "fanout: 10k children, join all", &samples);
        eprintln!("group: fanout done");
    }
    if mode.selected("cancel") {
        let mut whole = (Vec::new(), Vec::new());
        let (pride, tokio) = mode.sample(
            || {
                let (all, cancel) = cancel_pride(&pride_rt);
                whole.0.push(all);
                cancel
            },
            || {
                let (all, cancel) = cancel_tokio(&tokio_rt);
                whole.1.push(all);
                cancel
            },
        );
        push_median(
            &mut table,
            "cancel: 10k sleepers, cancel() -> joined",
            &(pride, tokio),
        );
        push_median(
            &mut table,
            "cancel: 10k sleepers, whole (spawn, sleep, cancel, join)",
            &whole,
        );
        eprintln!("group: cancel done");
    }
    if mode.selected("error_latency") {
        let samples = mode.sample(
            || error_latency_pride(&pride_rt),
            || error_latency_tokio(&tokio_rt),
        );
        push_median(
            &mut table,
            "error_latency: Err -> last of 1k siblings dropped",
            &samples,
        );
        let (p, t) = (quantile(&samples.0, 1.0), quantile(&samples.1, 1.0));
        table.push(vec![
            "error_latency: worst sample".to_string(),
            format_duration(p),
            format_duration(t),
            ratio(p.as_secs_f64(), t.as_secs_f64()),
        ]);
        eprintln!("group: error_latency done");
    }
    if mode.selected("empty_group") {
        let samples = mode.sample(
            || empty_groups_pride(&pride_rt),
            || empty_groups_tokio(&tokio_rt),
        );
        push_median(
            &mut table,
            "empty_group: 100k open + close, total",
            &samples,
        );
        let (p, t) = (quantile(&samples.0, 0.5), quantile(&samples.1, 0.5));
        let per = EMPTY_GROUPS as u32;
        table.push(vec![
            "empty_group: per group".to_string(),
            format_duration(p / per),
            format_duration(t / per),
            ratio(p.as_secs_f64(), t.as_secs_f64()),
        ]);
        let samples = mode.sample(
            || empty_groups_in_task_pride(&pride_rt),
            || empty_groups_in_task_tokio(&tokio_rt),
        );
        let (p, t) = (quantile(&samples.0, 0.5), quantile(&samples.1, 0.5));
        table.push(vec![
            "empty_group: per group, in a task".to_string(),
            format_duration(p / per),
            format_duration(t / per),
            ratio(p.as_secs_f64(), t.as_secs_f64()),
        ]);
        eprintln!("group: empty_group done");
    }

    if !mode.timed {
        println!("group: smoke run done (pass --bench, as `cargo bench` does, for timings)");
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

/// A row of medians and their ratio.
fn push_median(table: &mut Table, name: &str, (pride, tokio): &(Vec<Duration>, Vec<Duration>)) {
    let (p, t) = (quantile(pride, 0.5), quantile(tokio, 0.5));
    table.push(vec![
        name.to_string(),
        median_cell(pride),
        median_cell(tokio),
        ratio(p.as_secs_f64(), t.as_secs_f64()),
    ]);
}

// ---------------------------------------------------------------------------------------
// fanout

fn fanout_pride(rt: &pride::Runtime) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        pride::task_group(async |tg| {
            for i in 0..FANOUT_CHILDREN {
                tg.start_soon(async move {
                    black_box(i);
                });
            }
        })
        .await
        .expect("the pride fanout group failed");
        start.elapsed()
    })
}

fn fanout_tokio(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let mut set = JoinSet::new();
        for i in 0..FANOUT_CHILDREN {
            set.spawn(async move {
                black_box(i);
            });
        }
        while let Some(joined) = set.join_next().await {
            joined.expect("a tokio fanout task panicked");
        }
        start.elapsed()
    })
}

// ---------------------------------------------------------------------------------------
// cancel

/// Counts the drops of the futures that hold one.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// One cancel iteration on pride: (whole iteration, `cancel()` to the group's return).
fn cancel_pride(rt: &pride::Runtime) -> (Duration, Duration) {
    rt.block_on(async {
        let asleep = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut cancelled_at = None;
        let start = Instant::now();
        pride::task_group(async |tg| {
            for _ in 0..CANCEL_CHILDREN {
                let asleep = Arc::clone(&asleep);
                let guard = DropCounter(Arc::clone(&dropped));
                tg.start_soon(async move {
                    let _guard = guard;
                    asleep.fetch_add(1, Ordering::Relaxed);
                    pride::sleep(CANCEL_SLEEP).await;
                });
            }
            while asleep.load(Ordering::Relaxed) < CANCEL_CHILDREN {
                pride::yield_now().await;
            }
            cancelled_at = Some(Instant::now());
            tg.cancel_scope().cancel();
        })
        .await
        .expect("an explicit cancel is a clean exit");
        let end = Instant::now();
        let dropped = dropped.load(Ordering::Relaxed);
        assert_eq!(dropped, CANCEL_CHILDREN, "pride: children not dropped");
        let cancelled_at = cancelled_at.expect("the body ran to its end");
        (end - start, end - cancelled_at)
    })
}

/// One cancel iteration on tokio: (whole iteration, `abort_all()` to the set's drain).
fn cancel_tokio(rt: &tokio::runtime::Runtime) -> (Duration, Duration) {
    rt.block_on(async {
        let asleep = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut set = JoinSet::new();
        for _ in 0..CANCEL_CHILDREN {
            let asleep = Arc::clone(&asleep);
            let guard = DropCounter(Arc::clone(&dropped));
            set.spawn(async move {
                let _guard = guard;
                asleep.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(CANCEL_SLEEP).await;
            });
        }
        while asleep.load(Ordering::Relaxed) < CANCEL_CHILDREN {
            tokio::task::yield_now().await;
        }
        let cancelled_at = Instant::now();
        set.abort_all();
        while let Some(joined) = set.join_next().await {
            assert!(joined.is_err_and(|e| e.is_cancelled()));
        }
        let end = Instant::now();
        let dropped = dropped.load(Ordering::Relaxed);
        assert_eq!(dropped, CANCEL_CHILDREN, "tokio: tasks not dropped");
        (end - start, end - cancelled_at)
    })
}

// ---------------------------------------------------------------------------------------
// error_latency

/// What the error-latency tasks share: instants as ns since `base`.
struct Stamps {
    base: Instant,
    pending: AtomicUsize,
    dropped: AtomicUsize,
    failed_at: AtomicU64,
    last_drop: AtomicU64,
}

impl Stamps {
    fn new() -> Arc<Stamps> {
        Arc::new(Stamps {
            base: Instant::now(),
            pending: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            failed_at: AtomicU64::new(0),
            last_drop: AtomicU64::new(0),
        })
    }

    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Checks that every sibling was dropped; returns failure to last drop.
    fn latency(&self, runtime: &str) -> Duration {
        let dropped = self.dropped.load(Ordering::SeqCst);
        assert_eq!(dropped, ERROR_SIBLINGS, "{runtime}: siblings not dropped");
        let (failed, last) = (
            self.failed_at.load(Ordering::SeqCst),
            self.last_drop.load(Ordering::SeqCst),
        );
        assert!(failed > 0, "{runtime}: the failing child did not run");
        Duration::from_nanos(last.saturating_sub(failed))
    }
}

/// Held by a pending sibling: records when it is dropped.
struct DropStamp(Arc<Stamps>);

impl Drop for DropStamp {
    fn drop(&mut self) {
        let now = self.0.now();
        self.0.last_drop.fetch_max(now, Ordering::SeqCst);
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits with yields until every sibling is pending, then stamps the failure.
macro_rules! fail_when_all_pending {
    ($stamps:expr, $yield_now:path) => {{
        while $stamps.pending.load(Ordering::SeqCst) < ERROR_SIBLINGS {
            $yield_now().await;
        }
        $stamps.failed_at.store($stamps.now(), Ordering::SeqCst);
        Err::<(), _>("the failing child")
    }};
}

fn error_latency_pride(rt: &pride::Runtime) -> Duration {
    rt.block_on(async {
        let stamps = Stamps::new();
        let result = pride::task_group(async |tg| {
            for _ in 0..ERROR_SIBLINGS {
                let guard = DropStamp(Arc::clone(&stamps));
                tg.start_soon(async move {
                    guard.0.pending.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<()>().await;
                    drop(guard);
                });
            }
            let stamps = Arc::clone(&stamps);
            tg.start_soon(async move { fail_when_all_pending!(stamps, pride::yield_now) });
        })
        .await;
        let error = result.expect_err("pride: the group hid the child's error");
        assert_eq!(error.errors().len(), 1, "pride: {error}");
        stamps.latency("pride")
    })
}

fn error_latency_tokio(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let stamps = Stamps::new();
        let mut set = JoinSet::new();
        for _ in 0..ERROR_SIBLINGS {
            let guard = DropStamp(Arc::clone(&stamps));
            set.spawn(async move {
                guard.0.pending.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
                drop(guard);
                Ok(())
            });
        }
        let failing = Arc::clone(&stamps);
        set.spawn(async move { fail_when_all_pending!(failing, tokio::task::yield_now) });
        let mut errors = 0;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Err(_)) => {
                    errors += 1;
                    set.abort_all();
                }
                Ok(Ok(())) => unreachable!("a pending sibling returned"),
                Err(e) => assert!(e.is_cancelled(), "a tokio sibling panicked"),
            }
        }
        assert_eq!(errors, 1);
        stamps.latency("tokio")
    })
}

// ---------------------------------------------------------------------------------------
// empty_group

fn empty_groups_pride(rt: &pride::Runtime) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..EMPTY_GROUPS {
            pride::task_group(async |_tg| {})
                .await
                .expect("an empty group failed");
        }
        start.elapsed()
    })
}

fn empty_groups_in_task_pride(rt: &pride::Runtime) -> Duration {
    rt.block_on(async {
        let took = Arc::new(std::sync::Mutex::new(Duration::ZERO));
        let out = took.clone();
        pride::task_group(async move |tg| {
            tg.start_soon(async move {
                let start = Instant::now();
                for _ in 0..EMPTY_GROUPS {
                    pride::task_group(async |_tg| {})
                        .await
                        .expect("an empty group failed");
                }
                *out.lock().unwrap() = start.elapsed();
            });
        })
        .await
        .expect("the looping child failed");
        *took.lock().unwrap()
    })
}

fn empty_groups_in_task_tokio(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        tokio::spawn(async {
            let start = Instant::now();
            for _ in 0..EMPTY_GROUPS {
                let mut set = black_box(JoinSet::<()>::new());
                assert!(set.join_next().await.is_none());
            }
            start.elapsed()
        })
        .await
        .expect("the looping task panicked")
    })
}

fn empty_groups_tokio(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..EMPTY_GROUPS {
            let mut set = black_box(JoinSet::<()>::new());
            assert!(set.join_next().await.is_none());
        }
        start.elapsed()
    })
}
