//! A TCP echo server: one isolated child per connection, stops on Ctrl-C and drains.
//!
//! ```text
//! cargo run --example echo_server [-- 127.0.0.1:7000]
//! ```
//!
//! A client that resets its connection or sends nothing ends its own connection only
//! (the failure is printed); Ctrl-C stops accepting, gives open connections five
//! seconds to finish, then cancels them.

use std::time::Duration;

use pride::BoxError;
use pride::net::{TcpListener, TcpStream, serve};
use pride::shutdown::Shutdown;

async fn echo(stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".to_owned());
    pride::run(async {
        let shutdown = Shutdown::new();
        pride::task_group(async |tg| {
            let stop = shutdown.clone();
            tg.start_soon_named("ctrl-c", async move {
                pride::signal::ctrl_c().await?;
                eprintln!("shutting down: no new connections, 5 s for the open ones");
                stop.trigger();
                Ok::<_, std::io::Error>(())
            });
            let listener = TcpListener::bind(addr.as_str()).await?;
            println!("echoing on {}", listener.local_addr()?);
            serve(listener, |stream, _peer| echo(stream))
                .max_connections(10_000)
                .graceful(shutdown.clone(), Duration::from_secs(5))
                .await?;
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap();
}
