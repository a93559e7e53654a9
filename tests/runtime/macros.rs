//! `#[pride::main]` and `#[pride::test]`: the body runs on a pride runtime with the
//! asked-for clock and worker count, results and panics come out as from a plain
//! function.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[pride::test]
async fn the_test_clock_is_autojump_by_default() {
    let start = pride::current_time();
    pride::sleep(Duration::from_secs(3600)).await;
    assert_eq!(pride::current_time() - start, Duration::from_secs(3600));
}

#[pride::test(clock = "system")]
async fn clock_system_runs_on_real_time() {
    let start = Instant::now();
    pride::sleep(Duration::from_millis(20)).await;
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[pride::test(clock = "mock")]
async fn clock_mock_moves_only_when_advanced() {
    let start = pride::current_time();
    pride::time::advance(Duration::from_secs(5));
    assert_eq!(pride::current_time() - start, Duration::from_secs(5));
}

#[pride::test(workers = 3)]
async fn workers_sets_the_number_of_worker_threads() {
    // Three children that each wait, without yielding, until all three run at once:
    // only three workers can get there.
    let arrived = Arc::new(AtomicUsize::new(0));
    let names = Arc::new(Mutex::new(HashSet::new()));
    pride::task_group(async |tg| {
        for _ in 0..3 {
            let (arrived, names) = (arrived.clone(), names.clone());
            tg.start_soon(async move {
                arrived.fetch_add(1, Ordering::SeqCst);
                let give_up = Instant::now() + Duration::from_secs(20);
                while arrived.load(Ordering::SeqCst) < 3 && Instant::now() < give_up {
                    std::thread::yield_now();
                }
                names
                    .lock()
                    .unwrap()
                    .insert(std::thread::current().name().map(str::to_owned));
            });
        }
    })
    .await
    .unwrap();
    assert_eq!(arrived.load(Ordering::SeqCst), 3);
    assert_eq!(names.lock().unwrap().len(), 3);
}

#[pride::test]
async fn a_test_may_return_a_result() -> Result<(), pride::BoxError> {
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}

#[pride::test]
#[should_panic(expected = "boom from the body")]
async fn a_panic_fails_the_test() {
    pride::checkpoint().await;
    panic!("boom from the body");
}

#[pride::main(workers = 2)]
async fn app() -> Result<u32, std::io::Error> {
    let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    assert!(listener.local_addr()?.port() > 0);
    Ok(7)
}

#[pride::main]
async fn app_in_a_task_group() -> usize {
    pride::task_group(async |tg| {
        for _ in 0..10 {
            tg.start_soon(pride::checkpoint());
        }
        Ok::<_, pride::BoxError>(10)
    })
    .await
    .unwrap()
}

#[test]
fn main_runs_the_body_and_returns_its_value() {
    assert_eq!(app().unwrap(), 7);
    assert_eq!(app_in_a_task_group(), 10);
}

/// `workers` takes an integer literal in any of Rust's spellings.
#[pride::test(workers = 1_0)]
async fn workers_takes_a_literal_with_underscores() {
    pride::checkpoint().await;
}

#[pride::test(workers = 2usize)]
async fn workers_takes_a_literal_with_a_suffix() {
    pride::checkpoint().await;
}

/// `clock` takes a raw string literal: its value is read, not its source text.
#[pride::test(clock = r"system")]
async fn clock_takes_a_raw_string() {
    let start = Instant::now();
    pride::sleep(Duration::from_millis(20)).await;
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[pride::test(clock = r#"mock"#)]
async fn clock_takes_a_raw_string_with_hashes() {
    let start = pride::current_time();
    pride::time::advance(Duration::from_secs(5));
    assert_eq!(pride::current_time() - start, Duration::from_secs(5));
}
