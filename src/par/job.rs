//! Jobs: a piece of `par` work that a worker's deque can hold and another worker can
//! run. Its rules below are what the unsafe code of the other files of `par` (but
//! `collect.rs`, which has its own) relies on.
//!
//! A [`JobRef`] is a type-erased pointer to a job plus the function that runs it. Two
//! kinds of job exist:
//! - a [`StackJob`] lives in the stack frame of the call that made it (the `b` half of
//!   a join, or a whole call handed over from a thread that is not a worker). Its
//!   closure may borrow from that frame; its result goes back through the job.
//! - a [`HeapJob`] is boxed (a `scope` spawn) and freed by whoever runs it.
//!
//! Rules (the SAFETY comments below cite them):
//! 1. **Alive until done.** A stack job is neither moved nor dropped until its latch
//!    is set or its maker has taken it back to run inline ([`StackJob::take_back`]).
//!    Its maker never returns before one of the two: it waits on the latch.
//! 2. **Run once.** A `JobRef` sits in one place at a time (its maker's list of kept
//!    halves, then maybe a deque slot) and is taken out by exactly one pop or steal;
//!    whoever takes it runs it exactly once (`execute`), and the maker runs a stack
//!    job inline only when its own pop gave back that very job (so nobody else has
//!    it).
//! 3. **Nothing after the latch.** Running a stack job ends with setting its latch;
//!    after that it touches nothing of the job, whose frame may already be gone.
//! 4. **Send.** A job's closure and result cross threads, so they are `Send`; borrowed
//!    data inside them lives in the maker's frame, which rule 1 keeps alive.
//! 5. **Calls outlive their pieces.** A [`CallPtr`] points at a `Call` that stays alive
//!    while any piece of it runs or waits in a queue: a call returns only after all its
//!    pieces have ended.
//! 6. **No unwinding.** Running a job never unwinds: a stack job catches its body's
//!    panic into its result, and a heap job's closure catches everything, the drop of
//!    what it captured included, before it sets its latch. A worker runs other jobs
//!    on its stack while it has a job of its own offered (a join) or waits for jobs
//!    that borrow its frame (a scope): one that unwound there would unwind past them.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::call::Call;
use super::latch::Latch;

/// A panic payload, carried from the worker that caught it to the caller.
pub(crate) type Panic = Box<dyn Any + Send + 'static>;

/// A type-erased job in a queue.
pub(crate) struct JobRef {
    data: *const (),
    run: unsafe fn(*const ()),
    /// The `par` call the job belongs to, set as the running worker's current call
    /// while it runs (see `registry.rs`).
    pub(crate) call: CallPtr,
}

// SAFETY: a `JobRef` only carries pointers to jobs whose closures and results are
// `Send` (rule 4) and a `CallPtr`, which is `Send`; who may run it is ruled by rule 2.
unsafe impl Send for JobRef {}

/// A pointer to a live [`Call`] (rule 5), or null.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallPtr(*const Call);

// SAFETY: `Call` is `Sync` (atomics and a mutex), and rule 5 keeps it alive wherever
// the pointer is used.
unsafe impl Send for CallPtr {}
// SAFETY: as above.
unsafe impl Sync for CallPtr {}

impl CallPtr {
    pub(crate) const NULL: CallPtr = CallPtr(std::ptr::null());

    pub(crate) fn new(call: &Call) -> CallPtr {
        CallPtr(call)
    }

    pub(crate) fn is_null(self) -> bool {
        self.0.is_null()
    }

    /// The call, if not null.
    ///
    /// Sound under rule 5: the pointer is only ever made from a live call and used
    /// while a piece of that call (or of a call nested in it) runs.
    #[inline]
    pub(crate) fn get<'a>(self) -> Option<&'a Call> {
        // SAFETY: rule 5.
        unsafe { self.0.as_ref() }
    }
}

/// A pointer to a value that outlives every job holding it (a `scope`, which waits
/// for all its spawns; rule 5's argument).
pub(crate) struct Outlives<T>(*const T);

impl<T> Clone for Outlives<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Outlives<T> {}

// SAFETY: only `&T` is ever handed out, so sending the pointer is sending a `&T`,
// which needs `T: Sync`.
unsafe impl<T: Sync> Send for Outlives<T> {}

impl<T> Outlives<T> {
    pub(crate) fn new(value: &T) -> Outlives<T> {
        Outlives(value)
    }

    /// The value.
    ///
    /// # Safety
    /// The value is still alive: the caller is a job that its owner waits for.
    pub(crate) unsafe fn get<'a>(self) -> &'a T {
        // SAFETY: forwarded from the caller.
        unsafe { &*self.0 }
    }
}

/// What a stack job runs when another worker steals it. The maker that takes the job
/// back gets the body itself ([`StackJob::take_back`]) and runs it as it likes.
pub(crate) trait Body: Send {
    type Output: Send;
    fn run_stolen(self) -> Self::Output;
}

impl JobRef {
    /// Runs the job. Catches nothing itself, and does not unwind (rule 6): stack jobs
    /// catch panics into their result; heap jobs catch them in their closure.
    ///
    /// # Safety
    /// `self` came out of a queue by a pop or steal (rule 2), and the job is alive
    /// (rule 1).
    pub(crate) unsafe fn execute(self) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.run)(self.data) }
    }

    /// Whether `self` points at `job`.
    fn is<L, F: Body>(&self, job: &StackJob<L, F>) -> bool {
        std::ptr::eq(self.data, (job as *const StackJob<L, F>).cast())
    }
}

/// A job in its maker's stack frame.
pub(crate) struct StackJob<L, F: Body> {
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<Result<F::Output, Panic>>>,
    pub(crate) latch: L,
}

impl<L: Latch, F: Body> StackJob<L, F> {
    pub(crate) fn new(func: F, latch: L) -> StackJob<L, F> {
        StackJob {
            func: UnsafeCell::new(Some(func)),
            result: UnsafeCell::new(None),
            latch,
        }
    }

    /// A reference to put in a queue, belonging to `call`.
    ///
    /// # Safety
    /// The caller keeps `self` in place until its latch is set or it runs the job
    /// inline after popping this very reference back (rules 1 and 2).
    pub(crate) unsafe fn as_job_ref(&self, call: CallPtr) -> JobRef {
        JobRef {
            data: (self as *const Self).cast(),
            run: Self::run_erased,
            call,
        }
    }

    /// Whether `job` is this job.
    pub(crate) fn is(&self, job: &JobRef) -> bool {
        job.is(self)
    }

    /// # Safety
    /// `data` is a `*const Self` taken out of a queue (rule 2) while alive (rule 1).
    unsafe fn run_erased(data: *const ()) {
        // SAFETY: rule 1 keeps the job alive until its latch is set below.
        let this = unsafe { &*data.cast::<Self>() };
        // SAFETY: rule 2: nobody else runs this job, so nobody else touches `func` or
        // `result`; the maker reads `result` only after the latch is set.
        let func = unsafe { (*this.func.get()).take() }.expect("pride: a par job ran twice");
        let result = catch_unwind(AssertUnwindSafe(|| func.run_stolen()));
        // SAFETY: as above.
        unsafe { *this.result.get() = Some(result) };
        let latch: *const L = &this.latch;
        // SAFETY: rule 3: the last touch of the job; `set` touches nothing of the
        // latch after releasing the waiter, and gets a pointer, not a reference that
        // would have to stay valid for the whole call.
        unsafe { L::set(latch) };
    }

    /// The maker takes the job back to run it itself: it popped it back, so nobody
    /// else has it.
    pub(crate) fn take_back(self) -> F {
        self.func.into_inner().expect("pride: a par job ran twice")
    }

    /// The result, once the latch is set.
    pub(crate) fn into_result(self) -> Result<F::Output, Panic> {
        debug_assert!(
            self.latch.probe(),
            "pride: a par job's result read before it ran"
        );
        self.result
            .into_inner()
            .expect("pride: a par job's latch was set without a result")
    }
}

/// A boxed job (a `scope` spawn): freed by whoever runs it.
pub(crate) struct HeapJob<F> {
    func: F,
}

impl<F: FnOnce() + Send> HeapJob<F> {
    /// Boxes `func` into a job reference belonging to `call`.
    ///
    /// # Safety
    /// `func` does not unwind (rule 6: it catches its own panics, and those of
    /// dropping what it captured), and what it borrows
    /// outlives its run: the caller (a `scope`) waits for every job it spawned.
    pub(crate) unsafe fn into_job_ref(func: F, call: CallPtr) -> JobRef {
        let boxed = Box::new(HeapJob { func });
        JobRef {
            data: Box::into_raw(boxed).cast::<()>().cast_const(),
            run: Self::run_erased,
            call,
        }
    }

    /// # Safety
    /// `data` came from `into_job_ref` and is run once (rule 2).
    unsafe fn run_erased(data: *const ()) {
        // SAFETY: made by `Box::into_raw` in `into_job_ref`; rule 2 makes this the only
        // owner.
        let job = unsafe { Box::from_raw(data.cast::<Self>().cast_mut()) };
        (job.func)();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::par::latch::LockLatch;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A body made of a closure, told whether it was stolen.
    struct Closure<F>(F);

    impl<R: Send, F: FnOnce(bool) -> R + Send> Body for Closure<F> {
        type Output = R;
        fn run_stolen(self) -> R {
            (self.0)(true)
        }
    }

    #[test]
    fn a_stolen_stack_job_hands_its_result_back() {
        let data = [1, 2, 3];
        let job = StackJob::new(
            Closure(|stolen| (stolen, data.iter().sum::<i32>())),
            LockLatch::new(),
        );
        // SAFETY: `job` stays in place until its latch is set (we wait below).
        let job_ref = unsafe { job.as_job_ref(CallPtr::NULL) };
        std::thread::scope(|s| {
            // SAFETY: taken out once, alive until the latch is set.
            s.spawn(move || unsafe { job_ref.execute() });
            job.latch.wait();
        });
        assert_eq!(job.into_result().unwrap(), (true, 6));
    }

    #[test]
    fn a_panic_in_a_stolen_job_is_carried_back() {
        let job = StackJob::new(Closure(|_| -> u8 { panic!("boom") }), LockLatch::new());
        // SAFETY: as above.
        let job_ref = unsafe { job.as_job_ref(CallPtr::NULL) };
        std::thread::scope(|s| {
            // SAFETY: as above.
            s.spawn(move || unsafe { job_ref.execute() });
            job.latch.wait();
        });
        let panic = job.into_result().unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom"));
    }

    #[test]
    fn a_job_taken_back_runs_inline_and_is_recognised() {
        let job = StackJob::new(Closure(|stolen| stolen), LockLatch::new());
        // SAFETY: we run it inline right away, never through the reference.
        let job_ref = unsafe { job.as_job_ref(CallPtr::NULL) };
        assert!(job.is(&job_ref));
        assert!(!(job.take_back().0)(false));
    }

    #[test]
    fn a_heap_job_runs_once_and_is_freed() {
        let runs = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        // SAFETY: the closure owns what it uses and does not unwind.
        let job_ref = unsafe {
            HeapJob::into_job_ref(
                move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                },
                CallPtr::NULL,
            )
        };
        // SAFETY: made just now, run once.
        std::thread::spawn(move || unsafe { job_ref.execute() })
            .join()
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(std::sync::Arc::strong_count(&runs), 1, "the box was freed");
    }
}
