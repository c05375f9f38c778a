//! Which input offsets may be committed: a message is *out* once everything derived from it has
//! been written and acknowledged. For a counted event that is the first publication at or after
//! its slot; for a rejected or late one, the publication that carried it to the rejects topic.
//! A partition's commit position is its first message not yet out, so a crash re-reads exactly
//! what might not have made it (at-least-once; outputs carry stable keys for deduplication).

use std::collections::{BTreeMap, VecDeque};

use meritflow_pipelines::time::Millis;

use super::watermark::PartitionId;

/// A message needs no later results than these to be out: rejects and late events.
pub const OUT_WITH_NEXT_PUBLICATION: Millis = 0;

#[derive(Debug, Default)]
struct Pending {
    /// (offset, slot whose publication makes it out), in offset order.
    waiting: VecDeque<(i64, Millis)>,
    /// One past the newest offset recorded.
    next: i64,
    committed: Option<i64>,
}

#[derive(Debug, Default)]
pub struct CommitTracker {
    partitions: BTreeMap<PartitionId, Pending>,
}

impl CommitTracker {
    /// Records a consumed message; messages of a partition must be recorded in offset order.
    pub fn record(&mut self, id: PartitionId, offset: i64, needs: Millis) {
        let p = self.partitions.entry(id).or_default();
        debug_assert!(offset >= p.next, "offsets recorded in order");
        p.waiting.push_back((offset, needs));
        p.next = offset + 1;
    }

    /// Everything through `published` has been written out: returns the partitions whose
    /// commit position moved, with that position (the next offset to read).
    pub fn release(&mut self, published: Option<Millis>) -> Vec<(PartitionId, i64)> {
        let mut moved = Vec::new();
        for (id, p) in &mut self.partitions {
            while let Some(&(_, needs)) = p.waiting.front() {
                let out =
                    needs == OUT_WITH_NEXT_PUBLICATION || published.is_some_and(|t| needs <= t);
                if !out {
                    break;
                }
                p.waiting.pop_front();
            }
            let position = p.waiting.front().map_or(p.next, |&(offset, _)| offset);
            if p.committed != Some(position) {
                moved.push((*id, position));
            }
        }
        moved
    }

    /// The broker has the commit: it is not sent again.
    pub fn committed(&mut self, id: PartitionId, position: i64) {
        if let Some(p) = self.partitions.get_mut(&id) {
            p.committed = Some(position);
        }
    }

    /// Offsets of `id` through `last` whose results are due after moment `at`: at a
    /// checkpoint's cut at `at`, the counted events that are not in it.
    pub fn after(&self, id: PartitionId, at: Millis, last: i64) -> Vec<i64> {
        self.partitions.get(&id).map_or_else(Vec::new, |p| {
            p.waiting
                .iter()
                .filter(|&&(offset, needs)| {
                    offset <= last && needs != OUT_WITH_NEXT_PUBLICATION && needs > at
                })
                .map(|&(offset, _)| offset)
                .collect()
        })
    }

    /// Messages consumed but not yet out.
    pub fn in_flight(&self) -> usize {
        self.partitions.values().map(|p| p.waiting.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: PartitionId = PartitionId {
        topic: 0,
        partition: 0,
    };

    #[test]
    fn the_position_stops_at_the_first_message_not_out() {
        let mut t = CommitTracker::default();
        t.record(P, 10, 120);
        t.record(P, 11, OUT_WITH_NEXT_PUBLICATION);
        t.record(P, 12, 60);
        t.record(P, 13, 180);
        assert_eq!(
            t.release(Some(60)),
            vec![(P, 10)],
            "offset 10 waits for slot 120"
        );
        t.committed(P, 10);
        assert_eq!(
            t.release(Some(60)),
            vec![],
            "nothing moved, nothing sent again"
        );
        assert_eq!(t.release(Some(120)), vec![(P, 13)]);
        t.committed(P, 13);
        assert_eq!(t.release(Some(180)), vec![(P, 14)]);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn a_cut_leaves_out_only_the_counted_events_after_it() {
        let mut t = CommitTracker::default();
        t.record(P, 10, 120);
        t.record(P, 11, OUT_WITH_NEXT_PUBLICATION);
        t.record(P, 12, 180);
        t.record(P, 13, 60);
        t.record(P, 14, 240);
        assert_eq!(
            t.after(P, 120, 13),
            vec![12],
            "through offset 13, after moment 120"
        );
        assert_eq!(t.after(P, 120, 14), vec![12, 14]);
        assert_eq!(t.after(P, 240, 14), Vec::<i64>::new());
    }

    proptest! {
        /// Against the definition: the position is the smallest offset whose slot is not yet
        /// published, or one past the last.
        #[test]
        fn position_is_the_first_offset_not_out(
            needs in proptest::collection::vec(0u64..10, 1..50),
            publishes in proptest::collection::vec(0u64..12, 1..6),
        ) {
            let mut t = CommitTracker::default();
            for (i, n) in needs.iter().enumerate() {
                t.record(P, i as i64, *n);
            }
            let mut published = 0;
            for p in publishes {
                published = published.max(p);
                let expected = needs
                    .iter()
                    .position(|&n| n != OUT_WITH_NEXT_PUBLICATION && n > published)
                    .unwrap_or(needs.len()) as i64;
                let moved = t.release(Some(published));
                let position = moved.first().map(|m| m.1);
                if let Some(position) = position {
                    prop_assert_eq!(position, expected);
                    t.committed(P, position);
                }
                prop_assert!(moved.len() <= 1);
            }
        }
    }
}
