//! loom model of `Event`: a `set` races a waiter's first poll, its poll after it has
//! queued, and its drop. `set` takes the whole waiters' list away in the same hold of
//! the lock as it stores the flag, so a waiter must never push onto the list that is
//! left, nor look for its slot there: a push after the take is never woken (loom
//! reports a deadlock), a look for the slot indexes an empty list (a panic). A waiter
//! whose wait completes must also see what was written before the `set`.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test
//! loom_sync_event`
//!
//! The mutation table (`loom-tests/README.md`, rows E1 and E2) seeds each check away.
#![cfg(pride_loom)]

mod common;

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Waker};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use pride::__loom::sync::Event;

/// Polls `wait` until it completes, waiting for `runner`'s waker between polls (a wake
/// that never comes leaves the thread waiting, which loom reports as a deadlock).
fn block_on(runner: &common::Runner, mut wait: Pin<&mut impl Future<Output = ()>>) {
    while wait
        .as_mut()
        .poll(&mut Context::from_waker(&runner.waker))
        .is_pending()
    {
        runner.wait();
    }
}

/// A waiter's first poll races the `set`: it must either see the flag or be queued in
/// the list the `set` takes (and be woken), and it then sees the write made before.
#[test]
fn first_poll_vs_set() {
    common::model(|| {
        let event = Event::new();
        let data = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (event, data) = (event.clone(), data.clone());
            thread::spawn(move || {
                block_on(&common::Runner::new(), pin!(event.wait()));
                assert_eq!(data.load(Ordering::Relaxed), 1, "a write before the set");
            })
        };
        data.store(1, Ordering::Relaxed);
        event.set();
        waiter.join().unwrap();
    });
}

/// A waiter polled once (queued, unless the `set` came first) then polled again until
/// it completes, or `dropped`, as the `set` runs: it must not look for its slot in the
/// list the `set` leaves behind, and if it waits, it must be woken.
fn queued_waiter_vs_set(dropped: bool) {
    common::model(move || {
        let event = Event::new();
        let waiter = {
            let event = event.clone();
            thread::spawn(move || {
                let mut wait = pin!(event.wait());
                let first = wait.as_mut().poll(&mut Context::from_waker(Waker::noop()));
                if first.is_pending() && !dropped {
                    block_on(&common::Runner::new(), wait);
                }
            })
        };
        event.set();
        waiter.join().unwrap();
        // The event still works: a new wait completes at once.
        let mut again = pin!(event.wait());
        assert!(
            again
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_ready()
        );
    });
}

#[test]
fn queued_waiter_polled_vs_set() {
    queued_waiter_vs_set(false);
}

#[test]
fn queued_waiter_dropped_vs_set() {
    queued_waiter_vs_set(true);
}
