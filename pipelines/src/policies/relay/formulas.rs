//! The relay decision for one peer at one moment, from what is known of its contracts: cost,
//! known or estimated rate, value, and the capacity-bounded relayed set.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::config::RelayConfig;
use super::pav::{fit_decreasing, predict};
use crate::float::F64;
use crate::id::Id;

/// Storage, bandwidth, CPU, memory.
pub type Resources = [F64; 4];

pub fn resources(r: &crate::events::Resources) -> Resources {
    [
        F64(r.storage_bytes as f64),
        F64(r.bandwidth_bps),
        F64(r.cpu_millis_per_s),
        F64(r.memory_bytes as f64),
    ]
}

/// The largest share of the peer's total that the contract uses (rule 5); 0 becomes `min_cost`.
pub fn cost(usage: &Resources, total: &Resources, cfg: &RelayConfig) -> f64 {
    let ratio = |u: f64, t: f64| {
        if t == 0.0 {
            if u == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            u / t
        }
    };
    let c = usage
        .iter()
        .zip(total)
        .map(|(u, t)| ratio(u.0, t.0))
        .fold(0.0, f64::max);
    if c == 0.0 {
        cfg.min_cost
    } else {
        c
    }
}

/// What the decision needs of one listed contract.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub contract: Id,
    pub usage: Resources,
    pub distance: f64,
    pub requests: u64,
    pub known: bool,
}

/// One row of the `relay` table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RelayRow {
    pub peer: Id,
    pub contract: Id,
    pub distance: F64,
    pub requests: u64,
    pub rate: F64,
    pub estimated: bool,
    pub cost: F64,
    pub value: F64,
    pub relayed: bool,
}

/// Decides the peer's rows: rates (known, or estimated by PAV over the known ones by distance),
/// values, and the relayed prefix of the ranking (rule 6).
pub fn decide(
    peer: &Id,
    total: &Resources,
    candidates: &[Candidate],
    cfg: &RelayConfig,
    window_s: f64,
) -> Vec<RelayRow> {
    let known: Vec<(f64, f64)> = candidates
        .iter()
        .filter(|c| c.known)
        .map(|c| (c.distance, c.requests as f64 / window_s))
        .collect();
    let blocks = fit_decreasing(&known);
    let estimate = |d: f64| match known.len() {
        0 => 0.0,
        1 => known[0].1,
        _ => predict(&blocks, d).unwrap_or(0.0),
    };
    let mut rows: Vec<RelayRow> = candidates
        .iter()
        .map(|c| {
            let rate = if c.known {
                c.requests as f64 / window_s
            } else {
                estimate(c.distance)
            };
            let cost = cost(&c.usage, total, cfg);
            RelayRow {
                peer: peer.clone(),
                contract: c.contract.clone(),
                distance: F64(c.distance),
                requests: c.requests,
                rate: F64(rate),
                estimated: !c.known,
                cost: F64(cost),
                value: F64(rate / cost),
                relayed: false,
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        rows[b]
            .value
            .0
            .total_cmp(&rows[a].value.0)
            .then_with(|| rows[a].contract.cmp(&rows[b].contract))
    });
    let mut used = [0.0f64; 4];
    for i in order {
        let usage = &candidates[i].usage;
        let fits = (0..4).all(|k| used[k] + usage[k].0 <= cfg.max_usage * total[k].0);
        if !fits {
            break;
        }
        for k in 0..4 {
            used[k] += usage[k].0;
        }
        rows[i].relayed = true;
    }
    rows.sort_by(|a, b| a.contract.cmp(&b.contract).then(Ordering::Equal));
    rows
}
