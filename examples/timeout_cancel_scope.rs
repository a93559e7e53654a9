//! Timeout with a cancel scope: a deadline on the group's scope cuts two slow tasks
//! short.
//!
//! The original document expects a `TimeoutError` here; in pride a group whose own
//! deadline cut work short returns a `GroupError` with `is_timeout()` (DESIGN rule 13),
//! so the lost work is never silent.
//!
//! The document's durations (5 s deadline, 100 s tasks) are kept: the runtime uses
//! `Clock::autojump()`, which jumps to the next deadline whenever every task waits, so
//! the program finishes at once and prints exact mock times.
//! Run it with `cargo run --example timeout_cancel_scope`.

use std::time::Duration;

use pride::time::Clock;
use pride::{BoxError, current_time, sleep};

async fn slow_task() -> Result<&'static str, BoxError> {
    sleep(Duration::from_secs(100)).await;
    Ok("Done")
}

fn main() -> std::io::Result<()> {
    let rt = pride::Runtime::builder().clock(Clock::autojump()).build()?;
    rt.block_on(async {
        let start = current_time();
        let result = pride::task_group(async |tg| {
            // Set a 5 second timeout for all tasks.
            tg.cancel_scope()
                .set_deadline(Some(current_time() + Duration::from_secs(5)));
            tg.start_soon_named("slow-1", slow_task());
            tg.start_soon_named("slow-2", slow_task());
        })
        .await;
        let elapsed = current_time() - start;
        match result {
            Err(error) if error.is_timeout() => {
                println!("Tasks timed out after {elapsed:?} (mock time): {error}");
            }
            Err(error) => println!("the group failed: {error}"),
            Ok(()) => println!("all tasks finished in {elapsed:?}"),
        }
    });
    Ok(())
}
