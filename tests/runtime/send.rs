//! Send-ness is part of the API contract: a pride future is `Send` whenever what it
//! holds is, also when bodies and children return `Result<_, BoxError>`. Compile-time
//! checks, run once too.

use std::future::Future;

use crate::common::{Counter, MyError, runtime, watchdog};
use pride::{
    BoxError, CancelScope, GroupClosed, GroupError, TaskError, TaskGroup, TaskHandle, TaskStatus,
    task_group,
};

fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

fn assert_send_sync_static<T: Send + Sync + 'static>() {}

fn assert_clone<T: Clone>() {}

fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}

#[test]
fn handle_types_are_send_and_sync() {
    assert_send_sync_static::<TaskGroup>();
    assert_clone::<TaskGroup>();
    assert_send_sync_static::<CancelScope>();
    assert_clone::<CancelScope>();
    fn assert_send_handle<T: Send>() {}
    assert_send_handle::<TaskHandle<u32>>();
    assert_send_handle::<TaskHandle<String>>();
    assert_send_handle::<TaskHandle<Vec<Box<dyn std::any::Any + Send>>>>();
}

#[test]
fn error_types_are_errors_that_cross_threads() {
    assert_error::<GroupError>();
    assert_error::<TaskError>();
    assert_error::<GroupClosed>();
    // Both convert into a BoxError, so `?` works in a body returning one.
    fn into_box<E: Into<BoxError>>() {}
    into_box::<GroupError>();
    into_box::<TaskError>();
}

#[test]
fn a_child_awaiting_a_spawn_handle_is_send() {
    watchdog(60, || {
        let rt = runtime(2);
        let sum = rt
            .block_on(task_group(async |tg| {
                let a = tg.spawn(async { Ok::<u32, BoxError>(1) });
                let b = tg.spawn(async { Ok::<u32, MyError>(2) });
                let both = tg.spawn(assert_send(async move {
                    let a = a.await?;
                    let b = b.await?;
                    Ok::<_, BoxError>(a + b)
                }));
                both.await
            }))
            .unwrap();
        assert_eq!(sum, 3);
    });
}

#[test]
fn a_child_nesting_a_group_with_a_concrete_error_is_send() {
    watchdog(60, || {
        let rt = runtime(2);
        let n = Counter::new();
        let n2 = n.clone();
        let v = rt
            .block_on(task_group(async |tg| {
                let inner = tg.spawn(assert_send(async move {
                    task_group(async |tg| {
                        let n = n2.clone();
                        tg.start_soon(async move { n.inc() });
                        let h = tg.spawn(async { Ok::<_, MyError>(3) });
                        let v = h.await?;
                        Ok::<_, TaskError>(v)
                    })
                    .await
                }));
                tg.start_soon(assert_send(async { task_group(async |_tg| {}).await }));
                tg.start_soon(assert_send(async {
                    task_group(|_tg| async { Ok::<_, MyError>(()) }).await
                }));
                Ok::<_, BoxError>(inner.await?)
            }))
            .unwrap();
        assert_eq!(v, 3);
        assert_eq!(n.get(), 1);
    });
}

/// A pride future is `Send` whenever what it holds is, including when the body or the
/// children return `Result<_, BoxError>`.
#[test]
fn a_child_nesting_a_group_whose_body_returns_box_error_is_send() {
    watchdog(60, || {
        let rt = runtime(2);
        let v = rt
            .block_on(task_group(async |tg| {
                let h = tg.spawn(assert_send(async {
                    task_group(async |tg| {
                        let h = tg.spawn(async { Ok::<u32, BoxError>(4) });
                        Ok::<_, BoxError>(h.await?)
                    })
                    .await
                }));
                tg.start_soon(assert_send(async {
                    task_group(|_tg| async move { Ok::<_, BoxError>(()) }).await
                }));
                Ok::<_, BoxError>(h.await?)
            }))
            .unwrap();
        assert_eq!(v, 4);
    });
}

/// A child awaiting `start` and `start_named`, whose starting tasks (and the child
/// itself) return `Result<_, BoxError>`, is `Send`; so is a starting task that awaits a
/// `start` of its own before it reports `started`.
#[test]
fn a_child_awaiting_start_with_box_error_outputs_is_send() {
    watchdog(60, || {
        let rt = runtime(2);
        let v = rt
            .block_on(task_group(async |tg| {
                let tg2 = tg.clone();
                let h = tg.spawn(assert_send(async move {
                    let port = tg2
                        .start(|status: TaskStatus<u16>| async move {
                            status.started(8080);
                            Ok::<(), BoxError>(())
                        })
                        .await?;
                    let tg3 = tg2.clone();
                    let nested = tg2
                        .start_named("nested", move |status: TaskStatus<u16>| {
                            assert_send(async move {
                                let inner = tg3
                                    .start(|status: TaskStatus<u16>| async move {
                                        status.started(1);
                                        Ok::<(), BoxError>(())
                                    })
                                    .await?;
                                status.started(inner);
                                Ok::<(), BoxError>(())
                            })
                        })
                        .await?;
                    Ok::<_, BoxError>(port + nested)
                }));
                Ok::<_, BoxError>(h.await?)
            }))
            .unwrap();
        assert_eq!(v, 8081);
    });
}
