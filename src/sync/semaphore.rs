//! [`Semaphore`]: a fair counting semaphore; also the engine under [`Lock`](super::Lock).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
// The owned variants take the caller's `Arc`, which is always std's (a loom `Arc`
// cannot be a method receiver); the semaphore's own state goes through the facade.
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

use crate::loom::sync::{Mutex, MutexGuard};
use crate::sync::waiters::{Removed, WaiterId, WaiterList, WakeList};

/// A fair async counting semaphore.
///
/// [`acquire`](Semaphore::acquire) waits for a permit and returns a
/// [`SemaphorePermit`] that gives it back when dropped. Waiters are served strictly in
/// arrival order: a request for many permits at the head of the line blocks smaller
/// requests behind it (so large requests cannot starve), and `try_acquire` never jumps
/// the line. A release wakes only the waiters whose requests it satisfies. Waiting is
/// cancel-safe: permits handed to a waiter that is dropped before it sees them go to
/// the next in line.
///
/// A semaphore is shared by reference or in an `Arc`; the `*_owned` methods take an
/// `Arc<Semaphore>` and return permits that own a clone of it (for `'static` tasks).
///
/// A semaphore has at most `usize::MAX` permits in all, free and held together:
/// [`add_permits`](Semaphore::add_permits) panics rather than go past that, so giving
/// held permits back never overflows (dropping a permit never panics).
///
/// # Example
///
/// ```
/// use pride::sync::Semaphore;
///
/// futures_lite::future::block_on(async {
///     let sem = Semaphore::new(2);
///     let a = sem.acquire().await;
///     let _b = sem.acquire().await;
///     assert!(sem.try_acquire().is_none());
///     drop(a);
///     assert_eq!(sem.available_permits(), 1);
/// });
/// ```
#[doc(alias = "BoundedSemaphore")]
pub struct Semaphore {
    state: Mutex<State>,
}

struct State {
    /// The free permits.
    permits: usize,
    /// Every permit: the free ones, those held and those granted to a waiter that has
    /// not yet seen them. Only `add_permits` raises it and only `forget` lowers it, so
    /// giving permits back never takes `permits` past it.
    total: usize,
    /// Requests are permit counts; a grant is the permits handed over.
    waiters: WaiterList<usize, usize>,
}

impl State {
    /// Returns `n` permits (counted in `total`) and hands them to the waiters at the
    /// front that now fit.
    fn release(&mut self, n: usize, wakers: &mut WakeList) {
        self.permits += n;
        while let Some(&need) = self.waiters.front() {
            if need > self.permits {
                break;
            }
            self.permits -= need;
            let waker = self.waiters.grant_front(|need| need);
            wakers.push(waker.expect("front waiter exists"));
        }
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> Self {
        Self {
            state: Mutex::new(State {
                permits,
                total: permits,
                waiters: WaiterList::new(),
            }),
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The number of permits free right now.
    pub fn available_permits(&self) -> usize {
        self.lock_state().permits
    }

    /// Adds `n` permits, waking the waiters they satisfy.
    ///
    /// # Panics
    ///
    /// If the semaphore would have more than `usize::MAX` permits in all, counting the
    /// free ones and those held (by permits and granted waiters). Nothing is added
    /// then.
    ///
    /// ```
    /// let semaphore = pride::Semaphore::new(usize::MAX);
    /// let held = semaphore.try_acquire().unwrap();
    /// let add = std::panic::AssertUnwindSafe(|| semaphore.add_permits(1));
    /// assert!(std::panic::catch_unwind(add).is_err()); // 1 held, usize::MAX - 1 free
    /// drop(held);
    /// assert_eq!(semaphore.available_permits(), usize::MAX);
    /// ```
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        let mut wakers = WakeList::new();
        {
            let mut state = self.lock_state();
            let Some(total) = state.total.checked_add(n) else {
                let total = state.total;
                drop(state);
                panic!(
                    "pride: Semaphore::add_permits({n}) would take the semaphore past \
                     usize::MAX permits in all (it has {total}, free and held)"
                );
            };
            state.total = total;
            state.release(n, &mut wakers);
        }
        wakers.wake();
    }

    fn release(&self, n: usize) {
        let mut wakers = WakeList::new();
        self.lock_state().release(n, &mut wakers);
        wakers.wake();
    }

    /// Waits for one permit.
    pub fn acquire(&self) -> AcquireFuture<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits, taken all at once. A request for more permits than the
    /// semaphore will ever have waits forever (and blocks everyone behind it).
    pub fn acquire_many(&self, n: usize) -> AcquireFuture<'_> {
        AcquireFuture {
            sem: self,
            wait: PermitWait::new(n, "Semaphore::acquire"),
        }
    }

    /// Takes one permit if one is free and nobody is waiting.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is waiting.
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        // Not `then_some`: a permit built eagerly would be dropped, releasing permits
        // that were never taken.
        self.try_take(n).then(|| SemaphorePermit { sem: self, n })
    }

    /// Waits for one permit that owns a clone of the `Arc`.
    pub fn acquire_owned(self: &StdArc<Self>) -> AcquireOwnedFuture {
        self.acquire_many_owned(1)
    }

    /// Waits for `n` permits that own a clone of the `Arc`.
    pub fn acquire_many_owned(self: &StdArc<Self>, n: usize) -> AcquireOwnedFuture {
        AcquireOwnedFuture {
            sem: StdArc::clone(self),
            wait: PermitWait::new(n, "Semaphore::acquire_owned"),
        }
    }

    /// Takes one permit owning a clone of the `Arc`, if one is free and nobody waits.
    pub fn try_acquire_owned(self: &StdArc<Self>) -> Option<OwnedSemaphorePermit> {
        self.try_take(1).then(|| OwnedSemaphorePermit {
            sem: StdArc::clone(self),
            n: 1,
        })
    }

    /// The barging-free fast path shared by `try_*` and the first poll of a wait.
    pub(crate) fn try_take(&self, n: usize) -> bool {
        let mut state = self.lock_state();
        if n == 0 || (state.waiters.is_empty() && state.permits >= n) {
            state.permits -= n;
            true
        } else {
            false
        }
    }

    /// Gives back `n` permits that a guard held.
    pub(crate) fn release_permits(&self, n: usize) {
        self.release(n);
    }

    /// Drops `n` held permits for good: the semaphore shrinks.
    fn forget_permits(&self, n: usize) {
        self.lock_state().total -= n;
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock_state();
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// One wait for `n` permits: the part of every acquire future that talks to the
/// semaphore. Its owner must call [`cancel`](PermitWait::cancel) when dropped.
#[derive(Debug)]
pub(crate) struct PermitWait {
    n: usize,
    step: Step,
    /// The call that made the future (`"Lock::lock"`), for the misuse panic.
    call: &'static str,
}

#[derive(Debug)]
enum Step {
    Start,
    Waiting(WaiterId),
    Done,
}

impl PermitWait {
    pub(crate) fn new(n: usize, call: &'static str) -> Self {
        Self {
            n,
            step: Step::Start,
            call,
        }
    }

    /// Ready once the `n` permits belong to the caller.
    pub(crate) fn poll(&mut self, sem: &Semaphore, cx: &mut Context<'_>) -> Poll<usize> {
        crate::runtime::coop::poll_proceed(cx, |cx| {
            let mut wakers = WakeList::new();
            let mut state = sem.lock_state();
            let poll = match &self.step {
                Step::Start => {
                    if self.n == 0 || (state.waiters.is_empty() && state.permits >= self.n) {
                        state.permits -= self.n;
                        self.step = Step::Done;
                        return Poll::Ready(self.n);
                    }
                    self.step = Step::Waiting(state.waiters.push_back(self.n, cx.waker()));
                    Poll::Pending
                }
                Step::Waiting(id) => state.waiters.poll(id, cx.waker(), &mut wakers),
                Step::Done => panic!("pride: {} future polled after it completed", self.call),
            };
            match poll {
                Poll::Ready(_) => self.step = Step::Done,
                Poll::Pending => {
                    crate::debug::task::waits(cx, crate::debug::task::WaitOn::Semaphore)
                }
            }
            drop(state);
            wakers.wake();
            poll
        })
    }

    /// Leaves the line; permits granted but never seen go to the next waiters.
    pub(crate) fn cancel(&mut self, sem: &Semaphore) {
        let Step::Waiting(id) = std::mem::replace(&mut self.step, Step::Done) else {
            return;
        };
        let mut wakers = WakeList::new();
        {
            let mut state = sem.lock_state();
            let returned = match state.waiters.leave(id, &mut wakers) {
                Removed::Granted(n) => n,
                // A large request leaving the head may let smaller ones through.
                Removed::Queued(_) => 0,
            };
            state.release(returned, &mut wakers);
        }
        wakers.wake();
    }
}

/// The future of [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct AcquireFuture<'a> {
    sem: &'a Semaphore,
    wait: PermitWait,
}

impl<'a> Future for AcquireFuture<'a> {
    type Output = SemaphorePermit<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit<'a>> {
        let sem = self.sem;
        self.wait.poll(sem, cx).map(|n| SemaphorePermit { sem, n })
    }
}

impl Drop for AcquireFuture<'_> {
    fn drop(&mut self) {
        self.wait.cancel(self.sem);
    }
}

/// The future of [`Semaphore::acquire_owned`] and [`Semaphore::acquire_many_owned`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct AcquireOwnedFuture {
    sem: StdArc<Semaphore>,
    wait: PermitWait,
}

impl Future for AcquireOwnedFuture {
    type Output = OwnedSemaphorePermit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OwnedSemaphorePermit> {
        let this = &mut *self;
        this.wait.poll(&this.sem, cx).map(|n| OwnedSemaphorePermit {
            sem: StdArc::clone(&this.sem),
            n,
        })
    }
}

impl Drop for AcquireOwnedFuture {
    fn drop(&mut self) {
        self.wait.cancel(&self.sem);
    }
}

/// Permits borrowed from a [`Semaphore`]; they go back when this is dropped.
///
/// ```
/// pride::run(async {
///     let semaphore = pride::Semaphore::new(2);
///     let permit = semaphore.acquire().await;
///     assert_eq!(semaphore.available_permits(), 1);
///     drop(permit);
///     assert_eq!(semaphore.available_permits(), 2);
/// });
/// ```
#[must_use = "dropping a permit releases it at once"]
#[derive(Debug)]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    ///
    /// ```
    /// let semaphore = pride::Semaphore::new(5);
    /// let permit = semaphore.try_acquire_many(3).unwrap();
    /// assert_eq!(permit.num_permits(), 3);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Drops the permit without giving the permits back: the semaphore shrinks.
    ///
    /// ```
    /// let semaphore = pride::Semaphore::new(2);
    /// semaphore.try_acquire().unwrap().forget();
    /// assert_eq!(semaphore.available_permits(), 1); // one permit is gone for good
    /// ```
    pub fn forget(mut self) {
        self.sem.forget_permits(std::mem::take(&mut self.n));
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.release_permits(self.n);
        }
    }
}

/// Permits borrowed from an `Arc<Semaphore>`; they go back when this is dropped.
///
/// ```
/// use std::sync::Arc;
///
/// pride::run(async {
///     let semaphore = Arc::new(pride::Semaphore::new(1));
///     pride::task_group(async |tg| {
///         let permit = semaphore.acquire_owned().await;
///         // An owned permit can move into a child and is released when it ends.
///         tg.start_soon(async move {
///             let _permit = permit;
///         });
///     })
///     .await
///     .unwrap();
///     assert_eq!(semaphore.available_permits(), 1);
/// });
/// ```
#[must_use = "dropping a permit releases it at once"]
#[derive(Debug)]
pub struct OwnedSemaphorePermit {
    sem: StdArc<Semaphore>,
    n: usize,
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let semaphore = Arc::new(pride::Semaphore::new(1));
    /// let permit = semaphore.try_acquire_owned().unwrap();
    /// assert_eq!(permit.num_permits(), 1);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.n
    }

    /// Drops the permit without giving the permits back: the semaphore shrinks.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let semaphore = Arc::new(pride::Semaphore::new(1));
    /// semaphore.try_acquire_owned().unwrap().forget();
    /// assert_eq!(semaphore.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.sem.forget_permits(std::mem::take(&mut self.n));
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.release_permits(self.n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Counter;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn large_request_at_head_blocks_smaller_ones() {
        let sem = Semaphore::new(1);
        let (cb, cs) = (Counter::new(), Counter::new());
        let held = sem.try_acquire().unwrap();
        let mut big = sem.acquire_many(2);
        let mut small = sem.acquire();
        assert!(cb.poll(&mut big).is_pending());
        assert!(cs.poll(&mut small).is_pending());
        sem.add_permits(1);
        // One permit free, but the head wants two: nobody is woken, nobody barges.
        assert_eq!((cb.wakes(), cs.wakes()), (0, 0));
        assert!(sem.try_acquire().is_none());
        drop(held);
        assert_eq!((cb.wakes(), cs.wakes()), (1, 0));
        let big = match cb.poll(&mut big) {
            Poll::Ready(p) => p,
            Poll::Pending => panic!("big request should have its permits"),
        };
        assert_eq!(big.num_permits(), 2);
        drop(big);
        assert_eq!(cs.wakes(), 1);
        assert!(cs.poll(&mut small).is_ready());
        assert_eq!(sem.available_permits(), 2);
    }

    #[test]
    fn cancelled_head_lets_the_rest_through() {
        let sem = Semaphore::new(1);
        let (cb, cs) = (Counter::new(), Counter::new());
        let mut big = sem.acquire_many(5);
        let mut small = sem.acquire();
        assert!(cb.poll(&mut big).is_pending());
        assert!(cs.poll(&mut small).is_pending());
        drop(big);
        assert_eq!(cs.wakes(), 1);
        assert!(cs.poll(&mut small).is_ready());
    }

    #[test]
    fn granted_then_dropped_passes_permits_on() {
        let sem = Semaphore::new(0);
        let (ca, cb) = (Counter::new(), Counter::new());
        let mut a = sem.acquire();
        let mut b = sem.acquire();
        assert!(ca.poll(&mut a).is_pending());
        assert!(cb.poll(&mut b).is_pending());
        sem.add_permits(1);
        assert_eq!((ca.wakes(), cb.wakes()), (1, 0));
        drop(a);
        assert_eq!(cb.wakes(), 1);
        assert!(cb.poll(&mut b).is_ready());
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn release_wakes_only_what_fits() {
        let sem = Semaphore::new(0);
        let counters: Vec<_> = (0..4).map(|_| Counter::new()).collect();
        let mut futs: Vec<_> = (0..4).map(|_| sem.acquire()).collect();
        for (c, f) in counters.iter().zip(&mut futs) {
            assert!(c.poll(f).is_pending());
        }
        sem.add_permits(2);
        let wakes: Vec<_> = counters.iter().map(Counter::wakes).collect();
        assert_eq!(wakes, vec![1, 1, 0, 0]);
    }

    #[test]
    fn never_more_holders_than_permits() {
        let sem = StdArc::new(Semaphore::new(3));
        let inside = StdArc::new(AtomicUsize::new(0));
        let high = StdArc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (sem, inside, high) = (sem.clone(), inside.clone(), high.clone());
                std::thread::spawn(move || {
                    for _ in 0..if cfg!(miri) { 10 } else { 500 } {
                        let _p = futures_lite::future::block_on(sem.acquire_owned());
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        high.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(high.load(Ordering::SeqCst) <= 3);
        assert_eq!(sem.available_permits(), 3);
    }
}
