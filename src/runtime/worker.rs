//! Workers: the run loop, local queues, the LIFO slot, stealing and parking.
//!
//! Names say who may touch what:
//! - [`Shared`] is reachable by every thread: the injector, each worker's [`Remote`]
//!   (its stealer and unparker), the idle protocol and the driver.
//! - [`Core`] is one worker's own state. It lives on that worker's stack and is reached
//!   through the thread-local context by code running on that worker only.
//!
//! Where a task goes: a task spawned or woken on a worker goes to its LIFO slot (the
//! previous occupant moves to the back of the queue), because the waker usually just
//! produced what the wakee needs, and a task that starts a child and finishes hands the
//! worker straight to it; a task that yields goes to the back of the queue; anything
//! scheduled from outside a worker goes to the injector. At most [`MAX_LIFO_POLLS`]
//! LIFO tasks run in a row, and every [`INJECTOR_INTERVAL`] ticks the injector is
//! checked first and the driver is turned, so neither the LIFO slot nor the local queue
//! can starve anything.

use std::cell::Cell;
use std::sync::Arc as StdArc;
use std::time::Duration;

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

use super::blocking::BlockingPool;
use super::context;
use super::driver::{Driver, contain_waker_panic};
use super::idle::{self, Idle};
use super::metrics::{Counters, WorkerCounters};
use super::owned::{OwnedTasks, Shard};
use super::park::{Parker, Unparker};
use crate::cancel::node::{ListClosed, Released, ScopeNode};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use crate::task::{Notified, Schedule};
use crate::time::{Clock, TimeDriver};

/// LIFO-slot tasks run in a row before the slot is demoted to the queue.
const MAX_LIFO_POLLS: u32 = 3;
/// Every this many tasks, a worker looks at the injector first and turns the driver.
const INJECTOR_INTERVAL: u32 = 61;
/// On an autojump clock, how often the driver holder looks again whether every task
/// is blocked (and time may jump).
const AUTOJUMP_RECHECK: Duration = Duration::from_millis(1);

/// What another thread may do to a worker.
pub(crate) struct Remote {
    stealer: Stealer<Notified>,
    unparker: Unparker,
    /// The worker's LIFO slot, which the watchdog empties into the injector while a
    /// long poll holds the worker (see [`Shared::rescue_lifo`]). The watchdog is not
    /// built under loom.
    #[cfg_attr(pride_loom, allow(dead_code))]
    lifo: StdArc<LifoSlot>,
}

/// A LIFO slot: one task, swapped in and out atomically, so that another thread can
/// take it from a worker held by a long poll.
type LifoSlot = crossbeam_utils::CachePadded<crossbeam_utils::atomic::AtomicCell<Option<Notified>>>;

// A task is a pointer: its slot is one atomic word, each put and take a single swap.
const _: () = assert!(crossbeam_utils::atomic::AtomicCell::<Option<Notified>>::is_lock_free());

/// State shared by all threads of one runtime.
pub(crate) struct Shared {
    remotes: Box<[Remote]>,
    injector: Injector<Notified>,
    idle: Idle,
    pub(crate) driver: Driver,
    time: TimeDriver,
    pub(crate) blocking: BlockingPool,
    /// The queues of `par` jobs (see [`crate::par`]).
    pub(crate) par: crate::par::Queues,
    /// Every group that started a child: through them, every live task, to drop their
    /// futures at shutdown.
    owned: OwnedTasks,
    /// `block_on` threads that are running (not parked): while any is, the runtime is
    /// not idle and an autojump clock must not jump.
    pub(crate) block_on_active: Arc<AtomicUsize>,
    /// CPUs this process may run on.
    cpus: usize,
    shutdown: AtomicBool,
    /// Set once the runtime's drop has dropped its tasks and drained the injector: a
    /// task woken from then on is dropped where it is woken (see `push_remote`).
    drained: AtomicBool,
    /// What `Runtime::metrics` reads and the blocked-worker watchdog watches.
    pub(crate) counters: StdArc<Counters>,
    /// The root scope of each running `block_on`, for the task tree dump.
    pub(crate) roots: crate::debug::tree::Roots,
    /// Deadlock episodes of an autojump clock.
    deadlock: crate::debug::deadlock::Watch,
}

/// A handle to a runtime: what tasks hold to reschedule themselves.
#[derive(Clone)]
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
}

/// One worker's own state.
pub(crate) struct Core {
    index: usize,
    handle: Handle,
    local: Worker<Notified>,
    lifo: StdArc<LifoSlot>,
    lifo_polls: Cell<u32>,
    searching: Cell<bool>,
    /// Inside [`wake_many`]: only the first push to the local queue tells sleeping
    /// workers at once; `pushed` counts the pushes, and the batch's end tells them
    /// again if there were more.
    batching: Cell<bool>,
    pushed: Cell<u32>,
    tick: Cell<u32>,
    rng: Cell<u32>,
    parker: Parker,
    /// This worker's `par` deque and state (see [`crate::par`]).
    pub(crate) par: crate::par::WorkerPar,
}

/// Builds the shared state and each worker's core (started by the caller).
pub(crate) fn create(
    workers: usize,
    driver: Driver,
    clock: Clock,
    blocking: BlockingPool,
    on_deadlock: crate::debug::deadlock::Report,
) -> (Handle, Vec<Core>) {
    let time = TimeDriver::new(clock, workers, driver.unpark_fn());
    let (par, mut par_workers) = crate::par::queues(workers);
    let mut cores = Vec::with_capacity(workers);
    let mut remotes = Vec::with_capacity(workers);
    for _ in 0..workers {
        let local = Worker::new_fifo();
        let parker = Parker::new();
        let lifo = StdArc::new(LifoSlot::default());
        remotes.push(Remote {
            stealer: local.stealer(),
            unparker: parker.unparker(),
            lifo: lifo.clone(),
        });
        cores.push((local, parker, lifo));
    }
    let handle = Handle {
        shared: Arc::new(Shared {
            remotes: remotes.into_boxed_slice(),
            injector: Injector::new(),
            idle: Idle::new(workers),
            driver,
            time,
            blocking,
            par,
            owned: OwnedTasks::new(workers + 1),
            block_on_active: Arc::new(AtomicUsize::new(0)),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shutdown: AtomicBool::new(false),
            drained: AtomicBool::new(false),
            counters: StdArc::new(Counters::new(workers)),
            roots: Default::default(),
            deadlock: crate::debug::deadlock::Watch::new(on_deadlock),
        }),
    };
    let cores = cores
        .into_iter()
        .enumerate()
        .map(|(index, (local, parker, lifo))| Core {
            index,
            handle: handle.clone(),
            local,
            lifo,
            lifo_polls: Cell::new(0),
            searching: Cell::new(false),
            batching: Cell::new(false),
            pushed: Cell::new(0),
            tick: Cell::new(0),
            rng: Cell::new(0x9E37_79B9 ^ (index as u32 + 1).wrapping_mul(0x85EB_CA6B)),
            parker,
            par: par_workers.remove(0),
        })
        .collect();
    (handle, cores)
}

impl Handle {
    /// Queues a freshly spawned task.
    pub(crate) fn spawn(&self, task: Notified) {
        context::with_core(|core| match core {
            // Like a wake-up: into the LIFO slot, so a task that starts a child and
            // finishes hands the worker straight to it without waking anyone; other
            // workers are told only when a task is displaced into the stealable queue.
            Some(core) if core.is_of(self) => core.push_lifo(task),
            // The spawner's handle is its own, not the new task's: no count needed.
            _ => self.shared.push_remote(task),
        });
    }

    /// The runtime's time driver.
    pub(crate) fn time(&self) -> &crate::time::TimeDriver {
        &self.shared.time
    }

    /// Reads the counters and gauges behind `Runtime::metrics`.
    pub(crate) fn metrics(&self) -> crate::debug::RuntimeMetrics {
        let shared = &*self.shared;
        let counters = &*shared.counters;
        let per_worker: Vec<_> = counters
            .workers
            .iter()
            .zip(shared.remotes.iter())
            .map(|(c, remote)| crate::debug::WorkerMetrics {
                polls: c.polls(),
                steals: c.steals.get(),
                parks: c.parks.get(),
                budget_exhaustions: c.budget_exhausted.get(),
                local_queue_depth: remote.stealer.len(),
            })
            .collect();
        let sum = |f: fn(&crate::debug::WorkerMetrics) -> u64| per_worker.iter().map(f).sum();
        let (spawned, completed) = counters.spawned_completed();
        let (blocking_threads, blocking_idle_threads, blocking_queue_depth) =
            shared.blocking.load();
        crate::debug::RuntimeMetrics {
            workers: per_worker.len(),
            tasks_spawned: spawned,
            tasks_alive: spawned.saturating_sub(completed),
            polls: sum(|w| w.polls),
            steals: sum(|w| w.steals),
            parks: sum(|w| w.parks),
            budget_exhaustions: sum(|w| w.budget_exhaustions),
            blocked_polls: counters.blocked_polls.get(),
            injector_depth: shared.injector.len(),
            blocking_threads,
            blocking_idle_threads,
            blocking_queue_depth,
            timers_armed: shared.time.armed(),
            sockets_registered: shared.driver.reactor().registered(),
            per_worker,
        }
    }

    /// Copies the task tree (see `debug::tree`).
    pub(crate) fn dump(&self) -> crate::debug::TreeDump {
        self.shared
            .roots
            .dump(self.shared.remotes.len(), &self.shared.time)
    }

    /// Whether the runtime has begun to shut down (its drop has begun).
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shared.shutdown.load(Ordering::Acquire)
    }

    /// Stops every worker; their queued tasks are dropped by them.
    pub(crate) fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for remote in self.shared.remotes.iter() {
            remote.unparker.unpark(&self.shared.driver);
        }
    }

    /// After the workers have stopped: drops every task's future, and every task left
    /// in the injector.
    ///
    /// Dropping a future may wake other tasks. Until the drain is over, a task woken
    /// from a thread that is not a worker (this one, say) is queued in the injector,
    /// as while the runtime runs, and the drain drops it: its future is never dropped
    /// inside the waker's call, where the waker may hold a lock that future's cleanup
    /// takes, or be the drop of a child that the future's group would wait for. After
    /// the drain nobody would drop a queued task, so a task scheduled from then on is
    /// dropped by the thread that schedules it (at worst after a moment in the
    /// injector).
    pub(crate) fn drop_all_tasks(&self) {
        let shared = &*self.shared;
        shared.owned.close();
        // Dropping a task may queue others: the drain takes until nothing is left.
        shared.drain_injector();
        shared.drained.store(true, Ordering::SeqCst);
        // Orders the mark before the last look, against a remote push (see
        // `Shared::push_remote`): a push this look misses sees the mark and drains.
        fence(Ordering::SeqCst);
        shared.drain_injector();
    }

    /// Whether this thread is the worker of this runtime that dropped it (from inside
    /// a task), and the drop has begun to drop the runtime's tasks: every other worker
    /// has been joined by then, so a task's poll still in progress can only be further
    /// down this thread's stack (see the teardown in `group/future.rs`).
    pub(crate) fn dropped_from_this_worker(&self) -> bool {
        self.shared.owned.is_closed()
            && context::with_core(|core| core.is_some_and(|core| core.is_of(self)))
    }
}

/// The handle a task keeps in its cell to reschedule itself.
///
/// The `&self` of these methods may live in the cell of the very task being queued:
/// once `task` is in a queue, another thread may run it to its end and free the cell,
/// and with it this handle's count on [`Shared`], which is the last one if the runtime
/// was dropped meanwhile. On a worker of this runtime that cannot free `Shared` (the
/// worker's [`Core`] holds a handle of its own); from any other thread the remote path
/// first takes a count of its own (see [`Handle::push_remote`]).
impl Schedule for Handle {
    fn schedule(&self, task: Notified) {
        context::with_core(|core| match core {
            Some(core) if core.is_of(self) => core.push_lifo(task),
            _ => self.push_remote(task),
        });
    }

    fn yield_now(&self, task: Notified) {
        context::with_core(|core| match core {
            Some(core) if core.is_of(self) => core.push_local(task),
            _ => self.push_remote(task),
        });
    }
}

impl Handle {
    /// Queues `task` from a thread that is not one of this runtime's workers.
    ///
    /// Pushing hands `task` over, and with it possibly the cell this handle lives in
    /// (see the `Schedule` impl): a worker may run the task to its end, its last
    /// reference may go, and a runtime dropped meanwhile frees `Shared` with the
    /// cell's handle. The notification after the push still reads `Shared`, so the
    /// push and the notification go through a count taken before the push: `Shared`
    /// lives until both are done, and `self` is not read after the push.
    fn push_remote(&self, task: Notified) {
        let shared = Arc::clone(&self.shared);
        shared.push_remote(task);
    }
}

impl Handle {
    /// Records the node of a group whose first child is being linked, so that the
    /// runtime's shutdown reaches the group's children (see `owned.rs`).
    pub(crate) fn record_group(&self, group: Arc<ScopeNode>) -> Result<Released, ListClosed> {
        self.shared.owned.record(group, self.shard().index)
    }

    /// This thread's shard of what the runtime keeps per worker (its list of groups, a
    /// group's tables of children): a worker's own, or the last for any other thread.
    #[inline]
    pub(crate) fn shard(&self) -> Shard {
        let count = self.shared.remotes.len() + 1;
        let index = context::worker_index().map_or(count - 1, |index| index.min(count - 1));
        Shard { count, index }
    }

    /// How many group nodes the runtime's list holds.
    #[cfg(all(test, not(pride_loom)))]
    pub(crate) fn recorded_groups(&self) -> usize {
        self.shared.owned.len()
    }

    /// Counts a group child created (its future now exists).
    #[inline]
    pub(crate) fn count_task_created(&self) {
        self.shared.counters.task_created();
    }

    /// Counts a group child whose future is gone (finished or dropped).
    #[inline]
    pub(crate) fn count_task_finished(&self) {
        self.shared.counters.task_finished();
    }
}

/// Runs `f` with the counters of the worker this thread is, if it is one; returns
/// whether it ran.
pub(crate) fn with_worker_counters(f: impl FnOnce(&WorkerCounters)) -> bool {
    context::with_core(|core| core.map(|core| f(core.counters())).is_some())
}

/// Runs `f`, which wakes many tasks at once (a cancelled subtree, say), telling
/// sleeping workers about the new work at its first wake and at its end, instead of
/// at every wake.
///
/// On a worker, each wake pushes onto this worker's queue, and each push may unpark a
/// sleeping worker. Woken one push at a time, that worker (when the OS placed it on
/// the waking worker's CPU) took the one task there, found nothing more while the
/// waker was descheduled, and went back to sleep: a context switch per woken task.
/// Told at the first wake, it starts early; told again at the end, it finds the rest
/// to steal.
/// Elsewhere (no worker here) `f` just runs.
pub(crate) fn wake_many<R>(f: impl FnOnce() -> R) -> R {
    context::with_core(|core| match core {
        Some(core) => core.batched(f),
        None => f(),
    })
}

impl Shared {
    fn push_remote(&self, task: Notified) {
        if self.drained.load(Ordering::SeqCst) {
            // The runtime is gone: nobody would run it, nor drain it from the
            // injector. Dropping it drops its future.
            drop(task);
            return;
        }
        // While the runtime runs, and while its drop drops its tasks (that drain takes
        // this one), the task is queued.
        self.injector.push(task);
        self.notify_parked();
        // The runtime's drop may have drained the injector for the last time between
        // the check above and the push: the task would stay there, and through its
        // handle keep the runtime (its driver, its threads' queues) alive in a cycle.
        // The fence in `notify_parked` orders the push before this read, as the drop's
        // fence orders its mark before its last drain: either that drain took the
        // task, or this sees the mark and drains.
        if self.drained.load(Ordering::SeqCst) {
            self.drain_injector();
        }
    }

    /// Drops every task in the injector, also those that dropping one queues.
    fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                Steal::Success(task) => drop(task),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
    }

    /// New work is visible: wake a sleeping worker if nobody is searching.
    fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.remotes[index].unparker.unpark(&self.driver);
        }
    }

    /// Whether the injector or any worker's queue has work.
    fn has_visible_work(&self) -> bool {
        !self.injector.is_empty()
            || self.remotes.iter().any(|r| !r.stealer.is_empty())
            || self.par.has_work()
    }

    fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Fewer of the runtime's threads run than the machine has CPUs (counting the
    /// workers not parked and the `block_on` threads running), so a thread that
    /// watches for a wake-up instead of sleeping takes no CPU from them.
    fn has_spare_cpu(&self) -> bool {
        self.idle.num_unparked() + self.block_on_active.load(Ordering::SeqCst) < self.cpus
    }

    /// Every task is blocked: no worker is awake, no queue holds work, and no
    /// `block_on` thread is running. Called by the parking driver holder, which has
    /// already counted itself asleep.
    fn is_quiescent(&self) -> bool {
        // The blocking pool first: a job counts itself done only after it woke its
        // waiter (a worker unparked, a `block_on` thread counted in, a task queued),
        // so a look that finds no job busy sees that waiter in the looks after it.
        // Read after them, a job could finish in between, its waiter unseen.
        // And the blocking pool again last: a `block_on` inside a job counts the job
        // busy again just before it stops counting as a running `block_on`, so a look
        // that finds that call over finds the job busy.
        !self.blocking.is_busy()
            && self.idle.num_unparked() == 0
            && self.block_on_active.load(Ordering::SeqCst) == 0
            && !self.has_visible_work()
            && !self.blocking.is_busy()
    }

    /// Fires the timers that came due. A waker that panics is contained; the time
    /// driver has woken every other due timer before it resumes that panic.
    fn fire_timers(&self) {
        contain_waker_panic(|| self.time.process());
    }

    /// How long the driver holder may block, asked with the driver held; `poll_io`
    /// turns the driver without blocking and says whether a socket had news.
    fn driver_timeout(&self, poll_io: &mut dyn FnMut() -> bool) -> Option<Duration> {
        let timeout = self.time.park_timeout();
        if timeout.is_some() || !self.time.clock().is_autojump() {
            return timeout;
        }
        // Autojump: when every task is blocked, time jumps to the next deadline
        // (firing it) instead of the runtime sleeping; otherwise look again soon.
        // A waker that panicked belonged to a timer that fired: time moved, look again.
        // Blocked with no timer to jump to is a deadlock (reported once per episode),
        // unless a socket may still bring news or no `block_on` runs (then there is
        // nothing to be stuck).
        // Readiness the kernel already holds comes before a jump: a socket whose peer
        // has answered (often a task of this runtime, on loopback) wakes its task, and
        // time does not move past that. Events are reported once (edge-triggered), so
        // the next look, with nothing new, jumps.
        let jump = || contain_waker_panic(|| self.time.jump_to_next()).unwrap_or(true);
        let quiescent = self.is_quiescent();
        if quiescent && poll_io() {
            self.deadlock.moved();
            return Some(Duration::ZERO);
        }
        if quiescent && jump() {
            self.deadlock.moved();
            return Some(Duration::ZERO);
        }
        if quiescent && self.driver.reactor().registered() == 0 && !self.roots.is_empty() {
            self.deadlock.observe(self.progress(), || {
                self.roots.dump(self.remotes.len(), &self.time)
            });
        } else {
            self.deadlock.moved();
        }
        Some(AUTOJUMP_RECHECK)
    }
}

impl Core {
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// This worker's counters; only this worker uses their `bump_owned`.
    pub(crate) fn counters(&self) -> &WorkerCounters {
        &self.shared().counters.workers[self.index]
    }

    pub(crate) fn is_of(&self, handle: &Handle) -> bool {
        Arc::ptr_eq(&self.handle.shared, &handle.shared)
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    fn push_local(&self, task: Notified) {
        self.local.push(task);
        if self.batching.get() {
            let pushed = self.pushed.get();
            self.pushed.set(pushed.saturating_add(1));
            if pushed > 0 {
                return;
            }
        }
        self.shared().notify_parked();
    }

    /// See [`wake_many`].
    fn batched<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.batching.replace(true) {
            return f();
        }
        /// Ends the batch, also if a waker panics: one notification for the pushes
        /// after the first.
        struct End<'a>(&'a Core);
        impl Drop for End<'_> {
            fn drop(&mut self) {
                self.0.batching.set(false);
                if self.0.pushed.replace(0) > 1 {
                    self.0.shared().notify_parked();
                }
            }
        }
        let _end = End(self);
        f()
    }

    fn push_lifo(&self, task: Notified) {
        if let Some(prev) = self.lifo.swap(Some(task)) {
            self.push_local(prev);
        }
    }

    /// The worker thread's main loop.
    pub(crate) fn run(self) {
        let _guard = context::enter_worker(&self);
        let _counting = super::metrics::enter_worker(&self.shared().counters, self.index);
        idle::run(&self);
        // Shutdown: drop what is still queued here. Dropping a task can wake others
        // onto this queue, so loop until it stays empty.
        loop {
            let task = self.lifo.take().or_else(|| self.local.pop());
            match task {
                Some(task) => drop(task),
                None => break,
            }
        }
    }

    /// Called before running what was found (a task or a `par` job).
    pub(crate) fn found_work(&self) {
        idle::found_work(self);
    }

    fn pop_task(&self) -> Option<Notified> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % INJECTOR_INTERVAL == 0 {
            let shared = self.shared();
            shared.note_time();
            shared.driver.poll_nonblocking(|| shared.fire_timers());
            if let Some(task) = self.steal_injector() {
                return Some(task);
            }
        }
        if let Some(task) = self.lifo.take() {
            let polls = self.lifo_polls.get();
            if polls < MAX_LIFO_POLLS {
                self.lifo_polls.set(polls + 1);
                return Some(task);
            }
            self.local.push(task);
        }
        self.lifo_polls.set(0);
        self.local.pop().or_else(|| self.steal_injector())
    }

    fn steal_injector(&self) -> Option<Notified> {
        loop {
            match self.shared().injector.steal_batch_and_pop(&self.local) {
                Steal::Success(task) => return Some(task),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
    }

    fn next_rand(&self) -> u32 {
        // xorshift32: only used to pick where stealing starts.
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        x
    }

    /// Looks in other workers' queues and the injector.
    fn steal_from_others(&self) -> Option<Notified> {
        let remotes = &self.shared().remotes;
        let n = remotes.len();
        let start = self.next_rand() as usize % n;
        loop {
            let mut retry = false;
            for i in 0..n {
                let victim = (start + i) % n;
                if victim == self.index {
                    continue;
                }
                match remotes[victim].stealer.steal_batch_and_pop(&self.local) {
                    Steal::Success(task) => {
                        self.counters().steals.bump_owned();
                        return Some(task);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if let Some(task) = self.steal_injector() {
                return Some(task);
            }
            if !retry {
                return None;
            }
        }
    }

    /// Parks until woken, unless `ready()`, for a worker that waits for `ready` (see
    /// [`idle::park_waiter`]). A task in its LIFO slot (woken by the `par` work it ran
    /// meanwhile, say) is offered first: queued, it is visible, so a push that saw
    /// nobody searching wakes an idle worker for it, and the re-check keeps this
    /// worker from sleeping beside it.
    pub(crate) fn park_waiter(&self, ready: impl Fn() -> bool) {
        self.offer_lifo();
        idle::park_waiter(self, ready);
    }

    /// Moves the task in the LIFO slot, if any, to this worker's queue, where other
    /// workers can take it: they cannot take from the slot (only the watchdog's
    /// rescue, after its threshold, moves it). For a worker that stops running its
    /// own tasks for a while.
    fn offer_lifo(&self) {
        if let Some(task) = self.lifo.take() {
            self.push_local(task);
        }
    }
}

/// The run loop's view of a worker: its decisions live in [`idle`].
impl idle::Worker for Core {
    type Task = Notified;

    fn idle(&self) -> &Idle {
        &self.shared().idle
    }

    fn index(&self) -> usize {
        self.index
    }

    fn searching(&self) -> &Cell<bool> {
        &self.searching
    }

    fn is_shutdown(&self) -> bool {
        self.shared().is_shutdown()
    }

    fn next_task(&self) -> Option<Notified> {
        self.pop_task()
    }

    fn steal_task(&self) -> Option<Notified> {
        self.steal_from_others()
    }

    fn run_task(&self, task: Notified) {
        let counters = self.counters();
        task.debug().polling(self.shared().time.coarse_tick());
        if counters.in_poll() {
            return self.run_nested(task);
        }
        counters.begin_poll();
        super::coop::budget(|| task.run());
        counters.end_poll();
    }

    fn run_other(&self) -> bool {
        crate::par::run_one(self)
    }

    fn has_visible_work(&self) -> bool {
        self.shared().has_visible_work()
    }

    fn notify_parked(&self) {
        self.shared().notify_parked();
    }

    fn woke(&self) {
        self.shared().counters.watchdog.worker_woke();
    }

    fn sleep(&self) {
        let shared = self.shared();
        self.counters().parks.bump_owned();
        let in_driver = shared.driver.park(
            &self.parker,
            |poll_io| shared.driver_timeout(poll_io),
            || shared.fire_timers(),
        );
        // Back from the driver, the worker is awake. Otherwise, with a CPU to spare, it
        // watches for an unpark for a moment before it blocks on the condvar.
        let awake = in_driver || (shared.has_spare_cpu() && self.parker.spin());
        if !awake {
            self.parker.park();
        }
        shared.note_time();
    }
}

/// Hooks for `crate::par`, whose jobs run on these workers.
impl Core {
    pub(crate) fn par_queues(&self) -> &crate::par::Queues {
        &self.shared().par
    }

    /// A `par` job was pushed onto this worker's deque: wake a sleeper if one may be
    /// needed. While every worker is awake this skips the fence of `notify_parked`:
    /// a worker that parks concurrently may then miss this job, which costs
    /// parallelism but never progress, since the pusher always takes its own job
    /// back if nobody steals it.
    #[inline]
    pub(crate) fn notify_parked_for_par(&self) {
        let shared = self.shared();
        if shared.idle.num_unparked() < shared.remotes.len() {
            shared.notify_parked();
        }
    }

    pub(crate) fn unpark_worker(&self, index: usize) {
        let shared = self.shared();
        shared.remotes[index].unparker.unpark(&shared.driver);
    }

    /// For a worker busy in `par` work: turns the driver (if free) and fires timers,
    /// then polls up to `max` of this worker's queued tasks, so that they do not wait
    /// for the `par` call to end.
    pub(crate) fn run_tasks_nested(&self, max: u32) {
        let shared = self.shared();
        // A worker doing upkeep is not stuck: a task's poll that this `par` work runs
        // in starts anew for the blocked-poll watch from here on.
        let counters = self.counters();
        if counters.in_poll() {
            counters.restart_poll();
        }
        // A waker that panics as its timer fires is contained, as in the run loop: it
        // must not unwind into the `par` work this upkeep runs inside.
        shared.driver.poll_nonblocking(|| shared.fire_timers());
        for _ in 0..max {
            match self.pop_task() {
                Some(task) => {
                    self.found_work();
                    idle::Worker::run_task(self, task);
                }
                None => break,
            }
        }
        // What is left in the queue stays stealable; the LIFO slot is offered too.
        self.offer_lifo();
    }
}

impl Handle {
    /// Queues a `par` job from a thread that is not one of this runtime's workers
    /// (once the runtime's drop has stopped them, on the default runtime instead).
    pub(crate) fn par_inject(&self, job: crate::par::JobRef) {
        self.shared.par.inject(job, || self.shared.notify_parked());
    }

    /// The runtime's workers have stopped: the `par` jobs queued for them, and those
    /// queued from now on, run on the default runtime.
    pub(crate) fn close_par(&self) {
        self.shared.par.close();
    }
}

/// Hooks for seeing inside the runtime (`crate::debug`): the coarse clock that stamps
/// polls, polls nested in another (a `par` call's upkeep), and the watchdog's rescue of
/// a held worker's LIFO slot.
impl Shared {
    /// Advances the coarse clock the task-tree dump stamps polls with. Called where a
    /// thread wakes from a park, every `INJECTOR_INTERVAL` tasks, and at each look of
    /// the watchdog: one clock read each.
    pub(crate) fn note_time(&self) {
        self.time.note_time();
    }

    /// The deadlock watch's progress mark: every poll so far, of the tasks on the
    /// workers and of the `block_on` futures. Read after a look found every task
    /// blocked, it counts every poll before that look.
    pub(crate) fn progress(&self) -> u64 {
        let tasks: u64 = self.counters.workers.iter().map(|c| c.polls()).sum();
        tasks.wrapping_add(self.roots.polls())
    }

    /// Who is asleep and who is searching (for the watchdog's doze).
    #[cfg_attr(pride_loom, allow(dead_code))]
    pub(crate) fn idle(&self) -> &Idle {
        &self.idle
    }

    /// Worker `index` has been held by one poll past the blocked-poll threshold: moves
    /// the task in its LIFO slot (which only that worker would otherwise run) to the
    /// injector, for the other workers.
    #[cfg_attr(pride_loom, allow(dead_code))]
    pub(crate) fn rescue_lifo(&self, index: usize) {
        if let Some(task) = self.remotes[index].lifo.take() {
            self.push_remote(task);
        }
    }
}

impl Core {
    /// Runs a task polled while this worker is already inside a poll (a `par` call's
    /// upkeep polls queued tasks inside the task that made the call). The poll sequence
    /// moves on by two, staying odd, at both ends, so the watchdog times the nested poll
    /// and then the rest of the outer one as polls of their own; the outer task's
    /// published name is set aside meanwhile, so a report names the task that runs.
    #[cold]
    fn run_nested(&self, task: Notified) {
        let counters = self.counters();
        let outer_name = counters.task_name.lock().take();
        counters.begin_nested_poll();
        super::coop::budget(|| task.run());
        counters.restart_poll();
        *counters.task_name.lock() = outer_name;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use crate::runtime::context;

    /// The poll counter of the worker the caller runs on.
    fn poll_seq() -> u64 {
        context::with_core(|core| core.expect("on a worker").counters().poll_seq.get())
    }

    /// A `par` call inside a task holds the task's poll, but its worker does upkeep
    /// between items, and each upkeep starts that poll anew for the blocked-poll watch:
    /// the counter moves on and stays odd. (Wall-clock free: the watch itself reads
    /// only this counter.)
    #[test]
    fn par_upkeep_restarts_the_poll_it_runs_in() {
        let rt = crate::Runtime::builder().worker_threads(1).build().unwrap();
        let (first, last) = rt
            .block_on(crate::task_group(async |tg| {
                tg.spawn(async {
                    let first = poll_seq();
                    let last = AtomicU64::new(first);
                    // About 10 µs an item, 200 ms in all: far longer than upkeep's pace
                    // (a look at the clock every 64 items, upkeep at most once a ms).
                    crate::par::for_each_range(0..20_000, |_| {
                        let start = Instant::now();
                        while start.elapsed() < Duration::from_micros(10) {
                            std::hint::spin_loop();
                        }
                        last.store(poll_seq(), Ordering::Relaxed);
                    });
                    Ok::<_, crate::BoxError>((first, last.into_inner()))
                })
                .await
            }))
            .unwrap();
        assert_eq!(first % 2, 1, "the task was not inside a poll");
        assert_eq!(last % 2, 1, "upkeep ended the task's poll");
        assert!(last > first, "upkeep never restarted the task's poll");
    }

    /// The polls of a `block_on` future are progress for the deadlock watch, like a
    /// task's: a root that another thread wakes between two looks ends a deadlock
    /// episode (or lets a new one be reported) even if no look saw it running. Here the
    /// root wakes itself and is polled six times, and no task runs.
    #[test]
    fn the_polls_of_a_block_on_future_are_progress() {
        let rt = crate::Runtime::builder()
            .worker_threads(1)
            .clock(crate::time::Clock::autojump())
            .build()
            .unwrap();
        let shared = &rt.handle.shared;
        let before = shared.progress();
        let mut pending = 5;
        rt.block_on(std::future::poll_fn(|cx| {
            if pending == 0 {
                return std::task::Poll::Ready(());
            }
            pending -= 1;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }));
        assert_eq!(shared.progress() - before, 6);
    }

    /// The blocked-poll watchdog of an idle runtime stops looking (it dozes), and the
    /// first worker to wake starts it again: a poll that blocks after the doze is still
    /// reported. Without that wake-up the report never comes and the task's wait for
    /// it runs out.
    #[test]
    fn the_watchdog_dozes_while_idle_and_a_waking_worker_rouses_it() {
        /// Long enough that only a bug makes a wait run out.
        const PATIENCE: Duration = Duration::from_secs(30);
        let (tx, reports) = std::sync::mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let rt = crate::Runtime::builder()
            .worker_threads(2)
            .blocked_poll_threshold(Some(Duration::from_millis(20)))
            .on_blocked_worker(move |blocked| {
                let _ = tx
                    .lock()
                    .unwrap()
                    .send(blocked.task_name().map(str::to_owned));
            })
            .build()
            .unwrap();
        let bell = &rt.handle.shared.counters.watchdog;
        let until_dozing = || {
            let start = Instant::now();
            while !bell.dozing() {
                assert!(
                    start.elapsed() < PATIENCE,
                    "the idle runtime's watchdog never dozed"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        until_dozing();
        rt.block_on(crate::task_group(async |tg| {
            tg.start_soon_named("after the doze", async move {
                let reported = reports.recv_timeout(PATIENCE);
                assert_eq!(reported, Ok(Some("after the doze".to_owned())));
            });
        }))
        .unwrap();
        until_dozing();
    }
}
