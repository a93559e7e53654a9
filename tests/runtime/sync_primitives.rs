//! Event, Lock, Semaphore, CapacityLimiter and oneshot under the pride runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pride::sync::{Borrower, oneshot};
use pride::{BoxError, CapacityLimiter, Event, Lock, Semaphore};

/// The shutdown pattern of the original TaskGroup document.
#[test]
fn event_stops_background_loops() {
    pride::run(async {
        let shutdown = Event::new();
        let stopped = Arc::new(AtomicUsize::new(0));
        pride::task_group(async |tg| {
            for _ in 0..8 {
                let (shutdown, stopped) = (shutdown.clone(), stopped.clone());
                tg.start_soon(async move {
                    shutdown.wait().await;
                    stopped.fetch_add(1, Ordering::SeqCst);
                });
            }
            pride::sleep(Duration::from_millis(5)).await;
            assert_eq!(stopped.load(Ordering::SeqCst), 0);
            shutdown.set();
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(stopped.load(Ordering::SeqCst), 8);
        shutdown.wait().await; // already set: completes at once
    });
}

#[test]
fn lock_excludes_across_suspension_points() {
    let lock = Arc::new(Lock::new(0u64));
    let inside = Arc::new(AtomicUsize::new(0));
    pride::run(async {
        pride::task_group(async |tg| {
            for _ in 0..64 {
                let (lock, inside) = (lock.clone(), inside.clone());
                tg.start_soon(async move {
                    for _ in 0..20 {
                        let mut guard = lock.lock().await;
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        let v = *guard;
                        pride::checkpoint().await;
                        *guard = v + 1;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
    });
    assert_eq!(*lock.try_lock().unwrap(), 64 * 20);
}

#[test]
fn lock_waiter_cancelled_by_a_deadline_does_not_keep_the_lock() {
    pride::run(async {
        let lock = Lock::new(());
        let guard = lock.lock().await;
        assert!(
            pride::move_on_after(Duration::from_millis(10), lock.lock())
                .await
                .is_none()
        );
        drop(guard);
        assert!(lock.try_lock().is_some());
    });
}

#[test]
fn semaphore_bounds_concurrency() {
    let sem = Arc::new(Semaphore::new(3));
    let (inside, high) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    pride::run(async {
        pride::task_group(async |tg| {
            for _ in 0..50 {
                let (sem, inside, high) = (sem.clone(), inside.clone(), high.clone());
                tg.start_soon(async move {
                    let _permit = sem.acquire_owned().await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    high.fetch_max(now, Ordering::SeqCst);
                    pride::checkpoint().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
    });
    assert!(high.load(Ordering::SeqCst) <= 3);
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn capacity_limiter_bounds_concurrency_and_tracks_borrowers() {
    let limiter = CapacityLimiter::new(2);
    let (inside, high) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    pride::run(async {
        pride::task_group(async |tg| {
            for worker in 0..20u64 {
                let (limiter, inside, high) = (limiter.clone(), inside.clone(), high.clone());
                tg.start_soon(async move {
                    let me = Borrower::new(worker);
                    limiter.acquire_on_behalf_of(me).await?;
                    assert!(limiter.acquire_on_behalf_of(me).await.is_err());
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    high.fetch_max(now, Ordering::SeqCst);
                    pride::checkpoint().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                    limiter.release_on_behalf_of(me)?;
                    assert!(limiter.release_on_behalf_of(me).is_err());
                    Ok::<(), BoxError>(())
                });
            }
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
    });
    assert!(high.load(Ordering::SeqCst) <= 2);
    assert_eq!(limiter.borrowed_tokens(), 0);
}

#[test]
fn oneshot_between_tasks() {
    pride::run(async {
        pride::task_group(async |tg| {
            let (tx, rx) = oneshot::channel();
            let (mut tx2, rx2) = oneshot::channel::<u32>();
            tg.start_soon(async move {
                pride::sleep(Duration::from_millis(1)).await;
                tx.send(42).unwrap();
            });
            tg.start_soon(async move {
                tx2.closed().await; // returns once rx2 is dropped below
            });
            assert_eq!(rx.await, Ok(42));
            drop(rx2);
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn futures_are_send() {
    fn assert_send<F: std::future::Future + Send>(_: F) {}
    let lock = Lock::new(String::new());
    let sem = Arc::new(Semaphore::new(1));
    let limiter = CapacityLimiter::new(1);
    let event = Event::new();
    assert_send(lock.lock());
    assert_send(sem.acquire());
    assert_send(sem.acquire_owned());
    assert_send(limiter.acquire());
    assert_send(event.wait());
    assert_send(async move {
        let guard = lock.lock().await;
        pride::checkpoint().await;
        drop(guard);
        let _p = sem.acquire().await;
        let _t = limiter.acquire().await;
        event.wait().await;
    });
}
