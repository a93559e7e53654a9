//! Unix-domain sockets on the public API: an echo server and clients in one task
//! group, `pair`, half-close.
#![cfg(unix)]

use std::net::Shutdown;
use std::path::PathBuf;

use crate::common::run;
use futures_lite::AsyncReadExt;
use pride::net::{UnixDatagram, UnixListener, UnixStream};
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
                futures_lite::io::copy(&mut reader, &mut writer).await?;
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
fn an_empty_read_returns_at_once_on_an_idle_stream() {
    run(2, 60, || async {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut empty = [0u8; 0];
        // Nothing was sent: a read that waited for data would stay pending.
        let first = futures_lite::future::poll_once(a.read(&mut empty)).await;
        assert!(matches!(first, Some(Ok(0))), "{first:?}");
        let (reader, _writer) = a.into_split();
        let half = futures_lite::future::poll_once(reader.read(&mut empty)).await;
        assert!(matches!(half, Some(Ok(0))), "{half:?}");
    });
}

#[test]
fn an_empty_write_returns_at_once_on_a_full_stream() {
    run(2, 60, || async {
        let (a, _b) = UnixStream::pair().unwrap();
        // The peer never reads: fill the buffer until a write would block, so that
        // the stream is not known to be writable.
        let chunk = [0u8; 64 * 1024];
        loop {
            match a.try_write(&chunk) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        // A write that waited for room would stay pending.
        let first = futures_lite::future::poll_once(a.write(&[])).await;
        assert!(matches!(first, Some(Ok(0))), "{first:?}");
        let (_reader, writer) = a.into_split();
        let half = futures_lite::future::poll_once(writer.write(&[])).await;
        assert!(matches!(half, Some(Ok(0))), "{half:?}");
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

/// A connect dropped after a poll that returned `Pending` made no connection; one that
/// completed made exactly one. (On Linux a Unix connect to a listener with room is
/// complete once the system call returns: waiting after it would leave a connection
/// in the backlog for a future dropped there.)
#[test]
fn a_dropped_unix_connect_made_no_connection() {
    let socket = TempSocket::new("dropped-connect");
    let path = socket.path();
    run(2, 30, move || async move {
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let completed = {
            let mut connect = std::pin::pin!(UnixStream::connect(&path));
            futures_lite::future::poll_once(connect.as_mut()).await
        };
        let backlog = std::iter::from_fn(|| match listener.accept() {
            Ok(_) => Some(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => panic!("{e}"),
        })
        .count();
        match completed {
            Some(stream) => {
                stream.unwrap();
                assert_eq!(backlog, 1, "a completed connect made one connection");
            }
            None => assert_eq!(backlog, 0, "a connect dropped while it waited connected"),
        }
    });
}

#[test]
fn datagrams_between_bound_sockets_keep_their_boundaries() {
    let dir = TempSocket::new("dgram");
    let (path_a, path_b) = (dir.dir.join("a.sock"), dir.dir.join("b.sock"));
    run(2, 60, move || async move {
        let a = UnixDatagram::bind(&path_a).unwrap();
        let b = UnixDatagram::bind(&path_b).unwrap();
        assert_eq!(
            a.local_addr().unwrap().as_pathname(),
            Some(path_a.as_path())
        );
        a.send_to(b"first", &path_b).await.unwrap();
        a.send_to(b"second", &path_b).await.unwrap();
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"first");
        assert_eq!(from.as_pathname(), Some(path_a.as_path()));
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second");
    });
}

#[test]
fn an_unbound_datagram_socket_connects_and_sends() {
    let dir = TempSocket::new("dgram-unbound");
    let path = dir.path();
    run(2, 60, move || async move {
        let server = UnixDatagram::bind(&path).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.connect(&path).unwrap();
        assert_eq!(
            client.peer_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        client.send(b"hello").await.unwrap();
        let mut buf = [0; 8];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert!(from.is_unnamed());
    });
}

#[test]
fn a_cancelled_datagram_recv_loses_nothing() {
    run(2, 60, || async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut buf = [0; 8];
        let cut = pride::move_on_after(std::time::Duration::from_millis(20), b.recv(&mut buf));
        assert!(cut.await.is_none());
        a.send(b"later").await.unwrap();
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"later");
        a.shutdown(Shutdown::Write).unwrap();
        assert!(a.send(b"x").await.is_err());
    });
}

/// After `shutdown(Read)` the socket stays "read closed", yet a receive finds nothing:
/// the receive must wait (cancellable), not retry inside one poll for ever.
#[test]
fn a_datagram_recv_after_shutdown_read_waits_and_can_be_cancelled() {
    run(2, 10, || async {
        let (a, b) = UnixDatagram::pair().unwrap();
        b.send(b"queued").await.unwrap();
        a.shutdown(Shutdown::Read).unwrap();
        let mut buf = [0; 16];
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"queued");
        let later = pride::move_on_after(std::time::Duration::from_millis(50), a.recv(&mut buf));
        assert!(later.await.is_none());
    });
}

/// Sends `data` on `socket` with one descriptor (the socket's own) attached as
/// `SCM_RIGHTS`.
#[cfg(target_os = "linux")]
fn send_with_a_descriptor(socket: &std::os::unix::net::UnixStream, data: &[u8]) {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let fd_len = std::mem::size_of::<libc::c_int>() as libc::c_uint;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_len) } as usize;
    // `u64`s: the control buffer must be aligned for a `cmsghdr`.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: `msghdr` is plain data, valid when zeroed.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` points at `control`, aligned and `space` bytes long, room for one
    // header and one descriptor: CMSG_FIRSTHDR returns its start (not null), and the
    // header and CMSG_DATA's descriptor lie inside it. sendmsg only reads `data`
    // through `iov` (it is not written), and `control`.
    let sent = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(fd_len) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd);
        libc::sendmsg(fd, &msg, 0)
    };
    assert_eq!(
        sent,
        data.len() as isize,
        "{}",
        std::io::Error::last_os_error()
    );
}

/// The kernel ends a Unix stream read after a message that carried descriptors: a
/// short read has not emptied the socket, and the bytes queued behind it (there
/// before the first read, so no new edge announces them) must still be read.
#[cfg(target_os = "linux")]
#[test]
fn a_read_cut_short_after_a_descriptor_leaves_the_rest_readable() {
    run(2, 10, || async {
        let (std_a, std_b) = std::os::unix::net::UnixStream::pair().unwrap();
        send_with_a_descriptor(&std_a, b"abc");
        std::io::Write::write_all(&mut &std_a, b"def").unwrap();
        let b = UnixStream::from_std(std_b).unwrap();
        let mut buf = [0; 64];
        let n = b.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"abc");
        let n = b.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"def");
    });
}

/// A socket outlives the runtime it was made in: nothing drives its readiness any
/// more, so a read, whether it starts after the drop or was already waiting, fails
/// with a clear error instead of waiting for ever.
#[test]
fn a_socket_whose_runtime_is_dropped_fails_instead_of_waiting() {
    use std::pin::pin;
    crate::common::watchdog(20, || {
        let first = crate::common::runtime(1);
        let ((a, _b), (c, _d)) =
            first.block_on(async { (UnixStream::pair().unwrap(), UnixStream::pair().unwrap()) });
        let (polled, waiting) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            crate::common::runtime(1).block_on(async move {
                let mut buf = [0; 8];
                let mut read = pin!(c.read(&mut buf));
                assert!(
                    futures_lite::future::poll_once(read.as_mut())
                        .await
                        .is_none()
                );
                polled.send(()).unwrap();
                read.await.unwrap_err()
            })
        });
        waiting.recv().unwrap();
        drop(first);
        let woken = waiter.join().unwrap();
        assert_eq!(woken.kind(), std::io::ErrorKind::Other);
        assert!(woken.to_string().contains("gone"), "{woken}");
        crate::common::runtime(1).block_on(async move {
            let mut buf = [0; 8];
            let late = a.read(&mut buf).await.unwrap_err();
            assert!(late.to_string().contains("gone"), "{late}");
            assert!(a.readable().await.is_err());
        });
    });
}

/// Once the runtime is gone only what would wait fails: `readable()` on a stream with
/// data queued, and `writable()` on one with room, need not wait and succeed; once the
/// data is read, `readable()` would wait and fails.
#[test]
fn readiness_already_seen_after_the_runtime_is_gone() {
    crate::common::watchdog(20, || {
        let first = crate::common::runtime(1);
        let (a, b) = first.block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            a.write_all(b"data").await.unwrap();
            b.readable().await.unwrap();
            a.writable().await.unwrap();
            (a, b)
        });
        drop(first);
        crate::common::runtime(1).block_on(async move {
            let mut buf = [0; 4];
            assert_eq!(b.try_read(&mut buf[..2]).unwrap(), 2);
            let readable = b.readable().await;
            assert!(
                readable.is_ok(),
                "readable() failed with data queued: {readable:?}"
            );
            assert_eq!(b.read(&mut buf).await.unwrap(), 2);
            let writable = a.writable().await;
            assert!(
                writable.is_ok(),
                "writable() failed with room: {writable:?}"
            );
            let e = b.read(&mut buf).await.unwrap_err();
            assert!(e.to_string().contains("gone"), "{e}");
            let e = b.readable().await.unwrap_err();
            assert!(e.to_string().contains("gone"), "{e}");
        });
    });
}

/// A connect to a listener whose backlog is full waits for room, as a blocking
/// connect does, instead of failing with the non-blocking socket's `WouldBlock`; an
/// accept makes room and the connect completes.
#[test]
fn a_connect_to_a_full_backlog_waits_for_room() {
    connect_to_a_full_backlog(crate::common::builder(2), "backlog");
}

/// The same on a mock clock, which only moves when told to: the wait for room is in
/// real time (it waits for the kernel), so the clock does not hold it up.
#[test]
fn a_connect_to_a_full_backlog_waits_in_real_time_on_a_mock_clock() {
    let mut builder = crate::common::builder(2);
    builder.clock(pride::time::Clock::mock());
    connect_to_a_full_backlog(builder, "backlog-mock");
}

fn connect_to_a_full_backlog(builder: pride::Builder, name: &str) {
    use std::pin::pin;
    let socket = TempSocket::new(name);
    let path = socket.path();
    crate::common::block_on(20, &builder, move || async move {
        let start = pride::current_time();
        let address = socket2::SockAddr::unix(&path).unwrap();
        let listening =
            socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        listening.bind(&address).unwrap();
        listening.listen(0).unwrap();
        let listener = UnixListener::from_std(listening.into()).unwrap();
        // Fill the backlog with plain non-blocking connects, until one is refused.
        let mut queued = Vec::new();
        loop {
            let client =
                socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
            client.set_nonblocking(true).unwrap();
            match client.connect(&address) {
                Ok(()) => queued.push(client),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("connect: {e}"),
            }
            assert!(queued.len() < 1024, "the backlog never filled");
        }
        let mut connect = pin!(UnixStream::connect(&path));
        let first = futures_lite::future::poll_once(connect.as_mut()).await;
        assert!(first.is_none(), "did not wait for room: {first:?}");
        let (_accepted, _) = listener.accept().await.unwrap();
        connect.await.unwrap();
        assert!(
            pride::current_time() - start < std::time::Duration::from_secs(5),
            "the clock jumped"
        );
    });
}

/// The autojump clock jumps only when every task is blocked with nothing new to see:
/// readiness the kernel already holds is dispatched first. Bytes written into a socket
/// pair before the read began (a Unix socket hands them to the peer in the write
/// itself) are read under a deadline, in every round, instead of time jumping to the
/// deadline first.
#[test]
fn autojump_sees_bytes_already_sent_before_it_jumps() {
    crate::common::autojump(120, || async {
        for round in 0..50 {
            let (a, b) = UnixStream::pair().unwrap();
            a.write_all(b"hi").await.unwrap();
            let mut buf = [0; 4];
            let read = pride::move_on_after(std::time::Duration::from_secs(1), b.read(&mut buf))
                .await
                .unwrap_or_else(|| panic!("round {round}: the deadline fired first"));
            assert_eq!(read.unwrap(), 2);
        }
    });
}

/// The same for a connection: a Unix `connect` is complete when it returns, so a
/// listener already waiting in `accept` under a deadline takes it in every round.
#[test]
fn autojump_sees_a_connection_already_made_before_it_jumps() {
    let socket = TempSocket::new("autojump-accept");
    let path = socket.path();
    // One worker: it runs both children, and then finds every task blocked.
    let mut builder = crate::common::builder(1);
    builder.clock(pride::time::Clock::autojump());
    crate::common::block_on(120, &builder, move || async move {
        let listener = std::sync::Arc::new(UnixListener::bind(&path).unwrap());
        for round in 0..50 {
            let accepted = pride::Event::new();
            task_group(async |tg| {
                let (listener, done) = (listener.clone(), accepted.clone());
                tg.start_soon(async move {
                    pride::move_on_after(std::time::Duration::from_secs(1), listener.accept())
                        .await
                        .unwrap_or_else(|| panic!("round {round}: the deadline fired first"))
                        .unwrap();
                    done.set();
                });
                let (path, accepted) = (path.clone(), accepted.clone());
                tg.start_soon(async move {
                    // Connected while the listener waits; then blocked until it accepted.
                    let _client = UnixStream::connect(&path).await.unwrap();
                    accepted.wait().await;
                });
            })
            .await
            .unwrap();
        }
    });
}
