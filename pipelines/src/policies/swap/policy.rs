//! The swap policy as the engine runs it: each pair's ledger rows, triggers, rejects and the
//! periods' income, captured as rows.

use std::sync::Arc;

use timely::dataflow::Scope;

use super::config::SwapConfig;
use super::dataflow::{build, inputs};
use super::state::SwapOut;
use super::tables::{tables, SwapParts};
use crate::checkpoint::States;
use crate::config::Config;
use crate::engine::{CaptureStore, Captured, Sinks};
use crate::policy::{Feed, FoldNotes, Policy, View};
use crate::statement::{Period, StatementRow};
use crate::time::Millis;

pub struct SwapPolicy {
    cfg: SwapConfig,
    grain: Millis,
    period: Period,
    rows: Arc<Captured<SwapOut>>,
}

impl SwapPolicy {
    pub fn new(config: &Config, workers: usize) -> SwapPolicy {
        SwapPolicy {
            cfg: config.policy.swap.clone(),
            grain: config.grain().millis(),
            period: config.statements.period,
            rows: Arc::new(Captured::new(workers)),
        }
    }

    /// The swap rows as of `as_of` (a completed time).
    pub fn parts(&self, as_of: Millis) -> SwapParts {
        SwapParts::from_rows(self.rows.snapshot(as_of))
    }
}

impl Policy for SwapPolicy {
    fn name(&self) -> &'static str {
        "swap"
    }

    fn reads(&self) -> &'static [&'static str] {
        &["node_registered", "chunk_transfer", "refresh", "cheque"]
    }

    fn build(&self, scope: Scope<'_, Millis>, states: &States, sinks: &Sinks) -> Box<dyn Feed> {
        let mut inputs = inputs(&self.cfg, self.grain);
        sinks.sink(
            build(scope, states, &mut inputs, &self.cfg, self.period),
            &self.rows,
        );
        Box::new(inputs)
    }

    fn captures(&self) -> Vec<(&'static str, &dyn CaptureStore)> {
        vec![("rows", &*self.rows)]
    }

    fn view(&self, as_of: Millis) -> View {
        let parts = self.parts(as_of);
        let (tables, statements) = (tables(&parts, &self.cfg), parts.statements());
        View::new(tables)
            .with_statements(statements)
            .with_triggers(parts.triggers)
            .with_rejects(parts.rejects)
    }

    fn statements(&self, as_of: Millis) -> Vec<StatementRow> {
        self.parts(as_of).statements()
    }

    fn fold(&self, upto: Millis, notes: &mut FoldNotes) {
        self.rows.fold_with(upto, |row, diff| match row {
            SwapOut::Trigger(t) => notes.trigger(t, *diff),
            SwapOut::Income(_) if *diff > 0 => notes.closed(),
            SwapOut::Reject(r) => notes.reject("swap", r, *diff),
            _ => {}
        });
    }
}
