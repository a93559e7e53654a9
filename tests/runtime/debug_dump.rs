//! `pride::debug::dump` / `Runtime::dump`: the live tree of scopes, groups and tasks.
//!
//! The dumps are taken once every task is blocked: on the autojump clock a
//! `sleep(1 ms)` ends only then, so the states read are settled, not racing.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::time::Duration;

use pride::debug::{Deadline, DumpNode, NodeKind, TreeDump, Wait};
use pride::{CancelScope, Event, Runtime, task_group};

fn runtime() -> Runtime {
    Runtime::builder()
        .worker_threads(2)
        .clock(pride::time::Clock::autojump())
        .build()
        .unwrap()
}

/// Waits until every task is blocked, then dumps.
async fn settled_dump() -> TreeDump {
    pride::sleep(Duration::from_millis(1)).await;
    pride::debug::dump()
}

fn find<'a>(dump: &'a TreeDump, name: &str) -> &'a DumpNode {
    dump.nodes()
        .find(|n| n.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no node named {name:?} in\n{dump}"))
}

#[test]
fn named_children_show_under_their_group_with_their_state() {
    let rt = runtime();
    let stop = Event::new();
    let dump = rt
        .block_on(task_group(async |tg| {
            for name in ["reader", "writer"] {
                let stop = stop.clone();
                tg.start_soon_named(name, async move { stop.wait().await });
            }
            tg.start_soon({
                let stop = stop.clone();
                async move { stop.wait().await }
            });
            let dump = settled_dump().await;
            stop.set();
            Ok::<_, pride::BoxError>(dump)
        }))
        .unwrap();
    assert_eq!(dump.workers, 2);
    assert_eq!(dump.roots.len(), 1);
    let root = &dump.roots[0];
    assert_eq!(root.kind, NodeKind::BlockOn);
    assert_eq!(root.children.len(), 1, "{dump}");
    let group = &root.children[0];
    assert_eq!(group.kind, NodeKind::Group);
    let mut tasks: Vec<_> = group
        .children
        .iter()
        .map(|t| {
            assert_eq!(t.kind, NodeKind::Task);
            (t.name.as_deref(), t.task_state)
        })
        .collect();
    tasks.sort();
    assert_eq!(
        tasks,
        [
            (None, Some("idle")),
            (Some("reader"), Some("idle")),
            (Some("writer"), Some("idle")),
        ]
    );
    let text = dump.to_string();
    assert!(text.contains("task \"reader\": idle"), "{text}");
}

/// A child that has finished leaves the tree at once, though its group may keep its
/// link for a while (the group drops finished children's links in batches).
#[test]
fn a_finished_child_is_not_in_the_tree() {
    let rt = runtime();
    let stop = Event::new();
    let dump = rt
        .block_on(task_group(async |tg| {
            tg.start_soon_named("done", async { Ok::<_, pride::BoxError>(()) });
            let wait = stop.clone();
            tg.start_soon_named("waiting", async move { wait.wait().await });
            let dump = settled_dump().await;
            stop.set();
            Ok::<_, pride::BoxError>(dump)
        }))
        .unwrap();
    let group = &dump.roots[0].children[0];
    let names: Vec<_> = group.children.iter().map(|t| t.name.as_deref()).collect();
    assert_eq!(names, [Some("waiting")], "{dump}");
}

#[test]
fn nested_groups_and_scopes_show_where_they_were_opened() {
    let rt = runtime();
    let stop = Event::new();
    let dump = rt
        .block_on(task_group(async |tg| {
            let inner_stop = stop.clone();
            tg.start_soon_named("parent", async move {
                let shielded = CancelScope::new();
                shielded.set_shield(true);
                shielded
                    .run(task_group(async |inner| {
                        inner
                            .start_soon_named("grandchild", async move { inner_stop.wait().await });
                    }))
                    .await;
            });
            let timed = CancelScope::with_timeout(Duration::from_secs(60));
            let dump = timed.run(settled_dump()).await.unwrap();
            stop.set();
            Ok::<_, pride::BoxError>(dump)
        }))
        .unwrap();
    let parent = find(&dump, "parent");
    assert_eq!(parent.children.len(), 1, "{dump}");
    // The child made its own scope when it entered one: it shows once, with what it
    // entered below it.
    let named_parent = dump.nodes().filter(|n| n.name.as_deref() == Some("parent"));
    assert_eq!(named_parent.count(), 1, "{dump}");
    let shield = &parent.children[0];
    assert_eq!((shield.kind, shield.shielded), (NodeKind::Scope, true));
    let inner = &shield.children[0];
    assert_eq!(inner.kind, NodeKind::Group);
    assert_eq!(inner.children[0].name.as_deref(), Some("grandchild"));
    // The body's own timeout scope sits beside the child tasks, below the group.
    let group = &dump.roots[0].children[0];
    let timed: Vec<_> = group
        .children
        .iter()
        .filter(|n| n.kind == NodeKind::Scope)
        .collect();
    assert_eq!(timed.len(), 1, "{dump}");
    // 1 ms of the 60 s passed in the settling sleep.
    assert_eq!(
        timed[0].deadline,
        Some(Deadline::In(Duration::from_millis(59_999)))
    );
    assert!(dump.to_string().contains("deadline in 59.999s"), "{dump}");
}

#[test]
fn a_cancelled_scope_shows_its_reason() {
    let rt = runtime();
    let dump = rt.block_on(async {
        let scope = CancelScope::new();
        let inner = scope.clone();
        let mut seen = None;
        scope
            .run(async {
                inner.cancel_with_reason("shutting down");
                // Cancelled, but the work goes on inside a shield, and shows.
                let shield = CancelScope::new();
                shield.set_shield(true);
                seen = shield.run(settled_dump()).await;
            })
            .await;
        seen.unwrap()
    });
    let cancelled = &dump.roots[0].children[0];
    assert_eq!(cancelled.kind, NodeKind::Scope);
    assert!(cancelled.cancel_called);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("shutting down"));
    let shield = &cancelled.children[0];
    assert!(shield.shielded && !shield.cancel_called, "{dump}");
    assert!(
        dump.to_string()
            .contains("scope: cancelled (\"shutting down\")"),
        "{dump}"
    );
}

#[test]
fn runtime_dump_works_from_another_thread() {
    let rt = runtime();
    assert!(rt.dump().roots.is_empty());
    let (waiting_tx, waiting_rx) = mpsc::channel();
    let stop = Event::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            rt.block_on(task_group(async |tg| {
                let stuck = stop.clone();
                tg.start_soon_named("stuck", async move { stuck.wait().await });
                settled_dump().await;
                waiting_tx.send(()).unwrap();
                stop.wait().await;
            }))
            .unwrap();
        });
        waiting_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let dump = rt.dump();
        stop.set();
        assert_eq!(dump.roots.len(), 1);
        assert_eq!(find(&dump, "stuck").task_state, Some("idle"));
    });
    assert!(rt.dump().roots.is_empty());
}

#[test]
fn the_json_form_holds_the_same_tree() {
    let rt = runtime();
    let stop = Event::new();
    let dump = rt
        .block_on(task_group(async |tg| {
            let stop2 = stop.clone();
            tg.start_soon_named("say \"hi\"", async move { stop2.wait().await });
            let dump = settled_dump().await;
            stop.set();
            Ok::<_, pride::BoxError>(dump)
        }))
        .unwrap();
    let task = concat!(
        r#"{"kind":"task","name":"say \"hi\"","state":"idle","since_poll_ms":1.000,"#,
        r#""waiting":{"on":"event"},"cancel_called":false,"#,
        r#""cancelled_caught":false,"shielded":false,"deadline_in_ms":null,"#,
        r#""cancel_reason":null,"children":[]}"#
    );
    let group = format!(
        concat!(
            r#"{{"kind":"group","name":null,"state":null,"since_poll_ms":null,"#,
            r#""waiting":null,"cancel_called":false,"#,
            r#""cancelled_caught":false,"shielded":false,"deadline_in_ms":null,"#,
            r#""cancel_reason":null,"children":[{}]}}"#
        ),
        task
    );
    let expected = format!(
        concat!(
            r#"{{"workers":2,"roots":[{{"kind":"block_on","name":null,"state":null,"#,
            r#""since_poll_ms":0.000,"waiting":null,"#,
            r#""cancel_called":false,"cancelled_caught":false,"shielded":false,"#,
            r#""deadline_in_ms":null,"cancel_reason":null,"children":[{}]}}]}}"#
        ),
        group
    );
    assert_eq!(dump.to_json(), expected);
}

#[test]
fn each_task_says_what_it_waits_for_and_when_it_last_ran() {
    let rt = runtime();
    let dump = rt
        .block_on(async {
            // The socket pair first: while a connect is in flight no timer is armed, so
            // the autojump clock stays at zero.
            let listener = pride::net::TcpListener::bind("127.0.0.1:0").await?;
            let client = pride::net::TcpStream::connect(listener.local_addr()?).await?;
            let (server, _) = listener.accept().await?;
            let lock = std::sync::Arc::new(pride::Lock::new(()));
            let held = lock.lock().await;
            let permits = std::sync::Arc::new(pride::Semaphore::new(0));
            let (_tx, rx) = pride::sync::channel::<u32>(1);
            let event = Event::new();
            let dump = task_group(async |tg| {
                tg.start_soon_named("sleeper", pride::sleep(Duration::from_secs(60)));
                let inner = lock.clone();
                tg.start_soon_named("locker", async move {
                    drop(inner.lock().await);
                });
                let inner = permits.clone();
                tg.start_soon_named("acquirer", async move {
                    drop(inner.acquire().await);
                });
                tg.start_soon_named("receiver", async move {
                    let _ = rx.recv().await;
                });
                tg.start_soon_named("reader", async move {
                    let mut buf = [0; 1];
                    let _ = server.read(&mut buf).await;
                });
                let inner = event.clone();
                tg.start_soon_named("waiter", async move { inner.wait().await });
                let (group, inner) = (tg.clone(), event.clone());
                tg.start_soon_named("joiner", async move {
                    let _ = group.spawn(async move { inner.wait().await }).await;
                });
                let inner = event.clone();
                tg.start_soon_named("parent", async move {
                    // The inner group's body ends at once; its child does not.
                    let _ = task_group(async |children| {
                        children.start_soon(async move { inner.wait().await });
                    })
                    .await;
                });
                // Every task has run and blocked at time zero; one second on, dump.
                pride::sleep(Duration::from_secs(1)).await;
                let dump = pride::debug::dump();
                tg.cancel_scope().cancel();
                Ok::<_, pride::BoxError>(dump)
            })
            .await?;
            drop((held, client));
            Ok::<_, pride::BoxError>(dump)
        })
        .unwrap();
    let expected = [
        (
            "sleeper",
            Wait::Sleep(Deadline::In(Duration::from_secs(59))),
            "waits in a sleep ending in 59.000s",
            r#""waiting":{"on":"sleep","deadline_in_ms":59000.000}"#,
        ),
        (
            "locker",
            Wait::Lock,
            "waits for a lock",
            r#""waiting":{"on":"lock"}"#,
        ),
        (
            "acquirer",
            Wait::Semaphore,
            "waits for semaphore permits",
            r#""waiting":{"on":"semaphore"}"#,
        ),
        (
            "receiver",
            Wait::Queue,
            "waits on a queue",
            r#""waiting":{"on":"queue"}"#,
        ),
        (
            "reader",
            Wait::Readable,
            "waits for a socket to be readable",
            r#""waiting":{"on":"readable"}"#,
        ),
        (
            "waiter",
            Wait::Event,
            "waits for an event",
            r#""waiting":{"on":"event"}"#,
        ),
        (
            "joiner",
            Wait::Join,
            "waits for child tasks to finish",
            r#""waiting":{"on":"join"}"#,
        ),
        (
            "parent",
            Wait::Join,
            "waits for child tasks to finish",
            r#""waiting":{"on":"join"}"#,
        ),
    ];
    let text = dump.to_string();
    let json = dump.to_json();
    for (name, wait, says, json_says) in expected {
        let task = find(&dump, name);
        assert_eq!(task.task_state, Some("idle"), "{name} in\n{dump}");
        assert_eq!(task.waiting, Some(wait), "{name} in\n{dump}");
        assert_eq!(
            task.since_poll,
            Some(Duration::from_secs(1)),
            "{name} in\n{dump}"
        );
        let line = format!("task {name:?}: idle, polled 1.000s ago, {says}");
        assert!(text.contains(&line), "no {line:?} in\n{text}");
        let node =
            format!(r#""name":{name:?},"state":"idle","since_poll_ms":1000.000,{json_says}"#);
        assert!(json.contains(&node), "no {node} in\n{json}");
    }
}

/// The other primitives name their wait by its kind: a `Notify` or a `Barrier` is an
/// event, a oneshot, watch or broadcast receiver a queue, a `CapacityLimiter` permits.
#[test]
fn every_waiting_primitive_names_its_kind() {
    use std::sync::Arc;
    let rt = runtime();
    let dump = rt
        .block_on(async {
            let notify = Arc::new(pride::sync::Notify::new());
            let barrier = Arc::new(pride::sync::Barrier::new(2));
            let (_once_tx, once_rx) = pride::sync::oneshot::channel::<u32>();
            let (_watch_tx, mut watch_rx) = pride::sync::watch::channel(0u32);
            let (_cast_tx, mut cast_rx) = pride::sync::broadcast::channel::<u32>(4);
            let limiter = Arc::new(pride::CapacityLimiter::new(1));
            let token = limiter.acquire().await;
            task_group(async |tg| {
                let inner = notify.clone();
                tg.start_soon_named("notified", async move { inner.notified().await });
                let inner = barrier.clone();
                tg.start_soon_named("barrier", async move {
                    inner.wait().await;
                });
                tg.start_soon_named("oneshot", async move {
                    let _ = once_rx.await;
                });
                tg.start_soon_named("watch", async move {
                    let _ = watch_rx.changed().await;
                });
                tg.start_soon_named("broadcast", async move {
                    let _ = cast_rx.recv().await;
                });
                let inner = limiter.clone();
                tg.start_soon_named("limiter", async move {
                    drop(inner.acquire().await);
                });
                pride::sleep(Duration::from_secs(1)).await;
                let dump = pride::debug::dump();
                tg.cancel_scope().cancel();
                Ok::<_, pride::BoxError>((dump, token))
            })
            .await
        })
        .unwrap()
        .0;
    for (name, wait) in [
        ("notified", Wait::Event),
        ("barrier", Wait::Event),
        ("oneshot", Wait::Queue),
        ("watch", Wait::Queue),
        ("broadcast", Wait::Queue),
        ("limiter", Wait::Semaphore),
    ] {
        let task = find(&dump, name);
        assert_eq!(task.waiting, Some(wait), "{name} in\n{dump}");
    }
}

#[test]
fn the_block_on_future_says_what_it_waits_for() {
    let rt = runtime();
    let (dump_tx, dump_rx) = mpsc::channel();
    rt.block_on(task_group(async |tg| {
        let done = Event::new();
        let inner = done.clone();
        tg.start_soon(async move {
            // Every task and the `block_on` future are blocked when this sleep ends.
            pride::sleep(Duration::from_secs(1)).await;
            dump_tx.send(pride::debug::dump()).unwrap();
            inner.set();
        });
        done.wait().await;
    }))
    .unwrap();
    let dump = dump_rx.recv().unwrap();
    let root = &dump.roots[0];
    assert_eq!(root.kind, NodeKind::BlockOn);
    assert_eq!(root.waiting, Some(Wait::Event), "{dump}");
    assert_eq!(root.since_poll, Some(Duration::from_secs(1)), "{dump}");
    let text = dump.to_string();
    assert!(
        text.contains("block_on: polled 1.000s ago, waits for an event"),
        "{text}"
    );
}

#[test]
fn a_wait_is_forgotten_when_the_task_runs_again() {
    let rt = runtime();
    let dump = rt
        .block_on(task_group(async |tg| {
            let go = Event::new();
            let inner = go.clone();
            tg.start_soon_named("busy", async move {
                inner.wait().await;
                // Woken, and now pending in a future that records no wait.
                std::future::pending::<()>().await;
            });
            pride::sleep(Duration::from_secs(1)).await;
            go.set();
            let dump = settled_dump().await;
            tg.cancel_scope().cancel();
            Ok::<_, pride::BoxError>(dump)
        }))
        .unwrap();
    let busy = find(&dump, "busy");
    assert_eq!(busy.waiting, None, "{dump}");
    // Polled again when the event was set, at one second; dumped a millisecond later.
    assert_eq!(busy.since_poll, Some(Duration::from_millis(1)), "{dump}");
}

/// A `select!` whose losing branch had gone pending (and recorded its wait) drops that
/// branch: the task, now waiting in something that records nothing, shows no wait,
/// not the dropped branch's.
#[test]
fn a_losing_select_branch_leaves_no_wait_behind() {
    let rt = runtime();
    let dump = rt
        .block_on(task_group(async |tg| {
            tg.start_soon_named("chooser", async move {
                let ready = Event::new();
                ready.set();
                pride::select! {
                    () = pride::sleep(Duration::from_secs(3600)) => {},
                    () = ready.wait() => {},
                };
                std::future::pending::<()>().await;
            });
            let dump = settled_dump().await;
            tg.cancel_scope().cancel();
            Ok::<_, pride::BoxError>(dump)
        }))
        .unwrap();
    assert_eq!(find(&dump, "chooser").waiting, None, "{dump}");
}

/// A task waiting for a `to_thread` closure says so.
#[test]
fn a_task_waiting_for_a_blocking_closure_says_so() {
    let rt = runtime();
    let (release, released) = mpsc::channel::<()>();
    let dump = rt
        .block_on(task_group(async |tg| {
            tg.start_soon_named("offloader", async move {
                pride::to_thread(move || released.recv().unwrap()).await;
            });
            // The group shows once its body has suspended, and the wait once the task's
            // first poll has returned. A dump is read while the task may be polled
            // again (a poll starts by clearing the wait it records anew), so look until
            // it shows, a bounded number of times.
            let mut dump = pride::debug::dump();
            for _ in 0..100_000 {
                pride::yield_now().await;
                dump = pride::debug::dump();
                let offloader = dump
                    .nodes()
                    .find(|n| n.name.as_deref() == Some("offloader"));
                if offloader.is_some_and(|n| n.waiting.is_some()) {
                    break;
                }
            }
            release.send(()).unwrap();
            Ok::<_, pride::BoxError>(dump)
        }))
        .unwrap();
    let node = find(&dump, "offloader");
    assert_eq!(node.waiting, Some(Wait::Thread), "{dump}");
    assert!(
        dump.to_string()
            .contains("waits for a closure on the blocking pool"),
        "{dump}"
    );
}

/// A sleep first polled (and so filed) in one runtime and then awaited in another shows
/// its own deadline, though the two runtimes' time drivers started an hour apart. (A
/// mock clock: on an autojump one, the idle runtime the sleep is filed in would jump
/// it.)
#[test]
fn a_sleep_filed_in_another_runtime_shows_its_deadline() {
    /// Long enough that only a bug makes it run out.
    const PATIENCE: Duration = Duration::from_secs(30);
    let clock = pride::time::Clock::mock();
    let build = || {
        Runtime::builder()
            .worker_threads(1)
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let filed_in = build();
    filed_in.block_on(async { pride::time::advance(Duration::from_secs(3600)) });
    let awaited_in = build();
    // Made and filed in the first runtime by its first poll.
    let mut nap = None;
    filed_in.block_on(async {
        let mut sleep = Box::pin(pride::sleep(Duration::from_secs(60)));
        assert!(
            futures_lite::future::poll_once(sleep.as_mut())
                .await
                .is_none()
        );
        nap = Some(sleep);
    });
    let nap = nap.unwrap();
    let waiting = awaited_in
        .block_on(task_group(async |tg| {
            tg.start_soon_named("napper", nap);
            // The napper sleeps once the worker has polled it.
            let since = std::time::Instant::now();
            let waiting = loop {
                pride::yield_now().await;
                let dump = pride::debug::dump();
                let napper = dump.nodes().find(|n| n.name.as_deref() == Some("napper"));
                if let Some(waiting) = napper.and_then(|n| n.waiting) {
                    break waiting;
                }
                assert!(
                    since.elapsed() < PATIENCE,
                    "the napper never slept:\n{dump}"
                );
            };
            tg.cancel_scope().cancel();
            Ok::<_, pride::BoxError>(waiting)
        }))
        .unwrap();
    assert_eq!(waiting, Wait::Sleep(Deadline::In(Duration::from_secs(60))));
}

/// A group nested `depth` deep, each level's group inside a child of the level above.
fn nested_chain(depth: usize, reached: Event) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            reached.set();
            return std::future::pending().await;
        }
        let _ = task_group(async move |tg| {
            tg.start_soon(nested_chain(depth - 1, reached));
        })
        .await;
    })
}

const DEEP: usize = 5_000;

/// A dump of a chain of `DEEP` nested groups.
fn deep_dump() -> TreeDump {
    let rt = runtime();
    rt.block_on(task_group(async |tg| {
        let reached = Event::new();
        tg.start_soon(nested_chain(DEEP, reached.clone()));
        reached.wait().await;
        let dump = settled_dump().await;
        tg.cancel_scope().cancel();
        Ok::<_, pride::BoxError>(dump)
    }))
    .unwrap()
}

/// Chains of thousands of nested groups are supported: a dump walks one, draws it,
/// writes it as JSON and drops it without a call per level, and its drawing stays
/// linear in size (the indentation does not grow without end).
#[test]
fn dump_of_a_deep_group_chain_does_not_overflow_the_stack() {
    let dump = deep_dump();
    let groups = dump.nodes().filter(|n| n.kind == NodeKind::Group).count();
    assert_eq!(groups, DEEP + 1);
    let text = dump.to_string();
    assert_eq!(text.lines().count(), 1 + dump.nodes().count());
    let widest = text.lines().map(|line| line.chars().count()).max();
    assert!(
        widest < Some(300),
        "indentation grew to {widest:?} characters"
    );
    let json = dump.to_json();
    assert_eq!(json.matches("\"kind\":\"group\"").count(), DEEP + 1);
    assert!(
        json.ends_with(&"]}".repeat(2 * DEEP + 4)),
        "unbalanced JSON"
    );
    drop(dump);
}

const DEEP_HELPER: &str = "debug_dump::helper_clones_compares_and_debug_prints_a_deep_dump";

/// Cloning, comparing and `{:?}`-printing a dump (as an `on_deadlock` handler that
/// keeps or logs its report may) take no call per level either. Run in a child
/// process, which a stack overflow would abort.
#[test]
fn a_deep_dump_is_cloned_compared_and_debug_printed() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            DEEP_HELPER,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("RUST_MIN_STACK")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr: Vec<&str> = stderr.lines().take(5).collect();
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the helper failed ({}): {stderr:?}",
        out.status
    );
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run as a child process by a_deep_dump_is_cloned_compared_and_debug_printed"]
fn helper_clones_compares_and_debug_prints_a_deep_dump() {
    let dump = deep_dump();
    let copy = dump.clone();
    assert!(copy == dump);
    let nodes = dump.nodes().count();
    let debug = format!("{dump:?}");
    assert_eq!(debug.matches("DumpNode {").count(), nodes);
    let pretty = format!("{dump:#?}");
    assert_eq!(pretty.matches("DumpNode {").count(), nodes);
    let widest = pretty.lines().map(str::len).max();
    assert!(
        widest < Some(400),
        "indentation grew to {widest:?} characters"
    );
}

#[test]
#[should_panic(expected = "`pride::debug::dump` must run within a pride runtime")]
fn dump_outside_a_runtime_says_so() {
    pride::debug::dump();
}

/// On the mock clock, a task that `advance` woke is stamped with the advanced time
/// when it runs: the dump does not say it was last polled before the advance (an hour
/// ago here). The advance runs in a task on the one worker, so the tasks it wakes run
/// from that worker's own queue, with no park or turn of the driver in between.
#[test]
fn a_task_a_mock_advance_woke_was_polled_after_it() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const NAPPERS: usize = 40;
    let worst = crate::common::watchdog(60, || {
        let runtime = Runtime::builder()
            .worker_threads(1)
            .clock(pride::time::Clock::mock())
            .build()
            .unwrap();
        runtime.block_on(async {
            let (release, all_ran) = (Event::new(), Event::new());
            let worst = task_group(async |tg| {
                let ran = Arc::new(AtomicUsize::new(0));
                let until = pride::current_time() + Duration::from_secs(3600);
                for i in 0..NAPPERS {
                    let (release, all_ran, ran) = (release.clone(), all_ran.clone(), ran.clone());
                    tg.start_soon_named(format!("napper {i}"), async move {
                        pride::sleep_until(until).await;
                        if ran.fetch_add(1, Ordering::SeqCst) + 1 == NAPPERS {
                            all_ran.set();
                        }
                        release.wait().await;
                    });
                }
                // Every napper waits in its sleep: the poll that ends it begins after
                // the advance moved the clock.
                let asleep = |dump: &TreeDump| {
                    dump.nodes()
                        .filter(|n| n.name.as_deref().is_some_and(|s| s.starts_with("napper")))
                        .filter(|n| matches!(n.waiting, Some(Wait::Sleep(_))))
                        .count()
                };
                tg.start_soon(async move {
                    while asleep(&pride::debug::dump()) < NAPPERS {
                        pride::yield_now().await;
                    }
                    pride::time::advance(Duration::from_secs(3600));
                });
                all_ran.wait().await;
                let worst = pride::debug::dump()
                    .nodes()
                    .filter(|n| n.name.as_deref().is_some_and(|s| s.starts_with("napper")))
                    .map(|n| n.since_poll.expect("a napper was never polled"))
                    .max();
                release.set();
                Ok::<_, std::io::Error>(worst)
            })
            .await
            .unwrap();
            worst.expect("no napper in the dump")
        })
    });
    assert!(
        worst < Duration::from_secs(1),
        "every napper ran after the advance, yet one was stamped {worst:?} before now"
    );
}
