//! Accepting while the process is out of file descriptors: the error comes back from
//! `accept`, and the listener serves the queued connection once a descriptor is free.
//!
//! Its own test binary (so its own process), with a single test: it lowers this
//! process's `RLIMIT_NOFILE` and fills the descriptor table.
#![cfg(target_os = "linux")]

use std::io::ErrorKind;

use pride::net::{TcpListener, TcpStream};

#[repr(C)]
struct RLimit {
    cur: u64,
    max: u64,
}

const RLIMIT_NOFILE: i32 = 7;

unsafe extern "C" {
    fn getrlimit(resource: i32, limit: *mut RLimit) -> i32;
    fn setrlimit(resource: i32, limit: *const RLimit) -> i32;
}

/// Lowers the soft descriptor limit to `soft` (if it is higher).
fn lower_fd_limit(soft: u64) {
    let mut limit = RLimit { cur: 0, max: 0 };
    // SAFETY: `limit` is a valid, writable `struct rlimit` (two `rlim_t` = u64 on
    // 64-bit Linux) for the duration of the call.
    assert_eq!(unsafe { getrlimit(RLIMIT_NOFILE, &mut limit) }, 0);
    if limit.cur > soft {
        limit.cur = soft;
        // SAFETY: as above; the struct is only read.
        assert_eq!(unsafe { setrlimit(RLIMIT_NOFILE, &limit) }, 0);
    }
}

#[test]
fn accept_reports_emfile_and_the_listener_keeps_serving() {
    lower_fd_limit(256);
    let runtime = pride::Runtime::builder().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Two connections complete their handshake into the backlog before the table
        // is full.
        let first = TcpStream::connect(addr).await.unwrap();
        let second = TcpStream::connect(addr).await.unwrap();
        let mut fillers = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(file) => fillers.push(file),
                Err(e) if e.raw_os_error() == Some(24) => break, // EMFILE
                Err(e) => panic!("unexpected error while filling the table: {e}"),
            }
            assert!(fillers.len() < 1024, "the descriptor limit was not lowered");
        }
        let error = listener.accept().await.unwrap_err();
        assert_eq!(error.raw_os_error(), Some(24), "{error}");
        // Still out of descriptors: the same error, not a hang.
        let again = listener.accept().await.unwrap_err();
        assert_eq!(again.raw_os_error(), Some(24), "{again}");
        // Free descriptors: both queued connections are served.
        fillers.truncate(fillers.len().saturating_sub(8));
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, first.local_addr().unwrap());
        first.write_all(b"ok").await.unwrap();
        let mut buf = [0; 2];
        let mut got = 0;
        while got < 2 {
            got += server.read(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"ok");
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, second.local_addr().unwrap());
        assert_ne!(ErrorKind::WouldBlock, error.kind());
    });
}
