//! The cooperative budget: a task whose resources are always ready still lets the
//! other tasks on its worker run.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use pride::net::UdpSocket;
use pride::sync::{Barrier, Borrower, Notify, RwLock, broadcast, channel, oneshot, watch};
use pride::time::Clock;
use pride::{BoxError, CapacityLimiter, Event, Lock, Queue, Semaphore, task_group};

use crate::common::{self, Flag};

const ITEMS: usize = 10_000;

/// On one worker, a consumer draining a queue that is always ready yields before it is
/// done, so a sibling it queued behind itself runs in the middle of the drain.
#[test]
fn an_always_ready_consumer_yields_to_its_siblings() {
    let rt = pride::Runtime::builder().worker_threads(1).build().unwrap();
    let seen_at = Arc::new(AtomicUsize::new(usize::MAX));
    rt.block_on(task_group(async |tg| {
        let queue = Queue::unbounded();
        for i in 0..ITEMS {
            queue.put_nowait(i).unwrap();
        }
        let seen_at = seen_at.clone();
        let group = tg.clone();
        tg.start_soon(async move {
            // Queued on this worker, behind this task: it runs only if we yield.
            let flag = Arc::new(AtomicBool::new(false));
            let flag2 = flag.clone();
            group.start_soon(async move {
                flag2.store(true, Ordering::SeqCst);
            });
            for i in 0..ITEMS {
                queue.get().await.unwrap();
                if flag.load(Ordering::SeqCst) && seen_at.load(Ordering::SeqCst) == usize::MAX {
                    seen_at.store(i, Ordering::SeqCst);
                }
            }
        });
    }))
    .unwrap();
    let seen_at = seen_at.load(Ordering::SeqCst);
    assert!(
        seen_at < ITEMS,
        "the sibling only ran after the consumer had drained everything"
    );
}

/// Counts the wake-ups given to the waker it wraps.
struct CountingWaker {
    inner: Waker,
    wakes: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

/// Polls every future of a list on each poll, as `join_all` does.
struct JoinAll<'a>(Vec<Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>>);

impl Future for JoinAll<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut pending = false;
        for slot in self.0.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

/// Polls `join` once from the running task, through a waker that counts the wake-ups it
/// gets during that poll; says whether the poll was pending and how many.
async fn poll_once_counting_wakes(join: &mut JoinAll<'_>) -> (bool, usize) {
    std::future::poll_fn(|cx| {
        let counter = Arc::new(CountingWaker {
            inner: cx.waker().clone(),
            wakes: AtomicUsize::new(0),
        });
        let waker = Waker::from(counter.clone());
        let pending = Pin::new(&mut *join)
            .poll(&mut Context::from_waker(&waker))
            .is_pending();
        Poll::Ready((pending, counter.wakes.load(Ordering::SeqCst)))
    })
    .await
}

/// A task waiting on 200 idle socket reads at once (a join over many connections)
/// sleeps until one has data: the reads that return `Pending` spend no budget, so none
/// is refused and nothing wakes the task while nothing is ready.
#[test]
fn waiting_on_many_idle_sockets_does_not_spin() {
    common::run(2, 60, || async {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let polled = Arc::new(Event::new());
        task_group(async |tg| {
            let set_polled = polled.clone();
            tg.start_soon(async move {
                let sock = &sock;
                let mut join = JoinAll(
                    (0..200)
                        .map(|_| {
                            Some(Box::pin(async move {
                                let mut buf = [0; 8];
                                sock.recv_from(&mut buf).await.unwrap();
                            })
                                as Pin<Box<dyn Future<Output = ()> + Send + '_>>)
                        })
                        .collect(),
                );
                let (pending, wakes) = poll_once_counting_wakes(&mut join).await;
                assert!(pending, "nothing was sent yet");
                assert_eq!(wakes, 0, "the task was woken while nothing was ready");
                set_polled.set();
                join.await;
            });
            polled.wait().await;
            let sender = UdpSocket::bind("127.0.0.1:0").await?;
            for _ in 0..200 {
                sender.send_to(b"x", addr).await?;
            }
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
}

/// The same for sync primitives: 300 pending event waits and queue gets polled from one
/// task spend no budget and wake nothing until the event is set and the items come.
#[test]
fn waiting_on_many_idle_primitives_does_not_spin() {
    common::run(2, 60, || async {
        let event = Arc::new(Event::new());
        let queue = Arc::new(Queue::unbounded());
        let polled = Arc::new(Event::new());
        task_group(async |tg| {
            let (ev, q, set_polled) = (event.clone(), queue.clone(), polled.clone());
            tg.start_soon(async move {
                let (event, queue) = (&*ev, &*q);
                let waits = (0..300).map(|_| {
                    Box::pin(event.wait()) as Pin<Box<dyn Future<Output = ()> + Send + '_>>
                });
                let gets = (0..300).map(|_| {
                    Box::pin(async move {
                        queue.get().await.unwrap();
                    }) as Pin<Box<dyn Future<Output = ()> + Send + '_>>
                });
                let mut join = JoinAll(waits.chain(gets).map(Some).collect());
                let (pending, wakes) = poll_once_counting_wakes(&mut join).await;
                assert!(pending, "the event is not set and the queue is empty");
                assert_eq!(wakes, 0, "the task was woken while nothing was ready");
                set_polled.set();
                join.await;
            });
            polled.wait().await;
            event.set();
            for i in 0..300 {
                queue.put_nowait(i).unwrap();
            }
        })
        .await
        .unwrap();
    });
}

/// How many times a loop over an always-ready operation goes round before
/// [`a_ready_loop_lets_its_sibling_run`] gives up on seeing its sibling: many times the
/// units of one poll.
const ROUNDS: usize = 10_000;

/// The rounds of a loop over an always-ready operation: it goes on until the sibling
/// has run, or for [`ROUNDS`] rounds.
struct Rounds {
    sibling_ran: Flag,
    left: usize,
}

impl Rounds {
    /// Whether to go round once more.
    fn again(&mut self) -> bool {
        if self.sibling_ran.is_set() || self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }
}

/// On a one-worker runtime built from `builder`, a task queues a sibling behind itself
/// and then runs `looping`, a loop over an always-ready operation for as long as its
/// [`Rounds`] say. The sibling must have run by the time the loop ends: the operation
/// spends the cooperative budget, and the task yields once the budget is spent.
fn a_ready_loop_lets_its_sibling_run<F>(
    what: &str,
    builder: &pride::Builder,
    looping: impl FnOnce(Rounds) -> F + Send + 'static,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let yielded = Flag::new();
    let seen = yielded.clone();
    common::block_on(30, builder, move || {
        task_group(async move |tg| {
            let group = tg.clone();
            tg.start_soon(async move {
                let sibling_ran = Flag::new();
                let set = sibling_ran.clone();
                // Queued on this worker, behind this task: it runs only if we yield.
                group.start_soon(async move { set.set() });
                looping(Rounds {
                    sibling_ran: sibling_ran.clone(),
                    left: ROUNDS,
                })
                .await;
                if sibling_ran.is_set() {
                    seen.set();
                }
            });
        })
    })
    .unwrap();
    assert!(
        yielded.is_set(),
        "{what}: the loop never yielded: its sibling ran only after {ROUNDS} rounds"
    );
}

#[test]
fn a_loop_of_uncontended_limiter_acquires_yields() {
    a_ready_loop_lets_its_sibling_run(
        "CapacityLimiter::acquire",
        &common::builder(1),
        |mut rounds| async move {
            let limiter = CapacityLimiter::new(1);
            while rounds.again() {
                let _token = limiter.acquire().await;
            }
        },
    );
    a_ready_loop_lets_its_sibling_run(
        "CapacityLimiter::acquire_on_behalf_of",
        &common::builder(1),
        |mut rounds| async move {
            let limiter = CapacityLimiter::new(1);
            let borrower = Borrower::new(1);
            while rounds.again() {
                limiter.acquire_on_behalf_of(borrower).await.unwrap();
                limiter.release_on_behalf_of(borrower).unwrap();
            }
        },
    );
}

#[test]
fn a_loop_awaiting_a_closed_oneshot_yields() {
    a_ready_loop_lets_its_sibling_run(
        "oneshot::Sender::closed",
        &common::builder(1),
        |mut rounds| async move {
            let (mut tx, rx) = oneshot::channel::<u32>();
            drop(rx);
            while rounds.again() {
                tx.closed().await;
            }
        },
    );
}

/// Every other sync primitive's ready operation spends the budget too.
#[test]
fn loops_of_ready_sync_operations_yield() {
    let one = common::builder(1);
    a_ready_loop_lets_its_sibling_run(
        "Event::wait on a set event",
        &one,
        |mut rounds| async move {
            let event = Event::new();
            event.set();
            while rounds.again() {
                event.wait().await;
            }
        },
    );
    a_ready_loop_lets_its_sibling_run("Lock::lock", &one, |mut rounds| async move {
        let lock = Lock::new(0);
        while rounds.again() {
            *lock.lock().await += 1;
        }
    });
    a_ready_loop_lets_its_sibling_run("RwLock::read and write", &one, |mut rounds| async move {
        let lock = RwLock::new(0);
        while rounds.again() {
            let n = *lock.read().await;
            *lock.write().await = n + 1;
        }
    });
    a_ready_loop_lets_its_sibling_run("Semaphore::acquire", &one, |mut rounds| async move {
        let semaphore = Semaphore::new(1);
        while rounds.again() {
            let _permit = semaphore.acquire().await;
        }
    });
    a_ready_loop_lets_its_sibling_run("channel send and recv", &one, |mut rounds| async move {
        let (tx, rx) = channel(1);
        while rounds.again() {
            tx.send(1).await.unwrap();
            rx.recv().await.unwrap();
        }
    });
    a_ready_loop_lets_its_sibling_run("oneshot::Receiver", &one, |mut rounds| async move {
        while rounds.again() {
            let (tx, rx) = oneshot::channel();
            tx.send(1).unwrap();
            rx.await.unwrap();
        }
    });
    a_ready_loop_lets_its_sibling_run("watch::Receiver::changed", &one, |mut rounds| async move {
        let (tx, mut rx) = watch::channel(0);
        while rounds.again() {
            tx.send(1);
            rx.changed().await.unwrap();
        }
    });
    a_ready_loop_lets_its_sibling_run("broadcast::Receiver::recv", &one, |mut rounds| async move {
        let (tx, mut rx) = broadcast::channel(1);
        while rounds.again() {
            tx.send(1).unwrap();
            rx.recv().await.unwrap();
        }
    });
    a_ready_loop_lets_its_sibling_run("Notify::notified", &one, |mut rounds| async move {
        let notify = Notify::new();
        while rounds.again() {
            notify.notify_one();
            notify.notified().await;
        }
    });
    a_ready_loop_lets_its_sibling_run("Barrier::wait", &one, |mut rounds| async move {
        let barrier = Barrier::new(1);
        while rounds.again() {
            barrier.wait().await;
        }
    });
}

/// The runtimes the time loops run on: one worker, the system clock and the autojump
/// clock.
fn one_worker_clocks() -> [pride::Builder; 2] {
    let mut autojump = common::builder(1);
    autojump.clock(Clock::autojump());
    [common::builder(1), autojump]
}

/// A sleep whose deadline has passed completes at its first poll, and spends the
/// budget as it does: a loop of them (a task catching up on missed deadlines) yields.
#[test]
fn a_loop_of_elapsed_sleeps_yields() {
    for builder in &one_worker_clocks() {
        a_ready_loop_lets_its_sibling_run("sleep_until(now)", builder, |mut rounds| async move {
            while rounds.again() {
                pride::sleep_until(pride::current_time()).await;
            }
        });
    }
}

#[test]
fn a_loop_over_a_sleep_reset_to_the_past_yields() {
    for builder in &one_worker_clocks() {
        a_ready_loop_lets_its_sibling_run(
            "a sleep reset to the past",
            builder,
            |mut rounds| async move {
                let past = pride::current_time();
                let mut sleep = pin!(pride::sleep(Duration::from_secs(3600)));
                while rounds.again() {
                    sleep.as_mut().reset(past);
                    sleep.as_mut().await;
                }
            },
        );
    }
}

#[test]
fn a_loop_of_ready_interval_ticks_yields() {
    for builder in &one_worker_clocks() {
        a_ready_loop_lets_its_sibling_run(
            "an interval's first tick",
            builder,
            |mut rounds| async move {
                while rounds.again() {
                    pride::interval(Duration::from_secs(3600)).tick().await;
                }
            },
        );
    }
}

/// A sleep's first poll arms its timer even when the task's budget is spent (the poll
/// then yields): an advance of the clock past the deadline makes it elapsed.
#[test]
fn a_sleep_polled_once_out_of_budget_is_armed() {
    let mut builder = common::builder(1);
    builder.clock(Clock::mock());
    let elapsed = common::block_on(20, &builder, || async {
        task_group(async |tg| {
            let elapsed = tg.spawn(async {
                spend_the_budget();
                let mut cx = Context::from_waker(Waker::noop());
                let mut sleep = pin!(pride::sleep(Duration::from_secs(1)));
                assert!(sleep.as_mut().poll(&mut cx).is_pending());
                pride::time::advance(Duration::from_secs(2));
                Ok::<_, BoxError>(sleep.is_elapsed())
            });
            elapsed.await
        })
        .await
        .unwrap()
    });
    assert!(elapsed, "the sleep's timer was not armed by its first poll");
}

/// A sleep that waited ends as a cancellation point for the deadlines around it, also
/// when the budget refused its end at first: a scope deadline that passed before the
/// later poll that ends it is caught there.
#[test]
fn a_sleep_whose_end_the_budget_refused_still_catches_a_passed_deadline() {
    sleep_refused_then_deadline_passes(false);
}

/// The same for a sleep already due at its first poll, which the budget refused: the
/// task yielded there as if the sleep had waited.
#[test]
fn a_due_sleep_whose_end_the_budget_refused_still_catches_a_passed_deadline() {
    sleep_refused_then_deadline_passes(true);
}

/// In a task on a mock clock: a 1 s sleep inside a scope with a 2 s deadline is polled
/// once (`due`: after the clock passed its deadline; else before, and then the clock
/// passes it) with the budget spent, so that its end is refused; then the scope's
/// deadline passes, and the sleep, awaited, must not end: the scope catches.
fn sleep_refused_then_deadline_passes(due: bool) {
    let mut builder = common::builder(1);
    builder.clock(Clock::mock());
    let (ended, caught) = common::block_on(20, &builder, move || async move {
        task_group(async |tg| {
            let in_task = tg.spawn(async move {
                let second = Duration::from_secs(1);
                let scope = pride::CancelScope::with_deadline(pride::current_time() + 2 * second);
                let ended = scope
                    .run(async {
                        let mut sleep = pin!(pride::sleep(second));
                        if !due {
                            std::future::poll_fn(|cx| {
                                assert!(sleep.as_mut().poll(cx).is_pending());
                                Poll::Ready(())
                            })
                            .await;
                        }
                        pride::time::advance(second);
                        std::future::poll_fn(|cx| {
                            spend_the_budget();
                            assert!(sleep.as_mut().poll(cx).is_pending(), "not refused");
                            Poll::Ready(())
                        })
                        .await;
                        pride::yield_now().await;
                        // The scope's deadline passes before the sleep ends.
                        pride::time::advance(2 * second);
                        sleep.as_mut().await;
                        "the sleep ended"
                    })
                    .await;
                Ok::<_, BoxError>((ended, scope.cancelled_caught()))
            });
            in_task.await
        })
        .await
        .unwrap()
    });
    assert_eq!(ended, None, "the sleep ended past its scope's deadline");
    assert!(caught);
}

/// Spends the running task's budget on timeouts that have already passed (each ends at
/// its first poll) until one is refused.
fn spend_the_budget() {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        let mut passed = pin!(pride::move_on_after(
            Duration::ZERO,
            std::future::pending::<()>()
        ));
        if passed.as_mut().poll(&mut cx).is_pending() {
            break;
        }
    }
}
