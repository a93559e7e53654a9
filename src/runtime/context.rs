//! Thread-local runtime context: which runtime (and which worker) this thread serves.
//!
//! A worker thread has both a handle and its [`Core`]; a `block_on` thread has only
//! the handle. A blocking-pool thread, while it runs a `to_thread` closure, has the
//! closure's runtime as its *pool* handle: the current runtime for whatever the closure
//! makes (sockets, timers, tasks), where no handle is entered, though the thread does
//! not run inside that runtime, so it may still call `block_on`. Entering is scoped by
//! guards, so a panic unwinds the context too.
//!
//! The one `unsafe` here turns the stored core pointer back into a reference, and rests
//! on two rules:
//!
//! 1. The core pointer is set only by `enter_worker`, whose caller (the worker loop)
//!    keeps that `Core` alive and in place until the returned `EnterGuard` drops, and
//!    the guard nulls the pointer on drop (also when unwinding): a non-null pointer
//!    always points at a live `Core`.
//! 2. The pointer is thread-local and the guard is not `Send`, so only the thread that
//!    set it reads it or clears it.

use std::cell::{Cell, RefCell};
use std::ptr;

use super::worker::{Core, Handle};

struct Context {
    /// The runtime this thread runs inside: a worker's, or a `block_on`'s.
    handle: RefCell<Option<Handle>>,
    /// On a blocking-pool thread running a closure: the closure's runtime.
    pool: RefCell<Option<Handle>>,
    core: Cell<*const Core>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            handle: RefCell::new(None),
            pool: RefCell::new(None),
            core: Cell::new(ptr::null()),
        }
    };
}

/// Leaves the runtime context when dropped.
pub(crate) struct EnterGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CONTEXT.with(|cx| {
            cx.core.set(ptr::null());
            cx.handle.borrow_mut().take();
        });
    }
}

/// Panics, naming `what` (the caller's function), if this thread cannot enter a
/// runtime: it already runs inside one (blocking a worker, or a `block_on` future, on
/// another future would stall every task queued behind it), or it is destroying its
/// thread-locals and this context is gone (a thread-local's destructor runs `what`).
#[track_caller]
pub(crate) fn assert_can_enter(what: &str) {
    match CONTEXT.try_with(|cx| cx.handle.borrow().is_some()) {
        Ok(false) => {}
        // The caller may have entered no runtime: a `par` call made outside every
        // runtime runs its closures on the default `par` runtime's workers.
        Ok(true) if crate::par::runs_par_piece_here() => panic!(
            "pride: cannot call {what} inside a `pride::par` closure: par closures run on \
             a pride runtime's worker threads (the default par runtime's for a call made \
             outside any runtime), and blocking one would stall the tasks it drives; do \
             the async work before or after the `par` call"
        ),
        Ok(true) => panic!(
            "pride: cannot call {what} from within a pride runtime: it would block the \
             thread that drives this runtime's tasks; `.await` the future instead"
        ),
        Err(_) => panic!(
            "pride: cannot call {what} from a thread-local's destructor once this \
             thread's pride context is destroyed: the future could reach no runtime"
        ),
    }
}

/// Enters `handle`'s context on this thread, for `block_on`. Panics where
/// [`assert_can_enter`] does.
#[track_caller]
pub(crate) fn enter(handle: &Handle) -> EnterGuard {
    assert_can_enter("`block_on`");
    CONTEXT.with(|cx| *cx.handle.borrow_mut() = Some(handle.clone()));
    EnterGuard {
        _not_send: std::marker::PhantomData,
    }
}

/// Gives the pool handle back to what it was before [`enter_pool`] when dropped.
pub(crate) struct PoolGuard {
    before: Option<Handle>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for PoolGuard {
    fn drop(&mut self) {
        let before = self.before.take();
        // During thread-local destruction there is nothing to give back.
        let _ = CONTEXT.try_with(|cx| cx.pool.replace(before));
    }
}

/// Makes `handle` this thread's pool handle, for a `to_thread` closure that runs on a
/// blocking-pool thread: what the closure makes belongs to `handle`'s runtime, and it
/// may still call `block_on` (see the module docs).
pub(crate) fn enter_pool(handle: Handle) -> PoolGuard {
    // A kept job that a runtime's drop runs itself may run during thread-local
    // destruction: without a context, the closure runs outside the runtime.
    let before = CONTEXT.try_with(|cx| cx.pool.replace(Some(handle)));
    PoolGuard {
        before: before.ok().flatten(),
        _not_send: std::marker::PhantomData,
    }
}

/// Whether this thread runs a `to_thread` closure outside every runtime: it has a pool
/// handle and no runtime entered (a closure's own `block_on` enters one).
pub(crate) fn in_closure_only() -> bool {
    CONTEXT
        .try_with(|cx| cx.handle.borrow().is_none() && cx.pool.borrow().is_some())
        .unwrap_or(false)
}

/// Enters a worker's context; `core` must outlive the guard.
pub(crate) fn enter_worker(core: &Core) -> EnterGuard {
    let guard = enter(core.handle());
    CONTEXT.with(|cx| cx.core.set(core));
    guard
}

/// Runs `f` with this thread's worker core, if it is a worker. During thread-local
/// destruction (a wake or a cancel from another thread-local's destructor, after the
/// context is gone) `f` gets `None`, as on any thread that is not a worker.
///
/// Every `par` call starts here: inlined, it costs a join only the thread-local read.
#[inline]
pub(crate) fn with_core<R>(f: impl FnOnce(Option<&Core>) -> R) -> R {
    let mut f = Some(f);
    let ran = CONTEXT.try_with(|cx| {
        let core = cx.core.get();
        let f = f.take().expect("called once");
        // SAFETY: the pointer is set by `enter_worker` from a `&Core` that outlives the
        // guard that clears it, and only this thread reads it.
        f(unsafe { core.as_ref() })
    });
    match ran {
        Ok(output) => output,
        Err(_) => (f.take().expect("not called when the context is gone"))(None),
    }
}

/// The current runtime's handle, if this thread is inside one or runs a `to_thread`
/// closure.
pub(crate) fn try_handle() -> Option<Handle> {
    with_current(|handle| handle.cloned())
}

/// The current runtime's handle. Panics with a clear message outside a runtime.
#[track_caller]
pub(crate) fn handle(what: &str) -> Handle {
    // The panic is in this body, not in a closure: a closure does not inherit
    // `#[track_caller]`, so its panic would name this file instead of the caller's line.
    match try_handle() {
        Some(handle) => handle,
        None => panic!(
            "pride: {what} must run within a pride runtime \
             (inside `Runtime::block_on`, `pride::run` or a `to_thread` closure)"
        ),
    }
}

/// Runs `f` with the current runtime's handle, borrowed (no reference count is
/// touched, so hot paths that only read the runtime stay off its shared cache line).
/// During thread-local destruction, after the context is gone, `f` gets `None`, as
/// outside a runtime.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    let mut f = Some(f);
    let ran = CONTEXT.try_with(|cx| {
        let (handle, pool) = (cx.handle.borrow(), cx.pool.borrow());
        // A closure that outlives its runtime's drop runs outside every runtime: what
        // it made there would be dropped unrun, or wait for a driver that is gone.
        let pool = pool.as_ref().filter(|pool| !pool.is_shut_down());
        (f.take().expect("called once"))(handle.as_ref().or(pool))
    });
    match ran {
        Ok(output) => output,
        Err(_) => (f.take().expect("not called when the context is gone"))(None),
    }
}

/// Runs `f` with the current runtime's time driver. Panics with a clear message when
/// called outside a pride runtime.
#[track_caller]
pub(crate) fn with_time<R>(f: impl FnOnce(&crate::time::TimeDriver) -> R) -> R {
    // Panics in this body, not in the closure, for the caller's location (as `handle`).
    match with_current(|handle| handle.map(|handle| f(handle.time()))) {
        Some(output) => output,
        None => panic!(
            "pride: a time function must be called from within a pride runtime \
             (inside `Runtime::block_on`, `pride::run` or a `to_thread` closure)"
        ),
    }
}

/// Index of the worker this thread is, if it is a worker thread.
pub(crate) fn worker_index() -> Option<usize> {
    with_core(|core| core.map(Core::index))
}
