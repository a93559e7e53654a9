//! The runtime itself: building it, `block_on`, `pride::run`, misuse messages, and
//! dropping it.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use crate::common::{Counter, Flag, panic_text, runtime, watchdog};
use pride::{Runtime, task_group};

/// Polls `group` once (so that it starts its children), waits until `ready` holds,
/// and forgets it: its tasks are still alive when the runtime is dropped.
async fn leak_once_started<F: std::future::Future>(group: F, ready: impl FnMut() -> bool) {
    let mut group = Box::pin(group);
    futures_lite::future::poll_once(group.as_mut()).await;
    crate::common::yield_until(ready).await;
    std::mem::forget(group);
}

#[test]
fn block_on_returns_the_value() {
    let rt = runtime(1);
    assert_eq!(rt.block_on(async { 20 + 22 }), 42);
    let s = rt.block_on(async {
        pride::yield_now().await;
        String::from("done")
    });
    assert_eq!(s, "done");
}

#[test]
fn block_on_can_be_called_repeatedly() {
    let rt = runtime(2);
    for i in 0..100 {
        assert_eq!(rt.block_on(async move { i * 2 }), i * 2);
    }
}

#[test]
fn new_has_one_worker_per_core() {
    let rt = Runtime::new().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(rt.worker_threads(), cores);
    assert_eq!(rt.block_on(async { 1 }), 1);
}

#[test]
fn builder_sets_worker_count_and_thread_names() {
    watchdog(60, || {
        let rt = Runtime::builder()
            .worker_threads(3)
            .thread_name("named-pool")
            .build()
            .unwrap();
        assert_eq!(rt.worker_threads(), 3);
        let names = Arc::new(Mutex::new(HashSet::new()));
        rt.block_on(task_group(async |tg| {
            for _ in 0..64 {
                let names = names.clone();
                tg.start_soon(async move {
                    let name = std::thread::current().name().map(str::to_owned);
                    names.lock().unwrap().insert(name);
                    pride::yield_now().await;
                });
            }
        }))
        .unwrap();
        let names = names.lock().unwrap();
        assert!(!names.is_empty());
        for name in names.iter() {
            let name = name.as_deref().expect("worker threads are named");
            assert!(
                name.starts_with("named-pool"),
                "child ran on thread {name:?}, not a worker of this runtime"
            );
        }
        assert!(
            names.len() <= 3,
            "more thread names than workers: {names:?}"
        );
    });
}

#[test]
#[should_panic(expected = "at least one worker thread")]
fn zero_workers_panics_with_a_clear_message() {
    let _ = Runtime::builder().worker_threads(0).build();
}

/// A worker count beyond `MAX_WORKER_THREADS` is refused where it is given, with a
/// pride message, before anything is allocated for the workers.
#[test]
#[should_panic(expected = "pride: a runtime has at most")]
fn a_huge_worker_count_panics_with_a_clear_message() {
    Runtime::builder().worker_threads(usize::MAX);
}

#[test]
fn the_worker_count_is_bounded_by_max_worker_threads() {
    let max = pride::Builder::MAX_WORKER_THREADS;
    // The setter takes the maximum (the runtime is not built: that many threads).
    Runtime::builder().worker_threads(max);
    let over = catch_unwind(|| {
        Runtime::builder().worker_threads(max + 1);
    })
    .unwrap_err();
    let text = panic_text(&*over);
    assert!(
        text.starts_with("pride: a runtime has at most")
            && text.contains(&format!("({})", max + 1)),
        "{text}"
    );
}

/// A NUL byte in the thread name is refused by `build` with an error, before any
/// thread starts, instead of std's panic from the thread spawn.
#[test]
fn a_thread_name_with_a_nul_byte_is_an_invalid_input_error() {
    let built = catch_unwind(|| {
        Runtime::builder()
            .worker_threads(1)
            .thread_name("worker\0x")
            .build()
    });
    let error = match built {
        Ok(Err(error)) => error,
        Ok(Ok(_)) => panic!("a runtime started with a NUL byte in its threads' names"),
        Err(panic) => panic!("build panicked: {}", panic_text(&*panic)),
    };
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
    assert!(error.to_string().starts_with("pride:"), "{error}");
}

#[test]
fn block_on_inside_a_child_task_panics_with_a_clear_message() {
    watchdog(60, || {
        let rt = Arc::new(runtime(2));
        let inner = rt.clone();
        let err = rt
            .block_on(task_group(async |tg| {
                tg.start_soon_named("nested", async move {
                    inner.block_on(async {});
                });
            }))
            .unwrap_err();
        assert_eq!(err.errors().len(), 1, "{err:?}");
        let e = &err.errors()[0];
        assert_eq!(e.name(), Some("nested"));
        assert!(e.is_panic());
        let message = e.panic_message().expect("a string panic");
        assert!(message.contains("block_on"), "unclear message: {message}");
        // The worker survived and the runtime still runs tasks.
        let n = Counter::new();
        let n2 = n.clone();
        rt.block_on(task_group(async |tg| {
            tg.start_soon(async move { n2.inc() })
        }))
        .unwrap();
        assert_eq!(n.get(), 1);
    });
}

#[test]
fn block_on_of_another_runtime_inside_a_child_task_panics() {
    watchdog(60, || {
        let rt = runtime(1);
        let other = runtime(1);
        let err = rt
            .block_on(task_group(async |tg| {
                tg.start_soon(async move {
                    other.block_on(async {});
                });
            }))
            .unwrap_err();
        let e = &err.errors()[0];
        assert!(e.is_panic());
        assert!(e.panic_message().unwrap().contains("block_on"));
    });
}

#[test]
#[should_panic(expected = "block_on")]
fn nested_block_on_on_the_same_thread_panics() {
    let rt = runtime(1);
    rt.block_on(async { rt.block_on(async {}) });
}

/// `pride::run` inside a runtime panics, naming itself, before it builds a runtime of
/// its own (threads and all) only to find it cannot enter it.
#[test]
#[should_panic(expected = "cannot call `pride::run` from within a pride runtime")]
fn run_inside_a_runtime_panics_before_building_a_runtime() {
    runtime(1).block_on(async { pride::run(async {}) });
}

/// Runs `block_on` on a runtime it holds, and then `pride::run`, in its `Drop`, and
/// sends what each panicked with.
struct BlockOnInDrop {
    runtime: Runtime,
    messages: std::sync::mpsc::Sender<String>,
}

impl Drop for BlockOnInDrop {
    fn drop(&mut self) {
        let calls: [&dyn Fn(); 2] = [
            &|| self.runtime.block_on(async {}),
            &|| pride::run(async {}),
        ];
        for call in calls {
            let message = match catch_unwind(AssertUnwindSafe(call)) {
                Ok(()) => "no panic".to_owned(),
                Err(payload) => panic_text(&*payload).to_owned(),
            };
            let _ = self.messages.send(message);
        }
    }
}

thread_local! {
    static BLOCK_ON_IN_DROP: std::cell::RefCell<Option<BlockOnInDrop>> =
        const { std::cell::RefCell::new(None) };
}

/// `block_on` and `pride::run` called from a thread-local's destructor, once the
/// thread's pride context is destroyed, panic with a message that says so (not the
/// standard library's "cannot access a Thread Local Storage value", which, escaping
/// the destructor, aborted the process).
#[test]
fn block_on_in_a_thread_local_destructor_panics_clearly() {
    let (messages, received) = std::sync::mpsc::channel();
    watchdog(60, move || {
        std::thread::spawn(move || {
            let rt = runtime(1);
            BLOCK_ON_IN_DROP.with(|slot| {
                *slot.borrow_mut() = Some(BlockOnInDrop {
                    runtime: rt,
                    messages,
                })
            });
            // Registers pride's context thread-local after `BLOCK_ON_IN_DROP`, so it
            // is destroyed first.
            runtime(1).block_on(async {});
        })
        .join()
        .unwrap();
    });
    let messages: Vec<String> = received.iter().collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    for (message, what) in messages.iter().zip(["`block_on`", "`pride::run`"]) {
        assert!(
            message.starts_with(&format!(
                "pride: cannot call {what} from a thread-local's destructor"
            )),
            "unclear message: {message}"
        );
    }
}

#[test]
fn runtime_is_usable_after_a_nested_block_on_panicked() {
    let rt = runtime(1);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { rt.block_on(async {}) });
    }));
    assert!(caught.is_err());
    // The thread left the runtime context while unwinding: block_on works again.
    assert_eq!(rt.block_on(async { 5 }), 5);
    let other = runtime(1);
    assert_eq!(other.block_on(async { 6 }), 6);
}

#[test]
#[should_panic(expected = "must run within a pride runtime")]
fn task_group_outside_a_runtime_panics_with_a_clear_message() {
    let _ = futures_lite::future::block_on(task_group(async |_tg| {}));
}

#[test]
fn task_group_outside_a_runtime_names_the_function() {
    let caught = catch_unwind(|| {
        futures_lite::future::block_on(task_group(async |_tg| {})).unwrap();
    })
    .unwrap_err();
    let message = panic_text(&*caught);
    assert!(message.contains("task_group"), "{message}");
}

/// The text of the panic `f` raises, which must say that it needs a pride runtime.
fn outside_a_runtime_message(f: impl FnOnce()) -> String {
    let caught = catch_unwind(AssertUnwindSafe(f)).expect_err("no panic outside a runtime");
    let message = panic_text(&*caught).to_owned();
    assert!(message.starts_with("pride: "), "{message}");
    assert!(message.contains("within a pride runtime"), "{message}");
    message
}

#[test]
fn to_thread_outside_a_runtime_panics_with_a_clear_message() {
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ran2 = ran.clone();
    let message = outside_a_runtime_message(|| {
        futures_lite::future::block_on(pride::to_thread(move || {
            ran2.store(true, std::sync::atomic::Ordering::SeqCst)
        }));
    });
    assert!(message.contains("to_thread"), "{message}");
    assert!(
        !ran.load(std::sync::atomic::Ordering::SeqCst),
        "the closure ran"
    );
}

#[test]
fn binding_a_socket_outside_a_runtime_panics_with_a_clear_message() {
    let message = outside_a_runtime_message(|| {
        let _ = futures_lite::future::block_on(pride::net::TcpListener::bind("127.0.0.1:0"));
    });
    assert!(message.contains("socket"), "{message}");
    outside_a_runtime_message(|| {
        let _ = futures_lite::future::block_on(pride::net::UdpSocket::bind("127.0.0.1:0"));
    });
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    outside_a_runtime_message(|| {
        let _ = pride::net::TcpListener::from_std(std_listener);
    });
}

#[test]
fn block_on_runs_its_future_on_the_calling_thread() {
    let rt = runtime(2);
    let caller = std::thread::current().id();
    let (before, after) = rt.block_on(async {
        let before = std::thread::current().id();
        pride::yield_now().await;
        pride::sleep(std::time::Duration::from_millis(1)).await;
        (before, std::thread::current().id())
    });
    assert_eq!(before, caller);
    assert_eq!(
        after, caller,
        "resumed on another thread after a suspension"
    );
}

#[test]
fn block_on_accepts_a_future_that_is_not_send() {
    let rt = runtime(2);
    let shared = std::rc::Rc::new(std::cell::Cell::new(1));
    let value = rt.block_on(async {
        // An `Rc` held across suspension points: the future is `!Send`.
        let local = shared.clone();
        pride::yield_now().await;
        local.set(local.get() + 1);
        pride::sleep(std::time::Duration::from_millis(1)).await;
        local.set(local.get() * 10);
        local.get()
    });
    assert_eq!(value, 20);
    assert_eq!(shared.get(), 20);
    assert_eq!(std::rc::Rc::strong_count(&shared), 1);
}

#[test]
fn run_runs_a_group() {
    let total = pride::run(async {
        let n = Counter::new();
        let n2 = n.clone();
        let v = task_group(async |tg| {
            for _ in 0..10 {
                let n = n2.clone();
                tg.start_soon(async move {
                    pride::yield_now().await;
                    n.inc();
                });
            }
            Ok::<_, pride::BoxError>(7)
        })
        .await
        .unwrap();
        v + n.get()
    });
    assert_eq!(total, 17);
}

thread_local! {
    static MARKER: std::cell::RefCell<Option<Marker>> = const { std::cell::RefCell::new(None) };
}

/// Set in a worker's thread-local; counts its drop, which happens when the thread exits.
struct Marker(Counter);

impl Drop for Marker {
    fn drop(&mut self) {
        self.0.inc();
    }
}

#[test]
fn dropping_the_runtime_joins_its_workers() {
    watchdog(60, || {
        let workers = 3;
        let rt = Runtime::builder()
            .worker_threads(workers)
            .thread_name("join-check")
            .build()
            .unwrap();
        let marked = Counter::new();
        let exited = Counter::new();
        rt.block_on(task_group(async |tg| {
            for _ in 0..200 {
                let (marked, exited) = (marked.clone(), exited.clone());
                tg.start_soon(async move {
                    let on_worker = std::thread::current()
                        .name()
                        .is_some_and(|n| n.starts_with("join-check"));
                    assert!(on_worker);
                    MARKER.with(|m| {
                        let mut m = m.borrow_mut();
                        if m.is_none() {
                            *m = Some(Marker(exited));
                            marked.inc();
                        }
                    });
                    pride::yield_now().await;
                });
            }
        }))
        .unwrap();
        let marked = marked.get();
        assert!((1..=workers).contains(&marked));
        assert_eq!(
            exited.get(),
            0,
            "a worker exited while the runtime was alive"
        );
        drop(rt);
        // Every worker that ran a child has exited (its thread-locals were destroyed)
        // by the time the drop returns.
        assert_eq!(exited.get(), marked);
    });
}

#[test]
fn many_runtimes_are_created_and_dropped() {
    watchdog(120, || {
        for i in 0..50 {
            let rt = runtime(2);
            let n = Counter::new();
            let n2 = n.clone();
            rt.block_on(task_group(async |tg| {
                for _ in 0..4 {
                    let n = n2.clone();
                    tg.start_soon(async move { n.inc() });
                }
            }))
            .unwrap();
            assert_eq!(n.get(), 4, "runtime {i}");
            drop(rt);
        }
    });
}

#[test]
fn dropping_an_idle_runtime_returns() {
    watchdog(60, || {
        for _ in 0..20 {
            drop(runtime(4));
        }
    });
}

/// Dropping the runtime drops every task's future exactly once, also those nothing
/// else would reach again: the children of a group whose future was forgotten (asleep
/// on a timer, pending forever, or awaiting `to_thread`).
#[test]
fn dropping_the_runtime_drops_every_task_once() {
    let dropped = Counter::new();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let rt = crate::common::builder(2)
        .max_blocking_threads(4)
        .build()
        .expect("runtime");
    let started = Counter::new();
    {
        let (dropped, started, gate) = (dropped.clone(), started.clone(), gate.clone());
        rt.block_on(async move {
            let counted = started.clone();
            let group = task_group(async move |tg| {
                for i in 0..5_000 {
                    let guard = dropped.drop_guard();
                    let started = started.clone();
                    let gate = gate.clone();
                    tg.start_soon(async move {
                        let _guard = guard;
                        started.inc();
                        match i % 5 {
                            0 => pride::sleep(std::time::Duration::from_secs(3600)).await,
                            1 => {
                                let _ = pride::to_thread(move || gate.lock().unwrap().recv()).await;
                            }
                            _ => std::future::pending::<()>().await,
                        }
                    });
                }
                std::future::pending::<()>().await;
            });
            leak_once_started(group, || counted.get() == 5_000).await;
        });
    }
    assert_eq!(dropped.get(), 0);
    watchdog(60, move || drop(rt));
    assert_eq!(dropped.get(), 5_000);
    drop(release);
}

/// Dropping the runtime drops the children of a forgotten group that two workers
/// started at the same time, and those the `block_on` thread started.
#[test]
fn dropping_the_runtime_drops_children_started_from_two_workers_at_once() {
    let dropped = Counter::new();
    let rt = crate::common::builder(2).build().expect("runtime");
    {
        let dropped = dropped.clone();
        rt.block_on(async move {
            let started = Counter::new();
            let counted = started.clone();
            let group = task_group(async move |tg| {
                // Each spawner blocks its worker until the other runs too.
                let both = Arc::new(std::sync::Barrier::new(2));
                for _ in 0..2 {
                    let (spawner, both) = (tg.clone(), both.clone());
                    let (dropped, started) = (dropped.clone(), started.clone());
                    tg.start_soon(async move {
                        both.wait();
                        for _ in 0..50 {
                            let guard = dropped.drop_guard();
                            spawner.start_soon(async move {
                                let _guard = guard;
                                std::future::pending::<()>().await;
                            });
                        }
                        started.inc();
                        std::future::pending::<()>().await;
                    });
                }
                for _ in 0..50 {
                    let guard = dropped.drop_guard();
                    tg.start_soon(async move {
                        let _guard = guard;
                        std::future::pending::<()>().await;
                    });
                }
                std::future::pending::<()>().await;
            });
            leak_once_started(group, || counted.get() == 2).await;
        });
    }
    assert_eq!(dropped.get(), 0);
    watchdog(60, move || drop(rt));
    assert_eq!(dropped.get(), 150);
}

/// Starts children when dropped: one in each of `groups`, and then one more in the
/// last. Each child holds a guard of `dropped`, as this does.
struct StartsChildrenWhenDropped {
    groups: Vec<pride::TaskGroup>,
    dropped: Counter,
    _guard: crate::common::DropGuard,
}

impl Drop for StartsChildrenWhenDropped {
    fn drop(&mut self) {
        let last = self.groups.last().expect("a group");
        for group in self.groups.iter().chain([last]) {
            let guard = self.dropped.drop_guard();
            group
                .try_start_soon(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                })
                .expect("the forgotten group is open");
        }
    }
}

/// A future that the runtime's drop drops may start children: in a group the drop has
/// already reached, and in a group that had no child until then, behind a limit of
/// one (its first child is dropped unrun, and holds the slot; the second would wait
/// for the slot, so only the group's node can reach it: the first child's link found
/// the runtime shut down and marked the node, which cancels the second as it is
/// linked). Each is dropped too, exactly once, before the runtime's drop returns.
#[test]
fn children_started_while_the_runtime_drops_are_dropped_too() {
    let dropped = Counter::new();
    let rt = crate::common::runtime(2);
    {
        let dropped = dropped.clone();
        rt.block_on(async move {
            let (send, receive) = std::sync::mpsc::channel();
            let childless = pride::task_group_with_limit(1, async move |tg| {
                send.send(tg.clone()).unwrap();
                std::future::pending::<()>().await;
            });
            let mut childless = Box::pin(childless);
            futures_lite::future::poll_once(childless.as_mut()).await;
            let childless_handle = receive.recv().unwrap();
            let with_child = task_group(async move |tg| {
                let starter = StartsChildrenWhenDropped {
                    groups: vec![tg.clone(), childless_handle],
                    _guard: dropped.drop_guard(),
                    dropped,
                };
                tg.start_soon(async move {
                    let _starter = starter;
                    std::future::pending::<()>().await;
                });
                std::future::pending::<()>().await;
            });
            let mut with_child = Box::pin(with_child);
            futures_lite::future::poll_once(with_child.as_mut()).await;
            std::mem::forget(with_child);
            std::mem::forget(childless);
        });
    }
    assert_eq!(dropped.get(), 0);
    watchdog(60, move || drop(rt));
    // The first child's guard, and one guard in each child it started as it dropped.
    assert_eq!(dropped.get(), 4);
}

/// Dropping the runtime drops a nested group whose body awaits `start` of a child that
/// has not called `started` (inside a task of a forgotten group). The unstarted
/// child's status, dropped, wakes the task that awaits `start`: that task's future
/// (holding the nested group) is dropped after, not inside, the child's drop, so the
/// group's teardown does not wait for a child further up its own stack.
#[test]
fn dropping_the_runtime_drops_a_nested_group_awaiting_an_unstarted_start() {
    let rt = runtime(2);
    let running = Flag::new();
    let dropped = Counter::new();
    {
        let (running, dropped) = (running.clone(), dropped.clone());
        rt.block_on(async move {
            let seen = running.clone();
            let group = task_group(async move |tg| {
                let outer_guard = dropped.drop_guard();
                tg.start_soon(async move {
                    let _guard = outer_guard;
                    let _ = task_group(async move |inner| {
                        let guard = dropped.drop_guard();
                        let _ = inner
                            .start(async move |_status: pride::TaskStatus<()>| {
                                let _guard = guard;
                                running.set();
                                std::future::pending::<()>().await;
                            })
                            .await;
                    })
                    .await;
                });
                std::future::pending::<()>().await;
            });
            leak_once_started(group, || seen.is_set()).await;
        });
    }
    watchdog(60, move || drop(rt));
    assert_eq!(dropped.get(), 2);
}

/// Sets `event` in its `Drop`, holding `lock`.
struct SetsEventUnderLock {
    lock: Arc<Mutex<()>>,
    event: pride::Event,
}

impl Drop for SetsEventUnderLock {
    fn drop(&mut self) {
        let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.event.set();
    }
}

/// Takes `lock` in its `Drop`.
struct TakesLock(Arc<Mutex<()>>);

impl Drop for TakesLock {
    fn drop(&mut self) {
        let _held = self.0.lock().unwrap_or_else(|e| e.into_inner());
    }
}

/// While the runtime's drop drops its tasks, a wake queues the woken task as it does
/// while the runtime runs: the task's future is dropped after the waker's call, not
/// inside it. Here one task's `Drop` sets an event under a lock, and the task waiting
/// for that event takes the same lock in its own `Drop`: run inside `Event::set`,
/// that cleanup would deadlock.
#[test]
fn dropping_the_runtime_never_drops_a_woken_task_inside_the_wake() {
    let rt = runtime(2);
    let lock = Arc::new(Mutex::new(()));
    let waiting = Flag::new();
    {
        let (lock, waiting) = (lock.clone(), waiting.clone());
        rt.block_on(async move {
            let seen = waiting.clone();
            let group = task_group(async move |tg| {
                let event = pride::Event::new();
                let setter = SetsEventUnderLock {
                    lock: lock.clone(),
                    event: event.clone(),
                };
                tg.start_soon(async move {
                    let _setter = setter;
                    std::future::pending::<()>().await;
                });
                tg.start_soon(async move {
                    let _cleanup = TakesLock(lock);
                    waiting.set();
                    event.wait().await;
                });
                std::future::pending::<()>().await;
            });
            leak_once_started(group, || seen.is_set()).await;
        });
    }
    watchdog(60, move || drop(rt));
}

/// The last handle to a runtime, dropped inside a task on one of its workers, where
/// the task is a child of a nested group (in a task of a forgotten group): the drop
/// drops the task that holds the nested group, whose teardown does not wait for its
/// children once the runtime drops its tasks (the dropping task, mid-poll further
/// down this worker's stack, among them). The drop returns, and so does the task.
#[test]
fn a_runtime_dropped_inside_a_nested_task_of_its_own_returns() {
    watchdog(60, || {
        let rt = Arc::new(runtime(2));
        let ev = pride::Event::new();
        let waiting = Flag::new();
        let done = Flag::new();
        {
            let (rt2, ev2) = (rt.clone(), ev.clone());
            let (waiting, done) = (waiting.clone(), done.clone());
            rt.block_on(async move {
                let seen = waiting.clone();
                let group = task_group(async move |tg| {
                    tg.start_soon(async move {
                        let _ = task_group(async move |inner| {
                            inner.start_soon(async move {
                                waiting.set();
                                ev2.wait().await;
                                drop(rt2);
                                done.set();
                            });
                        })
                        .await;
                    });
                    std::future::pending::<()>().await;
                });
                leak_once_started(group, || seen.is_set()).await;
            });
        }
        // The task now holds the last handle.
        drop(rt);
        ev.set();
        crate::common::spin_until(|| done.is_set());
    });
}

/// A future nested `depth` levels deep, each level awaiting the next: polling it takes
/// a stack frame per level on the polling thread.
fn nested(depth: usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            pride::yield_now().await;
            0
        } else {
            nested(depth - 1).await + 1
        }
    })
}

/// `thread_stack_size` gives the workers the stack a deeply nested future needs (10,000
/// levels overflow the default 2 MiB worker stack).
#[test]
fn thread_stack_size_lets_workers_poll_deeply_nested_futures() {
    let builder = crate::common::builder(2)
        .thread_stack_size(256 << 20)
        .clone();
    let depth = crate::common::block_on(60, &builder, || async {
        let depth = Arc::new(Mutex::new(0));
        let out = depth.clone();
        task_group(async move |tg| {
            tg.start_soon(async move {
                *out.lock().unwrap() = nested(10_000).await;
            });
        })
        .await
        .unwrap();
        *depth.lock().unwrap()
    });
    assert_eq!(depth, 10_000);
}

#[test]
#[should_panic(expected = "thread_stack_size must be at least")]
fn a_zero_stack_size_panics_clearly() {
    pride::Runtime::builder().thread_stack_size(0);
}

/// A stack too small for the runtime's own code is refused when it is set, with a
/// clear message, instead of overflowing (which aborts the process) at the first task.
#[test]
#[should_panic(expected = "thread_stack_size must be at least")]
fn a_stack_too_small_for_the_runtime_panics_clearly() {
    pride::Runtime::builder().thread_stack_size(pride::Builder::MIN_THREAD_STACK_SIZE - 1);
}

fn panics() {
    panic!("a panic on a small stack");
}

/// The smallest stack size accepted runs tasks that sleep, call `to_thread` and panic.
#[test]
fn the_smallest_stack_size_runs_tasks() {
    let builder = crate::common::builder(2)
        .thread_stack_size(pride::Builder::MIN_THREAD_STACK_SIZE)
        .clone();
    let err = crate::common::block_on(60, &builder, || {
        task_group(async |tg| {
            for _ in 0..10 {
                tg.start_soon(pride::sleep(std::time::Duration::from_millis(1)));
            }
            tg.start_soon(async {
                assert_eq!(pride::to_thread(|| 1 + 1).await, 2);
            });
            tg.start_soon(async { panics() });
        })
    })
    .unwrap_err();
    assert_eq!(err.errors().len(), 1, "{err:?}");
    assert!(err.errors()[0].is_panic());
}
