//! Cancel-safety and capacity stress for the sync primitives on the real multi-threaded
//! runtime (a `get` dropped by a cancel loses no item; a `put` dropped before it
//! completed did not enqueue): gets cancelled while puts race them, bounded queues and
//! channels under four producers and four consumers, semaphores and limiters with
//! cancelled acquires, and event fan-out. Every item is counted: nothing lost, nothing
//! duplicated; every bound is checked with an atomic high-water mark.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{Counter, Rng, block_on, builder};
use futures_lite::future::poll_once;
use pride::sync::channel;
use pride::time::Clock;
use pride::{
    BoxError, CapacityLimiter, Event, Queue, Semaphore, move_on_after, sleep, task_group, yield_now,
};

/// Four workers even on a two-core machine: more interleavings, more preemption.
const WORKERS: usize = 4;
const ROUNDS: usize = 10_000;

/// Counts how many hold something right now and the most that ever did.
#[derive(Clone, Default)]
struct HighWater {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}

impl HighWater {
    fn add(&self, n: usize) {
        let now = self.now.fetch_add(n, Ordering::SeqCst) + n;
        self.max.fetch_max(now, Ordering::SeqCst);
    }

    fn sub(&self, n: usize) {
        self.now.fetch_sub(n, Ordering::SeqCst);
    }

    /// Records an observed level.
    fn observe(&self, level: usize) {
        self.max.fetch_max(level, Ordering::SeqCst);
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// Each of `n` items must have been seen exactly once.
fn assert_each_once(seen: &[AtomicUsize]) {
    for (item, count) in seen.iter().enumerate() {
        let count = count.load(Ordering::SeqCst);
        assert_eq!(count, 1, "item {item} seen {count} times");
    }
}

fn counters(n: usize) -> Arc<Vec<AtomicUsize>> {
    Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect())
}

// ---------------------------------------------------------------------------------
// Queue: a get cancelled while a put races it

/// On the autojump clock, a getter's 1 ms deadline and a putter's 1 ms sleep fire at
/// the same tick, on different workers: the get is cancelled while the put lands.
/// The item is received or still queued — exactly one of the two, every time. 100
/// pairs (each on its own queue) run per tick, 100 ticks: 10,000 raced gets.
#[test]
fn queue_get_cancelled_by_a_deadline_while_a_put_races_loses_nothing() {
    const PAIRS: usize = 100;
    let (received, left) = block_on(60, builder(WORKERS).clock(Clock::autojump()), || async {
        let (received, left) = (Counter::new(), Counter::new());
        for round in 0..ROUNDS / PAIRS {
            let queues: Vec<Queue<usize>> = (0..PAIRS).map(|_| Queue::unbounded()).collect();
            let got = counters(PAIRS);
            task_group(async |tg| {
                for (k, q) in queues.iter().enumerate() {
                    let (q1, got) = (q.clone(), got.clone());
                    tg.start_soon(async move {
                        if let Some(item) = move_on_after(Duration::from_millis(1), q1.get()).await
                        {
                            assert_eq!(item.unwrap(), round * PAIRS + k);
                            got[k].fetch_add(1, Ordering::SeqCst);
                        }
                    });
                    let q2 = q.clone();
                    tg.start_soon(async move {
                        sleep(Duration::from_millis(1)).await;
                        if (round + k) % 2 == 0 {
                            yield_now().await;
                        }
                        q2.put(round * PAIRS + k).await.unwrap();
                    });
                }
            })
            .await
            .unwrap();
            for (k, q) in queues.iter().enumerate() {
                let item = round * PAIRS + k;
                match (got[k].load(Ordering::SeqCst), q.get_nowait()) {
                    (1, Err(_)) => received.inc(),
                    (0, Ok(queued)) if queued == item => left.inc(),
                    other => panic!("item {item}: received/queued {other:?}"),
                }
                assert!(q.is_empty());
            }
        }
        (received.get(), left.get())
    });
    assert_eq!(received + left, ROUNDS);
    eprintln!("deadline-cancelled gets: {received} received, {left} left in the queue");
}

/// A getter polls its `get` once or twice (registering as a waiter) and then drops it,
/// while a putter on another worker puts: a grant to the dropped getter must go back
/// to the queue.
#[test]
fn queue_get_dropped_while_a_put_races_loses_nothing() {
    let (received, left) = block_on(60, builder(WORKERS).clock(Clock::system()), || async {
        let q = Queue::<usize>::with_maxsize(1);
        let (received, left) = (Counter::new(), Counter::new());
        for round in 0..ROUNDS {
            let got = Arc::new(AtomicUsize::new(usize::MAX));
            task_group(async |tg| {
                let (q1, got) = (q.clone(), got.clone());
                tg.start_soon(async move {
                    let mut get = pin!(q1.get());
                    for _ in 0..=round % 3 {
                        if let Some(item) = poll_once(get.as_mut()).await {
                            got.store(item.unwrap(), Ordering::SeqCst);
                            return;
                        }
                        yield_now().await;
                    }
                    // Dropped here, perhaps just after the put handed it the item.
                });
                let q2 = q.clone();
                tg.start_soon(async move {
                    for _ in 0..round % 4 {
                        yield_now().await;
                    }
                    q2.put(round).await.unwrap();
                });
            })
            .await
            .unwrap();
            match (got.load(Ordering::SeqCst), q.get_nowait()) {
                (item, Err(_)) if item == round => received.inc(),
                (usize::MAX, Ok(item)) if item == round => left.inc(),
                other => panic!("round {round}: got/queued {other:?}"),
            }
        }
        (received.get(), left.get())
    });
    assert_eq!(received + left, ROUNDS);
    eprintln!("dropped gets: {received} received, {left} left in the queue");
}

// ---------------------------------------------------------------------------------
// Bounded queue and channel under 4 producers / 4 consumers

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: usize = 2_500;
const MAXSIZE: usize = 4;

/// Consumers drop half their gets after one poll (cancelled mid-wait); producers
/// drop some puts the same way and retry. Every item arrives exactly once, and the
/// queue never holds more than its maxsize. Two gauges watch the bound: `len()`
/// sampled at every step (exact), and a count kept outside the queue (puts begun minus
/// gets seen), which can only overstate the true level: by one pending put per
/// producer and one completed-but-uncounted get per consumer.
#[test]
fn bounded_queue_with_cancelled_gets_and_puts_keeps_every_item_and_its_bound() {
    let seen = counters(PRODUCERS * PER_PRODUCER);
    let len_gauge = HighWater::default();
    let count_gauge = HighWater::default();
    let (s, lg, cg) = (seen.clone(), len_gauge.clone(), count_gauge.clone());
    let cancelled = block_on(
        60,
        builder(WORKERS).clock(Clock::system()),
        move || async move {
            let q = Queue::<usize>::with_maxsize(MAXSIZE);
            let cancelled = Counter::new();
            task_group(async |tg| {
                for c in 0..CONSUMERS {
                    let (q, seen, lg, cg, cancelled) = (
                        q.clone(),
                        s.clone(),
                        lg.clone(),
                        cg.clone(),
                        cancelled.clone(),
                    );
                    tg.start_soon(async move {
                        let mut rng = Rng::new(c as u64 + 1);
                        loop {
                            let mut get = pin!(q.get());
                            let item = match poll_once(get.as_mut()).await {
                                Some(item) => item,
                                None if rng.below(2) == 0 => {
                                    cancelled.inc();
                                    continue; // drops the waiting get
                                }
                                None => get.await,
                            };
                            let Ok(item) = item else { break };
                            cg.sub(1);
                            lg.observe(q.len());
                            seen[item].fetch_add(1, Ordering::SeqCst);
                        }
                    });
                }
                let (q, lg, cg) = (q.clone(), lg.clone(), cg.clone());
                tg.start_soon(async move {
                    task_group(async |producers| {
                        for p in 0..PRODUCERS {
                            let (q, lg, cg) = (q.clone(), lg.clone(), cg.clone());
                            producers.start_soon(async move {
                                let mut rng = Rng::new(100 + p as u64);
                                for i in 0..PER_PRODUCER {
                                    let item = p * PER_PRODUCER + i;
                                    cg.add(1);
                                    loop {
                                        let mut put = pin!(q.put(item));
                                        match poll_once(put.as_mut()).await {
                                            Some(done) => break done.unwrap(),
                                            // A dropped put did not enqueue: put it again.
                                            None if rng.below(4) == 0 => yield_now().await,
                                            None => break put.await.unwrap(),
                                        }
                                    }
                                    lg.observe(q.len());
                                }
                            });
                        }
                    })
                    .await?;
                    q.close();
                    Ok::<(), BoxError>(())
                });
            })
            .await
            .unwrap();
            assert!(q.is_empty());
            cancelled.get()
        },
    );
    assert_each_once(&seen);
    assert!(
        len_gauge.max() <= MAXSIZE,
        "len() reached {}",
        len_gauge.max()
    );
    assert!(
        count_gauge.max() <= MAXSIZE + PRODUCERS + CONSUMERS,
        "{} items in the queue",
        count_gauge.max()
    );
    eprintln!("bounded queue: {cancelled} gets cancelled mid-wait");
}

#[test]
fn bounded_channel_four_producers_four_consumers_with_cancelled_receives() {
    let seen = counters(PRODUCERS * PER_PRODUCER);
    let len_gauge = HighWater::default();
    let (s, lg) = (seen.clone(), len_gauge.clone());
    block_on(
        60,
        builder(WORKERS).clock(Clock::system()),
        move || async move {
            task_group(async |tg| {
                let (tx, rx) = channel::<usize>(MAXSIZE);
                for c in 0..CONSUMERS {
                    let (rx, seen, lg) = (rx.clone(), s.clone(), lg.clone());
                    tg.start_soon(async move {
                        let mut rng = Rng::new(c as u64 + 7);
                        loop {
                            let mut recv = pin!(rx.recv());
                            let item = match poll_once(recv.as_mut()).await {
                                Some(item) => item,
                                None if rng.below(2) == 0 => continue,
                                None => recv.await,
                            };
                            let Ok(item) = item else { break };
                            lg.observe(rx.len());
                            seen[item].fetch_add(1, Ordering::SeqCst);
                        }
                    });
                }
                drop(rx);
                for p in 0..PRODUCERS {
                    let (tx, lg) = (tx.clone(), lg.clone());
                    tg.start_soon(async move {
                        for i in 0..PER_PRODUCER {
                            tx.send(p * PER_PRODUCER + i).await.unwrap();
                            lg.observe(tx.len());
                        }
                    });
                }
                // The consumers end once the last producer's sender is gone.
                drop(tx);
            })
            .await
            .unwrap();
        },
    );
    assert_each_once(&seen);
    assert!(
        len_gauge.max() <= MAXSIZE,
        "len() reached {}",
        len_gauge.max()
    );
}

// ---------------------------------------------------------------------------------
// Semaphore and CapacityLimiter: never over-granted, nothing leaked

const TASKS: usize = 32;
const ITERATIONS: usize = 300;
const PERMITS: usize = 3;

/// Tasks take one or two permits, hold them across a yield, or give up a waiting
/// acquire after one poll. Held permits never exceed the total, and all come back.
#[test]
fn semaphore_is_never_over_granted_with_cancelled_acquires() {
    let gauge = HighWater::default();
    let sem = Arc::new(Semaphore::new(PERMITS));
    let (g, sm) = (gauge.clone(), sem.clone());
    block_on(
        60,
        builder(WORKERS).clock(Clock::system()),
        move || async move {
            task_group(async |tg| {
                for t in 0..TASKS {
                    let (sem, g) = (sm.clone(), g.clone());
                    tg.start_soon(async move {
                        let mut rng = Rng::new(t as u64 + 1);
                        for _ in 0..ITERATIONS {
                            let n = 1 + rng.below(2) as usize;
                            let mut acquire = pin!(sem.acquire_many(n));
                            let permit = match poll_once(acquire.as_mut()).await {
                                Some(permit) => permit,
                                None if rng.below(3) == 0 => continue, // cancelled
                                None => acquire.await,
                            };
                            assert_eq!(permit.num_permits(), n);
                            g.add(n);
                            yield_now().await;
                            g.sub(n);
                            drop(permit);
                        }
                    });
                }
            })
            .await
            .unwrap();
        },
    );
    assert!(gauge.max() <= PERMITS, "{} permits held", gauge.max());
    assert_eq!(sem.available_permits(), PERMITS);
}

/// The same with a `CapacityLimiter`, through both `acquire` and
/// `acquire_on_behalf_of`, with waits cancelled by short deadlines as well as drops.
#[test]
fn capacity_limiter_is_never_over_granted_with_cancelled_acquires() {
    let gauge = HighWater::default();
    let limiter = CapacityLimiter::new(PERMITS);
    let (g, lim) = (gauge.clone(), limiter.clone());
    block_on(
        60,
        builder(WORKERS).clock(Clock::system()),
        move || async move {
            task_group(async |tg| {
                for t in 0..TASKS {
                    let (limiter, g) = (lim.clone(), g.clone());
                    tg.start_soon(async move {
                        let mut rng = Rng::new(t as u64 + 50);
                        let me = pride::sync::Borrower::new(t as u64);
                        for i in 0..ITERATIONS {
                            if i % 2 == 0 {
                                let mut acquire = pin!(limiter.acquire());
                                let token = match poll_once(acquire.as_mut()).await {
                                    Some(token) => token,
                                    None if rng.below(3) == 0 => continue,
                                    None => acquire.await,
                                };
                                g.add(1);
                                yield_now().await;
                                g.sub(1);
                                drop(token);
                            } else {
                                let wait = Duration::from_micros(rng.below(200));
                                match move_on_after(wait, limiter.acquire_on_behalf_of(me)).await {
                                    None => continue,
                                    Some(result) => result.unwrap(),
                                }
                                g.add(1);
                                yield_now().await;
                                g.sub(1);
                                limiter.release_on_behalf_of(me).unwrap();
                            }
                        }
                    });
                }
            })
            .await
            .unwrap();
        },
    );
    assert!(gauge.max() <= PERMITS, "{} tokens held", gauge.max());
    assert_eq!(limiter.borrowed_tokens(), 0);
    assert_eq!(limiter.available_tokens(), PERMITS);
}

// ---------------------------------------------------------------------------------
// Event fan-out

/// 10,000 waiters on one event, set from a plain thread once half of them are
/// waiting, while the rest are still being spawned and registering: every waiter wakes
/// (the group joins).
#[test]
fn event_set_wakes_every_one_of_10k_waiters() {
    const WAITERS: usize = 10_000;
    let woke = block_on(60, builder(WORKERS).clock(Clock::system()), || async {
        let event = Event::new();
        let (waiting, woke) = (Counter::new(), Counter::new());
        let setter = {
            let (event, waiting) = (event.clone(), waiting.clone());
            std::thread::spawn(move || {
                crate::common::spin_until(|| waiting.get() >= WAITERS / 2);
                event.set();
            })
        };
        task_group(async |tg| {
            for _ in 0..WAITERS {
                let (event, waiting, woke) = (event.clone(), waiting.clone(), woke.clone());
                tg.start_soon(async move {
                    waiting.inc();
                    event.wait().await;
                    woke.inc();
                });
            }
        })
        .await
        .unwrap();
        setter.join().unwrap();
        woke.get()
    });
    assert_eq!(woke, 10_000);
}

/// Many rounds of a smaller fan-out where half the waiters drop their wait after one
/// poll and the event is set by a sibling on another worker: the dropped waits do not
/// stand in the way of the rest.
#[test]
fn event_fan_out_with_dropped_waiters_wakes_the_rest() {
    const WAITERS: usize = 64;
    const EVENT_ROUNDS: usize = 200;
    let woke = block_on(60, builder(WORKERS).clock(Clock::system()), || async {
        let woke = Counter::new();
        for round in 0..EVENT_ROUNDS {
            let event = Event::new();
            let registered = Arc::new(AtomicUsize::new(0));
            task_group(async |tg| {
                for w in 0..WAITERS {
                    let (event, woke, registered) =
                        (event.clone(), woke.clone(), registered.clone());
                    tg.start_soon(async move {
                        let mut wait = pin!(event.wait());
                        let ready = poll_once(wait.as_mut()).await.is_some();
                        registered.fetch_add(1, Ordering::SeqCst);
                        if w % 2 == 1 {
                            return; // dropped
                        }
                        if !ready {
                            wait.await;
                        }
                        woke.inc();
                    });
                }
                let (event, registered) = (event.clone(), registered.clone());
                tg.start_soon(async move {
                    while registered.load(Ordering::SeqCst) < WAITERS / 2 + round % 8 {
                        yield_now().await;
                    }
                    event.set();
                });
            })
            .await
            .unwrap();
        }
        woke.get()
    });
    assert_eq!(woke, EVENT_ROUNDS * WAITERS / 2);
}
