//! Feature `tracing`: spans and events for the `tracing` crate.
//!
//! Every group gets a span named `group`, opened below the span current where the
//! group is opened (so below the task that opens it); every child task gets a span
//! named `task` below its group's span, with the task's name in its `task.name` field
//! (span names are static in `tracing`), entered around each poll of the task.
//! Events: `start` and `started` of `TaskGroup::start`, a scope's cancel (with
//! `reason`, and `deadline` when the deadline fired it), and a task's error or panic
//! (`error`, `panic`).
//!
//! Without the feature every item here is an empty type or an empty function that the
//! compiler removes.

#[cfg(feature = "tracing")]
mod imp {
    use tracing::Span;

    use crate::group::TaskError;

    /// A group's span.
    pub(crate) struct GroupSpan(Span);

    impl GroupSpan {
        /// The group opens: its span starts below the current span.
        pub(crate) fn open() -> GroupSpan {
            GroupSpan(tracing::info_span!("group"))
        }
    }

    /// A child task's span, below its group's.
    pub(crate) struct TaskSpan(Span);

    impl TaskSpan {
        pub(crate) fn new(name: Option<&str>, group: &GroupSpan) -> TaskSpan {
            TaskSpan(tracing::info_span!(parent: &group.0, "task", task.name = name))
        }

        /// Entered for one poll; the guard owns a clone, so the task stays free to
        /// change itself meanwhile.
        pub(crate) fn enter(&self) -> tracing::span::EnteredSpan {
            self.0.clone().entered()
        }
    }

    pub(crate) fn start(name: Option<&str>) {
        tracing::debug!(task.name = name, "start");
    }

    pub(crate) fn started() {
        tracing::debug!("started");
    }

    pub(crate) fn cancelled(reason: Option<&str>, deadline: bool) {
        tracing::debug!(reason, deadline, "cancel");
    }

    pub(crate) fn failed(error: &TaskError) {
        match error.panic_message() {
            Some(message) => tracing::error!(panic = message, "task panicked"),
            None if error.is_panic() => tracing::error!(panic = "", "task panicked"),
            None => tracing::error!(error = %error, "task failed"),
        }
    }
}

#[cfg(not(feature = "tracing"))]
mod imp {
    use crate::group::TaskError;

    pub(crate) struct GroupSpan;

    impl GroupSpan {
        #[inline(always)]
        pub(crate) fn open() -> GroupSpan {
            GroupSpan
        }
    }

    pub(crate) struct TaskSpan;

    impl TaskSpan {
        #[inline(always)]
        pub(crate) fn new(_name: Option<&str>, _group: &GroupSpan) -> TaskSpan {
            TaskSpan
        }

        #[inline(always)]
        pub(crate) fn enter(&self) -> NotEntered {
            NotEntered
        }
    }

    /// What [`TaskSpan::enter`] returns without the feature.
    pub(crate) struct NotEntered;

    #[inline(always)]
    pub(crate) fn start(_name: Option<&str>) {}

    #[inline(always)]
    pub(crate) fn started() {}

    #[inline(always)]
    pub(crate) fn cancelled(_reason: Option<&str>, _deadline: bool) {}

    #[inline(always)]
    pub(crate) fn failed(_error: &TaskError) {}
}

pub(crate) use imp::*;
