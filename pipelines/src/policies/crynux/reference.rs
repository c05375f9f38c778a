//! A plain, non-incremental computation of everything the crynux dataflow maintains, straight
//! from the page: at every slide boundary with events, recompute the task rows from scratch and
//! walk the node machines. Slow on purpose (quadratic); the property tests compare the dataflow
//! against it on random streams.

use std::collections::{BTreeMap, BTreeSet};

use super::config::CrynuxConfig;
use super::formulas::{split_fee, task_outcome, TaskInput};
use super::node_machine::{window_end, NodeEvent, NodeMachine, NodeOut};
use super::tables::{CrynuxParts, PayRow};
use crate::events::{Body, Event};
use crate::time::{slot, Millis};

type Row = (String, String, Millis, u32);

/// Computes the parts as of `as_of` from events given with their input sequence numbers.
pub fn parts(events: &[(Event, u64)], as_of: Millis, cfg: &CrynuxConfig) -> CrynuxParts {
    let slide = cfg.slide.millis();
    let at = |e: &Event| slot(e.ts, slide);
    let slots: BTreeSet<Millis> = events
        .iter()
        .map(|(e, _)| at(e))
        .filter(|t| *t <= as_of)
        .collect();

    let mut machines: BTreeMap<String, NodeMachine> = BTreeMap::new();
    let mut previous: BTreeSet<Row> = BTreeSet::new();
    for &t in &slots {
        let mut node_events: Vec<NodeEvent> = events
            .iter()
            .filter(|(e, _)| at(e) == t)
            .filter_map(|(e, seq)| NodeEvent::from_event(e, *seq))
            .collect();
        node_events.sort();
        for event in &node_events {
            machines
                .entry(event.node.clone())
                .or_default()
                .apply(event, cfg);
        }
        let (rows, _) = rows_at(events, t, cfg);
        for row in previous.difference(&rows) {
            machines
                .entry(row.0.clone())
                .or_default()
                .apply_task(t, row.2, &row.1, row.3, -1, cfg);
        }
        for row in rows.difference(&previous) {
            machines
                .entry(row.0.clone())
                .or_default()
                .apply_task(t, row.2, &row.1, row.3, 1, cfg);
        }
        for machine in machines.values_mut() {
            machine.evaluate_kickout(t, cfg);
        }
        previous = rows;
    }

    let mut parts = CrynuxParts::default();
    for out in machines.values().flat_map(NodeMachine::outputs) {
        match out {
            NodeOut::Node(row) => parts.nodes.push(row),
            NodeOut::Trigger(row) => parts.triggers.push(row),
        }
    }
    let (rows, pay) = rows_at(events, as_of, cfg);
    for (node, _, _, score) in rows {
        let entry = parts.tasks.entry(node).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += score as i64;
    }
    parts.pay = pay;

    let mut latest: BTreeMap<(&str, &str), (Millis, u64, u64)> = BTreeMap::new();
    for (event, seq) in events {
        if let Body::GpuSample(s) = &event.body {
            let start = at(event);
            if start <= as_of && as_of < start + cfg.window.millis() {
                let value = (event.ts, *seq, s.vram_total_bytes);
                let entry = latest.entry((&s.node, &s.gpu)).or_insert(value);
                *entry = (*entry).max(value);
            }
        }
    }
    for ((node, _), (_, _, vram)) in latest {
        let entry = parts.gpu_vram.entry(node.to_owned()).or_insert(0);
        *entry = (*entry).max(vram);
    }
    parts.canonical()
}

/// The counted task rows and fee split rows shown at time `t`, from scratch.
fn rows_at(events: &[(Event, u64)], t: Millis, cfg: &CrynuxConfig) -> (BTreeSet<Row>, Vec<PayRow>) {
    let keep = cfg.window.millis() + cfg.task_grace.millis();
    let mut by_task: BTreeMap<&str, Vec<TaskInput>> = BTreeMap::new();
    for (event, seq) in events {
        let start = slot(event.ts, cfg.slide.millis());
        if !(start <= t && t < start + keep) {
            continue;
        }
        if let Some((task, input)) = TaskInput::from_event(event, *seq) {
            by_task.entry(task).or_default().push(input);
        }
    }
    let mut rows = BTreeSet::new();
    let mut pay = Vec::new();
    for (task, inputs) in by_task {
        let Some(outcome) = task_outcome(&inputs, cfg) else {
            continue;
        };
        let in_window =
            slot(outcome.time, cfg.slide.millis()) <= t && t < window_end(outcome.time, cfg);
        if !in_window {
            continue;
        }
        for (node, score) in &outcome.scores {
            rows.insert((node.clone(), task.to_owned(), outcome.time, *score));
        }
        if let Some(fee) = outcome.fee {
            let scores: Vec<u32> = outcome.scores.iter().map(|(_, s)| *s).collect();
            for ((node, score), amount) in outcome.scores.iter().zip(split_fee(fee, &scores)) {
                pay.push(PayRow {
                    task: task.to_owned(),
                    node: node.clone(),
                    time: outcome.time,
                    score: *score,
                    fee,
                    pay: amount,
                });
            }
        }
    }
    (rows, pay)
}
