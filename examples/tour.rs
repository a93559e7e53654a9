//! A tour of pride: fan CPU work out over every core, collect results through handles,
//! see every failure of a group reported with its task's name, shut a group down, time
//! out, and serve TCP from a task started with `start`.
//!
//! Run it with `cargo run --release --example tour`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_lite::AsyncReadExt;
use pride::net::{TcpListener, TcpStream};
use pride::{BoxError, TaskGroup};

/// Counts the primes in `lo..hi` by trial division: honest CPU work of uneven size.
fn count_primes(lo: u64, hi: u64) -> u64 {
    (lo.max(2)..hi)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

#[derive(Debug)]
struct BadInput(u32);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input {} is out of range", self.0)
    }
}

impl std::error::Error for BadInput {}

fn main() -> Result<(), BoxError> {
    // At least two workers: part 3 has two tasks wait for each other on two threads.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = pride::Runtime::builder()
        .worker_threads(cores.max(2))
        .build()?;
    println!("pride tour on {} worker threads\n", rt.worker_threads());

    rt.block_on(async {
        // 1. Fan-out: 256 chunks of uneven work, one child each, summed in an atomic.
        const LIMIT: u64 = 2_000_000;
        const CHUNKS: u64 = 256;
        let started = Instant::now();
        let total = Arc::new(AtomicU64::new(0));
        pride::task_group(async |tg| {
            for chunk in 0..CHUNKS {
                let total = total.clone();
                let (lo, hi) = (chunk * LIMIT / CHUNKS, (chunk + 1) * LIMIT / CHUNKS);
                tg.start_soon(async move {
                    total.fetch_add(count_primes(lo, hi), Ordering::Relaxed);
                });
            }
        })
        .await?;
        let parallel = started.elapsed();
        let started = Instant::now();
        let serial_count = count_primes(0, LIMIT);
        let serial = started.elapsed();
        let count = total.load(Ordering::Relaxed);
        assert_eq!(count, serial_count);
        println!("1. fan-out: {count} primes below {LIMIT}");
        println!(
            "   {CHUNKS} tasks in {parallel:.2?}, one thread in {serial:.2?} ({:.1}x)\n",
            serial.as_secs_f64() / parallel.as_secs_f64()
        );

        // 2. Handles: each child's value comes back through its handle, in order.
        let squares = pride::task_group(async |tg| {
            let handles: Vec<_> = (1..=8u64)
                .map(|i| tg.spawn(async move { Ok::<_, BoxError>(i * i) }))
                .collect();
            let mut values = Vec::new();
            for handle in handles {
                values.push(handle.await?);
            }
            Ok::<_, BoxError>(values)
        })
        .await?;
        println!("2. handles: squares {squares:?}\n");

        // 3. Errors: every failure is reported, with its task's name, and the first one
        //    cancels the rest. Both validators here fail before either can be
        //    cancelled (each waits until both have started), so both are reported;
        //    the sleeper is dropped, and cancellation is never an error.
        let started = Arc::new(AtomicU64::new(0));
        let failed = pride::task_group(async |tg: TaskGroup| {
            for i in [1u32, 3] {
                let started = started.clone();
                tg.start_soon_named(format!("validator-{i}"), async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    while started.load(Ordering::SeqCst) < 2 {
                        std::hint::spin_loop();
                    }
                    Err::<(), _>(BadInput(i))
                });
            }
            tg.start_soon_named("sleeper", std::future::pending::<()>());
        })
        .await
        .expect_err("the validators fail");
        println!("3. errors: {failed}");
        let first: &BadInput = failed.find().expect("a BadInput");
        println!("   first BadInput found by type: {first}\n");

        // 4. Shutdown: cancelling the group's scope drops the children that are still
        //    waiting; the body's value survives a deliberate cancel.
        let value = pride::task_group(async |tg| {
            for _ in 0..1000 {
                tg.start_soon(std::future::pending::<()>());
            }
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>("body finished")
        })
        .await?;
        println!("4. shutdown: 1000 pending children cancelled, group returned {value:?}\n");

        // 5. Deadlines: a timeout is a cancel scope whose deadline cancels it by itself.
        let slow = pride::fail_after(
            Duration::from_millis(20),
            pride::sleep(Duration::from_secs(10)),
        );
        let started = Instant::now();
        let timed_out = slow.await.is_err();
        println!(
            "5. deadline: a 10 s sleep under a 20 ms fail_after timed out: {timed_out} ({:.0?})\n",
            started.elapsed()
        );

        // 6. A server started with `start`: it reports its address once it listens,
        //    then serves until the group shuts it down.
        let echoed = pride::task_group(async |tg| {
            let addr = tg
                .start_named("echo-server", |status| async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await?;
                    status.started(listener.local_addr()?);
                    loop {
                        let (conn, _) = listener.accept().await?;
                        let mut buf = [0u8; 64];
                        let n = conn.read(&mut buf).await?;
                        conn.write_all(&buf[..n]).await?;
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), BoxError>(())
                })
                .await?;
            let mut client = TcpStream::connect(addr).await?;
            client.write_all(b"hello, pride").await?;
            let mut reply = vec![0u8; 12];
            client.read_exact(&mut reply).await?;
            tg.cancel_scope().cancel(); // stop the server: a deliberate shutdown
            Ok::<_, BoxError>(String::from_utf8(reply)?)
        })
        .await?;
        println!("6. tcp: the echo server answered {echoed:?}");
        Ok(())
    })
}
