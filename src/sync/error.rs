//! The errors of this room.

use std::error::Error;
use std::fmt;

/// A non-blocking queue or channel operation could not happen now.
///
/// `put_nowait`/`try_send` return `WouldBlock<T>` and hand the value back;
/// `get_nowait`/`try_recv` return `WouldBlock` (that is, `WouldBlock<()>`).
///
/// # Example
///
/// ```
/// use pride::sync::{Queue, WouldBlock};
///
/// let q = Queue::with_maxsize(1);
/// q.put_nowait(1).unwrap();
/// assert_eq!(q.put_nowait(2), Err(WouldBlock::Full(2)));
/// assert_eq!(q.get_nowait(), Ok(1));
/// assert_eq!(q.get_nowait(), Err(WouldBlock::Empty));
/// q.close();
/// assert_eq!(q.put_nowait(3), Err(WouldBlock::Closed(3)));
/// assert_eq!(q.get_nowait(), Err(WouldBlock::Closed(())));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum WouldBlock<T = ()> {
    /// A put found the queue full (or others already waiting to put); here is the value.
    Full(T),
    /// A get found the queue empty.
    Empty,
    /// The queue is closed: a put hands its value back; a get found it closed and
    /// drained.
    Closed(T),
}

impl<T> WouldBlock<T> {
    /// Whether this failure is final (the queue is closed) rather than "not now".
    pub fn is_closed(&self) -> bool {
        matches!(self, WouldBlock::Closed(_))
    }

    /// The value a failed put hands back.
    pub fn into_inner(self) -> Option<T> {
        match self {
            WouldBlock::Full(v) | WouldBlock::Closed(v) => Some(v),
            WouldBlock::Empty => None,
        }
    }
}

impl<T> fmt::Debug for WouldBlock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WouldBlock::Full(_) => "Full(..)",
            WouldBlock::Empty => "Empty",
            WouldBlock::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for WouldBlock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WouldBlock::Full(_) => "the queue or channel is full",
            WouldBlock::Empty => "the queue or channel is empty",
            WouldBlock::Closed(_) => "the queue or channel is closed",
        })
    }
}

impl<T> Error for WouldBlock<T> {}

/// The queue or channel is closed.
///
/// A get returns `Closed` (that is, `Closed<()>`) once the queue is closed *and*
/// drained; a put or send to a closed queue returns `Closed(value)`, handing the value
/// back.
///
/// # Example
///
/// ```
/// use pride::sync::{Closed, Queue};
///
/// futures_lite::future::block_on(async {
///     let q = Queue::unbounded();
///     q.put(1).await.unwrap();
///     q.close();
///     assert_eq!(q.put(2).await, Err(Closed(2)));
///     assert_eq!(q.get().await, Ok(1));
///     assert_eq!(q.get().await, Err(Closed(())));
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Closed<T = ()>(pub T);

impl<T> Closed<T> {
    /// The value a failed put hands back.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed(..)")
    }
}

impl<T> fmt::Display for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue or channel is closed")
    }
}

impl<T> Error for Closed<T> {}

/// Misuse of a [`CapacityLimiter`](super::CapacityLimiter)'s borrower bookkeeping, or
/// no token free right now.
///
/// ```
/// use pride::sync::{BorrowError, Borrower, CapacityLimiter};
///
/// let limiter = CapacityLimiter::new(1);
/// let worker = Borrower::new(7);
/// limiter.try_acquire_on_behalf_of(worker).unwrap();
/// assert_eq!(
///     limiter.try_acquire_on_behalf_of(worker),
///     Err(BorrowError::AlreadyBorrowing(worker))
/// );
/// assert_eq!(
///     limiter.try_acquire_on_behalf_of(Borrower::new(8)),
///     Err(BorrowError::WouldBlock)
/// );
/// limiter.release_on_behalf_of(worker).unwrap();
/// assert_eq!(
///     limiter.release_on_behalf_of(worker),
///     Err(BorrowError::NotBorrowing(worker))
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BorrowError {
    /// This borrower already holds (or is already waiting for) a token.
    AlreadyBorrowing(super::Borrower),
    /// This borrower holds no token to release.
    NotBorrowing(super::Borrower),
    /// No token is free now (only from the `try_*` methods).
    WouldBlock,
}

impl fmt::Display for BorrowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BorrowError::AlreadyBorrowing(b) => {
                write!(
                    f,
                    "{b:?} already holds or is waiting for a token of this capacity limiter"
                )
            }
            BorrowError::NotBorrowing(b) => {
                write!(f, "{b:?} holds no token of this capacity limiter")
            }
            BorrowError::WouldBlock => f.write_str("no capacity limiter token is free"),
        }
    }
}

impl Error for BorrowError {}
