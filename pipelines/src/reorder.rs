//! Putting a file's events in time order without holding the file: replay feeds events in order
//! of (slot, input sequence number), and a file is nearly always close to that order already.
//! [`Reorder`] holds at most `capacity` events and releases the earliest whenever it holds more,
//! so an event up to `capacity` events out of place is put back where it belongs and replay's
//! output is what sorting the whole input gives. An event further out of place would have to go
//! before what was already released: it is refused, and the caller decides (replay starts
//! again holding the whole input).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::time::Millis;

/// The order replay feeds in: the slot an event counts at, then its input sequence number.
pub type FeedKey = (Millis, u64);

/// Held items, the earliest first out.
pub struct Reorder<T> {
    held: BinaryHeap<Reverse<Keyed<T>>>,
    capacity: usize,
    /// The slot of the last item released: nothing earlier may come after it.
    released: Option<Millis>,
}

/// An item refused because an item of a later slot has already been released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Late {
    /// The slot of the last item released.
    pub released: Millis,
}

impl<T> Reorder<T> {
    /// Holds up to `capacity` items (at least one).
    pub fn new(capacity: usize) -> Reorder<T> {
        Reorder {
            held: BinaryHeap::new(),
            capacity: capacity.max(1),
            released: None,
        }
    }

    /// Takes `item` at `key` (sequence numbers must grow from one call to the next), handing
    /// `out` the earliest items while more than the capacity is held. An item whose slot is
    /// before the last one released is refused.
    pub fn push(
        &mut self,
        key: FeedKey,
        item: T,
        mut out: impl FnMut(FeedKey, T),
    ) -> Result<(), Late> {
        if let Some(released) = self.released.filter(|&r| key.0 < r) {
            return Err(Late { released });
        }
        if self.held.len() == self.held.capacity() {
            // Grow by doubling, but never past what the capacity needs.
            let room = self.capacity.saturating_add(1) - self.held.len();
            self.held.reserve_exact(self.held.len().max(16).min(room));
        }
        self.held.push(Reverse(Keyed { key, item }));
        while self.held.len() > self.capacity {
            self.release_one(&mut out);
        }
        Ok(())
    }

    /// Hands `out` everything held, in order: the input has ended.
    pub fn finish(&mut self, mut out: impl FnMut(FeedKey, T)) {
        while !self.held.is_empty() {
            self.release_one(&mut out);
        }
    }

    fn release_one(&mut self, out: &mut impl FnMut(FeedKey, T)) {
        if let Some(Reverse(Keyed { key, item })) = self.held.pop() {
            self.released = Some(key.0);
            out(key, item);
        }
    }
}

struct Keyed<T> {
    key: FeedKey,
    item: T,
}

impl<T> PartialEq for Keyed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<T> Eq for Keyed<T> {}

impl<T> PartialOrd for Keyed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Keyed<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Slots in input order through a reorder of `capacity`: (released keys, refused keys).
    fn through(slots: &[Millis], capacity: usize) -> (Vec<FeedKey>, Vec<FeedKey>) {
        let mut reorder = Reorder::new(capacity);
        let (mut released, mut late) = (Vec::new(), Vec::new());
        for (seq, &slot) in slots.iter().enumerate() {
            let key = (slot, seq as u64);
            if reorder.push(key, (), |k, ()| released.push(k)).is_err() {
                late.push(key);
            }
        }
        reorder.finish(|k, ()| released.push(k));
        (released, late)
    }

    proptest! {
        /// What is released is in feed order, nothing is lost or duplicated, and an input no
        /// more out of place than the capacity comes out exactly as a full sort.
        #[test]
        fn released_in_order_and_late_only_when_out_of_reach(
            slots in proptest::collection::vec(0u64..40, 0..300),
            capacity in 1usize..64,
        ) {
            let (released, late) = through(&slots, capacity);
            prop_assert!(released.windows(2).all(|w| w[0] < w[1]), "released in order");
            let mut all: Vec<FeedKey> = released.iter().chain(&late).copied().collect();
            all.sort();
            let mut expected: Vec<FeedKey> =
                slots.iter().enumerate().map(|(s, &t)| (t, s as u64)).collect();
            expected.sort();
            prop_assert_eq!(&all, &expected);
            // Each late item came after an item of a later slot had been released; one that
            // is refused could not have been placed by any capacity this small.
            for &(slot, seq) in &late {
                let ahead = slots[..seq as usize].iter().filter(|&&s| s > slot).count();
                prop_assert!(ahead > capacity, "refused although at most {} ahead of it", ahead);
            }
            if capacity >= slots.len() {
                prop_assert!(late.is_empty());
                prop_assert_eq!(released, expected);
            }
        }
    }
}
