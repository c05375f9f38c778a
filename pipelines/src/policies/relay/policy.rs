//! The relay policy as the engine runs it: each peer's contracts and decisions, captured as
//! rows.

use std::sync::Arc;

use timely::dataflow::Scope;

use super::config::RelayConfig;
use super::dataflow::{build, inputs};
use super::state::RelayOut;
use super::tables::{tables, RelayParts};
use crate::checkpoint::States;
use crate::config::Config;
use crate::engine::{CaptureStore, Captured, Sinks};
use crate::policy::{Feed, FoldNotes, Policy, View};
use crate::time::Millis;

pub struct RelayPolicy {
    cfg: RelayConfig,
    grain: Millis,
    rows: Arc<Captured<RelayOut>>,
}

impl RelayPolicy {
    pub fn new(config: &Config, workers: usize) -> RelayPolicy {
        RelayPolicy {
            cfg: config.policy.relay.clone(),
            grain: config.grain().millis(),
            rows: Arc::new(Captured::new(workers)),
        }
    }

    /// The relay rows as of `as_of` (a completed time).
    pub fn parts(&self, as_of: Millis) -> RelayParts {
        RelayParts::from_rows(self.rows.snapshot(as_of))
    }
}

impl Policy for RelayPolicy {
    fn name(&self) -> &'static str {
        "relay"
    }

    fn reads(&self) -> &'static [&'static str] {
        &["peer_capacity", "contract_usage", "contract_request"]
    }

    fn build(&self, scope: Scope<'_, Millis>, states: &States, sinks: &Sinks) -> Box<dyn Feed> {
        let mut inputs = inputs(self.grain);
        sinks.sink(build(scope, states, &mut inputs, &self.cfg), &self.rows);
        Box::new(inputs)
    }

    fn captures(&self) -> Vec<(&'static str, &dyn CaptureStore)> {
        vec![("rows", &*self.rows)]
    }

    fn view(&self, as_of: Millis) -> View {
        View::new(tables(&self.parts(as_of)))
    }

    fn fold(&self, upto: Millis, _notes: &mut FoldNotes) {
        self.rows.compact(upto);
    }
}
