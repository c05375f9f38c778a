//! The icp dataflow against the plain reference (`policies::icp::reference`) on random
//! multi-day, multi-subnet streams: nodes moving subnets, counters that restart or stop,
//! unregistered and half-registered nodes, providers with no assigned node, rates changing
//! mid-day, equal timestamps. Same events, same rows (closed days, live days, statements), on
//! one, two and three workers, at the end and at a moment in the middle.

mod common;

use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine;
use meritflow_pipelines::events::{BlockOutcome, Body, Event};
use meritflow_pipelines::policies::icp::config::Type3Algorithm;
use meritflow_pipelines::policies::icp::policy::IcpPolicy;
use meritflow_pipelines::policies::icp::reference::icp_reference;
use meritflow_pipelines::policies::icp::tables::IcpParts;
use meritflow_pipelines::statement::Period;
use meritflow_pipelines::time::{slot, Span};
use proptest::prelude::*;

/// 2026-10-01T00:00:00Z.
const BASE: u64 = 1_790_812_800_000;
const STEP: u64 = 20 * 60_000;
const STEPS: u64 = 4 * 72;

fn config(period: Period, algorithm: Type3Algorithm) -> Config {
    let mut config = Config::default();
    config.statements.period = period;
    config.policy.icp.type3_algorithm = algorithm;
    config.policy.icp.live_refresh = Span::minutes(10);
    config
}

fn pick(options: &[&'static str]) -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(options.to_vec()).prop_map(str::to_owned)
}

fn maybe(options: &[&'static str]) -> impl Strategy<Value = Option<String>> {
    proptest::option::weighted(0.85, pick(options))
}

fn body() -> impl Strategy<Value = Body> {
    let node = pick(&["n1", "n2", "n3", "n4", "n5", "n6"]);
    let subnet = pick(&["s1", "s2", "s3"]);
    let region = [
        "Europe,CH,Zurich",
        "North America,USA,California",
        "North America,USA,Nevada",
    ];
    prop_oneof![
        3 => (node.clone(), maybe(&["p1", "p2", "p3"]), maybe(&region), maybe(&["type1", "type3", "type3.1"])).prop_map(
            |(node, provider, region, node_type)| Body::NodeRegistered {
                node: node.into(), provider: provider.map(Into::into), region: region.map(Into::into), node_type: node_type.map(Into::into),
                dc: None, vram_bytes: None, timeout_s: None, stake: None,
            }),
        1 => node.clone().prop_map(|node| Body::NodeLeft { node: node.into() }),
        8 => (node.clone(), subnet.clone(), 0u64..60, 0u64..25).prop_map(|(node, subnet, p, f)| Body::BlockMakerCounters {
            node: node.into(), subnet: subnet.into(), proposed_total: p, failed_total: f,
        }),
        4 => (node, subnet, any::<bool>()).prop_map(|(node, subnet, made)| Body::BlockRound {
            node: node.into(), subnet: subnet.into(), outcome: if made { BlockOutcome::Made } else { BlockOutcome::Failed },
        }),
        1 => (pick(&["Europe", "Europe,CH", "North America,USA", "North America,USA,California"]),
              pick(&["type1", "type3", "type3.1"]),
              proptest::sample::select(vec![304_375u64, 913_125, 1_217_500]),
              proptest::option::of(0u64..=100)).prop_map(|(region, node_type, monthly, pct)| Body::RewardRate {
            region: region.into(), node_type: node_type.into(), xdr_permyriad_per_node_per_month: monthly, reward_coefficient_percent: pct,
        }),
    ]
}

fn stream() -> impl Strategy<Value = Vec<(Event, u64)>> {
    proptest::collection::vec((0u64..STEPS, body()), 1..160).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(seq, (step, body))| {
                let ts = BASE + step * STEP;
                (Event { ts, body }, seq as u64)
            })
            .collect()
    })
}

/// The first row where the two disagree, table by table (the whole parts are too long to read).
fn first_difference(a: &IcpParts, b: &IcpParts) -> String {
    use common::first_difference as diff;
    diff("nodes", &a.nodes, &b.nodes)
        .or_else(|| diff("subnets", &a.subnets, &b.subnets))
        .or_else(|| diff("providers", &a.providers, &b.providers))
        .or_else(|| diff("live", &a.live, &b.live))
        .or_else(|| diff("statements", &a.statements, &b.statements))
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn dataflow_matches_reference(
        events in stream(),
        workers in 1usize..=3,
        middle in 0u64..STEPS,
        period in prop_oneof![Just(Period::Day), Just(Period::Week), Just(Period::Month)],
        algorithm in prop_oneof![Just(Type3Algorithm::V1), Just(Type3Algorithm::V2)],
    ) {
        let config = config(period, algorithm);
        let slide = config.policy.crynux.slide.millis();
        // Far enough past the last event that every day and the month close.
        let end = BASE + 40 * 86_400_000;
        let mid = slot(BASE + middle * STEP + 7 * 60_000, slide);
        let outputs = engine::replay(&config, workers, events.clone(), end, mid).unwrap();
        for as_of in [mid, end] {
            let incremental = outputs.policy::<IcpPolicy>().unwrap().parts(as_of);
            let plain = icp_reference(&events, as_of, slide, &config.policy.icp, config.statements.period);
            prop_assert!(incremental == plain, "as of {}: {}", as_of, first_difference(&incremental, &plain));
        }
    }
}

/// The statement of a closed month is there, with one row per provider and per node.
#[test]
fn a_month_closes_into_a_statement() {
    let mut events = Vec::new();
    let register = |node: &str, provider: &str| Body::NodeRegistered {
        node: node.into(),
        provider: Some(provider.into()),
        region: Some("Europe,CH,Zurich".into()),
        node_type: Some("type1".into()),
        dc: None,
        vram_bytes: None,
        timeout_s: None,
        stake: None,
    };
    events.push(Event {
        ts: BASE,
        body: register("a", "p"),
    });
    events.push(Event {
        ts: BASE,
        body: register("b", "q"),
    });
    for day in 0..31u64 {
        events.push(Event {
            ts: BASE + day * 86_400_000 + 3_600_000,
            body: Body::BlockMakerCounters {
                node: "a".into(),
                subnet: "s".into(),
                proposed_total: 100 * (day + 1),
                failed_total: 0,
            },
        });
    }
    events.push(Event {
        ts: BASE,
        body: Body::RewardRate {
            region: "Europe".into(),
            node_type: "type1".into(),
            xdr_permyriad_per_node_per_month: 304_375,
            reward_coefficient_percent: None,
        },
    });
    let events: Vec<(Event, u64)> = events.into_iter().zip(0..).collect();
    let config = Config::default();
    // November 1st, 01:00: October has just closed.
    let as_of = BASE + 31 * 86_400_000 + 3_600_000;
    let outputs = engine::replay(&config, 2, events.clone(), as_of, as_of - 60_000).unwrap();
    let parts = outputs.policy::<IcpPolicy>().unwrap().parts(as_of);
    assert_eq!(
        parts,
        icp_reference(
            &events,
            as_of,
            60_000,
            &config.policy.icp,
            config.statements.period
        )
    );
    let amounts: Vec<(String, Option<String>, String)> = parts
        .statements
        .iter()
        .map(|r| {
            (
                r.provider.to_string(),
                r.node.as_ref().map(|n| n.to_string()),
                r.amount.to_string(),
            )
        })
        .collect();
    // 31 days at 10000 a day each; b is unassigned every day, its provider has no counts: FR 0.
    assert_eq!(
        amounts,
        [
            ("p".into(), None, "310000".into()),
            ("p".into(), Some("a".into()), "310000".into()),
            ("q".into(), None, "310000".into()),
            ("q".into(), Some("b".into()), "310000".into()),
        ]
    );
    assert!(parts.statements.iter().all(|r| r.period == "2026-10"));
    let before = outputs.policy::<IcpPolicy>().unwrap().parts(as_of - 60_000);
    assert!(
        before.statements.is_empty(),
        "not before the grace has passed"
    );
}
