//! A child cancelled by its handle while it is queued: the cancel sets the scope's
//! flag and wakes the child, whose wake finds it already queued. The poll then in line
//! must see the flag, or the child waits for ever with its cancel lost (`h.await`
//! hangs). Natively (x86: the flag's write is a locked instruction) this cannot go
//! wrong; under Miri, which follows the Rust memory model, it could:
//!
//! ```sh
//! MIRIFLAGS="-Zmiri-many-seeds=1..64 -Zmiri-preemption-rate=0.1" cargo +nightly miri \
//!   test --test runtime runtime_cancel_wake::a_child_cancelled_while_queued -- --exact
//! ```

use crate::common::watchdog;

fn one_worker() -> pride::Runtime {
    pride::Runtime::builder()
        .worker_threads(1)
        .blocked_poll_threshold(None)
        .build()
        .unwrap()
}

/// A pending-forever child cancelled by its handle right after it was spawned, and a
/// spawn handle dropped before its task ends.
fn cancel_a_queued_child(rt: &pride::Runtime) {
    rt.block_on(pride::task_group(async |tg| {
        let h = tg.spawn(async {
            std::future::pending::<()>().await;
            Ok::<_, pride::BoxError>(1)
        });
        let h2 = tg.spawn(async {
            pride::yield_now().await;
            Ok::<_, pride::BoxError>(String::from("x"))
        });
        drop(h2);
        h.cancel();
        assert!(h.await.is_err());
    }))
    .unwrap();
}

#[test]
fn a_child_cancelled_while_queued() {
    let rounds = if cfg!(miri) { 4 } else { 500 };
    let run = move || {
        let rt = one_worker();
        for _ in 0..rounds {
            cancel_a_queued_child(&rt);
        }
    };
    if cfg!(miri) {
        run();
    } else {
        watchdog(60, run);
    }
}
