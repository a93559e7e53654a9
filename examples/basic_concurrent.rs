//! Basic concurrent execution: fetch three "URLs" at once and collect the results.
//!
//! The simplest use of a task group: start one child per fetch and wait for all of
//! them. The fetches are simulated with short sleeps on the system clock (the program
//! runs in well under a second); the slowest fetch sets the total time, not the sum of
//! all three.
//!
//! Run it with `cargo run --example basic_concurrent`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pride::BoxError;

/// Stands in for an HTTP GET that returns a JSON document.
async fn fetch_data(url: &str) -> Result<String, BoxError> {
    let user: u64 = url.rsplit('/').next().unwrap_or("0").parse()?;
    pride::sleep(Duration::from_millis(50 * user)).await;
    Ok(format!(r#"{{"id": {user}, "name": "user-{user}"}}"#))
}

fn main() -> Result<(), BoxError> {
    let urls = [
        "https://api.example.com/user/1",
        "https://api.example.com/user/2",
        "https://api.example.com/user/3",
    ];
    let results = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();

    pride::run(pride::task_group(async |tg| {
        for url in urls {
            let results = results.clone();
            tg.start_soon_named(url, async move {
                let data = fetch_data(url).await?;
                println!("fetched {url}");
                results.lock().unwrap().push(data);
                Ok::<_, BoxError>(())
            });
        }
    }))?;

    // Every fetch has finished here: the group waits for all its children.
    let results = results.lock().unwrap();
    println!(
        "{} results in {:?} (the fetches overlapped):",
        results.len(),
        started.elapsed()
    );
    for data in results.iter() {
        println!("  {data}");
    }
    Ok(())
}
