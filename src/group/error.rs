//! What a task group reports: [`GroupError`] (every error and panic of one group) and
//! [`TaskError`] (one task's error or panic, with the task's name).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

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
    /// The task failed and its error went to its group; a handle gets this summary.
    Reported {
        panic: bool,
        message: String,
    },
}

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
}

// SAFETY: no `&self` access to `payload` exists (see the type's docs), so sharing a
// `&Payload` between threads cannot touch the non-`Sync` box.
unsafe impl Sync for Payload {}

/// One task's error or panic, with the task's name.
///
/// Found in [`GroupError::errors`], and returned by a [`TaskHandle`](crate::TaskHandle)
/// whose task failed or was cancelled.
pub struct TaskError {
    name: Option<Arc<str>>,
    kind: Kind,
}

impl TaskError {
    pub(crate) fn new(name: Option<Arc<str>>, kind: Kind) -> TaskError {
        TaskError { name, kind }
    }

    /// The task's name, if it was started with one (`start_soon_named`, `start_named`).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(
            self.kind,
            Kind::Panic(_) | Kind::Reported { panic: true, .. }
        )
    }

    /// Whether the task was cancelled (a handle's task only; a group never reports
    /// cancellation as an error).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, Kind::Cancelled)
    }

    /// The panic message, if the task panicked with a string.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            Kind::Panic(payload) => payload.message.as_deref(),
            Kind::Reported {
                panic: true,
                message,
            } => Some(message),
            _ => None,
        }
    }

    /// The error, if it is of type `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match &self.kind {
            Kind::Error(e) => e.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// The error the task returned, if it returned one.
    pub fn error(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match &self.kind {
            Kind::Error(e) => Some(e.as_ref()),
            _ => None,
        }
    }

    /// Takes the error the task returned.
    ///
    /// # Panics
    /// If the task did not return an error (it panicked or was cancelled).
    #[track_caller]
    pub fn into_error(self) -> BoxError {
        match self.kind {
            Kind::Error(e) => e,
            _ => panic!(
                "pride: `TaskError::into_error` on a task that did not return an error: {self}"
            ),
        }
    }

    /// The panic payload, to resume it with `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the task did not panic.
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.kind {
            Kind::Panic(payload) => payload.payload,
            Kind::Reported {
                panic: true,
                message,
            } => Box::new(message),
            _ => panic!("pride: `TaskError::into_panic` on a task that did not panic: {self}"),
        }
    }

    fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("task '{name}'"),
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

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.label();
        match &self.kind {
            Kind::Error(e) => write!(f, "{label} failed: {e}"),
            Kind::Panic(payload) => match &payload.message {
                Some(message) => write!(f, "{label} panicked: {message}"),
                None => write!(f, "{label} panicked"),
            },
            Kind::Cancelled => write!(f, "{label} was cancelled"),
            Kind::Reported { panic, message } => {
                let verb = if *panic { "panicked" } else { "failed" };
                write!(f, "{label} {verb}: {message} (reported to its group)")
            }
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Error(e) => format!("Error({e:?})"),
            Kind::Panic(p) => format!("Panic({:?})", p.message),
            Kind::Cancelled => "Cancelled".to_owned(),
            Kind::Reported { panic, message } => {
                format!("Reported {{ panic: {panic}, {message:?} }}")
            }
        };
        f.debug_struct("TaskError")
            .field("name", &self.name)
            .field("kind", &format_args!("{kind}"))
            .finish()
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Error(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// Why a group ended in error.
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
pub struct GroupError {
    /// Boxed: a group's `Result<T, GroupError>` is then as small as `T` allows, so
    /// the success path returns in registers.
    inner: Box<Inner>,
}

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

    /// Whether the group's own deadline passed and cut work short.
    pub fn is_timeout(&self) -> bool {
        self.inner.reason == Reason::TimedOut
    }

    /// Whether the group was cancelled before its body produced a value.
    pub fn is_cancelled(&self) -> bool {
        self.inner.reason == Reason::Cancelled
    }

    /// The reason given to `cancel_with_reason`, if the group was cancelled with one.
    pub fn cancel_reason(&self) -> Option<&str> {
        self.inner.cancel_reason.as_deref()
    }

    /// The first error of type `E`, looking into nested groups' errors too.
    pub fn find<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.inner.errors.iter().find_map(|e| {
            e.downcast_ref::<E>().or_else(|| {
                e.downcast_ref::<GroupError>()
                    .and_then(GroupError::find::<E>)
            })
        })
    }

    fn fmt_tree(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        /// Nested groups shown; deeper ones are summarised in one line, so that the
        /// text (indented by depth) stays small however deep the nesting is.
        const SHOWN_DEPTH: usize = 16;
        let pad = "  ".repeat(depth);
        match self.inner.reason {
            Reason::Failed => write!(
                f,
                "task group failed with {} error(s)",
                self.inner.errors.len()
            )?,
            Reason::TimedOut => write!(f, "task group timed out")?,
            Reason::Cancelled => write!(f, "task group was cancelled")?,
        }
        if let Some(reason) = &self.inner.cancel_reason {
            write!(f, " (cancel reason: {reason})")?;
        }
        for error in &self.inner.errors {
            write!(f, "\n{pad}- ")?;
            match error.downcast_ref::<GroupError>() {
                Some(_) if depth + 1 >= SHOWN_DEPTH => write!(
                    f,
                    "{}: a task group error (nested groups deeper than {SHOWN_DEPTH} \
                     levels elided)",
                    error.label()
                )?,
                Some(nested) => {
                    write!(f, "{}: ", error.label())?;
                    nested.fmt_tree(f, depth + 1)?;
                }
                None => write!(f, "{error}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_tree(f, 0)
    }
}

impl Drop for GroupError {
    /// Groups nest as deep as the tasks that ran them (thousands of levels): the
    /// nested errors are taken apart on a list, not by recursing once per level.
    fn drop(&mut self) {
        let mut pending = std::mem::take(&mut self.inner.errors);
        while let Some(error) = pending.pop() {
            if let Kind::Error(error) = error.kind {
                if let Ok(mut nested) = error.downcast::<GroupError>() {
                    pending.append(&mut nested.inner.errors);
                }
            }
        }
    }
}

impl fmt::Debug for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupError")
            .field("reason", &self.inner.reason)
            .field("errors", &self.inner.errors)
            .field("cancel_reason", &self.inner.cancel_reason)
            .finish()
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
