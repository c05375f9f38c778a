//! The crynux policy as the engine runs it: node rows and triggers, each node's counted tasks,
//! its GPUs' largest VRAM and the fee shares are captured; `crynux_qos` divides on read.

use std::sync::Arc;

use timely::dataflow::Scope;

use super::config::CrynuxConfig;
use super::dataflow::{build, CrynuxInputs};
use super::node_machine::NodeOut;
use super::scores::CrynuxChanges;
use super::tables::{tables, CrynuxParts, PayRow};
use crate::checkpoint::States;
use crate::config::Config;
use crate::engine::{CaptureStore, Captured, Sinks};
use crate::id::Id;
use crate::policy::{Feed, FoldNotes, Policy, View};
use crate::time::Millis;

pub struct CrynuxPolicy {
    cfg: CrynuxConfig,
    node_out: Arc<Captured<NodeOut>>,
    /// (count, sum of task scores) per node, kept as differences.
    tasks: Arc<Captured<Id, (isize, isize)>>,
    gpu_vram: Arc<Captured<(Id, u64)>>,
    pay: Arc<Captured<PayRow>>,
}

impl CrynuxPolicy {
    pub fn new(config: &Config, workers: usize) -> CrynuxPolicy {
        CrynuxPolicy {
            cfg: config.policy.crynux.clone(),
            node_out: Arc::new(Captured::new(workers)),
            tasks: Arc::new(Captured::new(workers)),
            gpu_vram: Arc::new(Captured::new(workers)),
            pay: Arc::new(Captured::new(workers)),
        }
    }

    /// The crynux parts as of `as_of` (a completed time of the dataflow).
    pub fn parts(&self, as_of: Millis) -> CrynuxParts {
        let mut parts = CrynuxParts::default();
        for out in self.node_out.snapshot(as_of) {
            match out {
                NodeOut::Node(row) => parts.nodes.push(row),
                NodeOut::Trigger(row) => parts.triggers.push(row),
            }
        }
        for (node, (count, sum)) in self.tasks.totals(as_of) {
            if count > 0 {
                parts.tasks.insert(node, (count as i64, sum as i64));
            }
        }
        parts.gpu_vram = self.gpu_vram.snapshot(as_of).into_iter().collect();
        parts.pay = self.pay.snapshot(as_of);
        parts.canonical()
    }
}

impl Policy for CrynuxPolicy {
    fn name(&self) -> &'static str {
        "crynux"
    }

    fn reads(&self) -> &'static [&'static str] {
        &[
            "node_registered",
            "node_left",
            "gpu_sample",
            "task_round",
            "task_slashed",
            "task_fee",
        ]
    }

    fn build(&self, scope: Scope<'_, Millis>, states: &States, sinks: &Sinks) -> Box<dyn Feed> {
        let mut inputs = CrynuxInputs::new(&self.cfg);
        let out = build(scope, states, &mut inputs, &self.cfg);
        sinks.sink(out.node_out, &self.node_out);
        sinks.sink(out.tasks, &self.tasks);
        sinks.sink(out.gpu_vram, &self.gpu_vram);
        sinks.sink(out.pay, &self.pay);
        Box::new(inputs)
    }

    fn captures(&self) -> Vec<(&'static str, &dyn CaptureStore)> {
        vec![
            ("nodes", &*self.node_out),
            ("tasks", &*self.tasks),
            ("gpu_vram", &*self.gpu_vram),
            ("pay", &*self.pay),
        ]
    }

    fn view(&self, as_of: Millis) -> View {
        let parts = self.parts(as_of);
        View::new(tables(&parts, as_of, &self.cfg)).with_triggers(parts.triggers)
    }

    /// Its changes ([`CrynuxChanges`]) go whole to the scores topic's writer.
    fn fold(&self, upto: Millis, notes: &mut FoldNotes) {
        let node_out = self.node_out.fold(upto);
        for (out, diff) in &node_out {
            if let NodeOut::Trigger(t) = out {
                notes.trigger(t, *diff);
            }
        }
        notes.changes(Box::new(CrynuxChanges {
            node_out,
            tasks: self.tasks.fold(upto),
            gpu_vram: self.gpu_vram.fold(upto),
        }));
        self.pay.compact(upto);
    }
}
