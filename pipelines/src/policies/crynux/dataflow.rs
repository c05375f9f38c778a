//! The crynux dataflow. Shape:
//!
//! ```text
//! task inputs ─► reduce per task (task_outcome) ─► window filter ─┬► explode (count, sum) per node
//!                                                                 ├► node machines (kick-out)
//!                                                                 └► fee split rows
//! node events ───────────────────────────────────────────────────► node machines (registry, health)
//! gpu samples ─► latest per GPU (hierarchical) ─► max per node
//! ```
//!
//! Raw task inputs live in the arrangement for `2 × task_grace` only (inserted at their slot,
//! retracted by the input itself). Derived rows pass a temporal filter that shows a row while
//! its task time is in the window, as the row stood `task_grace` after the task's start: later
//! changes (including those caused by raw inputs expiring) are not passed on. See
//! [`freeze_after`] for why twice the grace is enough.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};

use differential_dataflow::collection::AsCollection;
use differential_dataflow::hashable::Hashable;
use differential_dataflow::input::InputSession;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::Capability;
use timely::dataflow::Scope;

use super::config::CrynuxConfig;
use super::formulas::{split_fee, task_outcome, TaskInput};
use super::node_machine::{NodeEvent, NodeMachine, NodeOut};
use super::tables::PayRow;
use crate::events::{Body, Event};
use crate::id::{Id, Interner};
use crate::time::{slot, Millis};

/// A counted task of a node: (node, task, task time, task score).
pub type TaskRow = (Id, Id, Millis, u32);
/// A GPU sample as the VRAM computation keeps it: ((node, gpu), (ts, seq, vram_total_bytes)).
pub type GpuReading = ((Id, Id), (Millis, u64, u64));

/// The input sessions of the crynux dataflow.
pub struct CrynuxInputs {
    pub tasks: InputSession<Millis, (Id, TaskInput), isize>,
    pub nodes: InputSession<Millis, NodeEvent, isize>,
    pub gpus: InputSession<Millis, GpuReading, isize>,
    cfg: CrynuxConfig,
    ids: Interner,
}

/// The collections the crynux dataflow maintains.
pub struct CrynuxOutputs<'s> {
    pub node_out: Collection<'s, Millis, NodeOut>,
    /// Per node, (count, sum of task scores) over the window, as the collection's differences:
    /// no arrangement needed, the reader accumulates them.
    pub tasks: Collection<'s, Millis, Id, (isize, isize)>,
    pub gpu_vram: Collection<'s, Millis, (Id, u64)>,
    pub pay: Collection<'s, Millis, PayRow>,
}

impl CrynuxInputs {
    pub fn new(cfg: &CrynuxConfig) -> CrynuxInputs {
        CrynuxInputs {
            tasks: InputSession::new(),
            nodes: InputSession::new(),
            gpus: InputSession::new(),
            cfg: cfg.clone(),
            ids: Interner::default(),
        }
    }

    /// Moves every session to `time`; events fed afterwards count at `time`.
    pub fn advance_to(&mut self, time: Millis) {
        self.tasks.advance_to(time);
        self.nodes.advance_to(time);
        self.gpus.advance_to(time);
    }

    pub fn flush(&mut self) {
        self.tasks.flush();
        self.nodes.flush();
        self.gpus.flush();
    }

    /// Feeds one event (the sessions must be at its slot), with its retraction when it leaves
    /// what the dataflow keeps.
    pub fn feed(&mut self, event: &Event, seq: u64) {
        let at = slot(event.ts, self.cfg.slide.millis());
        let keep_task = at.saturating_add(2 * self.cfg.task_grace.millis());
        let keep_sample = at.saturating_add(self.cfg.window.millis());
        if let Some((task, input)) = TaskInput::from_event(event, seq, &mut self.ids) {
            let record = (task.to_owned(), input);
            self.tasks.update_at(record.clone(), at, 1);
            self.tasks.update_at(record, keep_task, -1);
        }
        if let Some(node_event) = NodeEvent::from_event(event, seq, &mut self.ids) {
            self.nodes.update_at(node_event, at, 1);
        }
        if let Body::GpuSample(sample) = &event.body {
            let record = (
                (self.ids.id(&sample.node), self.ids.id(&sample.gpu)),
                (event.ts, seq, sample.vram_total_bytes),
            );
            self.gpus.update_at(record.clone(), at, 1);
            self.gpus.update_at(record, keep_sample, -1);
        }
    }
}
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
enum TaskOut {
    Score(TaskRow),
    Pay(PayRow),
}

/// Builds the dataflow in `scope` over the sessions of `inputs`.
pub fn build<'s>(
    scope: Scope<'s, Millis>,
    inputs: &mut CrynuxInputs,
    cfg: &CrynuxConfig,
) -> CrynuxOutputs<'s> {
    let task_inputs = inputs.tasks.to_collection(scope.clone());
    let node_events = inputs.nodes.to_collection(scope.clone());
    let gpu_readings = inputs.gpus.to_collection(scope);

    let cfg_task = cfg.clone();
    let outcomes =
        task_inputs.reduce_named("CrynuxTaskOutcome", move |task: &Id, inputs, output| {
            let live = inputs
                .iter()
                .filter(|(_, count)| *count > 0)
                .map(|(input, _)| *input);
            let Some(outcome) = task_outcome(live, &cfg_task) else {
                return;
            };
            for (node, score) in &outcome.scores {
                output.push((
                    TaskOut::Score((node.clone(), task.clone(), outcome.time, *score)),
                    1,
                ));
            }
            if let Some(fee) = outcome.fee {
                let scores: Vec<u32> = outcome.scores.iter().map(|(_, s)| *s).collect();
                for ((node, score), pay) in outcome.scores.iter().zip(split_fee(fee, &scores)) {
                    let row = PayRow {
                        task: task.clone(),
                        node: node.clone(),
                        time: outcome.time,
                        score: *score,
                        fee,
                        pay,
                    };
                    output.push((TaskOut::Pay(row), 1));
                }
            }
        });
    let outcomes = within_window(outcomes.map(|(_task, out)| out), cfg, |out| match out {
        TaskOut::Score((_, _, time, _)) => *time,
        TaskOut::Pay(row) => row.time,
    });
    let scores = outcomes.clone().flat_map(|out| match out {
        TaskOut::Score(row) => Some(row),
        TaskOut::Pay(_) => None,
    });
    let pay = outcomes.flat_map(|out| match out {
        TaskOut::Pay(row) => Some(row),
        TaskOut::Score(_) => None,
    });

    let tasks = scores
        .clone()
        .explode(|(node, _task, _time, score)| Some((node, (1isize, score as isize))));

    let gpu_vram = latest_per_key(gpu_readings)
        .map(|((node, _gpu), (_ts, _seq, vram))| (node, vram))
        .reduce_named("CrynuxMaxVram", |_node, vrams, output| {
            let max = vrams.iter().filter(|(_, c)| *c > 0).map(|(v, _)| **v).max();
            output.extend(max.map(|v| (v, 1)));
        });

    let node_out = node_machines(node_events, scores, cfg);
    CrynuxOutputs {
        node_out,
        tasks,
        gpu_vram,
        pay,
    }
}

/// A task's rows stop changing this long after the task's start (its first slot).
///
/// Raw inputs expire `2 × task_grace` after their own slot. When a task's earliest input
/// expires at `start + 2g`, the reduce re-derives the task from what is left, with a later start
/// `s1`; that artefact would pass only if `start + 2g < s1 + g`, i.e. if the task's events span
/// more than `g`, and those later events were already frozen out. So the freeze hides every
/// expiry artefact, and a task's events more than `2g` after its start begin it anew.
pub fn freeze_after(cfg: &CrynuxConfig) -> Millis {
    cfg.task_grace.millis()
}

/// Shows each record while `start <= t < start + window` (`start = slot(time)`), as it stood
/// at `start + freeze_after`: updates at or after that are dropped. A temporal filter, so
/// windowing costs no arrangement of its own.
fn within_window<'s, D>(
    collection: Collection<'s, Millis, D>,
    cfg: &CrynuxConfig,
    time_of: impl Fn(&D) -> Millis + 'static,
) -> Collection<'s, Millis, D>
where
    D: Clone + 'static,
{
    let cfg = cfg.clone();
    collection
        .inner
        .flat_map(move |(data, t, diff)| {
            let mut out = Vec::new();
            if let Some((from, end)) = window_pass(time_of(&data), t, &cfg) {
                out.push((data.clone(), from, diff));
                out.push((data, end, -diff));
            }
            out
        })
        .as_collection()
}

/// The window rule for one update at `t` of a row with task time `time`: `None` when it is
/// dropped, else when it takes effect and when its scheduled undo (the window's end) does.
pub fn window_pass(time: Millis, t: Millis, cfg: &CrynuxConfig) -> Option<(Millis, Millis)> {
    let start = slot(time, cfg.slide.millis());
    let end = start.saturating_add(cfg.window.millis());
    (t < end.min(start.saturating_add(freeze_after(cfg)))).then_some((t.max(start), end))
}

/// Bucket widths (as shifts of milliseconds) of the hierarchical "latest" reduction: each level
/// reduces at most 2^6 child buckets, so no reduce ever sees a long history of one key.
const LATEST_LEVELS: [u32; 4] = [16, 22, 28, 34];

/// The latest value per key by (ts, seq), as a hierarchy of reduces over ever coarser time
/// buckets; the top level has one value per bucket of 2^34 ms (~200 days).
fn latest_per_key<'s>(
    readings: Collection<'s, Millis, GpuReading>,
) -> Collection<'s, Millis, GpuReading> {
    fn keep_latest(
        _key: &((Id, Id), u64),
        values: &[(&(Millis, u64, u64), isize)],
        output: &mut Vec<((Millis, u64, u64), isize)>,
    ) {
        if let Some((value, _)) = values.iter().rev().find(|(_, c)| *c > 0) {
            output.push(((*value).clone(), 1));
        }
    }
    let mut level = readings
        .map(|(key, value)| ((key, value.0 >> LATEST_LEVELS[0]), value))
        .reduce_named("LatestLevel", keep_latest);
    for shift in &LATEST_LEVELS[1..] {
        let shift = *shift;
        level = level
            .map(move |((key, _), value)| ((key, value.0 >> shift), value))
            .reduce_named("LatestLevel", keep_latest);
    }
    level
        .map(|((key, _), value)| ((key, 0u64), value))
        .reduce_named("Latest", keep_latest)
        .map(|((key, _), value)| (key, value))
}

/// Runs one [`NodeMachine`] per node, keyed by node across workers. Each slide's events are
/// applied once both inputs have passed it, in the order the page fixes; the machines' visible
/// rows come out as a differential collection.
fn node_machines<'s>(
    events: Collection<'s, Millis, NodeEvent>,
    scores: Collection<'s, Millis, TaskRow>,
    cfg: &CrynuxConfig,
) -> Collection<'s, Millis, NodeOut> {
    let cfg = cfg.clone();
    let by_event = Exchange::new(|(event, _, _): &(NodeEvent, Millis, isize)| event.node.hashed());
    let by_row = Exchange::new(|(row, _, _): &(TaskRow, Millis, isize)| row.0.hashed());
    type Pending = (Vec<NodeEvent>, Vec<(TaskRow, isize)>);
    events
        .inner
        .binary_frontier(
            scores.inner,
            by_event,
            by_row,
            "CrynuxNodeMachines",
            move |_initial, _info| {
                let mut pending: BTreeMap<Millis, (Capability<Millis>, Pending)> = BTreeMap::new();
                let mut machines: HashMap<Id, NodeMachine> = HashMap::new();
                let mut shown: HashMap<Id, Vec<NodeOut>> = HashMap::new();
                move |(events_in, events_frontier), (rows_in, rows_frontier), output| {
                    events_in.for_each(|cap, data| {
                        for (event, time, diff) in data.drain(..) {
                            debug_assert!(diff > 0, "node events are only ever inserted");
                            let entry = pending
                                .entry(time)
                                .or_insert_with(|| (cap.delayed(&time, 0), Default::default()));
                            entry.1 .0.push(event);
                        }
                    });
                    rows_in.for_each(|cap, data| {
                        for (row, time, diff) in data.drain(..) {
                            let entry = pending
                                .entry(time)
                                .or_insert_with(|| (cap.delayed(&time, 0), Default::default()));
                            entry.1 .1.push((row, diff));
                        }
                    });
                    while let Some(entry) = pending.first_entry() {
                        let time = *entry.key();
                        if events_frontier.less_equal(&time) || rows_frontier.less_equal(&time) {
                            break;
                        }
                        let (cap, (mut node_events, rows)) = entry.remove();
                        node_events.sort();
                        let mut touched: Vec<Id> = Vec::new();
                        for event in &node_events {
                            machines
                                .entry(event.node.clone())
                                .or_default()
                                .apply(event, &cfg);
                            touched.push(event.node.clone());
                        }
                        for ((node, task, task_time, score), diff) in rows {
                            let machine = machines.entry(node.clone()).or_default();
                            machine.apply_task(time, task_time, &task, score, diff as i64, &cfg);
                            touched.push(node);
                        }
                        touched.sort();
                        touched.dedup();
                        let mut session = output.session(&cap);
                        for node in touched {
                            let machine = machines.get_mut(&node).expect("touched machines exist");
                            machine.evaluate_kickout(time, &cfg);
                            let now = machine.outputs();
                            let before = shown.remove(&node).unwrap_or_default();
                            for old in before.iter().filter(|o| !now.contains(o)) {
                                session.give((old.clone(), time, -1isize));
                            }
                            for new in now.iter().filter(|n| !before.contains(n)) {
                                session.give((new.clone(), time, 1isize));
                            }
                            if !now.is_empty() {
                                shown.insert(node, now);
                            }
                        }
                    }
                }
            },
        )
        .as_collection()
}
