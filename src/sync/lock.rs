//! [`Lock`]: a fair async mutex.
//!
//! Ground rule for the `unsafe` here: the value in `Lock::value` is touched only through
//! a live [`LockGuard`] (which holds the lock's single semaphore permit) or through
//! `&mut Lock` / ownership of the `Lock`. The permit is exclusive, so those accesses
//! never overlap.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::cell::UnsafeCell;
use crate::sync::semaphore::{PermitWait, Semaphore};

/// A fair async mutex: a value that one task at a time may use.
///
/// [`lock`](Lock::lock) waits until the lock is free and returns a [`LockGuard`] that
/// derefs to the value and unlocks on drop. Unlocking hands the lock straight to the
/// oldest waiter (FIFO, no barging: `try_lock` fails while anyone waits), and wakes only
/// that waiter. Waiting is cancel-safe: a waiter dropped after the lock was handed to it
/// passes it to the next one. Share a `Lock` by reference or in an `Arc`.
///
/// # Example
///
/// ```
/// use pride::sync::Lock;
///
/// futures_lite::future::block_on(async {
///     let lock = Lock::new(0);
///     *lock.lock().await += 1;
///     assert_eq!(*lock.lock().await, 1);
///     assert_eq!(lock.into_inner(), 1);
/// });
/// ```
#[doc(alias = "Mutex")]
pub struct Lock<T> {
    sem: Semaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `T` to one guard at a time (module rule), so
// sharing a `Lock` across threads only ever moves that access between threads: `T: Send`
// is what that needs.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// A new, unlocked lock holding `value`.
    pub fn new(value: T) -> Self {
        Self {
            sem: Semaphore::new(1),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits for the lock.
    pub fn lock(&self) -> LockFuture<'_, T> {
        LockFuture {
            lock: self,
            wait: PermitWait::new(1, "Lock::lock"),
        }
    }

    /// Takes the lock if it is free and nobody is waiting for it.
    pub fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        self.sem.try_take(1).then(|| LockGuard::new(self))
    }

    /// Whether the lock is held right now.
    pub fn is_locked(&self) -> bool {
        self.sem.available_permits() == 0
    }

    /// The value, through exclusive access to the lock (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` proves no guard is alive (a guard borrows the lock), so
        // this is the only access to the value for the returned borrow's lifetime.
        self.value.with_mut(|p| unsafe { &mut *p })
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        let Lock { sem, value } = self;
        drop(sem);
        let value = ManuallyDrop::new(value);
        // SAFETY: we own the cell, no guard can exist, and the cell is never used or
        // dropped again (it is in a `ManuallyDrop`), so moving the value out is the one
        // and only move of it.
        value.with(|p| unsafe { std::ptr::read(p) })
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Lock");
        match self.try_lock() {
            Some(guard) => d.field("value", &&*guard),
            None => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The future of [`Lock::lock`].
#[must_use = "futures do nothing unless awaited"]
pub struct LockFuture<'a, T> {
    lock: &'a Lock<T>,
    wait: PermitWait,
}

impl<'a, T> Future for LockFuture<'a, T> {
    type Output = LockGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a, T>> {
        let lock = self.lock;
        let acquired = self.wait.poll(&lock.sem, cx);
        crate::debug::task::noting(acquired, cx, crate::debug::task::WaitOn::Lock)
            .map(|_| LockGuard::new(lock))
    }
}

impl<T> Drop for LockFuture<'_, T> {
    fn drop(&mut self) {
        self.wait.cancel(&self.lock.sem);
    }
}

impl<T> fmt::Debug for LockFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockFuture").finish_non_exhaustive()
    }
}

/// Access to the value of a held [`Lock`]; unlocks when dropped.
///
/// ```
/// pride::run(async {
///     let lock = pride::Lock::new(vec![1]);
///     {
///         let mut guard = lock.lock().await;
///         guard.push(2); // `DerefMut` to the value
///         assert!(lock.is_locked());
///     } // dropped: unlocked
///     assert!(!lock.is_locked());
///     assert_eq!(*lock.lock().await, [1, 2]);
/// });
/// ```
#[must_use = "dropping the guard unlocks at once"]
pub struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
    /// Makes the guard `Send`/`Sync` exactly when `&mut T` is.
    _value: PhantomData<&'a mut T>,
}

impl<'a, T> LockGuard<'a, T> {
    /// Only called by whoever now holds the lock's permit.
    fn new(lock: &'a Lock<T>) -> Self {
        Self {
            lock,
            _value: PhantomData,
        }
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock's only permit (module rule), so no other
        // guard and no `&mut Lock` can reach the value while `&self` is borrowed.
        self.lock.value.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` also excludes other borrows through this
        // guard.
        self.lock.value.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release_permits(1);
    }
}

impl<T: fmt::Debug> fmt::Debug for LockGuard<'_, T> {
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
    fn fifo_hand_off_without_barging() {
        let lock = Lock::new(Vec::new());
        let (c1, c2) = (Counter::new(), Counter::new());
        let guard = lock.try_lock().unwrap();
        let mut w1 = lock.lock();
        let mut w2 = lock.lock();
        assert!(c1.poll(&mut w1).is_pending());
        assert!(c2.poll(&mut w2).is_pending());
        drop(guard);
        // Handed to w1: nobody can barge in, and w2 was not woken.
        assert!(lock.try_lock().is_none());
        assert_eq!((c1.wakes(), c2.wakes()), (1, 0));
        let Poll::Ready(mut g1) = c1.poll(&mut w1) else {
            panic!("w1 owns the lock")
        };
        g1.push(1);
        drop(g1);
        assert_eq!(c2.wakes(), 1);
        let Poll::Ready(mut g2) = c2.poll(&mut w2) else {
            panic!("w2 owns the lock")
        };
        g2.push(2);
        drop(g2);
        drop((w1, w2));
        assert_eq!(lock.into_inner(), vec![1, 2]);
    }

    #[test]
    fn cancelled_after_hand_off_passes_it_on() {
        let lock = Lock::new(());
        let (c1, c2) = (Counter::new(), Counter::new());
        let guard = lock.try_lock().unwrap();
        let mut w1 = lock.lock();
        let mut w2 = lock.lock();
        assert!(c1.poll(&mut w1).is_pending());
        assert!(c2.poll(&mut w2).is_pending());
        drop(guard);
        drop(w1);
        assert_eq!(c2.wakes(), 1);
        assert!(c2.poll(&mut w2).is_ready());
    }

    #[test]
    fn mutual_exclusion_across_threads() {
        const ROUNDS: u64 = if cfg!(miri) { 10 } else { 1000 };
        let lock = Arc::new(Lock::new(0u64));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        futures_lite::future::block_on(async {
                            let mut g = lock.lock().await;
                            let v = *g;
                            std::thread::yield_now();
                            *g = v + 1;
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*futures_lite::future::block_on(lock.lock()), 8 * ROUNDS);
    }

    #[test]
    fn get_mut_and_drop_of_value() {
        let mut lock = Lock::new(String::from("a"));
        lock.get_mut().push('b');
        assert_eq!(&*lock.try_lock().unwrap(), "ab");
        drop(Lock::new(Arc::new(()))); // the value is dropped with the lock
    }

    fn _assert_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Lock<u32>>();
        send_sync::<LockGuard<'static, u32>>();
        send_sync::<LockFuture<'static, u32>>();
    }
}
