//! Timeout with a cancel scope: a deadline on the group's scope cuts two slow tasks
//! short.
//!
//! A group whose own deadline cuts work short is an error, not a quiet success: the
//! group returns a `GroupError` whose `is_timeout()` is true, so the lost work is never
//! silent. (An explicit `tg.cancel_scope().cancel()`, by contrast, is a deliberate
//! shutdown and returns the body's value.)
//!
//! The durations are those of a real service (5 s deadline, 100 s tasks): the runtime
//! uses `Clock::autojump()`, which jumps to the next deadline whenever every task
//! waits, so the program finishes at once and prints exact mock times.
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
