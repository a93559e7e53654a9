//! Fan work out to a pool of workers through a queue, and fan the results back in
//! through another.
//!
//! The input queue is filled and closed first; each worker takes items with
//! `get_nowait` until it reports `WouldBlock` (empty, or closed and drained), so the
//! pool drains the queue and stops. A failing item does not fail the group: the worker
//! records it as a failed outcome next to the successful ones.
//!
//! Each item takes 1 s on `Clock::autojump()`: 20 items over 5 workers take exactly
//! 4 s of mock time, and the program finishes at once.
//! Run it with `cargo run --example fan_out_fan_in`.

use std::future::Future;
use std::time::Duration;

use pride::sync::WouldBlock;
use pride::time::Clock;
use pride::{BoxError, GroupError, Queue, current_time, sleep};

/// What one input became.
#[derive(Debug)]
enum Outcome<I, O> {
    Done(O),
    Failed { error: String, input: I },
}

async fn fan_out_fan_in<I, O, F, Fut>(
    inputs: Vec<I>,
    worker_func: F,
    num_workers: usize,
) -> Result<Vec<Outcome<I, O>>, GroupError>
where
    I: Clone + Send + 'static,
    O: Send + 'static,
    F: Fn(I) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<O, BoxError>> + Send,
{
    let count = inputs.len();
    // Queues for coordination.
    let input_queue = Queue::with_maxsize(count.max(1));
    let result_queue = Queue::with_maxsize(count.max(1));

    // Populate the input queue, then close it: no more input will come.
    for item in inputs {
        input_queue
            .put_nowait(item)
            .unwrap_or_else(|_| unreachable!("the queue holds every input"));
    }
    input_queue.close();

    // Process with a worker pool.
    pride::task_group(async |tg| {
        for worker_id in 0..num_workers {
            let (inputs, results, work) = (
                input_queue.clone(),
                result_queue.clone(),
                worker_func.clone(),
            );
            tg.start_soon_named(format!("worker-{worker_id}"), async move {
                loop {
                    let item = match inputs.get_nowait() {
                        Ok(item) => item,
                        Err(WouldBlock::Empty | WouldBlock::Closed(())) => break, // no more work
                        Err(WouldBlock::Full(())) => unreachable!("a get never finds it full"),
                    };
                    let outcome = match work(item.clone()).await {
                        Ok(result) => Outcome::Done(result),
                        Err(e) => Outcome::Failed {
                            error: e.to_string(),
                            input: item,
                        },
                    };
                    // Never waits: the result queue has room for every input.
                    results
                        .put(outcome)
                        .await
                        .map_err(|_| "the result queue was closed")?;
                }
                Ok::<_, BoxError>(())
            });
        }
    })
    .await?;

    // Collect the results.
    let mut results = Vec::with_capacity(count);
    while let Ok(outcome) = result_queue.get_nowait() {
        results.push(outcome);
    }
    Ok(results)
}

async fn expensive_operation(x: i64) -> Result<i64, BoxError> {
    sleep(Duration::from_secs(1)).await;
    if x == 13 {
        return Err("unlucky input".into());
    }
    Ok(x * 2)
}

fn main() -> std::io::Result<()> {
    let rt = pride::Runtime::builder().clock(Clock::autojump()).build()?;
    rt.block_on(async {
        let start = current_time();
        let inputs: Vec<i64> = (0..20).collect();
        let results = fan_out_fan_in(inputs, expensive_operation, 5)
            .await
            .expect("workers record failures instead of failing");
        println!(
            "Processed {} items in {:?} of mock time with 5 workers",
            results.len(),
            current_time() - start
        );
        let mut doubled: Vec<i64> = Vec::new();
        for outcome in &results {
            match outcome {
                Outcome::Done(v) => doubled.push(*v),
                Outcome::Failed { error, input } => println!("input {input} failed: {error}"),
            }
        }
        doubled.sort_unstable();
        println!("results: {doubled:?}");
    });
    Ok(())
}
