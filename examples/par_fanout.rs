//! CPU fan-out from inside an async service: `pride::par` on the runtime's own workers.
//!
//! A "thumbnail service" handles requests in tasks. Each request blurs an image row by
//! row with `par::try_map_range` (borrowing the image, no copies into `Arc`s), sorts
//! its pixels with a parallel quicksort built on `par::join`, and must finish within
//! its deadline: the last request gets too little time, and `try_map_range` stops at
//! the next row, which `fail_after` reports as its timeout. Meanwhile a heartbeat task
//! keeps ticking: a busy fan-out does not hold back the timers of other tasks.
//!
//! Run: `cargo run --release --example par_fanout`

use std::time::{Duration, Instant};

use pride::par;

const WIDTH: usize = 1024;

/// A grey image, one byte per pixel.
fn image(height: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..WIDTH * height)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A 3x3 box blur of row `y`.
fn blur_row(img: &[u8], height: usize, y: usize) -> Vec<u8> {
    (0..WIDTH)
        .map(|x| {
            let mut sum = 0u32;
            let mut n = 0u32;
            for yy in y.saturating_sub(1)..(y + 2).min(height) {
                for xx in x.saturating_sub(1)..(x + 2).min(WIDTH) {
                    sum += u32::from(img[yy * WIDTH + xx]);
                    n += 1;
                }
            }
            (sum / n) as u8
        })
        .collect()
}

/// Quicksort with both halves sorted in parallel.
fn quicksort<T: Ord + Send>(v: &mut [T]) {
    if v.len() <= 2048 {
        v.sort_unstable();
        return;
    }
    let mid = partition(v);
    let (left, right) = v.split_at_mut(mid);
    par::join(|| quicksort(left), || quicksort(&mut right[1..]));
}

fn partition<T: Ord>(v: &mut [T]) -> usize {
    let last = v.len() - 1;
    v.swap(v.len() / 2, last);
    let mut store = 0;
    for i in 0..last {
        if v[i] <= v[last] {
            v.swap(i, store);
            store += 1;
        }
    }
    v.swap(store, last);
    store
}

async fn handle(id: u32, height: usize, budget: Duration) -> Result<(), pride::BoxError> {
    let img = image(height, u64::from(id) + 1);
    let start = Instant::now();
    let outcome = pride::fail_after(budget, async {
        // Each row is an item: a cancelled deadline stops at the next row.
        let rows = par::try_map_range(0..height, |y| {
            Ok::<_, pride::BoxError>(blur_row(&img, height, y))
        })?;
        // Distinct keys (grey level, then position), so the partitions stay balanced.
        let mut pixels: Vec<u64> = rows
            .concat()
            .into_iter()
            .enumerate()
            .map(|(i, grey)| (u64::from(grey) << 32) | i as u64)
            .collect();
        quicksort(&mut pixels);
        Ok::<_, pride::GroupError>(pixels[pixels.len() / 2] >> 32)
    })
    .await;
    match outcome {
        Ok(Ok(median)) => println!(
            "request {id}: {WIDTH}x{height} blurred and sorted in {:?}, median grey {median}",
            start.elapsed()
        ),
        Ok(Err(e)) => return Err(e.into()),
        Err(timeout) => println!(
            "request {id}: {timeout} ({budget:?}), stopped after {:?}",
            start.elapsed()
        ),
    }
    Ok(())
}

fn main() {
    pride::run(async {
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let result = pride::task_group(async |tg| {
            let counted = ticks.clone();
            let heartbeat = tg.clone();
            heartbeat.start_soon(async move {
                let mut interval = pride::interval(Duration::from_millis(20));
                // Until the group is cancelled.
                for _ in 0u64.. {
                    interval.tick().await;
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
            tg.start_soon(async move {
                handle(1, 2048, Duration::from_secs(30)).await?;
                handle(2, 4096, Duration::from_secs(30)).await?;
                handle(3, 16384, Duration::from_millis(30)).await?;
                heartbeat.cancel_scope().cancel();
                Ok::<_, pride::BoxError>(())
            });
        })
        .await;
        println!(
            "heartbeat ticked {} times while the requests ran",
            ticks.load(std::sync::atomic::Ordering::Relaxed)
        );
        result.expect("the service failed");
    });
}
