//! Nothing a finished group made stays allocated. The test binary counts live heap
//! bytes with its own global allocator (so this file holds this one test), runs the
//! same workload many times, and checks that the live bytes stop growing: a leak of
//! even one small object per child would add hundreds of kilobytes here.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::{Counter, Flag, watchdog};
use pride::{move_on_after, task_group};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; the counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout, which meets `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Sets its flag when dropped.
struct FlagOnDrop(Flag);

impl Drop for FlagOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// Groups of 200 children, some finishing at once, some after a yield, some inside
/// timeouts and nested groups, some handing back values through handles, some
/// dropping a group of sleepers (its teardown) when a timeout passes, some starting a
/// task on a group that has exited.
fn workload(rt: &pride::Runtime, done: &Counter) {
    // Groups whose one child has finished (almost always completely) before the
    // body returns from its first poll: the body waits for the child's future to be
    // dropped, then a little longer for the child to be counted out.
    for _ in 0..10 {
        rt.block_on(task_group(async |tg| {
            let gone = Flag::new();
            let guard = FlagOnDrop(gone.clone());
            tg.start_soon(async move { drop(guard) });
            while !gone.is_set() {
                std::hint::spin_loop();
            }
            std::thread::sleep(std::time::Duration::from_micros(300));
        }))
        .unwrap();
    }
    rt.block_on(task_group(async |tg| {
        for i in 0..200u32 {
            let done = done.clone();
            if i % 4 == 0 {
                let value = tg.spawn(async move { Ok::<_, pride::BoxError>(i) });
                tg.start_soon(async move {
                    assert_eq!(value.await.unwrap(), i);
                    done.inc();
                });
                continue;
            }
            tg.start_soon(async move {
                if i % 2 == 0 {
                    pride::yield_now().await;
                }
                if i % 5 == 0 {
                    // A group dropped by an outer timeout, its children asleep: the
                    // teardown path.
                    let cut = move_on_after(std::time::Duration::from_millis(1), async {
                        task_group(async |inner| {
                            for _ in 0..3 {
                                inner
                                    .start_soon(pride::sleep(std::time::Duration::from_secs(3600)));
                            }
                            std::future::pending::<()>().await;
                        })
                        .await
                    });
                    assert!(cut.await.is_none());
                }
                if i % 7 == 0 {
                    // `start` on a group that has exited, from inside this child's
                    // scope: its caller's side must not stay linked there.
                    let closed = task_group(async |tg| Ok::<_, pride::BoxError>(tg))
                        .await
                        .unwrap();
                    let outcome = closed
                        .start(|status: pride::TaskStatus<()>| async move { status.started(()) })
                        .await;
                    assert!(matches!(outcome, Err(pride::StartError::Closed)));
                }
                if i % 3 == 0 {
                    let inner = move_on_after(std::time::Duration::from_secs(60), async {
                        task_group(async |inner| {
                            inner.start_soon(async { pride::yield_now().await });
                        })
                        .await
                    });
                    inner.await.unwrap().unwrap();
                }
                done.inc();
            });
        }
    }))
    .unwrap();
}

#[test]
fn finished_groups_leave_nothing_allocated() {
    watchdog(120, || {
        let rt = common::runtime(2);
        let done = Counter::new();
        // Warm up: queues, free lists and thread-locals reach their working size.
        for _ in 0..20 {
            workload(&rt, &done);
        }
        let before = LIVE.load(Ordering::SeqCst);
        for _ in 0..100 {
            workload(&rt, &done);
        }
        let grown = LIVE.load(Ordering::SeqCst) - before;
        assert_eq!(done.get(), 120 * 200);
        // Free lists and queue buffers may still settle a little; 20,000 children
        // leaking even one 64-byte object each would be over a megabyte.
        assert!(
            grown < 256 * 1024,
            "live heap grew by {grown} bytes over 100 rounds"
        );
    });
}
