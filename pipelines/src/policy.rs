//! The policy interface: all the engine, snapshots, checkpoints and replay know of a policy.
//!
//! A policy is one folder under `policies/` with a type implementing [`Policy`], and one line in
//! [`crate::policies::registry`]. An instance is made per run from the config; every worker
//! builds its part of the dataflow from it ([`Policy::build`]), and its captured outputs live in
//! it, so what the engine publishes, checkpoints and serves is read through it.

use std::any::Any;
use std::collections::BTreeMap;

use timely::dataflow::Scope;

use crate::checkpoint::States;
use crate::engine::{CaptureStore, Sinks};
use crate::events::Event;
use crate::statement::StatementRow;
use crate::table::Table;
use crate::time::Millis;
use crate::triggers::TriggerRow;

/// Where one worker's events go into a policy's part of the dataflow.
pub trait Feed {
    /// Takes one event (the inputs must be at or before its slot).
    fn feed(&mut self, event: &Event, seq: u64);
    /// Events fed afterwards count at or after `time`.
    fn advance_to(&mut self, time: Millis);
    /// Hands what was fed to the dataflow.
    fn flush(&mut self);
}

impl<T: differential_dataflow::Data> Feed for crate::moments::EventInputs<T> {
    fn feed(&mut self, event: &Event, seq: u64) {
        crate::moments::EventInputs::feed(self, event, seq);
    }

    fn advance_to(&mut self, time: Millis) {
        crate::moments::EventInputs::advance_to(self, time);
    }

    fn flush(&mut self) {
        crate::moments::EventInputs::flush(self);
    }
}

/// A valid event a policy could not take (a cheque that does not increase, a fractional
/// amount): kept in the `rejects` table and sent to the rejects topic like bad input.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct PolicyReject {
    pub seq: u64,
    pub ts: Millis,
    pub kind: String,
    pub reason: String,
    /// The event as the policy read it.
    pub payload: String,
}

/// What a policy shows as of one completed moment.
pub struct View {
    /// Its tables (not `triggers`, which every policy shares, nor `statements`).
    pub tables: Vec<Table>,
    /// Its trigger edges, for the shared `triggers` table.
    pub triggers: Vec<TriggerRow>,
    /// The statements of its periods closed so far.
    pub statements: Vec<StatementRow>,
    pub rejects: Vec<PolicyReject>,
    /// How its figures came out, for a policy that explains them (it holds the rows it needs).
    pub explain: Option<Box<dyn Explain>>,
}

impl View {
    /// A view of `tables`, with no trigger, statement, reject or explanation.
    pub fn new(tables: Vec<Table>) -> View {
        View {
            tables,
            triggers: Vec::new(),
            statements: Vec::new(),
            rejects: Vec::new(),
            explain: None,
        }
    }

    pub fn with_triggers(mut self, triggers: Vec<TriggerRow>) -> View {
        self.triggers = triggers;
        self
    }

    pub fn with_statements(mut self, statements: Vec<StatementRow>) -> View {
        self.statements = statements;
        self
    }

    pub fn with_rejects(mut self, rejects: Vec<PolicyReject>) -> View {
        self.rejects = rejects;
        self
    }

    pub fn with_explain(mut self, explain: impl Explain + 'static) -> View {
        self.explain = Some(Box::new(explain));
        self
    }
}

/// What `explain` is asked about: a node, and for policies with daily rows, a UTC day.
#[derive(Clone, Copy, Debug)]
pub struct ExplainRequest<'a> {
    pub node: &'a str,
    /// Days since 1970-01-01.
    pub day: Option<i32>,
}

/// Why `explain` has no explanation to give.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("the {policy} policy has no explain yet (these do: {supported})")]
    Unsupported {
        policy: &'static str,
        supported: String,
    },
    #[error("no policy is named `{policy}` in this run (these are: {known})")]
    UnknownPolicy { policy: String, known: String },
    /// The node (or its day) is not in the policy's rows; the text says what is.
    #[error("{0}")]
    NotFound(String),
}

/// What a publication learns while folding the captures (see [`Policy::fold`]).
#[derive(Default)]
pub struct FoldNotes {
    triggers: BTreeMap<TriggerRow, isize>,
    closed: bool,
    changes: Vec<Box<dyn Any + Send>>,
    rejects: Vec<(&'static str, PolicyReject)>,
}

impl FoldNotes {
    /// A trigger row's multiplicity changed by `diff`.
    pub fn trigger(&mut self, row: &TriggerRow, diff: isize) {
        let total = self.triggers.entry(row.clone()).or_default();
        *total += diff;
        if *total == 0 {
            self.triggers.remove(row);
        }
    }

    /// A valid event policy `policy` could not take came in (`diff` > 0; rejects are never
    /// taken back): it goes to the rejects topic.
    pub fn reject(&mut self, policy: &'static str, reject: &PolicyReject, diff: isize) {
        if diff > 0 {
            self.rejects.push((policy, reject.clone()));
        }
    }

    /// A statement period closed: the statements are read again.
    pub fn closed(&mut self) {
        self.closed = true;
    }

    /// The policy's own changes, for a writer that knows their type (the scores topic).
    pub fn changes(&mut self, changes: Box<dyn Any + Send>) {
        self.changes.push(changes);
    }

    pub(crate) fn finish(self) -> Folded {
        Folded {
            triggers: self
                .triggers
                .into_iter()
                .filter(|(_, diff)| *diff > 0)
                .map(|(row, _)| row)
                .collect(),
            closed: self.closed,
            changes: self.changes,
            rejects: self.rejects,
        }
    }
}

/// What changed in the captured outputs between two folds, as a publication writes it.
pub struct Folded {
    /// Trigger rows added (every policy's), in order.
    pub triggers: Vec<TriggerRow>,
    /// A statement period closed: the statements are read again.
    pub closed: bool,
    changes: Vec<Box<dyn Any + Send>>,
    /// Valid events a policy could not take, with the policy's name, in the order folded.
    pub rejects: Vec<(&'static str, PolicyReject)>,
}

impl Folded {
    /// The changes of type `T` a policy reported, if one did.
    pub fn changes<T: 'static>(&self) -> Option<&T> {
        self.changes.iter().find_map(|c| c.downcast_ref())
    }
}

/// A policy's explanations of its view as of one moment: the rows behind it and the config.
pub trait Explain: Send + Sync {
    /// Tells, step by step, how `request`'s figures came out.
    fn explain(&self, request: ExplainRequest<'_>) -> Result<String, ExplainError>;
}

/// A policy as `Any`, so a caller that knows its type can reach it (see `Outputs::policy`).
pub trait AsAny: Any {
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One incentive policy, as the engine runs it.
pub trait Policy: Send + Sync + AsAny {
    /// Its name: its config section is `[policy.<name>]`.
    fn name(&self) -> &'static str;

    /// The event kinds it reads (names of [`crate::events::KINDS`]); it is fed no other.
    fn reads(&self) -> &'static [&'static str];

    /// Builds its part of one worker's dataflow in `scope`, its stateful operators keeping
    /// their state in `states`, its outputs captured through `sinks` into this instance.
    /// Returns where that worker's events go in.
    fn build(&self, scope: Scope<'_, Millis>, states: &States, sinks: &Sinks) -> Box<dyn Feed>;

    /// Its captured outputs, named, in a fixed order (checkpoints keep them in this order).
    fn captures(&self) -> Vec<(&'static str, &dyn CaptureStore)>;

    /// What it shows as of `as_of` (a completed time of the dataflow).
    fn view(&self, as_of: Millis) -> View;

    /// The statements of its periods closed through `as_of`, without building its tables (a
    /// publication reads them when a period closes). A policy that writes statements must give
    /// them here as in its [`View`]; the others write none.
    fn statements(&self, as_of: Millis) -> Vec<StatementRow> {
        let _ = as_of;
        Vec::new()
    }

    /// Folds its captures up to `upto` (later reads are at or after it) and notes in `notes`
    /// what a publication writes: trigger rows, period closes, its own changes.
    fn fold(&self, upto: Millis, notes: &mut FoldNotes);
}
