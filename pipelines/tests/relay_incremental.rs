//! The relay dataflow against the plain reference (`policies::relay::reference`), which decides
//! every peer from scratch at every minute: random three-hour streams over 2 peers and 6
//! contracts with capacities and usages changing, zero totals and usages, requests at spread
//! distances, a short rate window and ramp-up so contracts turn known and requests expire.
//! Same rows and the same start/stop changes, on one to three workers, mid-stream and at the end.

mod common;

use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine;
use meritflow_pipelines::events::{Body, Event, Resources};
use meritflow_pipelines::policies::relay::policy::RelayPolicy;
use meritflow_pipelines::policies::relay::reference::relay_reference;
use meritflow_pipelines::policies::relay::state::RelayOut;
use meritflow_pipelines::time::{slot, Span};
use proptest::prelude::*;

/// 2026-10-01T00:00:00Z.
const BASE: u64 = 1_790_812_800_000;
const STEPS: u64 = 3 * 60;
const STEP: u64 = 60_000;

fn pick(options: &[&'static str]) -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(options.to_vec()).prop_map(str::to_owned)
}

fn resources() -> impl Strategy<Value = Resources> {
    (0u64..4, 0u64..4, 0u64..4, 0u64..4).prop_map(|(s, b, c, m)| Resources {
        storage_bytes: s * 100,
        bandwidth_bps: (b * 100) as f64,
        cpu_millis_per_s: (c * 100) as f64,
        memory_bytes: m * 100,
    })
}

fn body() -> impl Strategy<Value = Body> {
    let peer = pick(&["p", "q"]);
    let contract = pick(&["c1", "c2", "c3", "c4", "c5", "c6"]);
    prop_oneof![
        1 => (peer.clone(), resources()).prop_map(|(peer, mut r)| {
            r.storage_bytes += 1000;
            r.memory_bytes *= 5;
            Body::PeerCapacity { peer: peer.into(), resources: r }
        }),
        3 => (peer.clone(), contract.clone(), resources()).prop_map(|(peer, contract, resources)| Body::ContractUsage { peer: peer.into(), contract: contract.into(), resources }),
        12 => (peer, contract, (0u8..=10).prop_map(|d| d as f64 / 20.0)).prop_map(|(peer, contract, distance)| Body::ContractRequest { peer: peer.into(), contract: contract.into(), distance }),
    ]
}

fn stream() -> impl Strategy<Value = Vec<(Event, u64)>> {
    proptest::collection::vec((0u64..STEPS, 0u64..STEP, body()), 1..80).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(seq, (step, within, body))| {
                let ts = BASE + step * STEP + if seq % 3 == 0 { 0 } else { within };
                (Event { ts, body }, seq as u64)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn dataflow_matches_reference(events in stream(), workers in 1usize..=3, middle in 0u64..STEPS) {
        let mut config = Config::default();
        config.policy.relay.rate_window = Span::minutes(20);
        config.policy.relay.ramp_up = Span::minutes(7);
        config.policy.relay.min_requests = 4;
        let grain = engine::grain(&config);
        let end = BASE + (STEPS + 30) * STEP;
        let mid = slot(BASE + middle * STEP + 30_000, grain);
        let outputs = engine::replay(&config, workers, events.clone(), end, mid).unwrap();
        for as_of in [mid, end] {
            let parts = outputs.policy::<RelayPolicy>().unwrap().parts(as_of);
            let mut rows: Vec<RelayOut> = parts.rows.into_iter().map(RelayOut::Row).collect();
            rows.extend(parts.changes.into_iter().map(RelayOut::Change));
            rows.sort();
            let plain = relay_reference(&events, as_of, grain, &config.policy.relay);
            let diff = common::first_difference("rows", &rows, &plain).unwrap_or_default();
            prop_assert!(rows == plain, "as of {}: {}", as_of, diff);
        }
    }
}
