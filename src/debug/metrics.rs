//! The snapshot [`Runtime::metrics`](crate::Runtime::metrics) returns.

/// Counters and gauges of one runtime, read at one moment.
///
/// Counters (`tasks_spawned`, `polls`, ...) only grow, from the runtime's start; gauges
/// (`tasks_alive`, queue depths, threads) are the value when read. Each number is read
/// on its own, so numbers read together may be a moment apart from each other.
///
/// ```
/// let rt = pride::Runtime::builder().worker_threads(1).build().unwrap();
/// let m = rt.metrics();
/// assert_eq!((m.workers, m.tasks_alive, m.injector_depth), (1, 0, 0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Worker threads.
    pub workers: usize,
    /// Tasks created (children of task groups).
    pub tasks_spawned: u64,
    /// Tasks whose future has not finished or been dropped yet.
    pub tasks_alive: u64,
    /// Task polls run by the workers.
    pub polls: u64,
    /// Times a worker took work from another worker's queue.
    pub steals: u64,
    /// Times a worker went to sleep for lack of work.
    pub parks: u64,
    /// Times an operation (a channel receive, a lock, a socket read, ...) returned
    /// `Pending` because its task had used up its budget of operations for the poll,
    /// so that the task yields its worker to the others.
    pub budget_exhaustions: u64,
    /// Polls reported as blocking their worker for longer than the threshold.
    pub blocked_polls: u64,
    /// Tasks waiting in the global queue (scheduled from outside the workers).
    pub injector_depth: usize,
    /// Each worker's own counters, by worker index.
    pub per_worker: Vec<WorkerMetrics>,
    /// Threads of the blocking pool (behind [`to_thread`](crate::to_thread)).
    pub blocking_threads: usize,
    /// Blocking-pool threads waiting for a job.
    pub blocking_idle_threads: usize,
    /// Closures waiting for a blocking-pool thread.
    pub blocking_queue_depth: usize,
    /// Timers (sleeps, intervals, deadlines of scopes) armed in the timer wheels.
    pub timers_armed: usize,
    /// Sockets, pipes and child processes registered with the reactor. A child dropped
    /// while it runs, watched only so that it is reaped when it exits, is not counted.
    pub sockets_registered: usize,
}

/// One worker's share of [`RuntimeMetrics`].
///
/// ```
/// let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     pride::task_group(async |tg| {
///         tg.start_soon(async {});
///     })
///     .await
///     .unwrap();
/// });
/// let metrics = rt.metrics();
/// assert_eq!(metrics.per_worker.len(), 2);
/// let polls: u64 = metrics.per_worker.iter().map(|w| w.polls).sum();
/// println!("workers ran {polls} polls");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Polls this worker ran.
    pub polls: u64,
    /// Times this worker took work from another worker.
    pub steals: u64,
    /// Times this worker went to sleep.
    pub parks: u64,
    /// Operations refused here for a spent budget (see
    /// [`RuntimeMetrics::budget_exhaustions`]).
    pub budget_exhaustions: u64,
    /// Tasks in this worker's stealable queue.
    pub local_queue_depth: usize,
}
