//! An HTTP/1.1 "hello" server: hyper on pride.
//!
//! ```text
//! cargo run --example http_server --features hyper [-- 127.0.0.1:3000]
//! ```
//!
//! The listener runs in a task started with `tg.start`, which hands back the bound
//! address; each connection is a child of the listener's task group, so stopping the
//! server (Ctrl-C ends the process) leaves no connection behind in any other state.

use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use pride::compat::hyper::{HyperIo, Timer};
use pride::net::TcpListener;
use pride::{BoxError, TaskStatus};

async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("hello\n".to_owned()))
}

/// Binds, reports the address through `status`, then serves until cancelled.
async fn serve(addr: String, status: TaskStatus<SocketAddr>) -> Result<(), BoxError> {
    let listener = TcpListener::bind(addr.as_str()).await?;
    status.started(listener.local_addr()?);
    pride::task_group(async |connections| {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection that died in the backlog:
                    // keep serving, a little later.
                    eprintln!("accept failed: {e}");
                    pride::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            stream.set_nodelay(true)?;
            connections.start_soon(async move {
                let served = http1::Builder::new()
                    .timer(Timer)
                    .serve_connection(HyperIo::new(stream), service_fn(hello))
                    .await;
                // A client that goes away mid-request is not a server failure.
                if let Err(e) = served {
                    eprintln!("connection error: {e}");
                }
            });
        }
        #[allow(unreachable_code)]
        Ok::<_, std::io::Error>(())
    })
    .await?;
    Ok(())
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    pride::run(async {
        pride::task_group(async |tg| {
            let bound = tg.start(|status| serve(addr, status)).await?;
            println!("listening on http://{bound}");
            println!("try: curl http://{bound}/");
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap();
}
