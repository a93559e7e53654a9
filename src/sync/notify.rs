//! [`Notify`]: wake one waiting task, or all of them, without sharing data.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::sync::Mutex;
use crate::sync::waiters::{Removed, WaiterId, WaiterList, WakeList};

/// Wakes waiting tasks on demand: the building block for "something changed, look
/// again" signals between tasks.
///
/// [`notified`](Notify::notified) returns a future that completes when the task is
/// notified. [`notify_one`](Notify::notify_one) wakes the oldest waiter, or, if nobody
/// waits, leaves one permit that the next `notified()` consumes at once (permits do not
/// add up: there is at most one). [`notify_waiters`](Notify::notify_waiters) wakes
/// every waiter and leaves no permit; a [`Notified`] counts as a waiter from the moment
/// it is *created*, so this pattern cannot miss a wake-up:
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use pride::sync::Notify;
///
/// let notify = Notify::new();
/// let ready = AtomicBool::new(false);
/// futures_lite::future::block_on(async {
///     let notified = notify.notified(); // registered now...
///     std::thread::scope(|s| {
///         s.spawn(|| {
///             ready.store(true, Ordering::SeqCst);
///             notify.notify_waiters();
///         });
///     });
///     if !ready.load(Ordering::SeqCst) {
///         notified.await; // ...so a notification sent in between is not lost
///     }
/// });
/// ```
///
/// Waiting is cancel-safe: a waiter dropped after `notify_one` chose it, but before it
/// saw the notification, passes the notification on to the next waiter (or back to the
/// permit), so no `notify_one` is lost. `Notify` is shared by reference or in an `Arc`.
/// It is the counterpart of tokio's `Notify`, or of a condition variable whose lock is
/// the caller's business.
#[doc(alias = "Condition")]
#[doc(alias = "Condvar")]
pub struct Notify {
    state: Mutex<State>,
}

struct State {
    /// A `notify_one` that found nobody waiting.
    permit: bool,
    /// How many `notify_waiters` calls there have been; a [`Notified`] created before
    /// the latest one is notified by it.
    broadcasts: u64,
    waiters: WaiterList<(), Grant>,
}

/// Which notification a waiter was granted.
#[derive(Debug, Clone, Copy)]
enum Grant {
    /// A `notify_one`: if the waiter leaves unseen, it goes to someone else.
    One,
    /// A `notify_waiters`: shared by everyone waiting at the time.
    All,
}

impl State {
    /// Hands one notification to the oldest waiter, or keeps it as the permit.
    fn notify_one(&mut self, wakers: &mut WakeList) {
        match self.waiters.grant_front(|()| Grant::One) {
            Some(waker) => wakers.push(waker),
            None => self.permit = true,
        }
    }
}

impl Notify {
    /// A `Notify` with no permit and no waiters.
    pub fn new() -> Notify {
        Notify {
            state: Mutex::new(State {
                permit: false,
                broadcasts: 0,
                waiters: WaiterList::new(),
            }),
        }
    }

    /// Wakes the oldest waiter; if nobody waits, the next [`notified`](Notify::notified)
    /// completes at once. Several calls with nobody waiting leave a single permit.
    ///
    /// ```
    /// use pride::sync::Notify;
    ///
    /// let notify = Notify::new();
    /// notify.notify_one();
    /// notify.notify_one();
    /// futures_lite::future::block_on(notify.notified()); // the one stored permit
    /// ```
    pub fn notify_one(&self) {
        let mut wakers = WakeList::new();
        self.state.lock().notify_one(&mut wakers);
        wakers.wake();
    }

    /// Wakes every waiter: each future returned by [`notified`](Notify::notified)
    /// before this call completes. Leaves no permit for later ones.
    pub fn notify_waiters(&self) {
        let mut wakers = WakeList::new();
        {
            let mut state = self.state.lock();
            state.broadcasts += 1;
            state.waiters.grant_all(|()| Grant::All, &mut wakers);
        }
        wakers.wake();
    }

    /// Waits for a notification: the stored permit, a [`notify_one`](Notify::notify_one)
    /// that chooses this waiter, or a [`notify_waiters`](Notify::notify_waiters) made
    /// after this call.
    pub fn notified(&self) -> Notified<'_> {
        let broadcasts = self.state.lock().broadcasts;
        Notified {
            notify: self,
            broadcasts,
            step: Step::Start,
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Notify")
            .field("permit", &state.permit)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// `broadcasts` when this future was created.
    broadcasts: u64,
    step: Step,
}

#[derive(Debug)]
enum Step {
    Start,
    Waiting(WaiterId),
    Done,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let this = &mut *self;
            let mut wakers = WakeList::new();
            let mut state = this.notify.state.lock();
            let poll = match &this.step {
                Step::Start => {
                    if state.broadcasts != this.broadcasts || std::mem::take(&mut state.permit) {
                        Poll::Ready(())
                    } else {
                        this.step = Step::Waiting(state.waiters.push_back((), cx.waker()));
                        Poll::Pending
                    }
                }
                Step::Waiting(id) => state.waiters.poll(id, cx.waker(), &mut wakers).map(|_| ()),
                Step::Done => panic!("pride: Notified polled after completion"),
            };
            match poll {
                Poll::Ready(()) => this.step = Step::Done,
                Poll::Pending => crate::debug::task::waits(cx, crate::debug::task::WaitOn::Event),
            }
            drop(state);
            wakers.wake();
            poll
        })
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Step::Waiting(id) = std::mem::replace(&mut self.step, Step::Done) else {
            return;
        };
        let mut wakers = WakeList::new();
        {
            let mut state = self.notify.state.lock();
            if let Removed::Granted(Grant::One) = state.waiters.leave(id, &mut wakers) {
                state.notify_one(&mut wakers);
            }
        }
        wakers.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Counter;

    #[test]
    fn notify_one_wakes_only_the_oldest_waiter() {
        let notify = Notify::new();
        let (c1, c2) = (Counter::new(), Counter::new());
        let (mut n1, mut n2) = (notify.notified(), notify.notified());
        assert!(c1.poll(&mut n1).is_pending());
        assert!(c2.poll(&mut n2).is_pending());
        notify.notify_one();
        assert_eq!((c1.wakes(), c2.wakes()), (1, 0));
        assert!(c1.poll(&mut n1).is_ready());
        assert!(c2.poll(&mut n2).is_pending());
        assert!(!notify.state.lock().permit);
    }

    #[test]
    fn a_permit_is_stored_once() {
        let notify = Notify::new();
        notify.notify_one();
        notify.notify_one();
        let c = Counter::new();
        assert!(c.poll(&mut notify.notified()).is_ready());
        assert!(c.poll(&mut notify.notified()).is_pending());
    }

    #[test]
    fn notify_waiters_reaches_created_futures_and_stores_nothing() {
        let notify = Notify::new();
        let c = Counter::new();
        let mut polled = notify.notified();
        assert!(c.poll(&mut polled).is_pending());
        let mut unpolled = notify.notified();
        notify.notify_waiters();
        assert_eq!(c.wakes(), 1);
        assert!(c.poll(&mut polled).is_ready());
        assert!(c.poll(&mut unpolled).is_ready());
        // Nothing left for a future made afterwards.
        assert!(c.poll(&mut notify.notified()).is_pending());
    }

    #[test]
    fn a_cancelled_chosen_waiter_passes_the_notification_on() {
        let notify = Notify::new();
        let (c1, c2) = (Counter::new(), Counter::new());
        let (mut n1, mut n2) = (notify.notified(), notify.notified());
        assert!(c1.poll(&mut n1).is_pending());
        assert!(c2.poll(&mut n2).is_pending());
        notify.notify_one();
        drop(n1);
        assert_eq!(c2.wakes(), 1);
        assert!(c2.poll(&mut n2).is_ready());

        // With nobody else waiting, it goes back to the permit.
        let mut n3 = notify.notified();
        assert!(c1.poll(&mut n3).is_pending());
        notify.notify_one();
        drop(n3);
        assert!(notify.state.lock().permit);
    }

    #[test]
    fn a_cancelled_broadcast_waiter_passes_nothing_on() {
        let notify = Notify::new();
        let c = Counter::new();
        let mut n1 = notify.notified();
        assert!(c.poll(&mut n1).is_pending());
        notify.notify_waiters();
        drop(n1);
        assert!(!notify.state.lock().permit);
        assert!(notify.state.lock().waiters.is_empty());
    }

    fn _assert_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Notify>();
        send_sync::<Notified<'static>>();
    }
}
