//! A seeded service-level fleet for tests, demos and trying `explain --policy sla`: every node
//! registered, probed every 15 minutes, serving a high and a normal priority request each
//! time, rated by a few users on the first day; and the scenario the operators of such
//! networks worry about most:
//!
//! - `healthy`: nothing goes wrong;
//! - `outage`: on day 2 from 06:00 to 12:00 every node's probes fail and latency triples at
//!   once (a network-wide problem: nobody should be penalised);
//! - `bad-node`: `node-000` fails every other probe and slows down from hour 24 to 48, then is
//!   fixed; `node-001` reports a critical XID (79) at 10:05 on day 1 and a clean sample two hours
//!   later; `node-002`'s ECC double-bit total rises at 12:05 on day 3 and holds at the next
//!   sample.

use meritflow_pipelines::events::{Body, Event, GpuSample, Priority};
use meritflow_pipelines::time::Millis;

use crate::sim::Rng;

const HOUR: Millis = 3_600_000;
const EVERY: Millis = 15 * 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaScenario {
    Healthy,
    Outage,
    BadNode,
}

#[derive(Clone, Debug)]
pub struct SlaSpec {
    pub nodes: usize,
    /// Midnight (UTC) of the first day.
    pub start: Millis,
    pub days: u64,
    pub scenario: SlaScenario,
    pub seed: u64,
}

fn gpu(node: &str, xid: Option<u64>, ecc: u64) -> Body {
    Body::GpuSample(GpuSample {
        node: node.into(),
        gpu: "0".into(),
        vram_total_bytes: 24 << 30,
        vram_used_bytes: None,
        gpu_util_pct: None,
        mem_util_pct: None,
        temp_c: None,
        power_w: None,
        energy_j: None,
        sm_clock_mhz: None,
        ecc_dbe_total: Some(ecc),
        xid,
    })
}

/// The fleet's events, sorted by ts.
pub fn sla_fleet(spec: &SlaSpec) -> Vec<Event> {
    let mut rng = Rng::new(spec.seed);
    let mut events = Vec::new();
    let names: Vec<String> = (0..spec.nodes).map(|i| format!("node-{i:03}")).collect();
    let t0 = spec.start;
    for name in &names {
        let body = Body::NodeRegistered {
            node: name.clone().into(),
            provider: None,
            region: None,
            node_type: None,
            dc: None,
            vram_bytes: None,
            timeout_s: None,
            stake: None,
        };
        events.push(Event { ts: t0, body });
        for user in 0..6 {
            let stars = 3 + rng.below(3) as u8;
            let ts = t0 + HOUR + rng.below(20 * HOUR);
            let body = Body::Rating {
                node: name.clone().into(),
                user: format!("user-{user}").into(),
                stars,
            };
            events.push(Event { ts, body });
        }
    }
    let end = t0 + spec.days * 24 * HOUR;
    let mut at = t0 + 30_000;
    while at < end {
        let hour = (at - t0) / HOUR;
        let outage = spec.scenario == SlaScenario::Outage && (30..36).contains(&hour);
        for (i, name) in names.iter().enumerate() {
            let bad = spec.scenario == SlaScenario::BadNode && i == 0 && (24..48).contains(&hour);
            let ok = !(outage || bad && (at / EVERY) % 2 == 0);
            let body = Body::Probe {
                node: name.clone().into(),
                ok,
                latency_ms: None,
            };
            events.push(Event { ts: at, body });
            for priority in [Priority::High, Priority::Normal] {
                let slow = if outage || bad { 3.0 } else { 1.0 };
                let body = Body::Request {
                    node: name.clone().into(),
                    latency_ms: (40.0 + rng.unit() * 20.0) * slow,
                    ok: true,
                    priority: Some(priority),
                };
                events.push(Event {
                    ts: at + 1_000,
                    body,
                });
            }
        }
        at += EVERY;
    }
    if spec.scenario == SlaScenario::BadNode && spec.nodes >= 3 && spec.days >= 3 {
        let minutes = |m: Millis| m * 60_000;
        let samples = [
            (t0 + 10 * HOUR + minutes(5), "node-001", Some(79), 0),
            (t0 + 12 * HOUR + minutes(5), "node-001", None, 0),
            (t0 + 30 * HOUR + minutes(5), "node-002", None, 0),
            (t0 + 60 * HOUR + minutes(5), "node-002", None, 1),
            (t0 + 66 * HOUR + minutes(5), "node-002", None, 1),
        ];
        for (ts, node, xid, ecc) in samples {
            events.push(Event {
                ts,
                body: gpu(node, xid, ecc),
            });
        }
    }
    events.sort_by_key(|e| e.ts);
    events
}
