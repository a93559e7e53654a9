//! Parallel slices and ranges: split in halves while idle workers steal, run the
//! rest sequentially.
//!
//! Adaptive splitting: a call starts with a budget of splits about four times the
//! number of workers; each split halves it, and a half that another worker stole gets
//! its budget back. So a call on busy workers runs in a few big pieces, and pieces are
//! split finer exactly where idle workers come to take them.

use std::ops::Range;

use super::join::{Offer, join_context};
use super::registry::Here;

/// Something that can be cut in two at an index.
pub(crate) trait Producer: Send + Sized {
    fn len(&self) -> usize;
    fn split_at(self, mid: usize) -> (Self, Self);
}

impl<T: Sync> Producer for &[T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        <[T]>::split_at(self, mid)
    }
}

impl<T: Send> Producer for &mut [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        <[T]>::split_at_mut(self, mid)
    }
}

impl Producer for Range<usize> {
    fn len(&self) -> usize {
        ExactSizeIterator::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let mid = self.start + mid;
        (self.start..mid, mid..self.end)
    }
}

/// How many more times a piece may split.
#[derive(Clone, Copy)]
struct Splitter {
    splits: usize,
    workers: usize,
}

impl Splitter {
    fn try_split(&mut self, len: usize, stolen: bool) -> bool {
        if len < 2 {
            return false;
        }
        if stolen {
            self.splits = (self.splits / 2).max(self.workers);
            true
        } else if self.splits > 0 {
            self.splits /= 2;
            true
        } else {
            false
        }
    }
}

/// Runs `leaf` on pieces of `producer` (each piece on some worker) and folds the
/// pieces' outputs with `combine`, left before right.
pub(crate) fn bridge<P, O, L, C>(here: &Here<'_>, producer: P, leaf: &L, combine: &C) -> O
where
    P: Producer,
    O: Send,
    L: Fn(&Here<'_>, P) -> O + Sync,
    C: Fn(O, O) -> O + Sync,
{
    let workers = here.workers();
    let splitter = Splitter {
        splits: workers * 4,
        workers,
    };
    split(here, producer, splitter, false, leaf, combine)
}

fn split<P, O, L, C>(
    here: &Here<'_>,
    producer: P,
    mut splitter: Splitter,
    stolen: bool,
    leaf: &L,
    combine: &C,
) -> O
where
    P: Producer,
    O: Send,
    L: Fn(&Here<'_>, P) -> O + Sync,
    C: Fn(O, O) -> O + Sync,
{
    let len = producer.len();
    if !splitter.try_split(len, stolen) {
        return leaf(here, producer);
    }
    let (left, right) = producer.split_at(len / 2);
    let (left, right) = join_context(
        here,
        Offer::Now,
        |here, stolen| split(here, left, splitter, stolen, leaf, combine),
        |here, stolen| split(here, right, splitter, stolen, leaf, combine),
    );
    combine(left, right)
}

/// The outputs of pieces, in order.
pub(crate) struct Pieces<T>(Vec<T>);

impl<T> Pieces<T> {
    pub(crate) fn one(piece: T) -> Pieces<T> {
        Pieces(vec![piece])
    }

    pub(crate) fn append(mut self, mut right: Pieces<T>) -> Pieces<T> {
        self.0.append(&mut right.0);
        self
    }

    pub(crate) fn into_vec(self) -> Vec<T> {
        self.0
    }
}

/// Two producers of the same length, split together (the input and the output
/// slots of a `map`).
pub(crate) struct Zip<A, B>(pub(crate) A, pub(crate) B);

impl<A: Producer, B: Producer> Producer for Zip<A, B> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (a0, a1) = self.0.split_at(mid);
        let (b0, b1) = self.1.split_at(mid);
        (Zip(a0, b0), Zip(a1, b1))
    }
}
