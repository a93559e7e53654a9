//! TCP echo over loopback, pride against tokio, with the same worker count, in one run.
//!
//! - `echo_64x1000`: 64 connections, each doing 1,000 round trips of 64 bytes to an
//!   echo server (all connections at once).
//! - `stream_256MiB`: one connection streams 256 MiB to an echo server in 64 KiB
//!   writes while the client reads the echo back on a second task.
//!
//! Rows ending in `serve` run the same work against a pride server written with
//! `pride::net::serve` (isolated child per connection) instead of the hand-written
//! accept loop; the tokio side is the same in both rows.
//!
//! Each cell runs `PRIDE_BENCH_SAMPLES` times (default 5), runtimes interleaved; the
//! table shows the best and median wall time and pride/tokio of the medians (below
//! 1.00: pride faster).
//!
//! Run: `cargo bench -p pride-benches --bench net`, or `.. --bench net -- echo` (rows
//! whose name contains one of the words). `PRIDE_BENCH_WORKERS=n` sets the worker count
//! (else one per core). Without `--bench` (as `cargo test --benches` runs it) each cell
//! runs once on a small size, as a smoke test.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 64;
const ROUND_TRIPS: usize = 1000;
const MESSAGE: usize = 64;
const STREAM_BYTES: usize = 256 << 20;
const CHUNK: usize = 64 << 10;

struct Sizes {
    connections: usize,
    round_trips: usize,
    stream_bytes: usize,
}

mod settings;

mod on_pride {
    use super::*;
    use futures_util::AsyncReadExt;
    use pride::net::{TcpListener, TcpStream};
    use pride::{BoxError, TaskStatus, task_group};

    async fn echo_server(status: TaskStatus<SocketAddr>) -> Result<(), BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        status.started(listener.local_addr()?);
        task_group(async |tg| {
            loop {
                let (socket, _) = listener.accept().await?;
                socket.set_nodelay(true)?;
                tg.start_soon(async move {
                    let mut buf = vec![0; CHUNK];
                    loop {
                        let n = socket.read(&mut buf).await?;
                        if n == 0 {
                            return Ok::<_, std::io::Error>(());
                        }
                        socket.write_all(&buf[..n]).await?;
                    }
                });
            }
            #[allow(unreachable_code)]
            Ok::<_, std::io::Error>(())
        })
        .await?;
        Ok(())
    }

    /// The same echo server through `pride::net::serve`.
    async fn serve_server(status: TaskStatus<SocketAddr>) -> Result<(), BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        status.started(listener.local_addr()?);
        pride::net::serve(listener, |socket: TcpStream, _| async move {
            socket.set_nodelay(true)?;
            let mut buf = vec![0; CHUNK];
            loop {
                let n = socket.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>(());
                }
                socket.write_all(&buf[..n]).await?;
            }
        })
        .await?;
        Ok(())
    }

    async fn start_server(tg: &pride::TaskGroup, serve: bool) -> Result<SocketAddr, BoxError> {
        Ok(if serve {
            tg.start(serve_server).await?
        } else {
            tg.start(echo_server).await?
        })
    }

    pub fn echo(rt: &pride::Runtime, sizes: &Sizes) -> Duration {
        echo_on(rt, sizes, false)
    }

    pub fn echo_serve(rt: &pride::Runtime, sizes: &Sizes) -> Duration {
        echo_on(rt, sizes, true)
    }

    pub fn stream(rt: &pride::Runtime, sizes: &Sizes) -> Duration {
        stream_on(rt, sizes, false)
    }

    pub fn stream_serve(rt: &pride::Runtime, sizes: &Sizes) -> Duration {
        stream_on(rt, sizes, true)
    }

    fn echo_on(rt: &pride::Runtime, sizes: &Sizes, serve: bool) -> Duration {
        rt.block_on(async {
            let mut elapsed = Duration::ZERO;
            task_group(async |tg| {
                let addr = start_server(&tg, serve).await?;
                let start = Instant::now();
                task_group(async |clients| {
                    for _ in 0..sizes.connections {
                        let round_trips = sizes.round_trips;
                        clients.start_soon(async move {
                            let mut stream = TcpStream::connect(addr).await?;
                            stream.set_nodelay(true)?;
                            let msg = [7u8; MESSAGE];
                            let mut back = [0u8; MESSAGE];
                            for _ in 0..round_trips {
                                stream.write_all(&msg).await?;
                                stream.read_exact(&mut back).await?;
                            }
                            Ok::<_, std::io::Error>(())
                        });
                    }
                })
                .await?;
                elapsed = start.elapsed();
                tg.cancel_scope().cancel();
                Ok::<_, BoxError>(())
            })
            .await
            .unwrap();
            elapsed
        })
    }

    fn stream_on(rt: &pride::Runtime, sizes: &Sizes, serve: bool) -> Duration {
        rt.block_on(async {
            let mut elapsed = Duration::ZERO;
            task_group(async |tg| {
                let addr = start_server(&tg, serve).await?;
                let start = Instant::now();
                let (reader, writer) = TcpStream::connect(addr).await?.into_split();
                let total = sizes.stream_bytes;
                task_group(async |halves| {
                    halves.start_soon(async move {
                        let chunk = vec![1u8; CHUNK];
                        let mut sent = 0;
                        while sent < total {
                            let n = CHUNK.min(total - sent);
                            writer.write_all(&chunk[..n]).await?;
                            sent += n;
                        }
                        Ok::<_, std::io::Error>(())
                    });
                    let mut buf = vec![0u8; CHUNK];
                    let mut received = 0;
                    while received < total {
                        let n = reader.read(&mut buf).await?;
                        assert!(n > 0, "the echo ended early");
                        received += n;
                    }
                    Ok::<_, std::io::Error>(())
                })
                .await?;
                elapsed = start.elapsed();
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    async fn echo_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                socket.set_nodelay(true).unwrap();
                connections.spawn(async move {
                    let mut buf = vec![0; CHUNK];
                    loop {
                        let n = socket.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        socket.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
        });
        (addr, server)
    }

    pub fn echo(rt: &tokio::runtime::Runtime, sizes: &Sizes) -> Duration {
        rt.block_on(async {
            let (addr, server) = echo_server().await;
            let start = Instant::now();
            let mut clients = tokio::task::JoinSet::new();
            for _ in 0..sizes.connections {
                let round_trips = sizes.round_trips;
                clients.spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream.set_nodelay(true).unwrap();
                    let msg = [7u8; MESSAGE];
                    let mut back = [0u8; MESSAGE];
                    for _ in 0..round_trips {
                        stream.write_all(&msg).await.unwrap();
                        stream.read_exact(&mut back).await.unwrap();
                    }
                });
            }
            while let Some(done) = clients.join_next().await {
                done.unwrap();
            }
            let elapsed = start.elapsed();
            server.abort();
            elapsed
        })
    }

    pub fn stream(rt: &tokio::runtime::Runtime, sizes: &Sizes) -> Duration {
        rt.block_on(async {
            let (addr, server) = echo_server().await;
            let start = Instant::now();
            let (mut reader, mut writer) = TcpStream::connect(addr).await.unwrap().into_split();
            let total = sizes.stream_bytes;
            let writing = tokio::spawn(async move {
                let chunk = vec![1u8; CHUNK];
                let mut sent = 0;
                while sent < total {
                    let n = CHUNK.min(total - sent);
                    writer.write_all(&chunk[..n]).await.unwrap();
                    sent += n;
                }
            });
            let mut buf = vec![0u8; CHUNK];
            let mut received = 0;
            while received < total {
                let n = reader.read(&mut buf).await.unwrap();
                assert!(n > 0, "the echo ended early");
                received += n;
            }
            writing.await.unwrap();
            let elapsed = start.elapsed();
            server.abort();
            elapsed
        })
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
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
            round_trips: ROUND_TRIPS,
            stream_bytes: STREAM_BYTES,
        }
    } else {
        Sizes {
            connections: 4,
            round_trips: 10,
            stream_bytes: 1 << 20,
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

    type Cell = (
        &'static str,
        fn(&pride::Runtime, &Sizes) -> Duration,
        fn(&tokio::runtime::Runtime, &Sizes) -> Duration,
    );
    let cells: [Cell; 4] = [
        ("echo_64x1000", on_pride::echo, on_tokio::echo),
        ("echo serve", on_pride::echo_serve, on_tokio::echo),
        ("stream_256MiB", on_pride::stream, on_tokio::stream),
        ("stream serve", on_pride::stream_serve, on_tokio::stream),
    ];
    println!("TCP echo over loopback, {workers} workers, {samples} samples per cell");
    println!(
        "{:<16} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "workload", "pride best", "pride med", "tokio best", "tokio med", "pride/tokio"
    );
    let filters = settings::Filters::from_args();
    for (name, pride_fn, tokio_fn) in cells {
        if !filters.selected(name) {
            continue;
        }
        // Warm up both (and the loopback path) once.
        if timed {
            pride_fn(&pride_rt, &sizes);
            tokio_fn(&tokio_rt, &sizes);
        }
        let mut pride_samples = Vec::new();
        let mut tokio_samples = Vec::new();
        for round in 0..samples {
            if round % 2 == 0 {
                pride_samples.push(pride_fn(&pride_rt, &sizes));
                tokio_samples.push(tokio_fn(&tokio_rt, &sizes));
            } else {
                tokio_samples.push(tokio_fn(&tokio_rt, &sizes));
                pride_samples.push(pride_fn(&pride_rt, &sizes));
            }
        }
        let (pride_med, tokio_med) = (median(&mut pride_samples), median(&mut tokio_samples));
        println!(
            "{:<16} {:>12.2?} {:>12.2?} {:>12.2?} {:>12.2?} {:>12.2}",
            name,
            pride_samples[0],
            pride_med,
            tokio_samples[0],
            tokio_med,
            pride_med.as_secs_f64() / tokio_med.as_secs_f64()
        );
    }
}
