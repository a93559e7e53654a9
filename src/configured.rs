//! The state of a builder-style future (`net::serve(..)`, `supervise(..)`): configured
//! by value, then awaited. The first poll turns the configuration into the running
//! work, boxed once, so that the public type can be named and is `Send` whatever the
//! work's `async fn` is (rustc cannot always prove such a future `Send`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::GroupError;

type Running = Pin<Box<dyn Future<Output = Result<(), GroupError>> + Send>>;

/// A configuration until the first poll, then the work it started, then done.
pub(crate) struct Configured<C> {
    /// The public type's name, for the misuse panics.
    what: &'static str,
    state: State<C>,
}

enum State<C> {
    Config(C),
    Running(Running),
    /// The work gave its outcome (and was dropped).
    Done,
}

impl<C> Configured<C> {
    /// `what` names the public type (`Serve`), for the misuse panics.
    pub(crate) fn new(what: &'static str, config: C) -> Configured<C> {
        Configured {
            what,
            state: State::Config(config),
        }
    }

    /// The configuration, for a builder method.
    ///
    /// # Panics
    /// Once the future has been polled.
    #[track_caller]
    pub(crate) fn config(&mut self) -> &mut C {
        match &mut self.state {
            State::Config(config) => config,
            _ => panic!(
                "pride: a `{}` is configured before it is first polled",
                self.what
            ),
        }
    }

    /// The configuration while the work has not started.
    pub(crate) fn pending(&self) -> Option<&C> {
        match &self.state {
            State::Config(config) => Some(config),
            _ => None,
        }
    }

    /// Polls the work; the first poll starts it from the configuration with `start`.
    ///
    /// # Panics
    /// Once the work has given its outcome.
    pub(crate) fn poll<F>(
        &mut self,
        cx: &mut Context<'_>,
        start: impl FnOnce(C) -> F,
    ) -> Poll<Result<(), GroupError>>
    where
        F: Future<Output = Result<(), GroupError>> + Send + 'static,
    {
        if let State::Config(_) = self.state {
            let State::Config(config) = std::mem::replace(&mut self.state, State::Done) else {
                unreachable!("matched just above");
            };
            self.state = State::Running(Box::pin(start(config)));
        }
        let State::Running(running) = &mut self.state else {
            panic!("pride: a `{}` was polled after it completed", self.what);
        };
        let outcome = running.as_mut().poll(cx);
        if outcome.is_ready() {
            // Drops the finished work now, not with the handle.
            self.state = State::Done;
        }
        outcome
    }
}
