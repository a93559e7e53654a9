//! Deadlock reports on the autojump clock: every task blocked, no timer armed and no
//! socket registered is reported once per episode, with the task tree.
//!
//! No test races the clock: the thread that ends a deadlock waits (with a generous
//! timeout) for the report itself; the tests that expect no report keep the runtime
//! in the state under test for several times the 100 ms grace period.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pride::time::Clock;
use pride::{Event, Runtime, task_group};

/// Long enough that only a bug makes a wait run out.
const PATIENCE: Duration = Duration::from_secs(30);
/// Several times the grace period: a runtime stuck this long would have been reported.
const STUCK: Duration = Duration::from_millis(400);

/// An autojump runtime whose reports are kept in the returned list and sent on the
/// returned channel.
fn watched() -> (Runtime, Arc<Mutex<Vec<String>>>, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let reports = Arc::new(Mutex::new(Vec::new()));
    let kept = reports.clone();
    let rt = Runtime::builder()
        .worker_threads(2)
        .clock(Clock::autojump())
        .on_deadlock(move |deadlock| {
            let text = deadlock.to_string();
            kept.lock().unwrap().push(text.clone());
            let _ = tx.lock().unwrap().send(text);
        })
        .build()
        .unwrap();
    (rt, reports, rx)
}

#[test]
fn a_deadlock_is_reported_once_per_episode_with_the_task_name() {
    let (rt, reports, rx) = watched();
    let (first, second) = (Event::new(), Event::new());
    let (set_first, set_second) = (first.clone(), second.clone());
    let unblocker = std::thread::spawn(move || {
        let one = rx.recv_timeout(PATIENCE);
        // Stay deadlocked a while longer: the same episode must not be reported again.
        std::thread::sleep(STUCK);
        set_first.set();
        let two = rx.recv_timeout(PATIENCE);
        std::thread::sleep(STUCK);
        set_second.set();
        (one, two)
    });
    rt.block_on(async {
        task_group(async |tg| {
            tg.start_soon_named("first waiter", async move { first.wait().await });
        })
        .await
        .unwrap();
        // The runtime ran again in between, so this is a new episode.
        task_group(async |tg| {
            tg.start_soon_named("second waiter", async move { second.wait().await });
        })
        .await
        .unwrap();
    });
    let (one, two) = unblocker.join().unwrap();
    let (one, two) = (one.unwrap(), two.unwrap());
    assert!(
        one.starts_with("pride: every task is blocked and no timer is armed"),
        "{one}"
    );
    assert!(one.contains("first waiter"), "{one}");
    assert!(two.contains("second waiter"), "{two}");
    assert!(!two.contains("first waiter"), "{two}");
    assert_eq!(reports.lock().unwrap().len(), 2, "{:?}", reports.lock());
}

/// The `block_on` future itself deadlocks twice, and another thread wakes it in
/// between: its polls are progress like a task's, so the second episode is a new one
/// and is reported too.
#[test]
fn a_second_deadlock_of_the_block_on_future_is_reported_too() {
    let (rt, reports, rx) = watched();
    let (first, second) = (Event::new(), Event::new());
    let (set_first, set_second) = (first.clone(), second.clone());
    let unblocker = std::thread::spawn(move || {
        let one = rx.recv_timeout(PATIENCE);
        set_first.set();
        let two = rx.recv_timeout(PATIENCE);
        set_second.set(); // reported or not: end the test
        (one, two)
    });
    rt.block_on(async {
        first.wait().await;
        second.wait().await;
    });
    let (one, two) = unblocker.join().unwrap();
    assert!(one.is_ok(), "the first deadlock was not reported");
    assert!(
        two.is_ok(),
        "the second deadlock (after the block_on future ran again) was not reported"
    );
    assert_eq!(reports.lock().unwrap().len(), 2, "{:?}", reports.lock());
}

#[test]
fn the_report_carries_the_tree() {
    let (tx, dumps) = mpsc::channel();
    let tx = Mutex::new(tx);
    let rt = Runtime::builder()
        .worker_threads(1)
        .clock(Clock::autojump())
        .on_deadlock(move |deadlock| {
            let _ = tx.lock().unwrap().send(deadlock.dump().clone());
        })
        .build()
        .unwrap();
    let event = Event::new();
    let set = event.clone();
    let unblocker = std::thread::spawn(move || {
        let dump = dumps.recv_timeout(PATIENCE);
        set.set();
        dump
    });
    rt.block_on(async {
        task_group(async |tg| {
            tg.start_soon_named("waiter", async move { event.wait().await });
        })
        .await
        .unwrap();
    });
    let dump = unblocker.join().unwrap().unwrap();
    assert_eq!(dump.roots.len(), 1);
    assert!(
        dump.nodes().any(|n| n.name.as_deref() == Some("waiter")),
        "{dump}"
    );
}

#[test]
fn sleeping_on_the_autojump_clock_is_no_deadlock() {
    let (rt, reports, _rx) = watched();
    rt.block_on(async {
        task_group(async |tg| {
            for i in 1..=20u64 {
                tg.start_soon(pride::sleep(Duration::from_secs(60 * i)));
            }
        })
        .await
        .unwrap();
    });
    assert!(reports.lock().unwrap().is_empty(), "{:?}", reports.lock());
}

#[test]
fn waiting_on_blocking_work_is_no_deadlock() {
    let (rt, reports, _rx) = watched();
    rt.block_on(async {
        pride::to_thread(|| std::thread::sleep(STUCK)).await;
    });
    assert!(reports.lock().unwrap().is_empty(), "{:?}", reports.lock());
}

#[test]
fn waiting_on_a_socket_is_no_deadlock() {
    let (rt, reports, _rx) = watched();
    rt.block_on(async {
        let listener = pride::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            std::thread::sleep(STUCK);
            std::net::TcpStream::connect(addr).unwrap()
        });
        let _ = listener.accept().await.unwrap();
        peer.join().unwrap();
    });
    assert!(reports.lock().unwrap().is_empty(), "{:?}", reports.lock());
}

#[test]
fn an_idle_runtime_is_no_deadlock() {
    let (rt, reports, _rx) = watched();
    // No `block_on` runs, so no task can be stuck.
    std::thread::sleep(STUCK);
    rt.block_on(async {});
    assert!(reports.lock().unwrap().is_empty(), "{:?}", reports.lock());
}
