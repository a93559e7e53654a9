//! Helpers shared by the loom models.

#![allow(dead_code)]

use std::sync::Arc as StdArc;
use std::task::{Wake, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Notify};

/// A waker that counts its wakes and notifies the task's runner, so a model can block
/// the way a runner would: `loop { check; parker.wait() }`. A lost wake-up leaves
/// that thread waiting for ever, which loom reports as a deadlock.
///
/// It uses `loom::sync::Notify`, not `loom::thread::park`: loom's `unpark` of a thread
/// blocked in something else (a `join`, a lock) wakes it from that, which trips an
/// assertion inside loom.
pub struct NotifyWaker {
    notify: Arc<Notify>,
    wakes: Arc<AtomicUsize>,
}

impl Wake for NotifyWaker {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        self.notify.notify();
    }
}

/// A task's runner: its waker, where it waits, and how often it was woken.
pub struct Runner {
    pub waker: Waker,
    pub notify: Arc<Notify>,
    pub wakes: Arc<AtomicUsize>,
}

impl Runner {
    pub fn new() -> Runner {
        let notify = Arc::new(Notify::new());
        let wakes = Arc::new(AtomicUsize::new(0));
        let waker = Waker::from(StdArc::new(NotifyWaker {
            notify: notify.clone(),
            wakes: wakes.clone(),
        }));
        Runner {
            waker,
            notify,
            wakes,
        }
    }

    /// Blocks until woken (or spuriously: callers re-check in a loop).
    pub fn wait(&self) {
        self.notify.wait();
    }

    pub fn wakes(&self) -> usize {
        self.wakes.load(SeqCst)
    }
}

/// `loom::model`, printing how many executions it explored (seen with `--nocapture`).
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    model_with(loom::model::Builder::new(), f);
}

/// `model` with at least `preemptions` preemptions per execution, whatever
/// `LOOM_MAX_PREEMPTIONS` says: for a model small enough to explore deeper.
pub fn model_preempting<F>(preemptions: usize, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.map(|bound| bound.max(preemptions));
    model_with(builder, f);
}

fn model_with<F>(builder: loom::model::Builder, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let executions = StdArc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = executions.clone();
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    eprintln!(
        "loom explored {} executions",
        executions.load(std::sync::atomic::Ordering::Relaxed)
    );
}
