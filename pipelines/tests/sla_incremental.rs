//! The sla dataflow against the plain reference (`policies::sla::reference`) on random
//! two-day streams: registrations and leaves, probes, requests of both priorities with spread
//! latencies, repeated ratings by the same users, GPU samples with XIDs and ECC totals going up
//! and down, equal timestamps. A short window, hourly checks and small penalty thresholds make
//! events expire and levels go up and down within the stream. Same events, same rows (figures,
//! targets, levels, trigger edges, statements), on one, two and three workers, at the end and
//! at a moment in the middle.

mod common;

use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine;
use meritflow_pipelines::events::{Body, Event, GpuSample, Priority};
use meritflow_pipelines::policies::sla::policy::SlaPolicy;
use meritflow_pipelines::policies::sla::reference::sla_reference;
use meritflow_pipelines::policies::sla::state::SlaOut;
use meritflow_pipelines::statement::Period;
use meritflow_pipelines::time::{slot, Span};
use proptest::prelude::*;

/// 2026-10-01T00:00:00Z.
const BASE: u64 = 1_790_812_800_000;
const STEP: u64 = 7 * 60_000;
const STEPS: u64 = 2 * 24 * 60 / 7;

fn config(period: Period, check_window: u64) -> Config {
    let mut config = Config::default();
    config.statements.period = period;
    let sla = &mut config.policy.sla;
    sla.window = Span::hours(3);
    sla.check_window = Span::hours(check_window);
    sla.lookback = Span::hours(6);
    sla.penalty_after = 2;
    sla.max_penalty_level = 3;
    sla.severe_after = 4;
    sla.recover_after = 3;
    sla.min_ratings = 2;
    config
}

fn pick(options: &[&'static str]) -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(options.to_vec()).prop_map(str::to_owned)
}

fn body() -> impl Strategy<Value = Body> {
    let node = pick(&["n1", "n2", "n3", "n4", "n5"]);
    prop_oneof![
        2 => node.clone().prop_map(|node| Body::NodeRegistered {
            node: node.into(), provider: None, region: None, node_type: None,
            dc: None, vram_bytes: None, timeout_s: None, stake: None,
        }),
        1 => node.clone().prop_map(|node| Body::NodeLeft { node: node.into() }),
        8 => (node.clone(), prop::bool::weighted(0.8)).prop_map(|(node, ok)| Body::Probe { node: node.into(), ok, latency_ms: None }),
        10 => (node.clone(), prop::bool::weighted(0.9), 1.0f64..400.0, prop::option::of(any::<bool>())).prop_map(
            |(node, ok, latency_ms, high)| Body::Request {
                node: node.into(), ok, latency_ms,
                priority: high.map(|h| if h { Priority::High } else { Priority::Normal }),
            }),
        3 => (node.clone(), pick(&["u1", "u2", "u3"]), 1u8..=5).prop_map(|(node, user, stars)| Body::Rating { node: node.into(), user: user.into(), stars }),
        2 => (node, pick(&["g0", "g1"]), prop::option::of(prop::sample::select(vec![13u64, 48, 79])), prop::option::of(0u64..4)).prop_map(
            |(node, gpu, xid, ecc)| Body::GpuSample(GpuSample {
                node: node.into(), gpu: gpu.into(), vram_total_bytes: 1 << 30, vram_used_bytes: None, gpu_util_pct: None,
                mem_util_pct: None, temp_c: None, power_w: None, energy_j: None, sm_clock_mhz: None,
                ecc_dbe_total: ecc, xid,
            })),
    ]
}

fn stream() -> impl Strategy<Value = Vec<(Event, u64)>> {
    proptest::collection::vec((0u64..STEPS, 0u64..STEP, body()), 1..250).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(seq, (step, within, body))| {
                // Every fourth event on the step itself, to have equal timestamps.
                let ts = BASE + step * STEP + if seq % 4 == 0 { 0 } else { within };
                (Event { ts, body }, seq as u64)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn dataflow_matches_reference(
        events in stream(),
        workers in 1usize..=3,
        middle in 0u64..STEPS,
        period in prop_oneof![Just(Period::Day), Just(Period::Week)],
        check_window in 1u64..=2,
    ) {
        let config = config(period, check_window);
        let slide = config.policy.sla.slide.millis();
        let end = BASE + 3 * 86_400_000;
        let mid = slot(BASE + middle * STEP + 3 * 60_000, slide);
        let outputs = engine::replay(&config, workers, events.clone(), end, mid).unwrap();
        for as_of in [mid, end] {
            let mut incremental = outputs.policy::<SlaPolicy>().unwrap().parts(as_of);
            let mut rows: Vec<SlaOut> = Vec::new();
            rows.extend(incremental.targets.take().map(SlaOut::Targets));
            rows.extend(incremental.nodes.into_iter().map(|(n, f)| SlaOut::Node(n, f)));
            rows.extend(incremental.levels.into_iter().map(SlaOut::Level));
            rows.extend(incremental.triggers.into_iter().map(SlaOut::Trigger));
            rows.extend(incremental.statements.into_iter().map(SlaOut::Statement));
            rows.sort();
            let plain = sla_reference(&events, as_of, &config.policy.sla, config.statements.period);
            prop_assert!(rows == plain, "as of {}: {}", as_of, common::first_difference("rows", &rows, &plain).unwrap_or_default());
        }
    }
}
