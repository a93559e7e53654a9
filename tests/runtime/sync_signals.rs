//! RwLock, Notify, Barrier, watch and broadcast under the pride runtime: many tasks,
//! and waits cancelled by deadlines (autojump clock, so deadlines cost no real time).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{autojump, run};
use pride::BoxError;
use pride::sync::{Barrier, Notify, RwLock, broadcast, watch};

const MS: Duration = Duration::from_millis(1);

#[test]
fn rwlock_readers_share_and_writers_exclude() {
    let lock = Arc::new(RwLock::new(0u64));
    let (readers, writers) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (l, r, w) = (lock.clone(), readers.clone(), writers.clone());
    run(4, 60, move || async move {
        pride::task_group(async |tg| {
            for i in 0..48 {
                let (lock, readers, writers) = (l.clone(), r.clone(), w.clone());
                tg.start_soon(async move {
                    for _ in 0..20 {
                        if i % 4 == 0 {
                            let mut g = lock.write().await;
                            assert_eq!(writers.fetch_add(1, Ordering::SeqCst), 0);
                            assert_eq!(readers.load(Ordering::SeqCst), 0);
                            let v = *g;
                            pride::checkpoint().await;
                            *g = v + 1;
                            writers.fetch_sub(1, Ordering::SeqCst);
                        } else {
                            let _g = lock.read().await;
                            readers.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(writers.load(Ordering::SeqCst), 0);
                            pride::checkpoint().await;
                            readers.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                });
            }
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
    });
    assert_eq!(*lock.try_read().unwrap(), 12 * 20);
}

#[test]
fn rwlock_writer_cancelled_by_a_deadline_does_not_keep_the_lock() {
    autojump(30, || async {
        let lock = RwLock::new(1);
        let reader = lock.read().await;
        assert!(pride::move_on_after(10 * MS, lock.write()).await.is_none());
        // The cancelled writer no longer holds back new readers.
        assert_eq!(*lock.try_read().unwrap(), 1);
        drop(reader);
        *lock.write().await += 1;
        assert_eq!(*lock.read().await, 2);
    });
}

#[test]
fn notify_one_wakes_one_task_at_a_time() {
    let woken = autojump(30, || async {
        let notify = Arc::new(Notify::new());
        let woken = Arc::new(AtomicUsize::new(0));
        pride::task_group(async |tg| {
            for _ in 0..3 {
                let (notify, woken) = (notify.clone(), woken.clone());
                tg.start_soon(async move {
                    notify.notified().await;
                    woken.fetch_add(1, Ordering::SeqCst);
                });
            }
            pride::sleep(10 * MS).await;
            for expected in 1..=3 {
                notify.notify_one();
                pride::sleep(10 * MS).await;
                assert_eq!(woken.load(Ordering::SeqCst), expected);
            }
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
        woken.load(Ordering::SeqCst)
    });
    assert_eq!(woken, 3);
}

#[test]
fn notify_waiter_cancelled_by_a_deadline_then_notified_again() {
    autojump(30, || async {
        let notify = Notify::new();
        assert!(
            pride::move_on_after(10 * MS, notify.notified())
                .await
                .is_none()
        );
        // The cancelled waiter is gone: the notification becomes the permit.
        notify.notify_one();
        notify.notified().await;
    });
}

#[test]
fn barrier_releases_rounds_with_one_leader_each() {
    let leaders = run(4, 60, || async {
        let barrier = Arc::new(Barrier::new(4));
        let leaders = Arc::new(AtomicUsize::new(0));
        pride::task_group(async |tg| {
            for _ in 0..4 {
                let (barrier, leaders) = (barrier.clone(), leaders.clone());
                tg.start_soon(async move {
                    for _ in 0..50 {
                        if barrier.wait().await.is_leader() {
                            leaders.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
        leaders.load(Ordering::SeqCst)
    });
    assert_eq!(leaders, 50);
}

#[test]
fn barrier_waiter_cancelled_by_a_deadline_leaves_the_round() {
    autojump(30, || async {
        let barrier = Barrier::new(2);
        assert!(
            pride::move_on_after(10 * MS, barrier.wait())
                .await
                .is_none()
        );
        // Had the cancelled task stayed, this wait would complete the round at once.
        assert!(
            pride::move_on_after(10 * MS, barrier.wait())
                .await
                .is_none()
        );
    });
}

#[test]
fn watch_receivers_converge_on_the_latest_value() {
    let seen = run(4, 60, || async {
        let (tx, rx) = watch::channel(0u32);
        let seen = Arc::new(AtomicUsize::new(0));
        pride::task_group(async |tg| {
            for _ in 0..8 {
                let (mut rx, seen) = (rx.clone(), seen.clone());
                tg.start_soon(async move {
                    while rx.changed().await.is_ok() {
                        // Marks what it reads as seen, so 100 is counted once.
                        let v = *rx.borrow_and_update();
                        if v == 100 {
                            seen.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
            for i in 1..=100 {
                tx.send(i);
                if i % 10 == 0 {
                    pride::checkpoint().await;
                }
            }
            drop(tx);
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
        seen.load(Ordering::SeqCst)
    });
    assert_eq!(seen, 8);
}

#[test]
fn watch_changed_cancelled_by_a_deadline_loses_no_change() {
    autojump(30, || async {
        let (tx, mut rx) = watch::channel("a");
        assert!(pride::move_on_after(10 * MS, rx.changed()).await.is_none());
        tx.send("b");
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), "b");
    });
}

/// Borrows of a watch value are shared: while some are held, on the same thread, more
/// borrows and every use of the channel but a send go on.
#[test]
fn watch_borrows_block_only_sends() {
    crate::common::watchdog(10, || {
        let (tx, mut rx) = watch::channel(1u32);
        let rx2 = rx.clone();
        let a = rx.borrow();
        let b = rx2.borrow(); // another receiver's borrow
        let c = tx.borrow();
        let d = rx.borrow(); // the same receiver's, again
        assert_eq!(*a + *b + *c + *d, 4);
        assert!(!rx2.has_changed());
        let mut rx3 = rx2.clone();
        assert_eq!(*rx3.borrow_and_update(), 1);
        assert_eq!(tx.receiver_count(), 3);
        drop(tx.subscribe());
        drop(rx3);
        assert_eq!(tx.receiver_count(), 2);
        assert!(format!("{rx2:?} {tx:?}").contains("value: 1"));
        // A send waits for the borrows; the value they hold does not change under them.
        std::thread::scope(|scope| {
            let sender = scope.spawn(|| tx.send(2));
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(*a + *b + *c + *d, 4);
            drop((a, b, c, d));
            assert_eq!(sender.join().unwrap(), 1);
        });
        assert!(rx.has_changed());
        assert_eq!(*rx.borrow_and_update(), 2);
        assert_eq!(*tx.borrow(), 2);
    });
}

/// The root holds a borrow while a child task, on another worker, borrows through
/// another receiver: the child's borrow does not wait for the root's.
#[test]
fn watch_borrow_held_by_the_root_does_not_block_a_childs_borrow() {
    run(2, 10, || async {
        let (_tx, rx) = watch::channel(String::from("config v1"));
        let rx2 = rx.clone();
        let snapshot = rx.borrow();
        pride::task_group(async |tg| {
            tg.start_soon(async move {
                assert_eq!(rx2.borrow().len(), 9);
                drop(rx2);
            });
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(snapshot.as_str(), "config v1");
    });
}

#[test]
fn broadcast_every_task_gets_every_message() {
    let totals = run(4, 60, || async {
        let (tx, rx) = broadcast::channel(1024);
        let totals = Arc::new(std::sync::Mutex::new(Vec::new()));
        pride::task_group(async |tg| {
            for _ in 0..6 {
                let (mut rx, totals) = (rx.clone(), totals.clone());
                tg.start_soon(async move {
                    let mut sum = 0u64;
                    loop {
                        match rx.recv().await {
                            Ok(v) => sum += v,
                            Err(broadcast::RecvError::Closed) => break,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    totals.lock().unwrap().push(sum);
                });
            }
            drop(rx);
            for i in 1..=500u64 {
                tx.send(i).unwrap();
                if i % 50 == 0 {
                    pride::checkpoint().await;
                }
            }
            drop(tx);
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
        Arc::try_unwrap(totals).unwrap().into_inner().unwrap()
    });
    assert_eq!(totals, vec![500 * 501 / 2; 6]);
}

#[test]
fn broadcast_recv_cancelled_by_a_deadline_loses_no_message() {
    autojump(30, || async {
        let (tx, mut rx) = broadcast::channel(4);
        assert!(pride::move_on_after(10 * MS, rx.recv()).await.is_none());
        tx.send(1).unwrap();
        assert_eq!(rx.recv().await, Ok(1));
    });
}
