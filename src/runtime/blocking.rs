//! The blocking pool: threads for closures that block, reached through [`to_thread`].
//!
//! Jobs go through an unbounded crossbeam channel to pool threads. Threads are spawned
//! on demand, when more jobs are queued than threads wait for one, up to a cap
//! ([`DEFAULT_MAX_THREADS`], or `Builder::max_blocking_threads`); beyond the cap, jobs
//! wait in the queue. A thread whose closure waits in a `block_on` of the pool's own
//! runtime does not count toward the cap meanwhile: that `block_on` may wait for a
//! queued job, which must find a thread. A thread that finds no job for [`KEEP_ALIVE`]
//! exits.
//!
//! Rules:
//! - `State` (threads, idle, queued, nested) changes only under its lock. A submitter,
//!   under the lock, spawns a thread if the job would find no idle one
//!   (`queued >= idle`) and fewer than the cap run outside a nested `block_on` or a
//!   closure that submitted a job (`threads - nested - lent`: `nested` counts the
//!   threads inside [`BlockingPool::nested_block_on`], from its start to its guard's
//!   drop; `lent` the pool threads whose closure submitted a job of its own, which it
//!   may wait for, once each, until that closure ends), then
//!   sends the job and counts it queued: every queued job has a waiting thread, or a
//!   thread on its way, unless a spawn failed. If no thread runs and none can be
//!   spawned, the job is refused before it is queued (it would wait for ever); with
//!   threads running, it waits for one of them to be done with its job. A waiting thread
//!   counts itself idle before it waits and un-idles (and un-queues the job it got)
//!   under the lock, so the difference stays exact; a thread that times out while jobs
//!   are queued waits again instead of exiting.
//! - A job is claimed by the thread (`QUEUED -> RUNNING`) or cancelled by the dropped
//!   future (`QUEUED -> CANCELLED`), whichever comes first; a cancelled job never runs
//!   its closure. A running closure cannot be stopped: dropping the future then only
//!   discards its result.
//! - Shutdown (the start of the runtime's drop) marks the pool shut and drops the
//!   sender: threads finish the job at hand, skip the queued jobs (a job taken once
//!   the pool is shut cancels itself, and tells its future, should anyone poll it,
//!   that it never ran: the public poll panics saying why, `ToThread::poll_ran`
//!   returns `NotRun`) and exit. Nobody joins them: a closure that blocks forever
//!   must not hang the runtime's drop, so the threads are detached, and the drop waits
//!   for no closure of the user's.
//! - The exception is a kept job ([`to_thread_kept`]: an `fs::File` call that changes
//!   the file): it runs even when the pool is shut, and even when its future is gone
//!   (detached by a dropped `File`), and the runtime's drop waits for it
//!   ([`BlockingPool::wait_for_kept`]): a program that ends right after it loses no
//!   write it was told was done. It holds a [`Kept`] token, counted in `State`, from
//!   its submission until it has run and let go of what its closure held (the file),
//!   or, never run, is dropped with the pool. So that the drop never waits behind a
//!   user's closure (at the cap, a kept job may be queued behind closures that block
//!   for ever), the dropping thread takes the queued jobs itself once the pool is shut:
//!   the kept ones run there, the others cancel themselves; then it waits only for the
//!   kept jobs already running.
//! - A job is busy (it holds the autojump clock) while somebody waits for it: from its
//!   submission until it ends, or until its future lets it go (dropped, not detached:
//!   nobody will take what it does, so a closure that blocks for ever, still running,
//!   holds nothing). The count is a [`Busy`] token in the [`Hold`] the job and its
//!   future share, taken out and dropped by whichever side is done first; the job
//!   drops it after it woke its waiter. While a closure waits in a `block_on` of the
//!   pool's own runtime, that call holds the token instead (the call's root counts as
//!   any `block_on`'s does): a pool thread knows its pool and the hold of the job it
//!   runs, and [`BlockingPool::nested_block_on`] takes the token for the call and puts
//!   it back after, unless the future let the job go meanwhile.
//! - A panic that comes out of a job (its closure's own panic is caught and resumed in
//!   the awaiting task; what is left is a cancelled closure's captures that panic when
//!   dropped, or a waker that panics) is contained by the pool thread, which stays in
//!   the pool; the job's token is dropped as it unwinds.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use std::sync::atomic::{AtomicBool, AtomicUsize};

use crate::loom::sync::atomic::{AtomicU8, Ordering};
use crate::loom::sync::{Arc, Condvar, Mutex};

/// The default cap on blocking threads.
pub(crate) const DEFAULT_MAX_THREADS: usize = 512;
/// How long an idle blocking thread waits for a job before it exits.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// A queued closure; its argument says whether the pool was shut when it was taken.
type Job = Box<dyn FnOnce(bool) + Send>;

struct State {
    /// Pool threads alive.
    threads: usize,
    /// Threads waiting for a job.
    idle: usize,
    /// Jobs sent and not yet received.
    queued: usize,
    /// Threads whose closure is inside a `block_on` of the pool's runtime; they do not
    /// count toward the cap.
    nested: usize,
    /// Threads whose closure submitted a job to this pool (see `LENT`); they do not
    /// count toward the cap either.
    lent: usize,
    /// Kept jobs not yet run.
    kept: usize,
}

impl State {
    /// The threads that count toward the cap: not inside a nested `block_on`, nor
    /// running a closure that submitted a job (a thread may be both: saturating).
    fn counted(&self) -> usize {
        self.threads.saturating_sub(self.nested + self.lent)
    }
}

struct Inner {
    /// Jobs queued or running. A job's waker runs inside the job, so a job that made a
    /// task runnable has done so before this count drops.
    busy: AtomicUsize,
    sender: Mutex<Option<Sender<Job>>>,
    receiver: Receiver<Job>,
    /// Set at shutdown, before the sender is dropped.
    shut: AtomicBool,
    state: Mutex<State>,
    /// Notified when the last kept job has run.
    kept_ran: Condvar,
    max_threads: usize,
    thread_name: String,
    stack_size: Option<usize>,
}

/// Why the pool did not take a job.
#[derive(Debug)]
enum Refused {
    /// The runtime is shutting down.
    ShutDown,
    /// No thread runs and none could be started (the system's error).
    NoThread(std::io::Error),
}

thread_local! {
    /// The pool whose thread this is; null on every other thread. Only compared, never
    /// read through: the thread holds its pool alive while it runs.
    static POOL: Cell<*const Inner> = const { Cell::new(std::ptr::null()) };
    /// This pool thread's closure has submitted a job to its own pool (counted in
    /// `State::lent` until the closure ends).
    static LENT: Cell<bool> = const { Cell::new(false) };
}

/// The pool; owned by the runtime's shared state.
pub(crate) struct BlockingPool {
    inner: std::sync::Arc<Inner>,
}

impl BlockingPool {
    pub(crate) fn new(
        max_threads: usize,
        thread_name: String,
        stack_size: Option<usize>,
    ) -> BlockingPool {
        let (sender, receiver) = crossbeam_channel::unbounded();
        BlockingPool {
            inner: std::sync::Arc::new(Inner {
                busy: AtomicUsize::new(0),
                sender: Mutex::new(Some(sender)),
                receiver,
                state: Mutex::new(State {
                    threads: 0,
                    idle: 0,
                    queued: 0,
                    nested: 0,
                    lent: 0,
                    kept: 0,
                }),
                shut: AtomicBool::new(false),
                kept_ran: Condvar::new(),
                max_threads,
                thread_name,
                stack_size,
            }),
        }
    }

    /// Counts a job busy until the returned token is dropped.
    fn hold(&self) -> Busy {
        self.inner.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self.inner.clone())
    }

    /// Queues `job`, starting a thread for it if every thread is busy (below the cap,
    /// which threads inside a nested `block_on`, or whose closure submitted a job it
    /// may wait for, do not count toward: else at the cap such a job could wait behind
    /// its own caller for ever).
    /// Refused if the pool is shut down, or if it has no thread and cannot start one:
    /// the job would wait for ever.
    fn submit(&self, job: Job) -> Result<(), Refused> {
        let from_own_closure = POOL.with(|pool| std::ptr::eq(pool.get(), &*self.inner));
        let sender = self.inner.sender.lock();
        let Some(sender) = sender.as_ref() else {
            return Err(Refused::ShutDown);
        };
        let mut state = self.inner.state.lock();
        if from_own_closure && !LENT.with(|lent| lent.replace(true)) {
            state.lent += 1;
        }
        if state.queued >= state.idle && state.counted() < self.inner.max_threads {
            match self.start_thread(&mut state) {
                Ok(()) => {}
                // A thread that exists takes the job in its turn, unless every one
                // waits in a nested `block_on` or runs a closure that submitted a job,
                // which may wait for this very job.
                Err(_) if state.counted() > 0 => {}
                Err(error) => return Err(Refused::NoThread(error)),
            }
        }
        if sender.send(job).is_err() {
            return Err(Refused::ShutDown);
        }
        state.queued += 1;
        Ok(())
    }

    /// Starts a pool thread, counted in `state` (the pool's locked state).
    fn start_thread(&self, state: &mut State) -> std::io::Result<()> {
        let inner = self.inner.clone();
        let mut thread = std::thread::Builder::new().name(self.inner.thread_name.clone());
        if let Some(bytes) = self.inner.stack_size {
            thread = thread.stack_size(bytes);
        }
        thread.spawn(move || inner.run())?;
        state.threads += 1;
        Ok(())
    }

    /// Threads, idle threads and queued jobs, for the runtime's metrics.
    pub(crate) fn load(&self) -> (usize, usize, usize) {
        let state = self.inner.state.lock();
        (state.threads, state.idle, state.queued)
    }

    /// Whether a job somebody waits for (or a kept one) is queued or running. The
    /// autojump clock does not jump while one is: the task waiting for it is not
    /// waiting on time. SeqCst, against the job's
    /// wake-up: a check that reads zero also sees the task the last job woke.
    pub(crate) fn is_busy(&self) -> bool {
        self.inner.busy.load(Ordering::SeqCst) != 0
    }

    /// Called by `block_on` of this pool's runtime, once it counts as a running
    /// `block_on`: on one of this pool's threads (a closure that calls `block_on` of
    /// its own runtime), takes the thread's job out of the busy count (its token goes
    /// to the guard), and the thread out of the cap, until the returned guard is
    /// dropped, before the call stops counting as running. The thread then waits as that call's root does, and the
    /// autojump clock may jump while the root waits on time; a job the call waits for
    /// (its future's `to_thread`) can start a thread even at the cap. `None` (nothing
    /// changed) on any other thread.
    pub(crate) fn nested_block_on(&self) -> Option<NestedBlockOn> {
        let ours = POOL.with(|pool| std::ptr::eq(pool.get(), &*self.inner));
        ours.then(|| {
            {
                let mut state = self.inner.state.lock();
                state.nested += 1;
                // A job queued before this thread left the cap may be what the call
                // waits for: it finds a thread now (or, if none can start, waits for
                // one of those outside a `block_on`, as any job does).
                if state.queued > state.idle && state.counted() < self.inner.max_threads {
                    let _ = self.start_thread(&mut state);
                }
            }
            let job = JOB.with(|job| job.borrow().clone());
            // The job's count goes for the call (dropped outside the hold's lock).
            let busy = job.as_ref().and_then(|hold| hold.lock().busy.take());
            let job = job.filter(|_| busy.is_some());
            drop(busy);
            NestedBlockOn {
                pool: BlockingPool {
                    inner: self.inner.clone(),
                },
                job,
            }
        })
    }

    /// Stops accepting jobs: the queued ones are skipped, except kept ones; threads
    /// exit once the queue is empty.
    pub(crate) fn shutdown(&self) {
        self.inner.shut.store(true, Ordering::SeqCst);
        self.inner.sender.lock().take();
    }

    /// Waits until every kept job has run (the runtime's drop, once its tasks, and the
    /// `File`s they held, are gone). After [`shutdown`](Self::shutdown): no job is
    /// queued from then on, and this thread takes the queued ones itself (the kept
    /// ones run here, the others cancel themselves), so that it waits only for kept
    /// jobs already running, never for a thread busy with a closure of the user's.
    pub(crate) fn wait_for_kept(&self) {
        loop {
            let job = {
                let mut state = self.inner.state.lock();
                let job = self.inner.receiver.try_recv().ok();
                if job.is_some() {
                    state.queued -= 1;
                }
                job
            };
            match job {
                Some(job) => run_job(job, true),
                None => break,
            }
        }
        let mut state = self.inner.state.lock();
        while state.kept != 0 {
            self.inner.kept_ran.wait(&mut state);
        }
    }
}

/// A pool thread's job, out of the busy count (and the thread out of the cap) while
/// its closure runs `block_on` of the pool's runtime; counted back in when dropped,
/// unless its future let it go meanwhile.
pub(crate) struct NestedBlockOn {
    pool: BlockingPool,
    /// The hold of the job the thread runs, whose count the call took (none for a job
    /// nobody waited for, or that `to_thread` did not make).
    job: Option<std::sync::Arc<Mutex<Hold>>>,
}

impl Drop for NestedBlockOn {
    fn drop(&mut self) {
        if let Some(job) = &self.job {
            let mut hold = job.lock();
            if !hold.abandoned {
                hold.busy = Some(self.pool.hold());
            }
        }
        self.pool.inner.state.lock().nested -= 1;
    }
}

impl Inner {
    fn run(&self) {
        POOL.with(|pool| pool.set(self));
        loop {
            self.state.lock().idle += 1;
            let received = self.receiver.recv_timeout(KEEP_ALIVE);
            let mut state = self.state.lock();
            state.idle -= 1;
            match received {
                Ok(job) => {
                    state.queued -= 1;
                    drop(state);
                    // Read after the job was received: a job queued before the
                    // shutdown and taken after it sees it.
                    run_job(job, self.shut.load(Ordering::SeqCst));
                    if LENT.with(|lent| lent.replace(false)) {
                        self.state.lock().lent -= 1;
                    }
                }
                Err(RecvTimeoutError::Timeout) if state.queued > 0 => {}
                Err(_) => {
                    state.threads -= 1;
                    return;
                }
            }
        }
    }
}

/// Runs a job taken from the queue, `shut` telling it whether the pool was shut when
/// it was taken. A job catches its closure's panic, but a panic can still come out of
/// it: a cancelled closure's captures dropped, a waker that panics. The panic hook has
/// reported it and the job is over; the thread goes on (were a pool thread to unwind,
/// the pool would lose it with its count, and later jobs could wait for a thread that
/// is gone; the runtime's drop, which runs queued jobs too, must end).
fn run_job(job: Job, shut: bool) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| job(shut))) {
        // A payload whose drop panics is not this thread's business either.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(panic)));
    }
}

/// A kept job's count in the jobs the runtime's drop waits for, given back when
/// dropped.
struct Kept(std::sync::Arc<Inner>);

impl Kept {
    fn new(inner: std::sync::Arc<Inner>) -> Kept {
        inner.state.lock().kept += 1;
        Kept(inner)
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        let mut state = self.0.state.lock();
        state.kept -= 1;
        if state.kept == 0 {
            self.0.kept_ran.notify_all();
        }
    }
}

/// A job's count in the pool's busy count, given back when dropped.
struct Busy(std::sync::Arc<Inner>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const CANCELLED: u8 = 2;

/// What a job and its future share.
struct Shared<R> {
    state: AtomicU8,
    slot: Mutex<Slot<R>>,
    hold: std::sync::Arc<Mutex<Hold>>,
}

struct Slot<R> {
    result: Option<Outcome<R>>,
    waker: Option<Waker>,
}

/// How a job ended, for its future.
enum Outcome<R> {
    /// The closure returned this.
    Value(R),
    /// The closure panicked with this payload.
    Panic(Box<dyn Any + Send>),
    /// The closure never ran: the runtime's drop began while it was queued.
    Skipped,
}

/// Why a closure did not run: its runtime's drop began before it could (it was refused
/// at submission, or skipped while queued). [`ToThread::poll_ran`] returns it where
/// the future's own poll panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotRun;

/// A job's count in the busy count, while somebody waits for the job (see the module
/// rules); shared with its pool thread while the closure runs.
#[derive(Default)]
struct Hold {
    busy: Option<Busy>,
    /// The future was dropped (not detached): nobody waits for the job any more.
    abandoned: bool,
    /// A kept job's token, from its submission until it has run.
    kept: Option<Kept>,
}

thread_local! {
    /// On a pool thread, the hold of the job whose closure runs there, for
    /// [`BlockingPool::nested_block_on`].
    static JOB: RefCell<Option<std::sync::Arc<Mutex<Hold>>>> = const { RefCell::new(None) };
}

/// Marks the job whose closure runs on this thread, until dropped; then the mark
/// before it is back (a kept job the runtime's drop runs inside a pool thread's
/// closure).
struct Running(Option<std::sync::Arc<Mutex<Hold>>>);

impl Running {
    fn mark(hold: &std::sync::Arc<Mutex<Hold>>) -> Running {
        Running(JOB.with(|job| job.borrow_mut().replace(hold.clone())))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let hold = JOB.with(|job| std::mem::replace(&mut *job.borrow_mut(), self.0.take()));
        drop(hold);
    }
}

/// The future of [`to_thread`].
#[must_use = "futures do nothing unless awaited"]
pub struct ToThread<R> {
    job: Option<Job>,
    shared: Arc<Shared<R>>,
    /// A kept job (see [`to_thread_kept`]).
    kept: bool,
    /// Dropping the future leaves a queued closure to run (see [`detach`](Self::detach)).
    detached: bool,
    /// The value (or the panic) was handed out.
    done: bool,
}

impl<R> std::fmt::Debug for ToThread<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToThread")
            .field("submitted", &self.job.is_none())
            .finish_non_exhaustive()
    }
}

/// Runs the blocking closure `f` on the runtime's blocking pool and waits for its
/// value, without blocking a worker.
///
/// `f` is queued at the first poll. If the future is dropped (cancelled) before a pool
/// thread picks `f` up, `f` never runs; once it runs it cannot be stopped, and dropping
/// the future only discards the value. A panic in `f` resumes in the awaiting task
/// (inside a task group it becomes that task's panic error).
///
/// `f` runs in the context of the runtime the future was polled in: the sockets,
/// pipes, child processes and timers it makes belong to that runtime, as they would
/// in the awaiting task. It does not run inside the runtime, though: it may call
/// [`Runtime::block_on`](crate::Runtime::block_on) or [`run`](crate::run). On the
/// autojump clock, time stands still while a closure runs: a closure that waits on a
/// timer of its runtime through an executor of its own panics (waiting in that
/// runtime's `block_on` is fine: the clock moves on while it waits).
///
/// The pool grows on demand up to a cap of threads (512 unless
/// [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads) says
/// otherwise); beyond it, closures wait in a queue. A thread whose closure waits in
/// `block_on` of the same runtime does not count toward the cap while it waits there,
/// so that `block_on`'s own `to_thread` closures still find a thread. Idle threads
/// exit after 10 s.
/// Dropping the runtime does not wait for closures already running: their threads
/// finish them, detached, and exit. Closures still queued when the drop begins never
/// run. (The calls of an [`fs::File`](crate::fs::File) that change the file are the
/// exception: they run, and the runtime's drop waits for them.)
///
/// # Panics
/// When polled outside a pride runtime, when the runtime is shutting down, when the
/// pool has no thread and the system cannot start one (it is out of threads or
/// memory), or when polled again after it completed. A future whose closure was still
/// queued when its runtime's drop began (polled since in another runtime, say)
/// panics saying so.
///
/// ```
/// pride::run(async {
///     let worker = std::thread::current().id();
///     let (value, thread) = pride::to_thread(|| (6 * 7, std::thread::current().id())).await;
///     assert_eq!(value, 42);
///     assert_ne!(thread, worker);
/// });
/// ```
#[doc(alias = "spawn_blocking", alias = "run_sync")]
pub fn to_thread<F, R>(f: F) -> ToThread<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    ToThread::new(f, false)
}

/// [`to_thread`] for a call that must run once submitted (an `fs::File` call that
/// changes the file): it runs even if the runtime's drop begins while it is queued,
/// and the drop waits for it.
pub(crate) fn to_thread_kept<F, R>(f: F) -> ToThread<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    ToThread::new(f, true)
}

impl<R: Send + 'static> ToThread<R> {
    fn new<F>(f: F, kept: bool) -> ToThread<R>
    where
        F: FnOnce() -> R + Send + 'static,
    {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(QUEUED),
            slot: Mutex::new(Slot {
                result: None,
                waker: None,
            }),
            hold: Default::default(),
        });
        let job_shared = shared.clone();
        let job: Job = Box::new(move |shut| {
            if shut && !kept {
                // The runtime's drop has begun: a closure still queued never runs.
                if job_shared
                    .state
                    .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    let kept = job_shared.complete(Outcome::Skipped);
                    debug_assert!(kept.is_none(), "a kept job is never skipped");
                }
                return;
            }
            if job_shared
                .state
                .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return;
            }
            let result = {
                let _running = Running::mark(&job_shared.hold);
                match catch_unwind(AssertUnwindSafe(f)) {
                    Ok(value) => Outcome::Value(value),
                    Err(panic) => Outcome::Panic(panic),
                }
            };
            let kept = job_shared.complete(result);
            // The value (a dropped `File`'s file, say) goes first, if the future let
            // go of it: a runtime's drop that waits for the token finds it closed.
            drop(job_shared);
            drop(kept);
        });
        ToThread {
            job: Some(job),
            shared,
            kept,
            detached: false,
            done: false,
        }
    }
}

impl<R> Shared<R> {
    /// Hands the outcome to the future, wakes it, and gives the job's busy token back;
    /// returns its kept token, for the caller to drop once it has let go of the job.
    #[must_use]
    fn complete(&self, result: Outcome<R>) -> Option<Kept> {
        let waker = {
            let mut slot = self.slot.lock();
            slot.result = Some(result);
            slot.waker.take()
        };
        let (busy, kept) = {
            let mut hold = self.hold.lock();
            (hold.busy.take(), hold.kept.take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        // After the wake-up: a look that finds the pool idle sees the woken task.
        drop(busy);
        kept
    }
}

impl<R> ToThread<R> {
    /// Lets a submitted closure run to its end with nobody waiting for it: unlike a
    /// drop, this does not cancel it while it is queued. Its value is dropped by
    /// whichever side lets go of it last (the pool thread, unless it has already
    /// finished). The future must have been polled (the closure is submitted then).
    pub(crate) fn detach(mut self) {
        debug_assert!(self.job.is_none(), "detaching a closure never submitted");
        self.detached = true;
        // Nobody waits: the task that polled it last need not be woken, nor kept.
        drop(self.shared.slot.lock().waker.take());
    }
}

impl<R> Future for ToThread<R> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let this = self.get_mut();
        let submitted = this.job.is_none();
        match ready!(this.poll_ran(cx)) {
            Ok(value) => Poll::Ready(value),
            Err(NotRun) if submitted => {
                panic!("pride: the runtime was dropped before this to_thread closure ran")
            }
            Err(NotRun) => panic!("pride: to_thread called while the runtime shuts down"),
        }
    }
}

impl<R> ToThread<R> {
    /// The future's poll, except that a closure the runtime's drop kept from running
    /// (refused at submission, or skipped while queued) is `Err(NotRun)` instead of a
    /// panic: for callers that owe their own caller an error (an `fs::File` call).
    pub(crate) fn poll_ran(&mut self, cx: &mut Context<'_>) -> Poll<Result<R, NotRun>> {
        assert!(
            !self.done,
            "pride: a to_thread future was polled after it completed"
        );
        if let Some(job) = self.job.take() {
            let handle = crate::runtime::context::handle("pride::to_thread");
            let pool = &handle.shared.blocking;
            // Before submitting, so that a fast job finds the waker, and its count.
            self.shared.slot.lock().waker = Some(cx.waker().clone());
            {
                let mut hold = self.shared.hold.lock();
                hold.busy = Some(pool.hold());
                if self.kept {
                    hold.kept = Some(Kept::new(pool.inner.clone()));
                }
            }
            // The closure runs in its runtime's context: what it makes (a socket, a
            // timer) belongs to this runtime, as if made in the awaiting task.
            let runtime = handle.clone();
            let job: Job = Box::new(move |shut| {
                let _context = crate::runtime::context::enter_pool(runtime);
                job(shut)
            });
            let submitted = pool.submit(job);
            if submitted.is_err() {
                let (busy, kept) = {
                    let mut hold = self.shared.hold.lock();
                    (hold.busy.take(), hold.kept.take())
                };
                drop(busy);
                drop(kept);
                self.shared.slot.lock().waker = None;
            }
            match submitted {
                Ok(()) => {}
                Err(Refused::ShutDown) => {
                    self.done = true;
                    return Poll::Ready(Err(NotRun));
                }
                Err(Refused::NoThread(error)) => panic!(
                    "pride: to_thread found no blocking-pool thread and could not start \
                     one: {error}"
                ),
            }
        }
        let mut slot = self.shared.slot.lock();
        match slot.result.take() {
            Some(Outcome::Value(value)) => {
                self.done = true;
                Poll::Ready(Ok(value))
            }
            Some(Outcome::Panic(panic)) => {
                drop(slot);
                self.done = true;
                resume(panic)
            }
            Some(Outcome::Skipped) => {
                self.done = true;
                Poll::Ready(Err(NotRun))
            }
            None => {
                if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    slot.waker = Some(cx.waker().clone());
                }
                crate::debug::task::waits(cx, crate::debug::task::WaitOn::Thread);
                Poll::Pending
            }
        }
    }
}

fn resume(panic: Box<dyn Any + Send>) -> ! {
    std::panic::resume_unwind(panic)
}

impl<R> Drop for ToThread<R> {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        // Still queued: the thread that dequeues it will skip it.
        let _ = self.shared.state.compare_exchange(
            QUEUED,
            CANCELLED,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        // Nobody waits for it any more, queued or running: it holds the clock no
        // longer (a nested `block_on` its closure is in keeps the token until it ends,
        // and then drops it).
        let busy = {
            let mut hold = self.shared.hold.lock();
            hold.abandoned = true;
            hold.busy.take()
        };
        drop(busy);
        // Nor need its waker be kept (with the task it wakes) while the closure runs on.
        let waker = self.shared.slot.lock().waker.take();
        drop(waker);
    }
}

#[cfg(all(test, not(pride_loom)))]
mod tests {
    use super::*;

    /// A pool with no thread that cannot start one (here: its threads' stacks cannot
    /// be mapped) refuses the job with the system's error, instead of queueing it for
    /// a thread that never comes; nothing stays counted.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_pool_that_cannot_start_its_first_thread_refuses_the_job() {
        let pool = BlockingPool::new(
            4,
            "pride-test-blocking".into(),
            Some(1 << (usize::BITS - 2)),
        );
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let running = ran.clone();
        let refused = pool.submit(Box::new(move |_| running.store(true, Ordering::SeqCst)));
        assert!(matches!(refused, Err(Refused::NoThread(_))), "{refused:?}");
        assert_eq!(pool.load(), (0, 0, 0));
        assert!(!pool.is_busy());
        assert!(!ran.load(Ordering::SeqCst));
    }

    /// The pool starts a thread for a job that finds none idle, and the job runs.
    #[test]
    fn a_job_runs_on_a_started_thread() {
        let pool = BlockingPool::new(4, "pride-test-blocking".into(), None);
        let (done, finished) = std::sync::mpsc::channel();
        pool.submit(Box::new(move |_| done.send(()).unwrap()))
            .expect("a thread starts");
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("the job ran");
        assert_eq!(pool.load().0, 1);
        pool.shutdown();
    }

    /// A thread inside a nested `block_on` does not count toward the cap: at a cap of
    /// one, a job queued meanwhile starts a second thread and runs; the counts stay
    /// exact, and the thread counts toward the cap again once the call is over.
    #[test]
    fn a_thread_in_a_nested_block_on_leaves_the_cap_to_a_queued_job() {
        let pool = BlockingPool::new(1, "pride-test-blocking".into(), None);
        let same = BlockingPool {
            inner: pool.inner.clone(),
        };
        let (done, finished) = std::sync::mpsc::channel();
        pool.submit(Box::new(move |_| {
            let nested = same.nested_block_on().expect("on a pool thread");
            let (ran, inner_finished) = std::sync::mpsc::channel();
            same.submit(Box::new(move |_| ran.send(()).unwrap()))
                .expect("queued");
            let ran = inner_finished.recv_timeout(Duration::from_secs(60));
            let (threads, _, queued) = same.load();
            drop(nested);
            let nested_after = same.inner.state.lock().nested;
            done.send((ran.is_ok(), threads, queued, nested_after))
                .unwrap();
        }))
        .expect("a thread starts");
        let outcome = finished
            .recv_timeout(Duration::from_secs(60))
            .expect("the job ran");
        assert_eq!(outcome, (true, 2, 0, 0), "(ran, threads, queued, nested)");
        pool.shutdown();
    }
}
