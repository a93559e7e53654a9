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
//! The mutation table (`loom-tests/README.md`, rows E1–E3) seeds each check away.
#![cfg(pride_loom)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use pride::__loom::sync::Event;

/// Wakes a loom thread parked in [`block_on`] (park/unpark keep a token, so a wake that
/// comes before the park is not lost).
struct Unparker(thread::Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` to completion on this loom thread, parking between polls.
fn block_on<F: Future>(fut: Pin<&mut F>) -> F::Output {
    let mut fut = fut;
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

/// Polls `fut` once with a waker that does nothing: whether it completed.
fn poll_once<F: Future>(fut: Pin<&mut F>) -> bool {
    fut.poll(&mut Context::from_waker(Waker::noop())).is_ready()
}

/// A waiter's first poll races the `set`: it must either see the flag or be queued in
/// the list the `set` takes (and be woken), and it then sees the write made before.
#[test]
fn first_poll_vs_set() {
    loom::model(|| {
        let event = Event::new();
        let data = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (event, data) = (event.clone(), data.clone());
            thread::spawn(move || {
                block_on(pin!(event.wait()));
                assert_eq!(data.load(Ordering::Relaxed), 1, "a write before the set");
            })
        };
        data.store(1, Ordering::Relaxed);
        event.set();
        waiter.join().unwrap();
    });
}

/// A waiter queued before the race polls again as the `set` runs: it must not look for
/// its slot in the list that is left, and must be woken.
#[test]
fn queued_waiter_polled_vs_set() {
    loom::model(|| {
        let event = Event::new();
        let waiter = {
            let event = event.clone();
            thread::spawn(move || {
                let mut wait = pin!(event.wait());
                if !poll_once(wait.as_mut()) {
                    block_on(wait);
                }
            })
        };
        event.set();
        waiter.join().unwrap();
    });
}

/// A waiter queued before the race is dropped as the `set` runs: it must not look for
/// its slot in the list that is left.
#[test]
fn queued_waiter_dropped_vs_set() {
    loom::model(|| {
        let event = Event::new();
        let waiter = {
            let event = event.clone();
            thread::spawn(move || {
                let mut wait = pin!(event.wait());
                let _ = poll_once(wait.as_mut());
            })
        };
        event.set();
        waiter.join().unwrap();
        // The event still works: a new wait completes at once.
        assert!(poll_once(pin!(event.wait())));
    });
}
