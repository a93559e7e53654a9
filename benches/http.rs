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
//!   `CONNECTIONS` keep-alive connections (hyper's `client::conn::http1`), then each
//!   connection sends `REQUESTS` GETs one after another and checks each body is
//!   "hello". The clock runs from the first request to the last response.
//!
//! Each server runs `PRIDE_BENCH_SAMPLES` times (default 5), interleaved, after one
//! warm-up each; the table shows requests per second (best and median) and pride/tokio
//! of the medians (above 1.00: pride serves faster).
//!
//! Run: `cargo bench --bench http --features hyper`. `PRIDE_BENCH_WORKERS=n` sets the
//! server worker count (else one per core). Without `--bench` (as `cargo test
//! --benches --features hyper` runs it) each server answers a few requests, as a
//! smoke test.

use std::convert::Infallible;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use hyper::body::{Body, Incoming};
use hyper::{Request, Response};

const CONNECTIONS: usize = 32;
const REQUESTS: usize = 2000;
const LOAD_THREADS: usize = 2;

#[derive(Clone, Copy)]
struct Sizes {
    connections: usize,
    requests: usize,
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

    async fn requests(mut sender: SendRequest<String>, count: usize) -> Result<(), Error> {
        for _ in 0..count {
            let request = Request::get("/")
                .header(hyper::header::HOST, "localhost")
                .body(String::new())?;
            // The connection task must finish the previous exchange first.
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            assert_eq!(response.status(), 200);
            assert_eq!(body_text(response.into_body()).await?, "hello");
        }
        Ok(())
    }

    /// Opens the connections, then times `sizes.total()` requests over them.
    pub async fn run(addr: SocketAddr, sizes: Sizes) -> Duration {
        let mut senders = Vec::new();
        let mut connections = tokio::task::JoinSet::new();
        for _ in 0..sizes.connections {
            let stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (sender, connection) = handshake::<_, String>(TokioIo::new(stream)).await.unwrap();
            connections.spawn(connection);
            senders.push(sender);
        }
        let start = Instant::now();
        let mut clients = tokio::task::JoinSet::new();
        for sender in senders {
            clients.spawn(requests(sender, sizes.requests));
        }
        while let Some(done) = clients.join_next().await {
            done.unwrap().unwrap();
        }
        let elapsed = start.elapsed();
        // The senders are gone: each connection closes and its task ends.
        while let Some(done) = connections.join_next().await {
            done.unwrap().unwrap();
        }
        elapsed
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

    pub fn serve(rt: &pride::Runtime, load: &tokio::runtime::Runtime, sizes: Sizes) -> Duration {
        serve_on(rt, load, sizes, false)
    }

    pub fn serve_with_serve(
        rt: &pride::Runtime,
        load: &tokio::runtime::Runtime,
        sizes: Sizes,
    ) -> Duration {
        serve_on(rt, load, sizes, true)
    }

    fn serve_on(
        rt: &pride::Runtime,
        load: &tokio::runtime::Runtime,
        sizes: Sizes,
        with_serve: bool,
    ) -> Duration {
        rt.block_on(async {
            let mut elapsed = Duration::ZERO;
            task_group(async |tg| {
                let addr = if with_serve {
                    tg.start(serve_server).await?
                } else {
                    tg.start(server).await?
                };
                elapsed = load.spawn(load::run(addr, sizes)).await?;
                tg.cancel_scope().cancel();
                Ok::<_, BoxError>(())
            })
            .await
            .unwrap();
            elapsed
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
    ) -> Duration {
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
            let elapsed = load.spawn(load::run(addr, sizes)).await.unwrap();
            server.abort();
            elapsed
        })
    }
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_unstable_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let timed = std::env::args().any(|arg| arg == "--bench");
    let workers = settings::worker_count();
    let samples = if timed {
        settings::fixed_samples().unwrap_or(5)
    } else {
        1
    };
    let sizes = if timed {
        Sizes {
            connections: CONNECTIONS,
            requests: REQUESTS,
        }
    } else {
        Sizes {
            connections: 2,
            requests: 5,
        }
    };
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
        .worker_threads(LOAD_THREADS)
        .thread_name("load")
        .enable_all()
        .build()
        .unwrap();

    type Server = fn(&pride::Runtime, &tokio::runtime::Runtime, Sizes) -> Duration;
    let rows: [(&str, Server); 2] = [
        ("accept loop", on_pride::serve),
        ("serve", on_pride::serve_with_serve),
    ];
    println!(
        "HTTP/1.1 hello over loopback, {workers} server workers, load generator on \
         {LOAD_THREADS} tokio threads, {samples} samples; requests/second"
    );
    println!(
        "{:<24} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "workload", "pride best", "pride med", "tokio best", "tokio med", "pride/tokio"
    );
    for (variant, pride_serve) in rows {
        if timed {
            // Warm up both servers (and the loopback path) once.
            pride_serve(&pride_rt, &load_rt, sizes);
            on_tokio::serve(&tokio_rt, &load_rt, sizes);
        }
        let rate = |elapsed: Duration| sizes.total() as f64 / elapsed.as_secs_f64();
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
            format!("hello_{}x{} {variant}", sizes.connections, sizes.requests),
            pride_best,
            pride_med,
            tokio_best,
            tokio_med,
            pride_med / tokio_med
        );
    }
}
