//! Networking: TCP, UDP and Unix-domain sockets driven by the runtime's reactor.
//!
//! Every socket registers with the reactor of the runtime it was created in (so it
//! must be created inside a runtime) and is deregistered when dropped. Operations are
//! `async fn`s on `&self`, plus [`futures_io::AsyncRead`] and [`futures_io::AsyncWrite`]
//! for the stream types, so `futures_util::{AsyncReadExt, AsyncWriteExt}` work as they
//! are.
//!
//! **Cancel safety.** Cancellation drops a future at its suspension point. Every
//! single operation here (`accept`, `read`, `write`, `recv_from`, `send_to`, ...) is
//! cancel-safe: if its future is dropped before it completed, nothing was read,
//! written, accepted or sent, and the socket stays usable; a later call picks up
//! exactly where things were. Compound operations (`write_all`, `read_exact`) are not:
//! dropped halfway, part of the buffer may have been transferred.
//!
//! Rooms: `reactor.rs` (registrations, the slab, the driver's dispatch) and
//! `scheduled_io.rs` (one registration's readiness and waiters) hold the rules of the
//! reactor; `tcp.rs`, `udp.rs`, `unix.rs` the socket types; `addr.rs` address
//! resolution (host names resolve on the blocking pool).
//!
//! ```
//! use futures_util::{AsyncReadExt, AsyncWriteExt};
//! use pride::net::{TcpListener, TcpStream};
//!
//! pride::run(async {
//!     pride::task_group(async |tg| {
//!         let listener = TcpListener::bind("127.0.0.1:0").await?;
//!         let addr = listener.local_addr()?;
//!         tg.start_soon(async move {
//!             let (mut socket, _) = listener.accept().await?;
//!             let mut buf = [0; 5];
//!             socket.read_exact(&mut buf).await?;
//!             socket.write_all(&buf).await?;
//!             Ok::<_, std::io::Error>(())
//!         });
//!         let mut client = TcpStream::connect(addr).await?;
//!         client.write_all(b"hello").await?;
//!         let mut echoed = [0; 5];
//!         client.read_exact(&mut echoed).await?;
//!         assert_eq!(&echoed, b"hello");
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
#[macro_use]
mod stream;
pub mod tcp;
mod udp;
#[cfg(unix)]
pub mod unix;

pub use addr::ToSocketAddrs;
pub use serve::{Listener, Serve, serve};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixListener, UnixStream};
