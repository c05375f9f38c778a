//! The sequential part of a node's life: registry attributes and status (join, leave, kick-out),
//! health with recovery, exclusion, and the kick-out trigger. These depend on the order of
//! events, so they are a per-node state machine rather than a differential collection; the
//! dataflow runs one per node inside a keyed operator, the reference runs them in a loop.
//!
//! State per node is bounded: attributes, a few numbers, the counted tasks still inside the
//! window, and at most `kickout_tasks` older ones.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::config::CrynuxConfig;
use super::formulas::{boosted_health, effective_health, penalised_health};
use crate::events::{Body, Event, Round, RoundStatus};
use crate::float::F64;
use crate::id::Id;
use crate::time::{slot, Millis};
use crate::triggers::{Cause, Rule, TriggerEdges, TriggerRow};

/// Registry attributes; a later registration replaces the fields it carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Attrs {
    pub provider: Option<Id>,
    pub region: Option<Id>,
    pub node_type: Option<Id>,
    pub vram_bytes: Option<u64>,
    pub timeout_s: Option<u64>,
    pub stake: Option<Decimal>,
}

impl Attrs {
    fn update(&mut self, newer: &Attrs) {
        fn take<T: Clone>(slot: &mut Option<T>, newer: &Option<T>) {
            if newer.is_some() {
                slot.clone_from(newer);
            }
        }
        take(&mut self.provider, &newer.provider);
        take(&mut self.region, &newer.region);
        take(&mut self.node_type, &newer.node_type);
        take(&mut self.vram_bytes, &newer.vram_bytes);
        take(&mut self.timeout_s, &newer.timeout_s);
        take(&mut self.stake, &newer.stake);
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NodeInput {
    Registered(Attrs),
    Left,
    Round { round: Round, status: RoundStatus },
}

/// An event of one node, ordered as the page says: by ts, then registry before penalties before
/// boosts, then input order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeEvent {
    pub node: Id,
    pub ts: Millis,
    pub rank: u8,
    pub seq: u64,
    pub input: NodeInput,
}

impl NodeEvent {
    /// The node event an input event amounts to, if any.
    pub fn from_event(event: &Event, seq: u64) -> Option<NodeEvent> {
        let (node, input) = match &event.body {
            Body::NodeRegistered {
                node,
                provider,
                region,
                node_type,
                vram_bytes,
                timeout_s,
                stake,
                ..
            } => (
                node,
                NodeInput::Registered(Attrs {
                    provider: provider.clone(),
                    region: region.clone(),
                    node_type: node_type.clone(),
                    vram_bytes: *vram_bytes,
                    timeout_s: *timeout_s,
                    stake: *stake,
                }),
            ),
            Body::NodeLeft { node } => (node, NodeInput::Left),
            Body::TaskRound {
                node,
                round,
                status,
                ..
            } => (
                node,
                NodeInput::Round {
                    round: *round,
                    status: *status,
                },
            ),
            _ => return None,
        };
        Some(NodeEvent::new(node.clone(), event.ts, seq, input))
    }

    pub fn new(node: Id, ts: Millis, seq: u64, input: NodeInput) -> NodeEvent {
        let rank = match &input {
            NodeInput::Registered(_) | NodeInput::Left => 0,
            NodeInput::Round {
                status: RoundStatus::Timeout | RoundStatus::Aborted,
                ..
            } => 1,
            NodeInput::Round {
                round: Round::Disclosure,
                status: RoundStatus::Submitted,
            } => 2,
            NodeInput::Round { .. } => 3,
        };
        NodeEvent {
            node,
            ts,
            rank,
            seq,
            input,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Status {
    Active,
    Left,
    KickedOut,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Left => "left",
            Status::KickedOut => "kicked_out",
        }
    }
}

/// What the machine shows of a registered node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeRow {
    pub node: Id,
    pub attrs: Attrs,
    pub status: Status,
    pub joined: Millis,
    /// Health as last set, and when: the effective health at a later time follows from these.
    pub health: F64,
    pub health_ts: Millis,
    /// Excluded as of `health_ts`; an excluded node is let back once its effective health
    /// reaches `exclusion_leave`, which a reader checks at its own time.
    pub excluded: bool,
}

/// The kick-out trigger's rule name.
const KICKOUT: Rule = Rule {
    policy: "crynux",
    name: "kickout",
};

/// One output of the machine: the node's row or one of its triggers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NodeOut {
    Node(NodeRow),
    Trigger(TriggerRow),
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct NodeMachine {
    row: Option<NodeRow>,
    /// Counted tasks still inside the window, as (task time, task, score) with their
    /// multiplicity: their rows may still change.
    live: BTreeMap<(Millis, Id, u32), i64>,
    /// The newest `kickout_tasks` counted tasks that left the window, as (task time, score),
    /// oldest first. They no longer change and are all older than every live task.
    frozen: VecDeque<(Millis, u32)>,
    /// The node's trigger edges so far (rows are never changed, only added).
    triggers: Vec<TriggerRow>,
    edges: TriggerEdges,
}

impl NodeMachine {
    /// Applies one registry or round event.
    pub fn apply(&mut self, event: &NodeEvent, cfg: &CrynuxConfig) {
        match (&event.input, &mut self.row) {
            (NodeInput::Registered(attrs), Some(row)) if row.status == Status::Active => {
                row.attrs.update(attrs)
            }
            (NodeInput::Registered(attrs), existing) => {
                let mut merged = existing
                    .as_ref()
                    .map(|r| r.attrs.clone())
                    .unwrap_or_default();
                merged.update(attrs);
                *existing = Some(NodeRow {
                    node: event.node.clone(),
                    attrs: merged,
                    status: Status::Active,
                    joined: event.ts,
                    health: F64(1.0),
                    health_ts: event.ts,
                    excluded: false,
                });
                // A join clears a kick-out; the row shows the counted tasks since the join (none
                // yet) against the number kick-out looks at.
                let cause = Cause {
                    value: 0.0,
                    threshold: cfg.kickout_tasks as f64,
                };
                let cleared = self.edges.set(&event.node, KICKOUT, None, event.ts, cause);
                self.triggers.extend(cleared);
            }
            (NodeInput::Left, Some(row)) if row.status == Status::Active => {
                row.status = Status::Left
            }
            (NodeInput::Round { round, status }, Some(row)) if row.status == Status::Active => {
                let penalty = matches!(status, RoundStatus::Timeout | RoundStatus::Aborted);
                let boost = *round == Round::Disclosure && *status == RoundStatus::Submitted;
                if !(penalty || boost) {
                    return;
                }
                let h_eff = effective_health(row.health.0, row.health_ts, event.ts, cfg);
                if row.excluded && h_eff >= cfg.exclusion_leave {
                    row.excluded = false;
                }
                let h = if penalty {
                    penalised_health(h_eff, cfg)
                } else {
                    boosted_health(h_eff, cfg)
                };
                if h < cfg.exclusion_enter {
                    row.excluded = true;
                } else if h >= cfg.exclusion_leave {
                    row.excluded = false;
                }
                row.health = F64(h);
                row.health_ts = event.ts;
            }
            _ => {}
        }
    }

    /// Applies a change of one counted task row seen at time `at`. Changes that only reflect
    /// the task leaving the window are ignored: kick-out looks at tasks since the last join,
    /// not only those in the window.
    pub fn apply_task(
        &mut self,
        at: Millis,
        time: Millis,
        task: &Id,
        score: u32,
        diff: i64,
        cfg: &CrynuxConfig,
    ) {
        if at >= window_end(time, cfg) {
            return;
        }
        let key = (time, Id::clone(task), score);
        let count = self.live.entry(key.clone()).or_default();
        *count += diff;
        if *count == 0 {
            self.live.remove(&key);
        }
    }

    /// Checks the kick-out rule at slide boundary `at`, after that moment's events.
    /// Work is bounded by `kickout_tasks` plus the tasks that left the window since the last call.
    pub fn evaluate_kickout(&mut self, at: Millis, cfg: &CrynuxConfig) {
        self.freeze(at, cfg);
        let Some(row) = self.row.as_mut().filter(|r| r.status == Status::Active) else {
            return;
        };
        let joined = row.joined;
        let wanted = cfg.kickout_tasks as usize;
        let live = self
            .live
            .iter()
            .rev()
            .filter(|(_, count)| **count > 0)
            .map(|((time, _, score), _)| (*time, *score));
        let recent: Vec<u32> = live
            .chain(self.frozen.iter().rev().copied())
            .take_while(|(time, _)| *time >= joined)
            .map(|(_, score)| score)
            .take(wanted)
            .collect();
        if recent.len() < wanted {
            return;
        }
        let mean = recent.iter().map(|&s| s as f64).sum::<f64>() / wanted as f64;
        let threshold = cfg.kickout_fraction * cfg.max_task_score() as f64;
        if mean < threshold {
            row.status = Status::KickedOut;
            let cause = Cause {
                value: mean,
                threshold,
            };
            let raised = self
                .edges
                .set(&row.node, KICKOUT, Some("severe"), at, cause);
            self.triggers.extend(raised);
        }
    }

    /// Moves the tasks that left the window by `now` from `live` to `frozen`, keeping only the
    /// newest `kickout_tasks` of them: older ones can never be among the last `kickout_tasks`.
    fn freeze(&mut self, now: Millis, cfg: &CrynuxConfig) {
        while let Some(entry) = self.live.first_entry() {
            if window_end(entry.key().0, cfg) > now {
                break;
            }
            let ((time, _, score), count) = entry.remove_entry();
            if count > 0 {
                self.frozen.push_back((time, score));
                if self.frozen.len() > cfg.kickout_tasks as usize {
                    self.frozen.pop_front();
                }
            }
        }
    }

    /// Everything the machine currently shows.
    pub fn outputs(&self) -> Vec<NodeOut> {
        let mut out: Vec<NodeOut> = self.row.iter().cloned().map(NodeOut::Node).collect();
        out.extend(self.triggers.iter().cloned().map(NodeOut::Trigger));
        out
    }

    /// What the machine shows now, to compare with after a moment's changes
    /// ([`NodeMachine::changes_since`]): the row, and how many trigger rows (which are only
    /// ever added).
    pub fn shown(&self) -> Shown {
        Shown {
            row: self.row.clone(),
            triggers: self.triggers.len(),
        }
    }

    /// The output updates that take what it showed at `before` to what it shows now.
    pub fn changes_since(&self, before: Shown, out: &mut Vec<(NodeOut, isize)>) {
        if before.row != self.row {
            out.extend(before.row.map(|row| (NodeOut::Node(row), -1)));
            out.extend(self.row.iter().map(|row| (NodeOut::Node(row.clone()), 1)));
        }
        let added = self.triggers[before.triggers..].iter();
        out.extend(added.map(|t| (NodeOut::Trigger(t.clone()), 1)));
    }
}

/// What a [`NodeMachine`] showed at some moment (see [`NodeMachine::shown`]).
pub struct Shown {
    row: Option<NodeRow>,
    triggers: usize,
}

/// The first moment a task row with this task time is outside the window.
pub fn window_end(time: Millis, cfg: &CrynuxConfig) -> Millis {
    slot(time, cfg.slide.millis()).saturating_add(cfg.window.millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Span;
    use proptest::prelude::*;

    fn cfg() -> CrynuxConfig {
        CrynuxConfig {
            window: Span::minutes(5),
            slide: Span::minutes(1),
            kickout_tasks: 3,
            ..CrynuxConfig::default()
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Join,
        Task { time: u64, task: u8, score: u32 },
        Retract { task: u8 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            1 => Just(Op::Join),
            6 => (0u64..6, 0u8..12, prop_oneof![Just(0u32), Just(2), Just(10), Just(20)])
                .prop_map(|(back, task, score)| Op::Task { time: back, task, score }),
            1 => (0u8..12).prop_map(|task| Op::Retract { task }),
        ]
    }

    proptest! {
        /// The bounded state (live + newest frozen) decides kick-out exactly as a model that
        /// keeps every counted task forever.
        #[test]
        fn kickout_matches_a_model_that_keeps_everything(ops in proptest::collection::vec(op(), 1..80)) {
            let cfg = cfg();
            let minute = 60_000;
            let mut machine = NodeMachine::default();
            // The model: (task time, task) -> score, updates ignored once the task left the window.
            let mut model: BTreeMap<(Millis, u8), u32> = BTreeMap::new();
            let mut model_joined = 0;
            let mut model_out = false;
            let mut rows: BTreeMap<u8, (Millis, u32)> = BTreeMap::new();
            for (step, op) in ops.into_iter().enumerate() {
                let now = (step as u64 + 1) * minute;
                match op {
                    Op::Join => {
                        let event = NodeEvent::new("n".into(), now, step as u64, NodeInput::Registered(Attrs::default()));
                        machine.apply(&event, &cfg);
                        if !model_out && model_joined == 0 || model_out {
                            model_joined = now;
                            model_out = false;
                        }
                    }
                    Op::Task { time, task, score } => {
                        let time = now.saturating_sub(time * minute);
                        if let Some((old_time, old_score)) = rows.remove(&task) {
                            machine.apply_task(now, old_time, &Id::from(format!("t{task:02}")), old_score, -1, &cfg);
                            if now < window_end(old_time, &cfg) { model.remove(&(old_time, task)); }
                        }
                        rows.insert(task, (time, score));
                        machine.apply_task(now, time, &Id::from(format!("t{task:02}")), score, 1, &cfg);
                        if now < window_end(time, &cfg) { model.insert((time, task), score); }
                    }
                    Op::Retract { task } => {
                        if let Some((old_time, old_score)) = rows.remove(&task) {
                            machine.apply_task(now, old_time, &Id::from(format!("t{task:02}")), old_score, -1, &cfg);
                            if now < window_end(old_time, &cfg) { model.remove(&(old_time, task)); }
                        }
                    }
                }
                machine.evaluate_kickout(now, &cfg);
                if model_joined > 0 && !model_out {
                    let recent: Vec<u32> = model.range((model_joined, 0)..).rev().map(|(_, s)| *s).take(3).collect();
                    if recent.len() == 3 && (recent.iter().sum::<u32>() as f64 / 3.0) < cfg.kickout_fraction * 20.0 {
                        model_out = true;
                    }
                }
                let status = machine.outputs().into_iter().find_map(|o| match o {
                    NodeOut::Node(row) => Some(row.status),
                    NodeOut::Trigger(_) => None,
                });
                let expected = if model_joined == 0 { None } else if model_out { Some(Status::KickedOut) } else { Some(Status::Active) };
                prop_assert_eq!(status, expected, "step {}", step);
            }
        }
    }
}
