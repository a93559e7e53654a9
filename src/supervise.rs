//! Supervisors: children restarted by a policy, after Erlang/OTP and Akka.
//!
//! A supervisor is a task group whose children are isolated from one another: a child's
//! error or panic does not fail the group; the supervisor restarts it (one-for-one) or
//! restarts every child (one-for-all) after a backoff, until more restarts than the
//! policy allows happen within its window. Then it cancels its other children, waits for
//! them, and fails with the errors that used up the budget, each named after its child,
//! next to those the cancelled children ended with.
//!
//! All of this runs on one task (the supervisor's group body); children report their
//! ends to it through a queue, and never wait for it. Nor does it wait on any one
//! child: it starts a run without waiting for it to be ready, and hears the runs'
//! readiness, their ends and the ends of backoffs in one wait, so that a child that
//! is slow to be ready, or waits for another child to be up, holds up no one-for-one
//! restart, no backoff and no give-up (only the next start in order waits for it). A failure the body never takes from the queue,
//! because a cancel from outside dropped the body first, fails the supervisor's group,
//! named after the child, as any group keeps a child's failure under a cancel: a run
//! that finds the queue closed fails its own task with it, and the body's drop starts
//! a child named after the child that fails with each failure still queued.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::configured::Configured;
use crate::group::error::{Kind, Payload, Reason, TaskOutput};
use crate::group::isolated::catch;
use crate::{CancelScope, GroupError, Queue, StartError, TaskError, TaskGroup, TaskStatus};

/// How a [`Supervisor`] restarts its children.
///
/// ```
/// use std::time::Duration;
///
/// let policy = pride::RestartPolicy::one_for_all()
///     .max_restarts(5, Duration::from_secs(60))
///     .backoff(Duration::from_millis(10), Duration::from_secs(5));
/// # let _ = policy;
/// ```
#[derive(Clone, Debug)]
pub struct RestartPolicy {
    one_for_all: bool,
    max_restarts: usize,
    window: Duration,
    initial: Duration,
    max: Duration,
}

impl RestartPolicy {
    /// Restart only the child that failed. By default at most 3 restarts within 5
    /// seconds, with a backoff from 100 ms up to 10 s.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// // Restart a failed child on its own, at most 10 times a minute.
    /// let policy = pride::RestartPolicy::one_for_one().max_restarts(10, Duration::from_secs(60));
    /// # let _ = policy;
    /// ```
    pub fn one_for_one() -> RestartPolicy {
        RestartPolicy {
            one_for_all: false,
            max_restarts: 3,
            window: Duration::from_secs(5),
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
        }
    }

    /// On any failure, cancel every other child and restart them all, in order. For
    /// children that depend on one another. Same defaults as [`one_for_one`](Self::one_for_one).
    ///
    /// Every sibling that the restart cancels is started again, whatever it returns
    /// once it has been polled under the cancel: one that finishes a shielded unit of
    /// work and returns `Ok(())` then stopped because it was told to, and is not done.
    /// A child that returned `Ok(())` before the cancel reached it (before the failure,
    /// or from a poll that was already running when the cancel came) is done, and is
    /// not restarted.
    ///
    /// ```
    /// // A cache and the worker that fills it: restart both when either fails.
    /// let policy = pride::RestartPolicy::one_for_all();
    /// # let _ = policy;
    /// ```
    pub fn one_for_all() -> RestartPolicy {
        RestartPolicy {
            one_for_all: true,
            ..RestartPolicy::one_for_one()
        }
    }

    /// Allows at most `restarts` restarts within any `window`; one more failure and
    /// the supervisor gives up. `0` means the first failure is fatal.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// // Any failure ends the supervisor with an error.
    /// let fatal = pride::RestartPolicy::one_for_one().max_restarts(0, Duration::from_secs(1));
    /// # let _ = fatal;
    /// ```
    ///
    /// # Panics
    ///
    /// If `window` is zero and `restarts` is not: a restart counts against the budget
    /// while it is less than `window` ago, which none ever is, so the budget would be
    /// no limit at all. (With `restarts` at `0` the window plays no part.)
    #[track_caller]
    pub fn max_restarts(mut self, restarts: usize, window: Duration) -> RestartPolicy {
        assert!(
            restarts == 0 || !window.is_zero(),
            "pride: max_restarts({restarts}, ..) needs a window longer than zero"
        );
        self.max_restarts = restarts;
        self.window = window;
        self
    }

    /// The backoff before a restart: `initial`, doubling with each restart in the
    /// window, capped at `max`, then scaled by a random factor in [0.5, 1]. A `max`
    /// below `initial` caps the first delay too: every delay is then `max`, scaled.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let policy = pride::RestartPolicy::one_for_one()
    ///     .backoff(Duration::from_millis(50), Duration::from_secs(30));
    /// # let _ = policy;
    /// ```
    pub fn backoff(mut self, initial: Duration, max: Duration) -> RestartPolicy {
        self.initial = initial;
        self.max = max;
        self
    }

    /// The delay before the restart that follows `earlier` restarts in the window.
    fn delay(&self, earlier: usize) -> Duration {
        let exponent = u32::try_from(earlier).unwrap_or(u32::MAX).min(31);
        let full = self.initial.saturating_mul(1 << exponent).min(self.max);
        jittered(full, 0.5 + fastrand::f64() / 2.0)
    }
}

/// `full` scaled by `factor` (in [0.5, 1]), never more than `full`: in floating point
/// the product may round up, past the largest `Duration` for the largest ones.
fn jittered(full: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(full.as_secs_f64() * factor).map_or(full, |scaled| scaled.min(full))
}

/// One run of a child, its error or panic caught and named.
type BoxFuture = Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send>>;
/// Makes a run's future; `Err`: the child's factory panicked, which is the run's failure.
type Factory = Box<dyn FnMut(TaskStatus<()>) -> Result<BoxFuture, TaskError> + Send>;

struct Spec {
    name: Arc<str>,
    /// Shared with the start of each run, which calls it when the supervisor's body first
    /// polls that start, on the supervisor's task.
    factory: Arc<Mutex<Factory>>,
}

/// Starts building a supervisor with `policy`; add children with
/// [`Supervisor::child`], then await it.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::time::Duration;
///
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::autojump())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let attempts = Arc::new(AtomicUsize::new(0));
///     let tries = attempts.clone();
///     pride::supervise(pride::RestartPolicy::one_for_one())
///         .child("flaky", move || {
///             let attempt = tries.fetch_add(1, Ordering::SeqCst);
///             async move {
///                 if attempt < 2 {
///                     return Err("not yet");
///                 }
///                 Ok(())
///             }
///         })
///         .await
///         .unwrap();
///     assert_eq!(attempts.load(Ordering::SeqCst), 3); // failed twice, then done
/// });
/// ```
#[doc(alias("SupervisorJob", "TaskTracker"))]
pub fn supervise(policy: RestartPolicy) -> Supervisor {
    Supervisor {
        state: Configured::new(
            "Supervisor",
            Config {
                policy,
                specs: Vec::new(),
                ready: None,
            },
        ),
    }
}

/// A supervisor: a group of restartable children. Built by [`supervise`]; await it.
///
/// Resolves to `Ok(())` once every child has returned successfully, or to a
/// [`GroupError`] with the errors that used up the restart budget. When it gives up,
/// it cancels the other children and waits until they have ended; an error one
/// returns as it is torn down, or a panic in its cleanup, is in the report too.
///
/// Its rules:
/// - Children start in the order they were added; each must report readiness (or drop
///   its status, or end) before the next starts, as `TaskGroup::start` does. A one-for-all restart starts
///   them again in the same order. While a child starts, the supervisor goes on
///   handling the others: one that fails meanwhile (a dependency that the starting
///   child waits for, say) is restarted after its backoff, or the supervisor gives up,
///   as at any other time.
/// - A child that returns successfully is done and is not restarted; the supervisor
///   returns `Ok(())` once every child is done. A child that a one-for-all restart
///   cancelled is not done, whatever it returns from a poll under the cancel: it
///   stopped because it was told to, and starts again with the others.
/// - A panic in a child's factory (the closure that makes its future) is that run's
///   panic, named after the child and handled by the policy like any other.
/// - One-for-all: on a failure, the other running children are cancelled and have
///   ended before anything restarts. An error a sibling returns while it is torn down,
///   or a panic in its cleanup, does not count as a restart; it is kept for the report
///   while that restart is within the window, like the failure that caused it.
/// - Cancelling the supervisor (its enclosing scope) cancels every child and ends it,
///   like any group: with nothing to report, it ends as cancelled work. A cancel that
///   comes while it gives up does not drop its error: it still waits for its children
///   and returns the whole report. Nor is a child's failure lost to a cancel: one the
///   supervisor had not handled yet when the cancel came (an error a sibling returned
///   while a one-for-all restart tears it down, until that teardown is over, among
///   them), or that comes after it (an error a shielded cleanup returns, a panic in a
///   cleanup), is an entry of its `GroupError`, named after the child, and the error
///   passes out through the cancelled scopes. A failure it had already handled is not
///   reported: the child was restarted, is backing off and is not restarted, or its
///   one-for-all restart was tearing its siblings down.
/// - Dropping the supervisor by hand (the losing branch of a `select!`, not a cancel
///   through a scope) tears it down there and then, like any group's future dropped by
///   hand (see [`semantics`](crate::semantics), "No orphans"): every child is cancelled
///   and dropped, shielded cleanup and a give-up's teardown under way included, and
///   none runs again. There is no outcome left to report in: what it had not reported
///   yet is dropped with it, and so is a [`ready_on`](Self::ready_on) status not yet
///   reported (the `start` returns [`StartError::NotStarted`](crate::StartError::NotStarted)).
/// - The restart budget counts the restarts of the last `window`; the delay before a
///   restart is `initial * 2^k` (capped at `max`), where `k` is the number of restarts
///   in the window so far, scaled by a random factor in [0.5, 1] so that many
///   supervisors do not restart in lockstep.
/// - A failure counts against the budget when it comes, even while another child is
///   backing off or starting: one that uses up the budget gives up at once, without
///   waiting for that backoff or for that child to be ready. One-for-one, each failed
///   child restarts once its own backoff is over, without waiting for any other child
///   to be ready; children whose backoffs end together are started in order.
///
/// ```
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::autojump())
///     .build()
///     .unwrap();
/// # use std::time::Duration;
/// rt.block_on(async {
///     // Gives up after the restart budget: the error says what failed.
///     let error = pride::supervise(pride::RestartPolicy::one_for_one().max_restarts(1, Duration::from_secs(60)))
///         .child("broken", || async { Err::<(), _>("no database") })
///         .await
///         .unwrap_err();
///     assert_eq!(error.errors()[0].name(), Some("broken"));
/// });
/// ```
#[must_use = "a supervisor does nothing until awaited"]
pub struct Supervisor {
    state: Configured<Config>,
}

struct Config {
    policy: RestartPolicy,
    specs: Vec<Spec>,
    ready: Option<TaskStatus<()>>,
}

impl Supervisor {
    #[track_caller]
    fn config(&mut self) -> &mut Config {
        self.state.config()
    }

    /// Adds a child named `name`: `factory` makes a fresh future for each start. The
    /// child counts as ready as soon as the factory has returned its future; a run whose
    /// factory panicked was never ready.
    ///
    /// A run's future is dropped when it ends, and a panic in its `Drop` is the run's
    /// failure too, unless the run already failed: a run fails once, with its first
    /// failure.
    ///
    /// ```
    /// let rt = pride::Runtime::builder()
    ///     .clock(pride::time::Clock::autojump())
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     pride::supervise(pride::RestartPolicy::one_for_one())
    ///         .child("migrate", || async { Ok::<_, pride::BoxError>(()) }) // done: not restarted
    ///         .child("warm-up", || async {})
    ///         .await
    ///         .unwrap();
    /// });
    /// ```
    pub fn child<F, Fut>(mut self, name: impl Into<String>, mut factory: F) -> Supervisor
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        let name: Arc<str> = name.into().into();
        let named = name.clone();
        // Ready once the factory has made the run's future: a factory that panics made
        // no run, which is a failed start.
        let factory: Factory = Box::new(move |status: TaskStatus<()>| {
            boxed(named.clone(), || {
                let run = factory();
                status.started(());
                run
            })
        });
        self.config().specs.push(Spec {
            name,
            factory: Arc::new(Mutex::new(factory)),
        });
        self
    }

    /// Adds a child that reports its own readiness, like a [`TaskGroup::start`]
    /// child: the next child starts only once this one called
    /// [`TaskStatus::started`], dropped its status, or ended.
    ///
    /// A run that ends before it called `started` was not ready, even if its status
    /// lives on elsewhere (moved into a blocking closure, say): the supervisor handles
    /// that end as it comes, restarting the child or giving up, without waiting for
    /// the status to be dropped. A run that drops its status and runs on was not ready
    /// either: see [`ready_on`](Self::ready_on).
    ///
    /// ```
    /// let rt = pride::Runtime::builder()
    ///     .clock(pride::time::Clock::autojump())
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    ///     let (a, b) = (order.clone(), order.clone());
    ///     pride::supervise(pride::RestartPolicy::one_for_one())
    ///         .child_with_status("database", move |status| {
    ///             let a = a.clone();
    ///             async move {
    ///                 a.lock().unwrap().push("database up");
    ///                 status.started(()); // the next child starts only now
    ///             }
    ///         })
    ///         .child("api", move || {
    ///             let b = b.clone();
    ///             async move { b.lock().unwrap().push("api up") }
    ///         })
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(*order.lock().unwrap(), ["database up", "api up"]);
    /// });
    /// ```
    pub fn child_with_status<F, Fut>(
        mut self,
        name: impl Into<String>,
        mut factory: F,
    ) -> Supervisor
    where
        F: FnMut(TaskStatus<()>) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        let name: Arc<str> = name.into().into();
        let named = name.clone();
        let factory: Factory = Box::new(move |status| boxed(named.clone(), || factory(status)));
        self.config().specs.push(Spec {
            name,
            factory: Arc::new(Mutex::new(factory)),
        });
        self
    }

    /// Reports on `status` once every child has started for the first time, so that
    /// `tg.start(|status| supervise(policy).child(..).ready_on(status))` returns when
    /// the supervised service is up.
    ///
    /// A child has started once a run of it was ready (a [`child`](Self::child) is once
    /// its factory returned; a [`child_with_status`](Self::child_with_status) once it called
    /// [`TaskStatus::started`]) or it returned successfully. A child that failed before
    /// it was ready and is backing off is not up yet. If the supervisor gives up before
    /// every child has started, `start` returns [`StartError::Failed`](crate::StartError::Failed)
    /// with the supervisor's error.
    ///
    /// A run that lets go of its status without calling `started` and runs on never
    /// started, so the supervisor can never say that every child has: it lets go of
    /// `status` too, as such a child does, and `start` returns
    /// [`StartError::NotStarted`](crate::StartError::NotStarted) at once. The supervisor
    /// runs on, an ordinary child of the group, as a child that dropped its status after
    /// [`TaskGroup::start`] is. (A run that drops its status as it ends has not let go
    /// of it: its end is handled as it comes. Beware `|_status| async move { .. }`,
    /// which drops the status as the factory returns, before the run first runs.)
    ///
    /// ```
    /// pride::run(async {
    ///     pride::task_group(async |tg| {
    ///         // `start` returns once every supervised child has started.
    ///         tg.start(|status| {
    ///             pride::supervise(pride::RestartPolicy::one_for_one())
    ///                 .child("service", || async {})
    ///                 .ready_on(status)
    ///         })
    ///         .await?;
    ///         Ok::<_, pride::BoxError>(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    pub fn ready_on(mut self, status: TaskStatus<()>) -> Supervisor {
        self.config().ready = Some(status);
        self
    }
}

/// One run of a child: the future `make` returns, its panic and error named after the
/// child. A panic in `make` itself, which runs on the supervisor's task, is caught and
/// returned as the run's failure, so the policy handles it like any other.
fn boxed<Fut>(name: Arc<str>, make: impl FnOnce() -> Fut) -> Result<BoxFuture, TaskError>
where
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput,
{
    match catch_unwind(AssertUnwindSafe(make)) {
        Ok(future) => Ok(Box::pin(async move {
            catch(Some(name), future).await.map(drop)
        })),
        Err(panic) => {
            let error = TaskError::new(Some(name), Kind::Panic(Payload::new(panic)));
            // Traced as a panic of the run's future is.
            crate::debug::trace::failed(&error);
            Err(error)
        }
    }
}

/// Awaits `run`, a child's run inside the scope the supervisor cancels it with.
///
/// The run's work catches its own errors and panics, and a panic in its `Drop` once it
/// has ended; what can still unwind out of `run` is a panic in the `Drop` of work that
/// the scope dropped for a cancel. When that cancel is the supervisor's own (it
/// tears the child down), the panic is this run's failure, named after the child, and
/// goes to the supervisor like any other end of the run. When a cancel from outside the
/// supervisor stands, it goes on unwinding: the supervisor's group keeps it as the
/// child's cleanup panic, as any group does.
async fn cleanup_caught<F>(name: Arc<str>, run: F) -> Option<Result<(), TaskError>>
where
    F: Future<Output = Option<Result<(), TaskError>>>,
{
    let mut run = pin!(run);
    // Unwind safety: after a panic the run is never polled again, only dropped.
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| run.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) if crate::cancel::cancel_stands() => resume_unwind(panic),
            Err(panic) => {
                let error = TaskError::new(Some(name.clone()), Kind::Panic(Payload::new(panic)));
                crate::debug::trace::failed(&error);
                Poll::Ready(Some(Err(error)))
            }
        },
    )
    .await
}

pin_project_lite::pin_project! {
    /// A child's work, noting before each poll whether its run's scope was cancelled.
    /// Whether a success is a stop depends on whether the poll that returned it began
    /// under the cancel: the flag read after that poll may show a cancel that came
    /// while the poll ran (on another worker), which the work never saw.
    struct NoteCancel<'a, F> {
        #[pin]
        work: F,
        scope: &'a CancelScope,
        polled_cancelled: &'a mut bool,
    }
}

impl<F: Future> Future for NoteCancel<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        **this.polled_cancelled = this.scope.cancel_called();
        this.work.poll(cx)
    }
}

// The configuration is never pinned: the first poll moves it into a box.
impl Unpin for Supervisor {}

impl Future for Supervisor {
    type Output = Result<(), GroupError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().state.poll(cx, Config::run)
    }
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Supervisor");
        if let Some(config) = self.state.pending() {
            let names: Vec<&str> = config.specs.iter().map(|s| &*s.name).collect();
            d.field("policy", &config.policy).field("children", &names);
        }
        d.finish_non_exhaustive()
    }
}

/// How one run of a child ended, as it reports to the supervisor.
struct Exit {
    index: usize,
    generation: u64,
    /// `None`: the run was dropped by a cancel (the supervisor's teardown, or one from
    /// outside), or unwound, before it had an outcome; or it returned successfully
    /// after a teardown told it to stop, which is no more than stopping.
    outcome: Option<Result<(), TaskError>>,
}

/// The end of one run of a child, for the supervisor: the supervisor hears of every
/// run's end exactly once, whether the run returned, failed, was dropped by a cancel
/// (even before its first poll) or unwound. Dropped before [`end`](Self::end), it
/// queues an end without an outcome.
struct ExitOnDrop {
    exits: Queue<Exit>,
    exit: Option<Exit>,
    /// The run's [`Child::over`], set before the exit is queued.
    over: Arc<AtomicBool>,
}

impl ExitOnDrop {
    fn new(
        exits: &Queue<Exit>,
        index: usize,
        generation: u64,
        over: Arc<AtomicBool>,
    ) -> ExitOnDrop {
        let exit = Exit {
            index,
            generation,
            outcome: None,
        };
        ExitOnDrop {
            exits: exits.clone(),
            exit: Some(exit),
            over,
        }
    }

    /// Queues the run's end with its `outcome`, without waiting. If the queue is
    /// closed (a cancel from outside dropped the supervisor's body) and the run failed,
    /// nobody will handle the failure: the run's task fails with it, and the
    /// supervisor's group keeps it, named after the child. A failure queued before the
    /// close is the body's drop's to report (see [`CloseOnDrop`]).
    fn end(mut self, outcome: Option<Result<(), TaskError>>) -> Result<(), crate::BoxError> {
        let mut exit = self.exit.take().expect("a run ends once");
        exit.outcome = outcome;
        self.over.store(true, Ordering::Release);
        match self.exits.put_nowait(exit) {
            Err(refused) => match refused.into_inner().and_then(|exit| exit.outcome) {
                Some(Err(error)) => fail_task(error),
                _ => Ok(()),
            },
            Ok(()) => Ok(()),
        }
    }
}

impl Drop for ExitOnDrop {
    fn drop(&mut self) {
        // An unbounded queue takes every item while it is open; once it is closed, the
        // supervisor is gone, and an end without an outcome needs no one.
        if let Some(exit) = self.exit.take() {
            self.over.store(true, Ordering::Release);
            let _ = self.exits.put_nowait(exit);
        }
    }
}

/// Closes the queue of exits when the supervisor's body ends, however it ends, and
/// reports the failures the body had not handled yet: those it took from the queue and
/// still held (the errors of siblings a teardown not yet over has collected), then
/// those among the exits it never took (a cancel from outside dropped the body first).
/// Each fails a child it starts in the supervisor's group, named after the child whose
/// run failed, so that the group keeps it as that child's failure. Declared before the
/// body's other locals, so that it runs after the body's pending `get` has been dropped
/// and has put back any exit handed to it.
struct CloseOnDrop {
    exits: Queue<Exit>,
    tg: TaskGroup,
    names: Vec<Arc<str>>,
    /// Failures the body has taken and not handled yet, each with its child's index.
    unhandled: Vec<(usize, TaskError)>,
}

impl CloseOnDrop {
    fn report(&self, index: usize, error: TaskError) {
        // Never refused: the group closes only once its body has been dropped.
        self.tg
            .start_soon_named(&*self.names[index], async move { fail_task(error) });
    }
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.exits.close();
        for (index, error) in std::mem::take(&mut self.unhandled) {
            self.report(index, error);
        }
        while let Ok(exit) = self.exits.get_nowait() {
            if let Some(Err(error)) = exit.outcome {
                self.report(exit.index, error);
            }
        }
    }
}

/// Fails a run's task with `error`, a failure of that run: the supervisor's group keeps
/// it as that child's failure (a panic stays a panic, and is not shown again).
fn fail_task(error: TaskError) -> Result<(), crate::BoxError> {
    if error.is_panic() {
        resume_unwind(error.into_panic());
    }
    Err(error.into_error())
}

/// A run's start, which the supervisor's body polls for the run's readiness.
type Starting = Pin<Box<dyn Future<Output = Result<(), StartError>> + Send>>;

/// What the supervisor's body waits for.
enum Event {
    /// A run's start settled; the body has taken it into account.
    Started,
    /// The current run of a child ended.
    Exit(Exit),
    /// The earliest backoff is over.
    BackoffOver,
}

/// A child's state as the supervisor sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for its turn to start in order (the first start, a one-for-all restart).
    Queued,
    /// A run of it is starting or running.
    Running,
    /// It failed, and restarts at this instant, once its backoff is over.
    BackingOff(Instant),
    Done,
}

/// One child as the supervisor's body sees it.
struct Child {
    /// Where it is in its life: waiting for its turn to start, running, backing off or
    /// done.
    state: State,
    /// The run the supervisor is handling; the exits of earlier runs are skipped.
    generation: u64,
    /// The scope that cancels the current run.
    scope: CancelScope,
    /// The current run's start, until the body has seen it settle or the run end.
    start: Option<Starting>,
    /// A run's failure that came back from its start instead of in its exit.
    failed_start: Option<TaskError>,
    /// Whether a run of the child has been ready.
    up: bool,
    /// Whether the current run has ended, set as it queues its exit. A run that drops
    /// its status as it ends has set it by the time its start settles: a status
    /// dropped by the run's own poll settles the start after that poll, and a factory
    /// that panicked (dropping the status as it unwinds) ends the run before the start
    /// is seen to settle. A start settled without `started` while this is unset is a
    /// run that let go of its status and runs on.
    over: Arc<AtomicBool>,
}

/// The children as the supervisor's body sees them, one entry each.
struct Children {
    /// In the order the children were added, which is the order they start in.
    list: Vec<Child>,
    /// The child started in order whose readiness, or end, the next start in order
    /// waits for.
    awaiting: Option<usize>,
    /// A run let go of its status without calling `started` and runs on: that child
    /// never started, and the supervisor can no longer say that every child has.
    let_go: bool,
}

impl Children {
    fn new(count: usize) -> Children {
        let child = || Child {
            state: State::Queued,
            generation: 0,
            scope: CancelScope::new(),
            start: None,
            failed_start: None,
            up: false,
            over: Arc::new(AtomicBool::new(false)),
        };
        Children {
            list: (0..count).map(|_| child()).collect(),
            awaiting: None,
            let_go: false,
        }
    }

    /// Waits for the next event: a start that settles, the end of a child's current
    /// run, or the end of the backoff that ends at `backoff_ends`. Starts and exits are
    /// heard whatever else is under way, so no child waits on another's readiness to be
    /// heard. An exit taken from the queue is returned in the same poll: dropped
    /// before it returns, this loses no exit.
    async fn next_event(&mut self, exits: &Queue<Exit>, backoff_ends: Option<Instant>) -> Event {
        let mut get = pin!(exits.get());
        let mut backoff = pin!(backoff_ends.map(crate::sleep_until));
        poll_fn(|cx| {
            for (index, child) in self.list.iter_mut().enumerate() {
                let Some(start) = &mut child.start else {
                    continue;
                };
                if let Poll::Ready(outcome) = start.as_mut().poll(cx) {
                    child.start = None;
                    self.settled(index, outcome);
                    return Poll::Ready(Event::Started);
                }
            }
            while let Poll::Ready(exit) = get.as_mut().poll(cx) {
                let exit = exit.expect("the supervisor holds the queue");
                get.set(exits.get());
                if exit.generation == self.list[exit.index].generation {
                    return Poll::Ready(Event::Exit(self.ended(exit, cx)));
                }
            }
            match backoff.as_mut().as_pin_mut() {
                Some(sleep) => sleep.poll(cx).map(|()| Event::BackoffOver),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// The start of child `index`'s current run settled with `outcome`.
    fn settled(&mut self, index: usize, outcome: Result<(), StartError>) {
        // Settled either way: the next child in order may start, as after a
        // `TaskGroup::start` that returned (a run that let go of its status and runs on
        // holds up no later child).
        if self.awaiting == Some(index) {
            self.awaiting = None;
        }
        match outcome {
            Ok(()) => self.list[index].up = true,
            // It unwound before it was ready, which a run that catches its failures
            // does not do (only a cancel of the supervisor itself makes one unwind, and
            // then the start hands its error to the group); should it, the error is
            // that run's failure, for its exit.
            Err(StartError::Failed(error)) => self.list[index].failed_start = Some(error),
            // It let go of its status and runs on.
            Err(StartError::NotStarted) if !self.list[index].over.load(Ordering::Acquire) => {
                self.let_go = true;
            }
            // It ended before it was ready (a factory that panicked drops the status as
            // it unwinds): its exit says how.
            Err(_) => {}
        }
    }

    /// The current run of a child ended with `exit`. A run that was ready settled its
    /// start before it ended: the start is polled once more, for that, and dropped; one
    /// not settled yet settles as the run's task finishes, with nothing more to tell
    /// (a failure it would still hand to the starter goes to the group instead). A run
    /// that ended without an outcome, whose failure came back from its start, has that
    /// failure as its outcome.
    fn ended(&mut self, mut exit: Exit, cx: &mut Context<'_>) -> Exit {
        let index = exit.index;
        if let Some(mut start) = self.list[index].start.take() {
            if let Poll::Ready(outcome) = start.as_mut().poll(cx) {
                self.settled(index, outcome);
            }
        }
        if self.awaiting == Some(index) {
            self.awaiting = None;
        }
        if exit.outcome.is_none() {
            exit.outcome = self.list[index].failed_start.take().map(Err);
        }
        exit
    }

    /// Tears down the running children but `except` (on a one-for-all restart, the
    /// failed child's siblings; when the supervisor gives up, every child but the one
    /// that used up the budget): cancels them and waits until each has ended. The error
    /// a child returns as it is torn down (from a shielded cleanup, say), or a panic in
    /// its cleanup, goes to `errors` with the child's index. A child that returned
    /// successfully before it was cancelled is done; one that was stopped (whatever it
    /// returned, see [`Exit::outcome`]) stays running, for the caller to restart. The
    /// supervisor is then done with their runs.
    async fn tear_down(
        &mut self,
        except: usize,
        exits: &Queue<Exit>,
        errors: &mut Vec<(usize, TaskError)>,
    ) {
        let mut pending = 0;
        for (other, child) in self.list.iter().enumerate() {
            if other != except && child.state == State::Running {
                child.scope.cancel();
                pending += 1;
            }
        }
        while pending > 0 {
            let Event::Exit(mut late) = self.next_event(exits, None).await else {
                continue;
            };
            pending -= 1;
            let child = &mut self.list[late.index];
            child.generation += 1;
            match late.outcome.take() {
                Some(Err(e)) => errors.push((late.index, e)),
                Some(Ok(())) => child.state = State::Done,
                None => {}
            }
        }
    }
}

/// The supervisor gave up: the errors of its report.
///
/// The body returns it as its error, so that the supervisor's group fails with it next
/// to whatever else failed there (a child's cleanup panic under a cancel from outside),
/// and the failure passes out through cancelled scopes like any other; the supervisor
/// then puts these errors in its place among the group's entries.
struct GaveUp(Vec<TaskError>);

impl std::fmt::Debug for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("GaveUp").field(&self.0).finish()
    }
}

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the supervisor gave up after {} error(s)", self.0.len())
    }
}

impl std::error::Error for GaveUp {}

impl Config {
    async fn run(mut self) -> Result<(), GroupError> {
        // Kept here, not in the body, so that a give-up before every child has started
        // drops it only as the supervisor returns its error: the starter gets `Failed`.
        let mut ready = self.ready.take();
        let ready = &mut ready;
        let error = match crate::task_group(move |tg| self.supervise(tg, ready)).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        if !error
            .errors()
            .iter()
            .any(|e| e.downcast_ref::<GaveUp>().is_some())
        {
            return Err(error);
        }
        let mut errors = Vec::new();
        for entry in error.into_errors() {
            if entry.downcast_ref::<GaveUp>().is_some() {
                let report = entry.into_error().downcast::<GaveUp>();
                errors.extend(report.expect("checked above").0);
            } else {
                errors.push(entry);
            }
        }
        Err(GroupError::new(errors, Reason::Failed, None))
    }

    /// The supervisor's body; when it gives up, it tears its other children down and
    /// fails with the report.
    ///
    /// It never waits for one thing alone: it launches runs without waiting for them to
    /// be ready, and one wait hears their starts, their ends and the backoffs (see
    /// [`Children::next_event`]). Only a teardown waits for the children it tears down,
    /// before anything restarts.
    async fn supervise(
        self,
        tg: TaskGroup,
        ready: &mut Option<TaskStatus<()>>,
    ) -> Result<(), GaveUp> {
        let exits = Queue::<Exit>::unbounded();
        let mut close = CloseOnDrop {
            exits: exits.clone(),
            tg: tg.clone(),
            names: self.specs.iter().map(|spec| spec.name.clone()).collect(),
            unhandled: Vec::new(),
        };
        let count = self.specs.len();
        let mut children = Children::new(count);
        // Restart times and the errors that caused them, within the window.
        let mut restarts: VecDeque<(Instant, TaskError)> = VecDeque::new();
        // Errors that caused no restart, within the window: siblings torn down by a
        // one-for-all restart, at the time of that restart.
        let mut torn_down: VecDeque<(Instant, TaskError)> = VecDeque::new();

        loop {
            // Starts in order: the next queued child, once the one started before it is
            // ready or has ended.
            if children.awaiting.is_none() {
                let next = children.list.iter().position(|c| c.state == State::Queued);
                if let Some(index) = next {
                    self.launch(&tg, &mut children, index, &exits);
                    children.awaiting = Some(index);
                }
            }
            if children.let_go {
                // A child let go of its status and runs on: the supervisor lets go of
                // its own, as such a child does (the starter gets `NotStarted`).
                drop(ready.take());
            }
            let up = |c: &Child| c.up || c.state == State::Done;
            if ready.is_some() && children.list.iter().all(up) {
                ready.take().expect("checked above").started(());
            }
            if children.list.iter().all(|c| c.state == State::Done) {
                return Ok(());
            }
            // Exits are heard during a backoff too: a failure is counted when it comes.
            let backoff_ends = children
                .list
                .iter()
                .filter_map(|c| match c.state {
                    State::BackingOff(at) => Some(at),
                    _ => None,
                })
                .min();
            let exit = match children.next_event(&exits, backoff_ends).await {
                Event::Started => continue,
                Event::BackoffOver => {
                    // Restart every child whose backoff is over, in order: one-for-one
                    // each at once, one-for-all each once the one before it is ready.
                    let now = crate::current_time();
                    for index in 0..count {
                        let over = match children.list[index].state {
                            State::BackingOff(at) => at <= now,
                            _ => false,
                        };
                        if !over {
                            continue;
                        }
                        if self.policy.one_for_all {
                            children.list[index].state = State::Queued;
                        } else {
                            self.launch(&tg, &mut children, index, &exits);
                        }
                    }
                    continue;
                }
                Event::Exit(exit) => exit,
            };
            let Exit { index, outcome, .. } = exit;
            let error = match outcome {
                Some(Ok(())) | None => {
                    children.list[index].state = State::Done;
                    continue;
                }
                Some(Err(error)) => error,
            };
            let now = crate::current_time();
            let window = self.policy.window;
            let in_window = |at: &Instant| now.saturating_duration_since(*at) < window;
            while restarts.front().is_some_and(|(at, _)| !in_window(at)) {
                restarts.pop_front();
            }
            while torn_down.front().is_some_and(|(at, _)| !in_window(at)) {
                torn_down.pop_front();
            }
            if restarts.len() >= self.policy.max_restarts {
                let mut errors: Vec<TaskError> = restarts.into_iter().map(|(_, e)| e).collect();
                errors.extend(torn_down.into_iter().map(|(_, e)| e));
                errors.push(error);
                // Shielded: a cancel from outside reaches the children, and the report
                // still waits for them and is returned whole.
                let shield = CancelScope::new();
                shield.set_shield(true);
                let others = children.tear_down(index, &exits, &mut close.unhandled);
                shield.run(others).await;
                errors.extend(close.unhandled.drain(..).map(|(_, e)| e));
                return Err(GaveUp(errors));
            }
            let delay = self.policy.delay(restarts.len());
            restarts.push_back((now, error));
            children.list[index].generation += 1;
            if self.policy.one_for_all {
                // Until the teardown is over, the siblings' errors are the body's to
                // report if a cancel from outside drops it.
                children
                    .tear_down(index, &exits, &mut close.unhandled)
                    .await;
                torn_down.extend(close.unhandled.drain(..).map(|(_, e)| (now, e)));
                let restart_at = crate::time::deadline_after(crate::current_time(), delay);
                for child in &mut children.list {
                    if matches!(child.state, State::Running | State::Queued) {
                        child.state = State::BackingOff(restart_at);
                    }
                }
            } else {
                children.list[index].state =
                    State::BackingOff(crate::time::deadline_after(now, delay));
            }
        }
    }

    /// Launches the next run of child `index`, without waiting for it to be ready: the
    /// body polls its start with the exits (see [`Children::next_event`]), and the first
    /// poll calls the child's factory. Whatever way the run ends, it queues its exit.
    fn launch(&self, tg: &TaskGroup, children: &mut Children, index: usize, exits: &Queue<Exit>) {
        let spec = &self.specs[index];
        let scope = CancelScope::new();
        let run_scope = scope.clone();
        let name = spec.name.clone();
        let factory = spec.factory.clone();
        let child = &mut children.list[index];
        let over = Arc::new(AtomicBool::new(false));
        let exit = ExitOnDrop::new(exits, index, child.generation, over.clone());
        let start = tg.start_named(&*spec.name, move |status| {
            // A factory that panicked made no run: the run ends here, before its start
            // settles. (The body, which polls the start, holds the queue open.)
            let run = match (*factory.lock())(status) {
                Ok(work) => Ok((work, exit)),
                Err(error) => Err(exit.end(Some(Err(error)))),
            };
            async move {
                // The exit came in with the run, and is dropped with it however the run
                // ends (before its first poll too).
                let (work, exit) = match run {
                    Ok(run) => run,
                    Err(ended) => return ended,
                };
                let mut polled_cancelled = false;
                let work = NoteCancel {
                    work,
                    scope: &run_scope,
                    polled_cancelled: &mut polled_cancelled,
                };
                let outcome = cleanup_caught(name, run_scope.run(work)).await;
                let outcome = match outcome {
                    // Told to stop, it stopped: a success in a poll that began under
                    // the cancel is not "done", but a run stopped as the cancel would
                    // have, which a one-for-all restart starts again.
                    Some(Ok(())) if polled_cancelled => None,
                    outcome => outcome,
                };
                exit.end(outcome)
            }
        });
        child.state = State::Running;
        child.over = over;
        child.scope = scope;
        child.start = Some(Box::pin(start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest backoff, scaled by a factor that rounds to 1: the largest
    /// `Duration`, not a panic (`Duration::mul_f64` overflows there).
    #[test]
    fn jitter_of_the_largest_backoff_stays_in_range() {
        assert_eq!(jittered(Duration::MAX, 1.0), Duration::MAX);
        let factor = 0.5 + (1.0 - f64::EPSILON / 2.0) / 2.0;
        assert_eq!(jittered(Duration::MAX, factor), Duration::MAX);
        assert!(jittered(Duration::MAX, 0.5) <= Duration::MAX / 2 + Duration::from_secs(1));
        assert_eq!(
            jittered(Duration::from_millis(100), 0.5),
            Duration::from_millis(50)
        );
    }
}
