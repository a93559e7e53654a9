//! Stress: thousands of tasks that randomly finish, yield, fail, panic, get cancelled
//! through their handles, wait forever, or open nested groups — and every future is
//! dropped exactly once, whatever the group's fail-fast cancellation cut short.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pride::{BoxError, TaskGroup, task_group};

/// Counts futures created and dropped.
#[derive(Clone, Default)]
struct Ledger {
    created: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

struct Entry(Arc<AtomicUsize>);

impl Drop for Entry {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Ledger {
    fn entry(&self) -> Entry {
        self.created.fetch_add(1, Ordering::SeqCst);
        Entry(self.dropped.clone())
    }
}

/// xorshift64, deterministic per seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Debug)]
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for Boom {}

/// Starts one random child; `depth` bounds the nesting.
fn start_random(tg: &TaskGroup, ledger: &Ledger, rng: &mut Rng, depth: u32) {
    let entry = ledger.entry();
    let ledger2 = ledger.clone();
    let roll = rng.next() % 100;
    let yields = rng.next() % 4;
    let seed = rng.next() | 1;
    match roll {
        // Finish, after a few yields.
        0..=59 => tg.start_soon(async move {
            let _entry = entry;
            for _ in 0..yields {
                pride::yield_now().await;
            }
        }),
        // Fail.
        60..=61 => tg.start_soon(async move {
            let _entry = entry;
            pride::yield_now().await;
            ledger2.failed.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Boom)
        }),
        // Panic.
        62 => tg.start_soon(async move {
            let _entry = entry;
            pride::yield_now().await;
            ledger2.failed.fetch_add(1, Ordering::SeqCst);
            if seed != 0 {
                panic!("stress panic");
            }
        }),
        // Wait forever: only a cancel ends it.
        63..=74 => tg.start_soon(async move {
            let _entry = entry;
            std::future::pending::<()>().await;
        }),
        // Cancelled through its handle (not a failure).
        75..=84 => {
            let handle = tg.spawn(async move {
                let _entry = entry;
                std::future::pending::<()>().await;
                Ok::<(), BoxError>(())
            });
            for _ in 0..yields {
                std::hint::black_box(());
            }
            handle.cancel();
        }
        // A nested group with its own random children.
        _ if depth < 2 => tg.start_soon(async move {
            let _entry = entry;
            let mut rng = Rng(seed);
            task_group(async |inner| {
                for _ in 0..8 {
                    start_random(&inner, &ledger2, &mut rng, depth + 1);
                }
                // The waiting children keep nested groups open until a cancel.
                inner.cancel_scope().cancel();
            })
            .await
        }),
        _ => tg.start_soon(async move {
            let _entry = entry;
        }),
    }
}

#[test]
fn every_future_is_dropped_exactly_once() {
    let rt = pride::Runtime::builder().worker_threads(4).build().unwrap();
    let mut total = 0;
    for round in 0..20u64 {
        let ledger = Ledger::default();
        let result = rt.block_on(task_group(async |tg| {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (round + 1));
            for _ in 0..2_000 {
                start_random(&tg, &ledger, &mut rng, 0);
            }
            // If nothing failed, the waiting children would keep the group open.
            pride::yield_now().await;
            tg.cancel_scope().cancel();
        }));
        let created = ledger.created.load(Ordering::SeqCst);
        let dropped = ledger.dropped.load(Ordering::SeqCst);
        let failed = ledger.failed.load(Ordering::SeqCst);
        assert_eq!(
            created, dropped,
            "round {round}: every future dropped exactly once"
        );
        match result {
            Ok(()) => assert_eq!(failed, 0, "round {round}: a failure was lost"),
            Err(error) => {
                // Nested groups report as one entry each; direct failures as one each.
                assert!(!error.errors().is_empty(), "round {round}: {error}");
                assert!(failed > 0 || error.is_cancelled(), "round {round}: {error}");
            }
        }
        total += created;
    }
    assert!(total > 40_000);
}
