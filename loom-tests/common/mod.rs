//! Helpers shared by the loom models.

#![allow(dead_code)]

use std::sync::Arc as StdArc;
use std::task::{Wake, Waker};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// A waker that counts its wakes and unparks one loom thread, so a model can block
/// the way a task's runner would: `loop { check; loom::thread::park() }`. A lost
/// wake-up leaves that thread parked for ever, which loom reports as a deadlock.
pub struct Unpark {
    thread: loom::thread::Thread,
    wakes: Arc<AtomicUsize>,
}

impl Wake for Unpark {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        self.thread.unpark();
    }
}

/// A waker for the calling loom thread, and the count of its wakes.
pub fn unpark_waker() -> (Waker, Arc<AtomicUsize>) {
    let wakes = Arc::new(AtomicUsize::new(0));
    let waker = Waker::from(StdArc::new(Unpark {
        thread: loom::thread::current(),
        wakes: wakes.clone(),
    }));
    (waker, wakes)
}

/// `loom::model`, printing how many executions it explored (seen with `--nocapture`).
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let executions = StdArc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = executions.clone();
    loom::model(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    eprintln!(
        "loom explored {} executions",
        executions.load(std::sync::atomic::Ordering::Relaxed)
    );
}
