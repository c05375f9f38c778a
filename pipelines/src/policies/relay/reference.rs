//! The relay rows computed the plain way, for testing the dataflow: at every slide boundary
//! from the first event on, each peer decided from scratch from all its events up to then.

use std::collections::{BTreeMap, BTreeSet};

use super::config::RelayConfig;
use super::formulas::{decide, Candidate, RelayRow};
use super::state::{changes, RelayEvent, RelayInput, RelayOut};
use crate::events::Event;
use crate::id::Id;
use crate::time::{slot, Millis};

/// Every row the relay dataflow shows as of `as_of` (a slide boundary), sorted.
pub fn relay_reference(
    events: &[(Event, u64)],
    as_of: Millis,
    slide: Millis,
    cfg: &RelayConfig,
) -> Vec<RelayOut> {
    let mut inputs: Vec<RelayInput> = events
        .iter()
        .filter_map(|(e, seq)| RelayInput::from_event(e, *seq))
        .filter(|i| slot(i.ts, slide) <= as_of)
        .collect();
    inputs.sort();
    let Some(first) = inputs.iter().map(|i| slot(i.ts, slide)).min() else {
        return Vec::new();
    };
    let peers: BTreeSet<Id> = inputs.iter().map(|i| i.peer.clone()).collect();
    let mut out = Vec::new();
    let mut shown: BTreeMap<Id, Vec<RelayRow>> = BTreeMap::new();
    let mut t = first;
    while t <= as_of {
        for peer in &peers {
            let now = decide_at(&inputs, peer, t, slide, cfg);
            let before = shown.remove(peer).unwrap_or_default();
            let mut rows = Vec::new();
            changes(t, peer, &before, &now, &mut rows);
            out.extend(rows.into_iter().map(|(r, _)| r));
            shown.insert(peer.clone(), now);
        }
        t += slide;
    }
    out.extend(shown.into_values().flatten().map(RelayOut::Row));
    out.sort();
    out
}

fn decide_at(
    inputs: &[RelayInput],
    peer: &Id,
    t: Millis,
    slide: Millis,
    cfg: &RelayConfig,
) -> Vec<RelayRow> {
    let window = cfg.rate_window.millis();
    let mine = inputs
        .iter()
        .filter(|i| &i.peer == peer && slot(i.ts, slide) <= t);
    let mut capacity = None;
    let mut usage = BTreeMap::new();
    let mut requests: BTreeMap<Id, (u64, f64)> = BTreeMap::new();
    let mut first_seen: BTreeMap<Id, Millis> = BTreeMap::new();
    for i in mine {
        let at = slot(i.ts, slide);
        match &i.what {
            RelayEvent::Capacity(r) => capacity = Some(*r),
            RelayEvent::Usage(c, r) => {
                usage.insert(c.clone(), *r);
                first_seen.entry(c.clone()).or_insert(at);
            }
            RelayEvent::Request(c, d) => {
                first_seen.entry(c.clone()).or_insert(at);
                let e = requests.entry(c.clone()).or_insert((0, d.0));
                e.1 = d.0; // inputs are in (ts, seq) order: the last one is the latest
                if at + window > t {
                    e.0 += 1;
                }
            }
        }
    }
    let Some(total) = capacity else {
        return Vec::new();
    };
    let candidates: Vec<Candidate> = usage
        .iter()
        .filter_map(|(c, u)| {
            let (n, distance) = *requests.get(c)?;
            Some(Candidate {
                contract: c.clone(),
                usage: *u,
                distance,
                requests: n,
                known: n >= cfg.min_requests || t - first_seen[c] > cfg.ramp_up.millis(),
            })
        })
        .collect();
    decide(peer, &total, &candidates, cfg, window as f64 / 1000.0)
}
