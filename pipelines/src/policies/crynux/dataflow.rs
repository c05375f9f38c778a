//! The crynux dataflow. Shape:
//!
//! ```text
//! task inputs ─► task windows (per task: task_outcome, window rule) ─┬► explode (count, sum) per node
//!                                                                    ├► node machines (kick-out)
//!                                                                    └► fee split rows
//! node events ──────────────────────────────────────────────────────► node machines (registry, health)
//! gpu samples ─► latest per GPU, max per node (window)
//! ```
//!
//! Every stateful step is a [`moments`] operator whose state is explicit (see
//! [`task_window`](super::task_window) and [`vram`](super::vram)): nothing waits in a channel
//! for a later moment, so a checkpoint of the states at a cut is the whole dataflow.

use differential_dataflow::collection::AsCollection;
use differential_dataflow::hashable::Hashable;
use differential_dataflow::input::InputSession;
use differential_dataflow::VecCollection as Collection;
use serde::{Deserialize, Serialize};
use timely::dataflow::operators::vec::Map;
use timely::dataflow::Scope;

use foldhash::{HashMap, HashMapExt};

use super::config::CrynuxConfig;
use super::formulas::TaskInput;
use super::node_machine::{NodeEvent, NodeMachine, NodeOut, Shown};
use super::tables::PayRow;
pub use super::task_window::{freeze_after, window_pass, TaskRow};
use super::task_window::{TaskOut, TaskWindows};
pub use super::vram::GpuReading;
use super::vram::VramState;
use crate::checkpoint::States;
use crate::events::{Body, Event};
use crate::id::Id;
use crate::moments::{moments, MomentState};
use crate::time::{slot, Millis};

/// The input sessions of the crynux dataflow (inputs are only inserted: what leaves the
/// window is the states' own business).
pub struct CrynuxInputs {
    pub tasks: InputSession<Millis, (Id, TaskInput), isize>,
    pub nodes: InputSession<Millis, NodeEvent, isize>,
    pub gpus: InputSession<Millis, GpuReading, isize>,
    cfg: CrynuxConfig,
}

/// The collections the crynux dataflow maintains.
pub struct CrynuxOutputs<'s> {
    pub node_out: Collection<'s, Millis, NodeOut>,
    /// Per node, (count, sum of task scores) over the window, as the collection's differences:
    /// no arrangement needed, the reader accumulates them.
    pub tasks: Collection<'s, Millis, Id, (isize, isize)>,
    pub gpu_vram: Collection<'s, Millis, (Id, u64)>,
    pub pay: Collection<'s, Millis, PayRow>,
}

impl CrynuxInputs {
    pub fn new(cfg: &CrynuxConfig) -> CrynuxInputs {
        CrynuxInputs {
            tasks: InputSession::new(),
            nodes: InputSession::new(),
            gpus: InputSession::new(),
            cfg: cfg.clone(),
        }
    }

    /// Moves every session to `time`; events fed afterwards count at `time`.
    pub fn advance_to(&mut self, time: Millis) {
        self.tasks.advance_to(time);
        self.nodes.advance_to(time);
        self.gpus.advance_to(time);
    }

    pub fn flush(&mut self) {
        self.tasks.flush();
        self.nodes.flush();
        self.gpus.flush();
    }

    /// Feeds one event (the sessions must be at or before its slot).
    pub fn feed(&mut self, event: &Event, seq: u64) {
        let at = slot(event.ts, self.cfg.slide.millis());
        if let Some((task, input)) = TaskInput::from_event(event, seq) {
            self.tasks.update_at((task, input), at, 1);
        }
        if let Some(node_event) = NodeEvent::from_event(event, seq) {
            self.nodes.update_at(node_event, at, 1);
        }
        if let Body::GpuSample(sample) = &event.body {
            let record = (
                (sample.node.clone(), sample.gpu.clone()),
                (event.ts, seq, sample.vram_total_bytes),
            );
            self.gpus.update_at(record, at, 1);
        }
    }
}
impl crate::policy::Feed for CrynuxInputs {
    fn feed(&mut self, event: &Event, seq: u64) {
        CrynuxInputs::feed(self, event, seq);
    }

    fn advance_to(&mut self, time: Millis) {
        CrynuxInputs::advance_to(self, time);
    }

    fn flush(&mut self) {
        CrynuxInputs::flush(self);
    }
}

/// Builds the dataflow in `scope` over the sessions of `inputs`.
pub fn build<'s>(
    scope: Scope<'s, Millis>,
    states: &States,
    inputs: &mut CrynuxInputs,
    cfg: &CrynuxConfig,
) -> CrynuxOutputs<'s> {
    let task_inputs = inputs.tasks.to_collection(scope.clone());
    let node_events = inputs.nodes.to_collection(scope.clone());
    let gpu_readings = inputs.gpus.to_collection(scope);

    let cfg_task = cfg.clone();
    let outcomes = moments(
        task_inputs,
        "CrynuxTaskWindows",
        |(task, _): &(Id, TaskInput)| task.hashed(),
        states,
        move || TaskWindows::new(&cfg_task),
    );
    let scores = outcomes.clone().flat_map(|out| match out {
        TaskOut::Score(row) => Some(row),
        TaskOut::Pay(_) => None,
    });
    let pay = outcomes.flat_map(|out| match out {
        TaskOut::Pay(row) => Some(row),
        TaskOut::Score(_) => None,
    });

    let tasks = scores
        .clone()
        .explode(|(node, _task, _time, score)| Some((node, (1isize, score as isize))));

    let window = cfg.window.millis();
    let gpu_vram = moments(
        gpu_readings,
        "CrynuxVram",
        |((node, _gpu), _): &GpuReading| node.hashed(),
        states,
        move || VramState::new(window),
    );

    let node_out = node_machines(node_events, scores, states, cfg);
    CrynuxOutputs {
        node_out,
        tasks,
        gpu_vram,
        pay,
    }
}

/// What a node machine is given: a registry or round event, or a change of a counted task.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum MachineInput {
    Event(NodeEvent),
    Task(TaskRow, isize),
}

impl MachineInput {
    fn node(&self) -> &Id {
        match self {
            MachineInput::Event(event) => &event.node,
            MachineInput::Task(row, _) => &row.0,
        }
    }
}

/// One worker's node machines. What a machine shows is its own state: a moment's output
/// updates come from comparing each touched machine with what it showed before the moment.
#[derive(Serialize, Deserialize)]
struct NodeMachines {
    cfg: CrynuxConfig,
    machines: HashMap<Id, NodeMachine>,
}

impl MomentState<MachineInput, NodeOut> for NodeMachines {
    fn next_time(&self) -> Option<Millis> {
        None
    }

    /// A slide's events are applied in the order the page fixes, then its task changes, then
    /// kick-out is evaluated for every node touched.
    fn advance(&mut self, time: Millis, inputs: Vec<MachineInput>) -> Vec<(NodeOut, isize)> {
        let mut node_events = Vec::new();
        let mut rows = Vec::new();
        for input in inputs {
            match input {
                MachineInput::Event(event) => node_events.push(event),
                MachineInput::Task(row, diff) => rows.push((row, diff)),
            }
        }
        node_events.sort();
        let cfg = &self.cfg;
        // Each touched node's machine as it was before this moment.
        let mut before: HashMap<Id, Shown> = HashMap::new();
        let machines = &mut self.machines;
        for event in &node_events {
            touch(machines, &mut before, &event.node).apply(event, cfg);
        }
        for ((node, task, task_time, score), diff) in rows {
            touch(machines, &mut before, &node).apply_task(
                time,
                task_time,
                &task,
                score,
                diff as i64,
                cfg,
            );
        }
        let mut out = Vec::new();
        for (node, shown) in before {
            let machine = self
                .machines
                .get_mut(&node)
                .expect("touched machines exist");
            machine.evaluate_kickout(time, cfg);
            machine.changes_since(shown, &mut out);
        }
        out
    }
}

/// `node`'s machine (a new one if it has none), noting what it showed if this is the moment's
/// first touch of it.
fn touch<'m>(
    machines: &'m mut HashMap<Id, NodeMachine>,
    before: &mut HashMap<Id, Shown>,
    node: &Id,
) -> &'m mut NodeMachine {
    let machine = machines.entry(node.clone()).or_default();
    before
        .entry(node.clone())
        .or_insert_with(|| machine.shown());
    machine
}

/// Runs one [`NodeMachine`] per node, keyed by node across workers. Each slide's events are
/// applied once both inputs have passed it; the machines' visible rows come out as a
/// differential collection.
fn node_machines<'s>(
    events: Collection<'s, Millis, NodeEvent>,
    scores: Collection<'s, Millis, TaskRow>,
    states: &States,
    cfg: &CrynuxConfig,
) -> Collection<'s, Millis, NodeOut> {
    let cfg = cfg.clone();
    // A task change's difference travels in the record, so the operator sees only insertions.
    let rows = scores
        .inner
        .map(|(row, t, diff)| (MachineInput::Task(row, diff), t, 1isize))
        .as_collection();
    let inputs = events.map(MachineInput::Event).concat(rows);
    moments(
        inputs,
        "CrynuxNodeMachines",
        |input: &MachineInput| input.node().hashed(),
        states,
        move || NodeMachines {
            cfg,
            machines: HashMap::new(),
        },
    )
}
