//! Loom model of the latch a `par` worker waits on (`src/par/latch.rs`): the last
//! `set` of a `CountLatch` wakes the waiter, and what each setter wrote before its
//! `set` is visible to the waiter once `probe` says the latch is set.
//!
//! The waiter is modelled the way `registry.rs` waits: check the latch, and if it is
//! not set, park on the worker's real `Parker` (the re-check after announcing the park
//! is the parker's own: an unpark that came first makes the park return at once).
//! Setters call the real `CountLatch::set_and_wake` with the real `Unparker`, as
//! `registry::unpark_worker` does. The results are loom cells, so a set that does not
//! publish them is reported as a data race; a lost wake-up leaves the waiter parked
//! for ever, which loom reports as a deadlock.
//!
//! Seen to fail when broken by hand (each break undone afterwards):
//! - `set_and_wake` decrementing with `Relaxed` instead of `AcqRel`: both models
//!   report a causality violation on the result cells;
//! - `set_and_wake` not calling `wake`: both models deadlock.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --test loom_par_latch`.

#![cfg(pride_loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use pride::__loom::par::CountLatch;
use pride::__loom::runtime::{Parker, WakeDriver};

/// Nobody parks in the driver here.
struct NoDriver;

impl WakeDriver for NoDriver {
    fn wake_driver(&self) {
        unreachable!("the model never parks in the driver")
    }
}

struct Shared {
    latch: CountLatch,
    results: [UnsafeCell<usize>; 2],
}

// SAFETY: each result cell is written by one setter before its `set`, and read by the
// waiter only after the latch is set; loom checks exactly that.
unsafe impl Sync for Shared {}

fn wait(shared: &Shared, parker: &Parker) {
    while !shared.latch.probe() {
        parker.park();
    }
}

fn setter(shared: Arc<Shared>, parker: &Parker, slot: usize) -> thread::JoinHandle<()> {
    let unparker = parker.unparker();
    thread::spawn(move || {
        // SAFETY: this setter is the only writer of its cell, before its `set`.
        shared.results[slot].with_mut(|p| unsafe { *p = slot + 1 });
        // SAFETY: the waiter does not return before the count reaches zero, and
        // `shared` is kept alive by this thread's `Arc` besides.
        unsafe { CountLatch::set_and_wake(&shared.latch, |_| unparker.unpark(&NoDriver)) };
    })
}

fn read(shared: &Shared, slot: usize) -> usize {
    // SAFETY: read after the latch is set, which orders the setter's write before.
    shared.results[slot].with(|p| unsafe { *p })
}

/// A join: one stolen half, waited for by its maker.
#[test]
fn a_join_waiter_wakes_and_sees_the_stolen_result() {
    loom::model(|| {
        let parker = Parker::new();
        let shared = Arc::new(Shared {
            latch: CountLatch::new(1, 0),
            results: [UnsafeCell::new(0), UnsafeCell::new(0)],
        });
        let thief = setter(shared.clone(), &parker, 0);
        wait(&shared, &parker);
        assert_eq!(read(&shared, 0), 1);
        thief.join().unwrap();
    });
}

/// A scope: the owner's own count plus two spawns on other workers.
#[test]
fn a_scope_owner_wakes_after_the_last_spawn() {
    loom::model(|| {
        let parker = Parker::new();
        let shared = Arc::new(Shared {
            latch: CountLatch::new(3, 0),
            results: [UnsafeCell::new(0), UnsafeCell::new(0)],
        });
        let a = setter(shared.clone(), &parker, 0);
        let b = setter(shared.clone(), &parker, 1);
        shared.latch.release_own();
        wait(&shared, &parker);
        assert_eq!(read(&shared, 0) + read(&shared, 1), 3);
        a.join().unwrap();
        b.join().unwrap();
    });
}
