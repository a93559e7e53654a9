//! [`CapacityLimiter`]: AnyIO's token pool with borrower bookkeeping.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::sync::BorrowError;
use crate::sync::waiters::{Removed, WaiterId, WaiterList, WakeList};

/// Who holds a [`CapacityLimiter`] token.
///
/// AnyIO identifies borrowers by object (by default the current task). pride's
/// primitives know nothing of tasks, so a borrower is an id the caller chooses: a
/// worker index, a connection id, anything unique among the borrowers of one limiter.
/// [`CapacityLimiter::acquire`] needs no borrower at all: each [`CapacityToken`] is a
/// borrower of its own (drawn from a separate id space, so it never clashes with
/// caller-chosen ids).
///
/// ```
/// use pride::sync::{Borrower, CapacityLimiter};
///
/// let limiter = CapacityLimiter::new(2);
/// let connection = Borrower::new(42); // e.g. a connection id
/// limiter.try_acquire_on_behalf_of(connection).unwrap();
/// assert_eq!(limiter.borrowed_tokens(), 1);
/// limiter.release_on_behalf_of(connection).unwrap();
/// assert_eq!(limiter.borrowed_tokens(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Borrower(u64);

impl Borrower {
    /// The borrower named `id`.
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    /// The id this borrower was made from.
    pub const fn id(self) -> u64 {
        self.0
    }
}

/// Key of a borrower inside a limiter: caller-chosen or anonymous (one per token).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Named(Borrower),
    Token(u64),
}

/// A pool of tokens limiting how many borrowers work at once; like a semaphore, but it
/// knows who holds each token, and its size can change while in use.
///
/// Each borrower holds at most one token: acquiring a second one for the same
/// [`Borrower`] is an error, and so is releasing a token the borrower does not hold.
/// [`set_total_tokens`](CapacityLimiter::set_total_tokens) may grow the pool (waking
/// the waiters that now fit) or shrink it (holders keep their tokens; new borrowers wait
/// until the number borrowed falls under the new total). Waiters are served FIFO and
/// waiting is cancel-safe, like every wait in this module.
///
/// `CapacityLimiter` is a cheap handle: `clone()` shares the same pool.
///
/// # Example
///
/// ```
/// use pride::sync::{Borrower, CapacityLimiter};
///
/// futures_lite::future::block_on(async {
///     let limiter = CapacityLimiter::new(2);
///     let token = limiter.acquire().await;
///     let worker = Borrower::new(7);
///     limiter.acquire_on_behalf_of(worker).await.unwrap();
///     assert_eq!(limiter.available_tokens(), 0);
///     assert!(limiter.try_acquire().is_none());
///     limiter.release_on_behalf_of(worker).unwrap();
///     assert!(limiter.release_on_behalf_of(worker).is_err());
///     drop(token);
///     assert_eq!(limiter.borrowed_tokens(), 0);
/// });
/// ```
#[derive(Clone)]
pub struct CapacityLimiter {
    state: Arc<Mutex<State>>,
}

/// A token is free, borrowed (its borrower has it) or in flight (granted to a waiting
/// acquire that has not yet seen it). An in-flight token belongs to the acquire future:
/// it becomes borrowed when the future observes it, and goes back to the pool if the
/// future is dropped first. Until then its borrower holds nothing and cannot release.
struct State {
    total: usize,
    /// Borrowers that hold a token (their acquire completed).
    borrowed: HashSet<Key>,
    /// Borrowers with an acquire in `waiters`, queued or granted a token in flight: a
    /// second concurrent acquire for them is refused.
    waiting: HashSet<Key>,
    /// Queued acquires; the number granted is the number of tokens in flight.
    waiters: WaiterList<Key, Key>,
    next_token: u64,
}

impl State {
    /// Tokens borrowed or in flight.
    fn taken(&self) -> usize {
        self.borrowed.len() + self.waiters.granted()
    }

    fn has_free(&self) -> bool {
        self.taken() < self.total
    }

    /// Hands free tokens to the waiters at the front.
    fn grant(&mut self, wakers: &mut WakeList) {
        while self.has_free() {
            let Some(waker) = self.waiters.grant_front(|key| key) else {
                break;
            };
            wakers.push(waker);
        }
    }

    /// An acquire observed its in-flight token: its borrower now holds it.
    fn collect(&mut self, key: Key) {
        self.waiting.remove(&key);
        self.borrowed.insert(key);
    }

    fn release(&mut self, key: Key, wakers: &mut WakeList) -> bool {
        let held = self.borrowed.remove(&key);
        self.grant(wakers);
        held
    }

    fn try_borrow(&mut self, key: Key) -> Result<(), BorrowError> {
        self.check_not_borrowing(key)?;
        if self.waiters.is_empty() && self.has_free() {
            self.borrowed.insert(key);
            Ok(())
        } else {
            Err(BorrowError::WouldBlock)
        }
    }

    fn check_not_borrowing(&self, key: Key) -> Result<(), BorrowError> {
        match key {
            Key::Named(b) if self.borrowed.contains(&key) || self.waiting.contains(&key) => {
                Err(BorrowError::AlreadyBorrowing(b))
            }
            _ => Ok(()),
        }
    }

    fn anonymous(&mut self) -> Key {
        self.next_token += 1;
        Key::Token(self.next_token)
    }
}

impl CapacityLimiter {
    /// A limiter with `total_tokens` tokens.
    ///
    /// # Panics
    ///
    /// If `total_tokens` is 0 (as in AnyIO, a limiter has at least one token).
    #[track_caller]
    pub fn new(total_tokens: usize) -> Self {
        assert!(
            total_tokens >= 1,
            "pride: a CapacityLimiter needs at least one token"
        );
        Self {
            state: Arc::new(Mutex::new(State {
                total: total_tokens,
                borrowed: HashSet::new(),
                waiting: HashSet::new(),
                waiters: WaiterList::new(),
                next_token: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The size of the pool.
    pub fn total_tokens(&self) -> usize {
        self.lock().total
    }

    /// Resizes the pool. Growing it wakes the waiters that now fit; shrinking it takes
    /// no token away from its holder.
    ///
    /// # Panics
    ///
    /// If `total_tokens` is 0.
    #[track_caller]
    pub fn set_total_tokens(&self, total_tokens: usize) {
        assert!(
            total_tokens >= 1,
            "pride: a CapacityLimiter needs at least one token"
        );
        let mut wakers = WakeList::new();
        {
            let mut state = self.lock();
            state.total = total_tokens;
            state.grant(&mut wakers);
        }
        wakers.wake();
    }

    /// How many tokens are taken: held, or handed to a waiting acquire that has not
    /// yet completed.
    pub fn borrowed_tokens(&self) -> usize {
        self.lock().taken()
    }

    /// How many tokens are free (0 while the pool is shrunk below what is borrowed).
    pub fn available_tokens(&self) -> usize {
        let state = self.lock();
        state.total.saturating_sub(state.taken())
    }

    /// Waits for a token, held by the returned [`CapacityToken`] until it is dropped.
    pub fn acquire(&self) -> AcquireTokenFuture<'_> {
        AcquireTokenFuture {
            wait: BorrowWait::new(self, None),
        }
    }

    /// Takes a token if one is free and nobody is waiting.
    pub fn try_acquire(&self) -> Option<CapacityToken> {
        let mut state = self.lock();
        let key = state.anonymous();
        state.try_borrow(key).ok()?;
        Some(CapacityToken {
            limiter: self.clone(),
            key,
        })
    }

    /// Waits for a token for `borrower`, who must give it back with
    /// [`release_on_behalf_of`](CapacityLimiter::release_on_behalf_of).
    ///
    /// Fails at once with [`BorrowError::AlreadyBorrowing`] if `borrower` already holds
    /// a token or is already waiting for one.
    pub fn acquire_on_behalf_of(&self, borrower: Borrower) -> AcquireOnBehalfFuture<'_> {
        AcquireOnBehalfFuture {
            wait: BorrowWait::new(self, Some(Key::Named(borrower))),
        }
    }

    /// Takes a token for `borrower` if one is free and nobody is waiting.
    pub fn try_acquire_on_behalf_of(&self, borrower: Borrower) -> Result<(), BorrowError> {
        self.lock().try_borrow(Key::Named(borrower))
    }

    /// Gives back the token `borrower` holds; [`BorrowError::NotBorrowing`] if it holds
    /// none.
    ///
    /// A borrower holds a token once its acquire has completed. A token handed to an
    /// acquire that has not yet completed is that acquire's: releasing on the
    /// borrower's behalf fails until then, and dropping the acquire gives the token
    /// back to the pool.
    pub fn release_on_behalf_of(&self, borrower: Borrower) -> Result<(), BorrowError> {
        let mut wakers = WakeList::new();
        let held = self.lock().release(Key::Named(borrower), &mut wakers);
        wakers.wake();
        if held {
            Ok(())
        } else {
            Err(BorrowError::NotBorrowing(borrower))
        }
    }

    fn release(&self, key: Key) {
        let mut wakers = WakeList::new();
        self.lock().release(key, &mut wakers);
        wakers.wake();
    }
}

impl fmt::Debug for CapacityLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("CapacityLimiter")
            .field("total_tokens", &state.total)
            .field("borrowed_tokens", &state.taken())
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// A token of a [`CapacityLimiter`], given back when dropped.
///
/// ```
/// let limiter = pride::CapacityLimiter::new(1);
/// let token = limiter.try_acquire().unwrap();
/// assert_eq!(limiter.available_tokens(), 0);
/// drop(token); // gives the token back
/// assert_eq!(limiter.available_tokens(), 1);
/// ```
#[must_use = "dropping a token releases it at once"]
pub struct CapacityToken {
    limiter: CapacityLimiter,
    key: Key,
}

impl Drop for CapacityToken {
    fn drop(&mut self) {
        self.limiter.release(self.key);
    }
}

impl fmt::Debug for CapacityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapacityToken").finish_non_exhaustive()
    }
}

/// One wait for a token, shared by both acquire futures.
struct BorrowWait<'a> {
    limiter: &'a CapacityLimiter,
    /// `None` until the first poll for an anonymous token.
    key: Option<Key>,
    id: Option<WaiterId>,
    done: bool,
}

impl<'a> BorrowWait<'a> {
    fn new(limiter: &'a CapacityLimiter, key: Option<Key>) -> Self {
        Self {
            limiter,
            key,
            id: None,
            done: false,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Key, BorrowError>> {
        assert!(
            !self.done,
            "pride: a `CapacityLimiter::acquire` future polled after it completed"
        );
        crate::runtime::coop::poll_proceed(cx, |cx| self.poll_borrow(cx))
    }

    /// The wait's poll itself; [`poll`](Self::poll) runs it under the cooperative
    /// budget.
    fn poll_borrow(&mut self, cx: &mut Context<'_>) -> Poll<Result<Key, BorrowError>> {
        let mut wakers = WakeList::new();
        let mut state = self.limiter.lock();
        let result = match &self.id {
            Some(id) => match state.waiters.poll(id, cx.waker(), &mut wakers) {
                Poll::Ready(key) => {
                    self.id = None;
                    state.collect(key);
                    Ok(key)
                }
                Poll::Pending => {
                    crate::debug::task::waits(cx, crate::debug::task::WaitOn::Semaphore);
                    drop(state);
                    wakers.wake();
                    return Poll::Pending;
                }
            },
            None => {
                let key = match self.key {
                    Some(key) => key,
                    None => *self.key.insert(state.anonymous()),
                };
                match state.try_borrow(key) {
                    Err(BorrowError::WouldBlock) => {
                        // Queued first: a waker whose clone panics leaves nothing behind.
                        self.id = Some(state.waiters.push_back(key, cx.waker()));
                        state.waiting.insert(key);
                        crate::debug::task::waits(cx, crate::debug::task::WaitOn::Semaphore);
                        return Poll::Pending;
                    }
                    other => other.map(|()| key),
                }
            }
        };
        self.done = true;
        Poll::Ready(result)
    }
}

impl Drop for BorrowWait<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let mut wakers = WakeList::new();
        {
            let mut state = self.limiter.lock();
            let (Removed::Queued(key) | Removed::Granted(key)) =
                state.waiters.leave(id, &mut wakers);
            state.waiting.remove(&key);
            // A token in flight to this acquire is free again: pass it on.
            state.grant(&mut wakers);
        }
        wakers.wake();
    }
}

/// The future of [`CapacityLimiter::acquire`].
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireTokenFuture<'a> {
    wait: BorrowWait<'a>,
}

impl Future for AcquireTokenFuture<'_> {
    type Output = CapacityToken;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CapacityToken> {
        let limiter = self.wait.limiter;
        self.wait.poll(cx).map(|key| CapacityToken {
            limiter: limiter.clone(),
            key: key.expect("an anonymous borrower cannot borrow twice"),
        })
    }
}

impl fmt::Debug for AcquireTokenFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireTokenFuture").finish_non_exhaustive()
    }
}

/// The future of [`CapacityLimiter::acquire_on_behalf_of`].
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireOnBehalfFuture<'a> {
    wait: BorrowWait<'a>,
}

impl Future for AcquireOnBehalfFuture<'_> {
    type Output = Result<(), BorrowError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), BorrowError>> {
        self.wait.poll(cx).map(|r| r.map(drop))
    }
}

impl fmt::Debug for AcquireOnBehalfFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOnBehalfFuture")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Counter;

    #[test]
    fn borrower_bookkeeping() {
        let limiter = CapacityLimiter::new(1);
        let (a, b) = (Borrower::new(1), Borrower::new(2));
        limiter.try_acquire_on_behalf_of(a).unwrap();
        assert_eq!(
            limiter.try_acquire_on_behalf_of(a),
            Err(BorrowError::AlreadyBorrowing(a))
        );
        assert_eq!(
            limiter.try_acquire_on_behalf_of(b),
            Err(BorrowError::WouldBlock)
        );
        let c = Counter::new();
        let mut wait_a = limiter.acquire_on_behalf_of(a);
        assert_eq!(
            c.poll(&mut wait_a),
            Poll::Ready(Err(BorrowError::AlreadyBorrowing(a)))
        );
        let mut wait_b = limiter.acquire_on_behalf_of(b);
        assert!(c.poll(&mut wait_b).is_pending());
        // b is waiting: a second wait for b is refused.
        let mut again = limiter.acquire_on_behalf_of(b);
        assert_eq!(
            c.poll(&mut again),
            Poll::Ready(Err(BorrowError::AlreadyBorrowing(b)))
        );
        assert_eq!(
            limiter.release_on_behalf_of(b),
            Err(BorrowError::NotBorrowing(b))
        );
        limiter.release_on_behalf_of(a).unwrap();
        assert_eq!(c.wakes(), 1);
        assert_eq!(c.poll(&mut wait_b), Poll::Ready(Ok(())));
        assert_eq!(limiter.borrowed_tokens(), 1);
        limiter.release_on_behalf_of(b).unwrap();
        assert_eq!(limiter.available_tokens(), 1);
    }

    #[test]
    fn resizing() {
        let limiter = CapacityLimiter::new(2);
        let t1 = limiter.try_acquire().unwrap();
        let t2 = limiter.try_acquire().unwrap();
        limiter.set_total_tokens(1);
        assert_eq!(limiter.available_tokens(), 0);
        let (c1, c2) = (Counter::new(), Counter::new());
        let mut w1 = limiter.acquire();
        let mut w2 = limiter.acquire();
        assert!(c1.poll(&mut w1).is_pending());
        assert!(c2.poll(&mut w2).is_pending());
        drop(t1);
        // Still one borrowed of a total of one: nobody may proceed.
        assert_eq!((c1.wakes(), c2.wakes()), (0, 0));
        limiter.set_total_tokens(3);
        assert_eq!((c1.wakes(), c2.wakes()), (1, 1));
        let Poll::Ready(t3) = c1.poll(&mut w1) else {
            panic!("w1 has a token")
        };
        let Poll::Ready(t4) = c2.poll(&mut w2) else {
            panic!("w2 has a token")
        };
        assert_eq!(limiter.borrowed_tokens(), 3);
        drop((t2, t3, t4));
        assert_eq!(limiter.borrowed_tokens(), 0);
    }

    #[test]
    fn granted_then_dropped_passes_token_on() {
        let limiter = CapacityLimiter::new(1);
        let held = limiter.try_acquire().unwrap();
        let (c1, c2) = (Counter::new(), Counter::new());
        let mut w1 = limiter.acquire_on_behalf_of(Borrower::new(1));
        let mut w2 = limiter.acquire();
        assert!(c1.poll(&mut w1).is_pending());
        assert!(c2.poll(&mut w2).is_pending());
        drop(held);
        assert_eq!((c1.wakes(), c2.wakes()), (1, 0));
        drop(w1);
        assert_eq!(c2.wakes(), 1);
        let Poll::Ready(token) = c2.poll(&mut w2) else {
            panic!("token passed on")
        };
        assert_eq!(limiter.borrowed_tokens(), 1);
        // Borrower 1 never saw its token, so it holds none.
        assert!(limiter.release_on_behalf_of(Borrower::new(1)).is_err());
        drop(token);
        assert_eq!(limiter.borrowed_tokens(), 0);
    }

    #[test]
    #[should_panic(expected = "at least one token")]
    fn zero_tokens_panics() {
        let _ = CapacityLimiter::new(0);
    }
}
