//! CPU fan-out on the runtime's own workers: fork-join ([`join`], [`scope`]) and
//! parallel slices and ranges ([`map`], [`try_map`], [`for_each`], [`reduce`],
//! [`sum`] and their `_range` forms).
//!
//! Closures may borrow: every call returns only after all of its pieces have ended.
//! Inside a runtime (a task, or [`Runtime::block_on`](crate::Runtime::block_on)) the
//! work runs on that runtime's workers; elsewhere on a default runtime with one worker
//! per core, started on first use. A worker that waits for a piece another worker
//! took runs other pieces meanwhile instead of blocking.
//!
//! So a closure always runs on a runtime's worker thread, even when the call was made
//! outside every runtime: like a task, it must not block that thread on a future.
//! [`pride::run`](crate::run) and [`Runtime::block_on`](crate::Runtime::block_on)
//! panic inside a closure; do the async work before or after the call instead.
//!
//! Work is split adaptively: a call runs in a few big pieces while the other workers
//! are busy, and is split finer where idle workers come to take pieces, so there is no
//! per-item task and no chunk size to choose.
//!
//! # Failures and cancellation
//!
//! Pieces of a call are children of the code that made the call:
//! - a piece that panics stops the call: pieces not yet started do not start, and the
//!   panic is resumed on the caller once the running ones have ended. If several
//!   pieces panicked, the one resumed is, for `join` and the slice forms, the
//!   leftmost one's (`join`'s first closure, the lowest items), whichever panicked
//!   first; for [`scope`], the body's, else the first spawn's to panic. A real panic
//!   is resumed before a [`Cancelled`] unwinding. A call made inside a piece is a
//!   call of its own: a piece may catch its panic and go on, and the enclosing call
//!   goes on too. The
//!   pieces of a tree of [`join`]s are its closures: a panic unwinds through the
//!   joins around it, each of which drops its other half unrun if nobody took it (as
//!   with rayon, a half another worker already runs is waited for), and a closure may
//!   catch it and go on, the tree with it. A panic that leaves the outermost join of
//!   a tree made outside any other call stops the whole tree: the halves not yet
//!   started there do not start;
//! - the `try_*` forms instead return `Err(GroupError)` holding every error and panic
//!   of their pieces (each a [`TaskError`](crate::TaskError)); the first one stops the
//!   call. A piece whose nested call unwound with [`Cancelled`] (the stop reaching it)
//!   was stopped, not failed. A `try_*` call that was stopped while none of its pieces
//!   failed has no failure to return: it unwinds with [`Cancelled`], like the other
//!   forms;
//! - inside a cancelled cancel scope (a deadline passed, or `cancel()` was called) no new
//!   piece starts and the call ends as soon as the running pieces have, unwinding with
//!   a [`Cancelled`] payload, since it has no value to return. So does a `try_*` call,
//!   unless pieces of it failed: it returns those failures in `Err(GroupError)`, not
//!   lost to the cancel. That unwind is cancelled work, not a panic: the cancelled
//!   scope around the call
//!   ([`CancelScope::run`](crate::CancelScope::run), `move_on_*`, a task group's body or
//!   child) catches it exactly as it drops suspended work, so a group child that passes
//!   a stopped `try_*` call's outcome on with `?` does not fail its group. A deadline
//!   set or moved while the call runs counts too. A slice form over no items has no
//!   piece to stop and returns its empty value there; [`join`] and [`scope`], whose
//!   closures are pieces, unwind;
//! - a call in the cleanup of cancelled work (the `Drop` of a future that a cancel
//!   dropped, run inside the cancelled scope) starts nothing either, and its
//!   [`Cancelled`] ends that cleanup (the rest of the `Drop` does not run) as cancelled
//!   work, not as a panic of the cleanup: like a checkpoint in cleanup under a cancel in
//!   Trio. Cleanup whose call must run makes it where no cancel stands: keep what it
//!   needs outside the cancelled work (the work borrows it, or shares it through an
//!   `Arc`) and make the call after the scope's wrapper has returned. A call made
//!   while a panic unwinds (in a `Drop` that unwind runs, the second of two guards
//!   dropped with the work, say) cannot unwind: it does not stop for a cancel, and
//!   runs to its end;
//! - every piece runs in the cancel scope the call was made in, on whichever worker:
//!   what it reads of the current scope, such as
//!   [`current_effective_deadline`](crate::current_effective_deadline), is what the
//!   caller reads.
//!
//! A running piece is not interrupted: a call ends promptly if its pieces are short.
//! For the slice forms a piece stops between two items, within about 100 µs (at
//! most 1,024 items) of the call stopping; for `join` and `scope` the pieces are the
//! closures.
//!
//! # Sharing the workers with async tasks
//!
//! A `par` call inside a task blocks that task (not its worker) until the call ends,
//! like any synchronous function. Workers busy with `par` work keep the rest of the
//! runtime going: between items, joins and `scope` spawns, about once a millisecond,
//! they fire due timers, poll the I/O driver, and poll a few of their queued tasks, so
//! the sleeps and sockets of other tasks are not held back for the length of a long
//! fan-out. Those tasks then run on the stack of the `par` work, as work-stealing does
//! with pieces: do not hold a lock across a `par` call that such a task could need. A
//! long `par` call made by such a task does the same upkeep, down to a few levels of
//! calls nested so on one worker (deeper, it still fires timers and offers the woken
//! tasks to the other workers, but polls none itself). If
//! such a task drops, by hand, the future of the task group whose child made the call
//! (a `select!` whose other branch won), the drop cannot wait for that child, further
//! down the same stack: the call stops as the task's poll returns, and the groups
//! around the dropped one wait for the child to be dropped (see
//! [`semantics`](crate::semantics), "No orphans").
//!
//! ```
//! let words = ["fork", "join", "on", "pride"];
//! let lengths = pride::par::map(&words, |w| w.len());
//! assert_eq!(lengths, [4, 4, 2, 5]);
//! assert_eq!(pride::par::sum(&lengths, |&n| n), 15);
//! ```

mod call;
mod collect;
mod job;
mod join;
pub(crate) mod latch;
mod registry;
mod scope;
mod slice;

use std::iter::Sum;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

pub(crate) use job::JobRef;
pub(crate) use registry::{
    Queues, WorkerPar, queues, run_one, runs_par_piece_here, runs_par_work_here,
};
pub use scope::{Scope, scope};

use call::Call;
use collect::{Written, filled};
use registry::{Here, in_call, in_worker};
use slice::{Items, Iterated, Pieces, Zip, bridge};

use crate::group::error::{BoxError, GroupError, Kind};

/// The unwinding payload of a `par` call that was stopped (by a cancelled scope, or by
/// the enclosing call stopping) before it had a value to return: any form, but a
/// `try_*` call in which pieces failed, which returns [`GroupError`] with those
/// failures instead.
///
/// It is resumed with [`std::panic::resume_unwind`], so no panic message is printed.
///
/// ```
/// use std::panic::{AssertUnwindSafe, catch_unwind};
///
/// let caught = catch_unwind(AssertUnwindSafe(|| std::panic::resume_unwind(Box::new(pride::par::Cancelled))));
/// // A payload from a par call stopped by a cancelled scope is recognised as such.
/// assert!(caught.unwrap_err().downcast_ref::<pride::par::Cancelled>().is_some());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the par call was cancelled")
    }
}

impl std::error::Error for Cancelled {}

fn cancelled() -> ! {
    resume_unwind(Box::new(Cancelled))
}

/// Whether an unwinding `payload` is a `par` call stopped by a cancelled scope. The
/// scope wrappers, a group's body and its children, and the drop of cancelled work
/// (its cleanup) treat it as cancelled work when a scope around them is cancelled, not
/// as a panic.
pub(crate) fn is_cancel_unwind(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<Cancelled>()
}

/// Runs `a` and `b`, potentially in parallel, and returns both results.
///
/// `a` runs on the calling worker; `b` runs on a worker that is looking for work, or
/// else here too, before or after `a`. Both may borrow from the caller. If either
/// panics, the panic is resumed here once the other has ended (or was dropped
/// unstarted); if both panicked, `a`'s. A `join` made outside any other `par` call (the
/// outermost join of a tree) whose closure panics also stops the joins still running
/// in the other one: their halves not yet started unwind with [`Cancelled`].
///
/// ```
/// fn sum(v: &[u64]) -> u64 {
///     if v.len() <= 1024 {
///         return v.iter().sum();
///     }
///     let (l, r) = v.split_at(v.len() / 2);
///     let (a, b) = pride::par::join(|| sum(l), || sum(r));
///     a + b
/// }
/// let v: Vec<u64> = (0..100_000).collect();
/// assert_eq!(sum(&v), 4_999_950_000);
/// ```
#[doc(alias = "rayon::join")]
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    /// Neither half starts once the call has stopped.
    fn unless_stopped<R>(here: &Here<'_>, f: impl FnOnce() -> R) -> R {
        if here.call().stopped() {
            cancelled();
        }
        f()
    }
    // Only the outermost join of a tree stops the tree when a panic leaves it: a
    // closure around an inner join may catch its panic and go on.
    in_call(|here, outermost| {
        join::join_context(
            here,
            join::Offer::Kept,
            outermost,
            |here, _| unless_stopped(here, a),
            |here, _| unless_stopped(here, b),
        )
    })
}

/// Runs a slice form as a call of its own, nested in the call `here` runs in: a
/// panic or failure of its pieces stops this call only, since the piece it is nested
/// in may catch the panic and go on.
fn own_call<R>(here: &Here<'_>, run: impl FnOnce(&Call) -> R) -> R {
    let call = Call::new(here.call_ptr());
    here.with_call(&call, || run(&call))
}

/// A panicking form's value, unless pieces of its `call` were skipped.
fn finish<R>(call: &Call, value: R) -> R {
    if call.was_skipped() {
        drop(value);
        cancelled();
    }
    value
}

fn collect<P, U, F>(here: &Here<'_>, items: P, f: &F) -> Vec<U>
where
    P: Iterated,
    U: Send,
    F: Fn(P::Item) -> U + Sync,
{
    let len = items.len();
    own_call(here, |call| {
        let out = filled(len, |slots| {
            bridge(
                here,
                Zip(items, slots),
                &|here: &Here<'_>, Zip(items, slots): Zip<P, _>| {
                    let mut written = Written::new(slots);
                    let mut items = Items::new(here, items);
                    for item in &mut items {
                        written.push(f(item));
                    }
                    let rest = items.rest().map(|rest| Zip(rest, written.unwritten()));
                    (Pieces::one(written), rest)
                },
                &Pieces::append,
            )
        });
        match out {
            Some(out) => finish(call, out),
            // Only a stopped call leaves a piece short.
            None => cancelled(),
        }
    })
}

fn try_collect<P, U, E, F>(here: &Here<'_>, items: P, f: &F) -> Result<Vec<U>, GroupError>
where
    P: Iterated,
    U: Send,
    E: Into<BoxError>,
    F: Fn(P::Item) -> Result<U, E> + Sync,
{
    let len = items.len();
    own_call(here, |call| {
        let out = filled(len, |slots| {
            bridge(
                here,
                Zip(items, slots),
                &|here: &Here<'_>, Zip(items, slots): Zip<P, _>| {
                    let mut written = Written::new(slots);
                    let mut items = Items::new(here, items);
                    let ran = catch_unwind(AssertUnwindSafe(|| {
                        for item in &mut items {
                            match f(item) {
                                Ok(value) => written.push(value),
                                Err(error) => {
                                    here.call().record(Kind::Error(error.into()));
                                    return false;
                                }
                            }
                        }
                        true
                    }));
                    let rest = match ran {
                        Ok(true) => items.rest(),
                        Ok(false) => None,
                        // A call nested in the piece was stopped: the stop of this
                        // call (or of the scope) reached the piece, which is no
                        // failure of its own. (A `Cancelled` the piece raised itself,
                        // with nothing stopped, is a panic like any other.)
                        Err(stop)
                            if is_cancel_unwind(&*stop) && {
                                here.call().refresh();
                                here.call().stopped()
                            } =>
                        {
                            here.call().cut_short();
                            None
                        }
                        Err(panic) => {
                            here.call().record_panic(panic);
                            None
                        }
                    };
                    let rest = rest.map(|rest| Zip(rest, written.unwritten()));
                    (Pieces::one(written), rest)
                },
                &Pieces::append,
            )
        });
        if call.has_errors() {
            return Err(call.take_error());
        }
        match out {
            Some(out) => Ok(finish(call, out)),
            // Only a failure or a stop leaves a piece short, and none failed.
            None => cancelled(),
        }
    })
}

fn fold<P, R, I, M, O>(here: &Here<'_>, items: P, identity: &I, map: &M, op: &O) -> R
where
    P: Iterated,
    R: Send,
    I: Fn() -> R + Sync,
    M: Fn(P::Item) -> R + Sync,
    O: Fn(R, R) -> R + Sync,
{
    own_call(here, |call| {
        let value = bridge(
            here,
            items,
            &|here: &Here<'_>, piece: P| {
                let mut items = Items::new(here, piece);
                let value = (&mut items).map(map).fold(identity(), op);
                (value, items.rest())
            },
            op,
        );
        finish(call, value)
    })
}

/// Applies `f` to every item, in parallel, and returns the results in input order.
///
/// ```
/// let squares = pride::par::map(&[1, 2, 3], |x| x * x);
/// assert_eq!(squares, [1, 4, 9]);
/// ```
pub fn map<T, U, F>(items: &[T], f: F) -> Vec<U>
where
    T: Sync,
    U: Send,
    F: Fn(&T) -> U + Sync,
{
    let f = &f;
    in_worker(|here| collect(here, items, f))
}

/// [`map`] over the indices of `range`.
///
/// ```
/// let v = pride::par::map_range(0..4, |i| i * 10);
/// assert_eq!(v, [0, 10, 20, 30]);
/// ```
pub fn map_range<U, F>(range: Range<usize>, f: F) -> Vec<U>
where
    U: Send,
    F: Fn(usize) -> U + Sync,
{
    let f = &f;
    in_worker(|here| collect(here, range, f))
}

/// Like [`map`] for a fallible `f`: the first error (or panic) stops the call, and
/// `Err(GroupError)` holds every error and panic of the pieces, each as a
/// [`TaskError`](crate::TaskError).
///
/// Stopped by a cancelled scope (or by the enclosing call) before any piece failed, it
/// has no failure to return and unwinds with [`Cancelled`], like [`map`]: the scope
/// catches that as cancelled work.
///
/// ```
/// let parsed = pride::par::try_map(&["1", "2", "x"], |s| s.parse::<u32>());
/// let err = parsed.unwrap_err();
/// assert_eq!(err.errors().len(), 1);
/// assert!(err.find::<std::num::ParseIntError>().is_some());
/// ```
pub fn try_map<T, U, E, F>(items: &[T], f: F) -> Result<Vec<U>, GroupError>
where
    T: Sync,
    U: Send,
    E: Into<BoxError>,
    F: Fn(&T) -> Result<U, E> + Sync,
{
    let f = &f;
    in_worker(|here| try_collect(here, items, f))
}

/// [`try_map`] over the indices of `range`.
///
/// ```
/// let squares = pride::par::try_map_range(0..4, |i| Ok::<_, std::num::TryFromIntError>(u8::try_from(i * i)?))
///     .unwrap();
/// assert_eq!(squares, [0, 1, 4, 9]);
/// let error = pride::par::try_map_range(0..100, |i| u8::try_from(i * i)).unwrap_err();
/// assert!(!error.errors().is_empty()); // every failing piece that ran is reported
/// ```
pub fn try_map_range<U, E, F>(range: Range<usize>, f: F) -> Result<Vec<U>, GroupError>
where
    U: Send,
    E: Into<BoxError>,
    F: Fn(usize) -> Result<U, E> + Sync,
{
    let f = &f;
    in_worker(|here| try_collect(here, range, f))
}

/// Applies `f` to every item, in parallel, with mutable access.
///
/// ```
/// let mut v = vec![1, 2, 3];
/// pride::par::for_each(&mut v, |x| *x *= 2);
/// assert_eq!(v, [2, 4, 6]);
/// ```
pub fn for_each<T, F>(items: &mut [T], f: F)
where
    T: Send,
    F: Fn(&mut T) + Sync,
{
    let f = &f;
    in_worker(|here| fold(here, items, &|| (), f, &|(), ()| ()));
}

/// [`for_each`] over the indices of `range`.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let hits = AtomicUsize::new(0);
/// pride::par::for_each_range(0..100, |_| {
///     hits.fetch_add(1, Ordering::Relaxed);
/// });
/// assert_eq!(hits.into_inner(), 100);
/// ```
pub fn for_each_range<F>(range: Range<usize>, f: F)
where
    F: Fn(usize) + Sync,
{
    let f = &f;
    in_worker(|here| fold(here, range, &|| (), f, &|(), ()| ()));
}

/// Maps every item with `map` and combines the results with `op`, in parallel.
/// `identity()` must be an identity of `op`, and `op` associative: pieces are
/// combined in input order, but grouped as the splitting went.
///
/// ```
/// let words = ["a", "bb", "ccc"];
/// let longest = pride::par::reduce(&words, || 0, |w| w.len(), usize::max);
/// assert_eq!(longest, 3);
/// ```
pub fn reduce<T, R, I, M, O>(items: &[T], identity: I, map: M, op: O) -> R
where
    T: Sync,
    R: Send,
    I: Fn() -> R + Sync,
    M: Fn(&T) -> R + Sync,
    O: Fn(R, R) -> R + Sync,
{
    let (identity, map, op) = (&identity, &map, &op);
    in_worker(|here| fold(here, items, identity, map, op))
}

/// [`reduce`] over the indices of `range`.
///
/// ```
/// let max_square = pride::par::reduce_range(0..10, || 0, |i| i * i, usize::max);
/// assert_eq!(max_square, 81);
/// ```
pub fn reduce_range<R, I, M, O>(range: Range<usize>, identity: I, map: M, op: O) -> R
where
    R: Send,
    I: Fn() -> R + Sync,
    M: Fn(usize) -> R + Sync,
    O: Fn(R, R) -> R + Sync,
{
    let (identity, map, op) = (&identity, &map, &op);
    in_worker(|here| fold(here, range, identity, map, op))
}

/// The sum of `f` over the items, in parallel.
///
/// ```
/// assert_eq!(pride::par::sum(&[1u64, 2, 3], |&x| x), 6);
/// ```
pub fn sum<T, S, F>(items: &[T], f: F) -> S
where
    T: Sync,
    S: Send + Sum<S>,
    F: Fn(&T) -> S + Sync,
{
    let f = &f;
    in_worker(|here| sum_of(here, items, f))
}

/// The sum of `f` over the indices of `range`, in parallel.
///
/// ```
/// assert_eq!(pride::par::sum_range(0..101, |i| i as u64), 5050);
/// ```
pub fn sum_range<S, F>(range: Range<usize>, f: F) -> S
where
    S: Send + Sum<S>,
    F: Fn(usize) -> S + Sync,
{
    let f = &f;
    in_worker(|here| sum_of(here, range, f))
}

fn sum_of<P, S, F>(here: &Here<'_>, items: P, f: &F) -> S
where
    P: Iterated,
    S: Send + Sum<S>,
    F: Fn(P::Item) -> S + Sync,
{
    own_call(here, |call| {
        let value = bridge(
            here,
            items,
            &|here: &Here<'_>, piece: P| {
                let mut items = Items::new(here, piece);
                let value = (&mut items).map(f).sum();
                (value, items.rest())
            },
            &|a: S, b: S| [a, b].into_iter().sum(),
        );
        finish(call, value)
    })
}
