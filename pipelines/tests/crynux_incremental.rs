//! The crynux dataflow against the plain reference (`policies::crynux::reference`) on random
//! event streams: same events, same parts, at the end and at a moment in the middle, on one and
//! on two workers. Short windows and a small kick-out count make windowing, retraction,
//! exclusion and kick-out happen within a few dozen events.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine;
use meritflow_pipelines::events::{Body, Event, GpuSample, Round, RoundStatus};
use meritflow_pipelines::policies::crynux::policy::CrynuxPolicy;
use meritflow_pipelines::policies::crynux::scores::{
    finish, network_json, node_row, CrynuxChanges, ScoreBook, NETWORK_KEY,
};
use meritflow_pipelines::policies::crynux::tables::tables;
use meritflow_pipelines::policies::crynux::{reference, CrynuxConfig};
use meritflow_pipelines::time::{slot, Span};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value;

const NODES: [&str; 4] = ["a", "b", "c", "d"];
const BASE: u64 = 1_790_812_800_000;

fn config() -> Config {
    let mut config = Config::default();
    config.policy.crynux = CrynuxConfig {
        window: Span::minutes(10),
        slide: Span::minutes(1),
        kickout_tasks: 3,
        task_grace: Span::minutes(3),
        health_tau: Span::minutes(5),
        ..CrynuxConfig::default()
    };
    config
}

fn body() -> impl Strategy<Value = Body> {
    let node = proptest::sample::select(NODES.to_vec()).prop_map(str::to_owned);
    let task = (0u8..8).prop_map(|t| format!("T{t}"));
    let status = prop_oneof![
        4 => Just(RoundStatus::Submitted),
        1 => Just(RoundStatus::ErrorReported),
        2 => Just(RoundStatus::Timeout),
        1 => Just(RoundStatus::Aborted)
    ];
    let round = prop_oneof![Just(Round::Commitment), Just(Round::Disclosure)];
    prop_oneof![
        2 => (node.clone(), proptest::option::of(0u64..4), proptest::option::of(30u64..200), proptest::option::of(0u32..5)).prop_map(
            |(node, vram, timeout, stake)| Body::NodeRegistered {
                node: node.into(),
                provider: None,
                region: None,
                node_type: None,
                dc: None,
                vram_bytes: vram.map(|v| v << 30),
                timeout_s: timeout,
                stake: stake.map(|s| Decimal::from(s * 1000)),
            }
        ),
        1 => node.clone().prop_map(|node| Body::NodeLeft { node: node.into() }),
        12 => (task.clone(), round, node.clone(), status, 1u8..=3).prop_map(|(task, round, node, status, order)| Body::TaskRound {
            task: task.into(),
            round,
            node: node.into(),
            status,
            order: status.needs_order().then_some(order),
            system: None,
        }),
        1 => (task.clone(), node.clone()).prop_map(|(task, node)| Body::TaskSlashed { task: task.into(), node: node.into() }),
        2 => (task, 0u32..2000).prop_map(|(task, fee)| Body::TaskFee { task: task.into(), fee: Decimal::from(fee) }),
        2 => (node, 0u8..2, 1u64..5).prop_map(|(node, gpu, vram)| Body::GpuSample(GpuSample {
            node: node.into(),
            gpu: format!("g{gpu}").into(),
            vram_total_bytes: vram << 30,
            vram_used_bytes: None,
            gpu_util_pct: None,
            mem_util_pct: None,
            temp_c: None,
            power_w: None,
            energy_j: None,
            sm_clock_mhz: None,
            ecc_dbe_total: None,
            xid: None,
        })),
    ]
}

/// Events at 15-second steps over 30 minutes, so ties and out-of-order arrivals are common.
fn stream() -> impl Strategy<Value = Vec<(Event, u64)>> {
    proptest::collection::vec((0u64..120, body()), 1..90).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(seq, (step, body))| {
                (
                    Event {
                        ts: BASE + step * 15_000,
                        body,
                    },
                    seq as u64,
                )
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn dataflow_matches_reference(events in stream(), workers in 1usize..=2, middle in 0u64..120) {
        let config = config();
        let cfg = &config.policy.crynux;
        let slide = cfg.slide.millis();
        let end = slot(events.iter().map(|(e, _)| e.ts).max().unwrap(), slide);
        let mid = slot(BASE + middle * 15_000, slide).min(end);
        let outputs = engine::replay(&config, workers, events.clone(), end, mid).unwrap();
        for as_of in [mid, end] {
            let incremental = outputs.policy::<CrynuxPolicy>().unwrap().parts(as_of);
            let plain = reference::parts(&events, as_of, cfg);
            prop_assert_eq!(&incremental, &plain, "as of {}", as_of);
        }
    }
}

/// The scores topic written as the publisher writes it (the whole book at the first
/// publication, then the rows of the nodes whose parts changed, and the network's row each
/// time) and read back by `finish` gives `crynux_qos` exactly, at every slot.
fn scores_topic_mismatches(events: Vec<(Event, u64)>, workers: usize) -> Vec<String> {
    let config = config();
    let slide = config.policy.crynux.slide.millis();
    let mut events = events;
    events.sort_by_key(|(e, seq)| (slot(e.ts, slide), *seq));
    let first = slot(events[0].0.ts, slide);
    let end = slot(events.last().expect("events").0.ts, slide) + 2 * slide;
    let mismatches = Arc::new(Mutex::new(Vec::new()));
    let (found, events, cfg) = (
        Arc::clone(&mismatches),
        Arc::new(events),
        config.policy.crynux.clone(),
    );
    engine::run(&config, workers, move |mut session| {
        if session.index() == 0 {
            let mut book: Option<ScoreBook> = None;
            let mut topic: BTreeMap<String, Value> = BTreeMap::new();
            let mut next = 0;
            for t in (first..=end).step_by(slide as usize) {
                while next < events.len() && slot(events[next].0.ts, slide) <= t {
                    session.feed(&events[next].0, events[next].1);
                    next += 1;
                }
                session.complete_through(t);
                let outputs = session.outputs();
                let dirty = match book.as_mut() {
                    Some(book) => book.apply(outputs.fold(t).changes::<CrynuxChanges>().unwrap()),
                    None => {
                        let whole =
                            ScoreBook::of(&outputs.policy::<CrynuxPolicy>().unwrap().parts(t));
                        outputs.compact(t);
                        book.insert(whole).nodes()
                    }
                };
                let book = book.as_mut().expect("book");
                for node in dirty {
                    match book.own(&node) {
                        Some(own) => topic.insert(
                            node.to_string(),
                            serde_json::from_slice(&node_row(
                                &node,
                                own,
                                "2026-10-01T00:00:00.000Z",
                            ))
                            .expect("a JSON row"),
                        ),
                        None => topic.remove(&*node),
                    };
                }
                let network = network_json(&book.network(t, &cfg), &cfg);
                topic.insert(NETWORK_KEY.to_owned(), Value::Object(network));
                let mut finished = finish(&topic).expect("finishable");
                let table = tables(&outputs.policy::<CrynuxPolicy>().unwrap().parts(t), t, &cfg)
                    .swap_remove(1);
                let mut mismatches = found.lock().expect("mismatches");
                for i in 0..table.rows.len() {
                    let want = table.row_json(i);
                    let node = want["node"].as_str().expect("node").to_owned();
                    let mut got = finished.remove(&node).unwrap_or_default();
                    got.remove("as_of");
                    if !same_row(&got, &want) {
                        mismatches.push(format!("at {t}: table {want:?}, topic {got:?}"));
                    }
                }
                for node in finished.keys() {
                    mismatches.push(format!("at {t}: {node} on the topic, not in the table"));
                }
            }
        }
        session.stop_after(end);
    })
    .expect("run");
    let found = mismatches.lock().expect("mismatches").clone();
    found
}

/// Equal, but for floats a few units in the last place apart: the rows are read back with
/// serde_json's default float parser, which is not always correctly rounded (a reader with an
/// exact parser gets the table's values bit for bit).
fn same_row(a: &serde_json::Map<String, Value>, b: &serde_json::Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter().all(|(k, x)| match (x, b.get(k)) {
            (Value::Number(x), Some(Value::Number(y))) => {
                let (x, y) = (
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                );
                x == y || (x.to_bits() as i64 - y.to_bits() as i64).abs() <= 4
            }
            (x, y) => Some(x) == y,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn scores_topic_finishes_to_crynux_qos(events in stream(), workers in 1usize..=2) {
        let mismatches = scores_topic_mismatches(events, workers);
        prop_assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }
}

/// A node whose last three tasks score below 0.2 x 20 is kicked out, by both computations.
#[test]
fn kickout_fires_in_both() {
    let config = config();
    let mut events = vec![Event {
        ts: BASE,
        body: Body::NodeRegistered {
            node: "a".into(),
            provider: None,
            region: None,
            node_type: None,
            dc: None,
            vram_bytes: None,
            timeout_s: Some(60),
            stake: None,
        },
    }];
    for t in 0..4u64 {
        for (node, order) in [("b", 1u8), ("a", 3)] {
            events.push(Event {
                ts: BASE + 60_000 * (t + 1),
                body: Body::TaskRound {
                    task: format!("T{t}").into(),
                    round: Round::Commitment,
                    node: node.into(),
                    status: RoundStatus::Submitted,
                    order: Some(order),
                    system: None,
                },
            });
        }
    }
    let events: Vec<(Event, u64)> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| (e, i as u64))
        .collect();
    let as_of = BASE + 5 * 60_000;
    let outputs = engine::replay(&config, 1, events.clone(), as_of, as_of).unwrap();
    let parts = outputs.policy::<CrynuxPolicy>().unwrap().parts(as_of);
    assert_eq!(
        parts,
        reference::parts(&events, as_of, &config.policy.crynux)
    );
    assert_eq!(parts.triggers.len(), 1, "{:?}", parts.triggers);
    assert_eq!(parts.triggers[0].rule, "kickout");
    assert_eq!(
        parts.triggers[0].ts,
        BASE + 3 * 60_000,
        "fires when the third low task is in"
    );
}
