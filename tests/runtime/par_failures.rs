//! `pride::par` failures and cancellation: a panic is resumed on the caller and stops
//! the rest; `try_*` report every failure; a cancelled scope stops handing out pieces.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{MyError, panic_text, run};
use pride::par;

/// About `micros` of CPU work that the optimiser cannot remove.
fn spin(micros: u64) {
    let end = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

#[test]
fn a_panic_in_either_half_of_a_join_reaches_the_caller() {
    run(2, 60, || async {
        let caught = catch_unwind(|| par::join(|| 1, || -> u32 { panic!("right half") }));
        assert_eq!(panic_text(caught.unwrap_err().as_ref()), "right half");
        let caught = catch_unwind(|| par::join(|| -> u32 { panic!("left half") }, || 2));
        assert_eq!(panic_text(caught.unwrap_err().as_ref()), "left half");
        // The runtime is still fine afterwards.
        assert_eq!(par::join(|| 1, || 2), (1, 2));
    });
}

/// The first item panics; the pieces not yet started then do not start. Were they all
/// run, the other worker alone would take about a second to run half of them: the
/// bound leaves the stop that much time. The panic is raised without the panic hook
/// (`resume_unwind`), whose backtrace, when `RUST_BACKTRACE` asks for one, could take
/// longer than that.
#[test]
fn a_panicking_piece_stops_the_pieces_not_yet_started() {
    run(2, 60, || async {
        let ran = AtomicUsize::new(0);
        let n = 400_000;
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::for_each_range(0..n, |i| {
                ran.fetch_add(1, Ordering::Relaxed);
                if i == 0 {
                    std::panic::resume_unwind(Box::new("first item"));
                }
                spin(5);
            })
        }));
        assert_eq!(panic_text(caught.unwrap_err().as_ref()), "first item");
        let ran = ran.load(Ordering::Relaxed);
        assert!(ran < n / 2, "{ran} of {n} items ran after the panic");
    });
}

#[test]
fn a_panic_in_map_is_resumed_and_drops_the_finished_results() {
    run(2, 60, || async {
        let live = std::sync::Arc::new(());
        let input: Vec<usize> = (0..5_000).collect();
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::map(&input, |&i| {
                if i == 4_000 {
                    panic!("item {i}");
                }
                live.clone()
            })
        }));
        assert_eq!(panic_text(caught.unwrap_err().as_ref()), "item 4000");
        assert_eq!(
            std::sync::Arc::strong_count(&live),
            1,
            "results were leaked"
        );
    });
}

#[test]
fn a_panic_in_a_scope_spawn_is_resumed_after_the_others() {
    run(2, 60, || async {
        let finished = AtomicUsize::new(0);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::scope(|s| {
                s.spawn(|_| panic!("spawned"));
                for _ in 0..4 {
                    s.spawn(|_| {
                        spin(100);
                        finished.fetch_add(1, Ordering::SeqCst);
                    });
                }
            })
        }));
        assert_eq!(panic_text(caught.unwrap_err().as_ref()), "spawned");
        // Whatever started ran to its end before `scope` returned.
        let done = finished.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(finished.load(Ordering::SeqCst), done);
    });
}

#[test]
fn try_map_reports_every_error_and_panic() {
    run(2, 60, || async {
        let input: Vec<u32> = (0..1_000).collect();
        let err =
            par::try_map(&input, |&x| if x == 500 { Err(MyError(x)) } else { Ok(x) }).unwrap_err();
        assert!(!err.errors().is_empty());
        assert!(
            err.errors()
                .iter()
                .all(|e| e.downcast_ref::<MyError>() == Some(&MyError(500)))
        );
        assert!(!err.is_cancelled());

        // Every piece fails: each failure that happened is an entry.
        let err = par::try_map_range(0..2, |i| {
            spin(10_000);
            Err::<(), _>(MyError(i as u32))
        })
        .unwrap_err();
        assert!((1..=2).contains(&err.errors().len()));

        let err = par::try_map(&input, |&x| -> Result<u32, MyError> {
            if x == 7 {
                panic!("seven");
            }
            Ok(x)
        })
        .unwrap_err();
        assert_eq!(err.errors().len(), 1);
        assert!(err.errors()[0].is_panic());
        assert_eq!(err.errors()[0].panic_message(), Some("seven"));
    });
}

/// As above, with an error: half the items would take the other worker about a
/// second.
#[test]
fn the_first_error_stops_try_map() {
    run(2, 60, || async {
        let ran = AtomicUsize::new(0);
        let n = 400_000;
        let err = par::try_map_range(0..n, |i| {
            ran.fetch_add(1, Ordering::Relaxed);
            spin(5);
            if i == 0 { Err(MyError(0)) } else { Ok(i) }
        })
        .unwrap_err();
        assert_eq!(err.errors().len(), 1);
        let ran = ran.load(Ordering::Relaxed);
        assert!(ran < n / 2, "{ran} of {n} items ran after the error");
    });
}

#[test]
fn in_a_cancelled_scope_no_piece_starts() {
    run(2, 60, || async {
        let ran = AtomicUsize::new(0);
        let scope = pride::CancelScope::new();
        let inner = scope.clone();
        let ran_ref = &ran;
        let outcome = scope
            .run(async move {
                inner.cancel();
                let tried = catch_unwind(|| {
                    par::try_map_range(0..1_000, |i| {
                        ran_ref.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, MyError>(i)
                    })
                });
                let mapped = catch_unwind(|| par::map_range(0..1_000, |i| i));
                let joined = catch_unwind(|| par::join(|| 1, || 2));
                let scoped = catch_unwind(|| par::scope(|s| s.spawn(|_| unreachable!())));
                // With no items there is no piece to stop: the empty value comes back.
                let empty = (
                    par::try_map(&[] as &[u32], |&x| Ok::<_, MyError>(x)),
                    par::map_range(0..0, |i| i),
                );
                (tried, mapped, joined, scoped, empty)
            })
            .await;
        // The scope was cancelled before the block suspended, so it ran to its end.
        let (tried, mapped, joined, scoped, empty) = outcome.expect("no suspension point");
        // A `try_*` call stopped with no failure unwinds like the others.
        assert!(tried.unwrap_err().is::<par::Cancelled>());
        assert!(mapped.unwrap_err().is::<par::Cancelled>());
        assert!(joined.unwrap_err().is::<par::Cancelled>());
        assert!(scoped.unwrap_err().is::<par::Cancelled>());
        assert_eq!(ran.load(Ordering::Relaxed), 0);
        assert_eq!(empty.0.unwrap(), Vec::<u32>::new());
        assert_eq!(empty.1, Vec::<usize>::new());
    });
}

#[test]
fn a_deadline_stops_a_long_call_promptly() {
    let (elapsed, result) = run(2, 120, || async {
        let start = Instant::now();
        // 20,000 items of 200 µs: seconds of work on two workers.
        let result = pride::move_on_after(Duration::from_millis(50), async {
            par::try_map_range(0..20_000, |i| {
                spin(200);
                Ok::<_, MyError>(i)
            })
        })
        .await;
        (start.elapsed(), result)
    });
    // The call unwound with `Cancelled`, which the scope caught, long before its work
    // would have ended.
    assert!(result.is_none(), "the call was not stopped");
    assert!(elapsed < Duration::from_millis(1_500), "took {elapsed:?}");
}

#[test]
fn a_long_fan_out_does_not_hold_back_timers_of_other_tasks() {
    run(2, 120, || async {
        let start = Instant::now();
        let (slept, fanned) = {
            let slept = std::sync::Arc::new(std::sync::Mutex::new(None));
            let fanned = std::sync::Arc::new(std::sync::Mutex::new(None));
            let (s, f) = (slept.clone(), fanned.clone());
            pride::task_group(async move |tg| {
                tg.start_soon(async move {
                    // At least a second of CPU work, spread over both workers.
                    par::for_each_range(0..4_000, |_| spin(500));
                    *f.lock().unwrap() = Some(start.elapsed());
                });
                tg.start_soon(async move {
                    pride::sleep(Duration::from_millis(10)).await;
                    *s.lock().unwrap() = Some(start.elapsed());
                });
            })
            .await
            .unwrap();
            let slept = slept.lock().unwrap().unwrap();
            let fanned = fanned.lock().unwrap().unwrap();
            (slept, fanned)
        };
        assert!(
            fanned >= Duration::from_millis(900),
            "fan-out took {fanned:?}"
        );
        assert!(
            slept < fanned / 2,
            "a 10 ms sleep ended after {slept:?}, the fan-out after {fanned:?}"
        );
    });
}

/// One piece fails; another piece's nested call, stopped by that failure, unwinds with
/// `Cancelled`: that is the stop reaching the piece, not a second failure.
#[test]
fn a_nested_call_stopped_by_a_failure_is_not_another_failure() {
    let error = run(2, 60, || async {
        let started = AtomicBool::new(false);
        par::try_map_range(0..2, |i| -> Result<(), MyError> {
            if i == 0 {
                // Item 1 runs on the other worker meanwhile (if that worker has not
                // taken it within the bound, the call stops it unstarted: the test
                // then checks less, but still holds).
                wait_for(&started);
                return Err(MyError(0));
            }
            started.store(true, Ordering::SeqCst);
            // Nested calls run until one sees the call stopped by item 0's error.
            loop {
                if let Err(stopped) = catch_unwind(|| par::scope(|s| s.spawn(|_| ()))) {
                    std::panic::resume_unwind(stopped);
                }
            }
        })
        .unwrap_err()
    });
    let texts: Vec<String> = error.errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(texts, ["unnamed task failed: my error 0"]);
    assert!(!error.is_cancelled());
}

/// Spins until `flag` is set, for at most 10 s (a worker that has not taken the other
/// half by then is not coming: the test goes on without it).
fn wait_for(flag: &AtomicBool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !flag.load(Ordering::SeqCst) && Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// In a tree of joins made outside any other call, a panic stops the whole tree: the
/// other half, running on another worker, stops at its next join instead of running
/// on. (If no worker takes that half in time, it is dropped unrun: nothing to check.)
#[test]
fn a_panic_in_a_join_tree_stops_the_half_another_worker_runs() {
    run(2, 60, || async {
        let started = AtomicBool::new(false);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::join(
                || {
                    wait_for(&started);
                    panic!("left half")
                },
                || {
                    started.store(true, Ordering::SeqCst);
                    // Joins for ever, unless the tree is stopped.
                    loop {
                        par::join(|| (), || ());
                    }
                },
            )
        }));
        assert_eq!(panic_text(caught.unwrap_err().as_ref()), "left half");
    });
}

/// A piece that catches the panic of a call nested in it goes on, as the call does:
/// the nested call's failure stopped only the nested call.
#[test]
fn a_panic_caught_inside_a_piece_does_not_stop_the_call() {
    run(2, 60, || async {
        let out = catch_unwind(AssertUnwindSafe(|| {
            par::map_range(0..4, |i| {
                let joined = catch_unwind(|| par::join(|| panic!("caught join"), || ()));
                assert_eq!(panic_text(joined.unwrap_err().as_ref()), "caught join");
                let mapped = catch_unwind(|| {
                    par::for_each_range(0..1_000, |j| assert!(j < 999, "caught map"))
                });
                assert_eq!(panic_text(mapped.unwrap_err().as_ref()), "caught map");
                // Later calls in the piece, and the rest of the call, run as usual.
                let (a, b) = par::join(|| i, || par::sum_range(0..10, |j| j));
                a + b
            })
        }));
        match out {
            Ok(v) => assert_eq!(v, [45, 46, 47, 48]),
            Err(p) => panic!(
                "the call unwound (Cancelled: {}): {:?}",
                p.is::<par::Cancelled>(),
                panic_text(p.as_ref())
            ),
        }
    });
}

/// Spins until `flag` is set or `secs` have passed; says whether it was set.
fn set_within(flag: &AtomicBool, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while !flag.load(Ordering::SeqCst) {
        if Instant::now() >= end {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

/// Sets its flag when dropped.
struct FlagOnDrop<'a>(&'a AtomicBool);

impl Drop for FlagOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Returns once `s` has stopped: spawns probes, one at a time, until one is skipped
/// (dropped unrun). The caller holds its worker, so they run on another one.
fn until_stopped(s: &par::Scope<'_>) {
    struct Probe {
        ran: bool,
        resolved: Arc<AtomicUsize>,
        skipped: Arc<AtomicBool>,
    }
    impl Drop for Probe {
        fn drop(&mut self) {
            if !self.ran {
                self.skipped.store(true, Ordering::SeqCst);
            }
            self.resolved.fetch_add(1, Ordering::SeqCst);
        }
    }
    let resolved = Arc::new(AtomicUsize::new(0));
    let skipped = Arc::new(AtomicBool::new(false));
    let end = Instant::now() + Duration::from_secs(20);
    for sent in 1.. {
        let probe = Probe {
            ran: false,
            resolved: resolved.clone(),
            skipped: skipped.clone(),
        };
        s.spawn(move |_| {
            let mut probe = probe;
            probe.ran = true;
        });
        while resolved.load(Ordering::SeqCst) < sent {
            assert!(Instant::now() < end, "hang guard");
            std::hint::spin_loop();
        }
        if skipped.load(Ordering::SeqCst) {
            return;
        }
    }
}
/// A spawn skipped because the scope stopped (a panic) drops its closure, and what it
/// captured (which may borrow from outside the scope), before `scope` returns. The
/// body holds its worker until the other worker has run both spawns; the skipped
/// one's capture watches, for up to a second while it is dropped, whether `scope` has
/// returned.
#[test]
fn a_skipped_spawns_captures_are_dropped_before_scope_returns() {
    run(2, 60, || async {
        struct Watch<'a> {
            dropping: &'a AtomicBool,
            returned: &'a AtomicBool,
            saw_return: &'a AtomicBool,
        }
        impl Drop for Watch<'_> {
            fn drop(&mut self) {
                self.dropping.store(true, Ordering::SeqCst);
                if set_within(self.returned, 1) {
                    self.saw_return.store(true, Ordering::SeqCst);
                }
            }
        }
        let (panicked, dropping) = (AtomicBool::new(false), AtomicBool::new(false));
        let (returned, saw_return) = (AtomicBool::new(false), AtomicBool::new(false));
        let watch = Watch {
            dropping: &dropping,
            returned: &returned,
            saw_return: &saw_return,
        };
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::scope(|s| {
                s.spawn(|_| {
                    let _set = FlagOnDrop(&panicked);
                    std::panic::resume_unwind(Box::new("spawn"));
                });
                assert!(set_within(&panicked, 20), "hang guard");
                until_stopped(s);
                // Skipped, on the other worker.
                s.spawn(move |_| drop(watch));
                assert!(set_within(&dropping, 20), "hang guard");
            })
        }));
        returned.store(true, Ordering::SeqCst);
        assert_eq!(panic_text(caught.unwrap_err().as_ref()), "spawn");
        assert!(
            !saw_return.load(Ordering::SeqCst),
            "a skipped spawn's capture was dropped after `scope` returned"
        );
    });
}

/// A capture that panics when dropped, of a spawn skipped on another worker: the
/// panic is a panic of that spawn (the first one is resumed), and both workers are
/// still there afterwards.
#[test]
fn a_skipped_spawn_whose_capture_panics_on_drop_keeps_the_runtime_whole() {
    run(2, 60, || async {
        struct PanicOnDrop<'a>(&'a AtomicBool);
        impl Drop for PanicOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
                std::panic::resume_unwind(Box::new("capture's drop"));
            }
        }
        let (panicked, dropping) = (AtomicBool::new(false), AtomicBool::new(false));
        let capture = PanicOnDrop(&dropping);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::scope(|s| {
                s.spawn(|_| {
                    let _set = FlagOnDrop(&panicked);
                    std::panic::resume_unwind(Box::new("spawn"));
                });
                assert!(set_within(&panicked, 20), "hang guard");
                until_stopped(s);
                s.spawn(move |_| drop(capture));
                assert!(set_within(&dropping, 20), "hang guard");
            })
        }));
        assert_eq!(panic_text(caught.unwrap_err().as_ref()), "spawn");
        // Two workers still run `par` work: each half waits for the other to start.
        for _ in 0..3 {
            let (a, b) = (AtomicBool::new(false), AtomicBool::new(false));
            let (a_saw_b, b_saw_a) = par::join(
                || {
                    a.store(true, Ordering::SeqCst);
                    set_within(&b, 20)
                },
                || {
                    b.store(true, Ordering::SeqCst);
                    set_within(&a, 20)
                },
            );
            assert!(a_saw_b && b_saw_a, "a worker is gone");
        }
    });
}

/// The scope's own worker runs a skipped spawn whose capture panics when dropped,
/// while another spawn still runs on the other worker: `scope` waits for that one
/// (it watches, for up to a second, whether `scope` has returned).
#[test]
fn a_scope_does_not_return_while_a_spawn_still_runs() {
    run(2, 60, || async {
        struct PanicOnDrop;
        impl Drop for PanicOnDrop {
            fn drop(&mut self) {
                std::panic::resume_unwind(Box::new("capture's drop"));
            }
        }
        let (started, returned) = (AtomicBool::new(false), AtomicBool::new(false));
        let saw_return = AtomicBool::new(false);
        let capture = PanicOnDrop;
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::scope(|s| {
                s.spawn(|_| {
                    started.store(true, Ordering::SeqCst);
                    if set_within(&returned, 1) {
                        saw_return.store(true, Ordering::SeqCst);
                    }
                });
                assert!(set_within(&started, 20), "hang guard");
                // This worker then runs both, the newest first: the panic stops the
                // scope, and the other spawn is skipped, its capture dropped.
                s.spawn(move |_| drop(capture));
                s.spawn(|_| std::panic::resume_unwind(Box::new("spawn")));
            })
        }));
        returned.store(true, Ordering::SeqCst);
        assert_eq!(panic_text(caught.unwrap_err().as_ref()), "spawn");
        assert!(
            !saw_return.load(Ordering::SeqCst),
            "`scope` returned while a spawn was still running"
        );
    });
}

/// Two spawns panic, with payloads that panic when dropped unless defused: the
/// scope keeps one and drops the other, whose drop's panic is contained; `scope`
/// returns the one kept.
#[test]
fn a_losing_spawn_panic_whose_payload_panics_on_drop_does_not_hang_the_scope() {
    struct Bomb {
        armed: bool,
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            if self.armed {
                std::panic::resume_unwind(Box::new("payload's drop"));
            }
        }
    }
    run(2, 20, || async {
        let (a, b) = (AtomicBool::new(false), AtomicBool::new(false));
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::scope(|s| {
                // One on the other worker (this one is held until it started), one
                // here; both start before either panics.
                s.spawn(|_| {
                    a.store(true, Ordering::SeqCst);
                    assert!(set_within(&b, 20), "hang guard");
                    std::panic::resume_unwind(Box::new(Bomb { armed: true }));
                });
                assert!(set_within(&a, 20), "hang guard");
                s.spawn(|_| {
                    b.store(true, Ordering::SeqCst);
                    std::panic::resume_unwind(Box::new(Bomb { armed: true }));
                });
            })
        }));
        let mut kept = caught
            .unwrap_err()
            .downcast::<Bomb>()
            .expect("a spawn's panic");
        kept.armed = false;
    });
}

/// A panic of a join inside a tree of joins, caught by a closure of the tree: the tree
/// goes on and returns, as a piece of another call would. One worker.
#[test]
fn a_caught_panic_in_a_join_tree_does_not_unwind_as_cancelled() {
    let out = run(1, 60, || async {
        catch_unwind(AssertUnwindSafe(|| {
            par::join(
                || catch_unwind(|| par::join(|| -> u8 { panic!("caught inside") }, || 1)).is_err(),
                || par::join(|| 1, || 2),
            )
        }))
        .map_err(|payload| {
            format!(
                "the tree unwound: Cancelled: {}, {:?}",
                payload.is::<par::Cancelled>(),
                panic_text(payload.as_ref())
            )
        })
    });
    assert_eq!(out, Ok((true, (1, 2))));
}

/// The same in a group child: no failure of the group.
#[test]
fn a_caught_panic_in_a_join_tree_is_not_a_group_failure() {
    run(1, 60, || async {
        let result = pride::task_group(async |tg| {
            tg.start_soon_named("cpu", async {
                let (caught, _) = par::join(
                    || {
                        catch_unwind(|| par::join(|| -> u8 { panic!("caught inside") }, || 1))
                            .is_err()
                    },
                    || par::join(|| 1, || 2),
                );
                assert!(caught);
            });
            Ok::<_, pride::BoxError>(())
        })
        .await;
        assert!(result.is_ok(), "{}", result.unwrap_err());
    });
}

/// Two pieces of a `map` panic, the right one first: the left one's panic is resumed
/// (as documented: the leftmost, not the first in time). Two workers: the left item
/// waits until the right one, on the other worker, has panicked.
#[test]
fn the_leftmost_panic_is_resumed_by_map() {
    run(2, 60, || async {
        let (left_started, right_panicked) = (AtomicBool::new(false), AtomicBool::new(false));
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::map_range(0..2, |i| {
                if i == 0 {
                    left_started.store(true, Ordering::SeqCst);
                    assert!(set_within(&right_panicked, 20), "hang guard");
                    std::panic::resume_unwind(Box::new("left, second"));
                }
                assert!(set_within(&left_started, 20), "hang guard");
                let _set = FlagOnDrop(&right_panicked);
                std::panic::resume_unwind(Box::new("right, first"));
            })
        }));
        assert_eq!(
            panic_text(caught.unwrap_err().as_ref()).to_owned(),
            "left, second"
        );
    });
}

/// Long enough that only a bug makes a wait run out.
const PATIENCE: Duration = Duration::from_secs(10);

/// Waits until `flag` is set; false if it is not within `PATIENCE`.
fn is_set_soon(flag: &AtomicBool) -> bool {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        if start.elapsed() > PATIENCE {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

/// Whether the call the calling piece runs in stops within `PATIENCE`: a call nested
/// in the piece then unwinds with `Cancelled` instead of running its item.
fn sees_the_stop() -> bool {
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        if let Err(stop) = catch_unwind(|| par::for_each_range(0..1, |_| ())) {
            assert!(stop.is::<par::Cancelled>(), "{}", panic_text(stop.as_ref()));
            return true;
        }
    }
    false
}

/// The outermost join's second closure, taken by another worker, panics while the
/// first still runs: the tree below the first stops at once (its next join unwinds
/// with `Cancelled`), not once the first has returned. (Each side waits for the
/// other: had the panic come first, the first closure would not have started.)
#[test]
fn a_stolen_half_of_the_outermost_join_that_panics_stops_the_other_half() {
    let (text, stolen, stopped) = run(2, 60, || async {
        let started = AtomicBool::new(false);
        let panicked = AtomicBool::new(false);
        let mut stolen = false;
        let mut stopped = false;
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::join(
                || {
                    started.store(true, Ordering::SeqCst);
                    stolen = is_set_soon(&panicked);
                    stopped = sees_the_stop();
                },
                || {
                    is_set_soon(&started);
                    panicked.store(true, Ordering::SeqCst);
                    panic!("stolen half");
                },
            )
        }));
        (
            panic_text(caught.unwrap_err().as_ref()).to_owned(),
            stolen,
            stopped,
        )
    });
    assert!(
        stolen,
        "the second closure was not taken by the other worker"
    );
    assert!(stopped, "the first closure's joins went on after the panic");
    assert_eq!(text, "stolen half");
}

/// The same for the slice forms: a piece of one item that another worker took
/// panics, and the piece running here stops at once; so does a piece whose
/// `reduce` op panics on the worker that took it. (Each side waits for the other, as
/// above.)
#[test]
fn a_stolen_piece_that_panics_stops_the_other_pieces_at_once() {
    let (text, stolen, stopped) = run(2, 60, || async {
        let started = AtomicBool::new(false);
        let panicked = AtomicBool::new(false);
        let stolen = AtomicBool::new(false);
        let stopped = AtomicBool::new(false);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::for_each_range(0..2, |i| {
                if i == 1 {
                    is_set_soon(&started);
                    panicked.store(true, Ordering::SeqCst);
                    panic!("stolen item");
                }
                started.store(true, Ordering::SeqCst);
                stolen.store(is_set_soon(&panicked), Ordering::SeqCst);
                stopped.store(sees_the_stop(), Ordering::SeqCst);
            })
        }));
        let text = panic_text(caught.unwrap_err().as_ref()).to_owned();
        (text, stolen.into_inner(), stopped.into_inner())
    });
    assert!(stolen, "the item was not taken by the other worker");
    assert!(stopped, "the other piece went on after the panic");
    assert_eq!(text, "stolen item");

    // Two workers, four items: the other worker takes items 2 and 3, splits them, and
    // its `op` panics combining them (their values are 3 and 4), while item 0 waits
    // here.
    let (text, stolen, stopped) = run(2, 60, || async {
        let started = AtomicBool::new(false);
        let panicked = AtomicBool::new(false);
        let stolen = AtomicBool::new(false);
        let stopped = AtomicBool::new(false);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            par::reduce_range(
                0..4,
                || 0,
                |i| {
                    if i == 0 {
                        started.store(true, Ordering::SeqCst);
                        stolen.store(is_set_soon(&panicked), Ordering::SeqCst);
                        stopped.store(sees_the_stop(), Ordering::SeqCst);
                    }
                    i + 1
                },
                |a, b| {
                    if (a, b) == (3, 4) {
                        is_set_soon(&started);
                        panicked.store(true, Ordering::SeqCst);
                        panic!("stolen op");
                    }
                    a + b
                },
            )
        }));
        let text = panic_text(caught.unwrap_err().as_ref()).to_owned();
        (text, stolen.into_inner(), stopped.into_inner())
    });
    assert!(stolen, "the op did not panic on the other worker");
    assert!(stopped, "the other piece went on after the op's panic");
    assert_eq!(text, "stolen op");
}
