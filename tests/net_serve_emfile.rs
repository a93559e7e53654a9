//! `net::serve` out of file descriptors: a burst of 500 connections against a server
//! that can hold only a few at once. Accept fails with `EMFILE`, the server backs off
//! and retries, and every connection is served once descriptors free up.
//!
//! Its own test binary without the test harness: it lowers this process's
//! `RLIMIT_NOFILE`, and it runs the clients in a child process (this same binary, with
//! `PRIDE_BURST_CLIENT` set) so that their descriptors do not count against the
//! server's.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use pride::net::{TcpListener, TcpStream, serve};
use pride::shutdown::Shutdown;

const THREADS: usize = 50;
const PER_THREAD: usize = 10;
/// Descriptors the server may open beyond those it holds when it starts serving.
const SLACK: u64 = 16;

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

fn set_soft_fd_limit(soft: u64) {
    let mut limit = RLimit { cur: 0, max: 0 };
    // SAFETY: `limit` is a valid, writable `struct rlimit` (two `rlim_t` = u64 on
    // 64-bit Linux) for the duration of the call.
    assert_eq!(unsafe { getrlimit(RLIMIT_NOFILE, &mut limit) }, 0);
    assert!(soft <= limit.max);
    limit.cur = soft;
    // SAFETY: as above; the struct is only read.
    assert_eq!(unsafe { setrlimit(RLIMIT_NOFILE, &limit) }, 0);
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

/// The client process: 50 threads, each making 10 one-byte echo exchanges. In the
/// first round every thread connects before any sends, so 50 connections are open
/// at once.
fn clients(addr: &str) {
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let barrier = barrier.clone();
            let addr = addr.to_owned();
            std::thread::spawn(move || {
                for round in 0..PER_THREAD {
                    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(60)))
                        .unwrap();
                    if round == 0 {
                        barrier.wait();
                    }
                    let byte = [(t * PER_THREAD + round) as u8];
                    stream.write_all(&byte).unwrap();
                    let mut echoed = [0];
                    stream.read_exact(&mut echoed).unwrap();
                    assert_eq!(echoed, byte);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

fn main() {
    if let Ok(addr) = std::env::var("PRIDE_BURST_CLIENT") {
        clients(&addr);
        return;
    }
    if !cfg!(target_os = "linux") {
        println!("net_serve_emfile: skipped (Linux only)");
        return;
    }
    let runtime = pride::Runtime::builder().worker_threads(2).build().unwrap();
    let emfile = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = std::process::Command::new(std::env::current_exe().unwrap())
            .env("PRIDE_BURST_CLIENT", addr.to_string())
            .spawn()
            .unwrap();
        set_soft_fd_limit(open_fds() + SLACK);

        let shutdown = Shutdown::new();
        let (emfile_c, served_c) = (emfile.clone(), served.clone());
        pride::task_group(async |tg| {
            let server = serve(listener, move |stream: TcpStream, _| {
                let served = served_c.clone();
                async move {
                    let mut byte = [0];
                    let n = stream.read(&mut byte).await?;
                    assert_eq!(n, 1);
                    stream.write_all(&byte).await?;
                    served.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(())
                }
            })
            .on_error(move |e| {
                let io = e.downcast_ref::<std::io::Error>();
                match io.and_then(std::io::Error::raw_os_error) {
                    Some(24) if e.name() == Some("accept") => {
                        emfile_c.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => panic!("unexpected failure: {e}"),
                }
            })
            .graceful(shutdown.clone(), Duration::from_secs(10));
            tg.start_soon(server);
            let status = pride::to_thread(move || client.wait().unwrap()).await;
            assert!(status.success(), "the clients failed: {status}");
            shutdown.trigger();
        })
        .await
        .unwrap();
    });
    let (emfile, served) = (emfile.load(Ordering::SeqCst), served.load(Ordering::SeqCst));
    assert_eq!(served, THREADS * PER_THREAD);
    assert!(emfile > 0, "the server never ran out of descriptors");
    println!(
        "net_serve_emfile: {served} connections served, {emfile} accepts failed with EMFILE: ok"
    );
}
