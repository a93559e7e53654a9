//! Socket options through `TcpSocket` and the stream's option methods, and
//! `lookup_host`, all on loopback.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::common::run;
use pride::net::{TcpListener, TcpSocket, TcpStream, lookup_host};

fn loopback() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

#[test]
fn a_configured_listener_accepts_and_a_configured_client_connects() {
    run(2, 60, || async {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        assert!(socket.reuseaddr().unwrap());
        socket.set_recv_buffer_size(32 * 1024).unwrap();
        assert!(socket.recv_buffer_size().unwrap() >= 32 * 1024);
        socket.bind(loopback()).unwrap();
        let addr = socket.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let listener = socket.listen(16).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);

        let client = TcpSocket::for_addr(addr).unwrap();
        client.set_nodelay(true).unwrap();
        client.set_keepalive(true).unwrap();
        client.set_send_buffer_size(64 * 1024).unwrap();
        assert!(client.send_buffer_size().unwrap() >= 64 * 1024);
        let stream = client.connect(addr).await.unwrap();
        assert!(stream.nodelay().unwrap());
        assert!(stream.keepalive().unwrap());
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
        stream.write_all(b"over").await.unwrap();
        let mut buf = [0; 4];
        let mut got = 0;
        while got < 4 {
            got += server.read(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"over");
    });
}

#[test]
fn a_client_bound_to_a_chosen_local_address() {
    run(2, 60, || async {
        let listener = TcpListener::bind(loopback()).await.unwrap();
        let client = TcpSocket::new_v4().unwrap();
        client.bind(loopback()).unwrap();
        let local = client.local_addr().unwrap();
        let stream = client
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert_eq!(stream.local_addr().unwrap(), local);
        let (_server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, local);
    });
}

#[test]
fn connecting_a_configured_socket_to_a_closed_port_fails() {
    run(2, 60, || async {
        // Bind a port, then free it: nothing listens there.
        let addr = TcpListener::bind(loopback())
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let error = TcpSocket::new_v4()
            .unwrap()
            .connect(addr)
            .await
            .unwrap_err();
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{error}"
        );
    });
}

#[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
#[test]
fn reuseport_lets_two_listeners_share_a_port() {
    run(2, 60, || async {
        let first = TcpSocket::new_v4().unwrap();
        first.set_reuseport(true).unwrap();
        assert!(first.reuseport().unwrap());
        first.bind(loopback()).unwrap();
        let addr = first.local_addr().unwrap();
        let _a = first.listen(8).unwrap();

        let second = TcpSocket::new_v4().unwrap();
        second.set_reuseport(true).unwrap();
        second.bind(addr).unwrap();
        let _b = second.listen(8).unwrap();

        // Without the option the port is taken.
        let third = TcpSocket::new_v4().unwrap();
        let error = third.bind(addr).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{error}");
    });
}

#[test]
fn stream_options_after_connect() {
    run(2, 60, || async {
        let listener = TcpListener::bind(loopback()).await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert!(!stream.keepalive().unwrap());
        stream.set_keepalive(true).unwrap();
        assert!(stream.keepalive().unwrap());
        stream.set_keepalive(false).unwrap();
        stream.set_keepalive_idle(Duration::from_secs(30)).unwrap();
        assert!(stream.keepalive().unwrap());
        stream.set_recv_buffer_size(16 * 1024).unwrap();
        assert!(stream.recv_buffer_size().unwrap() >= 16 * 1024);
        stream.set_send_buffer_size(16 * 1024).unwrap();
        assert!(stream.send_buffer_size().unwrap() >= 16 * 1024);
    });
}

#[test]
fn lookup_host_resolves_names_and_passes_literals_through() {
    run(2, 60, || async {
        let addrs = lookup_host("localhost:4242").await.unwrap();
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.port() == 4242 && a.ip().is_loopback()),
            "{addrs:?}"
        );
        let literal: SocketAddr = "[::1]:7".parse().unwrap();
        assert_eq!(lookup_host(literal).await.unwrap(), [literal]);
        assert_eq!(
            lookup_host(("127.0.0.1", 9)).await.unwrap(),
            [SocketAddr::from((Ipv4Addr::LOCALHOST, 9))]
        );
        // A resolved name connects like a literal.
        let listener = TcpListener::bind(loopback()).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let v4 = lookup_host(("localhost", port))
            .await
            .unwrap()
            .into_iter()
            .find(SocketAddr::is_ipv4)
            .expect("localhost has an IPv4 address");
        TcpStream::connect(v4).await.unwrap();
    });
}

#[test]
fn lookup_host_rejects_a_malformed_address() {
    run(2, 60, || async {
        // No port: the resolver reports the error, it does not panic or hang.
        let error = lookup_host("localhost").await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
    });
}
