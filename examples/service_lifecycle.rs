//! A service with an HTTP server, a background worker and a health monitor, started
//! in order and shut down by an `Event`.
//!
//! `TaskGroup::start` runs the server until it reports its URL with
//! `status.started(url)`; only then are the worker and the monitor started. The service
//! runs until `shutdown` is set, and every component then leaves its loop.
//!
//! The HTTP server is simulated (`examples/http_server.rs` serves real HTTP): "binding"
//! is a short sleep and "handling requests" is a 100 ms tick that counts requests. The
//! service runs for 60 s, the worker ticks every second and the monitor every 5 s, on
//! `Clock::autojump()`, so the program finishes at once and prints exact mock times.
//! Run it with `cargo run --example service_lifecycle`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pride::time::Clock;
use pride::{BoxError, Event, TaskStatus, current_time, sleep};

struct Service {
    shutdown: Event,
    ready: Event,
    epoch: Instant,
    requests: AtomicU64,
    jobs: AtomicU64,
    health_checks: AtomicU64,
}

impl Service {
    fn new() -> Arc<Service> {
        Arc::new(Service {
            shutdown: Event::new(),
            ready: Event::new(),
            epoch: current_time(),
            requests: AtomicU64::new(0),
            jobs: AtomicU64::new(0),
            health_checks: AtomicU64::new(0),
        })
    }

    fn log(&self, what: &str) {
        println!("[{:>6.1?}] {what}", current_time() - self.epoch);
    }

    /// HTTP server component (simulated).
    async fn run_http_server(self: Arc<Self>, port: u16, task_status: TaskStatus<String>) {
        sleep(Duration::from_millis(20)).await; // bind and listen
        let url = format!("http://localhost:{port}");

        // Signal ready with the URL.
        task_status.started(url);
        self.ready.set();

        // Run until shutdown.
        while !self.shutdown.is_set() {
            self.requests.fetch_add(1, Ordering::Relaxed); // handle_requests
            sleep(Duration::from_millis(100)).await;
        }
        self.log("http: closed");
    }

    /// Background processing component.
    async fn run_background_worker(self: Arc<Self>) {
        self.ready.wait().await;
        while !self.shutdown.is_set() {
            self.jobs.fetch_add(1, Ordering::Relaxed); // process_background_jobs
            sleep(Duration::from_secs(1)).await;
        }
        self.log("worker: stopped");
    }

    /// Health check component.
    async fn run_health_monitor(self: Arc<Self>) {
        self.ready.wait().await;
        while !self.shutdown.is_set() {
            self.health_checks.fetch_add(1, Ordering::Relaxed); // check_health
            sleep(Duration::from_secs(5)).await;
        }
        self.log("health: stopped");
    }

    /// Starts every component and runs until `shutdown` is set.
    async fn start(self: Arc<Self>) {
        let result = pride::task_group(async |tg| {
            // Wait for the HTTP server to be ready.
            let server = self.clone();
            let url = tg
                .start_named("http", |status| server.run_http_server(8000, status))
                .await?;
            self.log(&format!("HTTP server ready at {url}"));

            // Start the other components.
            tg.start_soon_named("worker", self.clone().run_background_worker());
            tg.start_soon_named("health", self.clone().run_health_monitor());

            // Run until the shutdown signal.
            self.shutdown.wait().await;
            self.log("shutdown requested");
            Ok::<_, BoxError>(())
        })
        .await;
        if let Err(e) = result {
            self.log(&format!("Service failed: {e}"));
        }
        self.log("Service stopped");
    }
}

fn main() -> std::io::Result<()> {
    let rt = pride::Runtime::builder().clock(Clock::autojump()).build()?;
    rt.block_on(async {
        let service = Service::new();
        pride::task_group(async |tg| {
            // The service runs as a sibling of the code that stops it.
            tg.start_soon_named("service", service.clone().start());

            // Run for a while, then trigger shutdown. The group waits for a clean stop.
            sleep(Duration::from_secs(60)).await;
            service.shutdown.set();
        })
        .await
        .expect("the service group never fails");
        println!(
            "served {} request ticks, ran {} jobs and {} health checks",
            service.requests.load(Ordering::Relaxed),
            service.jobs.load(Ordering::Relaxed),
            service.health_checks.load(Ordering::Relaxed),
        );
    });
    Ok(())
}
