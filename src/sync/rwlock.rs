//! [`RwLock`]: a fair async reader-writer lock.
//!
//! It is a [`Semaphore`] with `MAX_READERS` permits: a reader holds one, a writer all of
//! them, so the semaphore's FIFO line (a large request at the front blocks smaller ones
//! behind it) gives the lock its fairness, and its cancel-safe waits are the lock's.
//!
//! Ground rule for the `unsafe` here: the value in `RwLock::value` is touched only
//! through a live guard or through `&mut RwLock` / ownership of the lock. A write guard
//! holds all `MAX_READERS` permits and a read guard one, so a write guard excludes every
//! other guard, and read guards only ever share `&T`.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::cell::UnsafeCell;
use crate::sync::semaphore::{PermitWait, Semaphore};

/// The most read guards alive at once; a reader beyond it waits like a writer would.
const MAX_READERS: usize = u32::MAX as usize >> 3;

/// A fair async reader-writer lock: many readers or one writer at a time.
///
/// [`read`](RwLock::read) and [`write`](RwLock::write) wait in one FIFO line. A writer
/// waiting at the front holds back the readers that came after it, so writers are never
/// starved by a stream of readers, and readers queued together behind a writer are let
/// in together when it unlocks. Nobody jumps the line: `try_read` and `try_write` fail
/// while anyone is waiting. Waiting is cancel-safe: a waiter dropped after the lock was
/// handed to it passes it to the next in line. Share an `RwLock` by reference or in an
/// `Arc`.
///
/// # Example
///
/// ```
/// use pride::sync::RwLock;
///
/// futures_lite::future::block_on(async {
///     let lock = RwLock::new(vec![1]);
///     {
///         let a = lock.read().await;
///         let b = lock.read().await; // readers share
///         assert_eq!(a.len() + b.len(), 2);
///         assert!(lock.try_write().is_none());
///     }
///     lock.write().await.push(2);
///     assert_eq!(*lock.read().await, [1, 2]);
/// });
/// ```
pub struct RwLock<T> {
    sem: Semaphore,
    value: UnsafeCell<T>,
}

// SAFETY: a write guard gives one thread `&mut T` at a time, which moves access to `T`
// between threads (`T: Send`); read guards share `&T` across threads (`T: Sync`).
unsafe impl<T: Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new, unlocked lock holding `value`.
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            sem: Semaphore::new(MAX_READERS),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        let RwLock { sem, value } = self;
        drop(sem);
        let value = ManuallyDrop::new(value);
        // SAFETY: we own the cell, no guard can exist, and the cell is never used or
        // dropped again (it is in a `ManuallyDrop`), so this is the one move of the value.
        value.with(|p| unsafe { std::ptr::read(p) })
    }

    /// Waits for shared access.
    pub fn read(&self) -> ReadFuture<'_, T> {
        ReadFuture {
            lock: self,
            wait: PermitWait::new(1, "RwLock::read"),
        }
    }

    /// Waits for exclusive access.
    pub fn write(&self) -> WriteFuture<'_, T> {
        WriteFuture {
            lock: self,
            wait: PermitWait::new(MAX_READERS, "RwLock::write"),
        }
    }

    /// Shared access, if no writer holds the lock and nobody is waiting.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.sem.try_take(1).then(|| RwLockReadGuard::new(self))
    }

    /// Exclusive access, if nobody holds the lock and nobody is waiting.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.sem
            .try_take(MAX_READERS)
            .then(|| RwLockWriteGuard::new(self))
    }

    /// The value, through exclusive access to the lock (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` proves no guard is alive (guards borrow the lock).
        self.value.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("value", &&*guard),
            None => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The future of [`RwLock::read`].
#[must_use = "futures do nothing unless awaited"]
pub struct ReadFuture<'a, T> {
    lock: &'a RwLock<T>,
    wait: PermitWait,
}

impl<'a, T> Future for ReadFuture<'a, T> {
    type Output = RwLockReadGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let lock = self.lock;
        let acquired = self.wait.poll(&lock.sem, cx);
        crate::debug::task::noting(acquired, cx, crate::debug::task::WaitOn::Lock)
            .map(|_| RwLockReadGuard::new(lock))
    }
}

impl<T> Drop for ReadFuture<'_, T> {
    fn drop(&mut self) {
        self.wait.cancel(&self.lock.sem);
    }
}

impl<T> fmt::Debug for ReadFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadFuture").finish_non_exhaustive()
    }
}

/// The future of [`RwLock::write`].
#[must_use = "futures do nothing unless awaited"]
pub struct WriteFuture<'a, T> {
    lock: &'a RwLock<T>,
    wait: PermitWait,
}

impl<'a, T> Future for WriteFuture<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let lock = self.lock;
        let acquired = self.wait.poll(&lock.sem, cx);
        crate::debug::task::noting(acquired, cx, crate::debug::task::WaitOn::Lock)
            .map(|_| RwLockWriteGuard::new(lock))
    }
}

impl<T> Drop for WriteFuture<'_, T> {
    fn drop(&mut self) {
        self.wait.cancel(&self.lock.sem);
    }
}

impl<T> fmt::Debug for WriteFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteFuture").finish_non_exhaustive()
    }
}

/// Shared access to the value of an [`RwLock`]; releases it when dropped.
///
/// ```
/// pride::run(async {
///     let config = pride::sync::RwLock::new(String::from("v1"));
///     let a = config.read().await;
///     let b = config.read().await; // readers share the lock
///     assert_eq!((a.as_str(), b.as_str()), ("v1", "v1"));
///     assert!(config.try_write().is_none()); // a writer waits for them
/// });
/// ```
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockReadGuard<'a, T> {
    lock: &'a RwLock<T>,
    /// Makes the guard `Send`/`Sync` exactly when `&T` is.
    _value: PhantomData<&'a T>,
}

impl<'a, T> RwLockReadGuard<'a, T> {
    /// Only called by whoever now holds one of the lock's permits.
    fn new(lock: &'a RwLock<T>) -> Self {
        Self {
            lock,
            _value: PhantomData,
        }
    }
}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds a permit, so no write guard exists (module rule);
        // other read guards only read.
        self.lock.value.with(|p| unsafe { &*p })
    }
}

impl<T> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release_permits(1);
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to the value of an [`RwLock`]; releases it when dropped.
///
/// ```
/// pride::run(async {
///     let config = pride::sync::RwLock::new(String::from("v1"));
///     {
///         let mut guard = config.write().await;
///         guard.replace_range(.., "v2");
///         assert!(config.try_read().is_none()); // exclusive
///     }
///     assert_eq!(*config.read().await, "v2");
/// });
/// ```
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockWriteGuard<'a, T> {
    lock: &'a RwLock<T>,
    /// Makes the guard `Send`/`Sync` exactly when `&mut T` is.
    _value: PhantomData<&'a mut T>,
}

impl<'a, T> RwLockWriteGuard<'a, T> {
    /// Only called by whoever now holds all of the lock's permits.
    fn new(lock: &'a RwLock<T>) -> Self {
        Self {
            lock,
            _value: PhantomData,
        }
    }

    /// Turns exclusive access into shared access without unlocking: no writer can get
    /// in between, and the readers waiting at the front of the line are let in.
    ///
    /// ```
    /// use pride::sync::RwLock;
    ///
    /// futures_lite::future::block_on(async {
    ///     let lock = RwLock::new(0);
    ///     let mut w = lock.write().await;
    ///     *w = 1;
    ///     let r = pride::sync::RwLockWriteGuard::downgrade(w);
    ///     assert_eq!((*r, *lock.try_read().unwrap()), (1, 1));
    /// });
    /// ```
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, T> {
        let lock = guard.lock;
        std::mem::forget(guard);
        // Keep one permit (now a reader's) and give back the rest.
        lock.sem.release_permits(MAX_READERS - 1);
        RwLockReadGuard::new(lock)
    }
}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds every permit, so no other guard exists (module rule)
        // and `&self` excludes writes through this one.
        self.lock.value.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` also excludes other borrows through this
        // guard.
        self.lock.value.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release_permits(MAX_READERS);
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Counter;
    use std::sync::Arc;

    #[test]
    fn a_waiting_writer_holds_back_later_readers() {
        let lock = RwLock::new(0);
        let (cw, cr) = (Counter::new(), Counter::new());
        let r1 = lock.try_read().unwrap();
        let mut w = lock.write();
        assert!(cw.poll(&mut w).is_pending());
        // A reader behind the waiting writer waits too.
        assert!(lock.try_read().is_none());
        let mut r2 = lock.read();
        assert!(cr.poll(&mut r2).is_pending());
        drop(r1);
        assert_eq!((cw.wakes(), cr.wakes()), (1, 0));
        let Poll::Ready(mut g) = cw.poll(&mut w) else {
            panic!("the writer holds the lock")
        };
        *g = 1;
        drop(g);
        assert_eq!(cr.wakes(), 1);
        let Poll::Ready(g) = cr.poll(&mut r2) else {
            panic!("the reader holds the lock")
        };
        assert_eq!(*g, 1);
    }

    #[test]
    fn readers_queued_together_enter_together() {
        let lock = RwLock::new(());
        let w = lock.try_write().unwrap();
        let counters: Vec<_> = (0..3).map(|_| Counter::new()).collect();
        let mut reads: Vec<_> = (0..3).map(|_| lock.read()).collect();
        for (c, r) in counters.iter().zip(&mut reads) {
            assert!(c.poll(r).is_pending());
        }
        drop(w);
        let guards: Vec<_> = counters
            .iter()
            .zip(&mut reads)
            .map(|(c, r)| {
                assert_eq!(c.wakes(), 1);
                match c.poll(r) {
                    Poll::Ready(g) => g,
                    Poll::Pending => panic!("reader not let in"),
                }
            })
            .collect();
        assert_eq!(guards.len(), 3);
    }

    #[test]
    fn a_cancelled_writer_passes_the_lock_on() {
        let lock = RwLock::new(());
        let (c1, c2) = (Counter::new(), Counter::new());
        let r = lock.try_read().unwrap();
        let mut w = lock.write();
        let mut r2 = lock.read();
        assert!(c1.poll(&mut w).is_pending());
        assert!(c2.poll(&mut r2).is_pending());
        drop(r);
        // Handed to the writer, which is cancelled before it sees it.
        drop(w);
        assert_eq!(c2.wakes(), 1);
        assert!(c2.poll(&mut r2).is_ready());
    }

    #[test]
    fn downgrade_lets_readers_in_but_not_writers() {
        let lock = RwLock::new(5);
        let (cr, cw) = (Counter::new(), Counter::new());
        let w = lock.try_write().unwrap();
        let mut r = lock.read();
        assert!(cr.poll(&mut r).is_pending());
        let mut w2 = lock.write();
        assert!(cw.poll(&mut w2).is_pending());
        let down = RwLockWriteGuard::downgrade(w);
        let Poll::Ready(reader) = cr.poll(&mut r) else {
            panic!("the waiting reader is let in")
        };
        assert_eq!((*down, *reader), (5, 5));
        assert!(cw.poll(&mut w2).is_pending());
        drop(down);
        assert!(cw.poll(&mut w2).is_pending(), "a reader is still in");
        drop(reader);
        assert!(cw.poll(&mut w2).is_ready());
    }

    #[test]
    fn writers_exclude_each_other_across_threads() {
        const ROUNDS: u64 = if cfg!(miri) { 10 } else { 500 };
        let lock = Arc::new(RwLock::new(0u64));
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        futures_lite::future::block_on(async {
                            if i % 2 == 0 {
                                let mut g = lock.write().await;
                                let v = *g;
                                std::thread::yield_now();
                                *g = v + 1;
                            } else {
                                let g = lock.read().await;
                                let v = *g;
                                std::thread::yield_now();
                                assert_eq!(*g, v, "a writer got in beside a reader");
                            }
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*futures_lite::future::block_on(lock.read()), 3 * ROUNDS);
    }

    fn _assert_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<RwLock<u32>>();
        send_sync::<RwLockReadGuard<'static, u32>>();
        send_sync::<RwLockWriteGuard<'static, u32>>();
        send_sync::<ReadFuture<'static, u32>>();
        send_sync::<WriteFuture<'static, u32>>();
    }
}
