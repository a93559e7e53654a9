//! Unit tests of the queue: order, fairness, cancel-safety, close, capacity, wake-ups.

use super::*;
use crate::test_util::Counter;
use futures_lite::future::block_on;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

fn ready<T>(p: Poll<T>) -> T {
    match p {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected Ready"),
    }
}

fn high_water<T>(q: &Queue<T>) -> usize {
    q.core.lock().high_water
}

#[test]
fn fifo_and_nowait() {
    let q = Queue::with_maxsize(3);
    for i in 0..3 {
        q.put_nowait(i).unwrap();
    }
    assert!(q.is_full());
    assert_eq!(q.put_nowait(9), Err(WouldBlock::Full(9)));
    assert_eq!(q.len(), 3);
    assert_eq!(q.maxsize(), Some(3));
    assert_eq!(Queue::<u8>::unbounded().maxsize(), None);
    for i in 0..3 {
        assert_eq!(q.get_nowait(), Ok(i));
    }
    assert_eq!(q.get_nowait(), Err(WouldBlock::Empty));
    assert!(q.is_empty());
}

#[test]
#[should_panic(expected = "maxsize >= 1")]
fn zero_maxsize_panics() {
    let _ = Queue::<u8>::with_maxsize(0);
}

#[test]
fn getters_are_served_in_order_and_one_put_wakes_one_getter() {
    let q = Queue::unbounded();
    let counters: Vec<_> = (0..3).map(|_| Counter::new()).collect();
    let mut gets: Vec<_> = (0..3).map(|_| q.get()).collect();
    for (c, g) in counters.iter().zip(&mut gets) {
        assert!(c.poll(g).is_pending());
        assert!(c.poll(g).is_pending()); // a re-poll does not re-register
    }
    q.put_nowait('a').unwrap();
    let wakes: Vec<_> = counters.iter().map(Counter::wakes).collect();
    assert_eq!(wakes, [1, 0, 0]);
    q.put_nowait('b').unwrap();
    // The item went to a waiting getter, not into the buffer.
    assert_eq!(q.get_nowait(), Err(WouldBlock::Empty));
    // Getter 2 is served before getter 1 looks: it still gets 'b', in order.
    assert_eq!(ready(counters[1].poll(&mut gets[1])), Ok('b'));
    assert_eq!(ready(counters[0].poll(&mut gets[0])), Ok('a'));
    assert_eq!(counters[2].wakes(), 0);
}

#[test]
fn cancelled_get_passes_its_item_to_the_next_getter() {
    let q = Queue::unbounded();
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut g1 = q.get();
    let mut g2 = q.get();
    assert!(c1.poll(&mut g1).is_pending());
    assert!(c2.poll(&mut g2).is_pending());
    q.put_nowait(1).unwrap();
    assert_eq!((c1.wakes(), c2.wakes()), (1, 0));
    drop(g1); // cancelled after being handed 1, before seeing it
    assert_eq!(c2.wakes(), 1);
    assert_eq!(ready(c2.poll(&mut g2)), Ok(1));
}

#[test]
fn cancelled_get_puts_its_item_back_at_the_front() {
    let q = Queue::with_maxsize(2);
    let c = Counter::new();
    let mut g = q.get();
    assert!(c.poll(&mut g).is_pending());
    q.put_nowait(1).unwrap();
    q.put_nowait(2).unwrap();
    // 1 is in flight to the getter and still counts: the queue is full.
    assert_eq!(q.put_nowait(3), Err(WouldBlock::Full(3)));
    drop(g);
    assert_eq!(q.get_nowait(), Ok(1));
    assert_eq!(q.get_nowait(), Ok(2));
    assert!(high_water(&q) <= 2);
}

#[test]
fn waiting_put_is_not_enqueued_when_dropped() {
    let q = Queue::with_maxsize(1);
    q.put_nowait(1).unwrap();
    let c = Counter::new();
    let mut p = q.put(2);
    assert!(c.poll(&mut p).is_pending());
    drop(p);
    assert_eq!(q.get_nowait(), Ok(1));
    assert_eq!(q.get_nowait(), Err(WouldBlock::Empty));
    q.put_nowait(3).unwrap();
}

#[test]
fn slot_of_a_cancelled_put_passes_to_the_next_putter() {
    let q = Queue::with_maxsize(1);
    q.put_nowait(0).unwrap();
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut p1 = q.put(1);
    let mut p2 = q.put(2);
    assert!(c1.poll(&mut p1).is_pending());
    assert!(c2.poll(&mut p2).is_pending());
    assert_eq!(q.get_nowait(), Ok(0));
    // One slot freed: one putter woken, and nobody can barge into the reserved slot.
    assert_eq!((c1.wakes(), c2.wakes()), (1, 0));
    assert_eq!(q.put_nowait(9), Err(WouldBlock::Full(9)));
    drop(p1);
    assert_eq!(c2.wakes(), 1);
    assert_eq!(ready(c2.poll(&mut p2)), Ok(()));
    assert_eq!(q.get_nowait(), Ok(2));
    assert_eq!(q.get_nowait(), Err(WouldBlock::Empty));
}

#[test]
fn putters_are_served_in_order() {
    let q = Queue::with_maxsize(1);
    q.put_nowait(0).unwrap();
    let counters: Vec<_> = (0..3).map(|_| Counter::new()).collect();
    let mut puts: Vec<_> = (1..4).map(|i| q.put(i)).collect();
    for (c, p) in counters.iter().zip(&mut puts) {
        assert!(c.poll(p).is_pending());
    }
    for i in 0..3 {
        assert_eq!(q.get_nowait(), Ok(i));
        let wakes: Vec<_> = counters.iter().map(Counter::wakes).collect();
        let mut expected = [1, 1, 1];
        expected[i + 1..].fill(0);
        assert_eq!(wakes, expected);
        assert_eq!(ready(counters[i].poll(&mut puts[i])), Ok(()));
    }
    assert_eq!(q.get_nowait(), Ok(3));
}

#[test]
fn close_wakes_everyone_and_drains() {
    let q = Queue::<u8>::with_maxsize(1);
    let (cg, cp) = (Counter::new(), Counter::new());
    let mut g = q.get();
    assert!(cg.poll(&mut g).is_pending());
    q.close();
    assert_eq!(cg.wakes(), 1);
    assert_eq!(ready(cg.poll(&mut g)), Err(Closed(())));

    let q = Queue::with_maxsize(1);
    q.put_nowait(1).unwrap();
    let mut p = q.put(2);
    assert!(cp.poll(&mut p).is_pending());
    q.close();
    q.close();
    assert_eq!(cp.wakes(), 1);
    assert_eq!(ready(cp.poll(&mut p)), Err(Closed(2)));
    assert!(q.is_closed());
    assert_eq!(q.put_nowait(3), Err(WouldBlock::Closed(3)));
    assert_eq!(block_on(q.get()), Ok(1));
    assert_eq!(block_on(q.get()), Err(Closed(())));
}

#[test]
fn put_granted_a_slot_then_closed_fails_and_frees_the_slot() {
    let q = Queue::with_maxsize(1);
    q.put_nowait(1).unwrap();
    let c = Counter::new();
    let mut p = q.put(2);
    assert!(c.poll(&mut p).is_pending());
    assert_eq!(q.get_nowait(), Ok(1)); // reserves the slot for p
    q.close();
    assert_eq!(ready(c.poll(&mut p)), Err(Closed(2)));
    assert!(!q.is_full());
}

#[test]
fn stream_ends_after_close() {
    use futures_lite::StreamExt;
    let q = Queue::unbounded();
    for i in 0..5 {
        q.put_nowait(i).unwrap();
    }
    q.close();
    let all: Vec<_> = block_on(q.stream().collect());
    assert_eq!(all, vec![0, 1, 2, 3, 4]);
}

/// Polls a stream's `next()` once with `c`.
fn poll_next<T>(c: &Counter, stream: &mut QueueStream<T>) -> Poll<Option<T>> {
    use futures_lite::StreamExt;
    c.poll(&mut stream.next())
}

#[test]
fn a_dropped_next_holds_no_item_back() {
    let q = Queue::unbounded();
    let mut stream = q.stream();
    // `next()` waits once and is dropped (a `select` or a timeout), the stream stays.
    assert!(poll_next(&Counter::new(), &mut stream).is_pending());
    q.put_nowait(1).unwrap();
    assert_eq!(q.len(), 1, "the item waits in the queue, not in the stream");
    assert_eq!(q.get_nowait(), Ok(1));
    // A get that waits while the stream does is handed the next item.
    let c = Counter::new();
    let mut get = q.get();
    assert!(c.poll(&mut get).is_pending());
    q.put_nowait(2).unwrap();
    assert_eq!(ready(c.poll(&mut get)), Ok(2));
    // The stream, polled again, goes on waiting, then takes what comes.
    let s = Counter::new();
    assert!(poll_next(&s, &mut stream).is_pending());
    q.put_nowait(3).unwrap();
    assert_eq!(s.wakes(), 1);
    assert_eq!(ready(poll_next(&s, &mut stream)), Some(3));
}

#[test]
fn an_item_wakes_every_waiting_stream_and_one_takes_it() {
    let q = Queue::unbounded();
    let (mut a, mut b) = (q.stream(), q.stream());
    let (ca, cb) = (Counter::new(), Counter::new());
    assert!(poll_next(&ca, &mut a).is_pending());
    assert!(poll_next(&cb, &mut b).is_pending());
    q.put_nowait(1).unwrap();
    assert_eq!((ca.wakes(), cb.wakes()), (1, 1));
    assert_eq!(ready(poll_next(&cb, &mut b)), Some(1));
    // `a` was woken for an item `b` took: it waits again, and so does `b`.
    assert!(poll_next(&ca, &mut a).is_pending());
    assert!(poll_next(&cb, &mut b).is_pending());
    q.put_nowait(2).unwrap();
    assert_eq!((ca.wakes(), cb.wakes()), (2, 2));
    // A stream woken and dropped unpolled passes nothing on, and needs not: the item
    // waits in the queue for the other.
    drop(b);
    assert_eq!(ready(poll_next(&ca, &mut a)), Some(2));
    assert_eq!(q.core.lock().watchers.slots_in_use(), 0);
}

#[test]
fn a_get_never_sees_the_end_while_an_item_is_on_its_way() {
    let q = Queue::unbounded();
    let (c1, c2) = (Counter::new(), Counter::new());
    let (mut g1, mut g2) = (q.get(), q.get());
    assert!(c1.poll(&mut g1).is_pending());
    assert!(c2.poll(&mut g2).is_pending());
    q.put_nowait(7).unwrap(); // handed to g1
    q.close();
    // g1 has not seen its item, and may yet give it back: g2 waits.
    assert!(c2.poll(&mut g2).is_pending());
    assert_eq!(q.get_nowait(), Err(WouldBlock::Empty));
    let mut stream = q.stream();
    let cs = Counter::new();
    assert!(poll_next(&cs, &mut stream).is_pending());
    drop(g1); // cancelled unseen: the item goes to g2
    assert_eq!(ready(c2.poll(&mut g2)), Ok(7));
    // That was the last item: the stream was woken to see the end.
    assert!(cs.wakes() > 0);
    assert_eq!(ready(poll_next(&cs, &mut stream)), None);
    assert_eq!(q.get_nowait(), Err(WouldBlock::Closed(())));
}

#[test]
fn the_get_that_sees_the_last_item_wakes_the_others_to_see_the_end() {
    let q = Queue::unbounded();
    let (c1, c2) = (Counter::new(), Counter::new());
    let (mut g1, mut g2) = (q.get(), q.get());
    assert!(c1.poll(&mut g1).is_pending());
    assert!(c2.poll(&mut g2).is_pending());
    q.put_nowait(7).unwrap();
    q.close();
    assert!(c2.poll(&mut g2).is_pending());
    let woken = c2.wakes();
    assert_eq!(ready(c1.poll(&mut g1)), Ok(7));
    assert!(c2.wakes() > woken, "g2 was not woken to see the end");
    assert_eq!(ready(c2.poll(&mut g2)), Err(Closed(())));
}

#[test]
fn capacity_is_never_exceeded_under_threads() {
    const PER: usize = if cfg!(miri) { 20 } else { 2000 };
    let q = Queue::with_maxsize(4);
    let received = std::sync::Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let q = q.clone();
            thread::spawn(move || {
                block_on(async {
                    for i in 0..PER {
                        q.put(p * PER + i).await.unwrap();
                    }
                })
            })
        })
        .collect();
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let (q, received) = (q.clone(), received.clone());
            thread::spawn(move || {
                let mut seen = Vec::new();
                while let Ok(v) = block_on(q.get()) {
                    received.fetch_add(1, Ordering::SeqCst);
                    seen.push(v);
                }
                seen
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    q.close();
    let mut all: Vec<usize> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..4 * PER).collect::<Vec<_>>());
    assert!(high_water(&q) <= 4);
}

/// A `get` polled once and then dropped races a `put` on another thread, 10,000
/// times: every item must come out exactly once.
#[test]
fn stress_cancelled_get_races_put() {
    const ITERATIONS: usize = if cfg!(miri) { 50 } else { 10_000 };
    let q = Queue::with_maxsize(2);
    let start = std::sync::Arc::new(Barrier::new(2));
    let done = std::sync::Arc::new(Barrier::new(2));
    let putter = {
        let (q, start, done) = (q.clone(), start.clone(), done.clone());
        thread::spawn(move || {
            for i in 0..ITERATIONS {
                start.wait();
                if i % 3 == 0 {
                    thread::yield_now();
                }
                q.put_nowait(i).unwrap();
                done.wait();
            }
        })
    };
    let c = Counter::new();
    let mut seen = vec![0u8; ITERATIONS];
    for i in 0..ITERATIONS {
        start.wait();
        {
            let mut get = q.get();
            if let Poll::Ready(v) = c.poll(&mut get) {
                seen[v.unwrap()] += 1;
            } else if i % 2 == 0 {
                thread::yield_now();
            }
            // Dropped here: cancelled, perhaps after being handed the item.
        }
        done.wait();
        while let Ok(v) = q.get_nowait() {
            seen[v] += 1;
        }
    }
    putter.join().unwrap();
    assert!(
        seen.iter().all(|&n| n == 1),
        "an item was lost or duplicated"
    );
}

/// A waiting `put` polled once and then dropped races a `get` that frees its slot:
/// the put's item is delivered exactly when the put completed, and no slot leaks.
#[test]
fn stress_cancelled_put_races_get() {
    const ITERATIONS: usize = if cfg!(miri) { 50 } else { 5_000 };
    let q = Queue::with_maxsize(1);
    let start = std::sync::Arc::new(Barrier::new(2));
    let done = std::sync::Arc::new(Barrier::new(2));
    let got = std::sync::Arc::new(AtomicBool::new(false));
    let getter = {
        let (q, start, done, got) = (q.clone(), start.clone(), done.clone(), got.clone());
        thread::spawn(move || {
            for _ in 0..ITERATIONS {
                start.wait();
                assert_eq!(q.get_nowait(), Ok(0));
                got.store(true, Ordering::SeqCst);
                done.wait();
            }
        })
    };
    let c = Counter::new();
    let mut completed = 0;
    for _ in 0..ITERATIONS {
        q.put_nowait(0).unwrap();
        start.wait();
        let put_done = {
            let mut put = q.put(1);
            c.poll(&mut put).is_ready()
        };
        done.wait();
        assert!(got.swap(false, Ordering::SeqCst));
        if put_done {
            completed += 1;
            assert_eq!(q.get_nowait(), Ok(1));
        }
        assert_eq!(q.get_nowait(), Err(WouldBlock::Empty));
        assert!(!q.is_full(), "a slot leaked");
    }
    getter.join().unwrap();
    let _ = completed;
}
