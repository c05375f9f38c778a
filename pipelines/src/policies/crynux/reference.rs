//! A plain, non-incremental computation of everything the crynux dataflow maintains, straight
//! from the page: at every moment something can change, recompute the task rows from scratch
//! (no arrangements, no diffs kept between moments) and walk the node machines. Slow on purpose (quadratic); the property tests compare the dataflow
//! against it on random streams.

use std::collections::{BTreeMap, BTreeSet};

use super::config::CrynuxConfig;
use super::dataflow::window_pass;
use super::formulas::{split_fee, task_outcome, TaskInput};
use super::node_machine::{NodeEvent, NodeMachine, NodeOut};
use super::tables::{CrynuxParts, PayRow};
use crate::events::{Body, Event};
use crate::id::Id;
use crate::time::{slot, Millis};

type Row = (Id, Id, Millis, u32);

/// Computes the parts as of `as_of` from events given with their input sequence numbers.
pub fn parts(events: &[(Event, u64)], as_of: Millis, cfg: &CrynuxConfig) -> CrynuxParts {
    let slide = cfg.slide.millis();
    let keep = 2 * cfg.task_grace.millis();
    let at = |e: &Event| slot(e.ts, slide);

    // Every moment the task rows may change: arrivals, and expiries of raw task inputs.
    let mut task_times: BTreeSet<Millis> = BTreeSet::new();
    for (event, seq) in events {
        if TaskInput::from_event(event, *seq).is_some() {
            task_times.extend([at(event), at(event) + keep]);
        }
    }
    let task_times: Vec<Millis> = task_times.into_iter().filter(|t| *t <= as_of).collect();
    let (row_updates, pay_updates) = shown_updates(events, &task_times, cfg);

    let mut moments: BTreeSet<Millis> = events.iter().map(|(e, _)| at(e)).collect();
    moments.extend(row_updates.iter().map(|(t, _, _)| *t));
    let mut machines: BTreeMap<Id, NodeMachine> = BTreeMap::new();
    for &t in moments.iter().filter(|t| **t <= as_of) {
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
        for (_, (node, task, time, score), diff) in row_updates.iter().filter(|(u, _, _)| *u == t) {
            machines
                .entry(node.clone())
                .or_default()
                .apply_task(t, *time, task, *score, *diff, cfg);
        }
        for machine in machines.values_mut() {
            machine.evaluate_kickout(t, cfg);
        }
    }

    let mut parts = CrynuxParts::default();
    for out in machines.values().flat_map(NodeMachine::outputs) {
        match out {
            NodeOut::Node(row) => parts.nodes.push(row),
            NodeOut::Trigger(row) => parts.triggers.push(row),
        }
    }
    for ((node, _, _, score), count) in accumulate(&row_updates, as_of) {
        let entry = parts.tasks.entry(node).or_insert((0, 0));
        entry.0 += count;
        entry.1 += count * score as i64;
    }
    parts.pay = accumulate(&pay_updates, as_of)
        .into_iter()
        .flat_map(|(row, n)| std::iter::repeat_n(row, n as usize))
        .collect();

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
        let entry = parts.gpu_vram.entry(Id::from(node)).or_insert(0);
        *entry = (*entry).max(vram);
    }
    parts.canonical()
}

type Updates<T> = Vec<(Millis, T, i64)>;

/// The shown changes of task rows and fee split rows: the rows derived from scratch at each
/// moment, diffed against the moment before, each change passed through the window rule.
fn shown_updates(
    events: &[(Event, u64)],
    times: &[Millis],
    cfg: &CrynuxConfig,
) -> (Updates<Row>, Updates<PayRow>) {
    let (mut rows, mut pays) = (Vec::new(), Vec::new());
    let (mut prev_rows, mut prev_pays) = (BTreeSet::new(), BTreeSet::new());
    for &y in times {
        let (now_rows, now_pays) = derived_at(events, y, cfg);
        pass(&prev_rows, &now_rows, y, |r: &Row| r.2, &mut rows, cfg);
        pass(
            &prev_pays,
            &now_pays,
            y,
            |p: &PayRow| p.time,
            &mut pays,
            cfg,
        );
        (prev_rows, prev_pays) = (now_rows, now_pays);
    }
    (rows, pays)
}

fn pass<T: Ord + Clone>(
    before: &BTreeSet<T>,
    now: &BTreeSet<T>,
    y: Millis,
    time_of: impl Fn(&T) -> Millis,
    out: &mut Updates<T>,
    cfg: &CrynuxConfig,
) {
    let changes = before
        .difference(now)
        .map(|d| (d, -1))
        .chain(now.difference(before).map(|d| (d, 1)));
    for (d, diff) in changes {
        if let Some((from, end)) = window_pass(time_of(d), y, cfg) {
            out.push((from, d.clone(), diff));
            out.push((end, d.clone(), -diff));
        }
    }
}

fn accumulate<T: Ord + Clone>(updates: &Updates<T>, as_of: Millis) -> Vec<(T, i64)> {
    let mut counts: BTreeMap<T, i64> = BTreeMap::new();
    for (_, d, diff) in updates.iter().filter(|(t, _, _)| *t <= as_of) {
        *counts.entry(d.clone()).or_default() += diff;
    }
    counts.into_iter().filter(|(_, n)| *n != 0).collect()
}

/// Task rows and fee split rows from the raw task inputs still kept at time `t`.
fn derived_at(
    events: &[(Event, u64)],
    t: Millis,
    cfg: &CrynuxConfig,
) -> (BTreeSet<Row>, BTreeSet<PayRow>) {
    let keep = 2 * cfg.task_grace.millis();
    let mut by_task: BTreeMap<Id, Vec<TaskInput>> = BTreeMap::new();
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
    let mut pay = BTreeSet::new();
    for (task, inputs) in by_task {
        let Some(outcome) = task_outcome(&inputs, cfg) else {
            continue;
        };
        for (node, score) in &outcome.scores {
            rows.insert((node.clone(), Id::clone(&task), outcome.time, *score));
        }
        if let Some(fee) = outcome.fee {
            let scores: Vec<u32> = outcome.scores.iter().map(|(_, s)| *s).collect();
            for ((node, score), amount) in outcome.scores.iter().zip(split_fee(fee, &scores)) {
                pay.insert(PayRow {
                    task: Id::clone(&task),
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
