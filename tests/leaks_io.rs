//! Memory kept by waits that are gone: tasks cancelled while they wait on a socket
//! that stays idle must not stay in memory through the socket's waiter list. Its own
//! test binary, since it counts every allocation of the process.
#![cfg(unix)]

#[path = "common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::task::Poll;

use pride::net::UnixStream;

/// Bytes allocated and not yet freed, by the whole process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments, so `System`'s
// guarantees are the caller's; the counter only adds and subtracts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: see the impl.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: see the impl.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: see the impl.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: see the impl.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Short-lived tasks (each with a large future) that wait to read an idle socket and
/// are cancelled, one after another: once they are gone, their memory is freed,
/// although the socket never gets an event that would empty its waiter list.
#[test]
fn cancelled_waiters_on_an_idle_socket_do_not_pile_up() {
    const ROUNDS: usize = 1000;
    const FUTURE_BYTES: usize = 64 * 1024;
    common::run(1, 60, || async {
        let (a, _b) = UnixStream::pair().unwrap();
        let a = Arc::new(a);
        let before = LIVE.load(Ordering::SeqCst);
        for _ in 0..ROUNDS {
            let a = a.clone();
            pride::task_group(async |tg| {
                let waiting = Arc::new(pride::Event::new());
                let set = waiting.clone();
                tg.start_soon(async move {
                    let mut buf = [0u8; FUTURE_BYTES];
                    let mut read = std::pin::pin!(a.read(&mut buf));
                    // Poll the read once (it registers its waker), then say so.
                    std::future::poll_fn(|cx| {
                        assert!(read.as_mut().poll(cx).is_pending());
                        Poll::Ready(())
                    })
                    .await;
                    set.set();
                    let _ = read.await;
                });
                waiting.wait().await;
                tg.cancel_scope().cancel();
            })
            .await
            .unwrap();
        }
        let grown = LIVE.load(Ordering::SeqCst) - before;
        assert!(
            grown < (ROUNDS * FUTURE_BYTES / 8) as isize,
            "{grown} bytes still held after {ROUNDS} cancelled waits"
        );
    });
}
