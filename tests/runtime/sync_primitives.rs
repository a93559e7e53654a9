//! Event, Lock, Semaphore, CapacityLimiter and oneshot under the pride runtime.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pride::sync::{Borrower, oneshot};
use pride::{BoxError, CapacityLimiter, Event, Lock, Semaphore};

/// The shutdown pattern: an event set once stops every background loop that waits on
/// it, and the group then ends.
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

/// A waker that panics when woken: a foreign executor's bug.
pub(crate) struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("waker boom");
    }
}

/// Counts its wakes.
#[derive(Default)]
pub(crate) struct CountingWaker(pub(crate) AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub(crate) fn poll_with<F: Future>(f: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(waker))
}

/// Registers `bad` (under a panicking waker) and then `good`, runs `wake_both`, which
/// must wake both, and checks that the panic reached `wake_both`'s caller, that `good`
/// was woken all the same and that it then completes.
fn panicking_waker_ahead_of(
    what: &str,
    bad: impl Future,
    good: impl Future,
    wake_both: impl FnOnce(),
) {
    let (bad_waker, counter) = (
        Waker::from(Arc::new(PanickingWaker)),
        Arc::new(CountingWaker::default()),
    );
    let good_waker = Waker::from(counter.clone());
    let (mut bad, mut good) = (pin!(bad), pin!(good));
    assert!(poll_with(bad.as_mut(), &bad_waker).is_pending(), "{what}");
    assert!(poll_with(good.as_mut(), &good_waker).is_pending(), "{what}");
    let woke = std::panic::catch_unwind(std::panic::AssertUnwindSafe(wake_both));
    let panic = woke.expect_err(what);
    assert_eq!(crate::common::panic_text(&*panic), "waker boom", "{what}");
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "{what}: the waiter behind the panicking waker was not woken"
    );
    assert!(
        poll_with(good.as_mut(), &good_waker).is_ready(),
        "{what}: the woken waiter cannot proceed"
    );
}

/// A waker that panics does not strand the waiters woken after it in the same batch:
/// each is woken (and holds what it was granted), then the panic reaches the caller
/// that woke them.
#[test]
fn a_panicking_waker_does_not_strand_the_rest_of_its_batch() {
    let event = Event::new();
    panicking_waker_ahead_of("Event::set", event.wait(), event.wait(), || event.set());

    let sem = Semaphore::new(0);
    panicking_waker_ahead_of(
        "Semaphore::add_permits",
        sem.acquire(),
        sem.acquire(),
        || sem.add_permits(2),
    );

    let queue = pride::Queue::<u32>::unbounded();
    panicking_waker_ahead_of("Queue::close", queue.get(), queue.get(), || queue.close());

    let (tx, rx) = pride::sync::channel::<u32>(1);
    let rx2 = rx.clone();
    panicking_waker_ahead_of("the last Sender's drop", rx.recv(), rx2.recv(), || drop(tx));

    let notify = pride::sync::Notify::new();
    panicking_waker_ahead_of(
        "Notify::notify_waiters",
        notify.notified(),
        notify.notified(),
        || notify.notify_waiters(),
    );

    let barrier = pride::sync::Barrier::new(3);
    panicking_waker_ahead_of(
        "the Barrier's last arrival",
        barrier.wait(),
        barrier.wait(),
        || {
            let _ = poll_with(pin!(barrier.wait()), Waker::noop());
        },
    );

    let lock = pride::sync::RwLock::new(0);
    let writer = lock.try_write().unwrap();
    panicking_waker_ahead_of("RwLock write unlock", lock.read(), lock.read(), || {
        drop(writer)
    });

    let (tx, mut rx) = pride::sync::watch::channel(0);
    let mut rx2 = rx.clone();
    panicking_waker_ahead_of("watch::Sender::send", rx.changed(), rx2.changed(), || {
        tx.send(1);
    });

    let (tx, mut rx) = pride::sync::broadcast::channel(4);
    let mut rx2 = tx.subscribe();
    panicking_waker_ahead_of("broadcast::Sender::send", rx.recv(), rx2.recv(), || {
        tx.send(1).unwrap();
    });
}

/// On the runtime: a foreign wait with a panicking waker is first in line; the task
/// that sets the event sees the panic and goes on, and the task waiting on the event
/// is woken.
#[test]
fn a_panicking_waker_ahead_in_line_does_not_hang_a_task_waiting_on_the_event() {
    crate::common::run(2, 10, || async {
        let event = Event::new();
        let bad = Waker::from(Arc::new(PanickingWaker));
        let mut foreign = Box::pin(event.wait());
        assert!(poll_with(foreign.as_mut(), &bad).is_pending());
        let queued = Event::new();
        pride::task_group(async |tg| {
            let (event1, queued1) = (event.clone(), queued.clone());
            tg.start_soon(async move {
                let mut wait = pin!(event1.wait());
                let first = std::future::poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx))).await;
                assert!(first.is_pending());
                queued1.set();
                wait.await;
            });
            let (event2, queued2) = (event.clone(), queued.clone());
            tg.start_soon(async move {
                queued2.wait().await;
                let set = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| event2.set()));
                assert!(
                    set.is_err(),
                    "the foreign waker's panic reaches set's caller"
                );
                assert!(event2.is_set());
            });
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
        drop(foreign);
    });
}

/// A token handed to a waiting acquire belongs to that acquire until it completes:
/// releasing on the borrower's behalf meanwhile fails (it would let a second borrower
/// work on a one-token pool), and dropping the acquire gives the token back.
#[test]
fn capacity_limiter_token_in_flight_is_the_acquires_until_it_completes() {
    let limiter = CapacityLimiter::new(1);
    let b = Borrower::new(1);
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());

    let first = limiter.try_acquire().expect("the one token");
    let mut acquire = pin!(limiter.acquire_on_behalf_of(b));
    assert!(poll_with(acquire.as_mut(), &waker).is_pending());
    assert!(limiter.release_on_behalf_of(b).is_err(), "b is only queued");
    drop(first); // the token goes to b's waiting acquire
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        limiter.release_on_behalf_of(b),
        Err(pride::sync::BorrowError::NotBorrowing(b)),
        "b's acquire has not completed: b holds nothing yet"
    );
    assert_eq!(
        limiter.try_acquire_on_behalf_of(b),
        Err(pride::sync::BorrowError::AlreadyBorrowing(b))
    );
    assert!(
        limiter.try_acquire().is_none(),
        "the token is in flight, not free"
    );
    assert_eq!(
        (limiter.borrowed_tokens(), limiter.available_tokens()),
        (1, 0)
    );
    assert_eq!(poll_with(acquire.as_mut(), &waker), Poll::Ready(Ok(())));
    assert!(limiter.try_acquire().is_none());
    limiter.release_on_behalf_of(b).unwrap();

    // An acquire dropped with its token in flight gives the token back.
    let first = limiter.try_acquire().expect("the token is back");
    let mut acquire = Box::pin(limiter.acquire_on_behalf_of(b));
    assert!(poll_with(acquire.as_mut(), &waker).is_pending());
    drop(first);
    drop(acquire);
    assert_eq!(
        (limiter.borrowed_tokens(), limiter.available_tokens()),
        (0, 1)
    );
    assert!(limiter.release_on_behalf_of(b).is_err());
    limiter.try_acquire_on_behalf_of(b).unwrap();
    limiter.release_on_behalf_of(b).unwrap();
}

/// A synchronous wait (a foreign `block_on`) for a ready primitive inside a task whose
/// cooperative budget is spent returns: the primitive's refusals, meant to make the
/// task yield, cannot make a nested executor yield, and stop after a while.
#[test]
fn a_synchronous_wait_inside_a_task_with_a_spent_budget_returns() {
    crate::common::run(2, 10, || async {
        // In a task: the root future of `block_on` runs on a thread with no budget.
        pride::task_group(async |tg| {
            tg.start_soon(a_synchronous_wait_with_a_spent_budget());
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
    });
}

async fn a_synchronous_wait_with_a_spent_budget() {
    let event = Event::new();
    event.set();
    std::future::poll_fn(|cx| {
        // Ready operations spend the task's budget; the first `Pending` from a set
        // event's wait says it is spent (so the budget still applies to a poll that
        // passes `Pending` on).
        while poll_with(pin!(event.wait()), cx.waker()).is_ready() {}
        // Still inside this poll: a synchronous wait for the set event, as sync code
        // called from the task would do (bounded, so that a failure does not leave a
        // worker spinning).
        let mut polls = 0u32;
        let mut wait = pin!(event.wait());
        let returned = futures_lite::future::block_on(std::future::poll_fn(|cx| {
            polls += 1;
            if polls > 100_000 {
                return Poll::Ready(false);
            }
            wait.as_mut().poll(cx).map(|()| true)
        }));
        assert!(
            returned,
            "a set Event's wait answered Pending {polls} times in a row"
        );
        Poll::Ready(())
    })
    .await;
}

/// `AlreadyBorrowing` is returned for a borrower that holds a token and for one that
/// only waits for one; its message says so, rather than "holds" for a borrower that
/// `release_on_behalf_of` says holds nothing.
#[test]
fn capacity_limiter_already_borrowing_says_holds_or_waits() {
    let limiter = CapacityLimiter::new(1);
    let _held = limiter.try_acquire().unwrap();
    let b = Borrower::new(1);
    let mut waiting = pin!(limiter.acquire_on_behalf_of(b));
    assert!(poll_with(waiting.as_mut(), Waker::noop()).is_pending());
    let err = limiter.try_acquire_on_behalf_of(b).unwrap_err();
    assert_eq!(err, pride::sync::BorrowError::AlreadyBorrowing(b));
    assert_eq!(
        err.to_string(),
        format!("{b:?} already holds or is waiting for a token of this capacity limiter")
    );
}

/// A oneshot `RecvError` comes both when the sender was dropped without sending and
/// after the value was received; its message covers both.
#[test]
fn oneshot_recv_error_after_the_value_was_received_does_not_say_never_sent() {
    let (tx, mut rx) = oneshot::channel();
    tx.send(5).unwrap();
    assert_eq!(rx.try_recv(), Ok(Some(5)));
    let err = rx.try_recv().unwrap_err();
    assert_eq!(
        err.to_string(),
        "no value will come from this oneshot channel: the sender was dropped without \
         sending, or the value was already received"
    );
}

/// `add_permits` counts the permits held, not only the free ones: permits that would
/// take the semaphore past `usize::MAX` in all are refused at the call, so giving a
/// held permit back can never overflow (a permit's drop never panics). `forget` makes
/// room again.
#[test]
fn semaphore_add_permits_refuses_at_the_call_what_a_held_permit_would_overflow() {
    let sem = Semaphore::new(usize::MAX);
    let held = sem.try_acquire().unwrap();
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sem.add_permits(1)));
    let panic = refused.expect_err("usize::MAX - 1 free and 1 held: no room for one more");
    assert!(
        crate::common::panic_text(&*panic).contains("usize::MAX"),
        "{:?}",
        crate::common::panic_text(&*panic)
    );
    assert_eq!(sem.available_permits(), usize::MAX - 1, "nothing was added");
    drop(held);
    assert_eq!(sem.available_permits(), usize::MAX);
    sem.try_acquire_many(2).unwrap().forget();
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), usize::MAX);
}

/// Polling a lock's or a semaphore's future again after it completed panics with a
/// message that names the call the user made, not the semaphore under a lock.
#[test]
fn an_acquire_future_polled_after_completion_names_its_own_primitive() {
    fn polled_twice<F: Future>(future: F) -> String {
        let mut future = pin!(future);
        let waker = Waker::noop();
        assert!(poll_with(future.as_mut(), waker).is_ready());
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = poll_with(future.as_mut(), waker);
        }));
        crate::common::panic_text(&*again.expect_err("polled after completion")).to_owned()
    }
    let lock = Lock::new(());
    let rwlock = pride::sync::RwLock::new(());
    let sem = Semaphore::new(1);
    let (tx, rx) = pride::sync::channel::<u8>(1);
    let queue = pride::Queue::<u8>::unbounded();
    queue.put_nowait(1).unwrap();
    let limiter = pride::CapacityLimiter::new(1);
    for (call, message) in [
        ("Lock::lock", polled_twice(lock.lock())),
        ("RwLock::read", polled_twice(rwlock.read())),
        ("RwLock::write", polled_twice(rwlock.write())),
        ("Semaphore::acquire", polled_twice(sem.acquire())),
        ("channel `send`", polled_twice(tx.send(1))),
        ("channel `recv`", polled_twice(rx.recv())),
        ("Queue::get", polled_twice(queue.get())),
        ("CapacityLimiter::acquire", polled_twice(limiter.acquire())),
    ] {
        assert!(
            message.contains(call) && message.contains("after it completed"),
            "{call}: {message:?}"
        );
        if call != "Semaphore::acquire" {
            assert!(!message.contains("semaphore"), "{call}: {message:?}");
        }
    }
}

/// A waker whose `clone` panics: a foreign executor's bug, like a waker that panics
/// when woken.
pub(crate) fn clone_panicking_waker() -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    fn clone(_: *const ()) -> RawWaker {
        panic!("waker clone boom")
    }
    fn ignore(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, ignore, ignore, ignore);
    // SAFETY: no function of the vtable reads the data pointer, so a null one is valid
    // for each of them, and having no state they are safe to call from any thread.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

/// Queues `wait` (a first poll), polls it again under a waker whose clone panics, and
/// drops it; checks that the panic reached the poll's caller.
pub(crate) fn refresh_panics_then_dropped<F: Future>(what: &str, wait: F) {
    let mut wait = Box::pin(wait);
    assert!(
        poll_with(wait.as_mut(), Waker::noop()).is_pending(),
        "{what}: queued"
    );
    let bad = clone_panicking_waker();
    let repoll = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = poll_with(wait.as_mut(), &bad);
    }));
    let panic = repoll.expect_err(what);
    assert_eq!(
        crate::common::panic_text(&*panic),
        "waker clone boom",
        "{what}"
    );
    drop(wait);
}

/// A wait re-polled under a waker whose clone panics keeps its place in line until it
/// is dropped, and its drop leaves the line as any cancelled wait's does: it is never
/// handed a lock, permits, a notification, a token or a place in a barrier's round
/// that nobody would give back.
#[test]
fn a_wait_whose_waker_refresh_panics_leaves_the_line_when_dropped() {
    let lock = Lock::new(0);
    let held = lock.try_lock().unwrap();
    refresh_panics_then_dropped("Lock::lock", lock.lock());
    drop(held);
    assert!(
        lock.try_lock().is_some(),
        "Lock::lock: the lock is stranded"
    );

    let rwlock = pride::sync::RwLock::new(0);
    let held = rwlock.try_write().unwrap();
    refresh_panics_then_dropped("RwLock::write", rwlock.write());
    drop(held);
    assert!(
        rwlock.try_write().is_some(),
        "RwLock::write: the lock is stranded"
    );

    let sem = Semaphore::new(1);
    refresh_panics_then_dropped("Semaphore::acquire_many", sem.acquire_many(2));
    sem.add_permits(1);
    assert!(
        sem.try_acquire_many(2).is_some(),
        "Semaphore::acquire_many: the permits went to a dropped wait"
    );

    let notify = pride::sync::Notify::new();
    refresh_panics_then_dropped("Notify::notified", notify.notified());
    notify.notify_one();
    assert!(
        poll_with(pin!(notify.notified()), Waker::noop()).is_ready(),
        "Notify::notified: the notification went to a dropped wait"
    );

    let barrier = pride::sync::Barrier::new(2);
    refresh_panics_then_dropped("Barrier::wait", barrier.wait());
    assert!(
        poll_with(pin!(barrier.wait()), Waker::noop()).is_pending(),
        "Barrier::wait: a dropped wait counted as arrived"
    );

    let limiter = CapacityLimiter::new(1);
    let token = limiter.try_acquire().unwrap();
    refresh_panics_then_dropped("CapacityLimiter::acquire", limiter.acquire());
    drop(token);
    assert!(
        limiter.try_acquire().is_some(),
        "CapacityLimiter::acquire: the token went to a dropped acquire"
    );

    // These grant everyone at once: a dropped wait must not be in the way either.
    let event = Event::new();
    refresh_panics_then_dropped("Event::wait", event.wait());
    event.set();
    let (tx, mut rx) = pride::sync::watch::channel(0);
    refresh_panics_then_dropped("watch::Receiver::changed", rx.changed());
    tx.send(1);
    assert!(poll_with(pin!(rx.changed()), Waker::noop()).is_ready());
    let (tx, mut rx) = pride::sync::broadcast::channel(1);
    refresh_panics_then_dropped("broadcast::Receiver::recv", rx.recv());
    tx.send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
}

/// A waker that owns `value`, which its last clone's drop drops.
pub(crate) fn waker_owning<T: Send + 'static>(value: T) -> Waker {
    struct Owning<T>(std::sync::Mutex<T>);
    impl<T: Send + 'static> std::task::Wake for Owning<T> {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Owning(std::sync::Mutex::new(value))))
}

/// A stored waker that owns the last handle to its own primitive (the last sender, a
/// permit) is dropped after the primitive's lock is released, when the wait is dropped
/// and when a re-poll replaces it: that handle's drop takes the same lock.
#[test]
fn a_stored_waker_owning_the_last_handle_to_its_primitive_is_dropped_unlocked() {
    crate::common::watchdog(10, || {
        // Replaced by a re-poll under another waker.
        let (tx, rx) = oneshot::channel::<u32>();
        let mut rx = Box::pin(rx);
        assert!(poll_with(rx.as_mut(), &waker_owning(tx)).is_pending());
        let _ = poll_with(rx.as_mut(), Waker::noop());
        assert!(
            poll_with(rx.as_mut(), Waker::noop()).is_ready(),
            "sender gone"
        );

        let (mut tx, rx) = oneshot::channel::<u32>();
        let mut closed = Box::pin(tx.closed());
        assert!(poll_with(closed.as_mut(), &waker_owning(rx)).is_pending());
        let _ = poll_with(closed.as_mut(), Waker::noop());
        assert!(
            poll_with(closed.as_mut(), Waker::noop()).is_ready(),
            "receiver gone"
        );
        drop(closed);

        let (tx, mut rx) = pride::sync::watch::channel(0);
        let mut changed = Box::pin(rx.changed());
        assert!(poll_with(changed.as_mut(), &waker_owning(tx)).is_pending());
        let _ = poll_with(changed.as_mut(), Waker::noop());
        drop(changed);
        assert!(
            poll_with(pin!(rx.changed()), Waker::noop()).is_ready(),
            "sender gone"
        );

        // Dropped with the wait.
        let (tx, mut rx) = pride::sync::watch::channel(0);
        let mut changed = Box::pin(rx.changed());
        assert!(poll_with(changed.as_mut(), &waker_owning(tx)).is_pending());
        drop(changed);

        let (tx, mut rx) = pride::sync::broadcast::channel::<u32>(1);
        let mut recv = Box::pin(rx.recv());
        assert!(poll_with(recv.as_mut(), &waker_owning(tx)).is_pending());
        drop(recv);

        let sem = Arc::new(Semaphore::new(1));
        let permit = sem.try_acquire_owned().unwrap();
        let mut acquire = Box::pin(sem.acquire());
        assert!(poll_with(acquire.as_mut(), &waker_owning(permit)).is_pending());
        drop(acquire);
        assert_eq!(sem.available_permits(), 1);
    });
}

/// A dropped oneshot `Receiver` lets go of the waker it stored: one that owns the
/// `Sender` would otherwise keep the channel and itself alive for ever (a cycle).
#[test]
fn a_dropped_receiver_lets_go_of_its_waker() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Wake, Waker};
    /// Holds the sender only to own it (it is never read).
    struct OwnsSender(
        #[allow(dead_code)] pride::sync::oneshot::Sender<u32>,
        std::sync::Arc<AtomicUsize>,
    );
    impl Wake for OwnsSender {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    impl Drop for OwnsSender {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = pride::sync::oneshot::channel::<u32>();
    {
        let owner = OwnsSender(tx, drops.clone());
        let waker = Waker::from(std::sync::Arc::new(owner));
        let mut cx = Context::from_waker(&waker);
        assert!(std::pin::Pin::new(&mut rx).poll(&mut cx).is_pending());
    }
    drop(rx);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the waker (and its sender) leaked"
    );
}

/// A waker whose clone panics at the first poll of `acquire_on_behalf_of` leaves
/// nothing behind: the borrower is not marked waiting, and can borrow later.
#[test]
fn a_first_borrow_whose_waker_clone_panics_leaves_the_borrower_free() {
    let bad = clone_panicking_waker();
    let limiter = pride::CapacityLimiter::new(1);
    let held = limiter.try_acquire().unwrap();
    let worker = pride::sync::Borrower::new(7);
    {
        let acquire = pin!(limiter.acquire_on_behalf_of(worker));
        let polled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_with(acquire, &bad)));
        assert!(polled.is_err());
    }
    drop(held);
    assert_eq!(limiter.try_acquire_on_behalf_of(worker), Ok(()));
}
