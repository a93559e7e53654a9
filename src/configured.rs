//! The state of a builder-style future (`net::serve(..)`, `supervise(..)`): configured
//! by value, then awaited. The first poll turns the configuration into the running
//! work, boxed once, so that the public type can be named and is `Send` whatever the
//! work's `async fn` is (rustc cannot always prove such a future `Send`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::GroupError;

type Running = Pin<Box<dyn Future<Output = Result<(), GroupError>> + Send>>;

/// A configuration until the first poll, then the work it started.
pub(crate) struct Configured<C> {
    /// `Some` until the first poll moves it into `running`.
    config: Option<C>,
    running: Option<Running>,
}

impl<C> Configured<C> {
    pub(crate) fn new(config: C) -> Configured<C> {
        Configured {
            config: Some(config),
            running: None,
        }
    }

    /// The configuration, for a builder method; `what` names the public type.
    ///
    /// # Panics
    /// Once the future has been polled.
    #[track_caller]
    pub(crate) fn config(&mut self, what: &str) -> &mut C {
        match &mut self.config {
            Some(config) => config,
            None => panic!("pride: a `{what}` is configured before it is first polled"),
        }
    }

    /// The configuration while the work has not started.
    pub(crate) fn pending(&self) -> Option<&C> {
        self.config.as_ref()
    }

    /// Polls the work; the first poll starts it from the configuration with `start`.
    pub(crate) fn poll<F>(
        &mut self,
        cx: &mut Context<'_>,
        start: impl FnOnce(C) -> F,
    ) -> Poll<Result<(), GroupError>>
    where
        F: Future<Output = Result<(), GroupError>> + Send + 'static,
    {
        let running = match &mut self.running {
            Some(running) => running,
            None => {
                let config = self
                    .config
                    .take()
                    .expect("the configuration is there until started");
                self.running.insert(Box::pin(start(config)))
            }
        };
        running.as_mut().poll(cx)
    }
}
