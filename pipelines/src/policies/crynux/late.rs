//! Task events that arrive too late to change their task: a task's rows freeze `task_grace`
//! after its start (see `dataflow::freeze_after`), so its later rounds, slashings and fees no
//! longer count. They are valid events, so they are not rejects; they are listed here so that
//! nothing is dropped without a trace.

use std::collections::HashMap;

use super::config::CrynuxConfig;
use crate::events::{Body, Event};
use crate::id::Id;
use crate::time::{format_rfc3339, slot, Millis};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateTaskEvent {
    /// Input sequence number (position among the input's lines).
    pub seq: u64,
    pub kind: &'static str,
    pub task: String,
    pub ts: Millis,
    /// The slot of the task's earliest round.
    pub task_start: Millis,
    pub reason: String,
}

/// Finds the task events that a task's freeze ignores, among events seen in feed order (slot,
/// then input sequence number), as the dataflow sees them: a task's start is the slot of its
/// first round, which in that order is the first round seen. Keeps one start per task.
pub struct LateTasks {
    slide: Millis,
    grace: Millis,
    task_grace: crate::time::Span,
    started: HashMap<Id, Millis>,
}

impl LateTasks {
    pub fn new(cfg: &CrynuxConfig) -> LateTasks {
        LateTasks {
            slide: cfg.slide.millis(),
            grace: cfg.task_grace.millis(),
            task_grace: cfg.task_grace,
            started: HashMap::new(),
        }
    }

    /// The next event in feed order: is it a late task event? Events before their task's
    /// first round come at or before its start, never `task_grace` (positive) after it.
    pub fn observe(&mut self, event: &Event, seq: u64) -> Option<LateTaskEvent> {
        let at = slot(event.ts, self.slide);
        let (task, start) = match &event.body {
            Body::TaskRound { task, .. } => (task, *self.started.entry(task.clone()).or_insert(at)),
            Body::TaskSlashed { task, .. } | Body::TaskFee { task, .. } => {
                (task, *self.started.get(task)?)
            }
            _ => return None,
        };
        if at < start.saturating_add(self.grace) {
            return None;
        }
        let beyond_twice = at >= start.saturating_add(2 * self.grace);
        Some(LateTaskEvent {
            seq,
            kind: event.kind(),
            task: task.to_string(),
            ts: event.ts,
            task_start: start,
            reason: format!(
                "arrived at {}, more than {} ({}) after its task started ({}): {}",
                format_rfc3339(event.ts),
                if beyond_twice {
                    "twice task_grace"
                } else {
                    "task_grace"
                },
                self.task_grace,
                format_rfc3339(start),
                if beyond_twice {
                    "it does not change that task; it may count as a new run of the task"
                } else {
                    "it does not change the task's scores or fee split"
                }
            ),
        })
    }
}
