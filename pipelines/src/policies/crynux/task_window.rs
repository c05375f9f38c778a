//! Tasks as the crynux window sees them, one [`TaskWindows`] per worker (tasks routed by id).
//!
//! A task's rows are a function of its raw inputs still kept (`task_outcome` over them); a raw
//! input is kept for `2 × task_grace` after its slot. Each change of a task's rows passes the
//! window rule ([`window_pass`]): shown from the moment it happens while the task is inside
//! its window and not yet frozen, and taken back at the window's end. This is the rule the
//! plain reference applies; here it is kept as explicit state (inputs with their expiries,
//! scheduled undos) so that a checkpoint holds all of it and no update waits in a channel.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashMapExt};
use serde::{Deserialize, Serialize};

use super::config::CrynuxConfig;
use super::formulas::{split_fee, task_outcome, TaskInput};
use super::tables::PayRow;
use crate::id::Id;
use crate::moments::MomentState;
use crate::time::Millis;

/// A counted task of a node: (node, task, task time, task score).
pub type TaskRow = (Id, Id, Millis, u32);

#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum TaskOut {
    Score(TaskRow),
    Pay(PayRow),
}

impl TaskOut {
    fn time(&self) -> Millis {
        match self {
            TaskOut::Score((_, _, time, _)) => *time,
            TaskOut::Pay(row) => row.time,
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Task {
    /// Raw inputs still kept, with the moment each leaves.
    inputs: Vec<(TaskInput, Millis)>,
    /// The rows the kept inputs give, sorted (a task has a handful: a B-tree node would hold
    /// room for eleven).
    rows: Vec<TaskOut>,
}

#[derive(Serialize, Deserialize)]
pub struct TaskWindows {
    cfg: CrynuxConfig,
    tasks: HashMap<Id, Task>,
    /// (moment, task): a raw input of the task leaves then.
    expiries: BTreeSet<(Millis, Id)>,
    /// Row changes due at a later moment (window ends).
    scheduled: BTreeMap<Millis, Vec<(TaskOut, isize)>>,
}

impl TaskWindows {
    pub fn new(cfg: &CrynuxConfig) -> TaskWindows {
        TaskWindows {
            cfg: cfg.clone(),
            tasks: HashMap::new(),
            expiries: BTreeSet::new(),
            scheduled: BTreeMap::new(),
        }
    }

    fn rows_of(&self, task: &Id, inputs: &[(TaskInput, Millis)]) -> Vec<TaskOut> {
        let mut live: Vec<&TaskInput> = inputs.iter().map(|(input, _)| input).collect();
        live.sort();
        live.dedup();
        let mut rows = Vec::new();
        let Some(outcome) = task_outcome(live, &self.cfg) else {
            return rows;
        };
        for (node, score) in &outcome.scores {
            rows.push(TaskOut::Score((
                node.clone(),
                task.clone(),
                outcome.time,
                *score,
            )));
        }
        if let Some(fee) = outcome.fee {
            let scores: Vec<u32> = outcome.scores.iter().map(|(_, s)| *s).collect();
            for ((node, score), pay) in outcome.scores.iter().zip(split_fee(fee, &scores)) {
                rows.push(TaskOut::Pay(PayRow {
                    task: task.clone(),
                    node: node.clone(),
                    time: outcome.time,
                    score: *score,
                    fee,
                    pay,
                }));
            }
        }
        rows.sort();
        rows.dedup();
        rows.shrink_to_fit();
        rows
    }

    /// Passes one row change at `t` through the window rule.
    fn show(&mut self, row: TaskOut, diff: isize, t: Millis, out: &mut Vec<(TaskOut, isize)>) {
        let Some((from, end)) = window_pass(row.time(), t, &self.cfg) else {
            return;
        };
        self.scheduled
            .entry(end)
            .or_default()
            .push((row.clone(), -diff));
        if from == t {
            out.push((row, diff));
        } else {
            self.scheduled.entry(from).or_default().push((row, diff));
        }
    }
}

impl MomentState<(Id, TaskInput), TaskOut> for TaskWindows {
    fn next_time(&self) -> Option<Millis> {
        let expiry = self.expiries.first().map(|(t, _)| *t);
        let scheduled = self.scheduled.keys().next().copied();
        expiry.into_iter().chain(scheduled).min()
    }

    fn advance(&mut self, t: Millis, inputs: Vec<(Id, TaskInput)>) -> Vec<(TaskOut, isize)> {
        let keep = t.saturating_add(2 * self.cfg.task_grace.millis());
        let mut touched: BTreeSet<Id> = BTreeSet::new();
        for (task, input) in inputs {
            self.tasks
                .entry(task.clone())
                .or_default()
                .inputs
                .push((input, keep));
            self.expiries.insert((keep, task.clone()));
            touched.insert(task);
        }
        while let Some((at, _)) = self.expiries.first() {
            if *at > t {
                break;
            }
            let (_, task) = self.expiries.pop_first().expect("first expiry");
            touched.insert(task);
        }
        let mut out = self.scheduled.remove(&t).unwrap_or_default();
        for task in touched {
            let Some(mut state) = self.tasks.remove(&task) else {
                continue;
            };
            state.inputs.retain(|(_, leaves)| *leaves > t);
            let rows = self.rows_of(&task, &state.inputs);
            let gone = missing_from(&state.rows, &rows);
            let new = missing_from(&rows, &state.rows);
            for row in gone {
                self.show(row, -1, t, &mut out);
            }
            for row in new {
                self.show(row, 1, t, &mut out);
            }
            if !state.inputs.is_empty() {
                state.rows = rows;
                self.tasks.insert(task, state);
            }
        }
        out
    }
}

/// The rows of `rows` that `other` lacks (both sorted).
fn missing_from(rows: &[TaskOut], other: &[TaskOut]) -> Vec<TaskOut> {
    rows.iter()
        .filter(|row| other.binary_search(row).is_err())
        .cloned()
        .collect()
}

/// A task's rows stop changing this long after the task's start (its first slot).
///
/// Raw inputs expire `2 × task_grace` after their own slot. When a task's earliest input
/// expires at `start + 2g`, its rows are derived anew from what is left, with a later start
/// `s1`; that artefact would pass only if `start + 2g < s1 + g`, i.e. if the task's events span
/// more than `g`, and those later events were already frozen out. So the freeze hides every
/// expiry artefact, and a task's events more than `2g` after its start begin it anew.
pub fn freeze_after(cfg: &CrynuxConfig) -> Millis {
    cfg.task_grace.millis()
}

/// The window rule for one update at `t` of a row with task time `time`: `None` when it is
/// dropped, else when it takes effect and when its scheduled undo (the window's end) does.
pub fn window_pass(time: Millis, t: Millis, cfg: &CrynuxConfig) -> Option<(Millis, Millis)> {
    let start = crate::time::slot(time, cfg.slide.millis());
    let end = start.saturating_add(cfg.window.millis());
    (t < end.min(start.saturating_add(freeze_after(cfg)))).then_some((t.max(start), end))
}
