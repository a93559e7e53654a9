//! `scope`: fork-join of any number of borrowing closures.
//!
//! Unsafe code here makes and runs heap jobs that borrow the scope, under the rules in
//! `job.rs` (the scope outlives its spawns because it waits for all of them).

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::Cancelled;
use super::call::Call;
use super::job::{CallPtr, HeapJob, Outlives};
use super::latch::{CountLatch, Latch};
use super::registry::{Here, in_worker, offer_to};
use crate::runtime::Handle;

/// A fork-join scope: closures spawned into it may borrow what outlives the
/// [`scope`] call, which returns only when all of them have ended.
///
/// Made by [`scope`].
///
/// ```
/// let mut halves = [0u64; 2];
/// let (left, right) = halves.split_at_mut(1);
/// pride::par::scope(|s| {
///     s.spawn(|_| left[0] = (1..=50).sum());
///     s.spawn(|_| right[0] = (51..=100).sum());
/// });
/// assert_eq!(halves[0] + halves[1], 5050);
/// ```
pub struct Scope<'scope> {
    call: Call,
    /// The runtime whose worker waits for the spawns: they run there.
    runtime: Handle,
    /// Invariant in `'scope`, like `std::thread::Scope`.
    _scope: PhantomData<&'scope mut &'scope ()>,
}

/// Runs `f` with a [`Scope`] into which it (and what it spawns) can spawn closures that
/// borrow from outside; returns `f`'s result once every spawned closure has ended.
///
/// Spawned closures run on the runtime's workers, here or elsewhere. If one panics,
/// the closures not yet started do not start, and the panic is resumed here once the
/// others have ended (if several panicked: `f`'s, else the first spawn's to panic). If the enclosing cancel scope is cancelled, closures not yet
/// started do not start, and `scope` unwinds with [`Cancelled`].
///
/// ```
/// let mut left = 0;
/// let mut right = 0;
/// let data = [1, 2, 3, 4];
/// pride::par::scope(|s| {
///     s.spawn(|_| left = data[..2].iter().sum());
///     s.spawn(|_| right = data[2..].iter().sum());
/// });
/// assert_eq!(left + right, 10);
/// ```
pub fn scope<'scope, F, R>(f: F) -> R
where
    F: FnOnce(&Scope<'scope>) -> R + Send,
    R: Send,
{
    in_worker(|here| run_scope(here, f))
}

fn run_scope<'scope, F, R>(here: &Here<'_>, f: F) -> R
where
    F: FnOnce(&Scope<'scope>) -> R,
{
    if here.call().stopped() {
        resume_unwind(Box::new(Cancelled));
    }
    let scope = Scope {
        call: Call::with_owner(here.call_ptr(), here.index()),
        runtime: here.core.handle().clone(),
        _scope: PhantomData,
    };
    let body = here.with_call(&scope.call, || catch_unwind(AssertUnwindSafe(|| f(&scope))));
    if body.is_err() {
        scope.call.fail();
    }
    scope.call.spawns.release_own();
    here.wait_until(&scope.call.spawns);
    let spawned = scope.call.take_panic();
    match body {
        Err(panic) => resume_unwind(super::join::pick(panic, spawned)),
        Ok(_) if spawned.is_some() => resume_unwind(spawned.expect("checked")),
        Ok(_) if scope.call.was_skipped() => resume_unwind(Box::new(Cancelled)),
        Ok(value) => value,
    }
}

impl<'scope> Scope<'scope> {
    /// Spawns `f` into the scope: it runs on a worker of the runtime the scope runs
    /// on before [`scope`] returns, unless the scope stopped first (a panic, or a
    /// cancelled enclosing scope). It may be called from any thread that has the
    /// scope, such as a worker of another runtime.
    ///
    /// ```
    /// let words = ["structured", "concurrency"];
    /// let mut lengths = vec![0; words.len()];
    /// pride::par::scope(|s| {
    ///     for (word, len) in words.iter().zip(lengths.iter_mut()) {
    ///         s.spawn(move |_| *len = word.len());
    ///     }
    /// });
    /// assert_eq!(lengths, [10, 11]);
    /// ```
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce(&Scope<'scope>) + Send + 'scope,
    {
        let this = Outlives::new(self);
        self.call.spawns.increment();
        let job = move || {
            // SAFETY: `scope` waits for every spawn before the scope is dropped.
            let scope = unsafe { this.get() };
            // `f` is run or dropped in here, before the scope is released: what it
            // captured may borrow from outside the scope, and its drop may panic too.
            let ran = catch_unwind(AssertUnwindSafe(move || {
                // A spawn is a piece of its own: look at the enclosing calls and the
                // cancel scope first (the flag alone is set by upkeep, which comes
                // only every so many spawns).
                scope.call.refresh();
                if scope.call.stopped() {
                    scope.call.skip();
                    drop(f);
                } else {
                    scope.call.in_scope(|| f(scope));
                }
            }));
            if let Err(panic) = ran {
                scope.call.keep_panic(panic);
            }
            let latch: *const CountLatch = &scope.call.spawns;
            // SAFETY: the scope is alive until this releases it; nothing of it is
            // touched after.
            unsafe { CountLatch::set(latch) };
        };
        // SAFETY: `job` catches its panics, `f`'s drop included (rule 6 in `job.rs`),
        // and what it borrows outlives `'scope`, which `scope` outlives by waiting for
        // this job.
        let job = unsafe { HeapJob::into_job_ref(job, CallPtr::new(&self.call)) };
        offer_to(&self.runtime, job);
    }
}

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}
