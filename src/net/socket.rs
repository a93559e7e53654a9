//! [`TcpSocket`]: a TCP socket configured before it listens or connects (with
//! `socket2`), for the options that must be set before `bind`/`listen`/`connect`.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use super::tcp::{TcpListener, TcpStream};

/// A TCP socket not yet listening or connected: set its options, [`bind`] it, then
/// turn it into a [`TcpListener`] with [`listen`] or a [`TcpStream`] with [`connect`].
///
/// This is the way to choose the listen backlog, `SO_REUSEPORT` (several listeners on
/// one port), buffer sizes, or a local address for an outgoing connection.
/// [`TcpListener::bind`] and [`TcpStream::connect`] cover the usual cases without it.
/// The socket is created non-blocking and close-on-exec.
///
/// [`bind`]: TcpSocket::bind
/// [`listen`]: TcpSocket::listen
/// [`connect`]: TcpSocket::connect
///
/// ```
/// use pride::net::{TcpSocket, TcpStream};
///
/// pride::run(async {
///     let socket = TcpSocket::new_v4().unwrap();
///     socket.set_reuseaddr(true).unwrap();
///     socket.set_recv_buffer_size(64 * 1024).unwrap();
///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let listener = socket.listen(128).unwrap();
///
///     let client = TcpSocket::new_v4().unwrap();
///     client.set_nodelay(true).unwrap();
///     let stream = client.connect(listener.local_addr().unwrap()).await.unwrap();
///     assert!(stream.nodelay().unwrap());
///     let (_server, peer) = listener.accept().await.unwrap();
///     assert_eq!(peer, stream.local_addr().unwrap());
/// });
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    socket: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// A new TCP socket of `addr`'s family (IPv4 or IPv6).
    pub fn for_addr(addr: SocketAddr) -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::for_address(addr))
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        Ok(TcpSocket { socket })
    }

    /// Sets `SO_REUSEADDR`: bind to a port still in `TIME_WAIT` from an earlier
    /// listener. [`TcpListener::bind`] sets it.
    pub fn set_reuseaddr(&self, reuse: bool) -> io::Result<()> {
        self.socket.set_reuse_address(reuse)
    }

    /// Whether `SO_REUSEADDR` is set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.socket.reuse_address()
    }

    /// Sets `SO_REUSEPORT`: several sockets (each setting it) may listen on one port,
    /// and the kernel spreads connections among them.
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    pub fn set_reuseport(&self, reuse: bool) -> io::Result<()> {
        self.socket.set_reuse_port(reuse)
    }

    /// Whether `SO_REUSEPORT` is set.
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    pub fn reuseport(&self) -> io::Result<bool> {
        self.socket.reuse_port()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm) on the future stream.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_tcp_nodelay(nodelay)
    }

    /// Sets `SO_KEEPALIVE`; see [`TcpStream::set_keepalive`].
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        self.socket.set_keepalive(keepalive)
    }

    /// Sets `SO_SNDBUF`; the kernel may round it (Linux doubles it).
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        self.socket.set_send_buffer_size(size)
    }

    /// The send buffer size (`SO_SNDBUF`).
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.socket.send_buffer_size()
    }

    /// Sets `SO_RCVBUF`; the kernel may round it (Linux doubles it).
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        self.socket.set_recv_buffer_size(size)
    }

    /// The receive buffer size (`SO_RCVBUF`).
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        self.socket.recv_buffer_size()
    }

    /// Binds to `addr`; port 0 picks a free port.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.socket.bind(&addr.into())
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("pride: a TCP socket with a non-IP address"))
    }

    /// Starts listening with a queue of up to `backlog` pending connections (the
    /// kernel may cap it, e.g. at `net.core.somaxconn`).
    ///
    /// # Panics
    /// Outside a pride runtime.
    #[track_caller]
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.socket
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        TcpListener::from_std(self.socket.into())
    }

    /// Connects to `addr`, like [`TcpStream::connect`] but with this socket's options
    /// (and local address, if bound). Dropping the future abandons the attempt.
    ///
    /// # Panics
    /// Outside a pride runtime.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        match self.socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if connect_in_progress(&e) => {}
            Err(e) => return Err(e),
        }
        let stream = TcpStream::from_std(self.socket.into())?;
        stream.wait_connected().await?;
        Ok(stream)
    }
}

/// Whether a non-blocking `connect` reported that it goes on in the background.
fn connect_in_progress(e: &io::Error) -> bool {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        return true;
    }
    e.kind() == io::ErrorKind::WouldBlock
}
