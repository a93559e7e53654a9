//! [`Event`]: a one-shot flag that tasks can wait for.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::sync::waiters::{WaiterId, WaiterList, WakeList};

/// A flag that starts unset and, once [`set`](Event::set), stays set; tasks
/// [`wait`](Event::wait) for it.
///
/// `Event` is a cheap handle: `clone()` gives another handle to the *same* event, so it
/// can be moved into as many tasks as need it (no `Arc` needed around it). Setting wakes
/// every waiter at once; waiting on a set event completes immediately. A waiter whose
/// `wait` completes sees everything done before the event was set. Waiting is
/// cancel-safe: dropping a [`WaitFuture`] just removes it from the waiters.
///
/// # Example
///
/// ```
/// use pride::sync::Event;
///
/// let ready = Event::new();
/// let waiter = {
///     let ready = ready.clone();
///     std::thread::spawn(move || futures_lite::future::block_on(ready.wait()))
/// };
/// ready.set();
/// waiter.join().unwrap();
/// assert!(ready.is_set());
/// ```
#[derive(Clone)]
pub struct Event {
    inner: Arc<Inner>,
}

/// Once `set` is true, the waiters' list is empty for good: `set` takes the whole list
/// out under the lock, in the same hold as it stores the flag, and wakes it. A waiter
/// that sees the flag is done and never touches the list again (the slot its id named
/// went with the taken list), so the wakes that follow a `set` take no lock.
struct Inner {
    /// Written only under `waiters`' lock; read without it on the fast path.
    set: AtomicBool,
    waiters: Mutex<WaiterList<(), ()>>,
}

impl Inner {
    /// The waiters' list, locked, while the event is unset; `None` once it is set, when
    /// the list a waiter's id named is gone (`set` stores the flag under this lock, in
    /// the hold that takes the list).
    fn unset_waiters(&self) -> Option<MutexGuard<'_, WaiterList<(), ()>>> {
        let waiters = self.waiters.lock();
        (!self.set.load(Ordering::Relaxed)).then_some(waiters)
    }
}

impl Event {
    /// A new, unset event.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                set: AtomicBool::new(false),
                waiters: Mutex::new(WaiterList::new()),
            }),
        }
    }

    /// Sets the event and wakes every task waiting for it. Idempotent.
    pub fn set(&self) {
        if self.is_set() {
            return;
        }
        let mut taken = {
            let mut waiters = self.inner.waiters.lock();
            self.inner.set.store(true, Ordering::Release);
            std::mem::take(&mut *waiters)
        };
        let mut wakers = WakeList::new();
        taken.grant_all(|()| (), &mut wakers);
        drop(taken);
        wakers.wake();
    }

    /// Whether [`set`](Event::set) has been called.
    pub fn is_set(&self) -> bool {
        self.inner.set.load(Ordering::Acquire)
    }

    /// Waits until the event is set.
    pub fn wait(&self) -> WaitFuture<'_> {
        WaitFuture {
            event: self,
            id: None,
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .finish()
    }
}

/// The future of [`Event::wait`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct WaitFuture<'a> {
    event: &'a Event,
    id: Option<WaiterId>,
}

impl Future for WaitFuture<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let this = &mut *self;
            if this.event.is_set() {
                // `set` took the list our id (if we have one) was in: nothing to hand back.
                this.id = None;
                return Poll::Ready(());
            }
            // Set since the look above, or this is the list a `set` to come will take and
            // wake, where our waiter is queued or is about to be.
            let mut wakers = WakeList::new();
            let Some(mut waiters) = this.event.inner.unset_waiters() else {
                this.id = None;
                return Poll::Ready(());
            };
            match &this.id {
                Some(id) => {
                    // Only `set` grants, and it takes the list away as it does.
                    let granted = waiters.poll(id, cx.waker(), &mut wakers);
                    assert!(granted.is_pending(), "an event's waiter granted in place");
                }
                None => this.id = Some(waiters.push_back((), cx.waker())),
            }
            crate::debug::task::waits(cx, crate::debug::task::WaitOn::Event);
            drop(waiters);
            wakers.wake();
            Poll::Pending
        })
    }
}

impl Drop for WaitFuture<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let mut wakers = WakeList::new();
            if let Some(mut waiters) = self.event.inner.unset_waiters() {
                let _ = waiters.leave(id, &mut wakers);
            }
            wakers.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Counter;

    #[test]
    fn set_wakes_every_waiter_once() {
        let event = Event::new();
        let counters: Vec<_> = (0..3).map(|_| Counter::new()).collect();
        let mut waits: Vec<_> = (0..3).map(|_| event.wait()).collect();
        for (c, w) in counters.iter().zip(&mut waits) {
            assert!(c.poll(w).is_pending());
            assert!(c.poll(w).is_pending());
        }
        event.set();
        event.set();
        for (c, w) in counters.iter().zip(&mut waits) {
            assert_eq!(c.wakes(), 1);
            assert!(c.poll(w).is_ready());
        }
        let c = Counter::new();
        assert!(c.poll(&mut event.wait()).is_ready());
    }

    #[test]
    fn set_lets_go_of_every_waiter_at_once() {
        let event = Event::new();
        let counters: Vec<_> = (0..3).map(|_| Counter::new()).collect();
        let mut waits: Vec<_> = (0..3).map(|_| event.wait()).collect();
        for (c, w) in counters.iter().zip(&mut waits) {
            assert!(c.poll(w).is_pending());
        }
        assert_eq!(event.inner.waiters.lock().slots_in_use(), 3);
        event.set();
        // Nothing waits for the woken futures to come back for their slots.
        assert_eq!(event.inner.waiters.lock().slots_in_use(), 0);
        // One completes, one is dropped without being polled again, one completes after
        // that: none of them looks for its slot in the list that is left.
        assert!(counters[0].poll(&mut waits[0]).is_ready());
        let mut waits = waits.into_iter().skip(1);
        drop(waits.next());
        let mut last = waits.next().expect("the third waiter");
        assert!(counters[2].poll(&mut last).is_ready());
        assert_eq!(event.inner.waiters.lock().slots_in_use(), 0);
    }

    #[test]
    fn a_waiter_dropped_after_set_leaves_the_new_list_alone() {
        let event = Event::new();
        let c = Counter::new();
        let mut first = event.wait();
        let mut second = event.wait();
        assert!(c.poll(&mut first).is_pending());
        assert!(c.poll(&mut second).is_pending());
        event.set();
        drop(second);
        drop(first);
        assert_eq!(event.inner.waiters.lock().slots_in_use(), 0);
        assert!(c.poll(&mut event.wait()).is_ready());
    }

    #[test]
    fn dropped_waiter_is_forgotten() {
        let event = Event::new();
        let c = Counter::new();
        let mut w = event.wait();
        assert!(c.poll(&mut w).is_pending());
        drop(w);
        assert!(event.inner.waiters.lock().is_empty());
        event.set();
        assert_eq!(c.wakes(), 0);
    }

    #[test]
    fn across_threads() {
        for _ in 0..100 {
            let event = Event::new();
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let event = event.clone();
                    std::thread::spawn(move || futures_lite::future::block_on(event.wait()))
                })
                .collect();
            event.set();
            for h in handles {
                h.join().unwrap();
            }
        }
    }
}
