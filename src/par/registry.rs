//! Where `par` jobs wait and who runs them: a deque per worker, an injector for jobs
//! from other threads, and the entry into a runtime.
//!
//! Each worker keeps the halves of its joins in a list only it sees, and offers them
//! to the others one at a time, oldest (biggest) first, on its deque: it pops them
//! back newest-first, idle workers steal oldest-first. `README.md` beside this file
//! says why. A worker finds `par` jobs after its own and others' async tasks, in its
//! run loop ([`run_one`]); a worker that waits for a stolen half runs other jobs
//! meanwhile ([`wait_until`]), and parks like an idle worker (so new work or a timer
//! can still wake it) when there are none.
//!
//! A thread that is not a worker hands the whole call to its runtime as one job and
//! blocks until it has run ([`in_worker`]).
//!
//! Unsafe code here only runs queued jobs and offers the handed-over call, under the
//! rules in `job.rs`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use super::call::Call;
use super::job::{Body, CallPtr, JobRef, StackJob};
use super::latch::{Latch, LockLatch};
use crate::loom::sync::atomic::{AtomicBool, Ordering, fence};
use crate::runtime::context;
use crate::runtime::{Core, Handle, Runtime};

/// How often a worker busy in `par` work aims to look around (at the clock, the
/// cancel scope, and whether upkeep is due); see [`Here::tick`].
const LOOK_INTERVAL: Duration = Duration::from_micros(100);
/// Joins or items between looks at the start of a piece, before their cost is known.
const FIRST_STRIDE: u32 = 16;
/// The most joins or items between two looks: a look costs about 50 ns, so at this
/// stride it is 0.2% of a 30 ns item, and a piece whose items suddenly get much
/// slower still looks within 1,024 of them.
const MAX_STRIDE: u32 = 1024;
/// Join halves a worker keeps; joins made while it keeps this many run both halves
/// in turn.
const KEPT_JOBS: usize = 3;
/// How often a worker busy in `par` work turns the driver and polls its queued tasks.
const MAINTENANCE_INTERVAL: Duration = Duration::from_millis(1);
/// Tasks polled per maintenance.
const NESTED_TASKS: u32 = 16;
/// How deep maintenances may nest: a task polled during one may make a long `par`
/// call of its own, whose upkeep must go on (timers, and the task that cancels it,
/// could otherwise not run before it ends), but each level is a task's poll and a
/// `par` call more on this worker's stack. At this depth a maintenance turns the
/// driver and offers the queued tasks to the other workers, but polls none.
const MAX_MAINTENANCE_DEPTH: u8 = 4;

/// The `par` queues every thread of a runtime can reach.
pub(crate) struct Queues {
    stealers: Box<[Stealer<JobRef>]>,
    /// Jobs from threads that are not this runtime's workers: whole calls handed
    /// over, and `scope` spawns made elsewhere.
    injector: Injector<JobRef>,
    /// The runtime's workers have stopped ([`close`](Queues::close)): a job injected
    /// from now on goes to the default runtime.
    closed: AtomicBool,
}

/// One worker's `par` deque and state.
pub(crate) struct WorkerPar {
    /// Jobs offered to other workers.
    deque: Worker<JobRef>,
    /// Join halves not offered yet, oldest first: only this worker sees them, so
    /// keeping one and taking it back costs no atomic operation. Every job in `deque`
    /// is older than every job here.
    kept: RefCell<VecDeque<JobRef>>,
    /// The call of the piece this worker runs (null outside `par` work).
    call: Cell<CallPtr>,
    /// Joins or items left before the next look.
    countdown: Cell<u32>,
    /// Joins or items between two looks: adapted so that looks are about
    /// `LOOK_INTERVAL` apart, whatever an item costs.
    stride: Cell<u32>,
    /// When this worker last looked around.
    last_look: Cell<Option<Instant>>,
    next_maintenance: Cell<Option<Instant>>,
    /// How many maintenances' task polls this worker is inside (nested in one
    /// another), up to `MAX_MAINTENANCE_DEPTH`.
    maintenance_depth: Cell<u8>,
}

/// The queues for a runtime of `workers` workers.
pub(crate) fn queues(workers: usize) -> (Queues, Vec<WorkerPar>) {
    let deques: Vec<Worker<JobRef>> = (0..workers).map(|_| Worker::new_lifo()).collect();
    let queues = Queues {
        stealers: deques.iter().map(Worker::stealer).collect(),
        injector: Injector::new(),
        closed: AtomicBool::new(false),
    };
    let workers = deques
        .into_iter()
        .map(|deque| WorkerPar {
            deque,
            kept: RefCell::new(VecDeque::new()),
            call: Cell::new(CallPtr::NULL),
            countdown: Cell::new(FIRST_STRIDE),
            stride: Cell::new(FIRST_STRIDE),
            last_look: Cell::new(None),
            next_maintenance: Cell::new(None),
            maintenance_depth: Cell::new(0),
        })
        .collect();
    (queues, workers)
}

impl Queues {
    pub(crate) fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Queues a job from a thread that is not one of this runtime's workers, and
    /// calls `notify` to wake one. Once the queues are closed, the job goes to the
    /// default runtime instead.
    pub(crate) fn inject(&self, job: JobRef, notify: impl FnOnce()) {
        if self.closed.load(Ordering::SeqCst) {
            return move_to_default(job);
        }
        self.injector.push(job);
        notify();
        // The close may have moved the injected jobs for the last time between the
        // check above and the push. The fence orders the push before this read, as
        // the close's fence orders its mark before its move: either that move took
        // the job, or this sees the mark and moves it.
        fence(Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.move_injected();
        }
    }

    /// Called by the runtime's drop once its workers have stopped: nobody runs the
    /// jobs injected here any more, so they go to the default runtime, and so do
    /// those injected from now on. Each is self-contained: a whole call, whose caller
    /// blocks on its latch. (A `scope` spawn made elsewhere comes here only while
    /// its scope waits on one of the workers, which have stopped by then.)
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.move_injected();
    }

    fn move_injected(&self) {
        loop {
            match self.injector.steal() {
                Steal::Success(job) => move_to_default(job),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
    }

    fn steal(&self, me: usize) -> Option<JobRef> {
        let n = self.stealers.len();
        loop {
            let mut retry = false;
            for i in 1..n {
                match self.stealers[(me + i) % n].steal() {
                    Steal::Success(job) => return Some(job),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            match self.injector.steal() {
                Steal::Success(job) => return Some(job),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            if !retry {
                return None;
            }
        }
    }
}

/// A worker's view while it runs `par` work.
pub(crate) struct Here<'a> {
    pub(crate) core: &'a Core,
}

impl Here<'_> {
    fn par(&self) -> &WorkerPar {
        &self.core.par
    }

    /// The call the running piece belongs to.
    #[inline]
    pub(crate) fn call(&self) -> &Call {
        self.par()
            .call
            .get()
            .get()
            .expect("pride: par work ran outside a par call")
    }

    /// The current call, as a pointer for jobs.
    #[inline]
    pub(crate) fn call_ptr(&self) -> CallPtr {
        self.par().call.get()
    }

    /// The number of workers.
    pub(crate) fn workers(&self) -> usize {
        self.core.par_queues().stealers.len()
    }

    pub(crate) fn index(&self) -> usize {
        self.core.index()
    }

    /// Offers a job to other workers now (a `scope` spawn).
    pub(crate) fn push(&self, job: JobRef) {
        // Kept halves first, so that the deque stays ordered oldest to newest.
        self.offer_all();
        self.par().deque.push(job);
        self.core.notify_parked_for_par();
    }

    /// Whether this worker keeps enough join halves: a join then makes no job and
    /// runs both halves here.
    #[inline]
    pub(crate) fn keeps_enough(&self) -> bool {
        self.par().kept.borrow().len() >= KEPT_JOBS
    }

    /// Keeps a join's half on this worker; see [`tick`](Self::tick) for when it is
    /// offered to the others.
    #[inline]
    pub(crate) fn keep(&self, job: JobRef) {
        self.par().kept.borrow_mut().push_back(job);
    }

    /// Takes back the newest job this worker kept, if it is `job`: then nobody else
    /// has it. Otherwise `job` was offered (and every job kept after it has been
    /// taken back already, since joins nest).
    #[inline]
    pub(crate) fn take_back_kept<L: Latch, F: Body>(&self, job: &StackJob<L, F>) -> bool {
        let mut kept = self.par().kept.borrow_mut();
        match kept.back() {
            Some(newest) if job.is(newest) => {
                kept.pop_back();
                true
            }
            _ => false,
        }
    }

    /// Takes back the newest job this worker offered, if nobody stole it.
    #[inline]
    pub(crate) fn pop(&self) -> Option<JobRef> {
        self.par().deque.pop()
    }

    /// Moves the oldest kept job (the biggest piece of a split) to the deque, where
    /// other workers can steal it, and wakes one if it sleeps.
    #[cold]
    fn offer_oldest(&self) {
        let oldest = self.par().kept.borrow_mut().pop_front();
        if let Some(job) = oldest {
            self.par().deque.push(job);
            self.core.notify_parked_for_par();
        }
    }

    /// Offers every kept job, oldest first.
    fn offer_all(&self) {
        let par = self.par();
        let mut offered = false;
        while let Some(job) = par.kept.borrow_mut().pop_front() {
            par.deque.push(job);
            offered = true;
        }
        if offered {
            self.core.notify_parked_for_par();
        }
    }

    /// Keeps one job offered while this worker keeps any: if its deque is empty
    /// (nothing offered yet, or a thief took it), offers the oldest kept one.
    #[inline]
    pub(crate) fn offer_one(&self) {
        let par = self.par();
        if !par.kept.borrow().is_empty() && par.deque.is_empty() {
            self.offer_oldest();
        }
    }

    /// Counts a join or item. Now and then looks at the enclosing scope, and, if a
    /// millisecond has passed, turns the driver and polls this worker's queued tasks
    /// so that a long `par` call does not hold back sleeps and sockets.
    ///
    /// Looks are about `LOOK_INTERVAL` apart: the number of joins or items between
    /// two of them (the stride) doubles while they come sooner and follows the
    /// measured rate when they come later, so a short item costs a countdown, not a
    /// clock read.
    ///
    /// Returns whether it looked.
    #[inline]
    pub(crate) fn tick(&self) -> bool {
        let par = self.par();
        let left = par.countdown.get() - 1;
        par.countdown.set(left);
        if left == 0 {
            self.look_around();
        }
        left == 0
    }

    /// Whether a running piece should share its items: there are other workers, and
    /// this one has nothing offered to them (its deque is empty: it offered nothing,
    /// or thieves took all of it) and nothing kept to offer instead.
    pub(crate) fn should_share(&self) -> bool {
        self.offer_one();
        self.workers() > 1 && self.par().deque.is_empty()
    }

    /// A new piece starts on this worker (a stolen job, an outermost call): its items
    /// may cost anything, so the next look comes after a few of them at most. (The
    /// countdown goes on: many short calls in a row still look every so often.)
    /// The first look measures the rate from the piece's start.
    #[inline]
    fn restart_looks(&self) {
        let par = self.par();
        par.stride.set(par.stride.get().min(FIRST_STRIDE));
        par.countdown.set(par.countdown.get().min(FIRST_STRIDE));
        par.last_look.set(Some(Instant::now()));
    }

    #[cold]
    fn look_around(&self) {
        let par = self.par();
        let now = Instant::now();
        let mut stride = par.stride.get();
        if let Some(last) = par.last_look.get() {
            let gap = now.saturating_duration_since(last);
            if gap < LOOK_INTERVAL / 2 {
                stride = (stride * 2).min(MAX_STRIDE);
            } else if gap > LOOK_INTERVAL * 2 {
                let rate = u128::from(stride) * LOOK_INTERVAL.as_nanos() / gap.as_nanos();
                stride = u32::try_from(rate).unwrap_or(MAX_STRIDE).max(1);
            }
        }
        // The countdown is reset before the look: a look that unwound would leave it
        // at zero, to underflow at the next count.
        par.stride.set(stride);
        par.countdown.set(stride);
        par.last_look.set(Some(now));
        self.call().refresh();
        match par.next_maintenance.get() {
            Some(at) if now < at => {}
            // Due, or never done on this worker.
            _ => {
                par.next_maintenance.set(Some(now + MAINTENANCE_INTERVAL));
                self.maintain();
                // The tasks just polled may have made calls of their own, which
                // restarted the looks, and took time that is not this piece's.
                par.stride.set(stride);
                par.countdown.set(stride);
                par.last_look.set(None);
            }
        }
    }

    /// Turns the driver and polls queued tasks, outside any `par` call; nested
    /// in `MAX_MAINTENANCE_DEPTH` others, it polls none.
    fn maintain(&self) {
        let par = self.par();
        let depth = par.maintenance_depth.get();
        let tasks = if depth < MAX_MAINTENANCE_DEPTH {
            NESTED_TASKS
        } else {
            0
        };
        struct Restore<'a>(&'a WorkerPar, CallPtr, u8);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.call.set(self.1);
                self.0.maintenance_depth.set(self.2);
            }
        }
        {
            let _restore = Restore(par, par.call.replace(CallPtr::NULL), depth);
            par.maintenance_depth.set(depth.saturating_add(1));
            self.core.run_tasks_nested(tasks);
        }
        // A task polled here may have cancelled the scope the call runs in (dropped
        // the group whose child made the call, say): stop before another piece starts.
        if let Some(call) = par.call.get().get() {
            call.refresh();
        }
    }

    /// Runs `f` as a piece of `call`.
    #[inline]
    pub(crate) fn with_call<R>(&self, call: &Call, f: impl FnOnce() -> R) -> R {
        struct Restore<'a>(&'a Cell<CallPtr>, CallPtr);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.set(self.1);
            }
        }
        let _restore = Restore(
            &self.par().call,
            self.par().call.replace(CallPtr::new(call)),
        );
        f()
    }

    /// Runs a job taken from a queue, as a piece of its call.
    pub(crate) fn execute(&self, job: JobRef) {
        struct Restore<'a>(&'a Cell<CallPtr>, CallPtr);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.set(self.1);
            }
        }
        let _restore = Restore(&self.par().call, self.par().call.replace(job.call));
        self.restart_looks();
        // SAFETY: `job` came out of a queue by a pop or steal, and its maker keeps it
        // alive until it has run (the rules in `job.rs`).
        unsafe { job.execute() };
    }

    fn find_job(&self) -> Option<JobRef> {
        self.pop()
            .or_else(|| self.core.par_queues().steal(self.index()))
    }

    /// Runs other jobs until `latch` is set; parks like an idle worker when there are
    /// none (the latch's setter unparks it).
    pub(crate) fn wait_until(&self, latch: &impl Latch) {
        // Nothing kept may wait behind a worker that sleeps. (Joins nest, so nothing
        // is kept here by then; this keeps it so.)
        self.offer_all();
        let mut idle_rounds = 0u32;
        while !latch.probe() {
            if let Some(job) = self.find_job() {
                idle_rounds = 0;
                self.execute(job);
                // The jobs run here count like items: a worker waiting for a scope
                // whose spawns it runs does its upkeep between them.
                self.tick();
                continue;
            }
            // The stolen half is running elsewhere: spin briefly, since it often ends
            // soon, then sleep.
            idle_rounds += 1;
            if idle_rounds < 32 {
                std::hint::spin_loop();
                continue;
            }
            if idle_rounds < 64 {
                std::thread::yield_now();
                continue;
            }
            // Woken, it goes back to this wait, not to searching other workers' task
            // queues, so it hands on a searcher's role a push woke it with (see
            // `park_waiter`).
            self.core.park_waiter(|| latch.probe());
            idle_rounds = 0;
            // Tasks that timers or sockets woke while this worker held the driver sit
            // in its queue: poll some, and offer the rest to idle workers.
            self.maintain();
        }
    }
}

/// Called by a worker's run loop when it found no task: runs one `par` job, if any.
pub(crate) fn run_one(core: &Core) -> bool {
    let here = Here { core };
    match here.find_job() {
        Some(job) => {
            core.found_work();
            here.execute(job);
            true
        }
        None => false,
    }
}

/// Offers `job`, a piece of a call running on `runtime`: on this worker's deque if
/// this thread is one of that runtime's workers, else through its injector (a
/// `scope` spawn made on another thread, such as a worker of another runtime), so
/// that the job and the latch it sets stay in the runtime whose worker waits for it.
pub(crate) fn offer_to(runtime: &Handle, job: JobRef) {
    let job = context::with_core(|core| match core {
        Some(core) if core.is_of(runtime) => {
            Here { core }.push(job);
            None
        }
        _ => Some(job),
    });
    if let Some(job) = job {
        runtime.par_inject(job);
    }
}

/// Unparks worker `index` of the runtime the calling worker belongs to (a latch's
/// waiter).
pub(crate) fn unpark_worker(index: usize) {
    context::with_core(|core| match core {
        Some(core) if core.index() != index => core.unpark_worker(index),
        Some(_) => {}
        None => unreachable!("pride: a par latch was set outside the runtime's workers"),
    });
}

/// Hands `job` to the default runtime (its runtime has stopped).
fn move_to_default(job: JobRef) {
    default_runtime().handle().par_inject(job);
}

/// The runtime `par` calls outside any runtime run on: one worker per core, started
/// on first use, never stopped.
fn default_runtime() -> &'static Runtime {
    static DEFAULT: OnceLock<Runtime> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        Runtime::builder()
            .thread_name("pride-par")
            .build()
            .expect("pride: failed to start the default runtime for par")
    })
}

/// Runs `f` on a worker: here if this thread is one, else as one job handed to the
/// current runtime (or the default one), blocking this thread until it has run.
/// `f` gets the worker and the current call (made by `in_worker` for an outermost
/// call, so it sees the caller's cancel scope).
pub(crate) fn in_worker<R: Send>(f: impl FnOnce(&Here<'_>) -> R + Send) -> R {
    in_call(|here, _| f(here))
}

/// [`in_worker`], also telling `f` whether the current call was made for it (it is
/// the outermost `par` code on this thread, such as the outermost join of a tree).
pub(crate) fn in_call<R: Send>(f: impl FnOnce(&Here<'_>, bool) -> R + Send) -> R {
    let mut f = Some(f);
    let outcome = context::with_core(|core| {
        let core = core?;
        let f = f.take().expect("called once");
        let here = Here { core };
        Some(if here.par().call.get().is_null() {
            let call = Call::new(CallPtr::NULL);
            here.restart_looks();
            here.with_call(&call, || f(&here, true))
        } else {
            f(&here, false)
        })
    });
    match outcome {
        Some(r) => r,
        None => in_worker_cold(f.take().expect("not run on a worker")),
    }
}

#[cold]
fn in_worker_cold<R: Send>(f: impl FnOnce(&Here<'_>, bool) -> R + Send) -> R {
    // Outside any runtime, or in a thread-local's destructor once this thread's
    // context is gone: the default runtime. This thread enters no runtime context
    // (which a destructor could not); it only hands the call over and blocks.
    let handle = context::try_handle().unwrap_or_else(|| default_runtime().handle().clone());
    // Made here, on the caller's thread, to see the caller's cancel scope.
    let call = Call::new(CallPtr::NULL);
    let job = StackJob::new(Cold(f), LockLatch::new());
    // SAFETY: `job` stays in this frame until its latch is set: we block on it below
    // and return only after.
    let job_ref = unsafe { job.as_job_ref(CallPtr::new(&call)) };
    handle.par_inject(job_ref);
    job.latch.wait();
    match job.into_result() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A whole call handed over by a thread that is not a worker.
struct Cold<F>(F);

impl<R: Send, F: FnOnce(&Here<'_>, bool) -> R + Send> Body for Cold<F> {
    type Output = R;
    fn run_stolen(self) -> R {
        // The call was made for it, on the calling thread.
        with_here(|here| here.call().in_scope(|| (self.0)(here, true)))
    }
}

/// Whether this thread is a worker running `par` work: a piece of a call, or the
/// upkeep of one (polling queued tasks nested in it).
pub(crate) fn runs_par_work_here() -> bool {
    context::with_core(|core| {
        core.is_some_and(|core| {
            core.par.maintenance_depth.get() > 0 || !core.par.call.get().is_null()
        })
    })
}

/// Whether this thread is a worker running a piece of a `par` call (not a task that
/// the call's upkeep polls): the closures of a call run here, and block the worker.
pub(crate) fn runs_par_piece_here() -> bool {
    context::with_core(|core| core.is_some_and(|core| !core.par.call.get().is_null()))
}

/// Runs `f` with this worker's view; only called on workers.
pub(crate) fn with_here<R>(f: impl FnOnce(&Here<'_>) -> R) -> R {
    context::with_core(|core| {
        let core = core.expect("pride: a par job ran outside the runtime's workers");
        f(&Here { core })
    })
}
