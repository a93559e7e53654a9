//! Helpers for the crate's unit tests: a waker that counts its wakes, and manual
//! polling, so tests can pin order, fairness and wake-up counts without a scheduler.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// A waker that counts how often it was woken.
#[derive(Default)]
pub(crate) struct CountingWaker {
    wakes: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counting waker and the `Waker` made from it.
pub(crate) struct Counter {
    inner: Arc<CountingWaker>,
    waker: Waker,
}

impl Counter {
    pub(crate) fn new() -> Self {
        let inner = Arc::new(CountingWaker::default());
        let waker = Waker::from(inner.clone());
        Self { inner, waker }
    }

    /// The waker, to register or to build a `Context` from.
    #[cfg_attr(pride_loom, allow(dead_code))] // its users are not built under loom
    pub(crate) fn waker(&self) -> &Waker {
        &self.waker
    }

    /// How many times this waker has been woken so far.
    pub(crate) fn wakes(&self) -> usize {
        self.inner.wakes.load(Ordering::SeqCst)
    }

    /// Polls `fut` once with this waker.
    pub(crate) fn poll<F: Future + Unpin>(&self, fut: &mut F) -> Poll<F::Output> {
        Pin::new(fut).poll(&mut Context::from_waker(&self.waker))
    }
}
