//! What a task group reports: [`GroupError`] (every error and panic of one group) and
//! [`TaskError`] (one task's error or panic, with the task's name).
//!
//! The one `unsafe` here makes a panic payload (`Box<dyn Any + Send>`, which is not
//! `Sync`) shareable, so that `TaskError` and `GroupError` are `Sync`. It rests on one
//! rule: nothing ever reaches the payload through a shared reference. The panic's
//! message is copied out when the payload is wrapped (`Payload::new`), and the payload
//! itself only leaves by value ([`TaskError::into_panic`]).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use super::start::StartError;

/// A boxed error that can cross threads: what failing tasks return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a task (or a group body) may return: `()` or `Result<T, E>` with an error that
/// converts into [`BoxError`].
///
/// `Ok` values are the task's result; an `Err` fails the group.
///
/// A block that only diverges (`async { panic!() }`) has the type `!` in edition 2024,
/// which stable Rust cannot implement traits for; give it a `()` tail, as in
/// `async { if cond { panic!() } }`.
pub trait TaskOutput {
    /// The success value.
    type Ok;

    /// Splits the output into success or error.
    fn into_result(self) -> Result<Self::Ok, BoxError>;
}

impl TaskOutput for () {
    type Ok = ();

    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<T, E: Into<BoxError>> TaskOutput for Result<T, E> {
    type Ok = T;

    fn into_result(self) -> Result<T, BoxError> {
        self.map_err(Into::into)
    }
}

pub(crate) enum Kind {
    Error(BoxError),
    Panic(Payload),
    /// The task was cancelled (only ever given to a `TaskHandle`).
    Cancelled,
    /// The task returned an error, which went to its group; a handle gets its text.
    ReportedError(Reported),
    /// The task panicked, and the payload went to its group; a handle gets its
    /// message, if the payload was a string.
    ReportedPanic(Option<String>),
}

/// The text of an error that went to a task's group, standing in for it in the
/// `TaskError` a handle gets: its `Display` is the original's.
pub(crate) struct Reported(pub(crate) String);

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::error::Error for Reported {}

/// A panic payload. `Box<dyn Any + Send>` is not `Sync`; this wrapper is, because it
/// never lends the payload out by shared reference: the message is copied out when the
/// panic is caught, and the payload itself only leaves by value (`into_panic`).
pub(crate) struct Payload {
    payload: Box<dyn Any + Send + 'static>,
    message: Option<String>,
}

impl Payload {
    pub(crate) fn new(payload: Box<dyn Any + Send + 'static>) -> Payload {
        let message = panic_message(payload.as_ref()).map(str::to_owned);
        Payload { payload, message }
    }

    /// The message, if the payload is a string.
    pub(crate) fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

// SAFETY: no `&self` access to `payload` exists (see the type's docs), so sharing a
// `&Payload` between threads cannot touch the non-`Sync` box.
unsafe impl Sync for Payload {}

/// One task's error or panic, with the task's name.
///
/// Found in [`GroupError::errors`], and returned by a [`TaskHandle`](crate::TaskHandle)
/// whose task failed or was cancelled.
///
/// A failed task's error or panic payload goes to its group, which owns it; the
/// `TaskError` its handle resolves to is a copy of what can be copied
/// ([`is_reported`](Self::is_reported)): the error's text, or the panic's message. Its
/// [`error`](Self::error) is an error whose `Display` is the original's, so
/// [`downcast_ref`](Self::downcast_ref) finds no type there; the group's
/// [`GroupError`] holds the original.
///
/// ```
/// use pride::CancelScope;
///
/// pride::run(async {
///     let mut copy = None;
///     let error = pride::task_group(async |tg| {
///         let handle = tg.spawn_named("parser", async {
///             Err::<(), _>(std::io::Error::other("bad input"))
///         });
///         // The child's failure cancels the body: a shield lets it read the handle.
///         let shield = CancelScope::new();
///         shield.set_shield(true);
///         copy = shield.run(handle).await.unwrap().err();
///     })
///     .await
///     .unwrap_err();
///     let copy = copy.unwrap();
///     assert!(copy.is_reported());
///     assert_eq!(copy.error().unwrap().to_string(), "bad input");
///     assert!(copy.downcast_ref::<std::io::Error>().is_none());
///     let original = &error.errors()[0];
///     assert!(!original.is_reported());
///     assert_eq!(original.name(), Some("parser"));
///     assert!(original.downcast_ref::<std::io::Error>().is_some());
/// });
/// ```
pub struct TaskError {
    name: Option<Arc<str>>,
    /// The failure was the group body's, not a task's.
    body: bool,
    /// A handle's copy of a failure: the node of the group the failure went to.
    reported_to: Option<crate::loom::sync::Arc<crate::cancel::node::ScopeNode>>,
    kind: Kind,
    /// The failure came once its group's scope was cancelled: it did not cancel the
    /// group (a cleanup panic of work the cancel dropped, say).
    after_cancel: bool,
    /// When the failure happened, among all failures (see [`completed`](Self::completed)).
    completed: u64,
}

/// The next failure's place in completion order. A stamp orders entries and nothing
/// else (no memory is published with it), so it is a plain `std` atomic, outside the
/// model-checked sync facade.
static COMPLETED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl TaskError {
    pub(crate) fn new(name: Option<Arc<str>>, kind: Kind) -> TaskError {
        TaskError {
            name,
            body: false,
            reported_to: None,
            kind,
            after_cancel: false,
            completed: COMPLETED.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// A failure of a group's body (the closure given to
    /// [`task_group`](crate::task_group)), which has no name.
    pub(crate) fn of_body(kind: Kind) -> TaskError {
        let mut error = TaskError::new(None, kind);
        error.body = true;
        error
    }

    /// When the failure happened: errors made earlier have smaller stamps. A group
    /// lists its entries in this order, so that a failure that reaches the group late
    /// (a starting child's, held for its caller until the caller went away) keeps its
    /// place.
    pub(crate) fn completed(&self) -> u64 {
        self.completed
    }

    /// Takes the error the task returned, if it returned one, leaving the task as if
    /// cancelled.
    fn take_error(&mut self) -> Option<BoxError> {
        match std::mem::replace(&mut self.kind, Kind::Cancelled) {
            Kind::Error(error) => Some(error),
            kind => {
                self.kind = kind;
                None
            }
        }
    }

    /// Marks a failure that came once its group's scope was cancelled.
    pub(crate) fn set_after_cancel(&mut self, after_cancel: bool) {
        self.after_cancel = after_cancel;
    }

    /// Whether the failure came once its group's scope was cancelled.
    pub(crate) fn came_after_cancel(&self) -> bool {
        self.after_cancel
    }

    /// The task's name, if it was started with one (`start_soon_named`, `start_named`).
    /// `None` for an unnamed task, and for a failure of the group's body, which shows
    /// as "the group's body" instead.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// A handle's copy of a failure that went to the group whose node is `group`.
    pub(crate) fn reported_to(
        mut self,
        group: crate::loom::sync::Arc<crate::cancel::node::ScopeNode>,
    ) -> TaskError {
        self.reported_to = Some(group);
        self
    }

    /// Whether `error`, returned by work that runs at `node`, only relays a cancel, or
    /// a failure that a group around that work has: a handle's `TaskError` saying its
    /// task was cancelled, or copying a failure reported to that group (or to one
    /// inside it, or to the work's own; a child still starting is inside its caller's
    /// groups too). Work that returns one while a cancel reaches
    /// it (the handle was ready without a suspension point) has no failure of its
    /// own: it is cancelled work. A copy of a failure that went to a group elsewhere
    /// (dropped by hand, its errors gone with it, say) is not relayed: it may be the
    /// only trace of that failure.
    pub(crate) fn only_relays(error: &BoxError, node: &crate::cancel::node::ScopeNode) -> bool {
        let Some(error) = error.downcast_ref::<TaskError>() else {
            return false;
        };
        if error.is_cancelled() {
            return true;
        }
        error
            .reported_to
            .as_deref()
            .is_some_and(|group| node.lies_within(group))
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, Kind::Panic(_) | Kind::ReportedPanic(_))
    }

    /// Whether the task was cancelled (a handle's task only; a group never reports
    /// cancellation as an error). A [`TaskHandle::cancel`](crate::TaskHandle::cancel)
    /// that comes after the task finished changes nothing: the handle gives the task's
    /// outcome.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, Kind::Cancelled)
    }

    /// Whether this is a handle's copy of a failure that went to the task's group
    /// (see the type's docs): it holds the error's text or the panic's message, and the
    /// group's [`GroupError`] holds the error or the payload itself.
    pub fn is_reported(&self) -> bool {
        matches!(self.kind, Kind::ReportedError(_) | Kind::ReportedPanic(_))
    }

    /// The panic message, if the task panicked with a string (a `&str` or a
    /// `String` payload); `None` for any other payload, and if the task did not panic.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            Kind::Panic(payload) => payload.message.as_deref(),
            Kind::ReportedPanic(message) => message.as_deref(),
            _ => None,
        }
    }

    /// The error, if the task returned one of type `E`. `None` for a handle's copy
    /// ([`is_reported`](Self::is_reported)): the error itself went to the group.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match &self.kind {
            Kind::Error(e) => e.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// The error the task returned, if it returned one; `None` if it panicked or was
    /// cancelled. For a handle's copy ([`is_reported`](Self::is_reported)) this is an
    /// error whose `Display` is the original's.
    pub fn error(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match &self.kind {
            Kind::Error(e) => Some(e.as_ref()),
            Kind::ReportedError(copy) => Some(copy),
            _ => None,
        }
    }

    /// Takes the error the task returned: for a handle's copy
    /// ([`is_reported`](Self::is_reported)), an error whose `Display` is the
    /// original's.
    ///
    /// # Panics
    /// If the task did not return an error (it panicked or was cancelled).
    #[track_caller]
    pub fn into_error(mut self) -> BoxError {
        match std::mem::replace(&mut self.kind, Kind::Cancelled) {
            Kind::Error(e) => e,
            Kind::ReportedError(copy) => Box::new(copy),
            kind => {
                self.kind = kind;
                panic!(
                    "pride: `TaskError::into_error` on a task that did not return an error: {self}"
                )
            }
        }
    }

    /// The panic payload, to resume it with `std::panic::resume_unwind`.
    ///
    /// For a handle's copy ([`is_reported`](Self::is_reported)) the payload itself
    /// went to the group: this gives the panic's message as a `String`, or `()` if the
    /// payload was not a string (so that [`panic_message`](Self::panic_message) of a
    /// panic resumed with it says the same as this error's).
    ///
    /// # Panics
    /// If the task did not panic.
    #[track_caller]
    pub fn into_panic(mut self) -> Box<dyn Any + Send + 'static> {
        match std::mem::replace(&mut self.kind, Kind::Cancelled) {
            Kind::Panic(payload) => payload.payload,
            Kind::ReportedPanic(Some(message)) => Box::new(message),
            Kind::ReportedPanic(None) => Box::new(()),
            kind => {
                self.kind = kind;
                panic!("pride: `TaskError::into_panic` on a task that did not panic: {self}")
            }
        }
    }

    fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("task '{name}'"),
            None if self.body => "the group's body".to_owned(),
            None => "unnamed task".to_owned(),
        }
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// Errors that hold another task's failure whole, so that failures nest in one another
/// as deep as tasks run inside tasks: a group's error (its entries), a failed start
/// ([`StartError::Failed`]), and a task's error passed on as an error itself. `Display`,
/// `Debug` and drop see through each of them the same way, one level at a time.
enum Nested<'a> {
    Group(&'a GroupError),
    /// `start`: held by a failed start.
    Task {
        task: &'a TaskError,
        start: bool,
    },
}

impl<'a> Nested<'a> {
    /// What `task`'s error holds, if it holds another failure.
    fn in_task(task: &'a TaskError) -> Option<Nested<'a>> {
        match &task.kind {
            Kind::Error(error) => Nested::in_error(error.as_ref()),
            _ => None,
        }
    }

    /// What `error` holds, if it holds another failure.
    fn in_error(error: &'a (dyn std::error::Error + 'static)) -> Option<Nested<'a>> {
        if let Some(group) = error.downcast_ref::<GroupError>() {
            return Some(Nested::Group(group));
        }
        if let Some(StartError::Failed(task)) = error.downcast_ref::<StartError>() {
            return Some(Nested::Task { task, start: true });
        }
        let task = error.downcast_ref::<TaskError>()?;
        Some(Nested::Task { task, start: false })
    }
}

/// Drops `error` and the failures nested in it (see [`Nested`]) one after another, from
/// a list: they nest as deep as the tasks that ran them, too deep to drop with a call
/// per level.
fn drop_nested(error: BoxError) {
    let mut pending = vec![error];
    while let Some(error) = pending.pop() {
        let error = match error.downcast::<GroupError>() {
            Ok(mut group) => {
                let entries = std::mem::take(&mut group.inner.errors);
                pending.extend(entries.into_iter().filter_map(|mut t| t.take_error()));
                continue;
            }
            Err(error) => error,
        };
        let error = match error.downcast::<StartError>() {
            Ok(start) => match *start {
                StartError::Failed(mut task) => {
                    pending.extend(task.take_error());
                    continue;
                }
                _ => continue,
            },
            Err(error) => error,
        };
        if let Ok(mut task) = error.downcast::<TaskError>() {
            pending.extend(task.take_error());
        }
    }
}

impl Drop for TaskError {
    fn drop(&mut self) {
        // A failure nested in this one is taken apart by `drop_nested`, with the
        // failures nested in it, not by a drop per level.
        if Nested::in_task(self).is_some() {
            if let Some(error) = self.take_error() {
                drop_nested(error);
            }
        }
    }
}

impl TaskError {
    /// Writes this failure, whose nested failures (see [`Nested`]) are `depth` levels
    /// deep, a group's error among them as a tree indented `indent` steps; `sep`
    /// follows the label before a group's error. Failed starts held in one another are
    /// written one after another, not by a call per level; past [`SHOWN_DEPTH`]
    /// levels, what is nested is elided.
    fn fmt_nested(
        &self,
        f: &mut fmt::Formatter<'_>,
        mut depth: usize,
        indent: usize,
        mut sep: &str,
    ) -> fmt::Result {
        let mut task = self;
        loop {
            match Nested::in_task(task) {
                None => return task.fmt_own(f),
                Some(Nested::Group(group)) => {
                    write!(f, "{}{sep}", task.label())?;
                    if depth >= SHOWN_DEPTH {
                        return write!(
                            f,
                            "a task group error (errors nested deeper than {SHOWN_DEPTH} \
                             levels elided)"
                        );
                    }
                    return group.fmt_tree(f, depth, indent);
                }
                Some(Nested::Task { task: inner, start }) => {
                    write!(f, "{} failed: ", task.label())?;
                    if start {
                        f.write_str(super::start::FAILED_BEFORE_STARTED)?;
                    }
                    if depth >= SHOWN_DEPTH {
                        return write!(
                            f,
                            "a task error (errors nested deeper than {SHOWN_DEPTH} levels \
                             elided)"
                        );
                    }
                    task = inner;
                    depth += 1;
                    sep = " failed: ";
                }
            }
        }
    }

    /// Writes this failure itself, whatever its error holds.
    fn fmt_own(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.label();
        match &self.kind {
            Kind::Error(e) => write!(f, "{label} failed: {e}"),
            Kind::Panic(payload) => match &payload.message {
                Some(message) => write!(f, "{label} panicked: {message}"),
                None => write!(f, "{label} panicked"),
            },
            Kind::Cancelled => write!(f, "{label} was cancelled"),
            Kind::ReportedError(copy) => {
                write!(f, "{label} failed: {copy} (reported to its group)")
            }
            Kind::ReportedPanic(Some(message)) => {
                write!(f, "{label} panicked: {message} (reported to its group)")
            }
            Kind::ReportedPanic(None) => write!(f, "{label} panicked (reported to its group)"),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_nested(f, 0, 0, " failed: ")
    }
}

/// `Debug` of a nested group error (an entry's error) shows as deep as `Display` does.
impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        DebugTask(self, 0).fmt(f)
    }
}

/// A task's `Debug`, for an entry of a group error `depth` groups deep.
struct DebugTask<'a>(&'a TaskError, usize);

impl fmt::Debug for DebugTask<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DebugTask(task, depth) = *self;
        let mut debug = f.debug_struct("TaskError");
        debug.field("name", &task.name);
        if task.body {
            debug.field("body", &true);
        }
        if depth >= SHOWN_DEPTH {
            return debug.finish_non_exhaustive();
        }
        debug.field("kind", &DebugKind(&task.kind, depth)).finish()
    }
}

/// A failed start's `Debug` (as derived), holding a task's failure `depth` levels deep.
struct DebugStart<'a>(&'a TaskError, usize);

impl fmt::Debug for DebugStart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DebugStart(task, depth) = *self;
        f.debug_tuple("Failed")
            .field(&DebugTask(task, depth))
            .finish()
    }
}

/// A task's kind: a failure nested in it (see [`Nested`]) is one level deeper.
struct DebugKind<'a>(&'a Kind, usize);

impl fmt::Debug for DebugKind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DebugKind(kind, depth) = *self;
        match kind {
            Kind::Error(e) => {
                let mut out = f.debug_tuple("Error");
                match Nested::in_error(e.as_ref()) {
                    Some(Nested::Group(group)) => out.field(&DebugGroup(group, depth + 1)),
                    Some(Nested::Task { task, start: true }) => {
                        out.field(&DebugStart(task, depth + 1))
                    }
                    Some(Nested::Task { task, start: false }) => {
                        out.field(&DebugTask(task, depth + 1))
                    }
                    None => out.field(e),
                }
                .finish()
            }
            Kind::Panic(p) => f.debug_tuple("Panic").field(&p.message).finish(),
            Kind::Cancelled => f.write_str("Cancelled"),
            Kind::ReportedError(copy) => f.debug_tuple("ReportedError").field(copy).finish(),
            Kind::ReportedPanic(message) => f.debug_tuple("ReportedPanic").field(message).finish(),
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Error(e) => Some(e.as_ref()),
            Kind::ReportedError(copy) => Some(copy),
            _ => None,
        }
    }
}

/// Why a group ended in error; its entries are what failed, whatever the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A child or the body failed or panicked.
    Failed,
    /// The group's own deadline passed and cut work short.
    TimedOut,
    /// The group was cancelled before its body produced a value.
    Cancelled,
}

/// Everything that went wrong in one task group: every error and panic of its body and
/// children, each with its task's name, in completion order.
///
/// Returned by [`task_group`](crate::task_group) when any task failed (even one), when
/// the group's deadline cut work short ([`is_timeout`](Self::is_timeout)), or when the
/// group was cancelled before its body produced a value
/// ([`is_cancelled`](Self::is_cancelled)). Cancellation of a task is never an entry.
///
/// Why the group stopped and what failed are told apart: a group whose deadline cut
/// work short is a timeout, and the panics of the cleanup of that work are its
/// [`errors`](Self::errors), next to it.
///
/// Groups nest as deep as the tasks that ran them, and a nested group's error is an
/// entry of the group around it. Failures nest in failures one level at a time: a
/// group's error in an entry is one level deeper than the entry's group, and so is the
/// task's error that a failed start holds ([`StartError::Failed`], which an entry holds
/// after `tg.start(f).await?`). `Display` and `Debug` show 16 levels (the outermost
/// group counts); what is nested deeper is summarised without its entries (`Display`:
/// one line; `Debug`: `GroupError { reason: .., cancel_reason: .., .. }` or
/// `TaskError { name: .., .. }`), so that the text stays small however deep the
/// nesting is. The error itself is whole: [`errors`](Self::errors) and
/// [`find`](Self::find) reach every level, and dropping it takes no call per level.
///
/// ```
/// use std::time::Duration;
///
/// struct Connection;
/// impl Drop for Connection {
///     fn drop(&mut self) {
///         panic!("the connection could not be closed");
///     }
/// }
///
/// let rt = pride::Runtime::builder()
///     .clock(pride::time::Clock::autojump())
///     .build()
///     .unwrap();
/// rt.block_on(async {
///     let error = pride::task_group(async |tg| {
///         tg.cancel_scope()
///             .set_deadline(Some(pride::current_time() + Duration::from_secs(1)));
///         tg.start_soon_named("client", async {
///             let _connection = Connection;
///             pride::sleep(Duration::from_secs(60)).await;
///         });
///     })
///     .await
///     .unwrap_err();
///     assert!(error.is_timeout());
///     assert_eq!(error.errors().len(), 1);
///     assert_eq!(
///         error.to_string(),
///         "task group timed out with 1 error(s)\n\
///          - task 'client' panicked: the connection could not be closed"
///     );
/// });
/// ```
pub struct GroupError {
    /// Boxed: a group's `Result<T, GroupError>` is then as small as `T` allows, so
    /// the success path returns in registers.
    inner: Box<Inner>,
}

/// How many levels of nested failures (see [`Nested`]) `Display` and `Debug` show (the
/// outermost group is one); deeper ones are summarised, so that the text (indented by
/// depth) stays small however deep the nesting is.
const SHOWN_DEPTH: usize = 16;

struct Inner {
    errors: Vec<TaskError>,
    reason: Reason,
    cancel_reason: Option<Arc<str>>,
}

impl GroupError {
    pub(crate) fn new(
        errors: Vec<TaskError>,
        reason: Reason,
        cancel_reason: Option<Arc<str>>,
    ) -> GroupError {
        GroupError {
            inner: Box::new(Inner {
                errors,
                reason,
                cancel_reason,
            }),
        }
    }

    /// Puts `earlier` (failures that completed before these entries) in front.
    pub(crate) fn prepend(&mut self, mut earlier: Vec<TaskError>) {
        earlier.append(&mut self.inner.errors);
        self.inner.errors = earlier;
    }

    /// Every error and panic, in the order the tasks completed.
    pub fn errors(&self) -> &[TaskError] {
        &self.inner.errors
    }

    /// Takes the errors.
    pub fn into_errors(mut self) -> Vec<TaskError> {
        std::mem::take(&mut self.inner.errors)
    }

    /// Whether the group's own deadline passed and cut work short (as the first
    /// cancel of its scope: a deadline passing after a failure cancelled the group is
    /// no timeout). The entries, if any, are failures that came with it, such as
    /// panics in the cleanup of the work it cut short.
    pub fn is_timeout(&self) -> bool {
        self.inner.reason == Reason::TimedOut
    }

    /// Whether the group was cancelled before its body produced a value: its scope
    /// was cancelled (by hand, not by its deadline), and the body was dropped. The
    /// entries, if any, are failures that came after the cancel, such as panics in
    /// the cleanup of the work it dropped; a failure that cancelled the group makes
    /// it a failed group, not a cancelled one.
    pub fn is_cancelled(&self) -> bool {
        self.inner.reason == Reason::Cancelled
    }

    /// The reason given to [`cancel_with_reason`](crate::CancelScope::cancel_with_reason),
    /// if such a call is what cancelled the group's scope. The reason says why the
    /// group was cancelled: a reason given once the scope was already cancelled (by a
    /// failure, its deadline, or another cancel) is not recorded, and of two reasons
    /// given at once the first one stored is shown.
    pub fn cancel_reason(&self) -> Option<&str> {
        self.inner.cancel_reason.as_deref()
    }

    /// The first error of type `E`, looking into what each entry's error holds too:
    /// its [`source`](std::error::Error::source) chain (a failed start's
    /// [`StartError::Failed`] holds the task's error, a wrapper its cause, an
    /// [`io::Error`](std::io::Error) the error it wraps), and a
    /// nested group's entries. Entries in order, everything an entry holds (a nested
    /// group's entries, and theirs) before the next entry. It looks however deep the
    /// nesting is.
    pub fn find<E: std::error::Error + 'static>(&self) -> Option<&E> {
        // The entries left to look at, one iterator per group: nested groups go as
        // deep as the tasks that ran them, too deep to recurse once per level.
        let mut pending = vec![self.inner.errors.iter()];
        while let Some(entries) = pending.last_mut() {
            let Some(entry) = entries.next() else {
                pending.pop();
                continue;
            };
            // The entry's error, then its sources; a group's error ends the chain (its
            // `source` is only its first entry): its entries are looked at next.
            let mut next = std::error::Error::source(entry);
            while let Some(error) = next {
                if let Some(found) = error.downcast_ref::<E>() {
                    return Some(found);
                }
                if let Some(group) = error.downcast_ref::<GroupError>() {
                    pending.push(group.inner.errors.iter());
                    break;
                }
                next = match error.downcast_ref::<std::io::Error>() {
                    // An `io::Error`'s `source` is the source of the error it wraps,
                    // skipping that error itself (a group's error put in one with
                    // `io::Error::other`, say): look at the wrapped error instead.
                    Some(io) => io
                        .get_ref()
                        .map(|inner| inner as &(dyn std::error::Error + 'static)),
                    None => error.source(),
                };
            }
        }
        None
    }

    /// Writes the group's error `depth` levels deep (see [`SHOWN_DEPTH`]), its entries
    /// indented `indent` steps.
    fn fmt_tree(&self, f: &mut fmt::Formatter<'_>, depth: usize, indent: usize) -> fmt::Result {
        let pad = "  ".repeat(indent);
        let count = self.inner.errors.len();
        match self.inner.reason {
            // Only `race` of no futures fails with nothing to list.
            Reason::Failed if count == 0 => write!(f, "task group failed: no task ran")?,
            Reason::Failed => write!(f, "task group failed with {count} error(s)")?,
            Reason::TimedOut => write!(f, "task group timed out")?,
            Reason::Cancelled => write!(f, "task group was cancelled")?,
        }
        if self.inner.reason != Reason::Failed && count > 0 {
            write!(f, " with {count} error(s)")?;
        }
        if let Some(reason) = &self.inner.cancel_reason {
            write!(f, " (cancel reason: {reason})")?;
        }
        for error in &self.inner.errors {
            write!(f, "\n{pad}- ")?;
            error.fmt_nested(f, depth + 1, indent + 1, ": ")?;
        }
        Ok(())
    }
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_tree(f, 0, 0)
    }
}

impl fmt::Debug for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        DebugGroup(self, 0).fmt(f)
    }
}

/// A group error's `Debug`, `depth` groups deep: past [`SHOWN_DEPTH`] its entries are
/// left out (`..`), so that the text stays small however deep the nesting is.
struct DebugGroup<'a>(&'a GroupError, usize);

impl fmt::Debug for DebugGroup<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DebugGroup(group, depth) = *self;
        let mut out = f.debug_struct("GroupError");
        out.field("reason", &group.inner.reason);
        if depth >= SHOWN_DEPTH {
            return out
                .field("cancel_reason", &group.inner.cancel_reason)
                .finish_non_exhaustive();
        }
        let errors = group.inner.errors.iter().map(|e| DebugTask(e, depth));
        out.field("errors", &DebugList(errors))
            .field("cancel_reason", &group.inner.cancel_reason)
            .finish()
    }
}

/// Shows an iterator's items as a list.
struct DebugList<I>(I);

impl<I: Iterator<Item = T> + Clone, T: fmt::Debug> fmt::Debug for DebugList<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.clone()).finish()
    }
}

impl std::error::Error for GroupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.errors.first().map(|e| e as _)
    }
}

/// The group has exited and accepts no more children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupClosed;

impl fmt::Display for GroupClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task group has exited and accepts no more tasks")
    }
}

impl std::error::Error for GroupClosed {}
