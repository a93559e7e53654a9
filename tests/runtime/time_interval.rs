//! `Interval` as a `futures_core::Stream`: ticks at exact mock times, works with stream
//! combinators, and a cancelled wait for a tick loses no tick.

use std::future::Future;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use pride::time::Clock;

const MS: Duration = Duration::from_millis(1);

fn autojump() -> pride::Runtime {
    pride::Runtime::builder()
        .worker_threads(2)
        .clock(Clock::autojump())
        .build()
        .unwrap()
}

fn _assert_stream() {
    fn stream<S: futures_core::Stream<Item = Instant> + Unpin + Send + Sync>() {}
    stream::<pride::time::Interval>();
}

#[test]
fn interval_stream_yields_each_scheduled_instant() {
    let offsets = autojump().block_on(async {
        let start = pride::current_time();
        pride::interval(100 * MS)
            .take(4)
            .map(|tick| tick - start)
            .collect::<Vec<_>>()
            .await
    });
    assert_eq!(offsets, [Duration::ZERO, 100 * MS, 200 * MS, 300 * MS]);
}

#[test]
fn interval_stream_never_ends() {
    let every = pride::Runtime::builder()
        .clock(Clock::mock())
        .build()
        .unwrap()
        .block_on(async { pride::interval(MS) });
    assert_eq!(futures_core::Stream::size_hint(&every), (usize::MAX, None));
}

#[test]
fn a_cancelled_tick_wait_loses_no_tick() {
    let (seen, late) = autojump().block_on(async {
        let start = pride::current_time();
        let mut every = pride::interval(100 * MS);
        assert_eq!(every.next().await, Some(start));
        // Cancelled after 50 ms, half way to the next tick.
        let cut = pride::move_on_after(50 * MS, every.next()).await;
        assert_eq!(cut, None);
        // The tick of 100 is still the next one, on time.
        let next = every.next().await.unwrap();
        (next - start, pride::current_time() - start)
    });
    assert_eq!(seen, 100 * MS);
    assert_eq!(late, 100 * MS);
}

#[test]
fn interval_stream_in_a_race_with_a_sleep() {
    // A typical loop: work on each tick until a deadline.
    let ticks = autojump().block_on(async {
        let mut every = pride::interval(30 * MS);
        let mut ticks = 0;
        pride::move_on_after(100 * MS, async {
            while every.next().await.is_some() {
                ticks += 1;
            }
        })
        .await;
        ticks
    });
    // Ticks at 0, 30, 60 and 90 ms.
    assert_eq!(ticks, 4);
}

/// The first tick completes at once, at its first poll: its deadline is the instant
/// the interval was made, which is not rounded up to the next 1 ms tick (on a mock
/// clock standing at a fraction of a millisecond, that tick never comes).
#[test]
fn the_first_tick_is_ready_at_its_first_poll() {
    for mock in [true, false] {
        let clock = if mock { Clock::mock() } else { Clock::system() };
        let builder = crate::common::builder(2).clock(clock).clone();
        let pending = crate::common::block_on(30, &builder, move || async move {
            if mock {
                pride::time::advance(Duration::from_micros(1500));
            }
            let mut pending = 0;
            for _ in 0..20 {
                let mut every = pride::interval(Duration::from_secs(1));
                let mut tick = std::pin::pin!(every.tick());
                let mut cx = Context::from_waker(Waker::noop());
                pending += usize::from(tick.as_mut().poll(&mut cx).is_pending());
            }
            pending
        });
        assert_eq!(
            pending, 0,
            "first ticks pending at their first poll (mock: {mock})"
        );
    }
}

/// Ticks stay on the `start + n * period` grid after a stall of more than `u32::MAX`
/// periods.
#[test]
fn ticks_stay_on_the_grid_after_a_stall_of_billions_of_periods() {
    let period = Duration::from_micros(7);
    let offsets = crate::common::autojump(30, move || async move {
        let mut every = pride::interval(period);
        let start = every.tick().await;
        // 9 h is about 4.6e9 periods of 7 µs.
        pride::time::advance(Duration::from_secs(9 * 3600) + Duration::from_micros(1));
        let mut offsets = Vec::new();
        for _ in 0..3 {
            offsets.push((every.tick().await - start).as_nanos());
        }
        offsets
    });
    assert!(
        offsets.iter().all(|o| o % period.as_nanos() == 0),
        "ticks off the grid: {offsets:?}"
    );
}

/// Ticks are at `start + n * period` also for a period that is no whole number of
/// milliseconds, and `advance` by one period reaches the next one.
#[test]
fn advancing_by_a_period_within_a_tick_brings_the_next_tick() {
    let builder = crate::common::builder(1).clock(Clock::mock()).clone();
    let ticks = crate::common::block_on(30, &builder, || async {
        let start = pride::current_time();
        let period = Duration::from_micros(1500);
        let mut every = pride::interval(period);
        let mut ticks = vec![every.tick().await - start];
        for _ in 0..3 {
            let mut tick = std::pin::pin!(every.tick());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(tick.as_mut().poll(&mut cx).is_pending());
            pride::time::advance(period);
            match tick.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(at) => ticks.push(at - start),
                std::task::Poll::Pending => break,
            }
        }
        ticks
    });
    let us = Duration::from_micros;
    assert_eq!(
        ticks,
        [us(0), us(1500), us(3000), us(4500)],
        "each advance by a period reaches the next tick"
    );
}

/// An interval made and ticked in runtime A, ticked again in runtime B after A was
/// dropped: its timer moves to B's driver, and the tick comes one period later (on
/// the autojump clock the two share).
#[test]
fn an_interval_of_a_dropped_runtime_ticks_in_another() {
    let mut builder = crate::common::builder(1).clock(Clock::autojump()).clone();
    crate::common::watchdog(30, move || {
        let a = builder.build().unwrap();
        let (mut every, first) = a.block_on(async {
            let mut every = pride::interval(10 * MS);
            let first = every.tick().await;
            (every, first)
        });
        drop(a);
        let b = builder.build().unwrap();
        let second = b.block_on(async move { every.tick().await });
        assert_eq!(second - first, 10 * MS);
    });
}

#[test]
fn a_period_under_a_millisecond_skips_no_tick_on_autojump() {
    let offsets = autojump().block_on(async {
        let start = pride::current_time();
        pride::interval(Duration::from_micros(300))
            .take(4)
            .map(|tick| tick - start)
            .collect::<Vec<_>>()
            .await
    });
    let us = Duration::from_micros;
    assert_eq!(offsets, [Duration::ZERO, us(300), us(600), us(900)]);
}
