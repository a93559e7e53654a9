//! Parallel slices and ranges: split in halves while idle workers steal, run the
//! rest sequentially, and share the rest of a running piece when this worker has
//! nothing left to offer.
//!
//! Adaptive splitting: a call starts with a budget of splits about four times the
//! number of workers; each split halves it, and a half that another worker stole gets
//! its budget back. So a call on busy workers runs in a few big pieces, and pieces are
//! split finer exactly where idle workers come to take them. A piece running its
//! items looks, at each of its worker's looks (see `registry.rs`), whether that
//! worker's deque is empty (nothing offered, or a thief took it all); if so, it offers
//! the second half of the items it has left, so that the end of a call, when the last
//! pieces run, does not leave workers idle.

use std::ops::Range;

use super::call::Call;
use super::join::{Offer, join_context};
use super::registry::Here;

/// Something that can be cut in two at an index.
pub(crate) trait Producer: Send + Sized {
    fn len(&self) -> usize;
    fn split_at(self, mid: usize) -> (Self, Self);
}

/// A producer whose items a piece runs one by one, and which can be made again from
/// the items its iterator has left.
pub(crate) trait Iterated: Producer + IntoIterator<IntoIter: ExactSizeIterator> {
    fn from_rest(rest: Self::IntoIter) -> Self;
}

impl<T: Sync> Producer for &[T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        <[T]>::split_at(self, mid)
    }
}

impl<'a, T: Sync> Iterated for &'a [T] {
    fn from_rest(rest: std::slice::Iter<'a, T>) -> Self {
        rest.as_slice()
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

impl<'a, T: Send> Iterated for &'a mut [T] {
    fn from_rest(rest: std::slice::IterMut<'a, T>) -> Self {
        rest.into_slice()
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

impl Iterated for Range<usize> {
    fn from_rest(rest: Range<usize>) -> Self {
        rest
    }
}

/// The items of a piece, in order. It ends early when the call has stopped (noting
/// that items were skipped), or to share the rest: then [`rest`](Self::rest) gives
/// the items left, for `bridge` to split.
///
/// Whether the call has stopped is read when the piece starts and at each look
/// (about every 100 µs, or 1,024 items at most), not before every item: that load
/// and branch cost about 2% of a 30 ns item.
pub(crate) struct Items<'h, 'w, P: Iterated> {
    here: &'h Here<'w>,
    call: &'h Call,
    iter: P::IntoIter,
    share: bool,
}

impl<'h, 'w, P: Iterated> Items<'h, 'w, P> {
    /// The items of `piece`, or none if the call has stopped.
    pub(crate) fn new(here: &'h Here<'w>, piece: P) -> Self {
        let call = here.call();
        let piece = if call.stopped() {
            if piece.len() > 0 {
                call.skip();
            }
            piece.split_at(0).0
        } else {
            piece
        };
        Items {
            here,
            call,
            iter: piece.into_iter(),
            share: false,
        }
    }

    /// The items left, if the piece stopped to share them.
    pub(crate) fn rest(self) -> Option<P> {
        self.share.then(|| P::from_rest(self.iter))
    }
}

impl<P: Iterated> Iterator for Items<'_, '_, P> {
    type Item = P::Item;

    #[inline]
    fn next(&mut self) -> Option<P::Item> {
        if self.here.tick() {
            if self.call.stopped() {
                if self.iter.len() > 0 {
                    self.call.skip();
                }
                return None;
            }
            if self.iter.len() >= 2 && self.here.should_share() {
                self.share = true;
                return None;
            }
        }
        self.iter.next()
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
/// pieces' outputs with `combine`, left before right. A leaf that stopped early to
/// share its items returns the items left, which are split again.
pub(crate) fn bridge<P, O, L, C>(here: &Here<'_>, producer: P, leaf: &L, combine: &C) -> O
where
    P: Producer,
    O: Send,
    L: Fn(&Here<'_>, P) -> (O, Option<P>) + Sync,
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
    L: Fn(&Here<'_>, P) -> (O, Option<P>) + Sync,
    C: Fn(O, O) -> O + Sync,
{
    let len = producer.len();
    if !splitter.try_split(len, stolen) {
        let (done, rest) = leaf(here, producer);
        return match rest {
            None => done,
            // This worker had nothing offered: offer half of the rest, keep the other.
            Some(rest) => {
                let splitter = Splitter {
                    splits: 1,
                    ..splitter
                };
                combine(done, split(here, rest, splitter, false, leaf, combine))
            }
        };
    }
    let (left, right) = producer.split_at(len / 2);
    let (left, right) = join_context(
        here,
        Offer::Now,
        true,
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
