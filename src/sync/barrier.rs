//! [`Barrier`]: tasks wait until a fixed number of them have arrived.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::sync::Mutex;
use crate::sync::waiters::{WaiterId, WaiterList, WakeList};

/// Lets `n` tasks wait for each other: each calls [`wait`](Barrier::wait), and all of
/// them continue once the `n`-th arrives.
///
/// The task whose arrival completes a round is its *leader*
/// ([`BarrierWaitResult::is_leader`]), exactly one per round. The barrier then starts
/// over, ready for the next `n` arrivals.
///
/// Waiting is cancel-safe: a task whose wait is dropped before the round completes has
/// not arrived, so the round still needs `n` live waiters (a cancelled task never
/// releases the others early). A wait dropped after its round completed changes
/// nothing: the others are released anyway. `Barrier::new(0)` behaves like
/// `Barrier::new(1)`: every wait completes at once, as a leader. Share a `Barrier` by
/// reference or in an `Arc`.
///
/// ```
/// use std::sync::Arc;
/// use pride::sync::Barrier;
///
/// let barrier = Arc::new(Barrier::new(3));
/// let threads: Vec<_> = (0..3)
///     .map(|_| {
///         let barrier = barrier.clone();
///         std::thread::spawn(move || futures_lite::future::block_on(barrier.wait()))
///     })
///     .collect();
/// let leaders = threads
///     .into_iter()
///     .map(|t| t.join().unwrap())
///     .filter(|r| r.is_leader())
///     .count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    n: usize,
    waiters: Mutex<WaiterList<(), ()>>,
}

impl Barrier {
    /// A barrier for rounds of `n` tasks (`0` counts as `1`).
    pub fn new(n: usize) -> Barrier {
        Barrier {
            n: n.max(1),
            waiters: Mutex::new(WaiterList::new()),
        }
    }

    /// Arrives at the barrier and waits until the round is complete.
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            step: Step::Start,
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .field("waiting", &self.waiters.lock().len())
            .finish()
    }
}

/// What [`Barrier::wait`] returns once the round is complete.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// pride::run(async {
///     let barrier = Arc::new(pride::sync::Barrier::new(3));
///     let leaders = Arc::new(AtomicUsize::new(0));
///     pride::task_group(async |tg| {
///         for _ in 0..3 {
///             let (barrier, leaders) = (barrier.clone(), leaders.clone());
///             tg.start_soon(async move {
///                 if barrier.wait().await.is_leader() {
///                     leaders.fetch_add(1, Ordering::Relaxed);
///                 }
///             });
///         }
///     })
///     .await
///     .unwrap();
///     assert_eq!(leaders.load(Ordering::Relaxed), 1); // exactly one per round
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Whether this task completed the round (exactly one per round).
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

/// The future of [`Barrier::wait`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    step: Step,
}

#[derive(Debug)]
enum Step {
    Start,
    Waiting(WaiterId),
    Done,
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let this = &mut *self;
            let mut wakers = WakeList::new();
            let mut waiters = this.barrier.waiters.lock();
            let poll = match &this.step {
                Step::Start if waiters.len() + 1 == this.barrier.n => {
                    // The last arrival: release the round, which empties the list for the
                    // next one.
                    waiters.grant_all(|()| (), &mut wakers);
                    Poll::Ready(BarrierWaitResult { leader: true })
                }
                Step::Start => {
                    this.step = Step::Waiting(waiters.push_back((), cx.waker()));
                    Poll::Pending
                }
                Step::Waiting(id) => waiters
                    .poll(id, cx.waker(), &mut wakers)
                    .map(|()| BarrierWaitResult { leader: false }),
                Step::Done => panic!("pride: Barrier::wait polled after completion"),
            };
            match poll {
                Poll::Ready(_) => this.step = Step::Done,
                Poll::Pending => crate::debug::task::waits(cx, crate::debug::task::WaitOn::Event),
            }
            drop(waiters);
            wakers.wake();
            poll
        })
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if let Step::Waiting(id) = std::mem::replace(&mut self.step, Step::Done) {
            // Queued: it leaves the round. Granted: the round is over; nothing to pass on.
            let mut wakers = WakeList::new();
            let _ = self.barrier.waiters.lock().leave(id, &mut wakers);
            wakers.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Counter;

    #[test]
    fn the_last_arrival_leads_and_releases_the_round() {
        let barrier = Barrier::new(3);
        let (c1, c2, c3) = (Counter::new(), Counter::new(), Counter::new());
        let (mut w1, mut w2, mut w3) = (barrier.wait(), barrier.wait(), barrier.wait());
        assert!(c1.poll(&mut w1).is_pending());
        assert!(c2.poll(&mut w2).is_pending());
        assert_eq!(
            c3.poll(&mut w3),
            Poll::Ready(BarrierWaitResult { leader: true })
        );
        assert_eq!((c1.wakes(), c2.wakes()), (1, 1));
        assert_eq!(
            c1.poll(&mut w1),
            Poll::Ready(BarrierWaitResult { leader: false })
        );
        assert_eq!(
            c2.poll(&mut w2),
            Poll::Ready(BarrierWaitResult { leader: false })
        );
        // The next round starts empty.
        assert!(c1.poll(&mut barrier.wait()).is_pending());
    }

    #[test]
    fn a_cancelled_waiter_leaves_the_round() {
        let barrier = Barrier::new(2);
        let c = Counter::new();
        let mut w1 = barrier.wait();
        assert!(c.poll(&mut w1).is_pending());
        drop(w1);
        // The round still needs two live waiters.
        let mut w2 = barrier.wait();
        assert!(c.poll(&mut w2).is_pending());
        assert!(c.poll(&mut barrier.wait()).is_ready());
        assert!(c.poll(&mut w2).is_ready());
    }

    #[test]
    fn zero_counts_as_one() {
        let barrier = Barrier::new(0);
        let c = Counter::new();
        assert_eq!(
            c.poll(&mut barrier.wait()),
            Poll::Ready(BarrierWaitResult { leader: true })
        );
    }

    fn _assert_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Barrier>();
        send_sync::<BarrierWait<'static>>();
    }
}
