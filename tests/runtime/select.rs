//! `pride::select!`: the first ready branch wins, its handler runs after every branch
//! future has been dropped, and losers that were cancel-safe lose nothing.

use std::time::Duration;

use crate::common::{Counter, autojump};
use pride::{Event, Queue, sleep};

#[test]
fn the_first_ready_branch_wins_with_its_own_type() {
    autojump(30, || async {
        let out = pride::select! {
            n = async { sleep(Duration::from_secs(2)).await; 2u8 } => format!("u8 {n}"),
            s = async { sleep(Duration::from_secs(1)).await; "one" } => format!("str {s}"),
        };
        assert_eq!(out, "str one");
    });
}

#[test]
fn branches_are_polled_in_order() {
    autojump(30, || async {
        let out = pride::select! {
            a = std::future::ready('a') => a,
            b = std::future::ready('b') => b,
        };
        assert_eq!(out, 'a');
    });
}

#[test]
fn every_branch_is_dropped_before_the_handler_runs() {
    autojump(30, || async {
        let drops = Counter::new();
        let (d1, d2) = (drops.drop_guard(), drops.drop_guard());
        let seen = pride::select! {
            () = async move { let _g = d1; std::future::pending::<()>().await } => 0,
            () = async move { let _g = d2; sleep(Duration::from_secs(1)).await } => drops.get(),
        };
        assert_eq!(seen, 2);
    });
}

#[test]
fn a_losing_queue_get_takes_no_item() {
    autojump(30, || async {
        let queue = Queue::<u32>::unbounded();
        let timed_out = pride::select! {
            _item = queue.get() => false,
            () = sleep(Duration::from_secs(1)) => true,
        };
        assert!(timed_out);
        queue.put_nowait(5).unwrap();
        assert_eq!(queue.get_nowait().unwrap(), 5);
    });
}

#[test]
fn handlers_can_return_and_use_question_mark() {
    async fn pick(stop: &Event, fail: bool) -> Result<u32, String> {
        let v = pride::select! {
            () = stop.wait() => { return Ok(1) }
            r = async { if fail { Err("bad".to_string()) } else { Ok(2) } } => {
                let v: u32 = r?;
                v + 10
            }
        };
        Ok(v)
    }
    autojump(30, || async {
        let stop = Event::new();
        assert_eq!(pick(&stop, false).await, Ok(12));
        assert_eq!(pick(&stop, true).await, Err("bad".to_string()));
        stop.set();
        assert_eq!(pick(&stop, true).await, Ok(1));
    });
}

#[test]
fn a_pinned_future_survives_a_lost_select() {
    autojump(30, || async {
        let mut long = std::pin::pin!(async {
            sleep(Duration::from_secs(3)).await;
            "long"
        });
        let mut ticks = 0;
        loop {
            let done = pride::select! {
                v = &mut long => Some(v),
                () = sleep(Duration::from_secs(1)) => None,
            };
            match done {
                Some(v) => {
                    assert_eq!(v, "long");
                    break;
                }
                None => ticks += 1,
            }
        }
        // Ticks at 1 s and 2 s; at 3 s both are ready and the first branch wins.
        assert_eq!(ticks, 2);
    });
}

#[test]
fn a_cancelled_scope_drops_every_branch() {
    autojump(30, || async {
        let drops = Counter::new();
        let (d1, d2) = (drops.drop_guard(), drops.drop_guard());
        let out = pride::move_on_after(Duration::from_secs(5), async move {
            pride::select! {
                () = async move { let _g = d1; std::future::pending::<()>().await } => 1,
                () = async move { let _g = d2; std::future::pending::<()>().await } => 2,
            }
        })
        .await;
        assert_eq!(out, None);
        assert_eq!(drops.get(), 2);
    });
}

/// A block handler needs no comma, whatever the next branch's pattern starts with: a
/// slice or array pattern (`[a, b]`), a reference pattern (`&mut x`), a tuple.
#[test]
fn a_block_handler_without_a_comma_takes_any_next_pattern() {
    autojump(30, || async {
        let pending = std::future::pending::<u32>;
        let array = pride::select! {
            x = pending() => { x }
            [a, b] = async { [2u32, 3] } => a + b,
        };
        assert_eq!(array, 5);
        let mut value = 7u32;
        let reference = pride::select! {
            x = pending() => { x }
            &mut x = async { &mut value } => x + 1,
        };
        assert_eq!(reference, 8);
        let tuple = pride::select! {
            x = pending() => { x }
            (a, b) = async { (4u32, 5u32) } => { a * b }
            y = pending() => y,
        };
        assert_eq!(tuple, 20);
    });
}
