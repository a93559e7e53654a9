//! Randomized structured programs, checked against the promises of `pride::semantics`.
//!
//! Each seed generates a program tree ([`Node`]): task groups (some with a concurrency
//! limit, a deadline or a timed cancel) whose children start in the ways the API
//! offers (`start_soon_named`, `start_soon_isolated_with`, `spawn_named` with a handle
//! that may cancel, `start_named` with work before `started`, and from deep inside
//! other children), cancel scopes with deadlines and shields, `move_on_after`, and
//! errors, panics and panics in `Drop`. It runs on an autojump-clock runtime with one
//! worker and with two, and is checked:
//!
//! - every error and panic comes back exactly once, under its task's name: in the
//!   returned `GroupError` tree, a failed `start`, or an isolated child's handler;
//! - no program future outlives the group it ran in, each is dropped exactly once, and
//!   no task is alive after `block_on`;
//! - cancels and deadlines reach every child: work that only a cancel ends
//!   (`Node::Pending`, placed only where a deadline or a timed cancel is sure to come)
//!   ends, or the watchdog fails the run;
//! - a scope gives up its work only for its own deadline, never before it, and work
//!   inside an entered shield is never dropped by a cancel from outside;
//! - a group's timeout never comes early, a limited group never runs more children
//!   than its limit, and a task handle's outcome matches what its child did.
//!
//! The seeds are fixed, so a run is repeatable up to thread scheduling (every check
//! holds under any interleaving). A failure prints the seed and the program.
//! `PRIDE_FUZZ_SEEDS=start..end` runs other seeds: `PRIDE_FUZZ_SEEDS=0..20000 cargo
//! test --release --test fuzz` searches longer, `PRIDE_FUZZ_SEEDS=7..8` replays seed 7.

mod common;

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::MyError;
use pride::{BoxError, CancelScope, GroupError, StartError, TaskError, TaskGroup};
use pride::{TaskStatus, time::Clock};

/// The seeds a plain `cargo test` runs.
const DEFAULT_SEEDS: Range<u64> = 0..2000;

/// The payload prefix of the program's panics, which the panic hook keeps quiet.
const PANIC_PREFIX: &str = "fuzz:";

// === Programs and their generator ===

/// One piece of a program. Durations are milliseconds of the autojump clock; ids are
/// unique in a program and name its tasks (`t{id}`), groups (`g{id}`) and failures.
#[derive(Debug)]
enum Node {
    Yield,
    Sleep(u64),
    /// Never finishes by itself: generated only where a deadline or a timed cancel is
    /// sure to come.
    Pending,
    /// Returns `MyError(id)`.
    Fail(u32),
    /// Panics with `"fuzz:{id}"`.
    Panic(u32),
    /// The inner work, holding a guard that panics (`"fuzz:{id}"`) if dropped before
    /// the work finished: a failing cleanup.
    PanicOnDrop(u32, Box<Node>),
    Seq(Vec<Node>),
    Group(Box<Group>),
    /// A `CancelScope` with an optional timeout, shielded if `true`.
    Scope(Option<u64>, bool, Box<Node>),
    MoveOn(u64, Box<Node>),
    /// Starts the inner work as child `t{id}` of the nearest group.
    Sibling(u32, Box<Node>),
}

#[derive(Debug)]
struct Group {
    id: u32,
    limit: Option<usize>,
    timeout: Option<u64>,
    /// Cancels the group's scope after this long.
    cancel: Option<u64>,
    /// Started by the body, in order, before it runs its own work.
    kids: Vec<(u32, How, Node)>,
    body: Node,
}

#[derive(Debug)]
enum How {
    Soon,
    Isolated,
    /// `spawn_named`; another child awaits the handle (cancelling it first after
    /// `Some(ms)`) and checks what it gives.
    Spawn(Option<u64>),
    /// `start_named`: runs this, calls `started`, then runs the child's work.
    Start(Node),
}

struct Generator {
    rng: fastrand::Rng,
    next_id: u32,
    budget: usize,
}

impl Generator {
    fn program(seed: u64) -> Node {
        let (rng, budget) = (fastrand::Rng::with_seed(seed), 25 + (seed % 60) as usize);
        let mut generator = Generator {
            rng,
            next_id: 0,
            budget,
        };
        match seed % 3 {
            0 => generator.node(0, false),
            _ => Node::Group(Box::new(generator.group(0, false))),
        }
    }

    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn ms(&mut self) -> u64 {
        self.rng.u64(0..30)
    }

    /// `Some(ms)` one time in `n`.
    fn sometimes_ms(&mut self, n: u32) -> Option<u64> {
        (self.rng.u32(0..n) == 0).then(|| self.ms())
    }

    /// `bounded`: a deadline or a timed cancel is sure to reach this place.
    fn node(&mut self, depth: usize, bounded: bool) -> Node {
        if self.budget == 0 {
            return Node::Yield;
        }
        self.budget -= 1;
        if depth >= 4 || self.rng.u32(0..3) == 0 {
            return match self.rng.u32(0..20) {
                0..=3 => Node::Yield,
                10 | 11 if bounded => Node::Pending,
                4..=17 => Node::Sleep(self.ms()),
                18 => Node::Fail(self.id()),
                _ => Node::Panic(self.id()),
            };
        }
        let inner = |g: &mut Generator, bounded| Box::new(g.node(depth + 1, bounded));
        match self.rng.u32(0..10) {
            0 | 1 => Node::Group(Box::new(self.group(depth, bounded))),
            2 | 3 => {
                let length = self.rng.u32(1..4);
                Node::Seq((0..length).map(|_| *inner(self, bounded)).collect())
            }
            4 | 5 => {
                let (timeout, shield) = (self.sometimes_ms(2), self.rng.u32(0..3) == 0);
                let inner = inner(self, timeout.is_some() || (bounded && !shield));
                Node::Scope(timeout, shield, inner)
            }
            6 | 7 => Node::MoveOn(self.ms(), inner(self, true)),
            // Runs in the nearest group, outside the scopes between here and there.
            8 => Node::Sibling(self.id(), inner(self, false)),
            _ => Node::PanicOnDrop(self.id(), inner(self, bounded)),
        }
    }

    fn group(&mut self, depth: usize, bounded: bool) -> Group {
        let limit = (self.rng.u32(0..3) == 0).then(|| self.rng.usize(1..3));
        let (timeout, cancel) = (self.sometimes_ms(4), self.sometimes_ms(5));
        // The body and the children (also before `started`: the caller is the body)
        // are in the group's scope.
        let bounded = bounded || timeout.is_some() || cancel.is_some();
        let mut kids = Vec::new();
        for _ in 0..self.rng.u32(0..5) {
            let how = match self.rng.u32(0..5) {
                0 | 1 => How::Soon,
                2 => How::Isolated,
                3 => How::Spawn(self.sometimes_ms(2)),
                _ => How::Start(self.node(depth + 2, bounded)),
            };
            kids.push((self.id(), how, self.node(depth + 1, bounded)));
        }
        let (id, body) = (self.id(), self.node(depth + 1, bounded));
        Group {
            id,
            limit,
            timeout,
            cancel,
            kids,
            body,
        }
    }
}

/// A readable listing of a program, one node per line.
fn describe(node: &Node, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let (line, inner) = match node {
        Node::PanicOnDrop(id, inner) => (format!("PanicOnDrop({id}), around:"), inner),
        Node::Scope(timeout, shield, inner) => (format!("Scope({timeout:?}, {shield}):"), inner),
        Node::MoveOn(ms, inner) => (format!("MoveOn({ms}):"), inner),
        Node::Sibling(id, inner) => (format!("Sibling t{id}:"), inner),
        Node::Seq(nodes) => {
            let _ = writeln!(out, "{pad}Seq:");
            return nodes.iter().for_each(|node| describe(node, depth + 1, out));
        }
        Node::Group(group) => {
            let (id, limit, timeout, cancel) = (group.id, group.limit, group.timeout, group.cancel);
            let what = format!("limit {limit:?}, timeout {timeout:?}, cancel {cancel:?}");
            let _ = writeln!(out, "{pad}Group g{id}, {what}:");
            for (id, how, work) in &group.kids {
                if let How::Start(pre) = how {
                    let _ = writeln!(out, "{pad}  child t{id} Start, before started:");
                    describe(pre, depth + 2, out);
                    let _ = writeln!(out, "{pad}  child t{id} after started:");
                } else {
                    let _ = writeln!(out, "{pad}  child t{id} {how:?}:");
                }
                describe(work, depth + 2, out);
            }
            let _ = writeln!(out, "{pad}  body:");
            return describe(&group.body, depth + 2, out);
        }
        leaf => {
            let _ = writeln!(out, "{pad}{leaf:?}");
            return;
        }
    };
    let _ = writeln!(out, "{pad}{line}");
    describe(inner, depth + 1, out);
}

// === Running a program ===

/// Failure ids and the task names they came back under.
type Found = Vec<(u32, Option<String>)>;

/// What one run records.
#[derive(Default)]
struct Env {
    /// The failures the program raised: id, the task it ran in, what it was.
    raised: Mutex<Vec<(u32, Option<String>, &'static str)>>,
    /// The failures isolated children's handlers got.
    handled: Mutex<Found>,
    violations: Mutex<Vec<String>>,
    /// The program futures not yet dropped: key -> the groups they run in.
    alive: Mutex<HashMap<u64, Vec<u32>>>,
    next_key: AtomicU64,
}

impl Env {
    fn violation(&self, what: String) {
        self.violations.lock().unwrap().push(what);
    }
}

/// Where a piece of the program runs.
#[derive(Clone, Default)]
struct Ctx {
    env: Arc<Env>,
    /// The named task this code runs in; `None` in a group's body and outside every
    /// group.
    task: Option<String>,
    /// The groups around, innermost last.
    groups: Vec<u32>,
    /// The nearest group, and the `groups` of the code that runs directly in it.
    group: Option<(TaskGroup, Vec<u32>)>,
}

impl Ctx {
    /// This context, in the task `task`.
    fn in_task(&self, task: Option<String>) -> Ctx {
        let mut ctx = self.clone();
        ctx.task = task;
        ctx
    }

    fn raise(&self, id: u32, kind: &'static str) {
        let mut raised = self.env.raised.lock().unwrap();
        raised.push((id, self.task.clone(), kind));
    }
}

/// Runs its action when dropped, unless disarmed first.
struct OnDrop(Option<Box<dyn FnOnce() + Send>>);

impl OnDrop {
    fn new(action: impl FnOnce() + Send + 'static) -> OnDrop {
        OnDrop(Some(Box::new(action)))
    }

    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(action) = self.0.take() {
            action();
        }
    }
}

/// Registers a program future, with the groups it runs in, until it is dropped: a
/// group that returns while one of its futures is registered left an orphan, and a
/// drop that finds its future gone is a second drop.
fn alive(ctx: &Ctx) -> OnDrop {
    let env = ctx.env.clone();
    let key = env.next_key.fetch_add(1, SeqCst);
    env.alive.lock().unwrap().insert(key, ctx.groups.clone());
    OnDrop::new(move || {
        if env.alive.lock().unwrap().remove(&key).is_none() {
            env.violation(format!("program future {key} dropped twice"));
        }
    })
}

/// A group's running children (`[0]`) and their peak (`[1]`). Its cancel timer is
/// not counted: an undercount can only hide a breach, never make one up.
type Gauge = Arc<[AtomicI64; 2]>;

/// `future`, counted in `gauge` from its first poll until it ends or is dropped.
fn counted<F: Future>(future: F, gauge: &Gauge) -> impl Future<Output = F::Output> + use<F> {
    let gauge = gauge.clone();
    async move {
        gauge[1].fetch_max(gauge[0].fetch_add(1, SeqCst) + 1, SeqCst);
        let _leave = OnDrop::new(move || {
            gauge[0].fetch_sub(1, SeqCst);
        });
        future.await
    }
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Whether `n` ms have not yet passed since `start`.
fn early_since(start: Instant) -> impl Fn(u64) -> bool {
    move |n| pride::current_time() < start + ms(n)
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// The future of `node`, registered (and, for `PanicOnDrop`, armed) from now on, so
/// that one dropped before its first poll counts too.
fn run(node: Node, ctx: Ctx) -> BoxFuture {
    let alive = alive(&ctx);
    let failing = match node {
        Node::PanicOnDrop(id, _) => Some((id, ctx.clone())),
        _ => None,
    };
    let guard = OnDrop::new(move || {
        if let Some((id, ctx)) = failing.filter(|_| !std::thread::panicking()) {
            ctx.raise(id, "panic in Drop");
            panic!("{PANIC_PREFIX}{id}");
        }
    });
    Box::pin(async move {
        let _alive = alive;
        let result = run_node(node, ctx).await;
        guard.disarm();
        result
    })
}

async fn run_node(node: Node, ctx: Ctx) -> Result<(), BoxError> {
    let env = ctx.env.clone();
    let early = early_since(pride::current_time());
    match node {
        Node::Yield => pride::yield_now().await,
        Node::Sleep(n) => pride::sleep(ms(n)).await,
        Node::Pending => std::future::pending().await,
        Node::Fail(id) => {
            ctx.raise(id, "error");
            return Err(MyError(id).into());
        }
        Node::Panic(id) => {
            ctx.raise(id, "panic");
            panic!("{PANIC_PREFIX}{id}");
        }
        Node::PanicOnDrop(_, inner) => return run(*inner, ctx).await,
        Node::Seq(nodes) => {
            for node in nodes {
                run(node, ctx.clone()).await?;
            }
        }
        Node::Group(group) => return run_group(*group, ctx).await,
        Node::Scope(timeout, shield, inner) => {
            let scope = timeout.map_or_else(CancelScope::new, |n| CancelScope::with_timeout(ms(n)));
            scope.set_shield(shield);
            let (work, watcher) = (run(*inner, ctx.clone()), env.clone());
            let out = scope
                .run(async move {
                    // Entered: a shield with no deadline of its own holds its work to
                    // the end (or to a panic, which unwinds it).
                    let watch = OnDrop::new(move || {
                        if shield && timeout.is_none() && !std::thread::panicking() {
                            watcher.violation("a cancel from outside dropped shielded work".into());
                        }
                    });
                    let result = work.await;
                    watch.disarm();
                    result
                })
                .await;
            // `run` gives `None` exactly when this scope dropped the work, which only
            // its own deadline can make it do: a cancel from further out is caught
            // further out.
            let caught = scope.cancelled_caught();
            let broken = match (&out, timeout) {
                (Some(_), _) => caught.then_some("gave Some, but cancelled_caught()"),
                (None, _) if !caught => Some("gave None, but not cancelled_caught()"),
                (None, None) => Some("gave None with no deadline of its own"),
                (None, Some(n)) => early(n).then_some("gave None before its deadline"),
            };
            if let Some(what) = broken {
                env.violation(format!("Scope({timeout:?}, {shield}) {what}"));
            }
            out.unwrap_or(Ok(()))?;
        }
        Node::MoveOn(n, inner) => {
            let out = pride::move_on_after(ms(n), run(*inner, ctx.clone())).await;
            if out.is_none() && early(n) {
                env.violation(format!("move_on_after({n}) gave up early"));
            }
            out.unwrap_or(Ok(()))?;
        }
        Node::Sibling(id, inner) => {
            if let Some((tg, groups)) = &ctx.group {
                let mut sibling = ctx.in_task(Some(format!("t{id}")));
                sibling.groups = groups.clone();
                tg.start_soon_named(format!("t{id}"), run(*inner, sibling));
            }
        }
    }
    Ok(())
}

async fn run_group(group: Group, ctx: Ctx) -> Result<(), BoxError> {
    let (id, limit, timeout, cancel) = (group.id, group.limit, group.timeout, group.cancel);
    let (kids, body, env, gauge) = (group.kids, group.body, ctx.env.clone(), Gauge::default());
    let (mut inside, kid_gauge) = (ctx, gauge.clone());
    inside.groups.push(id);
    let make_body = move |tg: TaskGroup| async move {
        let gauge = kid_gauge;
        inside.group = Some((tg.clone(), inside.groups.clone()));
        if let Some(n) = timeout {
            let deadline = pride::current_time() + ms(n);
            tg.cancel_scope().set_deadline(Some(deadline));
        }
        if let Some(n) = cancel {
            let scope = tg.cancel_scope().clone();
            tg.start_soon(async move {
                pride::sleep(ms(n)).await;
                scope.cancel();
            });
        }
        for (id, how, work) in kids {
            let name = format!("t{id}");
            let kid = inside.in_task(Some(name.clone()));
            match how {
                How::Soon => tg.start_soon_named(name, counted(run(work, kid), &gauge)),
                How::Isolated => {
                    let env = kid.env.clone();
                    tg.start_soon_isolated_with(name, counted(run(work, kid), &gauge), move |e| {
                        collect_task_error(&e, &mut env.handled.lock().unwrap());
                    });
                }
                How::Spawn(cancel_after) => {
                    let (env, returned) = (kid.env.clone(), Arc::new(AtomicBool::new(false)));
                    let (work, set) = (run(work, kid), returned.clone());
                    let child = async move {
                        let result = work.await;
                        set.store(true, SeqCst);
                        result
                    };
                    let handle = tg.spawn_named(name, counted(child, &gauge));
                    let awaiter = async move {
                        if let Some(n) = cancel_after {
                            pride::sleep(ms(n)).await;
                            handle.cancel();
                        }
                        // "Cancelled" only if the child did not return, `Ok` only if it
                        // did, and a failure's copy marked as reported: the failure
                        // itself went to the group.
                        let outcome = handle.await;
                        let returned = returned.load(SeqCst);
                        let right = match &outcome {
                            Ok(()) => returned,
                            Err(error) if error.is_cancelled() => !returned,
                            Err(error) => error.is_reported(),
                        };
                        if !right {
                            env.violation(format!("handle gave {outcome:?}, returned {returned}"));
                        }
                    };
                    tg.start_soon(counted(awaiter, &gauge));
                }
                How::Start(pre) => {
                    let (pre, gauge) = (run(pre, kid.clone()), gauge.clone());
                    let child = async move |status: TaskStatus<()>| {
                        pre.await?;
                        status.started(());
                        run(work, kid).await
                    };
                    let child = |status| counted(child(status), &gauge);
                    tg.start_named(name, child).await?;
                }
            }
        }
        run(body, inside.in_task(None)).await
    };
    let start = pride::current_time();
    let result = match limit {
        Some(n) => pride::task_group_with_limit(n, make_body).await,
        None => pride::task_group(make_body).await,
    };
    // The group returned: everything that ran in it is gone.
    let alive = {
        let alive = env.alive.lock().unwrap();
        alive.values().filter(|g| g.contains(&id)).count()
    };
    if alive != 0 {
        env.violation(format!("{alive} futures outlived group g{id}"));
    }
    let peak = gauge[1].load(SeqCst);
    if limit.is_some_and(|n| peak > n as i64) {
        env.violation(format!("g{id} ran {peak} children at once"));
    }
    let timed_out = result.as_ref().is_err_and(GroupError::is_timeout);
    if timed_out && timeout.is_none_or(early_since(start)) {
        env.violation(format!("g{id} timed out before its deadline {timeout:?}"));
    }
    Ok(result?)
}

// === Checking a run ===

/// Collects the program's failures in an error that came back under `name`, through
/// nested groups and failed `start`s.
fn collect(name: Option<&str>, error: &(dyn Error + 'static), found: &mut Found) {
    if let Some(MyError(id)) = error.downcast_ref::<MyError>() {
        found.push((*id, name.map(str::to_owned)));
    } else if let Some(group) = error.downcast_ref::<GroupError>() {
        for error in group.errors() {
            collect_task_error(error, found);
        }
    } else if let Some(StartError::Failed(error)) = error.downcast_ref::<StartError>() {
        collect_task_error(error, found);
    }
}

fn collect_task_error(error: &TaskError, found: &mut Found) {
    match (error.panic_message().and_then(fuzz_id), error.error()) {
        (Some(id), _) => found.push((id, error.name().map(str::to_owned))),
        (None, Some(inner)) => collect(error.name(), inner, found),
        (None, None) => {}
    }
}

/// The id in a program panic's message.
fn fuzz_id(message: &str) -> Option<u32> {
    message.strip_prefix(PANIC_PREFIX)?.parse().ok()
}

/// Runs the program of `seed` on `workers` workers; returns what went wrong.
fn check_program(seed: u64, workers: usize) -> Vec<String> {
    let ctx = Ctx::default();
    let env = ctx.env.clone();
    let mut builder = common::builder(workers);
    let runtime = builder.clock(Clock::autojump()).build().unwrap();
    let program = run(Generator::program(seed), ctx);
    let run = std::panic::AssertUnwindSafe(|| runtime.block_on(program));
    let outcome = std::panic::catch_unwind(run).map_err(|p| common::panic_text(&*p).to_owned());

    // Every failure the program raised comes back exactly once, under the name of the
    // task it was raised in (`None` for a group's body and outside every group).
    let mut found = std::mem::take(&mut *env.handled.lock().unwrap());
    match &outcome {
        Ok(Err(error)) => collect(None, &**error, &mut found),
        Err(panic) => found.extend(fuzz_id(panic).map(|id| (id, None))),
        Ok(Ok(())) => {}
    }
    let mut violations = std::mem::take(&mut *env.violations.lock().unwrap());
    for (id, task, kind) in env.raised.lock().unwrap().iter() {
        let names: Vec<_> = found.iter().filter(|f| f.0 == *id).map(|f| &f.1).collect();
        let wrong = match names[..] {
            [] => "was lost".to_owned(),
            [name] if name != task => format!("came back under {name:?}"),
            [_] => continue,
            _ => format!("came back {} times", names.len()),
        };
        violations.push(format!("{kind} {id} raised in {task:?} {wrong}"));
    }
    let alive = env.alive.lock().unwrap().len();
    let tasks = runtime.metrics().tasks_alive;
    if alive != 0 || tasks != 0 {
        violations.push(format!(
            "after block_on: {alive} futures, {tasks} tasks alive"
        ));
    }
    if !violations.is_empty() {
        violations.insert(0, format!("block_on gave {outcome:?}"));
    }
    violations
}

/// The seeds to run: `PRIDE_FUZZ_SEEDS=start..end`, or [`DEFAULT_SEEDS`].
fn seeds() -> Range<u64> {
    let Ok(text) = std::env::var("PRIDE_FUZZ_SEEDS") else {
        return DEFAULT_SEEDS;
    };
    let parse = |s: &str| s.trim().parse().ok();
    let range = text
        .split_once("..")
        .and_then(|(a, b)| Some(parse(a)?..parse(b)?));
    range.unwrap_or_else(|| panic!("PRIDE_FUZZ_SEEDS={text:?}: want start..end"))
}

fn fuzz(workers: usize) {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !common::panic_text(info.payload()).starts_with(PANIC_PREFIX) {
                default(info);
            }
        }));
    });
    let mut failures = Vec::new();
    for seed in seeds() {
        let program = move || {
            let mut text = format!("seed {seed} on {workers} workers (PRIDE_FUZZ_SEEDS=");
            let _ = writeln!(text, "{seed}..{}), program:", seed + 1);
            describe(&Generator::program(seed), 1, &mut text);
            text
        };
        let violations =
            common::watchdog_showing(60, move || check_program(seed, workers), program);
        if !violations.is_empty() {
            failures.push(format!("{}{}", program(), violations.join("\n")));
            if failures.len() == 3 {
                break;
            }
        }
    }
    let count = failures.len();
    assert!(
        count == 0,
        "{count} failing programs:\n\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn one_worker() {
    fuzz(1);
}

#[test]
fn two_workers() {
    fuzz(2);
}
