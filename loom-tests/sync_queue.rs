//! loom model of the queue hand-off: a put races a get that is cancelled (polled once,
//! then dropped) and another get that waits. Nothing may be lost or duplicated and no
//! wake-up may be lost: if the cancelled get does not end up with the item, the waiting
//! get must receive it (a lost item or a lost wake-up leaves that getter blocked, which
//! loom reports as a deadlock).
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test
//! loom_sync_queue`
//!
//! Checked by hand that the model catches a broken queue (both breaks in
//! `GetWait::cancel`, `src/sync/queue.rs`):
//! - dropping a granted item instead of passing it on
//!   (`if let Removed::Granted(value) = .. { drop(value) }`): a lost item;
//! - always pushing it back to the buffer, even while another getter waits
//!   (`if true { state.items.push_front(value) }`): a lost wake-up.
//!
//! Each made `cancelled_get_vs_put_vs_get` fail with loom's "deadlock; threads = [..]"
//! (the waiting getter parked forever). Both models pass with the code restored.
#![cfg(pride_loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::thread;
use pride::__loom::sync::{Closed, Queue, WouldBlock};

/// Wakes a loom thread parked in [`block_on`] (park/unpark keep a token, so a wake that
/// comes before the park is not lost).
struct Unparker(thread::Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

/// Polls a fresh `get` once and drops it; returns the item if that one poll got it.
fn cancelled_get(q: &Queue<u32>) -> Option<u32> {
    let mut get = q.get();
    match Pin::new(&mut get).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(item) => Some(item.expect("the queue is not closed yet")),
        // Dropped here, after the put may have handed it the item.
        Poll::Pending => None,
    }
}

fn model(maxsize: Option<usize>) {
    loom::model(move || {
        let q = match maxsize {
            Some(n) => Queue::with_maxsize(n),
            None => Queue::unbounded(),
        };
        let canceller = {
            let q = q.clone();
            thread::spawn(move || cancelled_get(&q))
        };
        let waiter = {
            let q = q.clone();
            thread::spawn(move || block_on(q.get()))
        };
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put_nowait(7).expect("room for one item"))
        };
        putter.join().unwrap();
        let by_canceller = canceller.join().unwrap();
        if by_canceller.is_some() {
            // The waiting getter can get nothing now: release it.
            q.close();
        }
        let by_waiter = waiter.join().unwrap();
        match (by_canceller, by_waiter) {
            (Some(7), Err(Closed(()))) | (None, Ok(7)) => {}
            other => panic!("item lost or duplicated: {other:?}"),
        }
        assert!(matches!(
            q.get_nowait(),
            Err(WouldBlock::Empty | WouldBlock::Closed(()))
        ));
    });
}

#[test]
fn cancelled_get_vs_put_vs_get() {
    model(None);
}

#[test]
fn cancelled_get_vs_put_vs_get_bounded() {
    model(Some(1));
}
