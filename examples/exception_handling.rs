//! Exception handling: a failing task cancels its sibling, and the group reports the
//! failure.
//!
//! Every failure comes back as a `GroupError` (holding each task's error with its
//! name), and `GroupError::find` looks for an error of a given type, here the example's
//! own `ValueError`. The normal task is dropped at its sleep — its `Drop` is its
//! cleanup — and never prints "complete".
//!
//! System clock, short sleeps: runs in about 100 ms.
//! Run it with `cargo run --example exception_handling`.

use std::fmt;
use std::time::Duration;

#[derive(Debug)]
struct ValueError(String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValueError: {}", self.0)
    }
}

impl std::error::Error for ValueError {}

async fn failing_task() -> Result<(), ValueError> {
    pride::sleep(Duration::from_millis(100)).await;
    Err(ValueError("Task failed!".into()))
}

/// Prints when it is dropped, to show where the cancelled task was cleaned up.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        println!("normal_task dropped (cancelled): its cleanup ran");
    }
}

async fn normal_task() {
    let _cleanup = Cleanup;
    pride::sleep(Duration::from_millis(200)).await;
    println!("Normal task complete");
}

fn main() {
    let result = pride::run(pride::task_group(async |tg| {
        tg.start_soon_named("failing_task", failing_task());
        tg.start_soon_named("normal_task", normal_task());
    }));

    match result {
        Ok(()) => println!("the group succeeded (unexpected)"),
        Err(group_error) => {
            println!("Task group failed: {group_error}");
            for error in group_error.errors() {
                println!(
                    "entry: task {:?}, panic: {}",
                    error.name().unwrap_or("<unnamed>"),
                    error.is_panic()
                );
            }
            if let Some(value_error) = group_error.find::<ValueError>() {
                println!("found the ValueError: {:?}", value_error.0);
            }
        }
    }
}
