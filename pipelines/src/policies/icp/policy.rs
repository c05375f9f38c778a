//! The icp policy as the engine runs it: closed days' rows and statements, and the open days'
//! live rows, captured as they come.

use std::sync::Arc;

use timely::dataflow::Scope;

use super::config::IcpConfig;
use super::dataflow::{build, inputs};
use super::explain::{days_of, explain};
use super::state::IcpOut;
use super::tables::{tables, IcpParts};
use crate::checkpoint::States;
use crate::config::Config;
use crate::engine::{CaptureStore, Captured, Sinks};
use crate::policy::{Explain, ExplainError, ExplainRequest, Feed, FoldNotes, Policy, View};
use crate::statement::{Period, StatementRow};
use crate::time::{format_date, Millis};

pub struct IcpPolicy {
    cfg: IcpConfig,
    /// Its events count at the crynux slide's boundaries (as they always have).
    slide: Millis,
    period: Period,
    rows: Arc<Captured<IcpOut>>,
}

impl IcpPolicy {
    pub fn new(config: &Config, workers: usize) -> IcpPolicy {
        IcpPolicy {
            cfg: config.policy.icp.clone(),
            slide: config.policy.crynux.slide.millis(),
            period: config.statements.period,
            rows: Arc::new(Captured::new(workers)),
        }
    }

    /// The icp rows as of `as_of` (a completed time).
    pub fn parts(&self, as_of: Millis) -> IcpParts {
        IcpParts::from_rows(self.rows.snapshot(as_of), &self.cfg)
    }
}

impl Policy for IcpPolicy {
    fn name(&self) -> &'static str {
        "icp"
    }

    fn reads(&self) -> &'static [&'static str] {
        &[
            "node_registered",
            "node_left",
            "block_maker_counters",
            "block_round",
            "reward_rate",
        ]
    }

    fn build(&self, scope: Scope<'_, Millis>, states: &States, sinks: &Sinks) -> Box<dyn Feed> {
        let mut inputs = inputs(self.slide);
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
        View::new(tables(&parts))
            .with_statements(parts.statements.clone())
            .with_explain(Explainer {
                parts,
                cfg: self.cfg.clone(),
            })
    }

    fn statements(&self, as_of: Millis) -> Vec<StatementRow> {
        self.parts(as_of).statements
    }

    fn fold(&self, upto: Millis, notes: &mut FoldNotes) {
        self.rows.fold_with(upto, |row, diff| {
            if matches!(row, IcpOut::Statement(_)) && *diff > 0 {
                notes.closed();
            }
        });
    }
}

/// icp's explanations: the rows of one moment and the config.
struct Explainer {
    parts: IcpParts,
    cfg: IcpConfig,
}

impl Explain for Explainer {
    /// One node's reward for one day (the request's `day`, required).
    fn explain(&self, request: ExplainRequest<'_>) -> Result<String, ExplainError> {
        let parts = &self.parts;
        let Some(day) = request.day else {
            return Err(ExplainError::NotFound(
                "icp explains one day of a node: give the day (--day YYYY-MM-DD)".to_owned(),
            ));
        };
        explain(parts, request.node, day, &self.cfg).ok_or_else(|| {
            let days: Vec<String> = days_of(parts, request.node)
                .into_iter()
                .map(format_date)
                .collect();
            let known = if days.is_empty() {
                "it has no icp row on any day (not rewardable: registered with provider, region and node_type?)".to_owned()
            } else {
                format!("its days: {}", days.join(", "))
            };
            ExplainError::NotFound(format!(
                "node {} has no icp row on {}; {known}",
                request.node,
                format_date(day)
            ))
        })
    }
}
