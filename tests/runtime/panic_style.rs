//! Misuse panics the way users read them: the message starts with `pride:` and the
//! panic's location is the caller's line (the call that was wrong), not a line inside
//! pride.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, Once};
use std::thread::ThreadId;
use std::time::Duration;

use crate::common::{panic_text, runtime};

/// The threads whose panics `check_panic` watches, with the file of the last panic
/// each saw. The hook is process-wide and tests run in parallel, so it records per
/// thread, and passes every other thread's panic on to the hook it replaced.
static WATCHED: Mutex<Vec<(ThreadId, Option<String>)>> = Mutex::new(Vec::new());

fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let me = std::thread::current().id();
            let mut watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
            match watched.iter_mut().find(|(id, _)| *id == me) {
                Some((_, file)) => *file = info.location().map(|l| l.file().to_owned()),
                None => {
                    drop(watched);
                    before(info);
                }
            }
        }));
    });
}

/// Runs `f`, which must panic on this thread, and checks the panic: its message starts
/// with `pride:` and its location is in this file. Returns the message.
#[track_caller]
fn check_panic(what: &str, f: impl FnOnce()) -> String {
    install_hook();
    let me = std::thread::current().id();
    WATCHED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((me, None));
    let caught = catch_unwind(AssertUnwindSafe(f));
    let file = {
        let mut watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
        let at = watched.iter().position(|(id, _)| *id == me).unwrap();
        watched.swap_remove(at).1
    };
    let payload = match caught {
        Ok(()) => panic!("{what}: did not panic"),
        Err(payload) => payload,
    };
    let message = panic_text(&*payload).to_owned();
    let mut bad = Vec::new();
    if !message.starts_with("pride:") {
        bad.push(format!(
            "the message does not start with `pride:`: {message:?}"
        ));
    }
    if file.as_deref() != Some(file!()) {
        bad.push(format!(
            "the panic is located in {file:?}, not at the caller"
        ));
    }
    assert!(bad.is_empty(), "{what}: {}", bad.join("; "));
    message
}

#[test]
fn time_outside_a_runtime() {
    check_panic("sleep", || drop(pride::sleep(Duration::from_secs(1))));
    check_panic("current_time", || {
        let _ = pride::current_time();
    });
    check_panic("interval", || drop(pride::interval(Duration::from_secs(1))));
    check_panic("advance", || pride::time::advance(Duration::from_secs(1)));
}

#[test]
fn time_bad_input() {
    runtime(1).block_on(async {
        let message = check_panic("interval(ZERO)", || drop(pride::interval(Duration::ZERO)));
        assert!(message.contains("non-zero"), "{message}");
        let message = check_panic("advance on the system clock", || {
            pride::time::advance(Duration::from_secs(1))
        });
        assert!(message.contains("mock clock"), "{message}");
    });
}

#[test]
fn debug_dump_outside_a_runtime() {
    check_panic("debug::dump", || drop(pride::debug::dump()));
}

#[test]
fn process_spawn_outside_a_runtime() {
    check_panic("Command::spawn", || {
        drop(pride::process::Command::new("true").spawn())
    });
}

#[test]
fn signal_outside_a_runtime() {
    check_panic("Signal::new", || {
        drop(pride::signal::Signal::new(
            pride::signal::SignalKind::USER_DEFINED2,
        ))
    });
}

#[test]
fn tcp_and_udp_constructors_outside_a_runtime() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    check_panic("TcpStream::from_std", || {
        drop(pride::net::TcpStream::from_std(stream))
    });
    check_panic("TcpListener::from_std", || {
        drop(pride::net::TcpListener::from_std(listener))
    });
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    check_panic("UdpSocket::from_std", || {
        drop(pride::net::UdpSocket::from_std(udp))
    });
    let socket = pride::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    check_panic("TcpSocket::listen", || drop(socket.listen(16)));
}

#[test]
fn unix_constructors_outside_a_runtime() {
    let dir = std::env::temp_dir().join(format!("pride-panic-style-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("listener.sock");
    let _ = std::fs::remove_file(&path);
    check_panic("UnixListener::bind", || {
        drop(pride::net::UnixListener::bind(&path))
    });
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    check_panic("UnixListener::from_std", || {
        drop(pride::net::UnixListener::from_std(listener))
    });
    check_panic("UnixStream::pair", || drop(pride::net::UnixStream::pair()));
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    check_panic("UnixStream::from_std", || {
        drop(pride::net::UnixStream::from_std(a))
    });
    let path = dir.join("datagram.sock");
    let _ = std::fs::remove_file(&path);
    check_panic("UnixDatagram::bind", || {
        drop(pride::net::UnixDatagram::bind(&path))
    });
    check_panic("UnixDatagram::unbound", || {
        drop(pride::net::UnixDatagram::unbound())
    });
    check_panic("UnixDatagram::pair", || {
        drop(pride::net::UnixDatagram::pair())
    });
    let socket = std::os::unix::net::UnixDatagram::unbound().unwrap();
    check_panic("UnixDatagram::from_std", || {
        drop(pride::net::UnixDatagram::from_std(socket))
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_with_no_connections() {
    runtime(1).block_on(async {
        let listener = pride::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let serve = pride::net::serve(listener, |_stream, _peer| async {});
        check_panic("serve(..).max_connections(0)", || {
            drop(serve.max_connections(0))
        });
    });
}

/// A `par` closure runs on a runtime's workers even when the caller is in no runtime:
/// blocking there on a future is refused, and the message says why.
#[test]
fn blocking_inside_a_par_closure_names_par() {
    let caught = catch_unwind(|| pride::par::join(|| pride::run(async {}), || ()));
    let payload = caught.expect_err("`pride::run` in a par closure panics");
    let message = panic_text(&*payload);
    assert!(
        message.starts_with("pride:") && message.contains("par"),
        "{message}"
    );
    let rt = runtime(1);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pride::par::map(&[1], |_| rt.block_on(async {}))
    }));
    let payload = caught.expect_err("`block_on` in a par closure panics");
    let message = panic_text(&*payload);
    assert!(
        message.starts_with("pride:") && message.contains("par"),
        "{message}"
    );
    // Outside par, a nested `block_on` is told to await, at the caller's line.
    let other = runtime(1);
    rt.block_on(async {
        let message = check_panic("nested block_on", || other.block_on(async {}));
        assert!(
            message.contains("`.await`") && !message.contains("par"),
            "{message}"
        );
    });
}

#[test]
fn sync_sizes_of_zero() {
    check_panic("channel(0)", || drop(pride::sync::channel::<u8>(0)));
    check_panic("Queue::with_maxsize(0)", || {
        drop(pride::Queue::<u8>::with_maxsize(0))
    });
    check_panic("CapacityLimiter::new(0)", || {
        drop(pride::CapacityLimiter::new(0))
    });
    let limiter = pride::CapacityLimiter::new(1);
    check_panic("CapacityLimiter::set_total_tokens(0)", || {
        limiter.set_total_tokens(0)
    });
}

/// A finished `serve(..)` or `supervise(..)` polled again panics, and says so, as
/// every other future of pride does.
#[test]
fn a_finished_serve_or_supervisor_polled_again_says_so() {
    fn poll_again<F: std::future::Future + Unpin>(future: &mut F) -> String {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let _ = std::pin::Pin::new(future).poll(&mut cx);
        }));
        let payload = caught.expect_err("a finished future polled again panics");
        panic_text(&*payload).to_owned()
    }
    crate::common::run(1, 20, || async {
        let mut supervisor = pride::supervise(pride::RestartPolicy::one_for_one())
            .child("done", || async { Ok::<_, pride::BoxError>(()) });
        (&mut supervisor).await.unwrap();
        let message = poll_again(&mut supervisor);
        assert_eq!(
            message,
            "pride: a `Supervisor` was polled after it completed"
        );

        let listener = pride::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shutdown = pride::shutdown::Shutdown::new();
        shutdown.trigger();
        let mut server = pride::net::serve(listener, |_stream, _peer| async {})
            .graceful(shutdown, Duration::from_secs(1));
        (&mut server).await.unwrap();
        let message = poll_again(&mut server);
        assert_eq!(message, "pride: a `Serve` was polled after it completed");
    });
}
