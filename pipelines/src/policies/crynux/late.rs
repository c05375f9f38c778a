//! Task events that arrive too late to change their task: a task's rows freeze `task_grace`
//! after its start (see `dataflow::freeze_after`), so its later rounds, slashings and fees no
//! longer count. They are valid events, so they are not rejects; they are listed here so that
//! nothing is dropped without a trace.

use std::collections::HashMap;

use super::config::CrynuxConfig;
use crate::events::{Body, Event};
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

/// The task events among `events` (with sequence numbers) that the task's freeze ignores, up to
/// and including `as_of`.
pub fn late_task_events(
    events: &[(Event, u64)],
    as_of: Millis,
    cfg: &CrynuxConfig,
) -> Vec<LateTaskEvent> {
    let slide = cfg.slide.millis();
    let grace = cfg.task_grace.millis();
    let mut first_round: HashMap<&str, Millis> = HashMap::new();
    for (event, _) in events {
        if let Body::TaskRound { task, .. } = &event.body {
            let entry = first_round.entry(&**task).or_insert(event.ts);
            *entry = (*entry).min(event.ts);
        }
    }
    let mut late = Vec::new();
    for (event, seq) in events {
        let at = slot(event.ts, slide);
        let Some(task) = task_of(event) else { continue };
        let Some(first) = first_round.get(task) else {
            continue;
        };
        let start = slot(*first, slide);
        if at > as_of || at < start.saturating_add(grace) {
            continue;
        }
        let beyond_twice = at >= start.saturating_add(2 * grace);
        late.push(LateTaskEvent {
            seq: *seq,
            kind: event.kind(),
            task: task.to_owned(),
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
                cfg.task_grace,
                format_rfc3339(start),
                if beyond_twice {
                    "it does not change that task; it may count as a new run of the task"
                } else {
                    "it does not change the task's scores or fee split"
                }
            ),
        });
    }
    late.sort_by_key(|l| l.seq);
    late
}

fn task_of(event: &Event) -> Option<&str> {
    match &event.body {
        Body::TaskRound { task, .. }
        | Body::TaskSlashed { task, .. }
        | Body::TaskFee { task, .. } => Some(task),
        _ => None,
    }
}
