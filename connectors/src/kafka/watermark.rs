//! Event time over Kafka partitions. Each partition's watermark is its newest `ts` minus the
//! allowed lateness; event time is complete up to the minimum over the partitions that are not
//! idle. A partition silent for the idle timeout stops holding time back. When every partition
//! is silent *and* the broker confirms there is nothing left to read, all that was received
//! counts as complete, so the last results of a quiet stream are published instead of waiting
//! for events that may never come. A broker that is away cannot confirm, so an outage never
//! passes for the end of the stream (which would make the events after it late).

use std::collections::BTreeMap;

use meritflow_pipelines::time::{slot, Millis};

/// An input partition: the topic's index among the input topics, and the partition number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionId {
    pub topic: u16,
    pub partition: i32,
}

impl PartitionId {
    /// A sequence number that orders events of one partition as they were written, used where
    /// replay uses the line number (ties of equal `ts`).
    pub fn seq(self, offset: i64) -> u64 {
        ((self.topic as u64) << 56)
            | ((self.partition as u64 & 0xFFFF) << 40)
            | (offset as u64 & ((1 << 40) - 1))
    }

    /// The partition and offset a sequence number was made of ([`PartitionId::seq`]).
    pub fn of_seq(seq: u64) -> (PartitionId, i64) {
        let id = PartitionId {
            topic: (seq >> 56) as u16,
            partition: ((seq >> 40) & 0xFFFF) as i32,
        };
        (id, (seq & ((1 << 40) - 1)) as i64)
    }
}

/// What became of one consumed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A valid event, counted at its `ts`.
    Counted(Millis),
    /// A valid event older than the completed time: kept, not counted.
    Late(Millis),
    Rejected,
    /// Already in the checkpoint the run was restored from: not fed or counted again; its ts
    /// (when it decodes) still moves the partition's watermark.
    Skipped(Option<Millis>),
}

/// Counters of one partition, as the `ingest` table shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionStats {
    pub last_offset: Option<i64>,
    pub committed: Option<i64>,
    pub events: u64,
    pub rejected: u64,
    pub late: u64,
}

#[derive(Clone, Debug)]
struct Partition {
    newest_ts: Option<Millis>,
    /// Messages handed on for decoding but not yet observed: a partition with some is not idle,
    /// whatever the clock says, or a slow worker would see its own backlog turn late.
    undecoded: u64,
    /// The broker confirmed, since the last message, that the partition has been read to its
    /// end. Only then may silence excuse it: a partition can be silent because the consumer is
    /// busy with another one's backlog, and its events must not turn late for that.
    confirmed_drained: bool,
    /// Wall-clock milliseconds (any monotonic origin) of the last message or assignment.
    last_seen: u64,
    /// Restored from a checkpoint whose `newest_ts` already covers messages through this
    /// offset that are not in its states (the events after its cut): until they have been read
    /// again, time may not move past the cut, or they would turn late on their way back in.
    replaying_through: Option<i64>,
    stats: PartitionStats,
}

#[derive(Clone, Debug)]
pub struct Watermarks {
    lateness: Millis,
    idle_after: u64,
    slide: Millis,
    partitions: BTreeMap<PartitionId, Partition>,
    /// Never moves backwards.
    complete: Option<Millis>,
}

impl Watermarks {
    pub fn new(lateness: Millis, idle_after_ms: u64, slide: Millis) -> Watermarks {
        Watermarks {
            lateness,
            idle_after: idle_after_ms,
            slide: slide.max(1),
            partitions: BTreeMap::new(),
            complete: None,
        }
    }

    fn partition(&mut self, id: PartitionId, now: u64) -> &mut Partition {
        self.partitions.entry(id).or_insert(Partition {
            newest_ts: None,
            undecoded: 0,
            confirmed_drained: false,
            last_seen: now,
            replaying_through: None,
            stats: PartitionStats::default(),
        })
    }

    /// A partition was assigned to us: until it delivers or goes idle, it holds time back,
    /// so a backlog read from another partition cannot make its events late.
    pub fn assigned(&mut self, id: PartitionId, now: u64) {
        self.partition(id, now).last_seen = now;
    }

    /// Traffic is back after every partition was quiet (an outage, or a pause of the
    /// producers): each partition gets a full idle timeout to speak again before it is excused,
    /// or the first to deliver its backlog would make the others' backlogs late.
    pub fn wake_all(&mut self, now: u64) {
        for p in self.partitions.values_mut() {
            p.last_seen = now;
        }
    }

    /// Partitions no longer ours stop counting.
    pub fn revoked(&mut self, id: PartitionId) {
        self.partitions.remove(&id);
    }

    /// `count` messages of the partition were read and handed on for decoding.
    pub fn handed_on(&mut self, id: PartitionId, count: u64, now: u64) {
        let p = self.partition(id, now);
        p.last_seen = now;
        p.undecoded += count;
        p.confirmed_drained = false;
    }

    /// A message handed on was decoded with this outcome.
    pub fn observe(&mut self, id: PartitionId, offset: i64, outcome: Outcome, now: u64) {
        let p = self.partition(id, now);
        p.last_seen = now;
        p.undecoded = p.undecoded.saturating_sub(1);
        p.stats.last_offset = Some(p.stats.last_offset.map_or(offset, |o| o.max(offset)));
        if p.replaying_through.is_some_and(|through| offset >= through) {
            p.replaying_through = None;
        }
        match outcome {
            Outcome::Counted(ts) => {
                p.stats.events += 1;
                p.newest_ts = Some(p.newest_ts.map_or(ts, |n| n.max(ts)));
            }
            Outcome::Late(_) => p.stats.late += 1,
            Outcome::Rejected => p.stats.rejected += 1,
            Outcome::Skipped(ts) => {
                if let Some(ts) = ts {
                    p.newest_ts = Some(p.newest_ts.map_or(ts, |n| n.max(ts)));
                }
            }
        }
    }

    /// A partition as a checkpoint left it: its counters and newest ts, which cover the
    /// messages through `stats.last_offset`. Time stays where the checkpoint was cut until
    /// they have been read again (see [`Watermarks::is_replaying`]).
    pub fn restore(
        &mut self,
        id: PartitionId,
        stats: PartitionStats,
        newest_ts: Option<Millis>,
        now: u64,
    ) {
        let p = self.partition(id, now);
        p.replaying_through = stats.last_offset;
        p.stats = stats;
        p.newest_ts = newest_ts;
    }

    /// Some restored partition has not been read again up to where its checkpoint had read
    /// (a broker that no longer has those messages, and says so by being drained, ends it).
    fn is_replaying(&self) -> bool {
        self.partitions
            .values()
            .any(|p| p.replaying_through.is_some() && !p.confirmed_drained)
    }

    /// A partition's counters and newest ts, as a checkpoint keeps them.
    pub fn saved(&self, id: PartitionId) -> Option<(PartitionStats, Option<Millis>)> {
        self.partitions
            .get(&id)
            .map(|p| (p.stats.clone(), p.newest_ts))
    }

    /// Every partition known.
    pub fn ids(&self) -> Vec<PartitionId> {
        self.partitions.keys().copied().collect()
    }

    pub fn committed(&mut self, id: PartitionId, offset: i64) {
        if let Some(p) = self.partitions.get_mut(&id) {
            p.stats.committed = Some(offset);
        }
    }

    fn is_quiet(&self, p: &Partition, now: u64) -> bool {
        p.undecoded == 0 && now.saturating_sub(p.last_seen) >= self.idle_after
    }

    fn is_idle(&self, p: &Partition, now: u64) -> bool {
        self.is_quiet(p, now) && p.confirmed_drained
    }

    /// Partitions silent for the idle timeout: ask the broker whether they are drained.
    pub fn quiet(&self, now: u64) -> Vec<PartitionId> {
        self.partitions
            .iter()
            .filter(|(_, p)| self.is_quiet(p, now))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The broker's answer for a quiet partition (see [`Watermarks::quiet`]), asked at
    /// `asked_at`. The answer comes while reading goes on: it is dropped when the partition
    /// has handed on a message since (it may have been read to its end only before that).
    pub fn confirm_drained(&mut self, id: PartitionId, drained: bool, asked_at: u64) {
        if let Some(p) = self.partitions.get_mut(&id) {
            if p.last_seen < asked_at {
                p.confirmed_drained = drained;
            }
        }
    }

    /// Every partition is idle: time to ask the broker whether anything is left to read.
    pub fn all_idle(&self, now: u64) -> bool {
        !self.partitions.is_empty() && self.partitions.values().all(|p| self.is_idle(p, now))
    }

    /// Recomputes the completed slot: every event counted at or before it has been received.
    /// `drained`: the broker has confirmed that everything in the partitions has been read.
    pub fn advance(&mut self, now: u64, drained: bool) -> Option<Millis> {
        if self.is_replaying() {
            return self.complete;
        }
        let mut active: Vec<&Partition> = self
            .partitions
            .values()
            .filter(|p| !self.is_idle(p, now))
            .collect();
        if active.is_empty() && !drained {
            // Quiet, but not known to be the end (the broker may be away): nobody is excused.
            active = self
                .partitions
                .values()
                .filter(|p| p.newest_ts.is_some())
                .collect();
        }
        let candidate = if active.is_empty() {
            // Drained: what came is all there is for now, up to its slot.
            self.partitions
                .values()
                .filter_map(|p| p.newest_ts)
                .max()
                .map(|ts| slot(ts, self.slide))
        } else if active.iter().any(|p| p.newest_ts.is_none()) {
            None // an active partition that has not spoken yet holds everything
        } else {
            active
                .iter()
                .filter_map(|p| p.newest_ts)
                .min()
                .map(|ts| ts.saturating_sub(self.lateness))
                .and_then(|complete_ts| {
                    // Complete slots are those wholly at or before the watermark.
                    (complete_ts / self.slide).checked_mul(self.slide)
                })
        };
        if let Some(c) = candidate {
            self.complete = Some(self.complete.map_or(c, |old| old.max(c)));
        }
        self.complete
    }

    /// The watermark of each partition (newest ts − lateness) and its counters.
    pub fn rows(&self) -> Vec<(PartitionId, Option<Millis>, PartitionStats)> {
        self.partitions
            .iter()
            .map(|(id, p)| {
                let wm = p.newest_ts.map(|ts| ts.saturating_sub(self.lateness));
                (*id, wm, p.stats.clone())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P0: PartitionId = PartitionId {
        topic: 0,
        partition: 0,
    };
    const P1: PartitionId = PartitionId {
        topic: 0,
        partition: 1,
    };

    fn marks() -> Watermarks {
        Watermarks::new(5_000, 10_000, 60_000)
    }

    /// The broker says every quiet partition has been read to its end.
    fn confirm_quiet(w: &mut Watermarks, now: u64) {
        for id in w.quiet(now) {
            w.confirm_drained(id, true, now);
        }
    }

    #[test]
    fn the_slowest_active_partition_sets_the_pace() {
        let mut w = marks();
        w.observe(P0, 0, Outcome::Counted(600_000), 0);
        w.observe(P1, 0, Outcome::Counted(190_000), 0);
        // min newest 190s − 5s lateness = 185s: complete through the 180s slot.
        assert_eq!(w.advance(1, false), Some(180_000));
        w.observe(P1, 1, Outcome::Counted(250_000), 2);
        assert_eq!(w.advance(3, false), Some(240_000));
    }

    #[test]
    fn an_assigned_silent_partition_holds_time_until_idle() {
        let mut w = marks();
        w.assigned(P1, 0);
        w.observe(P0, 0, Outcome::Counted(600_000), 0);
        assert_eq!(w.advance(9_999, false), None);
        assert_eq!(
            w.advance(10_000, false),
            None,
            "silent, but not known to be read to its end"
        );
        // P1 idle: only P0 counts, with its lateness (P0 itself spoke at 0, also idle by 10s).
        w.observe(P0, 1, Outcome::Counted(605_000), 9_000);
        confirm_quiet(&mut w, 10_000);
        assert_eq!(w.advance(10_000, false), Some(600_000));
    }

    #[test]
    fn drained_and_idle_completes_everything_received_and_never_goes_back() {
        let mut w = marks();
        w.observe(P0, 0, Outcome::Counted(61_000), 0);
        assert_eq!(w.advance(1, false), Some(0));
        assert!(
            !w.all_idle(20_000),
            "silent is not idle until the broker confirms"
        );
        confirm_quiet(&mut w, 20_000);
        assert!(w.all_idle(20_000));
        assert_eq!(
            w.advance(20_000, false),
            Some(0),
            "quiet, but not known to be the end"
        );
        assert_eq!(
            w.advance(20_000, true),
            Some(120_000),
            "drained: the slot of the newest event"
        );
        w.observe(P0, 1, Outcome::Counted(62_000), 20_001);
        assert_eq!(w.advance(20_002, false), Some(120_000), "monotone");
    }

    #[test]
    fn a_partition_with_undecoded_messages_is_never_idle() {
        let mut w = marks();
        w.observe(P0, 0, Outcome::Counted(600_000), 0);
        w.handed_on(P1, 1, 0);
        assert_eq!(
            w.advance(60_000, false),
            None,
            "P1's message may be older than anything seen"
        );
        w.observe(P1, 0, Outcome::Counted(300_000), 60_001);
        confirm_quiet(&mut w, 60_002);
        assert_eq!(w.advance(60_002, false), Some(240_000));
    }

    #[test]
    fn after_a_silence_every_partition_gets_time_to_speak_again() {
        let mut w = marks();
        w.observe(P0, 0, Outcome::Counted(100_000), 0);
        w.observe(P1, 0, Outcome::Counted(100_000), 0);
        confirm_quiet(&mut w, 40_000);
        assert!(w.all_idle(40_000));
        w.wake_all(40_000);
        w.observe(P0, 1, Outcome::Counted(900_000), 40_000);
        assert_eq!(
            w.advance(40_001, false),
            Some(60_000),
            "P1 still holds time at its watermark"
        );
    }

    #[test]
    fn late_and_rejected_do_not_move_time_but_are_counted() {
        let mut w = marks();
        w.observe(P0, 0, Outcome::Counted(100_000), 0);
        w.observe(P0, 1, Outcome::Late(1_000), 0);
        w.observe(P0, 2, Outcome::Rejected, 0);
        let rows = w.rows();
        assert_eq!(rows[0].1, Some(95_000));
        assert_eq!(
            rows[0].2,
            PartitionStats {
                last_offset: Some(2),
                committed: None,
                events: 1,
                rejected: 1,
                late: 1
            }
        );
    }

    #[test]
    fn a_restored_partition_holds_time_until_read_again_through_its_cut() {
        let mut w = marks();
        let stats = |last| PartitionStats {
            last_offset: Some(last),
            ..PartitionStats::default()
        };
        // The checkpoint had read P0 through offset 7 and P1 through 3; its newest ts include
        // events after the cut that are read and fed again now.
        w.restore(P0, stats(7), Some(600_000), 0);
        w.restore(P1, stats(3), Some(600_000), 0);
        assert_eq!(w.advance(1, false), None, "nothing read again yet");
        w.observe(P0, 7, Outcome::Counted(600_000), 2);
        w.observe(P1, 2, Outcome::Skipped(Some(590_000)), 2);
        assert_eq!(w.advance(3, false), None, "P1 is not through offset 3 yet");
        w.observe(P1, 3, Outcome::Counted(600_000), 4);
        assert_eq!(w.advance(5, false), Some(540_000));
    }

    #[test]
    fn a_restored_partition_whose_messages_are_gone_stops_holding_once_drained() {
        let mut w = marks();
        let stats = PartitionStats {
            last_offset: Some(7),
            ..PartitionStats::default()
        };
        w.restore(P0, stats, Some(600_000), 0);
        confirm_quiet(&mut w, 10_000);
        assert_eq!(w.advance(10_000, false), Some(540_000));
    }

    #[test]
    fn sequence_numbers_follow_offsets_within_a_partition() {
        assert!(P0.seq(1) < P0.seq(2));
        assert!(P0.seq(1_000_000) < P1.seq(0));
    }
}
