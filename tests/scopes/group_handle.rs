//! `TaskGroup::spawn` and `TaskHandle`: values, per-task cancel, failures.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::common::{Counter, DropGuard, Flag, MyError, panic_text, runtime, watchdog};
use pride::{BoxError, Event, TaskHandle, task_group};

#[test]
fn a_handle_returns_the_value() {
    watchdog(60, || {
        let rt = runtime(2);
        let (a, b, c) = rt
            .block_on(task_group(async |tg| {
                let a = tg.spawn(async { Ok::<_, BoxError>(21 * 2) });
                let b = tg.spawn_named("b", async {
                    pride::yield_now().await;
                    Ok::<_, MyError>(String::from("hello"))
                });
                let c = tg.spawn(async {});
                assert_eq!(b.name(), Some("b"));
                Ok::<_, BoxError>((a.await?, b.await?, c.await?))
            }))
            .unwrap();
        assert_eq!(a, 42);
        assert_eq!(b, "hello");
        assert_eq!(c, ());
    });
}

#[test]
fn handles_can_be_awaited_by_siblings_and_in_any_order() {
    watchdog(60, || {
        let rt = runtime(2);
        let sum = Arc::new(Mutex::new(0));
        rt.block_on(task_group(async |tg| {
            let handles: Vec<TaskHandle<usize>> = (0..20)
                .map(|i| {
                    tg.spawn(async move {
                        for _ in 0..(i % 3) {
                            pride::yield_now().await;
                        }
                        Ok::<_, BoxError>(i)
                    })
                })
                .collect();
            let sum = sum.clone();
            tg.start_soon(async move {
                for h in handles.into_iter().rev() {
                    *sum.lock().unwrap() += h.await.unwrap();
                }
            });
        }))
        .unwrap();
        assert_eq!(*sum.lock().unwrap(), (0..20).sum::<usize>());
    });
}

#[test]
fn cancel_cancels_that_child_only() {
    watchdog(60, || {
        let rt = runtime(2);
        let victim_dropped = Counter::new();
        let victim_resumed = Flag::new();
        let sibling_done = Flag::new();
        let body_done = Flag::new();
        let value = rt
            .block_on(task_group(async |tg| {
                let (guard, resumed) = (victim_dropped.drop_guard(), victim_resumed.clone());
                let victim = tg.spawn_named("victim", async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                    resumed.set();
                });
                let done = sibling_done.clone();
                tg.start_soon(async move {
                    for _ in 0..20 {
                        pride::yield_now().await;
                    }
                    done.set();
                });
                pride::yield_now().await;
                victim.cancel();
                victim.cancel(); // idempotent
                let outcome = victim.await;
                let e = outcome.unwrap_err();
                assert!(e.is_cancelled(), "{e:?}");
                assert!(!e.is_panic());
                assert_eq!(e.name(), Some("victim"));
                assert!(e.to_string().contains("victim"), "{e}");
                // The body itself was not cancelled.
                for _ in 0..3 {
                    pride::yield_now().await;
                }
                body_done.set();
                Ok::<_, BoxError>(7)
            }))
            .unwrap();
        assert_eq!(value, 7);
        assert_eq!(victim_dropped.get(), 1);
        assert!(!victim_resumed.is_set());
        assert!(sibling_done.is_set());
        assert!(body_done.is_set());
    });
}

#[test]
fn cancel_right_after_spawn() {
    watchdog(60, || {
        let rt = runtime(1);
        let dropped = Counter::new();
        rt.block_on(task_group(async |tg| {
            let guard = dropped.drop_guard();
            let h = tg.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok::<_, BoxError>(1)
            });
            h.cancel();
            assert!(h.await.unwrap_err().is_cancelled());
        }))
        .unwrap();
        assert_eq!(dropped.get(), 1);
    });
}

/// A child whose handle is cancelled before the child first ran still runs, up to its
/// first suspension point: one that finishes before it suspends gives its value; one
/// that suspends ends there, and its handle gives the cancel error.
#[test]
fn a_handle_cancelled_before_its_child_ran_runs_it_to_its_first_suspension_point() {
    watchdog(60, || {
        let rt = runtime(1);
        let (quick, slow) = rt
            .block_on(task_group(async |outer| {
                // On the only worker: the children it spawns cannot run before it
                // suspends.
                let spawner = outer.spawn(task_group(async |tg| {
                    let cancelled = Flag::new();
                    let (c1, c2) = (cancelled.clone(), cancelled.clone());
                    let (first_poll, resumed) = (Flag::new(), Flag::new());
                    let (f, r) = (first_poll.clone(), resumed.clone());
                    let quick = tg.spawn(async move {
                        assert!(c1.is_set(), "it ran before the cancel");
                        Ok::<_, BoxError>(42)
                    });
                    let slow = tg.spawn(async move {
                        assert!(c2.is_set(), "it ran before the cancel");
                        f.set();
                        pride::yield_now().await;
                        r.set();
                        Ok::<_, BoxError>(7)
                    });
                    quick.cancel();
                    slow.cancel();
                    cancelled.set();
                    let quick = quick.await.map_err(|e| e.to_string());
                    let slow = slow.await.map_err(|e| e.is_cancelled());
                    assert!(
                        first_poll.is_set(),
                        "the child ran up to its first suspension"
                    );
                    assert!(
                        !resumed.is_set(),
                        "the child went past its first suspension"
                    );
                    Ok::<_, BoxError>((quick, slow))
                }));
                spawner.await.map_err(|e| e.to_string())
            }))
            .unwrap();
        assert_eq!(quick, Ok(42));
        assert_eq!(slow, Err(true));
    });
}

#[test]
fn a_dropped_handle_does_not_cancel_the_child() {
    watchdog(60, || {
        let rt = runtime(2);
        let done = Flag::new();
        rt.block_on(task_group(async |tg| {
            let d = done.clone();
            drop(tg.spawn(async move {
                for _ in 0..10 {
                    pride::yield_now().await;
                }
                d.set();
                Ok::<_, BoxError>(())
            }));
        }))
        .unwrap();
        assert!(done.is_set());
    });
}

/// A failing spawned child: the handle gets an error and the group gets the real one.
/// The handle is awaited outside the group: inside it, the failure cancels the awaiter.
#[test]
fn a_failing_spawned_child_fails_the_handle_and_the_group() {
    watchdog(60, || {
        let rt = runtime(2);
        let slot: Arc<Mutex<Option<TaskHandle<u32>>>> = Arc::default();
        let (err, outcome) = rt.block_on(async {
            let err = task_group(async |tg| {
                let h = tg.spawn_named("bad", async {
                    pride::yield_now().await;
                    Err::<u32, _>(MyError(77))
                });
                *slot.lock().unwrap() = Some(h);
            })
            .await
            .unwrap_err();
            let h = slot.lock().unwrap().take().unwrap();
            (err, h.await)
        });
        assert_eq!(err.errors().len(), 1, "{err:?}");
        assert_eq!(err.errors()[0].name(), Some("bad"));
        assert_eq!(
            err.errors()[0].downcast_ref::<MyError>(),
            Some(&MyError(77))
        );
        let e = outcome.unwrap_err();
        assert_eq!(e.name(), Some("bad"));
        assert!(!e.is_cancelled());
        assert!(!e.is_panic());
        assert!(e.to_string().contains("my error 77"), "{e}");
    });
}

#[test]
fn a_panicking_spawned_child_fails_the_handle_and_the_group() {
    watchdog(60, || {
        let rt = runtime(2);
        let slot: Arc<Mutex<Option<TaskHandle<()>>>> = Arc::default();
        let (err, outcome) = rt.block_on(async {
            let err = task_group(async |tg| {
                let h = tg.spawn_named("crash", async {
                    pride::yield_now().await;
                    if true {
                        panic!("handle panic");
                    }
                });
                *slot.lock().unwrap() = Some(h);
            })
            .await
            .unwrap_err();
            let h = slot.lock().unwrap().take().unwrap();
            (err, h.await)
        });
        let real = err.into_errors().pop().unwrap();
        assert!(real.is_panic());
        assert_eq!(real.panic_message(), Some("handle panic"));
        let e = outcome.unwrap_err();
        assert!(e.is_panic());
        assert!(!e.is_cancelled());
        assert_eq!(e.name(), Some("crash"));
        assert_eq!(e.panic_message(), Some("handle panic"));
    });
}

/// Awaits `handle` from the body, shielded: its child's failure cancels the body.
async fn outcome<T>(handle: TaskHandle<T>) -> Result<T, pride::TaskError> {
    let shield = pride::CancelScope::new();
    shield.set_shield(true);
    shield
        .run(handle)
        .await
        .expect("a shielded scope runs to the end")
}

/// A handle's copy of a returned error is an error: its text is the original's; the
/// original, with its type, is the group's.
#[test]
fn a_handles_copy_of_a_returned_error_is_an_error_with_its_text() {
    watchdog(60, || {
        let rt = runtime(2);
        let mut copy = None;
        let err = rt
            .block_on(task_group(async |tg| {
                let handle = tg.spawn_named("parser", async {
                    Err::<(), _>(std::io::Error::other("bad input"))
                });
                copy = outcome(handle).await.err();
            }))
            .unwrap_err();
        let copy = copy.expect("the handle resolved to an error");
        assert!(copy.is_reported());
        assert!(!copy.is_panic() && !copy.is_cancelled());
        assert_eq!(copy.panic_message(), None);
        assert_eq!(
            copy.error().map(|e| e.to_string()).as_deref(),
            Some("bad input")
        );
        assert!(copy.downcast_ref::<std::io::Error>().is_none());
        use std::error::Error;
        assert_eq!(
            copy.source().map(|e| e.to_string()).as_deref(),
            Some("bad input")
        );
        assert_eq!(
            copy.to_string(),
            "task 'parser' failed: bad input (reported to its group)"
        );
        assert_eq!(copy.into_error().to_string(), "bad input");
        let original = &err.errors()[0];
        assert!(!original.is_reported());
        assert!(original.downcast_ref::<std::io::Error>().is_some());
    });
}

/// A handle's copy of a panic with a payload that is not a string has no message, as
/// the group's entry has none.
#[test]
fn a_handles_copy_of_a_non_string_panic_has_no_message() {
    watchdog(60, || {
        let rt = runtime(2);
        let mut copy = None;
        let err = rt
            .block_on(task_group(async |tg| {
                let handle = tg.spawn_named("odd", async {
                    if true {
                        std::panic::panic_any(42u32);
                    }
                });
                copy = outcome(handle).await.err();
            }))
            .unwrap_err();
        let copy = copy.expect("the handle resolved to an error");
        assert!(copy.is_panic() && copy.is_reported());
        assert_eq!(copy.panic_message(), None);
        assert!(copy.error().is_none());
        assert_eq!(
            copy.to_string(),
            "task 'odd' panicked (reported to its group)"
        );
        assert!(copy.into_panic().is::<()>());
        let original = err.into_errors().pop().unwrap();
        assert_eq!(original.panic_message(), None);
        assert_eq!(original.into_panic().downcast_ref::<u32>(), Some(&42));
    });
}

/// A handle's copy of a panic with a string: its message, as a `String` payload.
#[test]
fn a_handles_copy_of_a_string_panic_resumes_with_its_message() {
    watchdog(60, || {
        let rt = runtime(2);
        let mut copy = None;
        let _ = rt.block_on(task_group(async |tg| {
            let handle = tg.spawn_named("boom", async {
                if true {
                    panic!("kaput");
                }
            });
            copy = outcome(handle).await.err();
        }));
        let copy = copy.expect("the handle resolved to an error");
        assert_eq!(copy.panic_message(), Some("kaput"));
        assert_eq!(
            copy.to_string(),
            "task 'boom' panicked: kaput (reported to its group)"
        );
        let payload = copy.into_panic();
        assert_eq!(
            payload.downcast_ref::<String>().map(String::as_str),
            Some("kaput")
        );
    });
}

/// `cancel` on a handle whose child already finished changes nothing: the handle
/// resolves to the child's value, not to a cancellation. (The group has ended, so the
/// child has.)
#[test]
fn cancel_after_the_child_finished_gives_its_value() {
    watchdog(60, || {
        let rt = runtime(2);
        let slot: Arc<Mutex<Option<TaskHandle<u32>>>> = Arc::default();
        let outcome = rt.block_on(async {
            task_group(async |tg| {
                *slot.lock().unwrap() = Some(tg.spawn(async { Ok::<_, BoxError>(5) }));
            })
            .await
            .unwrap();
            let handle = slot.lock().unwrap().take().unwrap();
            handle.cancel();
            handle.await
        });
        assert_eq!(outcome.unwrap(), 5);
    });
}

type HandleSlot = Arc<Mutex<Option<TaskHandle<DropGuard>>>>;

/// Polls `handle` once (the child must not have finished) and drops it, as a `select!`
/// or a timeout around its await does when the other side wins.
async fn poll_once_and_drop<T>(mut handle: TaskHandle<T>) {
    std::future::poll_fn(|cx| {
        assert!(Pin::new(&mut handle).poll(cx).is_pending());
        Poll::Ready(())
    })
    .await;
    drop(handle);
}

/// Two children each poll the other's handle once, then drop it. A dropped handle
/// lets go of the waker its poll left with the child: kept there, each child's task
/// would hold the other's, and neither (nor the runtime they point to) would ever be
/// freed. Each child's unread value is dropped with its task, at the latest when the
/// runtime is.
#[test]
fn children_that_polled_each_others_dropped_handles_are_freed() {
    watchdog(60, || {
        let outputs = Counter::new();
        let (out_a, out_b) = (outputs.clone(), outputs.clone());
        let rt = runtime(1);
        rt.block_on(task_group(async move |tg| {
            let slot_a: HandleSlot = Arc::default();
            let slot_b: HandleSlot = Arc::default();
            let (go, a_polled, a_may_end) = (Event::new(), Event::new(), Event::new());
            let (take_b, go1, a_polled1, a_may_end1) = (
                slot_b.clone(),
                go.clone(),
                a_polled.clone(),
                a_may_end.clone(),
            );
            let a = tg.spawn(async move {
                go1.wait().await;
                let b = take_b.lock().unwrap().take().unwrap();
                poll_once_and_drop(b).await;
                a_polled1.set();
                a_may_end1.wait().await;
                Ok::<_, BoxError>(out_a.drop_guard())
            });
            let take_a = slot_a.clone();
            let b = tg.spawn(async move {
                a_polled.wait().await;
                let a = take_a.lock().unwrap().take().unwrap();
                poll_once_and_drop(a).await;
                a_may_end.set();
                Ok::<_, BoxError>(out_b.drop_guard())
            });
            *slot_a.lock().unwrap() = Some(a);
            *slot_b.lock().unwrap() = Some(b);
            go.set();
        }))
        .unwrap();
        drop(rt);
        assert_eq!(outputs.get(), 2, "an unread value was never dropped");
    });
}

/// The same with one child that polls its own handle once and drops it: the waker
/// left behind would be a reference to the child's own task.
#[test]
fn a_child_that_polled_its_own_dropped_handle_is_freed() {
    watchdog(60, || {
        let outputs = Counter::new();
        let out = outputs.clone();
        let rt = runtime(1);
        rt.block_on(task_group(async move |tg| {
            let slot: HandleSlot = Arc::default();
            let go = Event::new();
            let (take, go1) = (slot.clone(), go.clone());
            let me = tg.spawn(async move {
                go1.wait().await;
                let me = take.lock().unwrap().take().unwrap();
                poll_once_and_drop(me).await;
                Ok::<_, BoxError>(out.drop_guard())
            });
            *slot.lock().unwrap() = Some(me);
            go.set();
        }))
        .unwrap();
        drop(rt);
        assert_eq!(outputs.get(), 1, "the unread value was never dropped");
    });
}

/// A handle hands its outcome out once: polled again after it resolved, it panics
/// with a clear message, not with an answer that the child was cancelled.
#[test]
fn a_handle_polled_after_it_resolved_panics() {
    watchdog(60, || {
        let rt = runtime(1);
        let second = rt
            .block_on(task_group(async |tg| {
                let mut handle = tg.spawn(async { Ok::<_, BoxError>(7) });
                assert_eq!((&mut handle).await.unwrap(), 7);
                let second = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    Pin::new(&mut handle).poll(&mut Context::from_waker(Waker::noop()))
                }));
                Ok::<_, BoxError>(second.map_err(|panic| panic_text(&*panic).to_owned()))
            }))
            .unwrap();
        match second {
            Err(text) => assert_eq!(text, "pride: a TaskHandle was polled after it completed"),
            Ok(answer) => panic!("the second poll answered {answer:?}"),
        }
    });
}

/// Polls `handle` without suspending until it resolves (a stand-in for a body that
/// reaches `handle.await` once the child has already ended: a race on any runtime
/// with more than one worker).
fn resolved<T>(handle: &mut TaskHandle<T>) -> Result<T, pride::TaskError> {
    loop {
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(outcome) = Pin::new(&mut *handle).poll(&mut cx) {
            return outcome;
        }
        std::thread::yield_now();
    }
}

/// A body that passes on, with `?`, a handle's copy of a failure the group already
/// has (the handle was ready without a suspension point, so the cancel did not drop
/// the body first) adds no entry: the failure is listed once, with its task's name.
#[test]
fn a_handles_copy_passed_on_by_the_body_is_not_a_second_entry() {
    let error = crate::common::run(2, 60, || async {
        task_group(async |tg| {
            let mut words: Vec<_> = ["alpha", ""]
                .into_iter()
                .enumerate()
                .map(|(i, word)| {
                    tg.spawn_named(format!("word-{i}"), async move {
                        if word.is_empty() {
                            return Err::<usize, BoxError>("empty word".into());
                        }
                        Ok(word.len())
                    })
                })
                .collect();
            let copy = resolved(&mut words[1]).unwrap_err();
            assert!(copy.is_reported(), "{copy}");
            Err::<(), _>(copy)
        })
        .await
        .unwrap_err()
    });
    assert_eq!(error.errors().len(), 1, "{error}");
    assert_eq!(error.errors()[0].name(), Some("word-1"), "{error}");
    assert_eq!(error.errors()[0].error().unwrap().to_string(), "empty word");
}

/// Nor does a handle's "was cancelled" of a sibling that a failure cancelled, passed on
/// by the body: being cancelled is never an entry.
#[test]
fn a_cancelled_siblings_handle_passed_on_by_the_body_is_not_an_entry() {
    let error = crate::common::run(2, 60, || async {
        task_group(async |tg| {
            let mut waiter = tg.spawn_named("waiter", std::future::pending::<()>());
            tg.start_soon_named("bad", async { Err::<(), _>("boom") });
            resolved(&mut waiter)?;
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap_err()
    });
    assert_eq!(error.errors().len(), 1, "{error}");
    assert_eq!(error.errors()[0].name(), Some("bad"), "{error}");
}

/// Nor by a child: its handle says it was cancelled.
#[test]
fn a_cancelled_siblings_handle_passed_on_by_a_child_is_not_an_entry() {
    let (error, relay) = crate::common::run(2, 60, || async {
        let mut relay = None;
        let error = task_group(async |tg| {
            let mut waiter = tg.spawn_named("waiter", std::future::pending::<()>());
            relay = Some(tg.spawn_named("relay", async move {
                resolved(&mut waiter)?;
                Ok::<_, BoxError>(())
            }));
            tg.start_soon_named("bad", async { Err::<(), _>("boom") });
        })
        .await
        .unwrap_err();
        (error, relay.unwrap().await)
    });
    assert_eq!(error.errors().len(), 1, "{error}");
    assert_eq!(error.errors()[0].name(), Some("bad"), "{error}");
    assert!(relay.unwrap_err().is_cancelled());
}

/// The rule is for work a cancel reaches: a body that fails with the handle's "was
/// cancelled" of a child it cancelled itself, in a group nothing else cancels, fails
/// the group with it.
#[test]
fn a_handles_was_cancelled_is_an_entry_when_no_cancel_reaches_the_body() {
    let error = crate::common::run(2, 60, || async {
        task_group(async |tg| {
            let handle = tg.spawn_named("stopped", std::future::pending::<()>());
            handle.cancel();
            handle.await?;
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap_err()
    });
    assert_eq!(error.errors().len(), 1, "{error}");
    assert_eq!(error.errors()[0].name(), None, "{error}");
    assert!(
        error.errors()[0]
            .to_string()
            .contains("task 'stopped' was cancelled"),
        "{error}"
    );
}

/// A handle's copy of a failure that went to a group elsewhere (here one dropped by
/// hand, whose errors went with it) is not relayed by cancelled work: it may be the
/// only trace of that failure, so passing it on is an entry.
#[test]
fn a_copy_of_a_failure_of_a_group_elsewhere_passed_on_by_cancelled_work_is_an_entry() {
    let error = crate::common::run(2, 60, || async {
        task_group(async |tg| {
            let far = Arc::new(Mutex::new(None));
            let slot = far.clone();
            let mut elsewhere = Box::pin(task_group(async move |other| {
                *slot.lock().unwrap() =
                    Some(other.spawn_named("far", async { Err::<(), _>("far boom") }));
                std::future::pending::<()>().await;
            }));
            let _ = futures_lite::future::poll_once(elsewhere.as_mut()).await;
            let mut far = far.lock().unwrap().take().unwrap();
            let copy = resolved(&mut far).unwrap_err();
            assert!(copy.is_reported(), "{copy}");
            // Dropped by hand: its error goes with it.
            drop(elsewhere);
            tg.cancel_scope().cancel();
            Err::<(), _>(copy)
        })
        .await
        .unwrap_err()
    });
    assert_eq!(error.errors().len(), 1, "{error}");
    assert!(
        error.errors()[0].to_string().contains("far boom"),
        "{error}"
    );
}

/// A child still starting is inside its caller's groups as well as its own: a copy of
/// a failure of the caller's group, passed on by the starting child that group's
/// cancel reaches, is not an entry of the child's group (which would fail it, and
/// cancel everything in it, for a failure it does not have). Nor once the child has
/// called `started`, which does nothing after the caller's cancel.
#[test]
fn a_copy_passed_on_by_a_starting_child_its_callers_group_cancels_is_not_an_entry() {
    for call_started in [false, true] {
        let (outer, inner) = crate::common::run(1, 60, move || async move {
            let mut inner = None;
            let outer = task_group(async |outer| {
                inner = Some(
                    task_group(async |inner| {
                        let failer = inner.spawn_named("failer", async { Err::<(), _>("boom") });
                        let _ = outer
                            .start_named("starter", async move |status| {
                                // Suspended where the caller's cancel cannot drop it,
                                // until the failer (run first on the one worker) has
                                // failed.
                                let shield = pride::CancelScope::new();
                                shield.set_shield(true);
                                shield
                                    .run(async {
                                        pride::yield_now().await;
                                        pride::yield_now().await;
                                    })
                                    .await;
                                let copy = failer.await.unwrap_err();
                                assert!(copy.is_reported(), "{copy}");
                                if call_started {
                                    status.started(());
                                }
                                Err::<(), _>(copy)
                            })
                            .await;
                    })
                    .await,
                );
            })
            .await;
            (outer, inner.unwrap())
        });
        assert!(outer.is_ok(), "started: {call_started}: {outer:?}");
        let inner = inner.unwrap_err();
        assert_eq!(inner.errors().len(), 1, "{inner}");
        assert_eq!(inner.errors()[0].name(), Some("failer"), "{inner}");
    }
}
