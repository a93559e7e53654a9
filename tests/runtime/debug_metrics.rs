//! `Runtime::metrics`: each counter and gauge moves with the work it counts.

use std::sync::mpsc;
use std::time::Duration;

use pride::{Event, Queue, Runtime, task_group};

fn runtime(workers: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .clock(pride::time::Clock::autojump())
        .build()
        .unwrap()
}

#[test]
fn a_fresh_runtime_counts_nothing() {
    let rt = runtime(3);
    let m = rt.metrics();
    assert_eq!(m.workers, 3);
    assert_eq!(m.per_worker.len(), 3);
    assert_eq!((m.tasks_spawned, m.tasks_alive), (0, 0));
    assert_eq!(
        (m.polls, m.steals, m.budget_exhaustions, m.blocked_polls),
        (0, 0, 0, 0)
    );
    assert_eq!(
        (m.injector_depth, m.sockets_registered, m.timers_armed),
        (0, 0, 0)
    );
    assert_eq!((m.blocking_threads, m.blocking_queue_depth), (0, 0));
}

#[test]
fn tasks_alive_counts_children_until_their_futures_are_gone() {
    let rt = runtime(2);
    let go = Event::new();
    let during = rt.block_on(task_group(async |tg| {
        for _ in 0..100 {
            let go = go.clone();
            tg.start_soon(async move { go.wait().await });
        }
        let during = rt.metrics();
        go.set();
        Ok::<_, pride::BoxError>(during)
    }));
    let during = during.unwrap();
    assert_eq!(during.tasks_spawned, 100);
    assert_eq!(during.tasks_alive, 100);
    let after = rt.metrics();
    assert_eq!(after.tasks_spawned, 100);
    assert_eq!(after.tasks_alive, 0);
    // Each child ran at least once; the per-worker numbers add up to the totals.
    assert!(after.polls >= 100, "{after:?}");
    assert_eq!(
        after.per_worker.iter().map(|w| w.polls).sum::<u64>(),
        after.polls
    );
    assert_eq!(
        after.per_worker.iter().map(|w| w.steals).sum::<u64>(),
        after.steals
    );
}

#[test]
fn cancelled_children_are_no_longer_alive() {
    let rt = runtime(2);
    let out = rt.block_on(pride::move_on_after(
        Duration::from_secs(5),
        task_group(async |tg| {
            for _ in 0..50 {
                tg.start_soon(std::future::pending::<()>());
            }
        }),
    ));
    assert!(out.is_none());
    let m = rt.metrics();
    assert_eq!((m.tasks_spawned, m.tasks_alive), (50, 0));
}

#[test]
fn idle_workers_park() {
    let rt = runtime(2);
    // On the autojump clock the sleep ends only once every worker has gone idle.
    rt.block_on(task_group(async |tg| {
        tg.start_soon(pride::sleep(Duration::from_secs(1)));
    }))
    .unwrap();
    assert!(rt.metrics().parks > 0);
}

#[test]
fn an_always_ready_consumer_exhausts_its_budget() {
    let rt = runtime(1);
    rt.block_on(task_group(async |tg| {
        tg.start_soon(async {
            let queue = Queue::unbounded();
            for i in 0..10_000 {
                queue.put_nowait(i).unwrap();
            }
            for _ in 0..10_000 {
                queue.get().await.unwrap();
            }
        });
    }))
    .unwrap();
    let m = rt.metrics();
    // 128 operations per poll: 10,000 gets cannot fit in one.
    assert!(m.budget_exhaustions >= 10_000 / 128, "{m:?}");
    assert_eq!(m.per_worker[0].budget_exhaustions, m.budget_exhaustions);
}

#[test]
fn work_queued_behind_a_busy_worker_shows_in_the_injector() {
    let rt = runtime(1);
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    rt.block_on(task_group(async |tg| {
        tg.start_soon(async move {
            entered_tx.send(()).unwrap();
            // Holds the only worker until released.
            release_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        });
        entered_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        for _ in 0..5 {
            tg.start_soon(async {});
        }
        let m = rt.metrics();
        release_tx.send(()).unwrap();
        assert_eq!(m.injector_depth, 5, "{m:?}");
        assert_eq!(m.tasks_alive, 6, "{m:?}");
    }))
    .unwrap();
    assert_eq!(rt.metrics().injector_depth, 0);
}

#[test]
fn blocking_pool_threads_and_queue_are_counted() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    rt.block_on(task_group(async |tg| {
        tg.start_soon(pride::to_thread(move || {
            entered_tx.send(()).unwrap();
            release_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        }));
        tg.start_soon(pride::to_thread(|| ()));
        // The body runs on the `block_on` thread, not a worker: waiting here is fine.
        // The first closure holds the pool's only thread; the second then waits for
        // it. Poll the metrics until it is queued.
        entered_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let m = loop {
            let m = rt.metrics();
            if m.blocking_queue_depth == 1 {
                break m;
            }
            pride::sleep(Duration::from_millis(1)).await;
        };
        release_tx.send(()).unwrap();
        assert_eq!(m.blocking_threads, 1, "{m:?}");
    }))
    .unwrap();
}

#[test]
fn armed_timers_are_counted_until_they_fire_or_are_dropped() {
    let rt = runtime(2);
    let go = Event::new();
    rt.block_on(task_group(async |tg| {
        for i in 1..=10 {
            tg.start_soon(pride::sleep(Duration::from_secs(i)));
        }
        for _ in 0..5 {
            let go = go.clone();
            tg.start_soon(async move {
                pride::move_on_after(Duration::from_secs(3600), go.wait()).await;
            });
        }
        // Once every task is blocked, the first sleep has fired: 9 sleeps and 5
        // deadlines are armed.
        pride::sleep(Duration::from_millis(1500)).await;
        assert_eq!(rt.metrics().timers_armed, 9 + 5);
        go.set();
        // The deadlines are dropped as their scopes end; the sleeps fire.
    }))
    .unwrap();
    assert_eq!(rt.metrics().timers_armed, 0);
}

#[test]
fn sockets_are_counted_while_registered() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    rt.block_on(async {
        let listener = pride::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = pride::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        assert_eq!(rt.metrics().sockets_registered, 3);
        drop((client, server, listener));
        assert_eq!(rt.metrics().sockets_registered, 0);
    });
}
