//! A seeded ICP-style month for tests, benchmarks and trying `statement`/`explain`: a rewards
//! table, node registrations (a few incomplete, some joining or leaving mid-month), each node's
//! cumulative block-maker counters snapshotted a few times a day, with the things real feeds do:
//! nodes moving subnets, counters restarting, nodes unassigned for a day or for the month, a
//! handful of failing nodes. The first hours of the next month are included so the month closes.

use meritflow_pipelines::events::{Body, Event};
use meritflow_pipelines::time::Millis;

use crate::sim::Rng;

const DAY: Millis = 86_400_000;

#[derive(Clone, Debug)]
pub struct IcpSpec {
    pub nodes: usize,
    pub subnets: usize,
    /// Midnight (UTC) of the first day.
    pub start: Millis,
    /// Days simulated in full; the first hours of the day after follow.
    pub days: u64,
    pub seed: u64,
}

const REGIONS: [&str; 6] = [
    "Europe,CH,Zurich",
    "Europe,CH,Geneva",
    "Europe,DE,Berlin",
    "North America,USA,California",
    "North America,USA,Nevada",
    "Asia,JP,Tokyo",
];
const TYPES: [&str; 3] = ["type1", "type3", "type3.1"];

/// The month's events, sorted by ts.
pub fn icp_month(spec: &IcpSpec) -> Vec<Event> {
    let mut rng = Rng::new(spec.seed);
    let mut events = Vec::new();
    let at = |ms: Millis, body: Body| Event { ts: ms, body };
    // The rewards table, an hour before the first day; entries at country and city level.
    for (i, region) in [
        "Europe,CH",
        "Europe,DE",
        "North America,USA",
        "Asia,JP",
        "North America,USA,California",
    ]
    .iter()
    .enumerate()
    {
        for (j, node_type) in TYPES.iter().enumerate() {
            let monthly = [304_375u64, 913_125, 1_217_500, 500_000][(i + j) % 4];
            let percent = (!rng.chance(0.3)).then(|| 60 + rng.below(36));
            events.push(at(
                spec.start - 3_600_000 + (i * 3 + j) as Millis,
                Body::RewardRate {
                    region: (*region).into(),
                    node_type: (*node_type).into(),
                    xdr_permyriad_per_node_per_month: monthly,
                    reward_coefficient_percent: percent,
                },
            ));
        }
    }
    let providers = (spec.nodes / 10).max(1);
    for n in 0..spec.nodes {
        let node = format!("node-{n:05}");
        let incomplete = rng.chance(0.02);
        let joins = if rng.chance(0.03) {
            1 + rng.below(spec.days)
        } else {
            0
        };
        let registered_at = spec.start + joins * DAY - 1_800_000 + rng.below(600_000);
        events.push(at(
            registered_at,
            Body::NodeRegistered {
                node: node.clone().into(),
                provider: Some(format!("provider-{:03}", n % providers).into()),
                region: Some(REGIONS[rng.below(REGIONS.len() as u64) as usize].into()),
                node_type: (!incomplete).then(|| TYPES[rng.below(3) as usize].into()),
                dc: None,
                vram_bytes: None,
                timeout_s: None,
                stake: None,
            },
        ));
        if rng.chance(0.01) {
            let day = rng.below(spec.days);
            events.push(at(
                spec.start + day * DAY + rng.below(DAY),
                Body::NodeLeft {
                    node: node.clone().into(),
                },
            ));
        }
        if rng.chance(0.1) {
            continue; // unassigned all month: its provider's extrapolated rate applies
        }
        let failing = rng.chance(0.05);
        let mut subnet = n % spec.subnets.max(1);
        let (mut proposed, mut failed) = (0u64, 0u64);
        for day in 0..=spec.days {
            let last_day = day == spec.days;
            if rng.chance(0.03) {
                subnet = rng.below(spec.subnets as u64) as usize;
                (proposed, failed) = (0, 0);
            }
            if rng.chance(0.01) {
                (proposed, failed) = (0, 0); // the replica restarted
            }
            if rng.chance(0.04) {
                continue; // unassigned that day
            }
            let snapshots = 1 + rng.below(3);
            for s in 0..snapshots {
                let turns = 30 + rng.below(120);
                let fail_pct = if failing {
                    20 + rng.below(60)
                } else {
                    rng.below(4)
                };
                let fails = turns * fail_pct / 100;
                proposed += turns - fails;
                failed += fails;
                // Within the day; on the day after the last, only in its first hours.
                let span = if last_day { 7_200_000 } else { DAY };
                let ts = spec.start + day * DAY + (s * span + rng.below(span)) / snapshots;
                events.push(at(
                    ts,
                    Body::BlockMakerCounters {
                        node: node.clone().into(),
                        subnet: format!("subnet-{subnet:02}").into(),
                        proposed_total: proposed,
                        failed_total: failed,
                    },
                ));
            }
        }
    }
    events.sort_by_key(|e| e.ts);
    events
}
