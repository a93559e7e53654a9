//! The task tree dump: every `block_on` call's scopes, groups and tasks, read from the
//! cancel tree the runtime keeps anyway.
//!
//! Each `block_on` runs its future inside a root scope (never cancelled) that the
//! runtime lists; everything opened inside links below it: a group's children at
//! once, a group or a cancel scope once its work first suspends (before that, only the
//! task running it can reach it, and it is mid-poll). The dump walks down from the
//! roots (with a stack of its own: a chain of nested groups may be thousands of levels
//! deep), taking each node's short locks (its own, and a group's tables of children)
//! to copy its list of children, and reads flags with atomic loads. A task's node also
//! reads the two debug words in its header (`task.rs`): when its latest poll began,
//! and what it waits for.

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::task::{RootWaits, TaskDebug, TaskInfo, Wait};
use crate::cancel::current;
use crate::cancel::node::{Below, Label, ScopeNode};
use crate::loom::sync::{Arc, Mutex};
use crate::runtime::metrics::Counter;
use crate::time::TimeDriver;

/// The roots of one runtime's tree: one per running `block_on`.
#[derive(Default)]
pub(crate) struct Roots {
    listed: Mutex<Vec<Listed>>,
    /// Polls of `block_on` futures so far, on any thread. With the workers' polls it
    /// is the deadlock watch's measure of progress: a root that ran between two looks
    /// ends the episode even if no look saw it running.
    polls: Counter,
}

/// A listed root: its scope, and the debug words of the future `block_on` runs.
#[derive(Clone)]
struct Listed {
    node: Arc<ScopeNode>,
    debug: StdArc<TaskDebug>,
}

/// A `block_on` call's root scope, listed in its runtime's roots while it lives.
pub(crate) struct Root<'a> {
    roots: &'a Roots,
    time: &'a TimeDriver,
    listed: Listed,
    /// Leaf futures polled on this thread record their waits in `listed.debug`.
    _waits: RootWaits,
}

impl<'a> Root<'a> {
    pub(crate) fn enter(roots: &'a Roots, time: &'a TimeDriver) -> Root<'a> {
        let node = ScopeNode::new();
        ScopeNode::enter_unlinked(&node, None);
        let debug = StdArc::new(TaskDebug::default());
        let listed = Listed { node, debug };
        roots.listed.lock().push(listed.clone());
        Root {
            roots,
            time,
            _waits: RootWaits::enter(listed.debug.clone()),
            listed,
        }
    }

    /// Polls `future` inside the root scope, and counts the poll (see [`Roots::polls`]).
    pub(crate) fn poll<F: Future>(
        &self,
        future: Pin<&mut F>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        self.roots.polls.bump_shared();
        self.listed.debug.polling(self.time.tick_now());
        current::enter(&self.listed.node, || future.poll(cx)).0
    }
}

impl Drop for Root<'_> {
    fn drop(&mut self) {
        let node = &self.listed.node;
        self.roots
            .listed
            .lock()
            .retain(|n| !Arc::ptr_eq(&n.node, node));
    }
}

impl Roots {
    /// Whether no `block_on` call is running.
    pub(crate) fn is_empty(&self) -> bool {
        self.listed.lock().is_empty()
    }

    /// Polls of `block_on` futures so far. Each is counted before the poll, on the
    /// thread that then stops counting as a running `block_on` to wait: a look that
    /// finds no `block_on` running reads every poll before that.
    pub(crate) fn polls(&self) -> u64 {
        self.polls.get()
    }

    /// Copies the tree below every root, reading times from `time`'s clock.
    pub(crate) fn dump(&self, workers: usize, time: &TimeDriver) -> TreeDump {
        let roots = self.listed.lock().clone();
        let now = Now {
            instant: time.now(),
            tick: time.tick_now(),
        };
        TreeDump {
            workers,
            roots: roots
                .iter()
                .map(|root| {
                    let mut node = walk(&root.node, &now);
                    node.kind = NodeKind::BlockOn;
                    let (last_poll, waiting) = root.debug.read();
                    node.since_poll = last_poll.map(|tick| since(tick, &now));
                    node.waiting = Wait::decode(waiting, now.tick);
                    node
                })
                .collect(),
        }
    }
}

/// When a dump is made, as an instant and as a time-driver tick.
struct Now {
    instant: Instant,
    tick: u64,
}

/// How long before `now` the tick `tick` was.
fn since(tick: u64, now: &Now) -> Duration {
    Duration::from_millis(now.tick.saturating_sub(tick))
}

/// Copies the tree below `root`. The walk keeps its own stack (a chain of nested groups
/// may be thousands of levels deep): a frame per node on the path from `root` to the
/// node being copied.
fn walk(root: &ScopeNode, now: &Now) -> DumpNode {
    let mut path = vec![Frame::of(root, now)];
    loop {
        let top = path
            .last_mut()
            .expect("the path ends at the node being copied");
        match top.below.pop() {
            Some(Below::Scope(node)) => path.push(Frame::of(&node, now)),
            Some(Below::Task { waker, name }) => {
                let task = walk_task(&waker, name.as_deref(), now);
                top.node.children.push(task);
            }
            None => {
                let done = path.pop().expect("the path ends at the node being copied");
                match path.last_mut() {
                    Some(parent) => parent.node.children.push(done.node),
                    None => return done.node,
                }
            }
        }
    }
}

/// A node on `walk`'s path: its copy, with the children copied so far, and what is
/// linked below it still to be copied, last first.
struct Frame {
    node: DumpNode,
    below: Vec<Below>,
}

impl Frame {
    fn of(node: &ScopeNode, now: &Now) -> Frame {
        let mut below = shown_below(node);
        below.reverse();
        Frame {
            node: copy(node, now),
            below,
        }
    }
}

/// `node` itself, without what runs inside it.
fn copy(node: &ScopeNode, now: &Now) -> DumpNode {
    let (kind, name, task) = match node.label() {
        // A child's node holds its task's own waker.
        Some(Label::Task(name)) => (
            NodeKind::Task,
            name.as_ref().map(|name| name.to_string()),
            node.waker()
                .and_then(|waker| crate::task::with_task(&waker, TaskInfo::of)),
        ),
        Some(Label::Group) => (NodeKind::Group, None, None),
        None => (NodeKind::Scope, None, None),
    };
    let deadline = node.deadline().map(|d| {
        if d >= now.instant {
            Deadline::In(d - now.instant)
        } else {
            Deadline::Passed(now.instant - d)
        }
    });
    DumpNode {
        kind,
        name,
        task_state: task.map(|t| t.state),
        since_poll: task.and_then(|t| t.last_poll).map(|tick| since(tick, now)),
        waiting: task.and_then(|t| Wait::decode(t.waiting, now.tick)),
        cancel_called: node.cancel_flag_set(),
        cancelled_caught: node.cancelled_caught(),
        shielded: node.is_shielded(),
        deadline,
        cancel_reason: node.reason().map(|r| r.to_string()),
        children: Vec::new(),
    }
}

/// What is linked below `node`, as the dump shows it. A group child that made its own
/// scope is linked twice, by its task and by that scope: it is shown once, as the
/// scope, with what runs in it.
fn shown_below(node: &ScopeNode) -> Vec<Below> {
    let mut linked = node.linked();
    let with_scope: HashSet<*const ()> = linked
        .iter()
        .filter_map(|below| match below {
            Below::Scope(node) if matches!(node.label(), Some(Label::Task(_))) => {
                node.waker().map(|waker| waker.data())
            }
            _ => None,
        })
        .collect();
    linked.retain(|below| match below {
        Below::Task { waker, .. } => !with_scope.contains(&waker.data()),
        Below::Scope(_) => true,
    });
    linked
}

/// A group child that runs in its group's scope, with nothing nested in it.
fn walk_task(waker: &Waker, name: Option<&str>, now: &Now) -> DumpNode {
    let task = crate::task::with_task(waker, TaskInfo::of);
    DumpNode {
        kind: NodeKind::Task,
        name: name.map(str::to_owned),
        task_state: task.map(|t| t.state),
        since_poll: task.and_then(|t| t.last_poll).map(|tick| since(tick, now)),
        waiting: task.and_then(|t| Wait::decode(t.waiting, now.tick)),
        cancel_called: false,
        cancelled_caught: false,
        shielded: false,
        deadline: None,
        cancel_reason: None,
        children: Vec::new(),
    }
}

/// A copy of a runtime's task tree: what every `block_on` call is running, its
/// scopes, groups and tasks, with their state. Made by [`dump`](super::dump) or
/// [`Runtime::dump`](crate::Runtime::dump).
///
/// `Display` draws an indented tree (every 32 levels down, it starts again at the left
/// margin, the line marked with its depth); [`to_json`](TreeDump::to_json) writes the
/// same as JSON for tools.
///
/// A group or cancel scope appears once the work inside it has suspended for the
/// first time, and a group's children with it: until then the scope is not linked
/// into the tree. From then on, a group's children appear as soon as they are started.
/// A body that blocks its thread before it first suspends shows as its task only: the
/// blocked-poll report ([`Builder::on_blocked_worker`](crate::Builder::on_blocked_worker))
/// is the tool for that case.
///
/// ```
/// let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     pride::task_group(async |tg| {
///         let stop = pride::Event::new();
///         let wait = stop.clone();
///         tg.start_soon_named("listener", async move { wait.wait().await });
///         pride::yield_now().await; // the group links into the tree at its first pause
///         let dump = pride::debug::dump();
///         let text = dump.to_string();
///         assert!(text.contains("task \"listener\""), "{text}");
///         assert!(dump.to_json().contains("\"name\":\"listener\""));
///         stop.set();
///     })
///     .await
///     .unwrap();
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeDump {
    /// The runtime's worker threads.
    pub workers: usize,
    /// One tree per running `block_on` call.
    pub roots: Vec<DumpNode>,
}

/// What a [`DumpNode`] is.
///
/// ```
/// let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     pride::task_group(async |tg| {
///         let stop = pride::Event::new();
///         let wait = stop.clone();
///         tg.start_soon_named("listener", async move { wait.wait().await });
///         pride::yield_now().await; // the group links into the tree at its first pause
///         let dump = pride::debug::dump();
///         use pride::debug::NodeKind;
///         let task = dump.nodes().find(|n| n.kind == NodeKind::Task).unwrap();
///         assert_eq!(task.name.as_deref(), Some("listener"));
///         assert!(dump.nodes().any(|n| n.kind == NodeKind::Group));
///         stop.set();
///     })
///     .await
///     .unwrap();
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeKind {
    /// The future a `block_on` call runs.
    BlockOn,
    /// A cancel scope: [`CancelScope::run`](crate::CancelScope::run), a timeout.
    Scope,
    /// A task group (its own cancel scope, with its children below it).
    Group,
    /// A child task of a group.
    Task,
}

/// A scope's deadline as seen when the dump was made.
///
/// ```
/// use std::time::Duration;
/// use pride::debug::{Deadline, NodeKind};
///
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::mock())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let inside = pride::move_on_after(Duration::from_secs(5), async {
///         pride::yield_now().await;
///         pride::debug::dump()
///     });
///     let dump = inside.await.unwrap();
///     let scope = dump.nodes().find(|n| n.kind == NodeKind::Scope).unwrap();
///     assert_eq!(scope.deadline, Some(Deadline::In(Duration::from_secs(5))));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// It comes in this long.
    In(Duration),
    /// It passed this long ago.
    Passed(Duration),
}

/// One scope, group or task in a [`TreeDump`].
///
/// ```
/// let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     pride::task_group(async |tg| {
///         let stop = pride::Event::new();
///         let wait = stop.clone();
///         tg.start_soon_named("listener", async move { wait.wait().await });
///         pride::yield_now().await; // the group links into the tree at its first pause
///         let dump = pride::debug::dump();
///         let task = dump.nodes().find(|n| n.name.as_deref() == Some("listener")).unwrap();
///         assert!(task.task_state.is_some());
///         assert!(!task.cancel_called);
///         stop.set();
///     })
///     .await
///     .unwrap();
/// });
/// ```
///
/// `Clone`, `PartialEq` and `Debug` walk the tree with a stack of their own, like
/// `Display`, [`TreeDump::to_json`] and drop: a tree thousands of levels deep is
/// copied, compared and printed without a call per level. `Debug` prints what a
/// derived one would (`DumpNode { kind: .., .., children: [..] }`), except that in
/// its pretty form (`{:#?}`) the indentation starts again at the left margin every 32
/// levels down, as in `Display`.
#[non_exhaustive]
pub struct DumpNode {
    /// What this is.
    pub kind: NodeKind,
    /// A task's name, if it was started with one.
    pub name: Option<String>,
    /// A task's state: `running` (being polled), `scheduled` (queued), `idle` (waiting
    /// to be woken), `cancelled` (about to be dropped) or `done`.
    pub task_state: Option<&'static str>,
    /// For a task or a `block_on` call's future: how long ago its latest poll began,
    /// by the runtime's clock (`None` before its first poll, and for scopes and
    /// groups). Polls are stamped with a coarse clock, moved on when a worker wakes,
    /// every few dozen tasks a worker runs, at each look of the blocked-poll watchdog (a
    /// few per threshold while a poll runs), and by every sweep of the timers before it
    /// wakes anyone (on a mock clock too), so this may be longer than the truth by up
    /// to the time between two such moves.
    pub since_poll: Option<Duration>,
    /// For a task or a `block_on` call's future: what it waits for, when the future it
    /// waits in says (sleeps, sockets, locks, semaphores, queues, events, child tasks,
    /// blocking-pool closures); `None` when not known. A future that a combinator
    /// other than [`select!`](crate::select) polled and then dropped, in the task's
    /// latest poll, may still be named here.
    pub waiting: Option<Wait>,
    /// `cancel()` was called on this scope (by hand, a deadline or a failing child).
    pub cancel_called: bool,
    /// This scope dropped work because it was cancelled.
    pub cancelled_caught: bool,
    /// Cancellation from outside does not reach inside.
    pub shielded: bool,
    /// The scope's deadline, if it has one.
    pub deadline: Option<Deadline>,
    /// Why the scope was cancelled, if the canceller said.
    pub cancel_reason: Option<String>,
    /// What runs inside: nested scopes, groups and tasks.
    pub children: Vec<DumpNode>,
}

impl TreeDump {
    /// The dump as one JSON object:
    /// `{"workers":n,"roots":[node...]}`, each node
    /// `{"kind":"block_on"|"scope"|"group"|"task","name":..,"state":..,
    /// "since_poll_ms":..,"waiting":..,"cancel_called":..,"cancelled_caught":..,
    /// "shielded":..,"deadline_in_ms":..,"cancel_reason":..,"children":[..]}`, where
    /// absent values are `null` and a passed deadline is negative. `waiting` is an
    /// object `{"on":"sleep"|"readable"|"writable"|"lock"|"semaphore"|"queue"|"event"|"join"|"thread"}`,
    /// with a sleep's `"deadline_in_ms"` too.
    ///
    /// ```
    /// let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
    /// rt.block_on(async {
    ///     pride::task_group(async |tg| {
    ///         let stop = pride::Event::new();
    ///         let wait = stop.clone();
    ///         tg.start_soon_named("listener", async move { wait.wait().await });
    ///         pride::yield_now().await; // the group links into the tree at its first pause
    ///         let dump = pride::debug::dump();
    ///         let json = dump.to_json();
    ///         assert!(json.contains("\"name\":\"listener\""));
    ///         stop.set();
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "{{\"workers\":{},\"roots\":[", self.workers);
        let _ = visit(&self.roots, |step| {
            match step {
                Visit::Enter { node, index, .. } => {
                    if index > 0 {
                        out.push(',');
                    }
                    node.write_json_fields(&mut out);
                    out.push_str(",\"children\":[");
                }
                Visit::Leave { .. } => out.push_str("]}"),
            }
            Ok::<_, Infallible>(())
        });
        out.push_str("]}");
        out
    }

    /// Every node, depth first, for searching.
    ///
    /// ```
    /// let rt = pride::Runtime::builder().worker_threads(2).build().unwrap();
    /// rt.block_on(async {
    ///     pride::task_group(async |tg| {
    ///         let stop = pride::Event::new();
    ///         let wait = stop.clone();
    ///         tg.start_soon_named("listener", async move { wait.wait().await });
    ///         pride::yield_now().await; // the group links into the tree at its first pause
    ///         let dump = pride::debug::dump();
    ///         let tasks = dump.nodes().filter(|n| n.kind == pride::debug::NodeKind::Task).count();
    ///         assert_eq!(tasks, 1);
    ///         stop.set();
    ///     })
    ///     .await
    ///     .unwrap();
    /// });
    /// ```
    pub fn nodes(&self) -> impl Iterator<Item = &DumpNode> {
        let mut stack: Vec<&DumpNode> = self.roots.iter().rev().collect();
        std::iter::from_fn(move || {
            let node = stack.pop()?;
            stack.extend(node.children.iter().rev());
            Some(node)
        })
    }
}

impl NodeKind {
    fn as_str(self) -> &'static str {
        match self {
            NodeKind::BlockOn => "block_on",
            NodeKind::Scope => "scope",
            NodeKind::Group => "group",
            NodeKind::Task => "task",
        }
    }
}

/// A step of [`visit`]: a node's entry, with its position among its siblings and its
/// depth below the nodes the walk began with, then, after everything inside it, its
/// exit.
#[derive(Clone, Copy)]
enum Visit<'a> {
    Enter {
        node: &'a DumpNode,
        index: usize,
        depth: usize,
    },
    Leave {
        node: &'a DumpNode,
        depth: usize,
    },
}

/// Walks `nodes` and everything inside them depth first, handing `each` every entry and
/// exit in document order, until it returns an error. A stack of its own: a tree may
/// be thousands of levels deep.
fn visit<'a, E>(
    nodes: &'a [DumpNode],
    mut each: impl FnMut(Visit<'a>) -> Result<(), E>,
) -> Result<(), E> {
    /// `nodes` entered at `depth`, last first.
    fn entries(nodes: &[DumpNode], depth: usize) -> impl Iterator<Item = Visit<'_>> {
        nodes
            .iter()
            .enumerate()
            .rev()
            .map(move |(index, node)| Visit::Enter { node, index, depth })
    }
    let mut steps: Vec<Visit<'a>> = entries(nodes, 0).collect();
    while let Some(step) = steps.pop() {
        if let Visit::Enter { node, depth, .. } = step {
            steps.push(Visit::Leave { node, depth });
            steps.extend(entries(&node.children, depth + 1));
        }
        each(step)?;
    }
    Ok(())
}

impl Clone for DumpNode {
    fn clone(&self) -> DumpNode {
        // The copies on the path to the node being copied, each with its children
        // copied so far.
        let mut path: Vec<DumpNode> = Vec::new();
        let mut copied = None;
        let _ = visit(std::slice::from_ref(self), |step| {
            match step {
                Visit::Enter { node, .. } => path.push(node.without_children()),
                Visit::Leave { .. } => {
                    let done = path.pop().expect("a node is left after it is entered");
                    match path.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => copied = Some(done),
                    }
                }
            }
            Ok::<_, Infallible>(())
        });
        copied.expect("the walk leaves the node it began with")
    }
}

impl PartialEq for DumpNode {
    fn eq(&self, other: &DumpNode) -> bool {
        // A stack of its own: the pairs of nodes still to compare.
        let mut pairs = vec![(self, other)];
        while let Some((a, b)) = pairs.pop() {
            if !a.same_own_fields(b) || a.children.len() != b.children.len() {
                return false;
            }
            pairs.extend(a.children.iter().zip(&b.children));
        }
        true
    }
}

impl Eq for DumpNode {}

impl fmt::Debug for DumpNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pretty = f.alternate();
        visit(std::slice::from_ref(self), |step| match step {
            Visit::Enter { node, index, depth } => {
                // In the pretty form a node opens `level` steps in, its fields one more.
                let level = 2 * (depth % FOLD);
                if depth > 0 {
                    if pretty {
                        new_line(f, level)?;
                    } else if index > 0 {
                        f.write_str(", ")?;
                    }
                }
                f.write_str("DumpNode {")?;
                for (i, (name, value)) in node.own_fields().into_iter().enumerate() {
                    if pretty {
                        new_line(f, level + 1)?;
                        write!(f, "{name}: ")?;
                        let mut value_lines = Indented {
                            out: f,
                            steps: level + 1,
                        };
                        write!(value_lines, "{value:#?}")?;
                        f.write_char(',')?;
                    } else {
                        let sep = if i == 0 { " " } else { ", " };
                        write!(f, "{sep}{name}: {value:?}")?;
                    }
                }
                if pretty {
                    new_line(f, level + 1)?;
                    f.write_str("children: [")
                } else {
                    f.write_str(", children: [")
                }
            }
            Visit::Leave { node, depth } => {
                if !pretty {
                    return f.write_str("] }");
                }
                let level = 2 * (depth % FOLD);
                if !node.children.is_empty() {
                    new_line(f, level + 1)?;
                }
                f.write_str("],")?;
                new_line(f, level)?;
                // A child is an element of its parent's list.
                f.write_str(if depth > 0 { "}," } else { "}" })
            }
        })
    }
}

/// One step of `Debug`'s pretty indentation.
const INDENT: &str = "    ";

/// Starts a line `steps` steps in.
fn new_line(f: &mut fmt::Formatter<'_>, steps: usize) -> fmt::Result {
    f.write_char('\n')?;
    (0..steps).try_for_each(|_| f.write_str(INDENT))
}

/// Writes to `out`, starting each new line `steps` steps in: a field's own pretty
/// `Debug` (`Some(\n    "name",\n)`), placed inside the tree.
struct Indented<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    steps: usize,
}

impl fmt::Write for Indented<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                new_line(self.out, self.steps)?;
            }
            self.out.write_str(line)?;
        }
        Ok(())
    }
}

impl DumpNode {
    /// A copy of the node's own fields, with no children (room for its own).
    fn without_children(&self) -> DumpNode {
        let DumpNode {
            kind,
            name,
            task_state,
            since_poll,
            waiting,
            cancel_called,
            cancelled_caught,
            shielded,
            deadline,
            cancel_reason,
            children,
        } = self;
        DumpNode {
            kind: *kind,
            name: name.clone(),
            task_state: *task_state,
            since_poll: *since_poll,
            waiting: *waiting,
            cancel_called: *cancel_called,
            cancelled_caught: *cancelled_caught,
            shielded: *shielded,
            deadline: *deadline,
            cancel_reason: cancel_reason.clone(),
            children: Vec::with_capacity(children.len()),
        }
    }

    /// Whether the node's own fields (all but `children`) equal `other`'s.
    fn same_own_fields(&self, other: &DumpNode) -> bool {
        let DumpNode {
            kind,
            name,
            task_state,
            since_poll,
            waiting,
            cancel_called,
            cancelled_caught,
            shielded,
            deadline,
            cancel_reason,
            children: _,
        } = self;
        *kind == other.kind
            && *name == other.name
            && *task_state == other.task_state
            && *since_poll == other.since_poll
            && *waiting == other.waiting
            && *cancel_called == other.cancel_called
            && *cancelled_caught == other.cancelled_caught
            && *shielded == other.shielded
            && *deadline == other.deadline
            && *cancel_reason == other.cancel_reason
    }

    /// The node's own fields (all but `children`), named, for `Debug`.
    fn own_fields(&self) -> [(&'static str, &dyn fmt::Debug); 10] {
        let DumpNode {
            kind,
            name,
            task_state,
            since_poll,
            waiting,
            cancel_called,
            cancelled_caught,
            shielded,
            deadline,
            cancel_reason,
            children: _,
        } = self;
        [
            ("kind", kind),
            ("name", name),
            ("task_state", task_state),
            ("since_poll", since_poll),
            ("waiting", waiting),
            ("cancel_called", cancel_called),
            ("cancelled_caught", cancelled_caught),
            ("shielded", shielded),
            ("deadline", deadline),
            ("cancel_reason", cancel_reason),
        ]
    }

    /// The node's own fields, from its opening brace, for `to_json`.
    fn write_json_fields(&self, out: &mut String) {
        let _ = write!(out, "{{\"kind\":\"{}\",\"name\":", self.kind.as_str());
        json_opt_str(out, self.name.as_deref());
        out.push_str(",\"state\":");
        json_opt_str(out, self.task_state);
        out.push_str(",\"since_poll_ms\":");
        match self.since_poll {
            Some(d) => write_ms(out, d.as_secs_f64() * 1e3),
            None => out.push_str("null"),
        }
        out.push_str(",\"waiting\":");
        match self.waiting {
            Some(wait) => {
                let _ = write!(out, "{{\"on\":\"{}\"", wait.as_str());
                if let Wait::Sleep(deadline) = wait {
                    out.push_str(",\"deadline_in_ms\":");
                    write_deadline(out, deadline);
                }
                out.push('}');
            }
            None => out.push_str("null"),
        }
        let _ = write!(
            out,
            ",\"cancel_called\":{},\"cancelled_caught\":{},\"shielded\":{},\"deadline_in_ms\":",
            self.cancel_called, self.cancelled_caught, self.shielded
        );
        match self.deadline {
            Some(deadline) => write_deadline(out, deadline),
            None => out.push_str("null"),
        }
        out.push_str(",\"cancel_reason\":");
        json_opt_str(out, self.cancel_reason.as_deref());
    }

    /// The one-line description `Display` draws for this node.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        let mut notes = Vec::new();
        if let Some(state) = self.task_state {
            notes.push(state.to_owned());
        }
        match self.since_poll {
            Some(d) => notes.push(format!("polled {d:.3?} ago")),
            None if self.task_state.is_some() => notes.push("not polled yet".to_owned()),
            None => {}
        }
        match self.waiting {
            Some(Wait::Sleep(Deadline::In(d))) => {
                notes.push(format!("waits in a sleep ending in {d:.3?}"))
            }
            Some(Wait::Sleep(Deadline::Passed(d))) => {
                notes.push(format!("waits in a sleep that ended {d:.3?} ago"))
            }
            Some(wait) => notes.push(wait.describe().to_owned()),
            None => {}
        }
        if self.cancel_called {
            notes.push(match &self.cancel_reason {
                Some(reason) => format!("cancelled ({reason:?})"),
                None => "cancelled".to_owned(),
            });
        }
        if self.cancelled_caught {
            notes.push("caught its cancel".to_owned());
        }
        if self.shielded {
            notes.push("shielded".to_owned());
        }
        match self.deadline {
            Some(Deadline::In(d)) => notes.push(format!("deadline in {d:.3?}")),
            Some(Deadline::Passed(d)) => notes.push(format!("deadline passed {d:.3?} ago")),
            None => {}
        }
        if !notes.is_empty() {
            write!(f, ": {}", notes.join(", "))?;
        }
        Ok(())
    }
}

/// Every this many levels, the drawing starts again at the left margin, the line
/// marked with its depth: a chain thousands of levels deep is drawn in lines of
/// bounded width, not in a drawing that grows with the square of its depth. `Debug`'s
/// pretty form folds its indentation the same way.
const FOLD: usize = 32;

/// A node `Display` is to draw: the prefix its line starts with (the bars of the
/// levels above it), whether it is its parent's last child, and its depth.
struct Line<'a> {
    node: &'a DumpNode,
    prefix: String,
    last: bool,
    depth: usize,
}

impl fmt::Display for TreeDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pride runtime ({} workers)", self.workers)?;
        // The nodes still to draw, next last: a stack of its own, as a tree may be
        // thousands of levels deep.
        let mut lines: Vec<Line<'_>> = self
            .roots
            .iter()
            .rev()
            .map(|node| Line {
                node,
                prefix: String::new(),
                last: true,
                depth: 0,
            })
            .collect();
        while let Some(Line {
            node,
            prefix,
            last,
            depth,
        }) = lines.pop()
        {
            // A root, or a folded level, starts at the margin, and so do its children.
            let inner = if depth % FOLD == 0 {
                if depth > 0 {
                    write!(f, "(depth {depth}) ")?;
                }
                String::new()
            } else {
                let (branch, bar) = if last {
                    ("└── ", "    ")
                } else {
                    ("├── ", "│   ")
                };
                write!(f, "{prefix}{branch}")?;
                prefix + bar
            };
            node.describe(f)?;
            writeln!(f)?;
            let count = node.children.len();
            lines.extend(
                node.children
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(i, child)| Line {
                        node: child,
                        prefix: inner.clone(),
                        last: i + 1 == count,
                        depth: depth + 1,
                    }),
            );
        }
        Ok(())
    }
}

/// Dropped with a stack of its own: a tree may be thousands of levels deep.
impl Drop for DumpNode {
    fn drop(&mut self) {
        let mut below = std::mem::take(&mut self.children);
        while let Some(mut node) = below.pop() {
            below.append(&mut node.children);
        }
    }
}

fn write_ms(out: &mut String, ms: f64) {
    let _ = write!(out, "{ms:.3}");
}

/// A deadline in milliseconds from the dump, negative once passed.
fn write_deadline(out: &mut String, deadline: Deadline) {
    match deadline {
        Deadline::In(d) => write_ms(out, d.as_secs_f64() * 1e3),
        Deadline::Passed(d) => write_ms(out, -d.as_secs_f64() * 1e3),
    }
}

fn json_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.push_str("null"),
    }
}

/// Writes `s` as a JSON string literal.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Deadline, DumpNode, NodeKind, TreeDump, Wait, json_str};

    /// A dump of one chain of scopes, `depth` below the root.
    fn chain(depth: usize) -> TreeDump {
        let scope = || DumpNode {
            kind: NodeKind::Scope,
            name: None,
            task_state: None,
            since_poll: None,
            waiting: None,
            cancel_called: false,
            cancelled_caught: false,
            shielded: false,
            deadline: None,
            cancel_reason: None,
            children: Vec::new(),
        };
        let mut node = scope();
        for _ in 0..depth {
            let mut parent = scope();
            parent.children.push(node);
            node = parent;
        }
        TreeDump {
            workers: 1,
            roots: vec![node],
        }
    }

    /// Far deeper than a runtime test builds: drawing, writing and dropping the dump
    /// each take no call per level, and the drawing's lines stay narrow.
    #[test]
    fn a_deep_dump_is_drawn_written_and_dropped_without_a_call_per_level() {
        const DEPTH: usize = 100_000;
        let dump = chain(DEPTH);
        let text = dump.to_string();
        assert_eq!(text.lines().count(), DEPTH + 2);
        let widest = text.lines().map(|line| line.chars().count()).max();
        assert!(
            widest < Some(200),
            "indentation grew to {widest:?} characters"
        );
        assert!(text.contains("\n(depth 64) scope\n└── scope\n    └── scope\n"));
        let json = dump.to_json();
        assert_eq!(json.matches("\"kind\":\"scope\"").count(), DEPTH + 1);
        let closing = format!("\"children\":[{}", "]}".repeat(DEPTH + 2));
        assert!(json.ends_with(&closing), "unbalanced JSON");
        let copy = dump.clone();
        assert!(copy == dump);
        let mut other = dump.clone();
        let mut deepest = &mut other.roots[0];
        while !deepest.children.is_empty() {
            deepest = &mut deepest.children[0];
        }
        deepest.shielded = true;
        assert!(other != dump, "the deepest node was not compared");
        let debug = format!("{dump:?}");
        assert_eq!(debug.matches("DumpNode {").count(), DEPTH + 1);
        assert!(
            debug.ends_with(&"] }".repeat(DEPTH + 2)),
            "unbalanced Debug"
        );
        drop(dump);
    }

    /// `Debug` prints what a derived one would, in both forms, for a shallow tree; the
    /// pretty form of a deep one stays narrow.
    #[test]
    fn debug_prints_as_derived() {
        /// What `derive(Debug)` made of `DumpNode`.
        mod derived {
            use super::super::{Deadline, NodeKind, Wait};
            use std::time::Duration;

            #[allow(dead_code)] // read by `Debug` only
            #[derive(Debug)]
            pub struct DumpNode {
                pub kind: NodeKind,
                pub name: Option<String>,
                pub task_state: Option<&'static str>,
                pub since_poll: Option<Duration>,
                pub waiting: Option<Wait>,
                pub cancel_called: bool,
                pub cancelled_caught: bool,
                pub shielded: bool,
                pub deadline: Option<Deadline>,
                pub cancel_reason: Option<String>,
                pub children: Vec<DumpNode>,
            }

            pub fn of(node: &super::DumpNode) -> DumpNode {
                DumpNode {
                    kind: node.kind,
                    name: node.name.clone(),
                    task_state: node.task_state,
                    since_poll: node.since_poll,
                    waiting: node.waiting,
                    cancel_called: node.cancel_called,
                    cancelled_caught: node.cancelled_caught,
                    shielded: node.shielded,
                    deadline: node.deadline,
                    cancel_reason: node.cancel_reason.clone(),
                    children: node.children.iter().map(of).collect(),
                }
            }
        }

        let mut dump = chain(2);
        let task = |name: &str| {
            let mut task = chain(0).roots[0].without_children();
            task.kind = NodeKind::Task;
            task.name = Some(name.to_owned());
            task.task_state = Some("idle");
            task.since_poll = Some(Duration::from_millis(3));
            task.waiting = Some(Wait::Sleep(Deadline::In(Duration::from_secs(2))));
            task
        };
        let middle = &mut dump.roots[0].children[0];
        middle.cancel_called = true;
        middle.cancel_reason = Some("shutting \"down\"".to_owned());
        middle.deadline = Some(Deadline::Passed(Duration::from_millis(1500)));
        middle.children.push(task("a"));
        middle.children.push(task("b"));
        let root = &dump.roots[0];
        assert_eq!(format!("{root:?}"), format!("{:?}", derived::of(root)));
        assert_eq!(format!("{root:#?}"), format!("{:#?}", derived::of(root)));
        assert!(format!("{dump:#?}").starts_with("TreeDump {\n    workers: 1,\n    roots: [\n        DumpNode {\n            kind: Scope,\n"));

        let deep = format!("{:#?}", chain(1_000));
        let widest = deep.lines().map(str::len).max();
        assert!(
            widest < Some(400),
            "indentation grew to {widest:?} characters"
        );
        assert_eq!(deep.matches("DumpNode {").count(), 1_001);
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }
}
