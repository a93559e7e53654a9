//! `net::serve`: one bad client never takes the server down; limits; graceful drain.

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_lite::AsyncReadExt;
use pride::net::{TcpListener, TcpStream, serve};
use pride::shutdown::Shutdown;
use pride::{Queue, TaskError};

fn runtime() -> pride::Runtime {
    pride::Runtime::builder().worker_threads(2).build().unwrap()
}

/// Echoes 5-byte requests until the client closes.
async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0; 5];
    loop {
        match stream.read_exact(&mut buf).await {
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(()),
            other => other?,
        }
        stream.write_all(&buf).await?;
    }
}

async fn round_trip(addr: std::net::SocketAddr, message: &[u8; 5]) -> std::io::Result<[u8; 5]> {
    let mut client = TcpStream::connect(addr).await?;
    client.write_all(message).await?;
    let mut echoed = [0; 5];
    client.read_exact(&mut echoed).await?;
    Ok(echoed)
}

#[test]
fn a_client_that_resets_mid_request_is_reported_and_the_server_keeps_serving() {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let failures = Queue::<TaskError>::unbounded();
        let shutdown = Shutdown::new();
        let report = failures.clone();
        pride::task_group(async |tg| {
            // The server greets first; a client that closes without reading the
            // greeting makes its kernel answer with a reset.
            let server = serve(listener, |stream: TcpStream, _| async move {
                stream.write_all(b"hi").await?;
                echo(stream).await
            })
            .on_error(move |e| report.put_nowait(e).unwrap())
            .graceful(shutdown.clone(), Duration::from_secs(10));
            tg.start_soon(server);

            let rude = pride::to_thread(move || {
                let mut rude = std::net::TcpStream::connect(addr).unwrap();
                let mut greeting = [0; 2];
                assert_eq!(rude.peek(&mut greeting).unwrap(), 2);
                rude.write_all(b"ab").unwrap(); // half a request, then a reset
                drop(rude);
            });
            rude.await;
            let failure = failures.get().await.unwrap();
            assert!(
                failure.name().unwrap().starts_with("connection 127.0.0.1:"),
                "{failure}"
            );
            let io = failure.downcast_ref::<std::io::Error>().unwrap();
            assert_eq!(io.kind(), ErrorKind::ConnectionReset, "{failure}");

            // The server is still there.
            let mut client = TcpStream::connect(addr).await?;
            let mut greeting = [0; 2];
            client.read_exact(&mut greeting).await?;
            client.write_all(b"hello").await?;
            let mut echoed = [0; 5];
            client.read_exact(&mut echoed).await?;
            assert_eq!(&echoed, b"hello");
            drop(client);
            shutdown.trigger();
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap();
        assert!(
            failures.get_nowait().is_err(),
            "only the rude client failed"
        );
    });
}

#[test]
fn a_panicking_handler_is_reported_and_the_server_keeps_serving() {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let failures = Queue::<TaskError>::unbounded();
        let shutdown = Shutdown::new();
        let report = failures.clone();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        pride::task_group(async |tg| {
            let server = serve(listener, move |stream: TcpStream, _| {
                let nth = count.fetch_add(1, Ordering::SeqCst);
                // A panic before the handler's future even exists is caught too.
                assert!(nth != 1, "handler bug on the second connection");
                async move {
                    if nth == 0 {
                        panic!("handler bug on the first connection");
                    }
                    echo(stream).await
                }
            })
            .on_error(move |e| report.put_nowait(e).unwrap())
            .graceful(shutdown.clone(), Duration::from_secs(10));
            tg.start_soon(server);

            let first = round_trip(addr, b"first").await;
            assert!(
                first.is_err(),
                "the panicking handler closed the connection"
            );
            let failure = failures.get().await.unwrap();
            assert_eq!(
                failure.panic_message(),
                Some("handler bug on the first connection")
            );
            assert!(failure.name().unwrap().starts_with("connection "));
            assert!(round_trip(addr, b"secnd").await.is_err());
            let failure = failures.get().await.unwrap();
            assert_eq!(
                failure.panic_message(),
                Some("handler bug on the second connection")
            );
            for _ in 0..3 {
                assert_eq!(&round_trip(addr, b"again").await?, b"again");
            }
            shutdown.trigger();
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap();
        assert_eq!(served.load(Ordering::SeqCst), 5);
    });
}

#[test]
fn max_connections_bounds_the_open_connections() {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let open = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let release = pride::Event::new();
        let (open_c, most_c, release_c) = (open.clone(), most.clone(), release.clone());
        pride::task_group(async |tg| {
            let server = serve(listener, move |stream: TcpStream, _| {
                let (open, most, release) = (open_c.clone(), most_c.clone(), release_c.clone());
                async move {
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    release.wait().await;
                    let result = echo(stream).await;
                    open.fetch_sub(1, Ordering::SeqCst);
                    result
                }
            })
            .max_connections(2)
            .graceful(shutdown.clone(), Duration::from_secs(10));
            tg.start_soon(server);
            let clients = tg.spawn(pride::gather((0..3).map(|_| round_trip(addr, b"limit"))));
            for _ in 0..5000 {
                if open.load(Ordering::SeqCst) == 2 {
                    break;
                }
                pride::sleep(Duration::from_millis(1)).await;
            }
            assert_eq!(open.load(Ordering::SeqCst), 2);
            // The third connection waits in the backlog, not in a handler.
            pride::sleep(Duration::from_millis(50)).await;
            assert_eq!(open.load(Ordering::SeqCst), 2);
            release.set();
            let results = clients.await?;
            assert!(results.iter().all(|r| r == b"limit"));
            shutdown.trigger();
            Ok::<_, pride::BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(most.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn graceful_shutdown_stops_accepting_lets_work_finish_then_cancels_the_rest() {
    struct Dropped(Arc<AtomicUsize>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let dropped = Arc::new(AtomicUsize::new(0));
        let guard = dropped.clone();
        let received = Queue::<()>::unbounded();
        let got = received.clone();
        let outcome = pride::task_group(async |tg| {
            let server = serve(listener, move |mut stream: TcpStream, _| {
                let guard = Dropped(guard.clone());
                let got = got.clone();
                async move {
                    let _guard = guard;
                    let mut request = [0; 5];
                    stream.read_exact(&mut request).await?;
                    got.put_nowait(()).unwrap();
                    if &request == b"hang!" {
                        std::future::pending::<()>().await;
                    }
                    pride::sleep(Duration::from_millis(50)).await; // slow, but in grace
                    stream.write_all(&request).await
                }
            })
            .graceful(shutdown.clone(), Duration::from_secs(1));
            let server = tg.spawn(server);

            let mut hanging = TcpStream::connect(addr).await?;
            hanging.write_all(b"hang!").await?;
            let mut slow = TcpStream::connect(addr).await?;
            slow.write_all(b"slow!").await?;
            // Both requests are in their handlers.
            received.get().await?;
            received.get().await?;
            shutdown.trigger();
            // The request in flight is answered within the grace period.
            let mut answer = [0; 5];
            slow.read_exact(&mut answer).await?;
            assert_eq!(&answer, b"slow!");
            // The server ends once the grace period cut the hanging one short.
            server.await?;
            // It no longer accepts.
            let refused = TcpStream::connect(addr).await;
            assert!(refused.is_err(), "connected to a server that shut down");
            // The hanging connection was closed by the server.
            let mut rest = Vec::new();
            hanging.read_to_end(&mut rest).await?;
            Ok::<_, pride::BoxError>(())
        })
        .await;
        outcome.unwrap();
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
    });
}

#[cfg(unix)]
#[test]
fn serves_a_unix_listener() {
    use pride::net::{UnixListener, UnixStream};
    let dir = std::env::temp_dir().join(format!("pride-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    runtime().block_on(async {
        let listener = UnixListener::bind(&path).unwrap();
        let shutdown = Shutdown::new();
        pride::task_group(async |tg| {
            let server = serve(listener, |mut stream: UnixStream, _| async move {
                let mut buf = [0; 4];
                stream.read_exact(&mut buf).await?;
                stream.write_all(&buf).await
            })
            .graceful(shutdown.clone(), Duration::from_secs(10));
            tg.start_soon(server);
            for _ in 0..3 {
                let mut client = UnixStream::connect(&path).await?;
                client.write_all(b"unix").await?;
                let mut buf = [0; 4];
                client.read_exact(&mut buf).await?;
                assert_eq!(&buf, b"unix");
            }
            shutdown.trigger();
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap();
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn std_client_sees_the_echo() {
    // A blocking client from another thread, as a smoke test of the plain path.
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        pride::task_group(async |tg| {
            tg.start_soon(
                serve(listener, |s: TcpStream, _| echo(s))
                    .graceful(shutdown.clone(), Duration::from_secs(5)),
            );
            let echoed = pride::to_thread(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(b"plain").unwrap();
                let mut buf = [0; 5];
                c.read_exact(&mut buf).unwrap();
                buf
            })
            .await;
            assert_eq!(&echoed, b"plain");
            shutdown.trigger();
        })
        .await
        .unwrap();
    });
}

/// A listener that can never accept (here: bound but not listening, as a misconfigured
/// socket handed over by a supervisor is) ends the server with the accept error; it is
/// not reported and retried as a shortage of descriptors or memory would be.
#[test]
fn a_listener_that_cannot_accept_ends_the_server_with_the_error() {
    crate::common::run(2, 20, || async {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        // No `listen`: every accept fails with EINVAL.
        let listener = TcpListener::from_std(socket.into()).unwrap();
        let reports = Arc::new(AtomicUsize::new(0));
        let counted = reports.clone();
        let outcome = serve(listener, |_: TcpStream, _| async {})
            .on_error(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
            })
            .await;
        let error = outcome.expect_err("serve ended without an error although it cannot accept");
        assert_eq!(error.errors()[0].name(), Some("accept"));
        let io = error.find::<std::io::Error>().expect("the accept error");
        assert_eq!(io.kind(), ErrorKind::InvalidInput, "{io}");
        assert_eq!(
            reports.load(Ordering::SeqCst),
            0,
            "a fatal accept error is returned, not reported"
        );
    });
}

/// A listener whose first accept fails with `errno`, whose second gives connection 7,
/// and which then waits for ever.
struct FailsOnceWith {
    accepts: std::sync::Mutex<usize>,
    errno: i32,
}

impl pride::net::Listener for FailsOnceWith {
    type Stream = u32;
    type Addr = &'static str;

    fn poll_accept(
        &self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<(u32, &'static str)>> {
        let mut accepts = self.accepts.lock().unwrap();
        *accepts += 1;
        match *accepts {
            1 => std::task::Poll::Ready(Err(std::io::Error::from_raw_os_error(self.errno))),
            2 => std::task::Poll::Ready(Ok((7, "peer"))),
            _ => std::task::Poll::Pending,
        }
    }
}

/// Serves a listener whose first accept fails with `errno`: asserts that the server
/// goes on and serves the next connection, and returns how many errors it reported.
fn reports_after_serving_past(errno: i32) -> usize {
    let rt = pride::Runtime::builder()
        .worker_threads(2)
        .clock(pride::time::Clock::autojump())
        .build()
        .unwrap();
    rt.block_on(async {
        let reports = Arc::new(AtomicUsize::new(0));
        let counted = reports.clone();
        let served = pride::Queue::<u32>::unbounded();
        let serving = served.clone();
        let listener = FailsOnceWith {
            accepts: std::sync::Mutex::new(0),
            errno,
        };
        let server = serve(listener, move |conn: u32, _| {
            let served = serving.clone();
            async move { served.put_nowait(conn).unwrap() }
        })
        .on_error(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        // The server ends only by the cancel, once the connection after the error was
        // served; an accept error that ended it would be its outcome instead.
        let outcome = pride::task_group(async |tg| {
            tg.start_soon(async move {
                let conn = pride::fail_after(Duration::from_secs(60), served.get()).await;
                assert!(matches!(conn, Ok(Ok(7))), "errno {errno}: {conn:?}");
            });
            Ok::<_, pride::BoxError>(pride::move_on_after(Duration::from_secs(120), server).await)
        })
        .await;
        assert!(matches!(outcome, Ok(None)), "errno {errno}: {outcome:?}");
        reports.load(Ordering::SeqCst)
    })
}

/// Linux passes network errors already pending on a new connection to `accept` (its
/// network or host is down or unreachable, it broke the protocol, a firewall refused
/// it): each concerns that connection only, so the server skips it and serves the next
/// one, without reporting it.
#[test]
fn network_errors_of_one_pending_connection_are_skipped() {
    let mut errnos = vec![
        libc::ENETDOWN,
        libc::ENETUNREACH,
        libc::EHOSTUNREACH,
        libc::EHOSTDOWN,
        libc::EPROTO,
        libc::ENOPROTOOPT,
        libc::EOPNOTSUPP,
        libc::EPERM,
        libc::ECONNABORTED,
    ];
    if cfg!(target_os = "linux") {
        errnos.push(64); // ENONET
    }
    for errno in errnos {
        assert_eq!(reports_after_serving_past(errno), 0, "errno {errno}");
    }
}

/// A shortage of descriptors, memory or reactor watches (`ENOSPC`: the accepted
/// socket could not be registered) passes as connections close: it is reported, and
/// the server retries after a pause.
#[test]
fn a_shortage_is_reported_and_retried() {
    for errno in [
        libc::EMFILE,
        libc::ENFILE,
        libc::ENOBUFS,
        libc::ENOMEM,
        libc::ENOSPC,
    ] {
        assert_eq!(reports_after_serving_past(errno), 1, "errno {errno}");
    }
}

/// A listener whose every accept fails at once, without ever pending, with `kind`: an
/// error that on its own concerns one pending connection. Once `stop` is set it fails
/// with `EINVAL` instead, which ends the server, so that a test that went wrong does
/// not leave a task spinning behind it.
struct AlwaysFails {
    kind: ErrorKind,
    stop: crate::common::Flag,
    tries: crate::common::Counter,
}

impl pride::net::Listener for AlwaysFails {
    type Stream = u32;
    type Addr = &'static str;

    fn poll_accept(
        &self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<(u32, &'static str)>> {
        self.tries.inc();
        if self.stop.is_set() {
            return std::task::Poll::Ready(Err(ErrorKind::InvalidInput.into()));
        }
        std::task::Poll::Ready(Err(self.kind.into()))
    }
}

/// Sets its flag when dropped: a failing test's unwinding stops an [`AlwaysFails`].
struct SetOnDrop(crate::common::Flag);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// An accept error that concerns one pending connection but comes back on every try
/// (the listener itself is broken) is not skipped for ever: after a few in a row it is
/// reported, named `accept`, like a shortage, and the server pauses before it retries.
#[test]
fn an_accept_error_that_comes_back_every_time_is_reported() {
    let stop = crate::common::Flag::new();
    let _unstick = SetOnDrop(stop.clone());
    crate::common::run(1, 20, move || async move {
        let reports = Queue::<TaskError>::unbounded();
        let report = reports.clone();
        let shutdown = Shutdown::new();
        let listener = AlwaysFails {
            kind: ErrorKind::ConnectionAborted,
            stop,
            tries: crate::common::Counter::new(),
        };
        let server = serve(listener, |_: u32, _| async {})
            .on_error(move |e| report.put_nowait(e).unwrap())
            .graceful(shutdown.clone(), Duration::from_secs(10));
        pride::task_group(async |tg| {
            tg.start_soon(server);
            let report = reports.get().await.unwrap();
            assert_eq!(report.name(), Some("accept"), "{report}");
            let io = report
                .downcast_ref::<std::io::Error>()
                .expect("the accept error");
            assert_eq!(io.kind(), ErrorKind::ConnectionAborted, "{report}");
            shutdown.trigger();
        })
        .await
        .expect("the server ends at its shutdown, without an error");
    });
}

/// A listener that fails the same way on every accept, without ever pending, does not
/// keep the server from seeing its shutdown: skipping an error is a suspension point.
#[test]
fn a_server_skipping_accept_errors_still_sees_its_shutdown() {
    let stop = crate::common::Flag::new();
    let _unstick = SetOnDrop(stop.clone());
    crate::common::run(2, 20, move || async move {
        let shutdown = Shutdown::new();
        let tries = crate::common::Counter::new();
        let listener = AlwaysFails {
            kind: ErrorKind::ConnectionReset,
            stop,
            tries: tries.clone(),
        };
        let server = serve(listener, |_: u32, _| async {})
            .on_error(|_| {})
            .graceful(shutdown.clone(), Duration::from_secs(10));
        pride::task_group(async |tg| {
            tg.start_soon(server);
            // The accept loop is in its run of errors (on the other worker).
            crate::common::yield_until(|| tries.get() >= 100).await;
            shutdown.trigger();
        })
        .await
        .expect("the server ends at its shutdown, without an error");
    });
}

/// A socket that is no listener (a UDP socket handed over as a `TcpListener`, as a
/// misconfigured socket-activation descriptor would be) fails every accept with
/// `EOPNOTSUPP`: the server reports it, named `accept`, instead of retrying it at once
/// for ever, and still ends at its shutdown.
#[test]
fn a_socket_that_is_no_listener_is_reported() {
    crate::common::run(2, 20, || async {
        let udp = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        udp.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let addr = udp.local_addr().unwrap().as_socket().unwrap();
        // A datagram makes it readable, as a pending connection makes a listener.
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(b"x", addr)
            .unwrap();
        udp.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(udp.into()).unwrap();
        let reports = Queue::<TaskError>::unbounded();
        let report = reports.clone();
        let shutdown = Shutdown::new();
        let server = serve(listener, |_: TcpStream, _| async {})
            .on_error(move |e| report.put_nowait(e).unwrap())
            .graceful(shutdown.clone(), Duration::from_secs(10));
        pride::task_group(async |tg| {
            tg.start_soon(server);
            let report = reports.get().await.unwrap();
            assert_eq!(report.name(), Some("accept"), "{report}");
            let io = report
                .downcast_ref::<std::io::Error>()
                .expect("the accept error");
            #[cfg(target_os = "linux")]
            assert_eq!(io.raw_os_error(), Some(libc::EOPNOTSUPP), "{report}");
            let _ = io;
            shutdown.trigger();
        })
        .await
        .expect("the server ends at its shutdown, without an error");
    });
}

/// A listener whose first `failures` accepts fail with `ECONNABORTED`, whose next gives
/// connection 7, and which then waits for ever.
struct AbortsThenAccepts {
    accepts: std::sync::Mutex<usize>,
    failures: usize,
}

impl pride::net::Listener for AbortsThenAccepts {
    type Stream = u32;
    type Addr = &'static str;

    fn poll_accept(
        &self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<(u32, &'static str)>> {
        let mut accepts = self.accepts.lock().unwrap();
        *accepts += 1;
        if *accepts <= self.failures {
            std::task::Poll::Ready(Err(ErrorKind::ConnectionAborted.into()))
        } else if *accepts == self.failures + 1 {
            std::task::Poll::Ready(Ok((7, "peer")))
        } else {
            std::task::Poll::Pending
        }
    }
}

/// A long run of connections aborted in the backlog is reported and paused on, but
/// never ends the server: the connection after it is served.
#[test]
fn a_long_run_of_aborted_connections_does_not_stop_the_server() {
    crate::common::autojump(20, || async {
        let reports = Queue::<TaskError>::unbounded();
        let report = reports.clone();
        let served = Queue::<u32>::unbounded();
        let serving = served.clone();
        let listener = AbortsThenAccepts {
            accepts: std::sync::Mutex::new(0),
            failures: 1000,
        };
        let server = serve(listener, move |conn: u32, _| {
            let served = serving.clone();
            async move { served.put_nowait(conn).unwrap() }
        })
        .on_error(move |e| report.put_nowait(e).unwrap());
        let outcome = pride::task_group(async |tg| {
            tg.start_soon(async move {
                let conn = pride::fail_after(Duration::from_secs(600), served.get()).await;
                assert!(matches!(conn, Ok(Ok(7))), "{conn:?}");
            });
            Ok::<_, pride::BoxError>(pride::move_on_after(Duration::from_secs(1200), server).await)
        })
        .await;
        assert!(matches!(outcome, Ok(None)), "{outcome:?}");
        let first = reports
            .get_nowait()
            .expect("the run of errors was reported");
        assert_eq!(first.name(), Some("accept"), "{first}");
    });
}
