//! HTTP/1.1 "hello" under load over loopback: hyper on pride against hyper on tokio,
//! with the same worker count, in one run.
//!
//! - server A: hyper's `server::conn::http1` on pride (a pride `TcpListener`, one child
//!   task per connection in a task group, through `pride::compat::hyper`);
//! - server B: the same hyper service on a tokio multi-thread runtime (a tokio
//!   `TcpListener`, `tokio::spawn` per connection, `hyper_util::rt::TokioIo`);
//! - server A `serve`: server A written with `pride::net::serve` (an isolated child per
//!   connection) instead of its hand-written accept loop;
//! - the load generator: its own tokio runtime with `LOAD_THREADS` threads, the same
//!   for both servers, so the servers are measured and not the clients. It opens
//!   keep-alive connections (hyper's `client::conn::http1`), then each connection sends
//!   its share of the requests one after another and checks each body is "hello". The
//!   clock runs from the first request to the last response. Throughput rows: 32
//!   connections × 2,000 requests, and 256 connections × 250 (the same total).
//!
//! Each server runs `PRIDE_BENCH_SAMPLES` times (default 5), interleaved, after one
//! warm-up each; the table shows requests per second (best and median) and pride/tokio
//! of the medians (above 1.00: pride serves faster).
//!
//! A second table gives request latency at a fixed offered load (`PRIDE_BENCH_RATE`
//! requests per second in all, default 20,000, spread over the connections): each
//! connection sends on a fixed schedule, and a request's latency runs from the time it
//! was due (not from when it could be sent, so a slow server cannot hide its queueing)
//! to the end of its response. p50, p99 and p99.9 over every sample's requests.
//! `PRIDE_BENCH_LOAD_THREADS` sets the load generator's threads (default 2).
//!
//! Run: `cargo bench -p pride-benches --bench http`, or `.. --bench http -- hello`
//! (only the rows, or the `latency` table, whose name contains one of the words).
//! `PRIDE_BENCH_WORKERS=n` sets the server worker count (else one per core). Without
//! `--bench` (as `cargo test --benches` runs it) each server answers a few requests, as
//! a smoke test.

use std::convert::Infallible;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use hyper::body::{Body, Incoming};
use hyper::{Request, Response};

/// Throughput rows: connections, and requests each connection sends.
const THROUGHPUT: [(usize, usize); 2] = [(32, 2000), (256, 250)];
/// Connections of the latency rows.
const PACED_CONNECTIONS: usize = 32;
const LOAD_THREADS: usize = 2;
/// Requests each connection sends in a latency sample.
const PACED_REQUESTS: usize = 500;
const DEFAULT_RATE: usize = 20_000;

#[derive(Clone, Copy)]
struct Sizes {
    connections: usize,
    requests: usize,
    /// Offered load in requests per second over all connections, for a latency run;
    /// `None` sends as fast as the server answers.
    rate: Option<usize>,
}

/// What one run of the load generator measured.
struct Outcome {
    elapsed: Duration,
    /// Per request, from when it was due to its response's end (latency runs only).
    latencies: Vec<Duration>,
}

impl Sizes {
    fn total(self) -> usize {
        self.connections * self.requests
    }
}

/// The service both servers run.
async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("hello".to_owned()))
}

mod settings;

/// The load generator, the same for both servers; runs on its own tokio runtime.
mod load {
    use super::*;
    use hyper::client::conn::http1::{SendRequest, handshake};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpStream;

    type Error = Box<dyn std::error::Error + Send + Sync>;

    async fn body_text(mut body: Incoming) -> Result<String, Error> {
        let mut bytes = Vec::new();
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            if let Ok(data) = frame?.into_data() {
                bytes.extend_from_slice(&data);
            }
        }
        Ok(String::from_utf8(bytes)?)
    }

    /// Sends `count` requests one after another; with `every`, the i-th is due at
    /// `start + i * every` and its latency (from then) is recorded.
    async fn requests(
        mut sender: SendRequest<String>,
        count: usize,
        every: Option<Duration>,
    ) -> Result<Vec<Duration>, Error> {
        let start = Instant::now();
        let mut latencies = Vec::new();
        for i in 0..count {
            let due = every.map(|every| start + every * i as u32);
            if let Some(due) = due {
                tokio::time::sleep_until(due.into()).await;
            }
            let request = Request::get("/")
                .header(hyper::header::HOST, "localhost")
                .body(String::new())?;
            // The connection task must finish the previous exchange first.
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            assert_eq!(response.status(), 200);
            assert_eq!(body_text(response.into_body()).await?, "hello");
            if let Some(due) = due {
                latencies.push(due.elapsed());
            }
        }
        Ok(latencies)
    }

    /// Opens the connections, then times `sizes.total()` requests over them.
    pub async fn run(addr: SocketAddr, sizes: Sizes) -> Outcome {
        let mut senders = Vec::new();
        let mut connections = tokio::task::JoinSet::new();
        for _ in 0..sizes.connections {
            let stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (sender, connection) = handshake::<_, String>(TokioIo::new(stream)).await.unwrap();
            connections.spawn(connection);
            senders.push(sender);
        }
        let every = sizes
            .rate
            .map(|rate| Duration::from_secs_f64(sizes.connections as f64 / rate as f64));
        let start = Instant::now();
        let mut clients = tokio::task::JoinSet::new();
        for (i, sender) in senders.into_iter().enumerate() {
            // Spread the connections' schedules over one period.
            let offset = every.map_or(Duration::ZERO, |every| {
                every * i as u32 / sizes.connections as u32
            });
            clients.spawn(async move {
                tokio::time::sleep(offset).await;
                requests(sender, sizes.requests, every).await
            });
        }
        let mut latencies = Vec::new();
        while let Some(done) = clients.join_next().await {
            latencies.extend(done.unwrap().unwrap());
        }
        let elapsed = start.elapsed();
        // The senders are gone: each connection closes and its task ends.
        while let Some(done) = connections.join_next().await {
            done.unwrap().unwrap();
        }
        Outcome { elapsed, latencies }
    }
}

mod on_pride {
    use super::*;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use pride::compat::hyper::{HyperIo, Timer};
    use pride::net::TcpListener;
    use pride::{BoxError, TaskStatus, task_group};

    async fn server(status: TaskStatus<SocketAddr>) -> Result<(), BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        status.started(listener.local_addr()?);
        task_group(async |connections| {
            loop {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                connections.start_soon(async move {
                    http1::Builder::new()
                        .timer(Timer)
                        .serve_connection(HyperIo::new(stream), service_fn(hello))
                        .await
                });
            }
            #[allow(unreachable_code)]
            Ok::<_, std::io::Error>(())
        })
        .await?;
        Ok(())
    }

    /// Server A through `pride::net::serve`.
    async fn serve_server(status: TaskStatus<SocketAddr>) -> Result<(), BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        status.started(listener.local_addr()?);
        pride::net::serve(listener, |stream: pride::net::TcpStream, _| async move {
            stream.set_nodelay(true)?;
            http1::Builder::new()
                .timer(Timer)
                .serve_connection(HyperIo::new(stream), service_fn(hello))
                .await?;
            Ok::<_, BoxError>(())
        })
        .await?;
        Ok(())
    }

    pub fn serve(rt: &pride::Runtime, load: &tokio::runtime::Runtime, sizes: Sizes) -> Outcome {
        serve_on(rt, load, sizes, false)
    }

    pub fn serve_with_serve(
        rt: &pride::Runtime,
        load: &tokio::runtime::Runtime,
        sizes: Sizes,
    ) -> Outcome {
        serve_on(rt, load, sizes, true)
    }

    fn serve_on(
        rt: &pride::Runtime,
        load: &tokio::runtime::Runtime,
        sizes: Sizes,
        with_serve: bool,
    ) -> Outcome {
        rt.block_on(async {
            let mut outcome = None;
            task_group(async |tg| {
                let addr = if with_serve {
                    tg.start(serve_server).await?
                } else {
                    tg.start(server).await?
                };
                outcome = Some(load.spawn(load::run(addr, sizes)).await?);
                tg.cancel_scope().cancel();
                Ok::<_, BoxError>(())
            })
            .await
            .unwrap();
            outcome.unwrap()
        })
    }
}

mod on_tokio {
    use super::*;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tokio::net::TcpListener;

    pub fn serve(
        rt: &tokio::runtime::Runtime,
        load: &tokio::runtime::Runtime,
        sizes: Sizes,
    ) -> Outcome {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    tokio::spawn(async move {
                        http1::Builder::new()
                            .timer(TokioTimer::new())
                            .serve_connection(TokioIo::new(stream), service_fn(hello))
                            .await
                            .unwrap();
                    });
                }
            });
            let outcome = load.spawn(load::run(addr, sizes)).await.unwrap();
            server.abort();
            outcome
        })
    }
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_unstable_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let timed = std::env::args().any(|arg| arg == "--bench");
    let filters = settings::Filters::from_args();
    let workers = settings::worker_count();
    let samples = if timed {
        settings::fixed_samples().unwrap_or(5)
    } else {
        1
    };
    let throughput: Vec<Sizes> = if timed {
        THROUGHPUT
            .iter()
            .map(|&(connections, requests)| Sizes {
                connections,
                requests,
                rate: None,
            })
            .collect()
    } else {
        vec![Sizes {
            connections: 2,
            requests: 5,
            rate: None,
        }]
    };
    let paced = Sizes {
        connections: if timed { PACED_CONNECTIONS } else { 2 },
        requests: if timed { PACED_REQUESTS } else { 5 },
        rate: Some(settings::positive("PRIDE_BENCH_RATE").unwrap_or(DEFAULT_RATE)),
    };
    let load_threads = settings::positive("PRIDE_BENCH_LOAD_THREADS").unwrap_or(LOAD_THREADS);
    let pride_rt = pride::Runtime::builder()
        .worker_threads(workers)
        .build()
        .unwrap();
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(load_threads)
        .thread_name("load")
        .enable_all()
        .build()
        .unwrap();

    type Server = fn(&pride::Runtime, &tokio::runtime::Runtime, Sizes) -> Outcome;
    let rows: [(&str, Server); 2] = [
        ("accept loop", on_pride::serve),
        ("serve", on_pride::serve_with_serve),
    ];
    println!(
        "HTTP/1.1 hello over loopback, {workers} server workers, load generator on \
         {load_threads} tokio threads, {samples} samples; requests/second"
    );
    println!(
        "{:<24} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "workload", "pride best", "pride med", "tokio best", "tokio med", "pride/tokio"
    );
    for (&sizes, &(variant, pride_serve)) in throughput
        .iter()
        .flat_map(|sizes| rows.iter().map(move |row| (sizes, row)))
    {
        let name = format!("hello_{}x{} {variant}", sizes.connections, sizes.requests);
        if !filters.selected(&name) {
            continue;
        }
        if timed {
            // Warm up both servers (and the loopback path) once.
            pride_serve(&pride_rt, &load_rt, sizes);
            on_tokio::serve(&tokio_rt, &load_rt, sizes);
        }
        let rate = |outcome: Outcome| sizes.total() as f64 / outcome.elapsed.as_secs_f64();
        let mut pride_rates = Vec::new();
        let mut tokio_rates = Vec::new();
        for round in 0..samples {
            if round % 2 == 0 {
                pride_rates.push(rate(pride_serve(&pride_rt, &load_rt, sizes)));
                tokio_rates.push(rate(on_tokio::serve(&tokio_rt, &load_rt, sizes)));
            } else {
                tokio_rates.push(rate(on_tokio::serve(&tokio_rt, &load_rt, sizes)));
                pride_rates.push(rate(pride_serve(&pride_rt, &load_rt, sizes)));
            }
        }
        let best = |rates: &[f64]| rates.iter().copied().fold(0.0, f64::max);
        let (pride_best, tokio_best) = (best(&pride_rates), best(&tokio_rates));
        let (pride_med, tokio_med) = (median(&mut pride_rates), median(&mut tokio_rates));
        println!(
            "{:<24} {:>12.0} {:>12.0} {:>12.0} {:>12.0} {:>12.2}",
            name,
            pride_best,
            pride_med,
            tokio_best,
            tokio_med,
            pride_med / tokio_med
        );
    }

    if !filters.selected("latency") {
        return;
    }
    let offered = paced.rate.unwrap_or(0);
    println!(
        "\nlatency at {offered} requests/second offered over {} connections, {samples} \
         samples of {} requests",
        paced.connections,
        paced.total()
    );
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "server", "p50", "p99", "p99.9", "max", "achieved", "vs tokio p99"
    );
    let mut tokio_p99 = None;
    let servers: [(String, &dyn Fn(Sizes) -> Outcome); 3] = [
        ("tokio".to_owned(), &|sizes| {
            on_tokio::serve(&tokio_rt, &load_rt, sizes)
        }),
        (format!("pride {}", rows[0].0), &|sizes| {
            rows[0].1(&pride_rt, &load_rt, sizes)
        }),
        (format!("pride {}", rows[1].0), &|sizes| {
            rows[1].1(&pride_rt, &load_rt, sizes)
        }),
    ];
    for (name, run) in servers {
        if timed {
            run(paced);
        }
        let mut latencies = Vec::new();
        let mut elapsed = Duration::ZERO;
        for _ in 0..samples {
            let outcome = run(paced);
            elapsed += outcome.elapsed;
            latencies.extend(outcome.latencies);
        }
        latencies.sort_unstable();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        let p99 = at(0.99);
        let versus = match tokio_p99 {
            None => {
                tokio_p99 = Some(p99);
                "-".to_owned()
            }
            Some(base) => format!("{:.2}", p99.as_secs_f64() / Duration::as_secs_f64(&base)),
        };
        println!(
            "{:<24} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.0} {:>10}",
            name,
            at(0.5),
            p99,
            at(0.999),
            latencies[latencies.len() - 1],
            latencies.len() as f64 / elapsed.as_secs_f64(),
            versus
        );
    }
}
