//! Unix-domain sockets on the public API: an echo server and clients in one task
//! group, `pair`, half-close.
#![cfg(unix)]

mod common;

use std::net::Shutdown;
use std::path::PathBuf;

use common::run;
use futures_util::AsyncReadExt;
use pride::net::{UnixListener, UnixStream};
use pride::{BoxError, TaskStatus, task_group};

/// A fresh socket path in a directory of its own, removed by the guard.
struct TempSocket {
    dir: PathBuf,
}

impl TempSocket {
    fn new(name: &str) -> TempSocket {
        let dir =
            std::env::temp_dir().join(format!("pride-net-unix-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempSocket { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("s.sock")
    }
}

impl Drop for TempSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn echo_server(path: PathBuf, status: TaskStatus<()>) -> Result<(), BoxError> {
    let listener = UnixListener::bind(&path)?;
    status.started(());
    task_group(async |tg| {
        loop {
            let (socket, _) = listener.accept().await?;
            tg.start_soon(async move {
                let (mut reader, mut writer) = socket.into_split();
                futures_util::io::copy(&mut reader, &mut writer).await?;
                Ok::<_, std::io::Error>(())
            });
        }
        #[allow(unreachable_code)]
        Ok::<_, std::io::Error>(())
    })
    .await?;
    Ok(())
}

#[test]
fn echo_server_and_clients_in_one_group() {
    let socket = TempSocket::new("echo");
    let path = socket.path();
    run(4, 60, move || async move {
        task_group(async |tg| {
            let server_path = path.clone();
            tg.start(|status| echo_server(server_path, status)).await?;
            task_group(async |clients| {
                for c in 0..50u8 {
                    let path = path.clone();
                    clients.start_soon(async move {
                        let mut stream = UnixStream::connect(&path).await?;
                        let msg = [c; 64];
                        stream.write_all(&msg).await?;
                        stream.shutdown(Shutdown::Write)?;
                        let mut back = Vec::new();
                        stream.read_to_end(&mut back).await?;
                        assert_eq!(back, msg);
                        Ok::<_, std::io::Error>(())
                    });
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
fn a_pair_talks_both_ways() {
    run(4, 60, || async {
        let (a, b) = UnixStream::pair().unwrap();
        a.write_all(b"ping").await.unwrap();
        let mut buf = [0; 4];
        let mut got = 0;
        while got < 4 {
            got += b.read(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"ping");
        b.write_all(b"pong").await.unwrap();
        b.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        (&a).read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"pong");
    });
}

#[test]
fn connecting_to_a_missing_socket_fails() {
    let socket = TempSocket::new("missing");
    let path = socket.path();
    run(4, 60, move || async move {
        let error = UnixStream::connect(&path).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound, "{error}");
    });
}
