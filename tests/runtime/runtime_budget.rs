//! The cooperative budget: a task whose resources are always ready still lets the
//! other tasks on its worker run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use pride::{Queue, task_group};

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
