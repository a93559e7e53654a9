//! hyper behind `net::serve`: garbage and half requests end their own connection only;
//! a graceful shutdown closes kept-alive connections at once.

use std::convert::Infallible;
use std::future::Future;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Request, Response};
use pride::compat::hyper::{HyperIo, Timer, graceful_connection};
use pride::net::{TcpListener, TcpStream, serve};
use pride::shutdown::Shutdown;
use pride::{Queue, TaskError};

async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("hello".to_owned()))
}

fn runtime() -> pride::Runtime {
    pride::Runtime::builder().worker_threads(2).build().unwrap()
}

/// A hyper server on `listener` that reports failures to `failures`.
fn http_server(
    listener: TcpListener,
    shutdown: &Shutdown,
    failures: &Queue<TaskError>,
) -> impl Future<Output = Result<(), pride::GroupError>> + Send + 'static {
    let stop = shutdown.clone();
    let report = failures.clone();
    serve(listener, move |stream: TcpStream, _| {
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(Timer)
            .serve_connection(HyperIo::new(stream), hyper::service::service_fn(hello));
        let stop = stop.clone();
        async move { graceful_connection(connection, &stop).await }
    })
    .on_error(move |e| report.put_nowait(e).unwrap())
    .graceful(shutdown.clone(), Duration::from_secs(60))
}

/// A blocking raw-socket client: sends `request`, returns everything until EOF.
fn raw_exchange(addr: std::net::SocketAddr, request: &[u8], close_write: bool) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
    if close_write {
        stream.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn garbage_and_half_requests_fail_their_connection_only() {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let failures = Queue::<TaskError>::unbounded();
        pride::task_group(async |tg| {
            tg.start_soon(http_server(listener, &shutdown, &failures));

            // Garbage: hyper answers 400 and the connection fails with a parse error.
            let garbage = pride::to_thread(move || {
                raw_exchange(addr, b"\x16\x03\x01 not http at all\r\n\r\n", false)
            })
            .await;
            assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage:?}");
            let failure = failures.get().await?;
            assert!(
                failure.name().unwrap().starts_with("connection "),
                "{failure}"
            );
            assert!(
                failure.downcast_ref::<hyper::Error>().unwrap().is_parse(),
                "{failure}"
            );

            // Half a request, then the client goes away.
            let half = pride::to_thread(move || {
                raw_exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Le", true)
            })
            .await;
            assert_eq!(half, "");
            let failure = failures.get().await?;
            let error = failure.downcast_ref::<hyper::Error>().unwrap();
            assert!(error.is_incomplete_message(), "{failure}");

            // Good clients are still served.
            for _ in 0..3 {
                let ok = pride::to_thread(move || {
                    raw_exchange(
                        addr,
                        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        false,
                    )
                })
                .await;
                assert!(ok.starts_with("HTTP/1.1 200"), "{ok:?}");
                assert!(ok.ends_with("hello"), "{ok:?}");
            }
            shutdown.trigger();
            Ok::<_, pride::BoxError>(())
        })
        .await
        .unwrap();
        assert!(
            failures.get_nowait().is_err(),
            "a good client was reported as failing"
        );
    });
}

#[test]
fn graceful_shutdown_closes_idle_keep_alive_connections_at_once() {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let failures = Queue::<TaskError>::unbounded();
        pride::task_group(async |tg| {
            let server = tg.spawn(http_server(listener, &shutdown, &failures));
            let stream = TcpStream::connect(addr).await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake::<_, String>(HyperIo::new(stream)).await?;
            let client = tg.spawn(conn);
            let response = sender
                .send_request(Request::get("/").body(String::new())?)
                .await?;
            assert_eq!(response.status(), 200);
            // The connection is kept alive and idle; the grace period is a minute.
            let asked = Instant::now();
            shutdown.trigger();
            server.await?;
            assert!(
                asked.elapsed() < Duration::from_secs(30),
                "the server waited for its grace period"
            );
            client.await?;
            Ok::<_, pride::BoxError>(())
        })
        .await
        .unwrap();
        assert!(failures.get_nowait().is_err());
    });
}
