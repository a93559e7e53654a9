//! UDP: [`UdpSocket`].

use std::io;
use std::net::SocketAddr;

use socket2::SockRef;

use super::addr::{ToSocketAddrs, each_addr, resolve};
use super::reactor::IoSource;
use super::scheduled_io::Direction;

/// A UDP socket.
///
/// Unconnected, it sends with [`send_to`](Self::send_to) and receives with
/// [`recv_from`](Self::recv_from); after [`connect`](Self::connect) it exchanges
/// datagrams with one peer through [`send`](Self::send) and [`recv`](Self::recv). All
/// methods take `&self`, so one socket can be shared by many tasks (in an `Arc`), and
/// each is cancel-safe: a dropped `recv*` lost no datagram, a dropped `send*` sent
/// nothing.
///
/// ```
/// use pride::net::UdpSocket;
///
/// pride::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"hi", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"hi");
///     assert_eq!(from, a.local_addr().unwrap());
/// });
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    io: IoSource<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`, trying each resolved address in turn.
    ///
    /// # Panics
    /// Outside a pride runtime.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(addr.resolved(), async |addr| {
            UdpSocket::from_mio(mio::net::UdpSocket::bind(addr)?)
        })
        .await
    }

    /// Wraps a bound std socket (it is switched to non-blocking mode).
    ///
    /// # Panics
    /// Outside a pride runtime.
    #[track_caller]
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::from_mio(mio::net::UdpSocket::from_std(socket))
    }

    #[track_caller]
    fn from_mio(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: IoSource::new(socket)?,
        })
    }

    /// Sets the default peer: [`send`](Self::send) goes there and only its datagrams
    /// are received.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(addr.resolved(), async |addr| {
            self.io.get_ref().connect(addr)
        })
        .await
    }

    /// Sends `buf` as one datagram to `target` (its first resolved address).
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = resolve(target.resolved()).await?[0];
        self.io
            .async_io(Direction::Write, |s| s.send_to(buf, target))
            .await
    }

    /// Receives one datagram into `buf`; returns its length and sender. A datagram
    /// longer than `buf` is truncated.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, |s| s.recv_from(buf))
            .await
    }

    /// Like [`recv_from`](Self::recv_from), but leaves the datagram queued.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Direction::Read, |s| s.peek_from(buf))
            .await
    }

    /// Sends `buf` to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Write, |s| s.send(buf)).await
    }

    /// Receives one datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Direction::Read, |s| s.recv(buf)).await
    }

    /// This socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Sets `SO_SNDBUF`; the kernel may round it (Linux doubles it).
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_send_buffer_size(size)
    }

    /// The send buffer size (`SO_SNDBUF`).
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        SockRef::from(self.io.get_ref()).send_buffer_size()
    }

    /// Sets `SO_RCVBUF`, the room for datagrams not yet received (a burst beyond it
    /// is dropped); the kernel may round it (Linux doubles it).
    ///
    /// ```
    /// pride::run(async {
    ///     let socket = pride::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     socket.set_recv_buffer_size(64 * 1024).unwrap();
    ///     assert!(socket.recv_buffer_size().unwrap() >= 64 * 1024);
    /// });
    /// ```
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_recv_buffer_size(size)
    }

    /// The receive buffer size (`SO_RCVBUF`).
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        SockRef::from(self.io.get_ref()).recv_buffer_size()
    }
}
