//! `pride::process`: exit statuses, piped streams in both directions, cancel-safe
//! waits, kill on drop, many children at once, and clear errors.
#![cfg(unix)]

use std::process::Stdio;
use std::time::Duration;

use crate::common::{autojump, run};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use pride::process::Command;

#[test]
fn exit_statuses_come_back() {
    run(2, 60, || async {
        assert!(Command::new("true").status().await.unwrap().success());
        assert!(!Command::new("false").status().await.unwrap().success());
        let code = Command::new("sh")
            .args(["-c", "exit 7"])
            .status()
            .await
            .unwrap();
        assert_eq!(code.code(), Some(7));
    });
}

#[test]
fn output_collects_both_streams() {
    run(2, 60, || async {
        let out = Command::new("sh")
            .args(["-c", "printf out; printf err >&2; exit 2"])
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"out");
        assert_eq!(out.stderr, b"err");
        assert_eq!(out.status.code(), Some(2));
    });
}

/// Where the child's standard input comes from, as the child sees it (Linux).
#[cfg(target_os = "linux")]
async fn childs_stdin(command: &mut Command) -> String {
    let out = command
        .args(["-c", "readlink /proc/self/fd/0"])
        .output()
        .await
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[cfg(target_os = "linux")]
fn output_gives_the_child_an_empty_stdin_unless_one_was_set() {
    // The check runs in a copy of this test binary whose own stdin is a pipe, so that
    // an inherited stdin could not pass for an empty one.
    let check = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "process::output_stdin_seen_by_the_child"])
        .args(["--ignored", "--nocapture"])
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && report.contains("checked with a piped stdin"),
        "the check failed: {report}{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
#[cfg(target_os = "linux")]
#[ignore = "run by output_gives_the_child_an_empty_stdin_unless_one_was_set"]
fn output_stdin_seen_by_the_child() {
    let own = std::fs::read_link("/proc/self/fd/0").unwrap();
    if !own.to_string_lossy().starts_with("pipe:") {
        // Run by hand (`--include-ignored`), without the pipe the check needs.
        return;
    }
    run(2, 60, || async {
        assert_eq!(childs_stdin(&mut Command::new("sh")).await, "/dev/null\n");
        let piped = childs_stdin(Command::new("sh").stdin(Stdio::piped())).await;
        assert!(piped.starts_with("pipe:"), "{piped}");
        // A child that reads its stdin ends at once.
        assert!(
            Command::new("cat")
                .output()
                .await
                .unwrap()
                .stdout
                .is_empty()
        );
    });
    println!("checked with a piped stdin");
}

#[test]
fn an_empty_read_of_a_pipe_returns_at_once() {
    run(2, 60, || async {
        let mut child = Command::new("sleep")
            .arg("600")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // The child writes nothing: a read that waited for data would stay pending.
        let read = futures_lite::future::poll_once(stdout.read(&mut [])).await;
        assert!(matches!(read, Some(Ok(0))), "{read:?}");
    });
}

#[test]
fn an_empty_write_to_a_full_pipe_returns_at_once() {
    run(2, 60, || async {
        let mut child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // The child never reads: fill the pipe until a write has to wait. The first
        // write waits for the pipe's first readiness; the next ones fill it.
        let chunk = [0u8; 64 * 1024];
        assert!(stdin.write(&chunk).await.unwrap() > 0);
        while let Some(written) = futures_lite::future::poll_once(stdin.write(&chunk)).await {
            written.unwrap();
        }
        // A write that waited for room would stay pending.
        let write = futures_lite::future::poll_once(stdin.write(&[])).await;
        assert!(matches!(write, Some(Ok(0))), "{write:?}");
    });
}

#[test]
fn a_megabyte_goes_through_cat_and_back() {
    run(2, 60, || async {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let expected = data.clone();
        // More than a pipe holds: the write and the read must run at once.
        pride::task_group(async |tg| {
            tg.start_soon(async move {
                stdin.write_all(&data).await?;
                stdin.close().await
            });
            let mut back = Vec::new();
            stdout.read_to_end(&mut back).await?;
            assert!(back == expected, "{} bytes back", back.len());
            Ok::<_, std::io::Error>(())
        })
        .await
        .unwrap();
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn a_cancelled_wait_leaves_the_child_running() {
    // With the autojump clock the timeout fires as soon as every task waits.
    autojump(60, || async {
        let mut child = Command::new("sleep").arg("600").spawn().unwrap();
        let waited = pride::move_on_after(Duration::from_secs(1), child.wait()).await;
        assert!(waited.is_none());
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill().await.unwrap();
        assert!(child.wait().await.unwrap().code().is_none());
    });
}

/// Whether this system gives process descriptors (through which a child's wait waits
/// in the reactor).
#[cfg(target_os = "linux")]
fn pidfd_works() -> bool {
    // SAFETY: `pidfd_open(pid, flags)` takes two integers; a descriptor it returns is
    // ours, and closed at once.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0);
        fd >= 0 && libc::close(fd as libc::c_int) == 0
    }
}

/// As the process docs say: under the autojump clock a child's wait (in the reactor)
/// counts as blocked, so time jumps while the child runs and no deadline is long
/// enough: an hour's deadline around a ten-minute child fails at once.
#[cfg(target_os = "linux")]
#[test]
fn under_autojump_a_waited_child_lets_time_jump_to_any_deadline() {
    if !pidfd_works() {
        return; // The polled wait holds the clock: nothing jumps.
    }
    autojump(60, || async {
        let mut child = Command::new("sleep")
            .arg("600")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let start = pride::current_time();
        let waited = pride::fail_after(Duration::from_secs(3600), child.wait()).await;
        assert!(waited.is_err(), "{waited:?}");
        assert!(pride::current_time() - start >= Duration::from_secs(3600));
        assert_eq!(child.try_wait().unwrap(), None, "the child still runs");
    });
}

#[test]
fn many_children_at_once() {
    run(2, 60, || async {
        let codes = pride::gather((0..40).map(|i| async move {
            let status = Command::new("sh")
                .arg("-c")
                .arg(format!("exit {}", i % 5))
                .status()
                .await?;
            Ok::<_, std::io::Error>(status.code())
        }))
        .await
        .unwrap();
        let expected: Vec<_> = (0..40).map(|i| Some(i % 5)).collect();
        assert_eq!(codes, expected);
    });
}

#[test]
fn wait_with_output_without_pipes_is_empty() {
    run(2, 60, || async {
        let child = Command::new("true").stdout(Stdio::null()).spawn().unwrap();
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success());
        assert!(out.stdout.is_empty() && out.stderr.is_empty());
    });
}

/// The system's error inside a spawn's error (its source), for its errno.
fn os_error(error: &std::io::Error) -> Option<i32> {
    std::error::Error::source(error)?
        .downcast_ref::<std::io::Error>()?
        .raw_os_error()
}

#[test]
fn a_missing_program_is_not_found() {
    run(2, 60, || async {
        let error = Command::new("/no/such/pride/program").spawn().unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        let text = error.to_string();
        assert!(
            text.starts_with("pride: cannot spawn `/no/such/pride/program`: "),
            "{text}"
        );
        assert_eq!(os_error(&error), Some(libc::ENOENT), "{error:?}");
    });
}

/// A missing working directory gives the same system error as a missing program:
/// the message names the directory too, so the user does not go looking for the
/// program only.
#[test]
fn spawn_in_a_missing_directory_names_the_directory() {
    run(2, 60, || async {
        let error = Command::new("true")
            .current_dir("/no/such/pride/dir")
            .spawn()
            .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        let text = error.to_string();
        assert!(
            text.starts_with("pride: cannot spawn `true` in `/no/such/pride/dir`: "),
            "{text}"
        );
        assert_eq!(os_error(&error), Some(libc::ENOENT), "{error:?}");
        // `status` and `output` spawn the same way.
        let error = Command::new("true")
            .current_dir("/no/such/pride/dir")
            .output()
            .await
            .unwrap_err();
        assert!(error.to_string().contains("/no/such/pride/dir"), "{error}");
    });
}

#[test]
fn spawn_outside_a_runtime_panics_clearly() {
    let panic = std::panic::catch_unwind(|| Command::new("true").spawn()).unwrap_err();
    let text = crate::common::panic_text(&*panic);
    assert!(text.contains("pride::process::Command::spawn"), "{text}");
}

#[test]
fn writing_to_a_closed_stdin_is_an_error() {
    run(2, 60, || async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.close().await.unwrap();
        assert_eq!(
            stdin.write(b"x").await.unwrap_err().kind(),
            std::io::ErrorKind::BrokenPipe
        );
        assert!(child.wait().await.unwrap().success());
    });
}

/// The state letter of `/proc/<pid>/stat`, or `None` once the process is gone.
#[cfg(target_os = "linux")]
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim().chars().next()
}

/// Waits (up to a generous bound) until `pid` is dead: gone, a zombie, or dying.
#[cfg(target_os = "linux")]
fn wait_dead(pid: u32) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < until {
        if matches!(proc_state(pid), None | Some('Z' | 'X')) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[cfg(target_os = "linux")]
#[test]
fn kill_on_drop_kills_a_cancelled_child() {
    let pid = run(2, 60, || async {
        let pid = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = pid.clone();
        let out = pride::move_on_after(Duration::from_millis(100), async move {
            let mut child = Command::new("sleep")
                .arg("600")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            seen.store(child.id(), std::sync::atomic::Ordering::SeqCst);
            child.wait().await
        })
        .await;
        assert!(out.is_none());
        pid.load(std::sync::atomic::Ordering::SeqCst)
    });
    assert!(pid > 0);
    assert!(wait_dead(pid), "the child {pid} still runs");
}

#[cfg(target_os = "linux")]
#[test]
fn without_kill_on_drop_a_dropped_child_keeps_running() {
    let pid = run(2, 60, || async {
        let child = Command::new("sleep").arg("600").spawn().unwrap();
        child.id()
    });
    assert!(!matches!(proc_state(pid), None | Some('Z' | 'X')));
    std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(wait_dead(pid));
}

#[test]
fn types_and_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_type<T: Send + Sync>() {}
    assert_send_type::<pride::process::Child>();
    assert_send_type::<pride::process::ChildStdin>();
    assert_send_type::<pride::process::ChildStdout>();
    assert_send_type::<pride::process::ChildStderr>();
    assert_send_type::<Command>();
    let mut command = Command::new("true");
    assert_send(&command.status());
}

/// `status` closes the pipes it set up, as nobody reads them: a child that writes more
/// than a pipe holds gets a broken pipe, and the wait ends.
#[test]
fn status_closes_the_pipes_nobody_reads() {
    run(2, 60, || async {
        let status = pride::fail_after(
            Duration::from_secs(30),
            Command::new("head")
                .args(["-c", "1000000", "/dev/zero"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .status(),
        )
        .await
        .expect("status waited on a pipe nobody reads")
        .unwrap();
        assert!(!status.success());
    });
}

/// `output` leaves the command as it was: a later `spawn` gets no pipe it did not ask
/// for (so a later `status` holds none the child could fill), while streams set by
/// the caller are kept, by `output` too.
#[test]
fn output_leaves_the_command_as_it_was() {
    run(2, 60, || async {
        let mut cmd = Command::new("true");
        assert!(cmd.output().await.unwrap().status.success());
        let mut child = cmd.spawn().unwrap();
        assert!(child.stdin.is_none() && child.stdout.is_none() && child.stderr.is_none());
        assert!(child.wait().await.unwrap().success());

        // Set by the caller: kept by `output`, and after it.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "printf out; printf err >&2"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let out = cmd.output().await.unwrap();
        assert_eq!((&out.stdout[..], &out.stderr[..]), (&b""[..], &b"err"[..]));
        let child = cmd.spawn().unwrap();
        assert!(child.stdout.is_none() && child.stderr.is_some());
        let out = child.wait_with_output().await.unwrap();
        assert_eq!(out.stderr, b"err");
    });
}

/// Runs the ignored test `name` of this module alone, in a copy of this test binary:
/// no other test there spawns a child, so nothing but the runtime itself can reap the
/// children that test drops. It prints `marker` once its checks passed.
#[cfg(target_os = "linux")]
fn alone_in_a_process(name: &str, marker: &str) {
    let check = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &format!("process::{name}")])
        .args(["--ignored", "--nocapture", "--test-threads", "1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && report.contains(marker),
        "the check failed: {report}{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// Waits, while the runtime runs on and spawns nothing, until `pid` is gone from the
/// process table: reaped, not left a zombie. Its state after a generous bound if not.
#[cfg(target_os = "linux")]
async fn reaped_meanwhile(pid: u32) -> Result<(), Option<char>> {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let state = proc_state(pid);
        if state.is_none() {
            return Ok(());
        }
        if std::time::Instant::now() >= until {
            return Err(state);
        }
        pride::sleep(Duration::from_millis(10)).await;
    }
}

/// A `kill_on_drop` child whose wait was cancelled is killed and then reaped by the
/// runtime, without a later spawn: it does not stay a zombie.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_child_whose_wait_was_cancelled_is_reaped_without_a_later_spawn() {
    alone_in_a_process(
        "a_killed_child_is_reaped_alone",
        "the killed child was reaped",
    );
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "run by a_killed_child_whose_wait_was_cancelled_is_reaped_without_a_later_spawn"]
fn a_killed_child_is_reaped_alone() {
    run(2, 60, || async {
        let pid = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = pid.clone();
        let out = pride::move_on_after(Duration::from_millis(100), async move {
            let mut child = Command::new("sleep")
                .arg("600")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            seen.store(child.id(), std::sync::atomic::Ordering::SeqCst);
            child.wait().await
        })
        .await;
        assert!(out.is_none());
        let pid = pid.load(std::sync::atomic::Ordering::SeqCst);
        assert!(pid > 0);
        let reaped = reaped_meanwhile(pid).await;
        assert_eq!(
            reaped,
            Ok(()),
            "the killed child {pid} is left in state {reaped:?}"
        );
    });
    println!("the killed child was reaped");
}

/// A child dropped while it runs (no `kill_on_drop`) that exits later is reaped by the
/// runtime when it exits, without a later spawn.
#[cfg(target_os = "linux")]
#[test]
fn a_dropped_child_that_exits_later_is_reaped_without_a_later_spawn() {
    alone_in_a_process(
        "a_dropped_child_is_reaped_alone",
        "the dropped child was reaped",
    );
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "run by a_dropped_child_that_exits_later_is_reaped_without_a_later_spawn"]
fn a_dropped_child_is_reaped_alone() {
    run(2, 60, || async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // `cat` runs until its input ends: it is still running when its `Child` goes.
        let stdin = child.stdin.take().unwrap();
        drop(child);
        pride::sleep(Duration::from_millis(20)).await;
        assert!(
            !matches!(proc_state(pid), None | Some('Z' | 'X')),
            "cat ended before its input did"
        );
        drop(stdin);
        let reaped = reaped_meanwhile(pid).await;
        assert_eq!(
            reaped,
            Ok(()),
            "the dropped child {pid} is left in state {reaped:?}"
        );
    });
    println!("the dropped child was reaped");
}

/// A dropped child still running when its runtime is dropped does not hold up that
/// drop; once it exits, a later spawn (here in another runtime) reaps it.
#[cfg(target_os = "linux")]
#[test]
fn a_dropped_child_that_outlives_its_runtime_is_reaped_at_a_later_spawn() {
    let (pid, stdin) = run(2, 60, || async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        (child.id(), child.stdin.take().unwrap())
    });
    // `cat` ends with its input; nobody can reap it before the spawn below but another
    // test's spawn.
    drop(stdin);
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while !matches!(proc_state(pid), None | Some('Z')) {
        assert!(std::time::Instant::now() < until, "cat {pid} did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    run(1, 60, || async {
        assert!(Command::new("true").status().await.unwrap().success());
    });
    assert_eq!(proc_state(pid), None, "the child {pid} was not reaped");
}

/// Many `kill_on_drop` children cancelled at once, on several workers, so that their
/// drops and exits come together: every one is reaped, without a later spawn.
#[cfg(target_os = "linux")]
#[test]
fn many_killed_children_dropped_at_once_are_all_reaped() {
    alone_in_a_process(
        "many_killed_children_are_reaped_alone",
        "every killed child was reaped",
    );
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "run by many_killed_children_dropped_at_once_are_all_reaped"]
fn many_killed_children_are_reaped_alone() {
    run(4, 60, || async {
        let pids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        pride::task_group(async |tg| {
            for _ in 0..40 {
                let pids = pids.clone();
                tg.start_soon(async move {
                    let mut child = Command::new("sleep")
                        .arg("600")
                        .kill_on_drop(true)
                        .spawn()?;
                    pids.lock().unwrap().push(child.id());
                    child.wait().await.map(drop)
                });
            }
            // Once every child runs, cancel every wait at once.
            while pids.lock().unwrap().len() < 40 {
                pride::sleep(Duration::from_millis(5)).await;
            }
            tg.cancel_scope().cancel();
        })
        .await
        .unwrap();
        let pids = pids.lock().unwrap().clone();
        assert_eq!(pids.len(), 40);
        for pid in pids {
            let reaped = reaped_meanwhile(pid).await;
            assert_eq!(
                reaped,
                Ok(()),
                "the killed child {pid} is left in state {reaped:?}"
            );
        }
    });
    println!("every killed child was reaped");
}

/// Kills `pid` with SIGKILL (whoever reaps it afterwards).
#[cfg(target_os = "linux")]
fn kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
}

/// Whether an autojump runtime reports a deadlock (a task waiting for an event nobody
/// in the runtime sets) within a generous bound; `drop_running_child`: the `block_on`
/// first drops a child that still runs (no `kill_on_drop`), as a program that gives up
/// on a helper process does.
#[cfg(target_os = "linux")]
fn deadlock_reported(drop_running_child: bool) -> bool {
    let (report, reported) = std::sync::mpsc::channel::<()>();
    let runtime = crate::common::builder(1)
        .clock(pride::time::Clock::autojump())
        .on_deadlock(move |_| {
            let _ = report.send(());
        })
        .build()
        .unwrap();
    let event = pride::Event::new();
    let set = event.clone();
    let reporter = std::thread::spawn(move || {
        let seen = reported.recv_timeout(Duration::from_secs(10)).is_ok();
        set.set();
        seen
    });
    let pid = runtime.block_on(async move {
        let pid = drop_running_child.then(|| {
            let child = Command::new("sleep").arg("600").spawn().unwrap();
            child.id()
        });
        pride::task_group(async move |tg| {
            tg.start_soon_named("waiter", async move { event.wait().await });
        })
        .await
        .unwrap();
        pid
    });
    if let Some(pid) = pid {
        kill(pid);
    }
    drop(runtime);
    reporter.join().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_deadlock_is_reported_with_no_child_dropped() {
    assert!(crate::common::watchdog(60, || deadlock_reported(false)));
}

/// A dropped child that still runs wakes no task when it exits: it does not hide a
/// deadlock.
#[cfg(target_os = "linux")]
#[test]
fn a_deadlock_is_reported_after_a_running_child_was_dropped() {
    assert!(
        crate::common::watchdog(60, || deadlock_reported(true)),
        "the deadlock was not reported"
    );
}

/// A dropped child that still runs is not counted as a registered socket.
#[cfg(target_os = "linux")]
#[test]
fn a_dropped_running_child_is_not_a_registered_socket() {
    crate::common::watchdog(60, || {
        let runtime = crate::common::runtime(1);
        let pid = runtime.block_on(async {
            let child = Command::new("sleep").arg("600").spawn().unwrap();
            child.id()
        });
        let registered = runtime.metrics().sockets_registered;
        kill(pid);
        drop(runtime);
        assert_eq!(registered, 0, "sockets registered after the drop");
    });
}

/// Dropping a child that still runs leaves no wait recorded for the task that dropped
/// it: the dump does not show the `block_on` waiting for a readable socket.
#[cfg(target_os = "linux")]
#[test]
fn dropping_a_running_child_does_not_show_the_root_waiting_on_a_socket() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Poll, Waker};

    crate::common::watchdog(60, || {
        let runtime = crate::common::runtime(1);
        // Set (and its waker woken) once the dump is taken; waiting on it records no
        // wait of its own.
        let go = Arc::new((AtomicBool::new(false), Mutex::new(None::<Waker>)));
        let (dropped, is_dropped) = std::sync::mpsc::channel::<u32>();
        std::thread::scope(|s| {
            let runtime = &runtime;
            let looker = {
                let go = go.clone();
                s.spawn(move || {
                    let pid = is_dropped.recv().unwrap();
                    let dump = runtime.dump();
                    go.0.store(true, Ordering::SeqCst);
                    if let Some(waker) = go.1.lock().unwrap().take() {
                        waker.wake();
                    }
                    (pid, dump)
                })
            };
            runtime.block_on(async {
                let child = Command::new("sleep").arg("600").spawn().unwrap();
                let pid = child.id();
                drop(child);
                dropped.send(pid).unwrap();
                std::future::poll_fn(|cx| {
                    *go.1.lock().unwrap() = Some(cx.waker().clone());
                    if go.0.load(Ordering::SeqCst) {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
            });
            let (pid, dump) = looker.join().unwrap();
            kill(pid);
            assert_eq!(dump.roots.len(), 1, "{dump}");
            assert_ne!(
                dump.roots[0].waiting,
                Some(pride::debug::Wait::Readable),
                "{dump}"
            );
        });
    });
}
