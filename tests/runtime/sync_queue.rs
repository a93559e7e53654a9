//! Queue and channels under the pride runtime: producers and consumers in task groups,
//! gets cancelled by cancel scopes, counting that no item is lost or duplicated; the
//! broadcast ring's bound and what it keeps; the channels' errors; who a put wakes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pride::sync::{Closed, channel};
use pride::{BoxError, CancelScope, Queue};

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: usize = 2_000;

#[test]
fn four_producers_four_consumers_through_a_bounded_queue() {
    let q = Queue::<usize>::with_maxsize(8);
    let seen: Arc<Vec<AtomicUsize>> = Arc::new(
        (0..PRODUCERS * PER_PRODUCER)
            .map(|_| AtomicUsize::new(0))
            .collect(),
    );
    pride::run(async {
        pride::task_group(async |tg| {
            for _ in 0..CONSUMERS {
                let (q, seen) = (q.clone(), seen.clone());
                tg.start_soon(async move {
                    while let Ok(item) = q.get().await {
                        seen[item].fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            let q = q.clone();
            tg.start_soon(async move {
                pride::task_group(async |producers| {
                    for p in 0..PRODUCERS {
                        let q = q.clone();
                        producers.start_soon(async move {
                            for i in 0..PER_PRODUCER {
                                q.put(p * PER_PRODUCER + i).await.unwrap();
                            }
                        });
                    }
                    Ok::<(), BoxError>(())
                })
                .await?;
                q.close();
                Ok::<(), BoxError>(())
            });
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
    });
    assert!(seen.iter().all(|n| n.load(Ordering::Relaxed) == 1));
    assert!(q.is_empty());
}

#[test]
fn items_from_one_producer_stay_in_order() {
    let q = Queue::with_maxsize(2);
    let got = pride::run(async {
        let q2 = q.clone();
        let (_, got) = futures_lite::future::zip(
            async move {
                for i in 0..1000 {
                    q2.put(i).await.unwrap();
                }
                q2.close();
            },
            async {
                let mut got = Vec::new();
                while let Ok(i) = q.get().await {
                    got.push(i);
                }
                got
            },
        )
        .await;
        got
    });
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
}

/// A getter blocked in `get` is cancelled by its scope while a producer puts: the item
/// is either received or still in the queue, never both, never neither.
#[test]
fn get_cancelled_by_a_scope_loses_no_item() {
    pride::run(async {
        for round in 0..500 {
            let q = Queue::unbounded();
            let received = Arc::new(AtomicUsize::new(0));
            let scope = CancelScope::new();
            pride::task_group(async |tg| {
                {
                    let (q, received, scope) = (q.clone(), received.clone(), scope.clone());
                    tg.start_soon(async move {
                        let _ = scope
                            .run(async {
                                if q.get().await.is_ok() {
                                    received.fetch_add(1, Ordering::SeqCst);
                                }
                            })
                            .await;
                    });
                }
                {
                    let (q, scope) = (q.clone(), scope.clone());
                    tg.start_soon(async move {
                        if round % 2 == 0 {
                            pride::checkpoint().await;
                        }
                        q.put(round).await.unwrap();
                        scope.cancel();
                    });
                }
                Ok::<(), BoxError>(())
            })
            .await
            .unwrap();
            assert_eq!(
                received.load(Ordering::SeqCst) + q.len(),
                1,
                "round {round}"
            );
        }
    });
}

/// A put waiting on a full queue is cancelled by a deadline: it did not enqueue.
#[test]
fn put_cancelled_by_a_deadline_did_not_enqueue() {
    pride::run(async {
        let q = Queue::with_maxsize(1);
        q.put(1).await.unwrap();
        let put = pride::move_on_after(Duration::from_millis(20), q.put(2)).await;
        assert!(put.is_none());
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await, Ok(1));
        assert_eq!(q.get_nowait(), Err(pride::sync::WouldBlock::Empty));
    });
}

#[test]
fn close_releases_every_waiting_getter() {
    pride::run(async {
        let q: Queue<u32> = Queue::unbounded();
        let closed = Arc::new(AtomicUsize::new(0));
        pride::task_group(async |tg| {
            for _ in 0..10 {
                let (q, closed) = (q.clone(), closed.clone());
                tg.start_soon(async move {
                    assert_eq!(q.get().await, Err(Closed(())));
                    closed.fetch_add(1, Ordering::SeqCst);
                });
            }
            pride::sleep(Duration::from_millis(10)).await;
            q.close();
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(closed.load(Ordering::SeqCst), 10);
    });
}

#[test]
fn channel_closes_when_the_last_sender_is_gone() {
    let total = Arc::new(AtomicUsize::new(0));
    pride::run(async {
        pride::task_group(async |tg| {
            let (tx, rx) = channel::<usize>(4);
            for p in 0..4 {
                let tx = tx.clone();
                tg.start_soon(async move {
                    for i in 0..100 {
                        tx.send(p * 100 + i).await.unwrap();
                    }
                });
            }
            drop(tx);
            for _ in 0..2 {
                let (mut rx, total) = (rx.clone(), total.clone());
                tg.start_soon(async move {
                    use futures_lite::StreamExt;
                    while let Some(v) = rx.next().await {
                        total.fetch_add(v, Ordering::SeqCst);
                    }
                });
            }
            Ok::<(), BoxError>(())
        })
        .await
        .unwrap();
    });
    assert_eq!(total.load(Ordering::SeqCst), (0..400).sum::<usize>());
}

#[test]
fn futures_are_send() {
    fn assert_send<F: std::future::Future + Send>(_: F) {}
    let q: Queue<String> = Queue::unbounded();
    assert_send(q.get());
    assert_send(q.put(String::new()));
    let (tx, rx) = channel::<String>(1);
    assert_send(tx.send(String::new()));
    assert_send(rx.recv());
    assert_send(async move {
        let _ = q.get().await;
        let _ = rx.recv().await;
    });
}

#[pride::test]
async fn a_receive_that_timed_out_as_a_stream_holds_no_item_back() {
    use futures_lite::StreamExt;
    let (tx, mut rx) = channel::<i32>(4);
    let other = rx.clone();
    assert!(
        pride::move_on_after(Duration::from_secs(1), rx.next())
            .await
            .is_none()
    );
    tx.send(1).await.unwrap();
    // The same receiver, and any other, can take it.
    assert_eq!(rx.try_recv(), Ok(1));
    tx.send(2).await.unwrap();
    let got = pride::move_on_after(Duration::from_secs(60), other.recv()).await;
    assert_eq!(got, Some(Ok(2)));
    tx.send(3).await.unwrap();
    drop(tx);
    assert_eq!(rx.next().await, Some(3));
    assert_eq!(rx.next().await, None);
}

/// The broadcast capacity bounds the ring; it is not reserved up front. A capacity of
/// `usize::MAX` (a ring as large as the unread messages) works like any other.
#[test]
fn broadcast_with_capacity_usize_max_sends_and_receives() {
    use pride::sync::broadcast;
    let (tx, mut rx) = broadcast::channel::<u32>(usize::MAX);
    let mut late = tx.subscribe();
    for i in 0..100 {
        assert_eq!(tx.send(i), Ok(2));
    }
    for i in 0..100 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    assert_eq!(late.try_recv(), Ok(0));
    drop(tx);
    assert_eq!(rx.try_recv(), Err(broadcast::TryRecvError::Closed));
    assert_eq!(late.try_recv(), Ok(1), "late has 99 messages still to read");
}

/// A broadcast message is dropped once every receiver that will read it has read it,
/// so a sender it carried (for replies) does not keep the channel open: once the
/// program's own senders are gone and everything is read, the channel is closed.
#[test]
fn broadcast_a_sender_carried_in_a_read_message_does_not_keep_the_channel_open() {
    use pride::sync::broadcast;

    #[derive(Clone)]
    struct Request {
        _reply_to: broadcast::Sender<Request>,
    }

    let (tx, mut rx) = broadcast::channel::<Request>(4);
    let mut rx2 = tx.subscribe();
    tx.send(Request {
        _reply_to: tx.clone(),
    })
    .unwrap();
    drop(tx);
    // Read by the first receiver: still kept, for the second.
    drop(rx.try_recv().unwrap());
    assert_eq!(rx.try_recv().err(), Some(broadcast::TryRecvError::Empty));
    // Read by the last one that will read it: dropped, and with it the last sender.
    drop(rx2.try_recv().unwrap());
    assert_eq!(rx.try_recv().err(), Some(broadcast::TryRecvError::Closed));
    let recv = futures_lite::future::block_on(rx2.recv());
    assert_eq!(recv.err(), Some(broadcast::RecvError::Closed));

    // A receiver dropped before reading no longer counts as one that will.
    let (tx, rx) = broadcast::channel::<Request>(4);
    let mut rx2 = tx.subscribe();
    tx.send(Request {
        _reply_to: tx.clone(),
    })
    .unwrap();
    drop((tx, rx));
    drop(rx2.try_recv().unwrap());
    assert_eq!(rx2.try_recv().err(), Some(broadcast::TryRecvError::Closed));
}

/// Each channel's "nobody there" error says what happened in its own terms: a
/// broadcast send with no receiver alive is not a closed channel (a `subscribe` brings
/// one back), and a watch's `changed` fails because its sender is gone.
#[test]
fn broadcast_and_watch_errors_describe_their_own_channel() {
    use pride::sync::{broadcast, watch};
    let (tx, rx) = broadcast::channel::<u8>(4);
    drop(rx);
    let err = tx.send(1).unwrap_err();
    assert_eq!(err.0, 1);
    assert_eq!(
        err.to_string(),
        "no broadcast receiver is alive to get the message"
    );
    let mut rx = tx.subscribe();
    assert_eq!(tx.send(2), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));

    let (tx, mut rx) = watch::channel(0);
    drop(tx);
    let err = futures_lite::future::block_on(rx.changed()).unwrap_err();
    assert_eq!(err.to_string(), "the watch sender was dropped");
}

/// Streams are the documented exception to "wake only who can proceed": a put that
/// finds no waiting `get` wakes every waiting stream, and the first to poll takes the
/// item (the others wait on, and the next put wakes them again). A waiting `get` is
/// served first, in FIFO order, and a put wakes only the oldest one.
#[test]
fn a_put_wakes_every_waiting_stream_but_only_the_oldest_get() {
    use crate::sync_primitives::{CountingWaker, poll_with};
    use futures_core::Stream;
    use std::pin::{Pin, pin};
    use std::task::{Context, Poll, Waker};

    let counters: Vec<_> = (0..5).map(|_| Arc::new(CountingWaker::default())).collect();
    let wakers: Vec<_> = counters.iter().map(|c| Waker::from(c.clone())).collect();
    let wakes = || -> Vec<usize> {
        counters
            .iter()
            .map(|c| c.0.load(Ordering::SeqCst))
            .collect()
    };
    let q = Queue::unbounded();
    let mut streams: Vec<_> = (0..3).map(|_| q.stream()).collect();
    let mut next =
        |i: usize| Pin::new(&mut streams[i]).poll_next(&mut Context::from_waker(&wakers[i]));
    for i in 0..3 {
        assert!(next(i).is_pending());
    }
    q.put_nowait(7).unwrap();
    assert_eq!(wakes(), [1, 1, 1, 0, 0], "every waiting stream is woken");
    // The stream that waited last but polls first takes the item; the others wait on.
    assert_eq!(next(2), Poll::Ready(Some(7)));
    assert!(next(0).is_pending());
    assert!(next(1).is_pending());
    q.put_nowait(8).unwrap();
    assert_eq!(
        wakes(),
        [2, 2, 1, 0, 0],
        "the streams still waiting are woken again"
    );
    assert_eq!(next(0), Poll::Ready(Some(8)));
    assert!(next(1).is_pending());

    // Gets are served first, oldest first, and a put wakes only the one it serves.
    let (mut first, mut second) = (pin!(q.get()), pin!(q.get()));
    assert!(poll_with(first.as_mut(), &wakers[3]).is_pending());
    assert!(poll_with(second.as_mut(), &wakers[4]).is_pending());
    q.put_nowait(9).unwrap();
    assert_eq!(wakes(), [2, 2, 1, 1, 0], "one get woken, and no stream");
    assert_eq!(poll_with(first.as_mut(), &wakers[3]), Poll::Ready(Ok(9)));
}

/// A get re-polled under a waker whose clone panics keeps its place in line until it
/// is dropped; dropped, it leaves the line, and the next item is not handed to it.
#[test]
fn a_get_whose_waker_refresh_panics_does_not_swallow_an_item() {
    let q = Queue::<u32>::unbounded();
    crate::sync_primitives::refresh_panics_then_dropped("Queue::get", q.get());
    q.put_nowait(7).unwrap();
    assert_eq!(
        q.get_nowait().ok(),
        Some(7),
        "the item went to a get that no longer exists"
    );
}

/// Same for a put: the slot freed next is not reserved for it, so the queue keeps its
/// capacity.
#[test]
fn a_put_whose_waker_refresh_panics_does_not_shrink_the_queue() {
    let q = Queue::<u32>::with_maxsize(1);
    q.put_nowait(1).unwrap();
    crate::sync_primitives::refresh_panics_then_dropped("Queue::put", q.put(2));
    assert_eq!(q.get_nowait().ok(), Some(1));
    assert!(
        q.put_nowait(3).is_ok(),
        "the slot went to a put that no longer exists"
    );
}

/// A receive whose stored waker owns the channel's last sender: dropping the waker
/// closes the channel, which takes the channel's lock, so it must be dropped after
/// that lock is released, both when the receive is dropped and when a re-poll under
/// another waker replaces it.
#[test]
fn a_stored_waker_owning_the_last_sender_is_dropped_unlocked() {
    use crate::sync_primitives::{poll_with, waker_owning};
    crate::common::watchdog(10, || {
        let (tx, rx) = channel::<u32>(1);
        let mut recv = Box::pin(rx.recv());
        assert!(poll_with(recv.as_mut(), &waker_owning(tx)).is_pending());
        drop(recv);
        assert!(rx.is_closed());

        let (tx, rx) = channel::<u32>(1);
        let mut recv = Box::pin(rx.recv());
        assert!(poll_with(recv.as_mut(), &waker_owning(tx)).is_pending());
        let _ = poll_with(recv.as_mut(), std::task::Waker::noop());
        assert!(rx.is_closed());
    });
}

/// A get that frees a slot wakes the put waiting for it; that put's waker panics (a
/// foreign executor's bug, reported by the panic hook): the get still hands out the
/// item it took, by `get_nowait` and by the `get` future, rather than losing it.
#[test]
fn a_get_keeps_its_item_when_the_waker_of_the_put_it_frees_panics() {
    use crate::sync_primitives::{PanickingWaker, poll_with};
    for by_future in [false, true] {
        let queue = pride::Queue::with_maxsize(1);
        queue.put_nowait(1).unwrap();
        let mut put = Box::pin(queue.put(2));
        let waker = std::task::Waker::from(Arc::new(PanickingWaker));
        assert!(poll_with(put.as_mut(), &waker).is_pending());
        let got = if by_future {
            futures_lite::future::block_on(queue.get()).ok()
        } else {
            queue.get_nowait().ok()
        };
        assert_eq!(got, Some(1), "by the future: {by_future}");
    }
}
