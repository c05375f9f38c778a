//! `gpu_latest` as the engine runs it: the latest sample of every GPU, captured as rows.

use std::sync::Arc;

use timely::dataflow::Scope;

use super::{build, inputs, table, GpuLatest};
use crate::checkpoint::States;
use crate::config::Config;
use crate::engine::{CaptureStore, Captured, Sinks};
use crate::policy::{Feed, FoldNotes, Policy, View};
use crate::time::Millis;

pub struct GpuLatestPolicy {
    grain: Millis,
    rows: Arc<Captured<GpuLatest>>,
}

impl GpuLatestPolicy {
    pub fn new(config: &Config, workers: usize) -> GpuLatestPolicy {
        GpuLatestPolicy {
            grain: config.grain().millis(),
            rows: Arc::new(Captured::new(workers)),
        }
    }

    /// The latest sample of every GPU as of `as_of` (a completed time).
    pub fn rows(&self, as_of: Millis) -> Vec<GpuLatest> {
        self.rows.snapshot(as_of)
    }
}

impl Policy for GpuLatestPolicy {
    fn name(&self) -> &'static str {
        "gpu_latest"
    }

    fn reads(&self) -> &'static [&'static str] {
        &["gpu_sample"]
    }

    fn build(&self, scope: Scope<'_, Millis>, states: &States, sinks: &Sinks) -> Box<dyn Feed> {
        let mut inputs = inputs(self.grain);
        sinks.sink(build(scope, states, &mut inputs), &self.rows);
        Box::new(inputs)
    }

    fn captures(&self) -> Vec<(&'static str, &dyn CaptureStore)> {
        vec![("rows", &*self.rows)]
    }

    fn view(&self, as_of: Millis) -> View {
        View::new(vec![table(&self.rows(as_of))])
    }

    fn fold(&self, upto: Millis, _notes: &mut FoldNotes) {
        self.rows.compact(upto);
    }
}
