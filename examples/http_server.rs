//! An HTTP/1.1 "hello" server: hyper on pride.
//!
//! ```text
//! cargo run --example http_server --features hyper [-- 127.0.0.1:3000]
//! ```
//!
//! The server runs in a task started with `tg.start`, which hands back the bound
//! address; `net::serve` runs each connection as an isolated child, so a client that
//! sends garbage or vanishes mid-request ends its own connection only. Ctrl-C stops
//! accepting, lets kept-alive connections finish the request in hand (hyper's graceful
//! shutdown), and cancels whatever is left after ten seconds.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use pride::compat::hyper::{HyperIo, Timer, graceful_connection};
use pride::net::{TcpListener, TcpStream, serve};
use pride::shutdown::Shutdown;
use pride::{BoxError, TaskStatus};

async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("hello\n".to_owned()))
}

/// Binds, reports the address through `status`, then serves until `shutdown`.
async fn run_server(
    addr: String,
    shutdown: Shutdown,
    status: TaskStatus<SocketAddr>,
) -> Result<(), BoxError> {
    let listener = TcpListener::bind(addr.as_str()).await?;
    status.started(listener.local_addr()?);
    let stop = shutdown.clone();
    serve(listener, move |stream: TcpStream, _peer| {
        let stop = stop.clone();
        async move {
            stream.set_nodelay(true)?;
            let connection = http1::Builder::new()
                .timer(Timer)
                .serve_connection(HyperIo::new(stream), service_fn(hello));
            graceful_connection(connection, &stop).await?;
            Ok::<_, BoxError>(())
        }
    })
    .graceful(shutdown, Duration::from_secs(10))
    .await?;
    Ok(())
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    pride::run(async {
        let shutdown = Shutdown::new();
        pride::task_group(async |tg| {
            let stop = shutdown.clone();
            tg.start_soon_named("ctrl-c", async move {
                pride::signal::ctrl_c().await?;
                eprintln!("shutting down gracefully");
                stop.trigger();
                Ok::<_, std::io::Error>(())
            });
            let server = shutdown.clone();
            let bound = tg
                .start_named("server", |status| run_server(addr, server, status))
                .await?;
            println!("listening on http://{bound}");
            println!("try: curl http://{bound}/");
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap();
}
