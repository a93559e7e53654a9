//! `shutdown::graceful`: the grace period starts when the shutdown is triggered, and
//! only work still running when it ends is cancelled. Autojump clock: times are exact.

use std::time::Duration;

use pride::shutdown::{Shutdown, graceful};

fn autojump() -> pride::Runtime {
    pride::Runtime::builder()
        .worker_threads(2)
        .clock(pride::time::Clock::autojump())
        .build()
        .unwrap()
}

#[test]
fn work_that_ignores_the_shutdown_is_cancelled_when_the_grace_period_ends() {
    autojump().block_on(async {
        let start = pride::current_time();
        let shutdown = Shutdown::new();
        let outcome = pride::task_group(async |tg| {
            let stop = shutdown.clone();
            tg.start_soon(async move {
                pride::sleep(Duration::from_secs(10)).await;
                stop.trigger();
            });
            Ok::<_, pride::BoxError>(
                graceful(
                    &shutdown,
                    Duration::from_secs(5),
                    std::future::pending::<()>(),
                )
                .await,
            )
        })
        .await
        .unwrap();
        assert_eq!(outcome, None);
        assert_eq!(pride::current_time() - start, Duration::from_secs(15));
    });
}

#[test]
fn work_that_ends_by_itself_is_not_held_up() {
    autojump().block_on(async {
        let start = pride::current_time();
        let shutdown = Shutdown::new();
        let outcome = graceful(&shutdown, Duration::from_secs(5), async {
            pride::sleep(Duration::from_secs(3)).await;
            "done"
        })
        .await;
        assert_eq!(outcome, Some("done"));
        assert_eq!(pride::current_time() - start, Duration::from_secs(3));
        assert!(!shutdown.is_triggered());
    });
}

#[test]
fn a_shutdown_triggered_before_the_work_starts_still_gives_the_full_grace() {
    autojump().block_on(async {
        let start = pride::current_time();
        let shutdown = Shutdown::new();
        shutdown.trigger();
        shutdown.trigger(); // idempotent
        let outcome = graceful(&shutdown, Duration::from_secs(2), async {
            pride::sleep(Duration::from_secs(1)).await;
            1
        })
        .await;
        assert_eq!(outcome, Some(1));
        let cut = graceful(
            &shutdown,
            Duration::from_secs(2),
            std::future::pending::<()>(),
        )
        .await;
        assert_eq!(cut, None);
        assert_eq!(pride::current_time() - start, Duration::from_secs(3));
    });
}

#[test]
fn an_endless_grace_period_never_cancels() {
    autojump().block_on(async {
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let outcome = graceful(&shutdown, Duration::MAX, async {
            pride::sleep(Duration::from_secs(1_000_000)).await;
            "finished"
        })
        .await;
        assert_eq!(outcome, Some("finished"));
    });
}
