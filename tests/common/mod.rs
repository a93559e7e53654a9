//! Small helpers shared by the integration tests: counters, drop guards, a poll gauge,
//! a watchdog so a hang fails instead of stalling the suite, runtimes run under it, and a
//! tiny RNG.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A shared counter.
#[derive(Clone, Default, Debug)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn new() -> Counter {
        Counter::default()
    }

    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Starts `n` children in `tg` that each yield once, then increment this counter.
    pub fn start_yielding_children(&self, tg: &pride::TaskGroup, n: usize) {
        for _ in 0..n {
            let counter = self.clone();
            tg.start_soon(async move {
                pride::yield_now().await;
                counter.inc();
            });
        }
    }

    /// A guard that increments this counter when dropped. Move one into a future to
    /// count how many times that future was dropped.
    pub fn drop_guard(&self) -> DropGuard {
        DropGuard(self.clone())
    }
}

/// Increments its counter on drop.
#[derive(Debug)]
pub struct DropGuard(Counter);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.inc();
    }
}

/// A flag set once, read with `SeqCst`.
#[derive(Clone, Default, Debug)]
pub struct Flag(Arc<std::sync::atomic::AtomicBool>);

impl Flag {
    pub fn new() -> Flag {
        Flag::default()
    }

    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Wraps a future and counts polls and the polls in progress right now.
pub struct Gauged<F> {
    future: Pin<Box<F>>,
    polls: Counter,
    active: Arc<AtomicUsize>,
}

/// Counts polls of futures wrapped with [`Gauge::wrap`] and how many are mid-poll.
#[derive(Clone, Default)]
pub struct Gauge {
    pub polls: Counter,
    active: Arc<AtomicUsize>,
}

impl Gauge {
    pub fn new() -> Gauge {
        Gauge::default()
    }

    pub fn wrap<F: Future>(&self, future: F) -> Gauged<F> {
        Gauged {
            future: Box::pin(future),
            polls: self.polls.clone(),
            active: self.active.clone(),
        }
    }

    /// How many wrapped futures are inside `poll` right now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

impl<F: Future> Future for Gauged<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.polls.inc();
        this.active.fetch_add(1, Ordering::SeqCst);
        // Decrements even if the poll unwinds.
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _leave = Leave(&this.active);
        this.future.as_mut().poll(cx)
    }
}

/// A runtime builder with `n` workers.
pub fn builder(n: usize) -> pride::Builder {
    let mut builder = pride::Runtime::builder();
    builder.worker_threads(n);
    builder
}

/// A runtime with `n` workers.
pub fn runtime(n: usize) -> pride::Runtime {
    builder(n).build().expect("runtime")
}

/// Builds a runtime like `builder` and runs the future `make` builds on it, under a
/// [`watchdog`] of `secs`. If it hangs, the failure shows the runtime's task tree.
pub fn block_on<R, F>(
    secs: u64,
    builder: &pride::Builder,
    make: impl FnOnce() -> F + Send + 'static,
) -> R
where
    R: Send + 'static,
    F: Future<Output = R>,
{
    let runtime = Arc::new(builder.clone().build().expect("runtime"));
    // Weak: the runtime still goes with the thread that ran it.
    let watched = Arc::downgrade(&runtime);
    watchdog_showing(
        secs,
        move || runtime.block_on(make()),
        move || match watched.upgrade() {
            Some(runtime) => runtime.dump().to_string(),
            None => "(the runtime is gone)".to_owned(),
        },
    )
}

/// [`block_on`] on a runtime with `n` workers and the system clock.
pub fn run<R, F>(n: usize, secs: u64, make: impl FnOnce() -> F + Send + 'static) -> R
where
    R: Send + 'static,
    F: Future<Output = R>,
{
    block_on(secs, &builder(n), make)
}

/// [`block_on`] on a two-worker runtime with the autojump clock.
pub fn autojump<R, F>(secs: u64, make: impl FnOnce() -> F + Send + 'static) -> R
where
    R: Send + 'static,
    F: Future<Output = R>,
{
    block_on(secs, builder(2).clock(pride::time::Clock::autojump()), make)
}

/// Runs `f` on a fresh thread and fails the test if it does not finish within `secs`
/// (a generous bound: it turns a hang into a failure, it is not a timing assertion).
/// A panic in `f` is propagated.
pub fn watchdog<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    watchdog_showing(secs, f, String::new)
}

/// [`watchdog`], with what `show` describes (e.g. a runtime's task tree) in the failure.
pub fn watchdog_showing<R: Send + 'static>(
    secs: u64,
    f: impl FnOnce() -> R + Send + 'static,
    show: impl FnOnce() -> String,
) -> R {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Ok(r) => r,
            Err(payload) => std::panic::resume_unwind(payload),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("test hung: no result after {secs} s\n{}", show())
        }
    }
}

/// Yields until `cond` holds.
pub async fn yield_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        pride::yield_now().await;
    }
}

/// Busy-waits (no suspension point) until `cond` holds.
pub fn spin_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        std::hint::spin_loop();
        std::thread::yield_now();
    }
}

/// xorshift64*: a deterministic, dependency-free source of small random numbers.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A test error type with a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyError(pub u32);

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "my error {}", self.0)
    }
}

impl std::error::Error for MyError {}

/// A test error type with a message.
#[derive(Debug)]
pub struct Boom(pub &'static str);

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "boom: {}", self.0)
    }
}

impl std::error::Error for Boom {}

/// Sets its event when dropped: tells another task that a future is gone.
pub struct SetOnDrop(pub pride::Event);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// The text of a panic payload (`&str` or `String`), or `""`.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("")
}

/// A future that polls `F` and holds `D` beside it, dropped with it: work that owns a
/// resource whose `Drop` runs (or fails) once the work is dropped.
pub struct Beside<F, D>(pub Pin<Box<F>>, pub D);

impl<F: Future, D: Unpin> Future for Beside<F, D> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.0.as_mut().poll(cx)
    }
}
