//! Triggers, shared by every policy: edge-triggered rows (`raised`, later `cleared`), each
//! written once and never changed, so the `triggers` table and topic are a log a consumer can
//! follow. A trigger's id is a stable hash of (node, policy, rule, level, raise time): its
//! `raised` and `cleared` rows share it, a replay gives the same ids, and a consumer that sees a
//! row twice can drop the copy by (id, state).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::float::F64;
use crate::id::Id;
use crate::table::{timestamp, ColumnType::*, Table};
use crate::time::Millis;

/// `Cleared` sorts first: at one moment a level's clearing comes before the next one's raising.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TriggerState {
    Cleared,
    Raised,
}

impl TriggerState {
    pub fn name(self) -> &'static str {
        match self {
            TriggerState::Raised => "raised",
            TriggerState::Cleared => "cleared",
        }
    }
}

/// One edge. Fields in the table's sort order: (ts, node, rule, state).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TriggerRow {
    /// When the trigger was raised or cleared.
    pub ts: Millis,
    pub node: String,
    pub rule: String,
    pub state: TriggerState,
    pub policy: String,
    pub level: String,
    pub id: String,
    /// The measured value that crossed (or fell back below) the threshold.
    pub value: F64,
    pub threshold: F64,
}

/// The stable id of the trigger (node, policy, rule, level) raised at `raised_at`: 64-bit
/// FNV-1a over the fields with a separator no id contains, as 16 hex digits. Written out here
/// rather than taken from a hasher crate so that it can never change under us.
pub fn trigger_id(node: &str, policy: &str, rule: &str, level: &str, raised_at: Millis) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let raised = raised_at.to_string();
    for part in [node, policy, rule, level, &raised] {
        for byte in part.bytes().chain([0u8]) {
            hash ^= byte as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Why an edge happened: the measured value and the threshold it was held against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cause {
    pub value: f64,
    pub threshold: f64,
}

/// A policy's trigger rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    pub policy: &'static str,
    pub name: &'static str,
}

/// What is raised per (node, rule): the level and when it was raised. Setting a new level (or
/// none) emits the edges; setting the same level emits nothing.
#[derive(Clone, Debug, Default)]
pub struct TriggerEdges {
    raised: BTreeMap<(Id, Rule), (String, Millis)>,
}

impl TriggerEdges {
    /// The level raised for (node, rule), with its raise time.
    pub fn current(&self, node: &Id, rule: Rule) -> Option<(&str, Millis)> {
        let (level, at) = self.raised.get(&(node.clone(), rule))?;
        Some((level.as_str(), *at))
    }

    /// Moves (node, rule) to `level` (None: nothing raised) at `ts`: the old level's `cleared`
    /// row and the new level's `raised` row, both carrying `cause`.
    pub fn set(
        &mut self,
        node: &Id,
        rule: Rule,
        level: Option<&str>,
        ts: Millis,
        cause: Cause,
    ) -> Vec<TriggerRow> {
        let key = (node.clone(), rule);
        if self.raised.get(&key).map(|(l, _)| l.as_str()) == level {
            return Vec::new();
        }
        let mut edges = Vec::new();
        if let Some((old_level, raised_at)) = self.raised.remove(&key) {
            edges.push(row(
                node,
                rule,
                &old_level,
                raised_at,
                ts,
                TriggerState::Cleared,
                cause,
            ));
        }
        if let Some(new_level) = level {
            edges.push(row(
                node,
                rule,
                new_level,
                ts,
                ts,
                TriggerState::Raised,
                cause,
            ));
            self.raised.insert(key, (new_level.to_owned(), ts));
        }
        edges
    }

    /// A trigger raised once and never cleared (a broken rule at one moment, not a state).
    pub fn once(node: &Id, rule: Rule, level: &str, ts: Millis, cause: Cause) -> TriggerRow {
        row(node, rule, level, ts, ts, TriggerState::Raised, cause)
    }
}

/// Checkpoints keep the raised levels with their rule's names as text.
type SavedEdge = (Id, String, String, String, Millis);

impl Serialize for TriggerEdges {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let saved: Vec<SavedEdge> = self
            .raised
            .iter()
            .map(|((node, rule), (level, at))| {
                let (policy, name) = (rule.policy.to_owned(), rule.name.to_owned());
                (node.clone(), policy, name, level.clone(), *at)
            })
            .collect();
        saved.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TriggerEdges {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let saved = Vec::<SavedEdge>::deserialize(deserializer)?;
        let raised = saved
            .into_iter()
            .map(|(node, policy, name, level, at)| {
                let rule = Rule {
                    policy: static_name(&policy),
                    name: static_name(&name),
                };
                ((node, rule), (level, at))
            })
            .collect();
        Ok(TriggerEdges { raised })
    }
}

/// A rule's name as the `&'static str` rules are made of. Rules are compile-time constants, so
/// only their few names ever reach here: each is kept once for the life of the process.
fn static_name(text: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().expect("rule names lock");
    if let Some(name) = names.iter().find(|n| **n == text) {
        return name;
    }
    let name: &'static str = Box::leak(text.to_owned().into_boxed_str());
    names.push(name);
    name
}

#[allow(clippy::too_many_arguments)]
fn row(
    node: &Id,
    rule: Rule,
    level: &str,
    raised_at: Millis,
    ts: Millis,
    state: TriggerState,
    cause: Cause,
) -> TriggerRow {
    TriggerRow {
        ts,
        node: node.to_string(),
        rule: rule.name.to_owned(),
        state,
        policy: rule.policy.to_owned(),
        level: level.to_owned(),
        id: trigger_id(node, rule.policy, rule.name, level, raised_at),
        value: F64(cause.value),
        threshold: F64(cause.threshold),
    }
}

/// The `triggers` table: every policy's edges, sorted by (ts, node, rule, state).
pub fn trigger_table(triggers: &[TriggerRow]) -> Table {
    let mut table = Table::new(
        "triggers",
        &[
            ("id", Text),
            ("ts", Timestamp),
            ("node", Text),
            ("policy", Text),
            ("rule", Text),
            ("level", Text),
            ("state", Text),
            ("value", Float),
            ("threshold", Float),
        ],
    );
    let mut sorted: Vec<&TriggerRow> = triggers.iter().collect();
    sorted.sort();
    for t in sorted {
        table.push(vec![
            t.id.clone().into(),
            timestamp(t.ts),
            t.node.clone().into(),
            t.policy.clone().into(),
            t.rule.clone().into(),
            t.level.clone().into(),
            t.state.name().into(),
            t.value.0.into(),
            t.threshold.0.into(),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAUSE: Cause = Cause {
        value: 1.0,
        threshold: 1.0,
    };

    #[test]
    fn ids_are_stable_and_distinguish_every_field() {
        // Pinned: a replay next year must give the ids consumers already saw.
        // (Value computed independently with a few lines of Python over the same bytes.)
        assert_eq!(
            trigger_id("n1", "sla", "breach", "warning", 3_600_000),
            "3a0d7e44a270ae2c"
        );
        let base = trigger_id("n1", "sla", "breach", "warning", 1);
        for other in [
            trigger_id("n2", "sla", "breach", "warning", 1),
            trigger_id("n1", "icp", "breach", "warning", 1),
            trigger_id("n1", "sla", "gpu_fault", "warning", 1),
            trigger_id("n1", "sla", "breach", "severe", 1),
            trigger_id("n1", "sla", "breach", "warning", 2),
            trigger_id("n1s", "la", "breach", "warning", 1),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn edges_clear_the_old_level_then_raise_the_new_one() {
        const BREACH: Rule = Rule {
            policy: "sla",
            name: "breach",
        };
        let mut edges = TriggerEdges::default();
        let n: Id = "n1".into();
        let up = edges.set(&n, BREACH, Some("warning"), 10, CAUSE);
        assert_eq!(up.len(), 1);
        assert!(edges.set(&n, BREACH, Some("warning"), 20, CAUSE).is_empty());
        let change = edges.set(&n, BREACH, Some("penalty_1"), 30, CAUSE);
        assert_eq!(change.len(), 2);
        assert_eq!(
            (change[0].state, change[0].level.as_str()),
            (TriggerState::Cleared, "warning")
        );
        assert_eq!(
            change[0].id, up[0].id,
            "a cleared row carries its raise's id"
        );
        assert_eq!(change[0].ts, 30);
        assert_eq!(
            (change[1].state, change[1].level.as_str()),
            (TriggerState::Raised, "penalty_1")
        );
        assert!(
            change[0] < change[1],
            "cleared sorts before raised at one moment"
        );
        let down = edges.set(&n, BREACH, None, 40, CAUSE);
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].id, change[1].id);
        assert_eq!(edges.current(&n, BREACH), None);
    }
}
