//! A cap on what one sender may add per slot, so that a flood of one node's events cannot grow
//! the policies' per-node state faster than the cap allows.
//!
//! Every per-node structure of the policies grows by at most one entry per event (a task's
//! input, a GPU's latest sample, a user's rating, a contract, a pane's partial aggregate).
//! Capping the events of one sender and kind per slot bounds how fast that sender's state can
//! grow; where a structure keeps its entries for a bounded stretch of event time (the window,
//! `2 × task_grace`, a statement period) it bounds its size at `cap × kinds × (lifetime /
//! slide)` entries, whatever the sender sends. Structures kept for all time (the latest sample
//! of every GPU ever seen, ledgers per counterparty) still grow with each new id, at that rate.
//!
//! The events over the cap are rejected with a reason naming the sender's field. Which ones
//! are over is decided in input order per (sender, kind, slot): the file's line order in
//! replay, the partition's offset order in `meritflow run` (the producer keys a sender's
//! events to one partition), so both reject the same events.

use std::collections::BTreeMap;

use foldhash::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::events::{Body, Event, Rejection};
use crate::id::Id;
use crate::time::{slot, Millis};

/// `[limits]` (documented in [`crate::config::DEFAULTS_TOML`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Events of one kind one sender may add per slot; 0: no cap.
    pub events_per_sender_per_slot: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            events_per_sender_per_slot: 10_000,
        }
    }
}

/// The field naming who sent an event, and its value: the node, peer, payer, issuer, the
/// sending side of a transfer, or the task of a fee.
pub fn sender(event: &Event) -> (&'static str, &Id) {
    match &event.body {
        Body::NodeRegistered { node, .. }
        | Body::NodeLeft { node }
        | Body::TaskRound { node, .. }
        | Body::TaskSlashed { node, .. }
        | Body::BlockMakerCounters { node, .. }
        | Body::BlockRound { node, .. }
        | Body::Probe { node, .. }
        | Body::Request { node, .. }
        | Body::Rating { node, .. } => ("node", node),
        Body::GpuSample(sample) => ("node", &sample.node),
        Body::TaskFee { task, .. } => ("task", task),
        Body::RewardRate { region, .. } => ("region", region),
        Body::ChunkTransfer { from, .. } => ("from", from),
        Body::Refresh { payer, .. } => ("payer", payer),
        Body::Cheque { issuer, .. } => ("issuer", issuer),
        Body::PeerCapacity { peer, .. }
        | Body::ContractUsage { peer, .. }
        | Body::ContractRequest { peer, .. } => ("peer", peer),
    }
}

/// Counts per slot of what each sender added, for the slots still open.
#[derive(Clone, Debug)]
pub struct FloodGuard {
    cap: u32,
    /// The engine's slot width ([`crate::engine::grain`]): events are counted at the slot the
    /// dataflow counts them at.
    grain: Millis,
    counts: BTreeMap<Millis, HashMap<(&'static str, Id), u32>>,
}

impl FloodGuard {
    pub fn new(config: &Config) -> FloodGuard {
        FloodGuard {
            cap: config.limits.events_per_sender_per_slot,
            grain: crate::engine::grain(config),
            counts: BTreeMap::new(),
        }
    }

    /// Counts `event` at its slot, or says why it is over the cap.
    pub fn admit(&mut self, event: &Event) -> Result<(), Rejection> {
        if self.cap == 0 {
            return Ok(());
        }
        let (field, who) = sender(event);
        let count = self
            .counts
            .entry(slot(event.ts, self.grain))
            .or_default()
            .entry((event.kind(), who.clone()))
            .or_insert(0);
        if *count >= self.cap {
            return Err(Rejection {
                kind: Some(event.kind().to_owned()),
                field: Some(field.to_owned()),
                problem: format!(
                    "{who} sent more than {} {} events in one slot (limits.events_per_sender_per_slot): the rest of this slot's are not kept",
                    self.cap,
                    event.kind()
                ),
            });
        }
        *count += 1;
        Ok(())
    }

    /// Slots before `slot` are closed (their events are late): their counts go. After a
    /// restore from a checkpoint cut at `at`, the counts of the slots after it come back as
    /// the events after the cut are read again, so the guard needs no checkpoint of its own.
    pub fn forget_before(&mut self, slot: Millis) {
        self.counts = self.counts.split_off(&slot);
    }

    /// (slot, sender, kind) counts held.
    pub fn len(&self) -> usize {
        self.counts.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::decode;

    fn probe(node: &str, ts: Millis) -> Event {
        decode(format!(r#"{{"kind":"probe","ts":{ts},"node":"{node}","ok":true}}"#).as_bytes())
            .unwrap()
    }

    /// A guard with the default one-minute slots.
    fn guard(cap: u32) -> FloodGuard {
        let mut config = Config::default();
        config.limits.events_per_sender_per_slot = cap;
        FloodGuard::new(&config)
    }

    #[test]
    fn the_events_past_the_cap_of_one_sender_and_slot_are_rejected_naming_the_field() {
        let mut g = guard(3);
        for i in 1..=3 {
            g.admit(&probe("n1", i)).unwrap();
        }
        let over = g.admit(&probe("n1", 4)).unwrap_err();
        assert_eq!(over.field.as_deref(), Some("node"));
        assert!(over
            .reason()
            .starts_with("field `node`: n1 sent more than 3 probe"));
        // Another sender, another slot: counted apart.
        g.admit(&probe("n2", 5)).unwrap();
        g.admit(&probe("n1", 61_000)).unwrap();
    }

    #[test]
    fn closed_slots_are_forgotten_and_zero_means_no_cap() {
        let mut g = guard(1);
        g.admit(&probe("n1", 0)).unwrap();
        g.admit(&probe("n1", 60_000)).unwrap();
        g.forget_before(60_000);
        assert_eq!(g.len(), 1, "only the open slot's count is kept");
        let mut off = guard(0);
        for i in 0..100 {
            off.admit(&probe("n1", i)).unwrap();
        }
        assert!(off.is_empty());
    }
}
