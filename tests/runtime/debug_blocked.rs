//! Blocked-worker detection: a poll that holds its worker past the threshold is
//! reported once, with its task's name, while the other workers keep time moving.
//!
//! No test races the clock: a blocking task waits (on a std channel, with a generous
//! timeout) for the report itself, or for a timer that must fire meanwhile.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pride::debug::BlockedWorker;
use pride::{Runtime, task_group};

/// Long enough that a short poll the OS merely preempted on a loaded machine is not
/// reported too (the watch counts wall-clock time).
const THRESHOLD: Duration = Duration::from_millis(200);
/// Long enough that only a bug makes a wait run out.
const PATIENCE: Duration = Duration::from_secs(30);

/// A runtime whose reports arrive on the returned channel.
fn watched(workers: usize) -> (Runtime, mpsc::Receiver<BlockedWorker>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let rt = Runtime::builder()
        .worker_threads(workers)
        .blocked_poll_threshold(Some(THRESHOLD))
        .on_blocked_worker(move |blocked| {
            let _ = tx.lock().unwrap().send(blocked.clone());
        })
        .build()
        .unwrap();
    (rt, rx)
}

#[test]
fn a_blocking_poll_is_reported_once_with_its_task_name() {
    let (rt, reports) = watched(2);
    let reports = Arc::new(Mutex::new(reports));
    let inside = reports.clone();
    rt.block_on(task_group(async |tg| {
        tg.start_soon_named("checksum", async move {
            let report = inside.lock().unwrap().recv_timeout(PATIENCE).unwrap();
            assert_eq!(report.task_name(), Some("checksum"));
            assert!(report.blocked_for() >= THRESHOLD);
            assert!(report.to_string().contains("\"checksum\""), "{report}");
            // Stay blocked for several more thresholds: still only one report.
            std::thread::sleep(THRESHOLD * 4);
        });
    }))
    .unwrap();
    let more: Vec<_> = reports.lock().unwrap().try_iter().collect();
    assert!(
        more.iter().all(|r| r.task_name() != Some("checksum")),
        "{more:?}"
    );
    assert!(rt.metrics().blocked_polls >= 1);
}

#[test]
fn an_unnamed_task_is_reported_without_a_name() {
    let (rt, reports) = watched(1);
    rt.block_on(task_group(async |tg| {
        tg.start_soon(async move {
            let report = reports.recv_timeout(PATIENCE).unwrap();
            assert_eq!(report.task_name(), None);
            assert_eq!(report.worker(), 0);
            assert!(report.to_string().contains("an unnamed task"), "{report}");
        });
    }))
    .unwrap();
}

/// The watchdog counts from its first look that saw the poll running, which may come up
/// to a threshold after the poll began: the report says how long the poll had run at
/// least, and never more than it had.
#[test]
fn the_report_says_how_long_at_least_the_poll_had_run() {
    let (rt, reports) = watched(1);
    // Before the poll begins.
    let before = std::time::Instant::now();
    let (report, at_most) = rt
        .block_on(task_group(async |tg| {
            tg.spawn(async move {
                let report = reports.recv_timeout(PATIENCE).unwrap();
                Ok::<_, pride::BoxError>((report, before.elapsed()))
            })
            .await
        }))
        .unwrap();
    let blocked_for = report.blocked_for();
    assert!(blocked_for >= THRESHOLD, "{report}");
    assert!(
        blocked_for <= at_most,
        "blocked_for says {blocked_for:?}; the poll had run at most {at_most:?}"
    );
    let says = format!("for at least {} ms", blocked_for.as_millis());
    assert!(report.to_string().contains(&says), "{report}");
}

#[test]
fn each_blocking_poll_is_reported() {
    let (rt, reports) = watched(1);
    let reports = Arc::new(Mutex::new(reports));
    rt.block_on(task_group(async |tg| {
        let reports = reports.clone();
        tg.start_soon_named("twice", async move {
            for _ in 0..2 {
                let report = reports.lock().unwrap().recv_timeout(PATIENCE).unwrap();
                assert_eq!(report.task_name(), Some("twice"));
                // A new poll: the next block is a new report.
                pride::yield_now().await;
            }
        });
    }))
    .unwrap();
    assert!(rt.metrics().blocked_polls >= 2);
}

#[test]
fn timers_fire_while_a_worker_is_blocked() {
    let rt = Runtime::builder()
        .worker_threads(2)
        .on_blocked_worker(|_| {})
        .build()
        .unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    rt.block_on(task_group(async |tg| {
        tg.start_soon_named("blocker", async move {
            // Released only by the sleeper below, whose timer must fire meanwhile.
            release_rx.recv_timeout(PATIENCE).unwrap();
        });
        tg.start_soon_named("sleeper", async move {
            pride::sleep(Duration::from_millis(10)).await;
            release_tx.send(()).unwrap();
        });
    }))
    .unwrap();
}

#[test]
fn sockets_stay_live_while_a_worker_is_blocked() {
    use futures_lite::AsyncReadExt;

    let rt = Runtime::builder()
        .worker_threads(2)
        .on_blocked_worker(|_| {})
        .build()
        .unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    rt.block_on(task_group(async |tg| {
        let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tg.start_soon_named("blocker", async move {
            release_rx.recv_timeout(PATIENCE).unwrap();
        });
        tg.start_soon_named("echo", async move {
            let (mut conn, _) = listener.accept().await?;
            let mut buf = [0; 4];
            conn.read_exact(&mut buf).await?;
            conn.write_all(&buf).await?;
            Ok::<_, pride::BoxError>(())
        });
        tg.start_soon_named("client", async move {
            let mut conn = pride::net::TcpStream::connect(addr).await?;
            conn.write_all(b"ping").await?;
            let mut buf = [0; 4];
            conn.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"ping");
            release_tx.send(()).unwrap();
            Ok::<_, pride::BoxError>(())
        });
        Ok::<_, pride::BoxError>(())
    }))
    .unwrap();
}

#[test]
fn the_next_task_of_a_held_worker_runs_elsewhere() {
    let (rt, _reports) = watched(2);
    let (ran_tx, ran_rx) = mpsc::channel::<()>();
    rt.block_on(task_group(async |tg| {
        let group = tg.clone();
        tg.start_soon_named("holder", async move {
            // Started on this worker, "next" sits in the worker's next-task slot...
            group.start_soon_named("next", async move { ran_tx.send(()).unwrap() });
            // ...and this poll holds the worker until "next" has run on another one.
            ran_rx
                .recv_timeout(PATIENCE)
                .expect("the next task waited for its held worker");
        });
    }))
    .unwrap();
}

#[test]
fn a_poll_nested_in_a_par_call_is_watched_too() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let (rt, reports) = watched(1);
    let done = Arc::new(AtomicBool::new(false));
    rt.block_on(task_group(async |tg| {
        let stop = done.clone();
        tg.start_soon_named("crunch", async move {
            // A long `par` call: its upkeep polls the worker's queued tasks (here
            // "nested") inside this poll.
            while !stop.load(Ordering::Acquire) {
                pride::par::join(|| (), || ());
            }
        });
        let stop = done.clone();
        tg.start_soon_named("nested", async move {
            // Holds the worker, inside "crunch"'s poll, until reported by name.
            loop {
                let report = reports
                    .recv_timeout(PATIENCE)
                    .expect("the nested poll was not reported");
                if report.task_name() == Some("nested") {
                    break;
                }
            }
            stop.store(true, Ordering::Release);
        });
    }))
    .unwrap();
    // One poll each: the nested one, and "crunch" around it, counted once.
    assert_eq!(rt.metrics().polls, 2);
}

#[test]
fn no_threshold_means_no_report() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .blocked_poll_threshold(None)
        .on_blocked_worker(|blocked| panic!("unexpected report: {blocked}"))
        .build()
        .unwrap();
    rt.block_on(task_group(async |tg| {
        tg.start_soon(async { std::thread::sleep(Duration::from_millis(300)) });
    }))
    .unwrap();
    assert_eq!(rt.metrics().blocked_polls, 0);
}

/// With the report off, the watch still hands a held worker's next task to the other
/// workers. Task "holder" wakes "woken", which goes to the holder's worker's next-task
/// slot, and then holds that worker in a blocking wait for "woken" to run, while the
/// other worker idles. The autojump clock only makes sure "woken" waits on its event
/// before the holder starts.
#[test]
fn the_next_task_of_a_held_worker_runs_elsewhere_with_the_report_off() {
    let rt = Runtime::builder()
        .worker_threads(2)
        .clock(pride::time::Clock::autojump())
        .blocked_poll_threshold(None)
        .on_blocked_worker(|blocked| panic!("unexpected report: {blocked}"))
        .build()
        .unwrap();
    rt.block_on(task_group(async |tg| {
        let event = pride::Event::new();
        let (ran_tx, ran_rx) = mpsc::channel::<()>();
        let wait = event.clone();
        tg.start_soon_named("woken", async move {
            wait.wait().await;
            ran_tx.send(()).unwrap();
        });
        // Autojump: time moves only once every task is blocked, so "woken" waits on
        // its event by now.
        pride::sleep(Duration::from_secs(1)).await;
        tg.start_soon_named("holder", async move {
            event.set(); // "woken" goes to this worker's next-task slot...
            // ...and this poll holds the worker until "woken" has run on another one.
            ran_rx
                .recv_timeout(PATIENCE)
                .expect("the next task waited for its held worker");
        });
    }))
    .unwrap();
    assert_eq!(rt.metrics().blocked_polls, 0);
}

#[test]
#[should_panic(expected = "blocked_poll_threshold must be more than zero")]
fn a_zero_threshold_is_refused() {
    Runtime::builder().blocked_poll_threshold(Some(Duration::ZERO));
}
