//! `pride::signal`: signals raised in this process (its own test binary), each test on
//! a signal of its own so the tests can run in parallel.
#![cfg(unix)]

use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pride::signal::{Signal, SignalKind};
use signal_hook::low_level::raise;

fn runtime() -> pride::Runtime {
    pride::Runtime::builder().worker_threads(2).build().unwrap()
}

/// `signal.recv()`, failing the test instead of hanging if the delivery is lost.
async fn recv(signal: &mut Signal) {
    pride::fail_after(Duration::from_secs(10), signal.recv())
        .await
        .unwrap_or_else(|_| panic!("{signal:?}: a delivery was lost"))
        .unwrap();
}

#[test]
fn sigint_delivered_twice_reaches_every_listener_twice() {
    runtime().block_on(async {
        let mut first = Signal::new(SignalKind::INTERRUPT).unwrap();
        let mut second = Signal::new(SignalKind::INTERRUPT).unwrap();
        assert_eq!(first.kind(), SignalKind::INTERRUPT);
        for _ in 0..2 {
            raise(SignalKind::INTERRUPT.as_raw()).unwrap();
            recv(&mut first).await;
            recv(&mut second).await;
        }
        // Nothing more is pending.
        assert!(
            pride::move_on_after(Duration::from_millis(20), first.recv())
                .await
                .is_none()
        );

        // `ctrl_c` sees a Ctrl-C sent after it started listening; we cannot see when
        // that is, so keep sending (bounded) until it returns.
        let done = Arc::new(AtomicBool::new(false));
        pride::task_group(async |tg| {
            let finished = done.clone();
            tg.start_soon(async move {
                pride::signal::ctrl_c().await?;
                finished.store(true, Ordering::SeqCst);
                Ok::<_, std::io::Error>(())
            });
            for _ in 0..1000 {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                raise(SignalKind::INTERRUPT.as_raw()).unwrap();
                pride::sleep(Duration::from_millis(5)).await;
            }
            // Never a hang: the assertion below reports a lost Ctrl-C.
            tg.cancel_scope().cancel();
        })
        .await
        .unwrap();
        assert!(done.load(Ordering::SeqCst), "ctrl_c never returned");
    });
}

#[test]
fn a_cancelled_recv_loses_no_delivery() {
    runtime().block_on(async {
        let mut signal = Signal::new(SignalKind::USER_DEFINED1).unwrap();
        let waited = pride::move_on_after(Duration::from_millis(10), signal.recv()).await;
        assert!(waited.is_none());
        raise(SignalKind::USER_DEFINED1.as_raw()).unwrap();
        recv(&mut signal).await;
    });
}

#[test]
fn deliveries_while_nobody_waits_count_as_one() {
    runtime().block_on(async {
        let mut signal = Signal::new(SignalKind::USER_DEFINED2).unwrap();
        for _ in 0..3 {
            raise(SignalKind::USER_DEFINED2.as_raw()).unwrap();
        }
        recv(&mut signal).await;
        assert!(
            pride::move_on_after(Duration::from_millis(20), signal.recv())
                .await
                .is_none()
        );
    });
}

#[test]
fn a_stream_of_sigterm_and_sighup() {
    runtime().block_on(async {
        let mut term = Signal::new(SignalKind::TERMINATE).unwrap();
        let mut hup = Signal::new(SignalKind::HANGUP).unwrap();
        for _ in 0..5 {
            raise(SignalKind::HANGUP.as_raw()).unwrap();
            recv(&mut hup).await;
            raise(SignalKind::TERMINATE.as_raw()).unwrap();
            recv(&mut term).await;
        }
        // Each listener saw only its own signal.
        assert!(
            pride::move_on_after(Duration::from_millis(20), hup.recv())
                .await
                .is_none()
        );
    });
}

#[test]
fn signals_a_process_cannot_handle_are_refused() {
    runtime().block_on(async {
        use signal_hook::consts::signal::*;
        // SIGKILL and SIGSTOP, and every fault signal (SIGBUS too, which signal-hook
        // itself would accept).
        for raw in [
            SIGKILL, SIGSTOP, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGSYS, SIGTRAP,
        ] {
            let before = action(raw);
            let error = Signal::new(SignalKind::from_raw(raw)).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{raw}: {error}");
            // Refused before anything was installed (std's own handlers for SIGSEGV
            // and SIGBUS, which catch stack overflows, stay).
            assert_eq!(action(raw), before, "{raw}: a handler was installed");
        }
        assert_eq!(format!("{:?}", SignalKind::TERMINATE), "SIGTERM");
    });
}

/// The process's action for `signum` (`SIG_DFL`, `SIG_IGN` or a handler's address).
fn action(signum: i32) -> libc::sighandler_t {
    // SAFETY: a query only (no new action is given); `old` is a valid out-pointer.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signum, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

/// Outside a runtime no listener can be made: `Signal::new` panics, naming what was
/// attempted, before it installs the process-wide handler (which would outlive the
/// panic and take away the signal's default action: here SIGXFSZ's, ending the
/// process).
#[test]
fn a_listener_outside_a_runtime_panics_before_installing_anything() {
    let signum = signal_hook::consts::SIGXFSZ;
    assert_eq!(action(signum), libc::SIG_DFL);
    let panic = std::panic::catch_unwind(|| Signal::new(SignalKind::from_raw(signum))).unwrap_err();
    let text = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert_eq!(
        action(signum),
        libc::SIG_DFL,
        "SIGXFSZ lost its default action ({text})"
    );
    assert!(text.contains("signal listener"), "{text}");
}

#[test]
fn numbers_that_are_no_signal_are_refused() {
    runtime().block_on(async {
        for raw in [-1, 0, 128, 1000, i32::MIN, i32::MAX] {
            let error = Signal::new(SignalKind::from_raw(raw)).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{raw}: {error}");
        }
        // In range but unused by the system: its own error, not a crash.
        assert!(Signal::new(SignalKind::from_raw(127)).is_err());
    });
}

/// A listener whose runtime is gone: `recv` fails (nothing can tell it of a delivery
/// any more) instead of waiting for ever or panicking.
#[test]
fn recv_after_its_runtime_is_gone_fails() {
    let first = runtime();
    let mut signal = first.block_on(async {
        Signal::new(SignalKind::from_raw(signal_hook::consts::SIGWINCH)).unwrap()
    });
    drop(first);
    let result = runtime().block_on(async {
        pride::fail_after(Duration::from_secs(10), signal.recv())
            .await
            .expect("recv waited although its runtime is gone")
    });
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Other, "{error}");
}
