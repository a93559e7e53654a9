//! The cooperative budget: a task whose resources are always ready still lets the
//! other tasks on its worker run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use pride::{Queue, task_group};

const ITEMS: usize = 10_000;

/// On one worker, a consumer draining a queue that is always ready yields before it is
/// done, so a sibling queued behind it runs in the middle of the drain.
#[test]
fn an_always_ready_consumer_yields_to_its_siblings() {
    let rt = pride::Runtime::builder().worker_threads(1).build().unwrap();
    let seen_at = Arc::new(AtomicUsize::new(usize::MAX));
    rt.block_on(task_group(async |tg| {
        let queue = Queue::unbounded();
        for i in 0..ITEMS {
            queue.put_nowait(i).unwrap();
        }
        let flag = Arc::new(AtomicBool::new(false));
        let (flag2, seen_at2, queue2) = (flag.clone(), seen_at.clone(), queue.clone());
        tg.start_soon(async move {
            for i in 0..ITEMS {
                queue2.get().await.unwrap();
                if flag2.load(Ordering::SeqCst) && seen_at2.load(Ordering::SeqCst) == usize::MAX {
                    seen_at2.store(i, Ordering::SeqCst);
                }
            }
        });
        tg.start_soon(async move {
            flag.store(true, Ordering::SeqCst);
        });
    }))
    .unwrap();
    let seen_at = seen_at.load(Ordering::SeqCst);
    assert!(
        seen_at < ITEMS,
        "the sibling only ran after the consumer had drained everything"
    );
}
