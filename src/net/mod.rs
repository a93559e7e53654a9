//! Networking: TCP, UDP and Unix-domain sockets driven by the runtime's reactor.
//!
//! Every socket registers with the reactor of the runtime it was created in (so it
//! must be created inside a runtime) and is deregistered when dropped. A socket that
//! outlives that runtime can no longer wait: from the runtime's drop on, every
//! operation that would wait fails with an error (`ErrorKind::Other`, "the runtime
//! this socket, pipe or child process was made in is gone"; the pipes and child
//! processes of [`process`](crate::process) wait through the same reactor), and those
//! already waiting are woken with it.
//! Operations are
//! `async fn`s on `&self`, plus [`futures_io::AsyncRead`] and [`futures_io::AsyncWrite`]
//! for the stream types, so `futures_lite::{AsyncReadExt, AsyncWriteExt}` work as they
//! are.
//!
//! **Cancel safety.** Cancellation drops a future at its suspension point. Every
//! single operation here (`accept`, `read`, `write`, `recv_from`, `send_to`, ...) is
//! cancel-safe: if its future is dropped before it completed, nothing was read,
//! written, accepted or sent, and the socket stays usable; a later call picks up
//! exactly where things were. Compound operations (`write_all`, `read_exact`) are not:
//! dropped halfway, part of the buffer may have been transferred.
//!
//! The socket types are [`TcpListener`], [`TcpStream`], [`UdpSocket`] and, on Unix,
//! [`UnixListener`], [`UnixStream`] and [`UnixDatagram`]. [`TcpSocket`] sets options
//! before `listen`/`connect` (backlog, `SO_REUSEPORT`, buffer sizes), and
//! [`lookup_host`] resolves host names (on the blocking pool).
//!
//! **Servers.** [`serve`] is the accept loop: one isolated child per connection, so a
//! connection's error or panic is reported and ends that connection only; accept
//! errors (out of descriptors, a connection aborted in the backlog) are retried; a
//! connection limit and a graceful shutdown are options. Write your own loop only if
//! you must, and then start connections with `TaskGroup::start_soon_isolated`: with
//! plain `start_soon`, one failing client cancels the whole server.
//!
//! ```
//! use std::time::Duration;
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use pride::net::{TcpListener, TcpStream, serve};
//! use pride::shutdown::Shutdown;
//!
//! pride::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let shutdown = Shutdown::new();
//!     pride::task_group(async |tg| {
//!         let server = serve(listener, |mut socket: TcpStream, _peer| async move {
//!             let mut buf = [0; 5];
//!             socket.read_exact(&mut buf).await?;
//!             socket.write_all(&buf).await
//!         });
//!         tg.start_soon(server.graceful(shutdown.clone(), Duration::from_secs(5)));
//!
//!         // A client that hangs up mid-request fails its own connection only.
//!         TcpStream::connect(addr).await?.write_all(b"he").await?;
//!
//!         let mut client = TcpStream::connect(addr).await?;
//!         client.write_all(b"hello").await?;
//!         let mut echoed = [0; 5];
//!         client.read_exact(&mut echoed).await?;
//!         assert_eq!(&echoed, b"hello");
//!         shutdown.trigger();
//!         Ok::<_, std::io::Error>(())
//!     })
//!     .await
//!     .unwrap();
//! });
//! ```

mod addr;
pub(crate) mod reactor;
pub(crate) mod scheduled_io;
mod serve;
mod socket;
#[macro_use]
mod stream;
mod tcp;
mod udp;
#[cfg(unix)]
mod unix;

pub use addr::{ToSocketAddrs, lookup_host};
pub(crate) use scheduled_io::Direction;
pub use serve::{Listener, Serve, serve};
pub use socket::TcpSocket;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixListener, UnixStream};
