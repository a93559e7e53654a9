//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] (and its split halves) and
//! [`UnixDatagram`].

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};
use std::time::Duration;

use super::reactor::IoSource;
use super::scheduled_io::Direction;
use crate::time::Backoff;

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
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-listener-bind", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("listener-bind.sock");
    /// let listener = pride::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: IoSource::new(mio::net::UnixListener::bind(path)?)?,
        })
    }

    /// Wraps a bound std listener (it is switched to non-blocking mode).
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-listener-std", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("listener-std.sock");
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    /// let listener = pride::net::UnixListener::from_std(std_listener)?;
    /// # drop(listener);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: IoSource::new(mio::net::UnixListener::from_std(listener))?,
        })
    }

    /// Waits for a connection. Cancel-safe, like
    /// [`TcpListener::accept`](super::TcpListener::accept).
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-accept", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("accept.sock");
    /// use pride::net::{UnixListener, UnixStream};
    ///
    /// let listener = UnixListener::bind(&path)?;
    /// let client = UnixStream::connect(&path).await?;
    /// let (server, _peer) = listener.accept().await?;
    /// client.write_all(b"hi").await?;
    /// let mut buf = [0; 2];
    /// assert_eq!(server.read(&mut buf).await?, 2);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.io.async_io(Direction::Read, |l| l.accept()).await?;
        Ok((UnixStream::from_mio(stream)?, addr))
    }

    /// Polls for a connection, like [`accept`](Self::accept). A poll that must wait
    /// replaces the waker of the last one: one task at a time polls a listener this
    /// way (tasks that share it use `accept`, whose futures are each woken).
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-poll-accept", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("poll-accept.sock");
    /// use std::future::poll_fn;
    /// use pride::net::{UnixListener, UnixStream};
    ///
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path).await?;
    /// let (_server, _peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.io
            .poll_io(cx, Direction::Read, |l| l.accept())
            .map(|result| {
                let (stream, addr) = result?;
                Ok((UnixStream::from_mio(stream)?, addr))
            })
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-listener-addr", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("listener-addr.sock");
    /// let listener = pride::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
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
    /// If the listener's backlog is full, waits until it has room, as a blocking
    /// connect does. The kernel announces no such room, so the connect is retried after
    /// 1 ms, then after waits that double up to 100 ms. Cancel-safe: dropped while it
    /// waits for room, no connection was made; a connect the kernel accepts completes
    /// without waiting.
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-connect", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("connect.sock");
    /// use pride::net::{UnixListener, UnixStream};
    ///
    /// let listener = UnixListener::bind(&path)?;
    /// let stream = UnixStream::connect(&path).await?;
    /// assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// # drop(listener);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref();
        // A non-blocking connect to a full backlog says `WouldBlock` (a TCP connect
        // would be in progress instead, and announce its end as writable). The kernel
        // announces no room, so the waits between attempts are in real time.
        let mut retry = Backoff::new(Duration::from_millis(1), Duration::from_millis(100));
        let socket = loop {
            match mio::net::UnixStream::connect(path) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => retry.wait().await,
                result => break result?,
            }
        };
        if let Some(e) = socket.take_error()? {
            return Err(e);
        }
        // On Linux a Unix connect that did not say `WouldBlock` is complete: the
        // connection is in the listener's backlog already, so the stream is returned
        // without waiting, lest a future dropped at the wait leave it there. Where the
        // connect may still be in progress (mio reports `EINPROGRESS` as success), the
        // stream has no peer yet and its end is announced as writable.
        let in_progress = match socket.peer_addr() {
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::NotConnected => true,
            Err(e) => return Err(e),
        };
        let stream = UnixStream::from_mio(socket)?;
        if in_progress {
            stream
                .io
                .async_io(Direction::Write, |s| match s.take_error()? {
                    Some(e) => Err(e),
                    None => Ok(()),
                })
                .await?;
        }
        Ok(stream)
    }

    /// Two connected streams.
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// let (a, b) = pride::net::UnixStream::pair()?;
    /// a.write_all(b"ping").await?;
    /// let mut buf = [0; 4];
    /// assert_eq!(b.read(&mut buf).await?, 4);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    /// Wraps a connected std stream (it is switched to non-blocking mode).
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = pride::net::UnixStream::from_std(a)?;
    /// let b = pride::net::UnixStream::from_std(b)?;
    /// a.write_all(b"ping").await?;
    /// let mut buf = [0; 4];
    /// assert_eq!(b.read(&mut buf).await?, 4);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    #[track_caller]
    fn from_mio(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: IoSource::new(stream)?,
        })
    }
}

stream_impls!(
    UnixStream,
    SocketAddr,
    "# let (mut a, b) = pride::net::UnixStream::pair()?;\n"
);

/// A Unix-domain datagram socket.
///
/// Like [`UdpSocket`](super::UdpSocket) with socket files for addresses: unconnected,
/// it uses [`send_to`](Self::send_to) and [`recv_from`](Self::recv_from); after
/// [`connect`](Self::connect), [`send`](Self::send) and [`recv`](Self::recv). Every
/// method takes `&self` and each is cancel-safe: a dropped `recv*` lost no datagram, a
/// dropped `send*` sent nothing.
///
/// ```
/// use pride::net::UnixDatagram;
///
/// pride::run(async {
///     let (a, b) = UnixDatagram::pair().unwrap();
///     a.send(b"one").await.unwrap();
///     a.send(b"two").await.unwrap();
///     let mut buf = [0; 8];
///     let n = b.recv(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"one"); // datagrams keep their boundaries
/// });
/// ```
#[derive(Debug)]
pub struct UnixDatagram {
    io: IoSource<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    /// A socket bound to the socket file `path` (which must not exist).
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-dgram-bind", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("dgram-bind.sock");
    /// use pride::net::UnixDatagram;
    ///
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.send_to(b"hello", &path).await?;
    /// let mut buf = [0; 16];
    /// let (n, _from) = server.recv_from(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hello");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to no address: it can send, but only a peer it is connected to
    /// (or that it is paired with) can answer.
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// let socket = pride::net::UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.is_unnamed());
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// Two sockets connected to each other.
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// let (a, b) = pride::net::UnixDatagram::pair()?;
    /// a.send(b"one").await?;
    /// a.send(b"two").await?;
    /// let mut buf = [0; 16];
    /// let n = b.recv(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"one"); // datagrams keep their boundaries
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_mio(a)?, UnixDatagram::from_mio(b)?))
    }

    /// Wraps a std socket (it is switched to non-blocking mode).
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
    /// let a = pride::net::UnixDatagram::from_std(a)?;
    /// let b = pride::net::UnixDatagram::from_std(b)?;
    /// a.send(b"hi").await?;
    /// let mut buf = [0; 2];
    /// assert_eq!(b.recv(&mut buf).await?, 2);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::from_mio(mio::net::UnixDatagram::from_std(socket))
    }

    #[track_caller]
    fn from_mio(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: IoSource::new(socket)?,
        })
    }

    /// Sets the default peer: [`send`](Self::send) goes there and only its datagrams
    /// are received.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-dgram-connect", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("dgram-connect.sock");
    /// use pride::net::UnixDatagram;
    ///
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// client.send(b"hello").await?;
    /// let mut buf = [0; 16];
    /// let n = server.recv(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hello");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.get_ref().connect(path)
    }

    /// Sends `buf` as one datagram to the socket file `target`.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-dgram-send-to", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("dgram-send-to.sock");
    /// use pride::net::UnixDatagram;
    ///
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// assert_eq!(client.send_to(b"hello", &path).await?, 5);
    /// let mut buf = [0; 16];
    /// assert_eq!(server.recv(&mut buf).await?, 5);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send_to(&self, buf: &[u8], target: impl AsRef<Path>) -> io::Result<usize> {
        let target = target.as_ref();
        self.io
            .async_io(Direction::Write, |s| s.send_to(buf, target))
            .await
    }

    /// Receives one datagram into `buf`; returns its length and sender (unnamed if the
    /// sender is unbound). A datagram longer than `buf` is truncated.
    ///
    /// ```
    /// # pride::run(async {
    /// # let dir = std::env::temp_dir().join(format!("pride-doc-{}-dgram-recv-from", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("dgram-recv-from.sock");
    /// use pride::net::UnixDatagram;
    ///
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.send_to(b"hello", &path).await?;
    /// let mut buf = [0; 16];
    /// let (n, from) = server.recv_from(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hello");
    /// assert!(from.is_unnamed()); // the client never bound a path
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, |s| s.recv_from(buf))
            .await
    }

    /// Sends `buf` to the connected peer.
    ///
    /// ```
    /// # pride::run(async {
    /// let (a, b) = pride::net::UnixDatagram::pair()?;
    /// assert_eq!(a.send(b"hello").await?, 5);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Write, |s| s.send(buf)).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// ```
    /// # pride::run(async {
    /// let (a, b) = pride::net::UnixDatagram::pair()?;
    /// a.send(b"hello").await?;
    /// let mut buf = [0; 16];
    /// let n = b.recv(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hello");
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Read, |s| s.recv(buf)).await
    }

    /// This socket's address.
    ///
    /// ```
    /// # pride::run(async {
    /// let (a, b) = pride::net::UnixDatagram::pair()?;
    /// assert!(a.local_addr()?.is_unnamed()); // a pair has no paths
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// ```
    /// # pride::run(async {
    /// let (a, b) = pride::net::UnixDatagram::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts down reading, writing or both. A send after `shutdown(Write)` fails; a
    /// receive after `shutdown(Read)` gets what was queued before it, then waits for
    /// ever (until it is cancelled), as nothing can arrive any more.
    ///
    /// ```
    /// # pride::run(async {
    /// let (a, b) = pride::net::UnixDatagram::pair()?;
    /// a.shutdown(std::net::Shutdown::Write)?;
    /// assert!(a.send(b"late").await.is_err());
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// # pride::run(async {
    /// let (a, b) = pride::net::UnixDatagram::pair()?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}
