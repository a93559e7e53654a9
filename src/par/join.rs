//! Fork-join: run one half here, offer the other to idle workers, take it back if
//! nobody took it.
//!
//! Unsafe code here only offers a stack job, under the rules in `job.rs`.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::Cancelled;
use super::job::{Body, Panic, StackJob};
use super::latch::CountLatch;
use super::registry::{Here, with_here};

/// The offered half: run with the thief's view when stolen.
struct Stolen<B>(B);

impl<R: Send, B: FnOnce(&Here<'_>, bool) -> R + Send> Body for Stolen<B> {
    type Output = R;
    fn run_stolen(self) -> R {
        with_here(|here| (self.0)(here, true))
    }
}

/// Runs `a` here and `b` here or on another worker; both get the worker they run on
/// and whether they were stolen. If either panics, the call is stopped (other pieces
/// do not start), the other half is waited for (or taken back unrun), and the panic
/// is resumed; a real panic wins over a [`Cancelled`] unwinding.
pub(crate) fn join_context<A, B, RA, RB>(here: &Here<'_>, a: A, b: B) -> (RA, RB)
where
    A: FnOnce(&Here<'_>, bool) -> RA,
    B: FnOnce(&Here<'_>, bool) -> RB + Send,
    RB: Send,
{
    here.tick();
    let job = StackJob::new(Stolen(b), CountLatch::new(1, here.index()));
    // SAFETY: this frame returns only after taking the job back (its pop gave back
    // this very job) or after the job's latch is set (`wait_until` below), on every
    // path, unwinding included: `a` runs under `catch_unwind`, and `b` runs here only
    // once taken back.
    let job_ref = unsafe { job.as_job_ref(here.call_ptr()) };
    here.push(job_ref);
    let ra = match catch_unwind(AssertUnwindSafe(|| a(here, false))) {
        Ok(ra) => ra,
        Err(panic) => {
            here.call().fail();
            // Take `b` back unrun if nobody stole it; else wait for it (it may not be
            // moved or dropped before its latch is set).
            let mut other = None;
            let mut taken_back = false;
            while let Some(popped) = here.pop() {
                if job.is(&popped) {
                    taken_back = true;
                    break;
                }
                here.execute(popped);
            }
            if !taken_back {
                here.wait_until(&job.latch);
                other = job.into_result().err();
            }
            resume_unwind(pick(panic, other));
        }
    };
    while let Some(popped) = here.pop() {
        if job.is(&popped) {
            let Stolen(b) = job.take_back();
            // Nothing is left to wait for: a panic of `b` only has to stop the call
            // on its way out.
            let stop = StopOnUnwind(here.call());
            let rb = b(here, false);
            std::mem::forget(stop);
            return (ra, rb);
        }
        here.execute(popped);
    }
    here.wait_until(&job.latch);
    match job.into_result() {
        Ok(rb) => (ra, rb),
        Err(panic) => {
            here.call().fail();
            resume_unwind(panic)
        }
    }
}

/// Stops the call if dropped, which only happens while unwinding (it is forgotten
/// otherwise).
struct StopOnUnwind<'a>(&'a super::call::Call);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.fail();
    }
}

/// Of two unwindings, the one to resume: a real panic before a cancellation.
pub(crate) fn pick(first: Panic, second: Option<Panic>) -> Panic {
    match second {
        Some(second) if first.is::<Cancelled>() && !second.is::<Cancelled>() => second,
        _ => first,
    }
}
