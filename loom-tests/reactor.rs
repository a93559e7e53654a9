//! loom model of the reactor's readiness tick: the driver setting readiness on a
//! registration while tasks poll, operate, get `WouldBlock`, clear what they saw and
//! register their wakers, through the same loop the I/O types run
//! (`ScheduledIo::poll_op`, `ScheduledIo::try_op`).
//!
//! The socket is an atomic byte count standing in for the kernel (a system call orders
//! what it touches): the peer adds bytes and then the driver delivers the edge, as mio
//! reports it after the data arrived.
//!
//! Checked: no lost edge (an event that arrives between a poll and its `WouldBlock`
//! survives the clear); no lost wake-up (a task left `Pending` while bytes are there
//! was woken); every waiting future is woken by one edge, not only the first; a runtime
//! dropped while a task reads ends the read with an error or wakes it; a future dropped
//! while an edge wakes it leaves no waker behind, and a future waiting beside it is
//! still woken.
//!
//! Run: `RUSTFLAGS="--cfg pride_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test
//! loom_reactor`. The seeded bugs it catches are rows of the mutation table
//! (`loom-tests/README.md`, `loom-tests/mutate.sh`).
#![cfg(pride_loom)]

use std::io;
use std::sync::Arc as StdArc;
use std::task::{Poll, Wake, Waker};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use pride::__loom::net::{READABLE, Registration};

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> (StdArc<Count>, Waker) {
    let count = StdArc::new(Count(AtomicUsize::new(0)));
    (count.clone(), Waker::from(count))
}

fn wakes(count: &Count) -> usize {
    count.0.load(Ordering::SeqCst)
}

/// The kernel's receive buffer of one socket.
#[derive(Clone)]
struct Socket(Arc<AtomicUsize>);

impl Socket {
    fn new() -> Socket {
        Socket(Arc::new(AtomicUsize::new(0)))
    }

    /// The peer sends a byte.
    fn send(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// `read`: takes every byte, or `WouldBlock`.
    fn read(&self) -> io::Result<usize> {
        match self.0.swap(0, Ordering::SeqCst) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    /// `peek`: sees the bytes without taking them, or `WouldBlock`.
    fn peek(&self) -> io::Result<usize> {
        match self.0.load(Ordering::SeqCst) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    fn buffered(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A registration that was readable once and whose bytes were read: the readiness bit
/// is still set (edge-triggered), the next read gets `WouldBlock`.
fn drained_registration() -> (Arc<Registration>, Socket) {
    let io = Arc::new(Registration::new(0));
    let socket = Socket::new();
    socket.send();
    assert!(io.set_readiness(0, READABLE));
    let (_c, w) = counter();
    assert!(matches!(
        io.poll_read(&w, || socket.read()),
        Poll::Ready(Ok(1))
    ));
    (io, socket)
}

/// A byte arrives (with its edge) while a reader polls, reads the last one's leftover
/// readiness into `WouldBlock` and clears it: the new edge must survive the clear, or
/// the reader must see the byte or be woken.
#[test]
fn edge_vs_would_block_and_clear() {
    loom::model(|| {
        let (io, socket) = drained_registration();
        let driver = {
            let (io, socket) = (io.clone(), socket.clone());
            thread::spawn(move || {
                socket.send();
                assert!(io.set_readiness(0, READABLE));
            })
        };
        let (count, waker) = counter();
        let first = io.poll_read(&waker, || socket.read());
        driver.join().unwrap();

        match first {
            Poll::Ready(result) => assert_eq!(result.unwrap(), 1),
            Poll::Pending => {
                assert_eq!(
                    wakes(&count),
                    1,
                    "lost wake-up: a byte is there, never woken"
                );
                // The woken task finds the byte.
                let again = io.poll_read(&waker, || socket.read());
                assert!(matches!(again, Poll::Ready(Ok(1))), "lost edge: {again:?}");
            }
        }
        assert_eq!(socket.buffered(), 0);
    });
}

/// The same race through `try_io` (no waiting) followed by a wait.
#[test]
fn edge_vs_try_read_then_wait() {
    loom::model(|| {
        let (io, socket) = drained_registration();
        let driver = {
            let (io, socket) = (io.clone(), socket.clone());
            thread::spawn(move || {
                socket.send();
                assert!(io.set_readiness(0, READABLE));
            })
        };
        let (count, waker) = counter();
        let tried = io.try_read(|| socket.read());
        let waited = match tried {
            Ok(n) => Poll::Ready(Ok(n)),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                io.poll_read(&waker, || socket.read())
            }
        };
        driver.join().unwrap();

        if waited.is_pending() {
            assert_eq!(
                wakes(&count),
                1,
                "lost wake-up: a byte is there, never woken"
            );
            let again = io.poll_read(&waker, || socket.read());
            assert!(matches!(again, Poll::Ready(Ok(1))), "lost edge: {again:?}");
        }
        assert_eq!(socket.buffered(), 0);
    });
}

/// Two futures wait on the same direction (a shared socket), registering while an edge
/// arrives: the edge wakes both, or each sees it.
#[test]
fn one_edge_reaches_two_waiters() {
    loom::model(|| {
        let (io, socket) = drained_registration();
        let driver = {
            let (io, socket) = (io.clone(), socket.clone());
            thread::spawn(move || {
                socket.send();
                assert!(io.set_readiness(0, READABLE));
            })
        };
        let (first_count, first_waker) = counter();
        let (second_count, second_waker) = counter();
        let mut first = io.wait_read();
        let mut second = io.wait_read();
        let first_ready = first.poll(&first_waker, || socket.peek()).is_ready();
        let second_ready = second.poll(&second_waker, || socket.peek()).is_ready();
        driver.join().unwrap();

        assert!(
            first_ready || wakes(&first_count) == 1,
            "the first waiter was never woken"
        );
        assert!(
            second_ready || wakes(&second_count) == 1,
            "the second waiter was never woken"
        );
    });
}

/// The runtime is dropped (its reactor shuts the registration down) while a reader
/// polls, gets `WouldBlock` on the leftover readiness and registers: the read fails,
/// or it was woken and fails when polled again.
#[test]
fn shut_down_vs_a_waiting_read() {
    loom::model(|| {
        let (io, socket) = drained_registration();
        let dropper = {
            let io = io.clone();
            thread::spawn(move || io.shut_down())
        };
        let (count, waker) = counter();
        let first = io.poll_read(&waker, || socket.read());
        dropper.join().unwrap();

        let result = match first {
            Poll::Ready(result) => result,
            Poll::Pending => {
                assert_eq!(wakes(&count), 1, "lost wake-up: the runtime is gone");
                match io.poll_read(&waker, || socket.read()) {
                    Poll::Ready(result) => result,
                    Poll::Pending => panic!("woken, yet still waiting"),
                }
            }
        };
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::Other);
    });
}

/// A waiting future is dropped (its task cancelled) while an edge wakes it, and
/// another future waits beside it: the other is woken (or saw the edge), and once both
/// are gone no waker is left behind, whichever of the drop and the wake came first.
#[test]
fn drop_vs_wake() {
    loom::model(|| {
        let (io, socket) = drained_registration();
        let (dropped_count, dropped_waker) = counter();
        let cancelled = {
            let (io, socket) = (io.clone(), socket.clone());
            thread::spawn(move || {
                let mut wait = io.wait_read();
                let polled = wait.poll(&dropped_waker, || socket.peek());
                drop(wait);
                polled.is_ready()
            })
        };
        let driver = {
            let (io, socket) = (io.clone(), socket.clone());
            thread::spawn(move || {
                socket.send();
                assert!(io.set_readiness(0, READABLE));
            })
        };
        let (count, waker) = counter();
        let mut wait = io.wait_read();
        let mine = wait.poll(&waker, || socket.peek()).is_ready();
        driver.join().unwrap();
        cancelled.join().unwrap();

        assert!(
            mine || wakes(&count) == 1,
            "the waiting future was never woken"
        );
        assert!(wakes(&dropped_count) <= 1);
        drop(wait);
        assert_eq!(
            io.owned_waits(),
            0,
            "a dropped future's waker stayed behind"
        );
    });
}
