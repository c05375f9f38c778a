//! The sla policy as the engine runs it: each node's figures and standing, the network's
//! targets, triggers and period statements, captured as rows.

use std::sync::Arc;

use timely::dataflow::Scope;

use super::config::SlaConfig;
use super::dataflow::{build, inputs};
use super::explain::explain;
use super::state::SlaOut;
use super::tables::{tables, SlaParts};
use crate::checkpoint::States;
use crate::config::Config;
use crate::engine::{CaptureStore, Captured, Sinks};
use crate::policy::{Explain, ExplainError, ExplainRequest, Feed, FoldNotes, Policy, View};
use crate::statement::{Period, StatementRow};
use crate::time::Millis;

pub struct SlaPolicy {
    cfg: SlaConfig,
    period: Period,
    rows: Arc<Captured<SlaOut>>,
}

impl SlaPolicy {
    pub fn new(config: &Config, workers: usize) -> SlaPolicy {
        SlaPolicy {
            cfg: config.policy.sla.clone(),
            period: config.statements.period,
            rows: Arc::new(Captured::new(workers)),
        }
    }

    /// The sla rows as of `as_of` (a completed time).
    pub fn parts(&self, as_of: Millis) -> SlaParts {
        SlaParts::from_rows(self.rows.snapshot(as_of), as_of, &self.cfg)
    }
}

impl Policy for SlaPolicy {
    fn name(&self) -> &'static str {
        "sla"
    }

    fn reads(&self) -> &'static [&'static str] {
        &[
            "node_registered",
            "node_left",
            "gpu_sample",
            "probe",
            "request",
            "rating",
        ]
    }

    fn build(&self, scope: Scope<'_, Millis>, states: &States, sinks: &Sinks) -> Box<dyn Feed> {
        let mut inputs = inputs(&self.cfg);
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
        View::new(tables(&parts, &self.cfg))
            .with_triggers(parts.triggers.clone())
            .with_statements(parts.statements.clone())
            .with_explain(Explainer {
                parts,
                as_of,
                cfg: self.cfg.clone(),
            })
    }

    fn statements(&self, as_of: Millis) -> Vec<StatementRow> {
        self.parts(as_of).statements
    }

    fn fold(&self, upto: Millis, notes: &mut FoldNotes) {
        self.rows.fold_with(upto, |row, diff| match row {
            SlaOut::Trigger(t) => notes.trigger(t, *diff),
            SlaOut::Statement(_) if *diff > 0 => notes.closed(),
            _ => {}
        });
    }
}

/// sla's explanations: the rows of one moment, that moment and the config.
struct Explainer {
    parts: SlaParts,
    as_of: Millis,
    cfg: SlaConfig,
}

impl Explain for Explainer {
    /// Every target, figure and part of the node's performance as of `as_of`, and its penalty
    /// history.
    fn explain(&self, request: ExplainRequest<'_>) -> Result<String, ExplainError> {
        explain(&self.parts, request.node, self.as_of, &self.cfg).map_err(ExplainError::NotFound)
    }
}
