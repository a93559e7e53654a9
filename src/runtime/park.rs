//! Parking a thread: on a condvar, or (for the one worker that holds it) in the driver.
//!
//! The state word makes `unpark` before `park` a no-op sleep: `NOTIFIED` is consumed by
//! the next `park`. `unpark` knows where the thread sleeps, so it can interrupt the
//! driver (through its waker) or signal the condvar.
//!
//! Before blocking on the condvar, a thread may watch the state word for a moment
//! ([`Parker::spin`]). The word stays `EMPTY` meanwhile, so an unpark in that window is
//! an unpark before the park: a swap to `NOTIFIED`, which the watcher consumes, and no
//! system call on either side.

#[cfg(not(pride_loom))]
use std::time::{Duration, Instant};

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Condvar, Mutex};

/// How long [`Parker::spin`] watches for an unpark. Waking a blocked thread
/// costs the waker a system call and the sleeper tens of microseconds (more where its
/// CPU went idle, as on a virtual machine); a wake within this window costs neither.
#[cfg(not(pride_loom))]
const SPIN: Duration = Duration::from_micros(50);

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// Something that can interrupt a thread blocked in the driver.
pub trait WakeDriver {
    /// Interrupts the blocked driver.
    fn wake_driver(&self);
}

#[derive(Default)]
struct Inner {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
}

/// The parking side, owned by one thread; cheap to clone into an [`Unparker`].
#[derive(Clone, Default)]
pub struct Parker {
    inner: Arc<Inner>,
}

impl Parker {
    /// A parker with no pending notification.
    pub fn new() -> Parker {
        Parker::default()
    }

    /// Consumes a pending notification without blocking.
    fn try_consume(&self) -> bool {
        self.inner
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Announces that the thread is about to sleep in `parked`. Returns false, with the
    /// notification consumed, if an unpark came first: then the thread must not sleep.
    fn announce(&self, parked: usize) -> bool {
        if self.try_consume() {
            return false;
        }
        match self
            .inner
            .state
            .compare_exchange(EMPTY, parked, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => true,
            Err(NOTIFIED) => {
                // A swap, not a store: another unpark may have come since the failed
                // CAS read NOTIFIED, and only reading its write (a read-modify-write
                // reads the latest) orders what it published before our return. A
                // store would swallow its notification unsynchronised, and the thread
                // could park again on a stale view (found by `loom-tests/idle.rs`).
                self.inner.state.swap(EMPTY, Ordering::SeqCst);
                false
            }
            Err(actual) => panic!("pride: inconsistent park state {actual}"),
        }
    }

    /// Watches for an unpark for a moment without blocking, yielding the CPU between
    /// looks; true if one came (it is consumed). An unpark meanwhile finds the state
    /// `EMPTY` and makes no system call, and this thread skips the wake-up latency of
    /// a blocked one.
    pub fn spin(&self) -> bool {
        let consumed =
            || self.inner.state.load(Ordering::Relaxed) == NOTIFIED && self.try_consume();
        // Under loom, one look: a loop bounded by the clock is not a model.
        #[cfg(pride_loom)]
        return consumed();
        #[cfg(not(pride_loom))]
        {
            let start = Instant::now();
            loop {
                if consumed() {
                    return true;
                }
                if start.elapsed() >= SPIN {
                    return false;
                }
                std::thread::yield_now();
            }
        }
    }

    /// Blocks on the condvar until unparked.
    pub fn park(&self) {
        // Announce under the lock, so that an unpark that sees PARKED_CONDVAR (and
        // takes the lock to notify) cannot notify before we wait.
        let mut guard = self.inner.mutex.lock();
        if !self.announce(PARKED_CONDVAR) {
            return;
        }
        loop {
            self.inner.condvar.wait(&mut guard);
            if self.try_consume() {
                return;
            }
        }
    }

    /// Blocks in the driver: `turn()` must return when the driver is woken (the
    /// driver's waker is what `unpark` uses for a thread parked here).
    pub fn park_in_driver(&self, turn: impl FnOnce()) {
        if !self.announce(PARKED_DRIVER) {
            return;
        }
        turn();
        // Whether woken by an unpark, a timer or I/O, the thread is awake now.
        self.inner.state.swap(EMPTY, Ordering::SeqCst);
    }

    /// A handle that wakes this parker.
    pub fn unparker(&self) -> Unparker {
        Unparker {
            inner: self.inner.clone(),
        }
    }
}

/// The waking side of a [`Parker`].
#[derive(Clone)]
pub struct Unparker {
    inner: Arc<Inner>,
}

impl Unparker {
    /// Wakes the parked thread, or makes its next park return at once.
    pub fn unpark(&self, driver: &dyn WakeDriver) {
        match self.inner.state.swap(NOTIFIED, Ordering::SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders us after the parker's check-then-wait.
                drop(self.inner.mutex.lock());
                self.inner.condvar.notify_one();
            }
            PARKED_DRIVER => driver.wake_driver(),
            actual => panic!("pride: inconsistent park state {actual}"),
        }
    }
}

/// The waker of a `block_on` thread. Besides unparking the thread, it keeps the
/// runtime's count of running `block_on` threads exact: the thread counts itself out
/// just before it sleeps, and the wake that ends the sleep counts it back in, at the
/// moment of the wake; a wake that comes while the thread still runs (between its poll
/// and its sleep) keeps it from sleeping, and so from counting itself out. An
/// autojump clock never sees the runtime idle while a woken `block_on` thread is
/// about to run.
///
/// The count belongs to the call, not to the waker: [`ThreadWaker::new`] counts the
/// call in and returns the [`BlockOnCall`] whose drop, when `block_on` returns or
/// unwinds, counts it out for good. A clone of the waker kept after that (a waiter list
/// that still holds it) keeps nothing counted, and waking it does nothing but unpark a
/// thread that no longer waits.
pub(crate) struct ThreadWaker {
    unparker: Unparker,
    /// `RUNNING`, `WOKEN` (running, and woken since its last poll: it must not sleep),
    /// `SLEEPING` (counted out until a wake) or `DONE` (the call is over).
    state: AtomicUsize,
    /// The runtime's count of running `block_on` threads.
    active: Arc<AtomicUsize>,
}

const RUNNING: usize = 0;
const SLEEPING: usize = 1;
const DONE: usize = 2;
const WOKEN: usize = 3;

/// One `block_on` call, counted as running from [`ThreadWaker::new`] until it is
/// dropped (except while it sleeps).
pub(crate) struct BlockOnCall(std::sync::Arc<ThreadWaker>);

impl ThreadWaker {
    /// The waker of a `block_on` call's thread, which starts out running, and the call,
    /// counted in until it is dropped.
    pub(crate) fn new(
        parker: &Parker,
        active: Arc<AtomicUsize>,
    ) -> (std::sync::Arc<ThreadWaker>, BlockOnCall) {
        active.fetch_add(1, Ordering::SeqCst);
        let thread = std::sync::Arc::new(ThreadWaker {
            unparker: parker.unparker(),
            state: AtomicUsize::new(RUNNING),
            active,
        });
        (thread.clone(), BlockOnCall(thread))
    }

    /// Counts the thread out, then sleeps until woken; returns at once, never counted
    /// out, if a wake came since the last poll (it would only end the sleep at once,
    /// and meanwhile the thread, about to run, would count as idle).
    pub(crate) fn sleep(&self, parker: &Parker) {
        if self
            .state
            .compare_exchange(RUNNING, SLEEPING, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // `WOKEN`: poll again. (The wake's unpark may end a later sleep early; the
            // caller polls again then, which is harmless.)
            self.state.store(RUNNING, Ordering::SeqCst);
            return;
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
        parker.park();
        self.count_in();
    }

    /// Counts a sleeping thread back in; nothing for a running one or a finished call.
    fn count_in(&self) {
        if self
            .state
            .compare_exchange(SLEEPING, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.active.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Counts a sleeping thread back in, or tells a running one not to sleep, and
    /// unparks it; nothing but the unpark for a finished call.
    fn wake_thread(&self) {
        let mut state = self.state.load(Ordering::SeqCst);
        loop {
            let next = match state {
                SLEEPING => RUNNING,
                RUNNING => WOKEN,
                _ => break,
            };
            match self
                .state
                .compare_exchange(state, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    if state == SLEEPING {
                        self.active.fetch_add(1, Ordering::SeqCst);
                    }
                    break;
                }
                Err(actual) => state = actual,
            }
        }
        self.unparker.unpark(&NoDriver);
    }
}

impl Drop for BlockOnCall {
    fn drop(&mut self) {
        // Only the call's own thread sleeps, and it is here: the state is `RUNNING` or
        // `WOKEN` (counted in) unless `park` unwound.
        if matches!(self.0.state.swap(DONE, Ordering::SeqCst), RUNNING | WOKEN) {
            self.0.active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

struct NoDriver;

impl WakeDriver for NoDriver {
    fn wake_driver(&self) {
        unreachable!("pride: a block_on thread never parks in the driver")
    }
}

impl std::task::Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_thread();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wake_thread();
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;

    /// A wake between the poll and the sleep keeps the thread running and counted in:
    /// the sleep returns at once, without the unpark (which could be gone: a spurious
    /// wake-up consumed it) and without counting the thread out.
    #[test]
    fn a_wake_before_the_sleep_keeps_the_thread_running_and_counted_in() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let parker = Parker::new();
            let active = Arc::new(AtomicUsize::new(0));
            let (thread, call) = ThreadWaker::new(&parker, active.clone());
            std::task::Waker::from(thread.clone()).wake_by_ref();
            assert!(parker.spin(), "the wake unparks the thread");
            thread.sleep(&parker);
            let running = active.load(Ordering::SeqCst);
            drop(call);
            done.send((running, active.load(Ordering::SeqCst))).unwrap();
        });
        let counts = finished.recv_timeout(Duration::from_secs(30));
        assert_eq!(counts, Ok((1, 0)), "the sleep waited for a second wake");
    }
}
