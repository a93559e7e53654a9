//! Unix-domain sockets: [`UnixListener`] and [`UnixStream`], and the stream's split
//! halves.

use std::future::poll_fn;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use super::reactor::IoSource;
use super::scheduled_io::Direction;

/// A Unix-domain socket listening for connections.
///
/// ```
/// use pride::net::{UnixListener, UnixStream};
///
/// pride::run(async {
///     let dir = std::env::temp_dir().join(format!("pride-doc-{}", std::process::id()));
///     std::fs::create_dir_all(&dir).unwrap();
///     let path = dir.join("listener.sock");
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path).unwrap();
///     let client = UnixStream::connect(&path).await.unwrap();
///     let (server, _) = listener.accept().await.unwrap();
///     client.write_all(b"hi").await.unwrap();
///     let mut buf = [0; 2];
///     assert_eq!(server.read(&mut buf).await.unwrap(), 2);
///     std::fs::remove_dir_all(&dir).unwrap();
/// });
/// ```
#[derive(Debug)]
pub struct UnixListener {
    io: IoSource<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist).
    ///
    /// # Panics
    /// Outside a pride runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: IoSource::new(mio::net::UnixListener::bind(path)?)?,
        })
    }

    /// Wraps a bound std listener (it is switched to non-blocking mode).
    ///
    /// # Panics
    /// Outside a pride runtime.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: IoSource::new(mio::net::UnixListener::from_std(listener))?,
        })
    }

    /// Waits for a connection. Cancel-safe, like
    /// [`TcpListener::accept`](super::TcpListener::accept).
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection, like [`accept`](Self::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.io
            .poll_io(cx, Direction::Read, |l| l.accept())
            .map(|result| {
                let (stream, addr) = result?;
                Ok((UnixStream::from_mio(stream)?, addr))
            })
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

/// A Unix-domain stream: the same API as [`TcpStream`](super::TcpStream) minus the
/// TCP options, plus [`pair`](Self::pair).
///
/// ```
/// use pride::net::UnixStream;
///
/// pride::run(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     a.write_all(b"ping").await.unwrap();
///     let mut buf = [0; 4];
///     assert_eq!(b.read(&mut buf).await.unwrap(), 4);
///     assert_eq!(&buf, b"ping");
/// });
/// ```
#[derive(Debug)]
pub struct UnixStream {
    io: IoSource<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket file `path`.
    ///
    /// # Panics
    /// Outside a pride runtime.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let stream = UnixStream::from_mio(mio::net::UnixStream::connect(path)?)?;
        poll_fn(|cx| {
            stream
                .io
                .poll_io(cx, Direction::Write, |s| match s.take_error()? {
                    Some(e) => Err(e),
                    None => Ok(()),
                })
        })
        .await?;
        Ok(stream)
    }

    /// Two connected streams.
    ///
    /// # Panics
    /// Outside a pride runtime.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    /// Wraps a connected std stream (it is switched to non-blocking mode).
    ///
    /// # Panics
    /// Outside a pride runtime.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    fn from_mio(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: IoSource::new(stream)?,
        })
    }
}

stream_impls!(UnixStream, SocketAddr);
