//! `pride::fs`: the path functions, `read_dir` as a stream, and `File` through the
//! futures-io traits, including reads and writes whose futures are dropped mid-call.

use std::io::{ErrorKind, SeekFrom};
use std::path::PathBuf;

use futures_lite::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, StreamExt};
use pride::fs;

/// A fresh directory, removed with everything in it when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("pride-fs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run<F: std::future::Future<Output = std::io::Result<()>>>(
    make: impl FnOnce() -> F + Send + 'static,
) {
    crate::common::run(2, 60, make).unwrap();
}

#[test]
fn path_functions_do_what_std_does() {
    run(|| async {
        let dir = TempDir::new("paths");
        let a = dir.join("a.txt");
        fs::write(&a, "contents").await?;
        assert_eq!(fs::read(&a).await?, b"contents");
        assert_eq!(fs::read_to_string(&a).await?, "contents");
        assert_eq!(fs::metadata(&a).await?.len(), 8);
        assert!(fs::symlink_metadata(&a).await?.is_file());

        assert_eq!(fs::copy(&a, dir.join("b.txt")).await?, 8);
        fs::rename(dir.join("b.txt"), dir.join("c.txt")).await?;
        assert!(!fs::try_exists(dir.join("b.txt")).await?);
        assert_eq!(fs::read_to_string(dir.join("c.txt")).await?, "contents");

        let canonical = fs::canonicalize(dir.join("./c.txt")).await?;
        assert_eq!(canonical, std::fs::canonicalize(dir.join("c.txt"))?);

        fs::create_dir(dir.join("d")).await?;
        assert_eq!(
            fs::create_dir(dir.join("d")).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        fs::create_dir_all(dir.join("d/e/f")).await?;
        fs::write(dir.join("d/e/f/g"), "").await?;
        assert!(fs::remove_dir(dir.join("d")).await.is_err());
        fs::remove_dir_all(dir.join("d")).await?;
        fs::remove_file(&a).await?;
        assert!(!fs::try_exists(dir.join("d")).await?);
        assert!(!fs::try_exists(&a).await?);
        Ok(())
    });
}

#[test]
fn missing_paths_are_not_found() {
    run(|| async {
        let dir = TempDir::new("missing");
        let nothing = dir.join("nothing");
        assert_eq!(
            fs::read(&nothing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::remove_file(&nothing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::File::open(&nothing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert!(fs::read_dir(&nothing).await.is_err());
        Ok(())
    });
}

#[test]
fn read_dir_lists_every_entry_across_batches() {
    run(|| async {
        let dir = TempDir::new("read-dir");
        for i in 0..100 {
            std::fs::write(dir.join(&format!("{i:03}")), [i as u8])?;
        }
        std::fs::create_dir(dir.join("sub"))?;

        let entries: Vec<fs::DirEntry> = fs::read_dir(&dir.0).await?.try_collect().await?;
        let mut names: Vec<String> = entries
            .iter()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut expected: Vec<String> = (0..100).map(|i| format!("{i:03}")).collect();
        expected.push("sub".into());
        assert_eq!(names, expected);

        let mut listing = fs::read_dir(&dir.0).await?;
        let mut dirs = 0;
        let mut count = 0;
        while let Some(entry) = listing.next_entry().await? {
            count += 1;
            assert_eq!(entry.path(), dir.0.join(entry.file_name()));
            if entry.file_type().await?.is_dir() {
                dirs += 1;
            } else {
                assert_eq!(entry.metadata().await?.len(), 1);
            }
        }
        assert_eq!((count, dirs), (101, 1));
        assert!(listing.next_entry().await?.is_none());
        Ok(())
    });
}

#[test]
fn file_writes_seeks_and_reads_across_chunks() {
    run(|| async {
        let dir = TempDir::new("file-big");
        let path = dir.join("big");
        // Larger than one trip to the pool moves.
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut file = fs::File::create(&path).await?;
        file.write_all(&data).await?;
        file.close().await?;
        assert_eq!(fs::metadata(&path).await?.len(), data.len() as u64);

        let mut file = fs::File::open(&path).await?;
        let mut back = Vec::new();
        file.read_to_end(&mut back).await?;
        assert!(back == data);

        assert_eq!(file.seek(SeekFrom::Start(1000)).await?, 1000);
        let mut small = [0; 7];
        file.read_exact(&mut small).await?;
        assert_eq!(small, data[1000..1007]);
        assert_eq!(file.seek(SeekFrom::Current(0)).await?, 1007);
        assert_eq!(file.seek(SeekFrom::End(-3)).await?, data.len() as u64 - 3);
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).await?;
        assert_eq!(tail, data[data.len() - 3..]);
        Ok(())
    });
}

#[test]
fn reading_after_read_ahead_then_writing_lands_at_the_reader_position() {
    run(|| async {
        let dir = TempDir::new("file-rw");
        let path = dir.join("rw");
        fs::write(&path, "0123456789").await?;
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true);
        let mut file = fs::File::open_with(&path, &options).await?;
        // A read dropped after its call finished leaves read-ahead bytes behind.
        let mut buf = [0; 10];
        let first = futures_lite::future::poll_once(file.read(&mut buf)).await;
        let mut got = match first {
            Some(n) => buf[..n?].to_vec(),
            None => Vec::new(),
        };
        let mut two = vec![0; 2 - got.len().min(2)];
        file.read_exact(&mut two).await?;
        got.extend(two);
        if got.len() > 2 {
            // The first read took more than two bytes: seek back to just after two.
            file.seek(SeekFrom::Start(2)).await?;
        }
        assert_eq!(&got[..2], b"01");
        file.write_all(b"ab").await?;
        file.flush().await?;
        assert_eq!(fs::read_to_string(&path).await?, "01ab456789");
        Ok(())
    });
}

#[test]
fn a_dropped_read_loses_no_bytes() {
    run(|| async {
        let dir = TempDir::new("file-dropped-read");
        let path = dir.join("data");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
        fs::write(&path, &data).await?;
        let mut file = fs::File::open(&path).await?;
        let mut got = Vec::new();
        let mut buf = vec![0; 4096];
        // Start reads and drop them at once, over and over: whatever they read must
        // come back from a later read, in order.
        for _ in 0..20 {
            if let Some(n) = futures_lite::future::poll_once(file.read(&mut buf)).await {
                got.extend_from_slice(&buf[..n?]);
            }
        }
        file.read_to_end(&mut got).await?;
        assert!(got == data, "{} bytes back of {}", got.len(), data.len());
        Ok(())
    });
}

#[test]
fn a_failed_write_is_reported_by_flush() {
    run(|| async {
        let dir = TempDir::new("file-write-error");
        let path = dir.join("read-only");
        fs::write(&path, "x").await?;
        // Opened for reading only: the OS refuses the write.
        let mut file = fs::File::open(&path).await?;
        let first = file.write(b"nope").await;
        let flushed = file.flush().await;
        assert!(first.is_err() || flushed.is_err());
        assert_eq!(fs::read_to_string(&path).await?, "x");
        Ok(())
    });
}

#[test]
fn set_len_sync_and_into_std() {
    run(|| async {
        let dir = TempDir::new("file-misc");
        let path = dir.join("f");
        let mut file = fs::File::create(&path).await?;
        file.write_all(b"hello").await?;
        file.set_len(3).await?;
        file.sync_all().await?;
        assert_eq!(file.metadata().await?.len(), 3);
        let std_file = file.into_std().await?;
        assert_eq!(std_file.metadata()?.len(), 3);
        assert_eq!(fs::read_to_string(&path).await?, "hel");
        Ok(())
    });
}

/// Runs `make`'s future on a runtime whose blocking pool has one thread. (The system
/// clock: an autojump clock would see every task blocked while the pool works, and
/// jump.)
fn with_one_pool_thread<F: std::future::Future<Output = ()>>(
    make: impl FnOnce() -> F + Send + 'static,
) {
    crate::common::block_on(60, crate::common::builder(2).max_blocking_threads(1), make);
}

/// Runs `work` while the pool's one thread is held busy, so that a pool call made
/// meanwhile waits in the queue; then lets the thread go, and returns once it has run
/// what was queued behind (one thread runs jobs in order).
async fn with_the_pool_held(work: impl AsyncFnOnce()) {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let started = pride::Event::new();
    let running = started.clone();
    pride::task_group(async move |tg| {
        tg.start_soon(pride::to_thread(move || {
            running.set();
            held.recv().unwrap()
        }));
        started.wait().await;
        work().await;
        release.send(()).unwrap();
    })
    .await
    .unwrap();
    pride::to_thread(|| ()).await;
}

#[test]
fn a_call_cancelled_while_queued_never_runs() {
    with_one_pool_thread(|| async {
        let dir = TempDir::new("cancelled");
        let path = dir.join("never");
        with_the_pool_held(async || {
            // The write waits in the queue when its caller is cancelled.
            let out =
                pride::move_on_after(std::time::Duration::from_millis(50), fs::write(&path, "x"))
                    .await;
            assert!(out.is_none());
        })
        .await;
        // The pool has skipped the cancelled write.
        assert!(!fs::try_exists(&path).await.unwrap());
    });
}

#[test]
fn a_dropped_file_still_does_the_write_it_accepted() {
    with_one_pool_thread(|| async {
        let dir = TempDir::new("dropped-file");
        let path = dir.join("kept");
        let mut file = fs::File::create(&path).await.unwrap();
        with_the_pool_held(async move || {
            // Accepted at once, and still queued when the `File` goes.
            file.write_all(b"data").await.unwrap();
            drop(file);
        })
        .await;
        assert_eq!(fs::read(&path).await.unwrap(), b"data");
    });
}

/// Starts `hold` on the blocking pool and returns its future once it runs: with one
/// pool thread, calls made while it runs wait in the queue.
async fn hold_the_pool_thread(hold: impl FnOnce() + Send + 'static) -> pride::ToThread<()> {
    let started = pride::Event::new();
    let running = started.clone();
    let mut hold = pride::to_thread(move || {
        running.set();
        hold();
    });
    assert!(futures_lite::future::poll_once(&mut hold).await.is_none());
    started.wait().await;
    hold
}

/// On a runtime whose pool has one thread: holds that thread with a closure that waits
/// until the returned sender is dropped and then runs `then`, writes `data` to a new
/// file at `path` (accepted at once, and queued behind the held thread), and drops the
/// `File`.
fn queue_a_dropped_files_write(
    runtime: &pride::Runtime,
    path: PathBuf,
    then: impl FnOnce() + Send + 'static,
) -> std::sync::mpsc::Sender<()> {
    runtime.block_on(async move {
        let mut file = fs::File::create(&path).await.unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let _hold = hold_the_pool_thread(move || {
            let _ = held.recv();
            then();
        })
        .await;
        file.write_all(b"data").await.unwrap();
        drop(file);
        release
    })
}

/// The `File` docs: the runtime's drop waits for the calls a dropped `File` left to
/// finish, so a program that ends right after it loses no accepted write. Here the
/// write is still queued behind the pool's one thread when the runtime is dropped, and
/// that thread is held by a closure that ends only after the drop has returned: the
/// drop runs the write itself rather than wait for the closure.
#[test]
fn the_runtimes_drop_does_a_dropped_files_write_even_behind_a_blocked_closure() {
    let dir = TempDir::new("dropped-at-exit");
    let path = dir.join("kept");
    let written = path.clone();
    let contents = crate::common::watchdog(60, move || {
        let runtime = crate::common::builder(2)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let release = queue_a_dropped_files_write(&runtime, written.clone(), || ());
        drop(runtime);
        // The file is closed by then, too.
        #[cfg(target_os = "linux")]
        for fd in std::fs::read_dir("/proc/self/fd").unwrap() {
            let target = std::fs::read_link(fd.unwrap().path());
            assert!(
                target.ok().as_ref() != Some(&written),
                "the file is still open"
            );
        }
        let contents = std::fs::read(&written).unwrap();
        drop(release);
        contents
    });
    assert_eq!(contents, b"data");
}

/// A read still queued when its runtime's drop begins never runs, and the file went
/// with it: the `File` reports that as an error from then on (to the read's own
/// future polled on another runtime, and to every later operation), it does not
/// panic.
#[test]
fn a_file_whose_read_its_runtimes_drop_skipped_fails_with_an_error() {
    let dir = TempDir::new("read-skipped-at-drop");
    let path = dir.join("f");
    std::fs::write(&path, b"0123456789").unwrap();
    let outcomes = crate::common::watchdog(60, move || {
        let runtime = crate::common::builder(2)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (file, read) = runtime.block_on(async move {
            let mut file = fs::File::open(&path).await.unwrap();
            let hold = hold_the_pool_thread(move || {
                let _ = held.recv();
            })
            .await;
            // Queued behind the held thread, then let go of: the `File` keeps it.
            let mut buf = [0; 4];
            assert!(
                futures_lite::future::poll_once(file.read(&mut buf))
                    .await
                    .is_none()
            );
            (file, hold)
        });
        drop(read);
        drop(runtime);
        release.send(()).unwrap();
        let mut file = file;
        crate::common::builder(1)
            .build()
            .unwrap()
            .block_on(async move {
                let mut buf = [0; 4];
                let read = file
                    .read(&mut buf)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let metadata = file.metadata().await.map(|_| ()).map_err(|e| e.to_string());
                let write = file.write_all(b"x").await.map_err(|e| e.to_string());
                let flush = file.flush().await.map_err(|e| e.to_string());
                let close = file.close().await.map_err(|e| e.to_string());
                let into_std = file.into_std().await.map(|_| ()).map_err(|e| e.to_string());
                [read, metadata, write, flush, close, into_std]
            })
    });
    for outcome in outcomes {
        let error = outcome.expect_err("an operation on the lost file succeeded");
        assert!(error.contains("the runtime was dropped"), "{error}");
    }
}

/// A listing's batch still queued when its runtime's drop begins never runs, and the
/// directory went with it: the listing ends with an error (polled on another runtime),
/// it does not panic.
#[test]
fn a_listing_whose_batch_its_runtimes_drop_skipped_ends_with_an_error() {
    let dir = TempDir::new("read-dir-skipped-at-drop");
    std::fs::write(dir.join("a"), b"").unwrap();
    let listed = dir.0.clone();
    let outcomes = crate::common::watchdog(60, move || {
        let runtime = crate::common::builder(2)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (entries, hold) = runtime.block_on(async move {
            let mut entries = fs::read_dir(&listed).await.unwrap();
            let hold = hold_the_pool_thread(move || {
                let _ = held.recv();
            })
            .await;
            // Queued behind the held thread, then let go of: the listing keeps it.
            assert!(
                futures_lite::future::poll_once(entries.next_entry())
                    .await
                    .is_none()
            );
            (entries, hold)
        });
        drop(hold);
        drop(runtime);
        release.send(()).unwrap();
        let mut entries = entries;
        crate::common::builder(1)
            .build()
            .unwrap()
            .block_on(async move {
                let first = entries
                    .next_entry()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let then = entries
                    .next_entry()
                    .await
                    .map(|e| e.is_none())
                    .map_err(|e| e.to_string());
                (first, then)
            })
    });
    let (first, then) = outcomes;
    let error = first.expect_err("the skipped batch's listing went on");
    assert!(error.contains("the runtime was dropped"), "{error}");
    assert_eq!(then, Ok(true), "the listing did not end after its error");
}

/// A free function's call still queued when its runtime's drop begins never runs: its
/// future, polled on another runtime, gives an error saying so; it does not panic.
#[test]
fn a_free_functions_call_its_runtimes_drop_skipped_fails_with_an_error() {
    let dir = TempDir::new("free-call-skipped-at-drop");
    let path = dir.join("never");
    let written = path.clone();
    let outcome = crate::common::watchdog(60, move || {
        let runtime = crate::common::builder(2)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (mut write, hold) = runtime.block_on(async move {
            let hold = hold_the_pool_thread(move || {
                let _ = held.recv();
            })
            .await;
            // Queued behind the held thread.
            let mut write = fs::write(&written, b"data");
            assert!(futures_lite::future::poll_once(&mut write).await.is_none());
            (write, hold)
        });
        drop(hold);
        drop(runtime);
        release.send(()).unwrap();
        crate::common::builder(1)
            .build()
            .unwrap()
            .block_on(async move { (&mut write).await.map_err(|e| e.to_string()) })
    });
    let error = outcome.expect_err("a skipped call reported success");
    assert!(error.contains("the runtime was dropped"), "{error}");
    assert!(!path.exists(), "the skipped call ran");
}

/// A runtime dropped on one of its own pool threads, with a dropped `File`'s write
/// queued behind that very thread, runs the write there and returns.
#[test]
fn a_runtime_dropped_on_its_own_pool_thread_does_the_write_queued_behind_it() {
    let dir = TempDir::new("dropped-on-pool");
    let path = dir.join("kept");
    let written = path.clone();
    let contents = crate::common::watchdog(60, move || {
        let runtime = std::sync::Arc::new(
            crate::common::builder(2)
                .max_blocking_threads(1)
                .build()
                .unwrap(),
        );
        let last = runtime.clone();
        let (dropped, runtime_dropped) = std::sync::mpsc::channel();
        let release = queue_a_dropped_files_write(&runtime, written.clone(), move || {
            // The last count on the runtime: its drop runs here, on the pool thread.
            drop(last);
            dropped.send(()).unwrap();
        });
        drop(runtime);
        drop(release);
        runtime_dropped.recv().unwrap();
        std::fs::read(&written).unwrap()
    });
    assert_eq!(contents, b"data");
}

/// The `File` docs: a call polled once runs to its end; a dropped `File` still lets a
/// call that changes the file finish, queued or not: here a `set_len`, and a seek
/// (seen through a clone of the descriptor, which shares its position). A queued read
/// is cancelled: it would take the bytes for nobody.
#[test]
fn a_dropped_file_still_does_the_set_len_and_seek_it_started() {
    with_one_pool_thread(|| async {
        let dir = TempDir::new("dropped-file-calls");
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true);
        let mut file = fs::File::open_with(&path, &options).await.unwrap();
        with_the_pool_held(async move || {
            let started = futures_lite::future::poll_once(file.set_len(4)).await;
            assert!(started.is_none(), "the set_len ran at once");
            drop(file);
        })
        .await;
        assert_eq!(std::fs::read(&path).unwrap(), b"0123");

        let std_file = std::fs::OpenOptions::new().read(true).open(&path).unwrap();
        let mut clone = std_file.try_clone().unwrap();
        let mut file = fs::File::from_std(std_file);
        with_the_pool_held(async move || {
            let seek = futures_lite::future::poll_once(file.seek(SeekFrom::Start(3))).await;
            assert!(seek.is_none(), "the seek ran at once");
            drop(file);
        })
        .await;
        assert_eq!(std::io::Seek::stream_position(&mut clone).unwrap(), 3);

        let mut file = fs::File::from_std(clone.try_clone().unwrap());
        with_the_pool_held(async move || {
            let mut buf = [0; 4];
            let read = futures_lite::future::poll_once(file.read(&mut buf)).await;
            assert!(read.is_none(), "the read ran at once");
            drop(file);
        })
        .await;
        assert_eq!(std::io::Seek::stream_position(&mut clone).unwrap(), 3);
    });
}

/// The read and write halves of a split `File`, in two tasks (futures-io's contract:
/// a `Pending` read wakes its task once it can go on). The reader's read is queued on
/// the pool when the writer's write comes to wait for it too: both are woken when the
/// read ends (not only the last to poll it), and the two act whole, in one order or
/// the other, as the `File` docs say.
#[test]
fn the_halves_of_a_split_file_are_both_woken() {
    with_one_pool_thread(|| async {
        let dir = TempDir::new("split");
        let path = dir.join("f");
        std::fs::write(&path, b"hello world").unwrap();
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true);
        let file = fs::File::open_with(&path, &options).await.unwrap();
        let (mut reader, mut writer) = futures_lite::io::split(file);
        let read_polled = crate::common::Flag::new();
        let write_polled = crate::common::Flag::new();
        let (rp, wp) = (read_polled.clone(), write_polled.clone());
        let (read_tx, read_rx) = std::sync::mpsc::channel();
        // The pool's one thread is held until both halves wait (as in
        // `with_the_pool_held`, but the halves' tasks outlive the hold).
        let (release, held) = std::sync::mpsc::channel::<()>();
        let started = pride::Event::new();
        let running = started.clone();
        pride::task_group(async move |tg| {
            tg.start_soon(pride::to_thread(move || {
                running.set();
                held.recv().unwrap()
            }));
            started.wait().await;
            tg.start_soon(async move {
                let mut buf = [0u8; 5];
                let mut read = std::pin::pin!(reader.read(&mut buf));
                let n = pride::fail_after(
                    std::time::Duration::from_secs(20),
                    std::future::poll_fn(|cx| {
                        // Marked once the read waits: the writer then comes to wait too.
                        let polled = read.as_mut().poll(cx);
                        if polled.is_pending() {
                            rp.set();
                        }
                        polled
                    }),
                )
                .await
                .expect("the reader was never woken")
                .unwrap();
                read_tx.send(buf[..n].to_vec()).unwrap();
            });
            crate::common::yield_until(|| read_polled.is_set()).await;
            tg.start_soon(async move {
                let mut write = std::pin::pin!(writer.write_all(b"X"));
                std::future::poll_fn(|cx| {
                    let polled = write.as_mut().poll(cx);
                    if polled.is_pending() {
                        wp.set();
                    }
                    polled
                })
                .await
                .unwrap();
                writer.close().await.unwrap();
            });
            crate::common::yield_until(|| write_polled.is_set()).await;
            release.send(()).unwrap();
        })
        .await
        .unwrap();
        let read = read_rx.recv().unwrap();
        let written = std::fs::read(&path).unwrap();
        let orders = [
            // The read, then the write after the bytes it read.
            (b"hello".to_vec(), b"helloXworld".to_vec()),
            // The write at the reader's position, then the read after it.
            (b"ello ".to_vec(), b"Xello world".to_vec()),
        ];
        assert!(
            orders.contains(&(read.clone(), written.clone())),
            "read {:?}, file {:?}",
            String::from_utf8_lossy(&read),
            String::from_utf8_lossy(&written)
        );
    });
}

/// A `File` on a socket (which cannot seek, as a pipe cannot) holding `first` as
/// read-ahead: a read queued behind the pool's one thread when its caller went fetched
/// it. Returns the peer too, to write more or end the stream.
#[cfg(unix)]
async fn unseekable_file_with_read_ahead() -> (fs::File, std::os::unix::net::UnixStream) {
    let (ours, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut file = fs::File::from_std(std::os::fd::OwnedFd::from(ours).into());
    std::io::Write::write_all(&mut peer, b"first").unwrap();
    with_the_pool_held(async || {
        let mut buf = [0; 16];
        let read = futures_lite::future::poll_once(file.read(&mut buf)).await;
        assert!(read.is_none(), "the read ran at once");
    })
    .await;
    (file, peer)
}

/// Ends `peer`'s stream after `more`, and reads `file` to its end.
#[cfg(unix)]
async fn the_rest(
    mut file: fs::File,
    mut peer: std::os::unix::net::UnixStream,
    more: &[u8],
) -> String {
    std::io::Write::write_all(&mut peer, more).unwrap();
    drop(peer);
    let mut rest = String::new();
    file.read_to_string(&mut rest).await.unwrap();
    rest
}

#[cfg(unix)]
#[test]
fn a_call_that_ignores_the_position_leaves_the_read_ahead_of_an_unseekable_file() {
    with_one_pool_thread(|| async {
        let (mut file, peer) = unseekable_file_with_read_ahead().await;
        let metadata = file.metadata().await;
        assert!(metadata.is_ok(), "{metadata:?}");
        assert_eq!(the_rest(file, peer, b" second").await, "first second");
    });
}

#[cfg(unix)]
#[test]
fn a_failed_rewind_keeps_the_read_ahead_for_the_next_read() {
    with_one_pool_thread(|| async {
        let (mut file, peer) = unseekable_file_with_read_ahead().await;
        // A seek must first move back over the bytes read ahead: a socket cannot.
        assert!(file.seek(SeekFrom::Current(0)).await.is_err());
        assert_eq!(the_rest(file, peer, b" second").await, "first second");
    });
}

#[test]
fn into_std_gives_the_read_ahead_back() {
    with_one_pool_thread(|| async {
        let dir = TempDir::new("into-std-read-ahead");
        let path = dir.join("data");
        fs::write(&path, "0123456789").await.unwrap();
        let mut file = fs::File::open(&path).await.unwrap();
        with_the_pool_held(async || {
            let mut buf = [0; 4];
            assert!(
                futures_lite::future::poll_once(file.read(&mut buf))
                    .await
                    .is_none()
            );
        })
        .await;
        let mut std_file = file.into_std().await.unwrap();
        let mut all = String::new();
        std::io::Read::read_to_string(&mut std_file, &mut all).unwrap();
        assert_eq!(all, "0123456789");
    });
}

#[cfg(unix)]
#[test]
fn into_std_of_an_unseekable_file_with_read_ahead_fails() {
    with_one_pool_thread(|| async {
        let (file, _peer) = unseekable_file_with_read_ahead().await;
        assert!(file.into_std().await.is_err());
    });
}

#[test]
fn types_and_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_type<T: Send>() {}
    fn assert_sync_type<T: Sync>() {}
    assert_send_type::<fs::File>();
    assert_send_type::<fs::ReadDir>();
    assert_send_type::<fs::DirEntry>();
    assert_sync_type::<fs::DirEntry>();
    let path = std::path::Path::new("x");
    assert_send(&fs::read(path));
    assert_send(&fs::File::open(path));
    assert_send(&fs::read_dir(path));
    let mut file = fs::File::from_std(std::fs::File::open(".").unwrap());
    assert_send(&file.metadata());
    assert_send(&file.read(&mut []));
}

/// Polls `operation` once, so that its call is on the pool, drops it, and returns once
/// the pool (one thread, in order) has run that call.
async fn drop_after_its_call_started(operation: impl std::future::Future) {
    // Ready at once only if the call finished within the poll: then nothing was dropped
    // mid-call, and the caller's checks still hold.
    let _ = futures_lite::future::poll_once(operation).await;
    pride::to_thread(|| ()).await;
}

/// A call dropped mid-way still runs, but its result is nobody else's: the next call
/// of the same kind (same arguments, too) runs on its own and sees the file as it is
/// then, after another handle changed it.
#[test]
fn a_dropped_calls_result_goes_to_no_other_call() {
    with_one_pool_thread(|| async {
        let dir = TempDir::new("dropped-result");
        let path = dir.join("f");
        std::fs::write(&path, b"abc").unwrap();
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true);
        let mut file = fs::File::open_with(&path, &options).await.unwrap();

        drop_after_its_call_started(file.metadata()).await;
        std::fs::write(&path, b"abcd").unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 4);

        drop_after_its_call_started(file.set_len(3)).await;
        std::fs::write(&path, b"0123456789").unwrap();
        file.set_len(3).await.unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3);

        std::fs::write(&path, b"abc").unwrap();
        drop_after_its_call_started(file.seek(SeekFrom::End(0))).await;
        {
            use std::io::Write;
            let mut other = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            other.write_all(b"DEF").unwrap();
        }
        assert_eq!(file.seek(SeekFrom::End(0)).await.unwrap(), 6);
        file.write_all(b"!").await.unwrap();
        file.flush().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abcDEF!");
    });
}

/// A dropped seek still moves the position, and a relative seek after it counts from
/// there, whether or not it is the same seek.
#[test]
fn a_dropped_seek_moves_the_position() {
    with_one_pool_thread(|| async {
        let dir = TempDir::new("dropped-seek");
        let path = dir.join("f");
        std::fs::write(&path, [5u8; 100]).unwrap();
        let mut file = fs::File::open(&path).await.unwrap();
        drop_after_its_call_started(file.seek(SeekFrom::Current(5))).await;
        assert_eq!(file.seek(SeekFrom::Current(5)).await.unwrap(), 10);
        drop_after_its_call_started(file.seek(SeekFrom::Current(5))).await;
        assert_eq!(file.seek(SeekFrom::Current(3)).await.unwrap(), 18);
        // Through the trait, polled until it ends, a seek gets its own result too.
        assert_eq!(
            AsyncSeekExt::seek(&mut file, SeekFrom::Current(2))
                .await
                .unwrap(),
            20
        );
        let mut rest = Vec::new();
        file.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest.len(), 80);
    });
}

/// `set_len` returns its own call's error.
#[test]
fn set_len_on_a_file_opened_for_reading_fails() {
    run(|| async {
        let dir = TempDir::new("set-len-read-only");
        let path = dir.join("f");
        fs::write(&path, "abc").await?;
        let mut file = fs::File::open(&path).await?;
        assert!(file.set_len(1).await.is_err());
        assert_eq!(fs::read_to_string(&path).await?, "abc");
        Ok(())
    });
}
