//! TCP on the public API: echo in one task group, many concurrent connections,
//! half-close, a reset peer, a refused connect, a cancelled read that loses nothing,
//! split halves. Loopback only; every loop is bounded; no assertion races the clock.

use std::future::Future;
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::run;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use pride::net::{TcpListener, TcpStream};
use pride::{BoxError, Event, TaskStatus, move_on_after, task_group};

/// An echo server: accepts until cancelled, echoes each connection until EOF.
async fn echo_server(status: TaskStatus<SocketAddr>) -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    status.started(listener.local_addr()?);
    task_group(async |tg| {
        loop {
            let (socket, _) = listener.accept().await?;
            tg.start_soon(async move {
                let mut buf = vec![0; 4096];
                loop {
                    let n = socket.read(&mut buf).await?;
                    if n == 0 {
                        return Ok::<_, std::io::Error>(());
                    }
                    socket.write_all(&buf[..n]).await?;
                }
            });
        }
        #[allow(unreachable_code)]
        Ok::<_, std::io::Error>(())
    })
    .await?;
    Ok(())
}

#[test]
fn echo_server_and_client_in_one_group() {
    run(4, 60, || async {
        task_group(async |tg| {
            let addr = tg.start(echo_server).await?;
            let mut client = TcpStream::connect(addr).await?;
            for round in 0..10u8 {
                let msg = [round; 100];
                client.write_all(&msg).await?;
                let mut back = [0; 100];
                client.read_exact(&mut back).await?;
                assert_eq!(back, msg);
            }
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn a_thousand_concurrent_connections() {
    const CONNECTIONS: usize = 1000;
    run(4, 60, || async {
        let echoed = Arc::new(AtomicUsize::new(0));
        task_group(async |tg| {
            let addr = tg.start(echo_server).await?;
            let all_connected = Arc::new(Event::new());
            let connected = Arc::new(AtomicUsize::new(0));
            task_group(async |clients| {
                for i in 0..CONNECTIONS {
                    let (echoed, connected, all_connected) =
                        (echoed.clone(), connected.clone(), all_connected.clone());
                    clients.start_soon(async move {
                        let mut stream = TcpStream::connect(addr).await?;
                        // Hold every connection open at once before talking.
                        if connected.fetch_add(1, Ordering::SeqCst) + 1 == CONNECTIONS {
                            all_connected.set();
                        }
                        all_connected.wait().await;
                        let msg = (i as u64).to_le_bytes();
                        stream.write_all(&msg).await?;
                        let mut back = [0; 8];
                        stream.read_exact(&mut back).await?;
                        assert_eq!(back, msg);
                        echoed.fetch_add(1, Ordering::SeqCst);
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
        assert_eq!(echoed.load(Ordering::SeqCst), CONNECTIONS);
    });
}

#[test]
fn half_close_then_read_to_eof() {
    run(4, 60, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        task_group(async |tg| {
            tg.start_soon(async move {
                let (mut socket, _) = listener.accept().await?;
                let mut request = Vec::new();
                socket.read_to_end(&mut request).await?;
                // The client's write side is closed, ours is still open.
                socket.write_all(&request).await?;
                socket.write_all(b"!").await?;
                socket.close().await?;
                Ok::<_, std::io::Error>(())
            });
            let mut client = TcpStream::connect(addr).await?;
            client.write_all(b"request").await?;
            client.shutdown(Shutdown::Write)?;
            let mut reply = Vec::new();
            client.read_to_end(&mut reply).await?;
            assert_eq!(reply, b"request!");
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn a_peer_reset_mid_read_is_an_error_not_a_hang() {
    run(4, 60, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(b"unread").await.unwrap();
        server.readable().await.unwrap();
        // Closing a socket with unread data makes the kernel send a reset.
        drop(server);
        let mut buf = [0; 16];
        let error = client.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    });
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    run(4, 60, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let error = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error}");
    });
}

#[test]
fn a_timed_out_read_leaves_the_connection_usable() {
    run(4, 60, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut buf = [0; 16];
        // Nothing was sent: the read is cancelled by the scope's deadline.
        for _ in 0..3 {
            let read = move_on_after(Duration::from_millis(20), client.read(&mut buf)).await;
            assert!(read.is_none());
        }
        server.write_all(b"later").await.unwrap();
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"later");
        // And writing the other way still works.
        client.write_all(b"back").await.unwrap();
        let n = server.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");
    });
}

#[test]
fn a_read_cancelled_after_its_wake_up_loses_nothing() {
    run(4, 60, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut buf = [0; 16];
        // Poll a read once (it registers and waits), let data arrive, then drop the
        // read without polling it again: the readiness must still be there.
        {
            let mut read = std::pin::pin!(client.read(&mut buf));
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            assert!(read.as_mut().poll(&mut cx).is_pending());
            server.write_all(b"kept").await.unwrap();
            pride::sleep(Duration::from_millis(20)).await;
        }
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"kept");
    });
}

/// A read that returns less than its buffer clears the socket's readiness without a
/// `WouldBlock` read: data that lands during or right after it must still wake the
/// next read. Many small writes race reads into a large buffer.
#[test]
fn data_arriving_around_short_reads_is_all_read() {
    run(2, 60, || async {
        const WRITES: usize = 5_000;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        task_group(async |tg| {
            tg.start_soon(async move {
                for i in 0..WRITES {
                    server.write_all(&[i as u8; 3][..1 + i % 3]).await?;
                    if i % 7 == 0 {
                        pride::yield_now().await;
                    }
                }
                Ok::<_, std::io::Error>(())
            });
            let expected: usize = (0..WRITES).map(|i| 1 + i % 3).sum();
            let mut buf = vec![0; 64 << 10];
            let mut total = 0;
            while total < expected {
                let n = client.read(&mut buf).await?;
                assert!(n > 0, "EOF after {total} of {expected} bytes");
                total += n;
            }
            assert_eq!(total, expected);
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn owned_halves_read_and_write_from_two_tasks() {
    run(4, 60, || async {
        const ROUNDS: usize = 200;
        task_group(async |tg| {
            let addr = tg.start(echo_server).await?;
            let (reader, writer) = TcpStream::connect(addr).await?.into_split();
            tg.start_soon(async move {
                for i in 0..ROUNDS {
                    writer.write_all(&(i as u32).to_le_bytes()).await?;
                }
                // Dropping the write half shuts the write side: the echo ends.
                Ok::<_, std::io::Error>(())
            });
            let mut reader = reader;
            let mut all = Vec::new();
            reader.read_to_end(&mut all).await?;
            assert_eq!(all.len(), ROUNDS * 4);
            for (i, chunk) in all.chunks(4).enumerate() {
                assert_eq!(u32::from_le_bytes(chunk.try_into().unwrap()), i as u32);
            }
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn borrowed_halves_and_socket_options() {
    run(4, 60, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(client.local_addr().unwrap(), peer);
        assert_eq!(client.peer_addr().unwrap(), listener.local_addr().unwrap());
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        // `AsyncReadExt::split` (by value) would win over `client.split()`.
        let (read, write) = TcpStream::split(&mut client);
        let (sent, received) = futures_lite::future::zip(
            async {
                write.write_all(b"ping").await.unwrap();
                server.write_all(b"pong").await.unwrap();
            },
            async {
                let mut buf = [0; 4];
                let mut got = 0;
                while got < 4 {
                    got += read.read(&mut buf[got..]).await.unwrap();
                }
                buf
            },
        )
        .await;
        let () = sent;
        assert_eq!(&received, b"pong");
        let mut buf = [0; 4];
        assert_eq!(server.read(&mut buf).await.unwrap(), 4);
    });
}

#[test]
fn sockets_dropped_and_recreated_reuse_slots() {
    run(4, 60, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for i in 0..300u32 {
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            client.write_all(&i.to_le_bytes()).await.unwrap();
            let mut buf = [0; 4];
            let mut got = 0;
            while got < 4 {
                got += server.read(&mut buf[got..]).await.unwrap();
            }
            assert_eq!(u32::from_le_bytes(buf), i);
        }
    });
}

#[test]
fn connect_resolves_host_names() {
    run(4, 60, || async {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect(format!("localhost:{port}")).await;
        // `localhost` may resolve to ::1 first on some hosts; any address that worked
        // must be our listener.
        let client = client.unwrap();
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(client.local_addr().unwrap(), peer);
    });
}

/// How many bytes sent on `socket` the peer has not acknowledged yet (`SIOCOUTQ`): at
/// 0, every byte is in the peer's receive queue.
#[cfg(target_os = "linux")]
fn unacknowledged(socket: &std::net::TcpStream) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: the descriptor is open (borrowed from `socket`) and `SIOCOUTQ` writes
    // one `c_int` through the pointer, which points at `n`.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    assert_eq!(rc, 0, "SIOCOUTQ: {}", std::io::Error::last_os_error());
    n as usize
}

/// The kernel ends a TCP read at the urgent mark: a read that returns fewer bytes than
/// asked for has not emptied the socket, and the bytes behind the mark (there before
/// the first read, so no new edge announces them) must still be read.
#[cfg(target_os = "linux")]
#[test]
fn a_read_cut_short_at_the_urgent_mark_leaves_the_rest_readable() {
    use std::io::Write;
    run(2, 10, || async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"abc").unwrap();
        socket2::SockRef::from(&client)
            .send_out_of_band(b"X")
            .unwrap();
        client.write_all(b"def").unwrap();
        // Everything is queued before the first read: "abc", the urgent "X", "def".
        while unacknowledged(&client) > 0 {
            std::thread::yield_now();
        }
        let server = TcpStream::from_std(server).unwrap();
        let mut buf = [0; 64];
        let n = server.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"abc");
        let n = server.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"def");
    });
}

/// `readable()` and `writable()` that find their readiness at once spend the task's
/// cooperative budget, as a read does: a loop that waits on a socket that stays ready
/// (unread bytes, room to write) lets the worker run a sibling, here the one that ends
/// the loop, on a runtime with one worker (it hung before).
#[test]
fn a_loop_over_ready_readiness_waits_lets_a_sibling_run() {
    run(1, 30, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write(b"unread").await.unwrap();
        server.readable().await.unwrap();
        let (client, server) = (Arc::new(client), Arc::new(server));
        task_group(async |tg| {
            let group = tg.clone();
            // A child, on the worker (the body runs on the `block_on` thread).
            tg.start_soon(async move {
                let stop = Event::new();
                let set = stop.clone();
                group.start_soon(async move { set.set() });
                while !stop.is_set() {
                    server.readable().await.unwrap();
                    client.writable().await.unwrap();
                }
            });
        })
        .await
        .unwrap();
    });
}
