//! A flood of one node's events — fresh task ids, GPU ids and rating users, as a hostile or
//! broken sender would send them — does not grow the dataflow's state past what
//! `[limits] events_per_sender_per_slot` lets in: ten times the flood leaves the same state.

mod common;

use std::sync::{Arc, Mutex};

use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine::{self, Cluster};
use meritflow_pipelines::events::{decode, Event};
use meritflow_pipelines::flood::{FloodGuard, LimitsConfig};
use meritflow_pipelines::time::{slot, Millis};

const START: Millis = 1_790_812_800_000; // 2026-10-01T00:00Z
const SLOTS: u64 = 4;
const CAP: u32 = 40;

/// `per_slot` events of each of three kinds per minute from one node, every one with an id
/// never seen before; the first ones of each minute are the same whatever `per_slot` is.
fn flood(per_slot: u64) -> Vec<(Event, u64)> {
    let mut lines = vec![format!(
        r#"{{"kind":"node_registered","ts":{START},"node":"n1","vram_bytes":8000000000}}"#
    )];
    for s in 0..SLOTS {
        for i in 0..per_slot {
            let ts = START + s * 60_000 + 1 + i % 59_000;
            lines.push(format!(
                r#"{{"kind":"task_round","ts":{ts},"task":"t-{s}-{i}","round":"commitment","node":"n1","status":"submitted","order":1}}"#
            ));
            lines.push(format!(
                r#"{{"kind":"gpu_sample","ts":{ts},"node":"n1","gpu":"g-{s}-{i}","vram_total_bytes":8000000000,"vram_used_bytes":1}}"#
            ));
            lines.push(format!(
                r#"{{"kind":"rating","ts":{ts},"node":"n1","user":"u-{s}-{i}","stars":5}}"#
            ));
        }
    }
    lines
        .iter()
        .map(|l| decode(l.as_bytes()).expect("a valid event"))
        .zip(0u64..)
        .collect()
}

/// What the guard lets in, in input order (as replay and `meritflow run` apply it).
fn admitted(events: Vec<(Event, u64)>, config: &Config) -> (Vec<(Event, u64)>, usize) {
    let mut guard = FloodGuard::new(config);
    let before = events.len();
    let kept: Vec<_> = events
        .into_iter()
        .filter(|(e, _)| guard.admit(e).is_ok())
        .collect();
    let rejected = before - kept.len();
    (kept, rejected)
}

/// The bytes of every operator state after feeding `events` through their last slot.
fn state_bytes(config: &Config, events: Vec<(Event, u64)>) -> usize {
    let grain = engine::grain(config);
    let mut events = events;
    events.sort_by_key(|(e, seq)| (slot(e.ts, grain), *seq));
    let end = events.iter().map(|(e, _)| slot(e.ts, grain)).max().unwrap();
    let events = Arc::new(events);
    let sizes: Arc<Mutex<usize>> = Arc::default();
    let total = Arc::clone(&sizes);
    engine::run_from(config, &Cluster::local(1), None, move |mut session| {
        for (event, seq) in events.iter() {
            session.feed(event, *seq);
        }
        let total = Arc::clone(&total);
        session.checkpoint(end, move |cut| {
            *total.lock().unwrap() += cut.states.values().map(Vec::len).sum::<usize>();
        });
        session.stop_after(end);
    })
    .expect("engine run");
    let bytes = *sizes.lock().unwrap();
    bytes
}

#[test]
fn ten_times_the_flood_leaves_the_same_state_and_each_event_past_the_cap_is_rejected() {
    let mut config = Config::default();
    config.limits = LimitsConfig {
        events_per_sender_per_slot: CAP,
    };
    let (small, rejected_small) = admitted(flood(CAP as u64 * 3), &config);
    let (large, rejected_large) = admitted(flood(CAP as u64 * 30), &config);
    let past_cap = |per_slot: u64| (3 * SLOTS * (per_slot - CAP as u64)) as usize;
    assert_eq!(rejected_small, past_cap(CAP as u64 * 3));
    assert_eq!(rejected_large, past_cap(CAP as u64 * 30));
    assert_eq!(small.len(), large.len(), "the same events let in");
    let bounded_small = state_bytes(&config, small);
    let bounded_large = state_bytes(&config, large);
    assert_eq!(
        bounded_small, bounded_large,
        "the state does not grow with the flood"
    );

    // Without the cap the same flood does grow the state: the events reach per-node state.
    let mut open = config.clone();
    open.limits.events_per_sender_per_slot = 0;
    let (all, none_rejected) = admitted(flood(CAP as u64 * 30), &open);
    assert_eq!(none_rejected, 0);
    let unbounded = state_bytes(&open, all);
    eprintln!("state after the flood: {bounded_large} bytes capped, {unbounded} bytes uncapped");
    assert!(
        unbounded > 5 * bounded_large,
        "uncapped {unbounded} bytes vs capped {bounded_large}"
    );
}

/// Through `meritflow replay`: the events past the cap are in the `rejects` table, each with a
/// reason naming the sender's field and the setting to raise.
#[test]
fn replay_keeps_the_rejected_flood_in_the_rejects_table() {
    let events = common::scratch("flood.jsonl");
    let lines: Vec<String> = flood(CAP as u64 * 2)
        .iter()
        .map(|(e, _)| e.to_json())
        .collect();
    std::fs::write(&events, lines.join("\n") + "\n").unwrap();
    let config = common::scratch("flood.toml");
    std::fs::write(
        &config,
        format!("[limits]\nevents_per_sender_per_slot = {CAP}\n"),
    )
    .unwrap();
    let out = common::stdout(&common::replay_csv(
        &events,
        &["SELECT kind, count(*) AS n FROM rejects WHERE reason LIKE 'field `node`: n1 sent more than 40 % events in one slot (limits.events_per_sender_per_slot)%' GROUP BY kind ORDER BY kind"],
        &["--config", config.to_str().unwrap()],
    ));
    let per_kind = SLOTS * CAP as u64;
    assert_eq!(
        out.trim(),
        format!("kind,n\ngpu_sample,{per_kind}\nrating,{per_kind}\ntask_round,{per_kind}"),
    );
}
