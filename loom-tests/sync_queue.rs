//! loom models of the queue's hand-offs, each racing a put (or a close) against a
//! reader that goes away and a reader that waits. Nothing may be lost or duplicated,
//! no wake-up may be lost (a lost item or wake-up leaves the waiting reader blocked,
//! which loom reports as a deadlock), and no reader may see an item after another
//! reader has seen the end.
//!
//! - `cancelled_get_vs_put_vs_get[_bounded]`: a get polled once and dropped; an item
//!   handed to it must go on to the waiting get.
//! - `dropped_next_vs_put_vs_get`: a stream's `next()` polled once and dropped while the
//!   stream stays alive and unpolled; the item must reach the waiting get.
//! - `dropped_next_vs_put_vs_next`: the same, with a stream waiting: an item put in the
//!   buffer must wake it.
//! - `cancelled_get_vs_close_vs_get`: the item is handed to a get that is then dropped
//!   while the queue closes; the other get must either receive it or see the end with
//!   nothing left, never the end first and the item after.
//! - `two_gets_vs_put_and_close`: the get that sees the last item must wake the other to
//!   see the end.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test
//! loom_sync_queue`
//!
//! The mutation table (`loom-tests/README.md`, rows Q1–Q5) seeds each rule away.
#![cfg(pride_loom)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use loom::thread;
use pride::__loom::sync::{Closed, Queue, QueueStream, WouldBlock};

/// Polls `fut` until it completes, waiting for its runner's waker between polls.
fn block_on<F: Future>(fut: F) -> F::Output {
    let runner = common::Runner::new();
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(&runner.waker)) {
            return out;
        }
        runner.wait();
    }
}

/// Polls a fresh `get` once and drops it; returns the item if that one poll got it.
fn cancelled_get(q: &Queue<u32>) -> Option<u32> {
    let mut get = q.get();
    match Pin::new(&mut get).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(item) => item.ok(),
        // Dropped here, after the put may have handed it the item.
        Poll::Pending => None,
    }
}

fn cancelled_get_vs_put_vs_get(maxsize: Option<usize>) {
    common::model(move || {
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
fn cancelled_get_vs_put_vs_get_unbounded() {
    cancelled_get_vs_put_vs_get(None);
}

#[test]
fn cancelled_get_vs_put_vs_get_bounded() {
    cancelled_get_vs_put_vs_get(Some(1));
}

/// A thread that polls a stream's `next()` once and drops it (as a timeout drops it),
/// and hands back the stream, alive and never polled again, with what that poll got.
fn next_polled_once(q: &Queue<u32>) -> thread::JoinHandle<(QueueStream<u32>, Poll<Option<u32>>)> {
    let q = q.clone();
    thread::spawn(move || {
        let mut stream = q.stream();
        let cx = &mut Context::from_waker(Waker::noop());
        let first = Pin::new(&mut stream).poll_next(cx);
        (stream, first)
    })
}

/// A stream whose `next()` is polled once and dropped (as a timeout drops it) stays
/// alive, never polled again, while another reader waits (`wait`, which returns what it
/// got, `None` for the end): the item must not wait in the stream, and an item put in
/// the buffer must wake a waiting stream.
fn dropped_next_vs_put_vs(wait: fn(Queue<u32>) -> Option<u32>) {
    common::model(move || {
        let q = Queue::unbounded();
        let streamer = next_polled_once(&q);
        let waiter = {
            let q = q.clone();
            thread::spawn(move || wait(q))
        };
        q.put_nowait(7).expect("unbounded");
        let (stream, by_stream) = streamer.join().unwrap();
        if by_stream.is_ready() {
            // The stream took it: the waiting reader can get nothing now.
            q.close();
        }
        let by_waiter = waiter.join().unwrap();
        match (by_stream, by_waiter) {
            (Poll::Ready(Some(7)), None) | (Poll::Pending, Some(7)) => {}
            other => panic!("item lost or duplicated: {other:?}"),
        }
        drop(stream);
    });
}

#[test]
fn dropped_next_vs_put_vs_get() {
    dropped_next_vs_put_vs(|q| block_on(q.get()).ok());
}

#[test]
fn dropped_next_vs_put_vs_next() {
    dropped_next_vs_put_vs(|q| {
        let mut stream = q.stream();
        block_on(std::future::poll_fn(|cx| {
            Pin::new(&mut stream).poll_next(cx)
        }))
    });
}

/// The item is handed to a get that is then dropped, as the queue closes: the other get
/// receives it, or sees the end with nothing left behind it. (The bad order needs three
/// preemptions: the dropped get's poll, the put and close, the other get's poll, then
/// the drop. The model is small enough to explore them all.)
#[test]
fn cancelled_get_vs_close_vs_get() {
    common::model_preempting(3, || {
        let q = Queue::unbounded();
        let canceller = {
            let q = q.clone();
            thread::spawn(move || cancelled_get(&q))
        };
        let waiter = {
            let q = q.clone();
            thread::spawn(move || block_on(q.get()))
        };
        q.put_nowait(7).expect("unbounded");
        q.close();
        let by_waiter = waiter.join().unwrap();
        let after = q.get_nowait();
        let by_canceller = canceller.join().unwrap();
        match (by_canceller, by_waiter) {
            (Some(7), Err(Closed(()))) | (None, Ok(7)) => {}
            other => panic!("item lost or duplicated: {other:?}"),
        }
        assert_eq!(
            after,
            Err(WouldBlock::Closed(())),
            "the item came back after the waiter saw the end"
        );
    });
}

/// Two gets wait through a put and a close: the one handed the item sees it, and the
/// other, which must not see the end while the item is on its way, is woken to see it
/// once the item has been seen.
#[test]
fn two_gets_vs_put_and_close() {
    common::model(|| {
        let q = Queue::unbounded();
        let gets: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || block_on(q.get()))
            })
            .collect();
        q.put_nowait(7).expect("unbounded");
        q.close();
        let got: Vec<_> = gets.into_iter().map(|g| g.join().unwrap()).collect();
        assert!(
            got.contains(&Ok(7)) && got.contains(&Err(Closed(()))),
            "one get has the item, the other the end: {got:?}"
        );
    });
}
