//! A storm of clients against `net::serve`: polite ones, ones that reset the connection
//! mid-request, ones that hang up without a word. Every connection's handler is dropped
//! once, every reset reaches `on_error` (and nothing else does), the server keeps
//! serving, and no descriptor is left open.
#![cfg(target_os = "linux")]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use common::{Counter, Rng};
use futures_lite::AsyncReadExt;
use pride::net::{TcpListener, TcpStream, serve};
use pride::shutdown::Shutdown;
use pride::{Queue, TaskError};

/// Client threads, and connections each makes.
const THREADS: u64 = 4;
const PER_THREAD: u64 = if cfg!(debug_assertions) { 100 } else { 1_000 };

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// Greets, then echoes 5-byte requests until the client closes.
async fn greet_and_echo(mut stream: TcpStream) -> std::io::Result<()> {
    stream.write_all(b"hi").await?;
    let mut buf = [0; 5];
    loop {
        match stream.read_exact(&mut buf).await {
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(()),
            other => other?,
        }
        stream.write_all(&buf).await?;
    }
}

#[derive(Default, Clone, Copy, Debug)]
struct Clients {
    polite: usize,
    rude: usize,
    silent: usize,
}

/// One client thread's connections, each of a random kind.
fn clients(addr: SocketAddr, seed: u64) -> Clients {
    let mut rng = Rng::new(seed);
    let mut made = Clients::default();
    for _ in 0..PER_THREAD {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let mut greeting = [0; 2];
        match rng.below(3) {
            // A request, its echo, a clean close.
            0 => {
                stream.read_exact(&mut greeting).unwrap();
                stream.write_all(b"hello").unwrap();
                let mut echoed = [0; 5];
                stream.read_exact(&mut echoed).unwrap();
                assert_eq!(&echoed, b"hello");
                made.polite += 1;
            }
            // Half a request, then a close with the greeting unread: the kernel sends a
            // reset instead of a FIN.
            1 => {
                assert_eq!(stream.peek(&mut greeting).unwrap(), 2);
                stream.write_all(b"ab").unwrap();
                made.rude += 1;
            }
            // Gone at once: a FIN, or a reset if the greeting arrived first.
            _ => made.silent += 1,
        }
    }
    made
}

#[test]
fn a_storm_of_resets_and_hangups_is_reported_and_leaks_nothing() {
    common::run(2, 120, || async {
        let before = open_descriptors();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let failures = Queue::<TaskError>::unbounded();
        let (made, dropped) = (Counter::new(), Counter::new());
        let shutdown = Shutdown::new();

        let report = failures.clone();
        let (m, d) = (made.clone(), dropped.clone());
        let clients = pride::task_group(async |tg| {
            let server = serve(listener, move |stream: TcpStream, _| {
                m.inc();
                let guard = d.drop_guard();
                async move {
                    let _guard = guard;
                    greet_and_echo(stream).await
                }
            })
            .on_error(move |e| report.put_nowait(e).unwrap())
            .graceful(shutdown.clone(), Duration::from_secs(10));
            tg.start_soon(server);

            let mut total = Clients::default();
            let threads: Vec<_> = (0..THREADS)
                .map(|seed| pride::to_thread(move || clients(addr, seed)))
                .collect();
            for thread in threads {
                let c = thread.await;
                total.polite += c.polite;
                total.rude += c.rude;
                total.silent += c.silent;
            }
            // Every rude client's handler fails; a silent one's may.
            for _ in 0..total.rude {
                let failure = failures.get().await.unwrap();
                let io = failure.downcast_ref::<std::io::Error>().unwrap();
                assert!(
                    matches!(
                        io.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
                    ),
                    "{failure}"
                );
            }
            // The server still serves.
            let mut client = TcpStream::connect(addr).await?;
            let mut greeting = [0; 2];
            client.read_exact(&mut greeting).await?;
            drop(client);
            shutdown.trigger();
            Ok::<_, std::io::Error>(total)
        })
        .await
        .unwrap();

        let mut late = 0;
        while let Ok(failure) = failures.get_nowait() {
            let io = failure.downcast_ref::<std::io::Error>().unwrap();
            assert!(
                matches!(
                    io.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
                ),
                "{failure}"
            );
            late += 1;
        }
        assert!(late <= clients.silent, "{late} failures of {clients:?}");
        let connections = clients.polite + clients.rude + clients.silent + 1;
        assert!(clients.rude > 0 && clients.polite > 0 && clients.silent > 0);
        assert_eq!(made.get(), connections, "a connection was not served");
        assert_eq!(dropped.get(), connections, "a handler was not dropped");
        assert_eq!(open_descriptors(), before, "a descriptor leaked");
    });
}
