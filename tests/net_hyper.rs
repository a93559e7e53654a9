//! hyper on pride: a hyper server and a hyper client (a raw `client::conn::http1`
//! handshake over pride's `TcpStream`) in one task group. Loopback only.

mod common;

use std::convert::Infallible;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use common::run;
use hyper::body::{Body, Incoming};
use hyper::{Request, Response};
use pride::compat::hyper::{Executor, HyperIo, Timer};
use pride::net::{TcpListener, TcpStream};
use pride::{BoxError, TaskStatus, task_group};

async fn hello(request: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(format!("hello {}", request.uri().path())))
}

async fn server(status: TaskStatus<SocketAddr>) -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    status.started(listener.local_addr()?);
    task_group(async |connections| {
        loop {
            let (stream, _) = listener.accept().await?;
            connections.start_soon(async move {
                hyper::server::conn::http1::Builder::new()
                    .timer(Timer)
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(HyperIo::new(stream), hyper::service::service_fn(hello))
                    .await
            });
        }
        #[allow(unreachable_code)]
        Ok::<_, std::io::Error>(())
    })
    .await?;
    Ok(())
}

async fn body_text(mut body: Incoming) -> Result<String, BoxError> {
    let mut bytes = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame?.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    Ok(String::from_utf8(bytes)?)
}

/// One client connection that sends `requests` requests, one after another.
async fn client(addr: SocketAddr, id: usize, requests: usize) -> Result<(), BoxError> {
    task_group(async |tg| {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, String>(HyperIo::new(stream)).await?;
        let connection = tg.spawn(conn);
        for i in 0..requests {
            let path = format!("/{id}/{i}");
            // The connection task must finish the previous exchange first.
            sender.ready().await?;
            let response = sender
                .send_request(Request::get(path.as_str()).body(String::new())?)
                .await?;
            assert_eq!(response.status(), 200);
            assert_eq!(
                body_text(response.into_body()).await?,
                format!("hello {path}")
            );
        }
        drop(sender);
        connection.await?;
        Ok::<_, BoxError>(())
    })
    .await?;
    Ok(())
}

#[test]
fn a_hyper_client_gets_hello_from_a_hyper_server() {
    run(4, 60, || async {
        task_group(async |tg| {
            let addr = tg.start(server).await?;
            client(addr, 0, 5).await?;
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn many_hyper_clients_at_once() {
    run(4, 60, || async {
        task_group(async |tg| {
            let addr = tg.start(server).await?;
            task_group(async |clients| {
                for id in 0..50 {
                    clients.start_soon(client(addr, id, 4));
                }
            })
            .await?;
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn the_executor_runs_futures_in_its_group() {
    run(4, 60, || async {
        let ran = std::sync::Arc::new(pride::Event::new());
        let seen = ran.clone();
        task_group(async |tg| {
            let executor = Executor::new(tg.clone());
            hyper::rt::Executor::execute(&executor, async move { seen.set() });
        })
        .await
        .unwrap();
        assert!(ran.is_set());
    });
}

/// Past its group's exit, the executor drops a future unstarted instead of panicking
/// inside hyper.
#[test]
fn the_executor_drops_a_future_given_after_its_group_exited() {
    run(2, 60, || async {
        let mut kept = None;
        task_group(async |tg| kept = Some(Executor::new(tg.clone())))
            .await
            .unwrap();
        let dropped = pride::Event::new();
        let guard = common::SetOnDrop(dropped.clone());
        hyper::rt::Executor::execute(&kept.unwrap(), async move {
            let _guard = guard;
            panic!("a future given after the group exited ran");
        });
        assert!(dropped.is_set());
    });
}

/// A reader that reads through a `HyperIo` itself, so one `HyperIo` read runs inside
/// another on the same thread.
struct Nested(HyperIo<futures_lite::io::Cursor<Vec<u8>>>);

impl futures_lite::AsyncRead for Nested {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut inner = hyper::rt::ReadBuf::new(buf);
        std::task::ready!(hyper::rt::Read::poll_read(
            Pin::new(&mut self.0),
            cx,
            inner.unfilled()
        ))?;
        std::task::Poll::Ready(Ok(inner.filled().len()))
    }
}

#[test]
fn hyper_io_reads_keep_every_byte_in_order() {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let io = HyperIo::new(Nested(HyperIo::new(futures_lite::io::Cursor::new(
        data.clone(),
    ))));
    let mut io = std::pin::pin!(io);
    let mut read = Vec::new();
    let mut chunk = vec![0u8; 100_000];
    futures_lite::future::block_on(async {
        loop {
            let mut buf = hyper::rt::ReadBuf::new(&mut chunk);
            poll_fn(|cx| hyper::rt::Read::poll_read(io.as_mut(), cx, buf.unfilled()))
                .await
                .unwrap();
            if buf.filled().is_empty() {
                break;
            }
            read.extend_from_slice(buf.filled());
        }
    });
    assert_eq!(read, data);
}
