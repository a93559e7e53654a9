//! `PRIDE_DUMP_ON_SIGQUIT=1`: a stuck process prints its task tree on SIGQUIT.
//!
//! The test runs this same binary again as a child (only its helper test), with the
//! variable set; the child parks a named task and says so on stdout; the test sends
//! it SIGQUIT and reads the tree from its stderr.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

const HELPER: &str = "helper_parks_a_task_until_stdin_closes";

#[test]
fn sigquit_prints_the_tree_to_stderr() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            HELPER,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PRIDE_DUMP_ON_SIGQUIT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("parked") {
        line.clear();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "the helper ended");
    }
    let status = Command::new("kill")
        .args(["-QUIT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The dump is written by the signal thread; give the helper its go once it is out.
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0; 4096];
    let text = loop {
        let n = stderr.read(&mut buf).unwrap();
        assert_ne!(
            n,
            0,
            "stderr closed before the dump: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        if text.contains("RuntimeMetrics") && text.contains("}\n") {
            break text;
        }
    };
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert!(text.contains("pride runtime (1 workers)"), "{text}");
    assert!(text.contains("task \"stuck-here\""), "{text}");
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run as a child process by sigquit_prints_the_tree_to_stderr"]
fn helper_parks_a_task_until_stdin_closes() {
    let rt = pride::Runtime::builder().worker_threads(1).build().unwrap();
    rt.block_on(pride::task_group(async |tg| {
        let stop = pride::Event::new();
        let wait = stop.clone();
        tg.start_soon_named("stuck-here", async move { wait.wait().await });
        pride::sleep(Duration::from_millis(50)).await;
        println!("parked");
        // Until the parent closes our stdin.
        pride::to_thread(|| std::io::stdin().read_to_end(&mut Vec::new())).await?;
        stop.set();
        Ok::<_, pride::BoxError>(())
    }))
    .unwrap();
}

const DROPPED_HELPER: &str = "helper_raises_sigquit_once_its_runtime_is_dropped";

/// Once the last runtime is dropped there is nothing to dump, and SIGQUIT ends the
/// process as it does by default (Ctrl-\ still stops the program).
#[test]
fn sigquit_ends_the_process_once_no_runtime_is_left() {
    use std::os::unix::process::ExitStatusExt;

    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            DROPPED_HELPER,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PRIDE_DUMP_ON_SIGQUIT", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGQUIT),
        "SIGQUIT did not end the process: {:?}, stdout: {stdout}",
        out.status
    );
    assert!(stdout.contains("raising"), "{stdout}");
    assert!(!stdout.contains("still alive"), "{stdout}");
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run as a child process by sigquit_ends_the_process_once_no_runtime_is_left"]
fn helper_raises_sigquit_once_its_runtime_is_dropped() {
    for _ in 0..2 {
        let rt = pride::Runtime::builder().worker_threads(1).build().unwrap();
        rt.block_on(async {});
        drop(rt);
    }
    println!("raising");
    signal_hook::low_level::raise(libc::SIGQUIT).unwrap();
    // The default action ends the process at once; this is a hang guard.
    std::thread::sleep(Duration::from_secs(10));
    println!("still alive");
}
