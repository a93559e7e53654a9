//! A `par` call stopped by a cancelled scope is cancelled work, not a panic: the scope
//! wrapper, the group body or the child around it catches it like any cancelled work.

use std::time::{Duration, Instant};

use crate::common::{MyError, run};
use pride::{CancelScope, par, task_group};

#[test]
fn a_cancelled_scope_around_a_par_call_returns_none() {
    run(2, 60, || async {
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope
            .run(async { par::map_range(0..10_000, |i| i * 2).len() })
            .await;
        assert_eq!(out, None);
        assert!(scope.cancelled_caught());
        // A deadline stops it the same way.
        let out = pride::move_on_after(Duration::ZERO, async {
            par::sum_range(0..1_000_000, |i| i as u64)
        })
        .await;
        assert_eq!(out, None);
    });
}

#[test]
fn a_par_call_in_a_cancelled_child_is_not_a_panic_entry() {
    run(2, 60, || async {
        let result = task_group(async |tg| {
            tg.cancel_scope().cancel();
            tg.start_soon_named("cpu", async {
                par::for_each_range(0..10_000, |_| {});
            });
            Ok::<_, pride::BoxError>(7)
        })
        .await;
        // A deliberate cancel of the group is a shutdown: the body's value comes back
        // and the child's stop is not an entry.
        assert_eq!(result.unwrap(), 7);
    });
}

#[test]
fn a_par_call_in_a_cancelled_body_is_not_a_panic_entry() {
    run(2, 60, || async {
        let result = task_group(async |tg| {
            tg.cancel_scope().cancel();
            let (a, b) = par::join(|| 1, || 2);
            Ok::<_, pride::BoxError>(a + b)
        })
        .await;
        let error = result.unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        assert!(error.errors().is_empty(), "{error}");
    });
}

#[test]
fn a_real_panic_is_still_a_panic() {
    run(2, 60, || async {
        let error = task_group(async |tg| {
            tg.start_soon_named("cpu", async {
                par::for_each_range(0..100, |i| assert!(i < 50, "piece {i} failed"));
            });
        })
        .await
        .unwrap_err();
        assert_eq!(error.errors().len(), 1);
        assert!(error.errors()[0].is_panic());
        assert_eq!(error.errors()[0].name(), Some("cpu"));
    });
}

/// A `try_*` piece whose nested call a cancel stopped: the nested call's `Cancelled`
/// unwind is the stop reaching that piece, so the try call is cancelled, with no
/// panic entry.
#[test]
fn a_try_call_whose_nested_call_a_cancel_stopped_is_cancelled() {
    run(2, 60, || async {
        let scope = CancelScope::new();
        let out = scope
            .run(async {
                par::try_map_range(0..1, |_| {
                    scope.cancel();
                    // Sees the cancelled scope on entry and unwinds with `Cancelled`.
                    par::scope(|s| s.spawn(|_| ()));
                    Ok::<_, MyError>(())
                })
            })
            .await
            .expect("no suspension point");
        let error = out.unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        assert!(error.errors().is_empty(), "{error}");
    });
}

/// About `micros` of CPU work that the optimiser cannot remove.
fn spin(micros: u64) {
    let end = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// A deadline that passes during a call whose work never suspends (so no timer fired
/// it): the call unwinds with `Cancelled`, which the scope catches as cancelled work.
#[test]
fn a_deadline_passing_during_a_panicking_form_is_caught_by_its_scope() {
    let out = run(2, 120, || async {
        // 20,000 items of 200 µs: seconds of work on two workers, far past 50 ms.
        let out = pride::move_on_after(Duration::from_millis(50), async {
            par::for_each_range(0..20_000, |_| spin(200));
        })
        .await;
        let scope = CancelScope::with_timeout(Duration::from_millis(50));
        let ran = scope
            .run(async {
                par::sum_range(0..20_000, |_| {
                    spin(200);
                    1u64
                })
            })
            .await;
        (out, ran, scope.cancelled_caught())
    });
    assert_eq!(out, (None, None, true));
}
