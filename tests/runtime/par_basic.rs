//! `pride::par`: results and order, borrowing, nesting, and where the pieces run
//! (a task, a `block_on` thread, outside any runtime).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{run, watchdog};
use pride::par;

const N: usize = if cfg!(miri) { 200 } else { 100_000 };
const TASKS: u64 = if cfg!(miri) { 4 } else { 16 };
const ITEMS_PER_TASK: u64 = if cfg!(miri) { 100 } else { 10_000 };

/// Spins, yielding, until `flag` is set: false if it was not within 30 s (a bound that
/// turns a hang into a failure, not a timing assertion).
fn spin_for(flag: &AtomicBool) -> bool {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        if start.elapsed() > Duration::from_secs(30) {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

fn tree_sum(depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let (a, b) = par::join(|| tree_sum(depth - 1), || tree_sum(depth - 1));
    a + b + 1
}

#[test]
fn map_keeps_input_order_inside_a_task() {
    let out = run(2, 60, || async {
        let input: Vec<usize> = (0..N).collect();
        par::map(&input, |&x| x * 3)
    });
    assert_eq!(out, (0..N).map(|x| x * 3).collect::<Vec<_>>());
}

#[test]
fn every_form_gives_the_sequential_answer() {
    run(3, 60, || async {
        let input: Vec<u64> = (0..N as u64).collect();
        let expected: u64 = input.iter().map(|x| x % 7).sum();
        assert_eq!(par::sum(&input, |x| x % 7), expected);
        assert_eq!(par::sum_range(0..N, |i| i as u64 % 7), expected);
        assert_eq!(par::reduce(&input, || 0, |x| x % 7, |a, b| a + b), expected);
        assert_eq!(
            par::reduce_range(0..N, || 0u64, |i| i as u64 % 7, |a, b| a + b),
            expected
        );
        // A non-commutative op: pieces are combined in input order.
        let text: Vec<String> = (0..500).map(|i| i.to_string()).collect();
        let joined = par::reduce(&text, String::new, |s| s.clone(), |a, b| a + &b);
        assert_eq!(joined, text.concat());
        assert_eq!(par::map_range(0..N, |i| i + 1), (1..=N).collect::<Vec<_>>());
        let mut v = input.clone();
        par::for_each(&mut v, |x| *x *= 2);
        assert!(v.iter().zip(&input).all(|(a, b)| *a == 2 * b));
        let hits = AtomicUsize::new(0);
        par::for_each_range(0..N, |_| {
            hits.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(hits.load(Ordering::Relaxed), N);
        assert_eq!(
            par::try_map(&input, |&x| Ok::<_, std::io::Error>(x + 1)).unwrap(),
            input.iter().map(|x| x + 1).collect::<Vec<_>>()
        );
        assert!(par::map(&[] as &[u8], |&x| x).is_empty());
        assert_eq!(par::sum(&[] as &[u64], |&x| x), 0);
    });
}

#[test]
fn closures_borrow_from_the_caller() {
    run(2, 60, || async {
        let mut left = vec![0u32; 1000];
        let mut right = vec![0u32; 1000];
        let source = vec![5u32; 2000];
        par::join(
            || left.copy_from_slice(&source[..1000]),
            || right.copy_from_slice(&source[1000..]),
        );
        assert_eq!(left.iter().chain(&right).sum::<u32>(), 10_000);

        let seen = Mutex::new(Vec::new());
        let mut counts = [0usize; 8];
        par::scope(|s| {
            for (i, slot) in counts.iter_mut().enumerate() {
                let seen = &seen;
                let source = &source;
                s.spawn(move |s| {
                    *slot = source.len() + i;
                    // Spawns may spawn into the same scope.
                    s.spawn(move |_| seen.lock().unwrap().push(i));
                });
            }
        });
        assert_eq!(counts, [2000, 2001, 2002, 2003, 2004, 2005, 2006, 2007]);
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
    });
}

#[test]
fn deep_recursive_joins_finish() {
    let depth = if cfg!(miri) { 4 } else { 18 };
    let total = run(2, 120, move || async move { tree_sum(depth) });
    assert_eq!(total, (1 << (depth + 1)) - 1);
}

#[test]
// Checks scheduling, not memory safety, and spins: skipped under Miri.
#[cfg_attr(miri, ignore)]
fn an_idle_worker_takes_the_second_half_while_the_first_runs() {
    /// Marks this half started and waits (boundedly) until the other one is: true if
    /// the two ran at the same time.
    fn meet(mine: &AtomicBool, other: &AtomicBool) -> bool {
        mine.store(true, Ordering::SeqCst);
        spin_for(other)
    }
    let met = run(2, 60, || async {
        let (a, b) = (AtomicBool::new(false), AtomicBool::new(false));
        par::join(|| meet(&a, &b), || meet(&b, &a))
    });
    assert_eq!(met, (true, true), "the two halves ran one after the other");
}

#[test]
// Checks scheduling, not memory safety, and spins: skipped under Miri.
#[cfg_attr(miri, ignore)]
fn a_worker_that_ran_out_gets_items_of_the_last_running_piece() {
    // With 2 workers a call of 1,024 items starts in at most 16 pieces, so items 0
    // to 63 run in one piece. Item 0 holds it until the other worker has run the
    // second half of the call (taken at the first split), so that worker runs out
    // while this piece still has 63 items. The piece's items then wait a little for
    // one of them to run elsewhere: only sharing the piece's items can do that.
    let shared = run(2, 60, || async {
        let second_half_done = AtomicUsize::new(0);
        let ran_elsewhere = AtomicBool::new(false);
        let first = Mutex::new(None);
        par::for_each_range(0..1024, |i| {
            let me = std::thread::current().id();
            if i == 0 {
                *first.lock().unwrap() = Some(me);
                let start = Instant::now();
                while second_half_done.load(Ordering::SeqCst) < 512
                    && start.elapsed() < Duration::from_secs(30)
                {
                    std::thread::yield_now();
                }
            } else if i < 64 {
                if *first.lock().unwrap() == Some(me) {
                    let start = Instant::now();
                    while !ran_elsewhere.load(Ordering::SeqCst)
                        && start.elapsed() < Duration::from_millis(5)
                    {
                        std::thread::yield_now();
                    }
                } else {
                    ran_elsewhere.store(true, Ordering::SeqCst);
                }
            } else if i >= 512 {
                second_half_done.fetch_add(1, Ordering::SeqCst);
            }
        });
        ran_elsewhere.into_inner()
    });
    assert!(shared, "items 1 to 63 all ran after item 0, on its worker");
}

#[test]
// Checks scheduling, not memory safety, and spins: skipped under Miri.
#[cfg_attr(miri, ignore)]
fn fine_grained_joins_spread_over_the_workers() {
    fn leaves(depth: u32, names: &Mutex<HashSet<String>>) -> u64 {
        if depth == 0 {
            let name = std::thread::current().name().unwrap_or("").to_owned();
            names.lock().unwrap().insert(name);
            return std::hint::black_box((0..100).sum::<u64>());
        }
        let (a, b) = par::join(|| leaves(depth - 1, names), || leaves(depth - 1, names));
        a + b
    }
    let depth = if cfg!(miri) { 3 } else { 12 };
    // Repeated until both workers ran leaves, within a bound far above what a loaded
    // machine needs.
    let workers = run(2, 60, move || async move {
        let start = Instant::now();
        loop {
            let names = Mutex::new(HashSet::new());
            assert_eq!(leaves(depth, &names), (1 << depth) * 4950);
            let names = names.into_inner().unwrap();
            if names.len() == 2 || start.elapsed() > Duration::from_secs(30) {
                return names.len();
            }
        }
    });
    assert_eq!(workers, 2, "every leaf ran on one worker");
}

#[test]
fn nested_calls_inside_pieces() {
    const ROWS: u32 = if cfg!(miri) { 8 } else { 64 };
    const COLS: u32 = if cfg!(miri) { 50 } else { 500 };
    let out = run(2, 60, || async {
        let rows: Vec<Vec<u32>> = (0..ROWS)
            .map(|r| (0..COLS).map(|c| r * c).collect())
            .collect();
        par::map(&rows, |row| {
            let doubled = par::map(row, |x| x * 2);
            let (a, b) = par::join(|| par::sum(&doubled, |&x| x as u64), || row.len());
            a + b as u64
        })
    });
    let expected: Vec<u64> = (0..u64::from(ROWS))
        .map(|r| (0..u64::from(COLS)).map(|c| 2 * r * c).sum::<u64>() + u64::from(COLS))
        .collect();
    assert_eq!(out, expected);
}

#[test]
fn many_tasks_fan_out_at_once() {
    let sums = run(2, 60, || async {
        let results = Mutex::new(Vec::new());
        let results = std::sync::Arc::new(results);
        let shared = results.clone();
        pride::task_group(async move |tg| {
            for t in 0..TASKS {
                let shared = shared.clone();
                tg.start_soon(async move {
                    let v: Vec<u64> = (0..ITEMS_PER_TASK).collect();
                    let s = par::sum(&v, |x| x * t);
                    pride::yield_now().await;
                    shared.lock().unwrap().push((t, s));
                });
            }
        })
        .await
        .unwrap();
        let mut r = results.lock().unwrap().clone();
        r.sort();
        r
    });
    let expected: Vec<(u64, u64)> = (0..TASKS)
        .map(|t| (t, t * (0..ITEMS_PER_TASK).sum::<u64>()))
        .collect();
    assert_eq!(sums, expected);
}

fn thread_names_of_pieces() -> HashSet<String> {
    let names = Mutex::new(HashSet::new());
    par::for_each_range(0..if cfg!(miri) { 40 } else { 2_000 }, |_| {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        names.lock().unwrap().insert(name);
        std::hint::black_box((0..200).sum::<u64>());
    });
    names.into_inner().unwrap()
}

#[test]
fn a_block_on_thread_hands_the_call_to_the_workers() {
    let names = watchdog(60, || {
        let rt = pride::Runtime::builder()
            .worker_threads(2)
            .thread_name("par-test")
            .build()
            .unwrap();
        rt.block_on(async { thread_names_of_pieces() })
    });
    assert!(!names.is_empty());
    assert!(
        names.iter().all(|n| n.starts_with("par-test-")),
        "pieces ran on {names:?}"
    );
}

#[test]
fn outside_a_runtime_the_default_runtime_runs_the_pieces() {
    let names = watchdog(60, thread_names_of_pieces);
    assert!(
        names.iter().all(|n| n.starts_with("pride-par-")),
        "pieces ran on {names:?}"
    );
    // Calls from several plain threads at once share it.
    const DEPTH: u32 = if cfg!(miri) { 3 } else { 10 };
    watchdog(60, || {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| assert_eq!(tree_sum(DEPTH), (1 << (DEPTH + 1)) - 1));
            }
        })
    });
}

/// A task that a `par` piece wakes waits in the LIFO slot of the worker that ran the
/// piece, which other workers cannot take from. When that worker then waits for the
/// other half of its `join`, it moves the task to its queue before it may sleep, where
/// an idle worker or its own upkeep runs it, so a half that waits for the task ends.
/// (The blocked-poll watch would also rescue the slot once the poll had held the
/// worker past its threshold, even with the report off: here that threshold lies far
/// past the test's own time limits.)
#[test]
// Checks scheduling, not memory safety, and spins: skipped under Miri.
#[cfg_attr(miri, ignore)]
fn a_task_a_piece_woke_runs_while_its_worker_waits_for_the_other_half() {
    let mut builder = crate::common::builder(3);
    builder.blocked_poll_threshold(Some(Duration::from_secs(3600)));
    let result = crate::common::block_on(60, &builder, || async {
        let (tx, rx) = pride::sync::oneshot::channel::<()>();
        let parked = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicBool::new(false));
        pride::task_group(async |tg| {
            let (p, r) = (parked.clone(), ran.clone());
            tg.start_soon(async move {
                p.store(true, Ordering::SeqCst);
                rx.await.unwrap();
                r.store(true, Ordering::SeqCst);
            });
            // Let the receiver suspend on its channel, so that the send wakes it
            // (into the sending worker's LIFO slot) rather than finding it queued.
            crate::common::yield_until(|| parked.load(Ordering::SeqCst)).await;
            pride::time::sleep(Duration::from_millis(10)).await;
            let ran = ran.clone();
            tg.start_soon(async move {
                let b_started = AtomicBool::new(false);
                let halves = par::join(
                    || {
                        tx.send(()).unwrap();
                        // Hold this worker until a thief took the other half.
                        spin_for(&b_started)
                    },
                    || {
                        b_started.store(true, Ordering::SeqCst);
                        spin_for(&ran)
                    },
                );
                assert_eq!(halves, (true, true), "the woken task did not run");
            });
        })
        .await
    });
    assert!(result.is_ok(), "{result:?}");
}

/// A waker that panics when woken.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("waker boom");
    }
}

/// A worker busy in `par` work fires due timers in its upkeep; a waker that panics
/// there is contained, as wherever else the runtime fires timers, and does not fail
/// the `par` call it only happened to run beside.
///
/// One worker, which leaves the task's poll only when the call ends; the items run
/// until the timer (2 ms, armed with a panicking waker) has fired, which only the
/// upkeep can do meanwhile (the `block_on` thread does not turn the driver). The 10 s
/// bound on the items only keeps a broken build from running on.
#[test]
fn a_panicking_waker_fired_by_par_upkeep_does_not_fail_the_par_call() {
    let outcome = run(1, 60, || async {
        pride::task_group(async |tg| {
            tg.start_soon(async {
                let mut bad = Box::pin(pride::sleep(Duration::from_millis(2)));
                let waker = std::task::Waker::from(Arc::new(PanickingWaker));
                let mut cx = std::task::Context::from_waker(&waker);
                assert!(
                    std::future::Future::poll(bad.as_mut(), &mut cx).is_pending(),
                    "armed, due in 2 ms"
                );
                let bad = &*bad;
                let start = Instant::now();
                par::for_each_range(0..1_000_000, |_| {
                    if !bad.is_elapsed() && start.elapsed() < Duration::from_secs(10) {
                        let end = Instant::now() + Duration::from_micros(50);
                        while Instant::now() < end {
                            std::hint::spin_loop();
                        }
                    }
                });
                assert!(bad.is_elapsed(), "the upkeep fired the timer");
            });
        })
        .await
        .map_err(|error| error.to_string())
    });
    assert_eq!(
        outcome,
        Ok(()),
        "the par call failed with the panic of a waker it only happened to fire"
    );
}

/// About `micros` of CPU work that the optimiser cannot remove.
fn spin(micros: u64) {
    let end = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// A worker's first look (within 16 items or joins of a piece's start) does upkeep: a
/// task queued on it is polled by then. One worker, fresh; the task making the call
/// wakes the other just before it.
#[test]
fn a_fresh_workers_first_look_does_upkeep() {
    let before = run(1, 60, || async {
        let go = pride::Event::new();
        let polled = Arc::new(AtomicBool::new(false));
        let before = Arc::new(AtomicUsize::new(0));
        let (wake, seen, counted) = (go.clone(), polled.clone(), before.clone());
        pride::task_group(async |tg| {
            tg.start_soon_named("other", async move {
                go.wait().await;
                polled.store(true, Ordering::SeqCst);
            });
            tg.start_soon_named("cpu", async move {
                wake.set();
                par::for_each_range(0..64, |_| {
                    if !seen.load(Ordering::SeqCst) {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                });
            });
            Ok::<_, pride::BoxError>(())
        })
        .await
        .unwrap();
        before.load(Ordering::SeqCst)
    });
    assert!(before <= 16, "{before} items ran before the first upkeep");
}

/// The first look of a piece measures how long its items take from the piece's
/// start, so that long items are followed by a look (and upkeep, once a millisecond)
/// each from then on. One worker; items of 1 ms; a task that yields for ever notes
/// the items during which it was polled.
#[test]
fn long_items_are_each_followed_by_upkeep_from_the_first_look() {
    let polled_during = run(1, 60, || async {
        let item = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let (now, stop, noted) = (item.clone(), done.clone(), seen.clone());
        pride::task_group(async |tg| {
            tg.start_soon_named("other", async move {
                while !stop.load(Ordering::SeqCst) {
                    noted.lock().unwrap().insert(now.load(Ordering::SeqCst));
                    pride::yield_now().await;
                }
            });
            tg.start_soon_named("cpu", async move {
                par::for_each_range(1..65, |i| {
                    item.store(i, Ordering::SeqCst);
                    spin(1_000);
                });
                done.store(true, Ordering::SeqCst);
            });
            Ok::<_, pride::BoxError>(())
        })
        .await
        .unwrap();
        let seen = seen.lock().unwrap();
        seen.iter().filter(|&&i| i > 0).count()
    });
    assert!(
        polled_during >= 32,
        "the other task was polled during {polled_during} of 64 items"
    );
}
