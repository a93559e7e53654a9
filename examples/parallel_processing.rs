//! Parallel data processing in named chunks.
//!
//! 1000 items are split into chunks of 100; each chunk is a named child of one group,
//! and the results are sorted by chunk id afterwards (children finish in any order).
//! `expensive_computation` is a little CPU work with a yield point, so the chunks
//! interleave across the worker threads.
//!
//! System clock, no sleeps: runs in milliseconds.
//! Run it with `cargo run --example parallel_processing`.

use std::sync::{Arc, Mutex};

use pride::{BoxError, yield_now};

#[derive(Debug)]
struct ChunkResult {
    chunk_id: usize,
    items: Vec<u64>,
}

async fn expensive_computation(item: u64) -> u64 {
    // A sum of squares up to `item`: real work, then a yield point.
    let value = (0..=item).map(|k| k * k).sum();
    yield_now().await;
    value
}

async fn process_chunk(chunk_id: usize, data: Vec<u64>) -> ChunkResult {
    let mut result = ChunkResult {
        chunk_id,
        items: Vec::with_capacity(data.len()),
    };
    for item in data {
        result.items.push(expensive_computation(item).await);
    }
    result
}

async fn parallel_process(data: Vec<u64>, chunk_size: usize) -> Result<Vec<ChunkResult>, BoxError> {
    let results = Arc::new(Mutex::new(Vec::new()));
    pride::task_group(async |tg| {
        for (chunk_id, chunk) in data.chunks(chunk_size).enumerate() {
            let (results, chunk) = (results.clone(), chunk.to_vec());
            tg.start_soon_named(format!("chunk-{chunk_id}"), async move {
                let result = process_chunk(chunk_id, chunk).await;
                results.lock().unwrap().push(result);
            });
        }
    })
    .await?;
    let mut results = std::mem::take(&mut *results.lock().unwrap());
    let finish_order: Vec<usize> = results.iter().map(|r| r.chunk_id).collect();
    println!("chunks finished in the order {finish_order:?}");
    // Sort by chunk id to restore the input order.
    results.sort_by_key(|r| r.chunk_id);
    Ok(results)
}

fn main() -> Result<(), BoxError> {
    let data: Vec<u64> = (0..1000).collect();
    let results = pride::run(parallel_process(data, 100))?;
    for r in &results {
        println!(
            "chunk-{}: {} items, first {}, last {}",
            r.chunk_id,
            r.items.len(),
            r.items[0],
            r.items[r.items.len() - 1]
        );
    }
    let total: usize = results.iter().map(|r| r.items.len()).sum();
    assert_eq!(total, 1000);
    println!("processed {total} items in {} chunks", results.len());
    Ok(())
}
