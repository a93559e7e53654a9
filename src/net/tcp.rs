//! TCP: [`TcpListener`] and [`TcpStream`], and the stream's split halves.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

use super::addr::{ToSocketAddrs, each_addr};
use super::reactor::IoSource;
use super::scheduled_io::Direction;

/// A TCP socket listening for connections.
///
/// ```
/// use pride::net::{TcpListener, TcpStream};
///
/// pride::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = TcpStream::connect(addr).await.unwrap();
///     let (server, peer) = listener.accept().await.unwrap();
///     assert_eq!(peer, client.local_addr().unwrap());
///     assert_eq!(server.peer_addr().unwrap(), peer);
/// });
/// ```
#[derive(Debug)]
pub struct TcpListener {
    io: IoSource<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (with `SO_REUSEADDR`), trying each resolved address in turn.
    /// Port 0 picks a free port; see [`local_addr`](Self::local_addr).
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// use pride::net::TcpListener;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// assert_ne!(listener.local_addr()?.port(), 0);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr.resolved(), async |addr| {
            TcpListener::from_mio(mio::net::TcpListener::bind(addr)?)
        })
        .await
    }

    /// Wraps a bound std listener (it is switched to non-blocking mode).
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let listener = pride::net::TcpListener::from_std(std_listener)?;
    /// # drop(listener);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(listener))
    }

    #[track_caller]
    fn from_mio(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: IoSource::new(listener)?,
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Cancel-safe: dropped before it completes, no connection was taken. An error
    /// (such as `EMFILE` when the process is out of file descriptors) is returned as
    /// it is, and the listener stays usable. When the kernel refused the connection's
    /// descriptor, the pending connection stays queued, so a loop that retries at once
    /// spins until descriptors free up: sleep a little before retrying. When the
    /// connection was taken but could not be registered with the reactor, it is
    /// closed, and the error returned.
    ///
    /// ```
    /// # pride::run(async {
    /// use pride::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (server, peer) = listener.accept().await?;
    /// assert_eq!(peer, client.local_addr()?);
    /// # drop(server);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.io.async_io(Direction::Read, |l| l.accept()).await?;
        Ok((TcpStream::from_mio(stream)?, addr))
    }

    /// Polls for a connection, like [`accept`](Self::accept). A poll that must wait
    /// replaces the waker of the last one: one task at a time polls a listener this
    /// way (tasks that share it use `accept`, whose futures are each woken).
    ///
    /// ```
    /// # pride::run(async {
    /// use std::future::poll_fn;
    /// use pride::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let _client = TcpStream::connect(listener.local_addr()?).await?;
    /// let (_server, _peer) = poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.io
            .poll_io(cx, Direction::Read, |l| l.accept())
            .map(|result| {
                let (stream, addr) = result?;
                Ok((TcpStream::from_mio(stream)?, addr))
            })
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// # pride::run(async {
    /// let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// assert!(addr.ip().is_loopback());
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// # pride::run(async {
    /// let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// listener.set_ttl(64)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }
}

/// A TCP connection.
///
/// Read and write with the `async fn`s on `&self` ([`read`](Self::read),
/// [`write`](Self::write), ...), or through [`futures_io::AsyncRead`] and
/// [`futures_io::AsyncWrite`] (implemented for `TcpStream` and `&TcpStream`), e.g. with
/// `futures_lite::{AsyncReadExt, AsyncWriteExt}`. `poll_close` shuts the write side.
///
/// ```
/// use pride::net::{TcpListener, TcpStream};
/// use std::net::Shutdown;
///
/// pride::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
///     let (server, _) = listener.accept().await.unwrap();
///     client.set_nodelay(true).unwrap();
///     client.write_all(b"ping").await.unwrap();
///     client.shutdown(Shutdown::Write).unwrap();
///     let mut buf = [0; 8];
///     assert_eq!(server.read(&mut buf).await.unwrap(), 4);
///     assert_eq!(server.read(&mut buf).await.unwrap(), 0); // end of file
/// });
/// ```
#[derive(Debug)]
pub struct TcpStream {
    io: IoSource<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in turn; returns the last
    /// error (such as `ConnectionRefused`) if none accepts.
    ///
    /// The connect is non-blocking: the task waits for the socket to become writable
    /// and then reads the socket's error. Dropping the future abandons the attempt.
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// use pride::net::{TcpListener, TcpStream};
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = TcpStream::connect(listener.local_addr()?).await?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr.resolved(), TcpStream::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?)?;
        stream.wait_connected().await?;
        Ok(stream)
    }

    /// Waits until a non-blocking connect started on this socket has completed.
    pub(super) async fn wait_connected(&self) -> io::Result<()> {
        self.io
            .async_io(Direction::Write, |s| {
                if let Some(e) = s.take_error()? {
                    return Err(e);
                }
                match s.peer_addr() {
                    Ok(_) => Ok(()),
                    // Writable but not connected yet: wait for the next edge.
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Err(e) => Err(e),
                }
            })
            .await
    }

    /// Wraps a connected std stream (it is switched to non-blocking mode).
    ///
    /// # Panics
    /// Outside a pride runtime.
    ///
    /// ```
    /// # pride::run(async {
    /// let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let stream = pride::net::TcpStream::from_std(std_stream)?;
    /// let (_server, peer) = listener.accept().await?;
    /// assert_eq!(peer, stream.local_addr()?);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    #[track_caller]
    fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: IoSource::new(stream)?,
        })
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// ```
    /// # pride::run(async {
    /// # let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = pride::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// # pride::run(async {
    /// # let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = pride::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(!stream.nodelay()?); // off by default
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// # pride::run(async {
    /// # let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = pride::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_ttl(64)?;
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }
}

/// Socket options that std does not expose, through `socket2`.
impl TcpStream {
    /// Sets `SO_KEEPALIVE`: the kernel probes an idle connection and reports a dead
    /// peer as an error on the next read or write.
    ///
    /// ```
    /// # pride::run(async {
    /// # let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = pride::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_keepalive(true)?;
    /// assert!(stream.keepalive()?);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_keepalive(keepalive)
    }

    /// Turns keepalive on, with the first probe after `idle` without traffic.
    ///
    /// ```
    /// # pride::run(async {
    /// # let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = pride::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_keepalive_idle(std::time::Duration::from_secs(60))?;
    /// assert!(stream.keepalive()?);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_keepalive_idle(&self, idle: Duration) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))
    }

    /// Whether `SO_KEEPALIVE` is set.
    ///
    /// ```
    /// # pride::run(async {
    /// # let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = pride::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(!stream.keepalive()?); // off by default
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn keepalive(&self) -> io::Result<bool> {
        SockRef::from(self.io.get_ref()).keepalive()
    }

    /// Sets `SO_SNDBUF`; the kernel may round it (Linux doubles it).
    ///
    /// ```
    /// # pride::run(async {
    /// # let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = pride::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_send_buffer_size(64 * 1024)?;
    /// assert!(stream.send_buffer_size()? >= 64 * 1024);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_send_buffer_size(size)
    }

    /// The send buffer size (`SO_SNDBUF`).
    ///
    /// ```
    /// # pride::run(async {
    /// # let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = pride::net::TcpStream::connect(listener.local_addr()?).await?;
    /// println!("send buffer: {} bytes", stream.send_buffer_size()?);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        SockRef::from(self.io.get_ref()).send_buffer_size()
    }

    /// Sets `SO_RCVBUF`; the kernel may round it (Linux doubles it).
    ///
    /// ```
    /// # pride::run(async {
    /// # let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = pride::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_recv_buffer_size(64 * 1024)?;
    /// assert!(stream.recv_buffer_size()? >= 64 * 1024);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_recv_buffer_size(size)
    }

    /// The receive buffer size (`SO_RCVBUF`).
    ///
    /// ```
    /// # pride::run(async {
    /// # let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = pride::net::TcpStream::connect(listener.local_addr()?).await?;
    /// println!("receive buffer: {} bytes", stream.recv_buffer_size()?);
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        SockRef::from(self.io.get_ref()).recv_buffer_size()
    }
}

stream_impls!(
    TcpStream,
    SocketAddr,
    "# let listener = pride::net::TcpListener::bind(\"127.0.0.1:0\").await?;\n# let mut a = pride::net::TcpStream::connect(listener.local_addr()?).await?;\n# let (b, _) = listener.accept().await?;\n"
);
