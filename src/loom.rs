//! The sync facade: every atomic, cell, `Arc` and lock in pride comes from here.
//!
//! Normally these are `std` atomics and `parking_lot` locks. Under
//! `RUSTFLAGS="--cfg pride_loom"` they are loom's model-checked twins, wrapped so that
//! both builds share one API shape: `parking_lot`'s (a `lock()` that cannot fail,
//! `Condvar::wait(&mut guard)`) and loom's `UnsafeCell::with`/`with_mut` for raw cells.
//! Code that compiles against this module compiles under both.

#![allow(dead_code, unused_imports)]

#[cfg(not(pride_loom))]
mod imp {
    pub(crate) mod sync {
        pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};
        pub(crate) use std::sync::{Arc, Weak};

        pub(crate) mod atomic {
            pub(crate) use std::sync::atomic::{
                AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
            };
        }
    }

    pub(crate) mod cell {
        /// `std::cell::UnsafeCell` with loom's closure-based access API.
        #[derive(Debug)]
        pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            pub(crate) const fn new(value: T) -> Self {
                Self(std::cell::UnsafeCell::new(value))
            }

            #[inline(always)]
            pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
                f(self.0.get())
            }

            #[inline(always)]
            pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
                f(self.0.get())
            }
        }
    }

    pub(crate) mod thread {
        pub(crate) use std::thread::{Thread, current, park, yield_now};
    }

    /// Spin-loop hint; a plain yield under loom so models make progress.
    #[inline(always)]
    pub(crate) fn spin_hint() {
        std::hint::spin_loop();
    }

    /// The value, if `arc` was its last owner; else `None`, `arc` dropped.
    #[inline(always)]
    pub(crate) fn arc_into_inner<T>(arc: sync::Arc<T>) -> Option<T> {
        sync::Arc::into_inner(arc)
    }
}

#[cfg(pride_loom)]
mod imp {
    pub(crate) mod sync {
        pub(crate) use loom::sync::{Arc, Notify};
        pub(crate) use std::sync::Weak;

        pub(crate) mod atomic {
            pub(crate) use loom::sync::atomic::{
                AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
            };
        }

        /// loom's mutex with `parking_lot`'s infallible `lock()`.
        #[derive(Debug)]
        pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

        /// Guard of [`Mutex`]; the inner option lets [`Condvar::wait`] take it by value.
        pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

        impl<T> Mutex<T> {
            pub(crate) fn new(value: T) -> Self {
                Self(loom::sync::Mutex::new(value))
            }

            pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
                MutexGuard(Some(self.0.lock().unwrap()))
            }

            /// Beware in a model: loom 0.7 can mark a thread about to `try_lock` as
            /// blocked when another thread takes the lock first (tokio-rs/loom#376),
            /// and report a deadlock that cannot happen. `loom-tests/idle.rs` models
            /// the driver's try-lock on an atomic for that reason.
            pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
                self.0.try_lock().ok().map(|g| MutexGuard(Some(g)))
            }

            pub(crate) fn into_inner(self) -> T {
                self.0.into_inner().unwrap()
            }

            pub(crate) fn get_mut(&mut self) -> &mut T {
                self.0.get_mut().unwrap()
            }
        }

        impl<T: Default> Default for Mutex<T> {
            fn default() -> Self {
                Self::new(T::default())
            }
        }

        impl<T> std::ops::Deref for MutexGuard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                self.0.as_ref().unwrap()
            }
        }

        impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                self.0.as_mut().unwrap()
            }
        }

        /// loom's condvar with `parking_lot`'s `wait(&mut guard)` shape.
        #[derive(Debug, Default)]
        pub(crate) struct Condvar(loom::sync::Condvar);

        impl Condvar {
            pub(crate) fn new() -> Self {
                Self(loom::sync::Condvar::new())
            }

            pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
                let inner = guard.0.take().unwrap();
                guard.0 = Some(self.0.wait(inner).unwrap());
            }

            /// loom has no clock: a timed wait is modelled as a timeout at once (the
            /// shortest it may be), without releasing the lock: a notification during a
            /// timed wait is not modelled. Returns that it timed out.
            pub(crate) fn wait_for<T>(
                &self,
                _guard: &mut MutexGuard<'_, T>,
                _: std::time::Duration,
            ) -> bool {
                loom::thread::yield_now();
                true
            }

            pub(crate) fn notify_one(&self) -> bool {
                self.0.notify_one();
                true
            }

            pub(crate) fn notify_all(&self) -> usize {
                self.0.notify_all();
                0
            }
        }
    }

    pub(crate) mod cell {
        pub(crate) use loom::cell::UnsafeCell;
    }

    pub(crate) mod thread {
        pub(crate) use loom::thread::yield_now;
    }

    #[inline(always)]
    pub(crate) fn spin_hint() {
        loom::thread::yield_now();
    }

    /// loom's `Arc` has no `into_inner`: `try_unwrap` gives up where two owners drop at
    /// once, and the last of them drops the value.
    pub(crate) fn arc_into_inner<T>(arc: sync::Arc<T>) -> Option<T> {
        sync::Arc::try_unwrap(arc).ok()
    }
}

pub(crate) use imp::*;
