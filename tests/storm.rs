//! Fault storms: rounds of many tasks that randomly finish, fail, panic, panic in
//! `Drop`, are cancelled by handle, by scope and by deadline, nest groups and start
//! children with `start`. Every future is dropped exactly once, every failure reaches
//! the group's error, and memory stays flat from round to round.
//!
//! Size: `STORM_TASKS` tasks over `ROUNDS` rounds (10^6 in an optimised build; 10^5 in
//! a debug build, so `cargo test` stays within seconds). `PRIDE_STORM_TASKS=n` sets the
//! total.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Counter, Rng};
use pride::{BoxError, CancelScope, TaskGroup, TaskStatus, time::Clock};

const ROUNDS: usize = 100;

fn total_tasks() -> usize {
    std::env::var("PRIDE_STORM_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(miri) {
            2_000
        } else if cfg!(debug_assertions) {
            100_000
        } else {
            1_000_000
        })
}

/// The payload prefix of the storm's own panics, which the panic hook keeps quiet.
const STORM: &str = "storm:";

fn quiet_storm_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !common::panic_text(info.payload()).starts_with(STORM) {
            default(info);
        }
    }));
}

/// What a storm counts.
#[derive(Clone, Default)]
struct Tally {
    /// Futures made and futures dropped.
    made: Counter,
    dropped: Counter,
    /// Children that returned an error or panicked, also in a `Drop` (each must be in
    /// a group error).
    failed: Counter,
    /// What failed, and at which nesting depth, in order.
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Tally {
    fn fail(&self, what: &str) {
        self.failed.inc();
        self.log.lock().unwrap().push(what.to_owned());
    }
}

/// Counts one future made now and dropped with it; with a label, panics in `Drop`
/// (and counts that as a failure: a panic in a `Drop`, cleanup included, is reported).
struct Guard {
    tally: Tally,
    panic_on_drop: Option<String>,
}

impl Guard {
    fn new(tally: &Tally, panic_on_drop: Option<String>) -> Guard {
        tally.made.inc();
        Guard {
            tally: tally.clone(),
            panic_on_drop,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.tally.dropped.inc();
        if let Some(what) = self.panic_on_drop.take() {
            if !std::thread::panicking() {
                self.tally.fail(&what);
                panic!("{STORM} panic in drop");
            }
        }
    }
}

/// Starts one child of a random kind in `tg`; `depth` limits nesting.
fn start_child(tg: &TaskGroup, rng: &mut Rng, tally: &Tally, depth: u32) {
    let kind = rng.below(if depth == 0 { 9 } else { 7 });
    let ms = rng.below(20);
    let seed = rng.next();
    let tally = tally.clone();
    match kind {
        // Finishes, after a short sleep or a yield.
        0 => tg.start_soon(async move {
            let _guard = Guard::new(&tally, None);
            pride::sleep(Duration::from_millis(ms)).await;
        }),
        // Fails.
        1 => tg.start_soon(async move {
            let _guard = Guard::new(&tally, None);
            pride::yield_now().await;
            tally.fail(&format!("err@{depth}"));
            Err::<(), BoxError>(format!("{STORM} failed").into())
        }),
        // Panics.
        2 => tg.start_soon(async move {
            let _guard = Guard::new(&tally, None);
            pride::sleep(Duration::from_millis(ms)).await;
            tally.fail(&format!("panic@{depth}"));
            storm_panic("panicked");
        }),
        // Panics in `Drop`, whether dropped as the future finishes or as a cancelled
        // future is dropped (cleanup): a failure either way.
        3 => tg.start_soon(async move {
            let guard = Guard::new(&tally, Some(format!("drop@{depth}")));
            pride::yield_now().await;
            drop(guard);
        }),
        // Cancelled by its handle (or finishes first).
        4 => {
            let handle = tg.spawn(async move {
                let _guard = Guard::new(&tally, None);
                pride::sleep(Duration::from_secs(3600)).await;
            });
            tg.start_soon(async move {
                pride::sleep(Duration::from_millis(ms)).await;
                handle.cancel();
            });
        }
        // Cancelled by a scope that another child cancels.
        5 => {
            let scope = CancelScope::new();
            let canceller = scope.clone();
            tg.start_soon(async move {
                let _guard = Guard::new(&tally, None);
                let _ = scope.run(pride::sleep(Duration::from_secs(3600))).await;
            });
            tg.start_soon(async move {
                pride::sleep(Duration::from_millis(ms)).await;
                canceller.cancel();
            });
        }
        // Cancelled by a deadline.
        6 => tg.start_soon(async move {
            let _guard = Guard::new(&tally, None);
            let _ =
                pride::move_on_after(Duration::from_millis(ms), std::future::pending::<()>()).await;
        }),
        // A nested group of a few random children; its failures reach this group.
        7 => tg.start_soon(async move {
            let _guard = Guard::new(&tally, None);
            let mut rng = Rng::new(seed);
            let inner = tally.clone();
            pride::task_group(async move |tg| {
                for _ in 0..rng.below(4) {
                    start_child(&tg, &mut rng, &inner, depth + 1);
                }
            })
            .await
        }),
        // A child started with `start`, which reports ready and then sleeps.
        _ => tg.start_soon(async move {
            let _guard = Guard::new(&tally, None);
            let inner = tally.clone();
            pride::task_group(async move |tg| {
                let started = tg
                    .start(move |status: TaskStatus<u64>| async move {
                        let _guard = Guard::new(&inner, None);
                        status.started(ms);
                        pride::sleep(Duration::from_millis(ms)).await;
                    })
                    .await;
                if let Ok(value) = started {
                    assert_eq!(value, ms);
                }
            })
            .await
        }),
    }
}

/// Panics with a storm payload (a function, so the child's output stays `()`).
fn storm_panic(what: &str) {
    panic!("{STORM} {what}");
}

/// Counts the failures in a group error, nested group errors included.
fn failures_in(error: &pride::GroupError) -> usize {
    error
        .errors()
        .iter()
        .map(|e| match e.downcast_ref::<pride::GroupError>() {
            Some(nested) => failures_in(nested),
            None => usize::from(!e.is_cancelled()),
        })
        .sum()
}

/// This process's resident set in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("statm's second field");
    pages * 4096
}

/// Runs the storm: `ROUNDS` rounds of `per_round` random children each, on two workers
/// and the autojump clock. Every future is dropped exactly once in every round, no
/// failure is invented, and the resident set stays flat. With `strict`, every failure
/// must also be in the round's group error.
fn storm(per_round: usize, strict: bool) {
    quiet_storm_panics();
    let builder = common::builder(2).clock(Clock::autojump()).clone();
    let rss_log = common::block_on(600, &builder, move || async move {
        let mut rng = Rng::new(0x5107_u64);
        let mut rss_log = Vec::with_capacity(ROUNDS);
        for round in 0..ROUNDS {
            let tally = Tally::default();
            let inner = tally.clone();
            let mut round_rng = Rng::new(rng.next());
            let result = pride::task_group(async move |tg| {
                for _ in 0..per_round {
                    start_child(&tg, &mut round_rng, &inner, 0);
                }
            })
            .await;
            let reported = match &result {
                Ok(()) => 0,
                Err(error) => failures_in(error),
            };
            let failed = tally.failed.get();
            assert_eq!(
                tally.dropped.get(),
                tally.made.get(),
                "round {round}: a future was not dropped (or dropped twice)"
            );
            let log = tally.log.lock().unwrap().clone();
            assert!(
                reported <= failed && (reported > 0) == (failed > 0),
                "round {round}: {reported} failures reported, {failed} happened: {result:?} {log:?}"
            );
            if strict {
                assert_eq!(
                    reported, failed,
                    "round {round}: a failure was lost (kind@depth, in order: {log:?}): {result:?}"
                );
            }
            rss_log.push(rss());
        }
        rss_log
    });
    // Flat: after warming up (the first tenth of the rounds), the resident set grows
    // by less than 16 MiB over the remaining rounds.
    let warm = rss_log[ROUNDS / 10];
    let last = *rss_log.last().unwrap();
    assert!(
        last < warm + (16 << 20),
        "RSS grew from {} KiB to {} KiB",
        warm >> 10,
        last >> 10
    );
}

#[test]
fn a_storm_of_failing_panicking_and_cancelled_tasks() {
    storm(total_tasks().div_ceil(ROUNDS), false);
}

/// Every failure of a storm reaches the group error, nested groups and cleanup panics
/// included. A nested group whose child failed keeps its error when a sibling's failure
/// cancels it from outside: it drains and returns its error instead of being dropped.
#[test]
fn every_failure_of_a_storm_is_reported() {
    storm(1_000, true);
}

/// A future whose `Drop` blocks does not stall the runtime: while it blocks (waiting
/// for another task to run), the other worker runs that task.
#[test]
fn a_drop_that_blocks_does_not_stall_the_other_workers() {
    struct BlockingDrop(std::sync::mpsc::Receiver<()>);
    impl Drop for BlockingDrop {
        fn drop(&mut self) {
            let got = self.0.recv_timeout(Duration::from_secs(20));
            assert!(got.is_ok(), "the other task never ran while Drop blocked");
        }
    }
    common::run(2, 60, || async {
        let (tx, rx) = std::sync::mpsc::channel();
        let dropping = Arc::new(AtomicUsize::new(0));
        let result = pride::task_group(async |tg| {
            let blocker = BlockingDrop(rx);
            let flag = dropping.clone();
            let handle = tg.spawn(async move {
                let _blocker = blocker;
                std::future::pending::<()>().await;
            });
            tg.start_soon(async move {
                // Runs on the other worker while the first is blocked in `Drop`.
                common::yield_until(|| flag.load(Ordering::SeqCst) == 1).await;
                tx.send(()).unwrap();
            });
            pride::yield_now().await;
            dropping.store(1, Ordering::SeqCst);
            handle.cancel();
        })
        .await;
        assert!(result.is_ok(), "{result:?}");
    });
}
