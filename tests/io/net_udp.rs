//! UDP on the public API: an echo server and clients in one task group, connected
//! sockets, a cancelled receive that loses no datagram. Loopback only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::run;
use pride::net::UdpSocket;
use pride::{BoxError, TaskStatus, move_on_after, task_group};

async fn udp_echo(status: TaskStatus<SocketAddr>) -> Result<(), BoxError> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    status.started(socket.local_addr()?);
    let mut buf = [0; 1500];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        socket.send_to(&buf[..n], from).await?;
    }
}

#[test]
fn echo_server_and_clients_in_one_group() {
    run(4, 60, || async {
        task_group(async |tg| {
            let addr = tg.start(udp_echo).await?;
            task_group(async |clients| {
                for c in 0..20u8 {
                    clients.start_soon(async move {
                        let socket = UdpSocket::bind("127.0.0.1:0").await?;
                        socket.connect(addr).await?;
                        assert_eq!(socket.peer_addr()?, addr);
                        for round in 0..10u8 {
                            socket.send(&[c, round]).await?;
                            let mut buf = [0; 16];
                            let n = socket.recv(&mut buf).await?;
                            assert_eq!(&buf[..n], &[c, round]);
                        }
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
fn a_cancelled_recv_loses_no_datagram() {
    run(4, 60, || async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = [0; 16];
        assert!(
            move_on_after(Duration::from_millis(20), b.recv_from(&mut buf))
                .await
                .is_none()
        );
        a.send_to(b"one", b.local_addr().unwrap()).await.unwrap();
        a.send_to(b"two", b.local_addr().unwrap()).await.unwrap();
        let (n, _) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one");
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"one"[..], a.local_addr().unwrap()));
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"two");
    });
}

#[test]
fn one_socket_shared_by_many_receivers() {
    run(4, 60, || async {
        const N: usize = 16;
        let server = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = server.local_addr().unwrap();
        let received = Arc::new(AtomicUsize::new(0));
        let all = Arc::new(pride::Event::new());
        task_group(async |tg| {
            // Several tasks wait on the same socket: every datagram reaches one of them.
            for _ in 0..4 {
                let (server, received, all) = (server.clone(), received.clone(), all.clone());
                tg.start_soon(async move {
                    let mut buf = [0; 8];
                    loop {
                        server.recv_from(&mut buf).await?;
                        if received.fetch_add(1, Ordering::SeqCst) + 1 == N {
                            all.set();
                        }
                    }
                    #[allow(unreachable_code)]
                    Ok::<_, std::io::Error>(())
                });
            }
            let client = UdpSocket::bind("127.0.0.1:0").await?;
            for i in 0..N as u8 {
                client.send_to(&[i], addr).await?;
            }
            all.wait().await;
            tg.cancel_scope().cancel();
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(received.load(Ordering::SeqCst), N);
    });
}

#[test]
fn buffer_sizes_can_be_raised() {
    run(2, 60, || async {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.set_recv_buffer_size(96 * 1024).unwrap();
        assert!(socket.recv_buffer_size().unwrap() >= 96 * 1024);
        socket.set_send_buffer_size(48 * 1024).unwrap();
        assert!(socket.send_buffer_size().unwrap() >= 48 * 1024);
        // Still a working socket.
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket
            .send_to(b"x", peer.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0; 1];
        assert_eq!(peer.recv_from(&mut buf).await.unwrap().0, 1);
    });
}

/// A `to_thread` closure runs in its runtime's context: a socket made there registers
/// with that runtime and works from its tasks. The closure is still no place that runs
/// inside a runtime: it may call `pride::run`, and is back in its runtime's context
/// after it.
#[test]
fn a_socket_made_in_to_thread_works_in_the_runtime() {
    run(2, 30, || async {
        let (socket, nested) = pride::to_thread(|| {
            let nested = pride::run(async { 7 });
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            (UdpSocket::from_std(socket).unwrap(), nested)
        })
        .await;
        assert_eq!(nested, 7);
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        peer.send_to(b"hi", socket.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0; 4];
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hi"[..], peer.local_addr().unwrap()));
    });
}
