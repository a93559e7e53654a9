//! Seeing inside a running program: the task tree, the runtime's counters, and the
//! report of a task that blocks its worker.
//!
//! A small service runs: a supervisor group with a listener, two connection handlers
//! inside a shielded cleanup scope with a deadline, and a job that wrongly calls
//! `std::thread::sleep`. The program prints the tree and the metrics while it runs, and
//! the watchdog reports the blocking job by name. Each task's line in the tree says how
//! long ago it was last polled and, when known, what it waits for: the listener and each
//! client for the stop event, the `clients` task for its child tasks.
//!
//! Run it with `cargo run --example inspect`. Add `PRIDE_DUMP_ON_SIGQUIT=1` to the
//! environment and press Ctrl-\ (or `kill -QUIT <pid>`) to get the same dump from the
//! outside while it waits at the end.

use std::time::Duration;

use pride::net::{TcpListener, TcpStream};
use pride::{BoxError, CancelScope, Event};

fn main() -> Result<(), BoxError> {
    let rt = pride::Runtime::builder()
        .worker_threads(2)
        .blocked_poll_threshold(Some(Duration::from_millis(50)))
        .on_blocked_worker(|blocked| println!("watchdog: {blocked}\n"))
        .build()?;
    let stop = Event::new();
    rt.block_on(pride::task_group(async |tg| {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let wait = stop.clone();
        tg.start_soon_named("listener", async move {
            let _conns: Vec<_> = vec![listener.accept().await?, listener.accept().await?];
            wait.wait().await;
            Ok::<_, BoxError>(())
        });
        let wait = stop.clone();
        tg.start_soon_named("clients", async move {
            let cleanup = CancelScope::with_timeout(Duration::from_secs(30));
            cleanup.set_shield(true);
            cleanup
                .run(pride::task_group(async |clients| {
                    for i in 0..2 {
                        let wait = wait.clone();
                        clients.start_soon_named(format!("client-{i}"), async move {
                            let _conn = TcpStream::connect(addr).await?;
                            wait.wait().await;
                            Ok::<_, BoxError>(())
                        });
                    }
                }))
                .await;
        });
        tg.start_soon_named("thumbnailer", async {
            // Wrong: a blocking call in async code holds its worker. The watchdog
            // names this task; `pride::to_thread` is the fix.
            std::thread::sleep(Duration::from_millis(200));
        });

        pride::sleep(Duration::from_millis(400)).await;
        println!("{}", pride::debug::dump());
        println!("{:#?}\n", rt.metrics());
        // Set to anything but an empty value or `0`, the variable turns the dump on.
        let asked = std::env::var_os("PRIDE_DUMP_ON_SIGQUIT");
        if asked.is_some_and(|value| !value.is_empty() && value != "0") {
            println!("pid {}: waiting 30 s for SIGQUIT", std::process::id());
            pride::sleep(Duration::from_secs(30)).await;
        }
        stop.set();
        Ok::<_, BoxError>(())
    }))?;
    Ok(())
}
