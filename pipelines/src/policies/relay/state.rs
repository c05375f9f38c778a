//! What the relay dataflow keeps per peer (its capacity, and per contract the latest usage, the
//! request counts per slide pane inside the window, the latest request's distance, when it was
//! first seen) and when a peer must be decided again: at its events, when a pane of requests
//! leaves the window, and when a contract's ramp-up ends.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use foldhash::{HashMap, HashMapExt};

use serde::{Deserialize, Serialize};

use super::config::RelayConfig;
use super::formulas::{decide, resources, Candidate, RelayRow, Resources};
use crate::events::{Body, Event};
use crate::float::F64;
use crate::id::Id;
use crate::moments::MomentState;
use crate::time::{slot, Millis};

/// One relay input, keyed by peer; ordered by (ts, seq).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RelayInput {
    pub ts: Millis,
    pub seq: u64,
    pub peer: Id,
    pub what: RelayEvent,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RelayEvent {
    Capacity(Resources),
    Usage(Id, Resources),
    Request(Id, F64),
}

impl RelayInput {
    pub fn from_event(event: &Event, seq: u64) -> Option<RelayInput> {
        let (peer, what) = match &event.body {
            Body::PeerCapacity { peer, resources: r } => (peer, RelayEvent::Capacity(resources(r))),
            Body::ContractUsage {
                peer,
                contract,
                resources: r,
            } => (peer, RelayEvent::Usage(contract.clone(), resources(r))),
            Body::ContractRequest {
                peer,
                contract,
                distance,
            } => (peer, RelayEvent::Request(contract.clone(), F64(*distance))),
            _ => return None,
        };
        Some(RelayInput {
            ts: event.ts,
            seq,
            peer: peer.clone(),
            what,
        })
    }
}

/// A change of a peer's relayed set.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChangeRow {
    pub ts: Millis,
    pub peer: Id,
    pub contract: Id,
    /// `start` or `stop`.
    pub change: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RelayOut {
    Row(RelayRow),
    Change(ChangeRow),
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Contract {
    usage: Option<Resources>,
    /// Requests per pane (slot) still inside the window, oldest first.
    panes: VecDeque<(Millis, u64)>,
    in_window: u64,
    /// The latest request: ((ts, seq), distance).
    latest: Option<((Millis, u64), f64)>,
    first_seen: Millis,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Peer {
    capacity: Option<Resources>,
    contracts: BTreeMap<Id, Contract>,
    shown: Vec<RelayRow>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct RelayState {
    cfg: RelayConfig,
    slide: Millis,
    peers: HashMap<Id, Peer>,
    wakeups: BTreeSet<(Millis, Id)>,
    last: Option<Millis>,
}

impl RelayState {
    pub fn new(cfg: &RelayConfig, slide: Millis) -> RelayState {
        RelayState {
            cfg: cfg.clone(),
            slide,
            peers: HashMap::new(),
            wakeups: BTreeSet::new(),
            last: None,
        }
    }

    pub fn process(&mut self, t: Millis, mut inputs: Vec<RelayInput>) -> Vec<(RelayOut, isize)> {
        self.last = Some(t);
        inputs.sort_unstable();
        let mut dirty: BTreeSet<Id> = BTreeSet::new();
        let window = self.cfg.rate_window.millis();
        for input in inputs {
            let peer = self.peers.entry(input.peer.clone()).or_default();
            let at = slot(input.ts, self.slide);
            let seen = |contracts: &mut BTreeMap<Id, Contract>,
                        id: &Id,
                        wakeups: &mut BTreeSet<(Millis, Id)>| {
                if !contracts.contains_key(id) {
                    let ramp_end =
                        (at + self.cfg.ramp_up.millis()) / self.slide * self.slide + self.slide;
                    wakeups.insert((ramp_end, input.peer.clone()));
                    contracts.insert(
                        id.clone(),
                        Contract {
                            first_seen: at,
                            ..Contract::default()
                        },
                    );
                }
            };
            match input.what {
                RelayEvent::Capacity(r) => peer.capacity = Some(r),
                RelayEvent::Usage(contract, r) => {
                    seen(&mut peer.contracts, &contract, &mut self.wakeups);
                    peer.contracts.get_mut(&contract).expect("seen").usage = Some(r);
                }
                RelayEvent::Request(contract, distance) => {
                    seen(&mut peer.contracts, &contract, &mut self.wakeups);
                    let c = peer.contracts.get_mut(&contract).expect("seen");
                    match c.panes.back_mut() {
                        Some((pane, n)) if *pane == at => *n += 1,
                        _ => {
                            c.panes.push_back((at, 1));
                            self.wakeups.insert((at + window, input.peer.clone()));
                        }
                    }
                    c.in_window += 1;
                    if c.latest.is_none_or(|(key, _)| key < (input.ts, input.seq)) {
                        c.latest = Some(((input.ts, input.seq), distance.0));
                    }
                }
            }
            dirty.insert(input.peer);
        }
        while let Some((at, peer)) = self.wakeups.first().cloned() {
            if at > t {
                break;
            }
            self.wakeups.pop_first();
            dirty.insert(peer);
        }
        let mut rows = Vec::new();
        for peer in dirty {
            self.decide(t, &peer, &mut rows);
        }
        rows
    }

    fn decide(&mut self, t: Millis, id: &Id, rows: &mut Vec<(RelayOut, isize)>) {
        let window = self.cfg.rate_window.millis();
        let peer = self.peers.get_mut(id).expect("dirty peers exist");
        for c in peer.contracts.values_mut() {
            while c.panes.front().is_some_and(|(pane, _)| pane + window <= t) {
                let (_, n) = c.panes.pop_front().expect("front");
                c.in_window -= n;
            }
        }
        let now = match peer.capacity {
            None => Vec::new(),
            Some(total) => {
                let candidates: Vec<Candidate> = peer
                    .contracts
                    .iter()
                    .filter_map(|(contract, c)| {
                        let usage = c.usage?;
                        let (_, distance) = c.latest?;
                        Some(Candidate {
                            contract: contract.clone(),
                            usage,
                            distance,
                            requests: c.in_window,
                            known: c.in_window >= self.cfg.min_requests
                                || t - c.first_seen > self.cfg.ramp_up.millis(),
                        })
                    })
                    .collect();
                decide(id, &total, &candidates, &self.cfg, window as f64 / 1000.0)
            }
        };
        changes(t, id, &peer.shown, &now, rows);
        for old in peer.shown.iter().filter(|o| !now.contains(o)) {
            rows.push((RelayOut::Row(old.clone()), -1));
        }
        for new in now.iter().filter(|n| !peer.shown.contains(n)) {
            rows.push((RelayOut::Row(new.clone()), 1));
        }
        peer.shown = now;
    }
}

/// The `start` / `stop` rows between two decisions of one peer.
pub fn changes(
    t: Millis,
    peer: &Id,
    before: &[RelayRow],
    now: &[RelayRow],
    rows: &mut Vec<(RelayOut, isize)>,
) {
    let relayed = |rows: &[RelayRow]| -> BTreeSet<Id> {
        rows.iter()
            .filter(|r| r.relayed)
            .map(|r| r.contract.clone())
            .collect()
    };
    let (was, is) = (relayed(before), relayed(now));
    for (set, other, change) in [(&is, &was, "start"), (&was, &is, "stop")] {
        for contract in set.difference(other) {
            let row = ChangeRow {
                ts: t,
                peer: peer.clone(),
                contract: contract.clone(),
                change: change.to_owned(),
            };
            rows.push((RelayOut::Change(row), 1));
        }
    }
}

impl MomentState<RelayInput, RelayOut> for RelayState {
    fn next_time(&self) -> Option<Millis> {
        let last = self.last?;
        self.wakeups.iter().map(|(t, _)| *t).find(|t| *t > last)
    }

    fn advance(&mut self, t: Millis, inputs: Vec<RelayInput>) -> Vec<(RelayOut, isize)> {
        self.process(t, inputs)
    }
}
