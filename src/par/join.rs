//! Fork-join: keep one half, run the other here, then take the kept half back if
//! nobody stole it. A worker offers one kept half at a time (the oldest, the biggest
//! piece), and the next once a thief took it; while it keeps enough halves, a join
//! makes no job and runs both halves in turn, so a join that nobody takes costs
//! about a function call.
//!
//! Unsafe code here only offers a stack job, under the rules in `job.rs`.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::Cancelled;
use super::job::{Body, Panic, StackJob};
use super::latch::{CountLatch, Latch};
use super::registry::{Here, with_here};

/// The offered half: run with the thief's view when stolen. If the join stops the
/// call on a panic, a panic of the stolen half stops it as it leaves the half, before
/// the job's latch is set: the first half, still running on the maker's worker, must
/// not wait for its own end to learn of it.
struct Stolen<B> {
    body: B,
    stops: bool,
}

impl<R: Send, B: FnOnce(&Here<'_>, bool) -> R + Send> Body for Stolen<B> {
    type Output = R;
    fn run_stolen(self) -> R {
        with_here(|here| {
            here.call().in_scope(|| {
                let stop = StopOnUnwind(self.stops.then(|| here.call()));
                let r = (self.body)(here, true);
                std::mem::forget(stop);
                r
            })
        })
    }
}

/// How a join's second half is offered to other workers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Kept, and offered one at a time (see `README.md`): the halves of `join`, which
    /// may be a few instructions each.
    Kept,
    /// At once: the splits of the slice forms, few and big, whose items then need no
    /// look at the kept halves.
    Now,
}

/// Runs `a` here and `b` here (before or after `a`) or on another worker; both get
/// the worker they run on and whether they were stolen. If either panics, the other
/// half is taken back unrun or, if another worker took it, waited for, and the panic
/// is resumed; a real panic wins over a [`Cancelled`] unwinding. If `stops`, the
/// panic also stops the call the join runs in, so that its other pieces do not
/// start: the splits of a slice form (pieces of its own call, whose panic goes to
/// its caller), and the outermost join of a tree (see `par::join`). A join inside a
/// tree does not: a closure around it may catch the panic and go on.
pub(crate) fn join_context<A, B, RA, RB>(
    here: &Here<'_>,
    offer: Offer,
    stops: bool,
    a: A,
    b: B,
) -> (RA, RB)
where
    A: FnOnce(&Here<'_>, bool) -> RA,
    B: FnOnce(&Here<'_>, bool) -> RB + Send,
    RB: Send,
{
    if offer == Offer::Kept && here.keeps_enough() {
        // Enough bigger pieces wait here for thieves: run both halves in turn,
        // with no job to make. `b` first: the order is free, and a tree
        // built recursively (children boxed before their parent) then is walked in
        // address order. Only a `join` gets here: a panic of either half unwinds
        // through the joins around it, the outermost of which stops the call.
        here.offer_one();
        here.tick();
        let rb = b(here, false);
        let ra = a(here, false);
        return (ra, rb);
    }
    let job = StackJob::new(Stolen { body: b, stops }, CountLatch::new(1, here.index()));
    // SAFETY: this frame returns only after taking the job back (its kept list or
    // its deque gave back this very job) or after the job's latch is set (`wait_until`
    // below), on every path, unwinding included: `a` runs under `catch_unwind`, `b`
    // runs here only once taken back, and the jobs run meanwhile do not unwind (rule
    // 6 in `job.rs`).
    let job_ref = unsafe { job.as_job_ref(here.call_ptr()) };
    match offer {
        Offer::Kept => {
            here.keep(job_ref);
            here.offer_one();
        }
        Offer::Now => here.push(job_ref),
    }
    // The look (upkeep included) runs under the same `catch_unwind` as `a`: nothing
    // may unwind past the offered job.
    let ra = match catch_unwind(AssertUnwindSafe(|| {
        here.tick();
        a(here, false)
    })) {
        Ok(ra) => ra,
        Err(panic) => {
            if stops {
                here.call().fail();
            }
            // Drop `b` unrun if nobody stole it; else wait for it (it may not be
            // moved or dropped before its latch is set).
            let mut other = None;
            if !take_back(here, &job) {
                here.wait_until(&job.latch);
                other = job.into_result().err();
            }
            resume_unwind(pick(panic, other));
        }
    };
    if take_back(here, &job) {
        let Stolen { body: b, .. } = job.take_back();
        // Nothing is left to wait for: a panic of `b` only has to stop the call on
        // its way out (if it stops the call).
        let stop = StopOnUnwind(stops.then(|| here.call()));
        let rb = b(here, false);
        std::mem::forget(stop);
        return (ra, rb);
    }
    here.wait_until(&job.latch);
    match job.into_result() {
        Ok(rb) => (ra, rb),
        // The thief stopped the call (if the join stops it) as the panic left `b`.
        Err(panic) => resume_unwind(panic),
    }
}

/// Whether this worker got `job` back unrun: it kept it, or offered it and nobody
/// stole it. Jobs offered after it, found on the way, are run.
fn take_back<L: Latch, F: Body>(here: &Here<'_>, job: &StackJob<L, F>) -> bool {
    if here.take_back_kept(job) {
        return true;
    }
    while let Some(popped) = here.pop() {
        if job.is(&popped) {
            return true;
        }
        here.execute(popped);
    }
    false
}

/// Stops the call, if any, if dropped, which only happens while unwinding (it is
/// forgotten otherwise).
struct StopOnUnwind<'a>(Option<&'a super::call::Call>);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        if let Some(call) = self.0 {
            call.fail();
        }
    }
}

/// Of two unwindings, the one to resume: a real panic before a cancellation. The
/// other payload is dropped here, and a panic of its drop is caught and forgotten: it
/// must not unwind out of a job (which would skip setting its latch) or replace the
/// panic kept.
pub(crate) fn pick(first: Panic, second: Option<Panic>) -> Panic {
    let (kept, lost) = match second {
        Some(second) if first.is::<Cancelled>() && !second.is::<Cancelled>() => (second, first),
        Some(second) => (first, second),
        None => return first,
    };
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(lost))) {
        // Its drop could panic too.
        std::mem::forget(again);
    }
    kept
}
