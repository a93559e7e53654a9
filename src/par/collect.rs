//! Results written straight into the output vector: each piece of a `map` fills its own
//! part of the vector's spare capacity, and the vector takes the values only once every
//! part is full. No per-piece vector, no copy at the end.
//!
//! Rules (the SAFETY comments below cite them):
//! 1. **A part owns what it wrote.** A [`Written`] holds the values in the first
//!    `init` slots of its part: it wrote them there itself, in order, and drops them
//!    when dropped (a piece that stopped early, panicked, or belongs to a call that
//!    failed).
//! 2. **The parts tile the output.** The parts of one call are the pieces `bridge`
//!    cut the first `len` spare slots into, along with the input, so they cover those
//!    slots exactly once. A piece that shares its items left ends its part at what it
//!    wrote ([`Written::unwritten`]) and hands the slots after it on with those items,
//!    so the parts still cover every slot once. When their `init` counts add up to `len`, every slot holds a
//!    value owned by exactly one part, and the parts can hand them to the vector.

use std::mem::MaybeUninit;

use super::slice::Pieces;

/// The values one piece wrote at the start of its part of the output.
pub(crate) struct Written<'a, U> {
    slots: &'a mut [MaybeUninit<U>],
    init: usize,
}

impl<'a, U> Written<'a, U> {
    /// An empty part over `slots`.
    pub(crate) fn new(slots: &'a mut [MaybeUninit<U>]) -> Written<'a, U> {
        Written { slots, init: 0 }
    }

    /// Writes the next value. Panics if the part is full (the piece had more items
    /// than slots, which `bridge` rules out).
    #[inline]
    pub(crate) fn push(&mut self, value: U) {
        self.slots[self.init].write(value);
        self.init += 1;
    }
}

impl<'a, U> Written<'a, U> {
    /// Ends the part at what it wrote, and returns the slots after that (for another
    /// part to fill).
    pub(crate) fn unwritten(&mut self) -> &'a mut [MaybeUninit<U>] {
        let (written, unwritten) = std::mem::take(&mut self.slots).split_at_mut(self.init);
        self.slots = written;
        unwritten
    }
}

impl<U> Drop for Written<'_, U> {
    fn drop(&mut self) {
        for slot in &mut self.slots[..self.init] {
            // SAFETY: rule 1: this part wrote the first `init` slots and still owns
            // their values.
            unsafe { slot.assume_init_drop() };
        }
    }
}

/// A vector of `len` values filled in place by `fill`, which writes them through the
/// parts it returns (rule 2: the parts must tile the `len` slots it gets). `None` if a
/// part is not full: then the values written are dropped.
pub(crate) fn filled<U>(
    len: usize,
    fill: impl for<'a> FnOnce(&'a mut [MaybeUninit<U>]) -> Pieces<Written<'a, U>>,
) -> Option<Vec<U>> {
    let mut out = Vec::with_capacity(len);
    let parts = fill(&mut out.spare_capacity_mut()[..len]).into_vec();
    if parts.iter().map(|part| part.init).sum::<usize>() != len {
        return None;
    }
    for part in parts {
        // The vector takes the values over.
        std::mem::forget(part);
    }
    // SAFETY: rule 2: the parts tile the first `len` slots and their counts add up to
    // `len`, so every slot was written; the parts were forgotten, so the values are
    // owned by the vector alone.
    unsafe { out.set_len(len) };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn two_parts<U>(
        slots: &mut [MaybeUninit<U>],
        left: impl FnOnce(&mut Written<'_, U>),
        right: impl FnOnce(&mut Written<'_, U>),
    ) -> Pieces<Written<'_, U>> {
        let mid = slots.len() / 2;
        let (l, r) = slots.split_at_mut(mid);
        let (mut l, mut r) = (Written::new(l), Written::new(r));
        left(&mut l);
        right(&mut r);
        Pieces::one(l).append(Pieces::one(r))
    }

    #[test]
    fn full_parts_become_the_vector_in_order() {
        let out = filled(4, |slots| {
            two_parts(
                slots,
                |w| (0..2).for_each(|i| w.push(i.to_string())),
                |w| (2..4).for_each(|i| w.push(i.to_string())),
            )
        });
        assert_eq!(out.unwrap(), ["0", "1", "2", "3"]);
    }

    #[test]
    fn a_part_that_hands_on_its_unwritten_slots_still_tiles() {
        let out = filled(5, |slots| {
            let mut first = Written::new(slots);
            first.push("a".to_string());
            let rest = first.unwritten();
            let (l, r) = rest.split_at_mut(2);
            let (mut second, mut third) = (Written::new(l), Written::new(r));
            second.push("b".to_string());
            second.push("c".to_string());
            third.push("d".to_string());
            third.push("e".to_string());
            Pieces::one(first)
                .append(Pieces::one(second))
                .append(Pieces::one(third))
        });
        assert_eq!(out.unwrap(), ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn a_part_not_full_drops_every_value_written() {
        let value = Arc::new(());
        let out = filled(4, |slots| {
            two_parts(
                slots,
                |w| (0..2).for_each(|_| w.push(value.clone())),
                |w| w.push(value.clone()),
            )
        });
        assert!(out.is_none());
        assert_eq!(
            Arc::strong_count(&value),
            1,
            "the three clones were dropped"
        );
    }

    #[test]
    fn a_panicking_fill_drops_what_was_written() {
        let value = Arc::new(());
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            filled(4, |slots| {
                two_parts(
                    slots,
                    |w| w.push(value.clone()),
                    |_| panic!("a piece panicked"),
                )
            })
        }));
        assert!(caught.is_err());
        assert_eq!(Arc::strong_count(&value), 1);
    }
}
