//! What the processes of a timely cluster tell each other besides events: a few counters that
//! only grow (how far a process has got, what it has published). Every value a worker tells
//! reaches every worker of every process through a small dataflow of its own, which carries no
//! event time, so a value arrives as soon as the workers step, whatever the event frontier.

use std::sync::{Arc, Mutex};

use foldhash::{HashMap, HashMapExt};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::vec::{Broadcast, Input};
use timely::worker::Worker;

/// A told value: (topic, process that told it, value).
type Told = (u8, u32, u64);

/// The largest value heard per (topic, process), shared by the workers of one process.
pub type Heard = Arc<Mutex<HashMap<(u8, u32), u64>>>;

pub fn heard() -> Heard {
    Arc::new(Mutex::new(HashMap::new()))
}

/// One worker's end of the control dataflow.
pub struct Control {
    input: timely::dataflow::operators::vec::input::Handle<u64, Told>,
    heard: Heard,
    dataflow: usize,
    process: usize,
    processes: usize,
}

impl Control {
    /// Installs the control dataflow on this worker (every worker must, in the same order as
    /// its other dataflows).
    pub fn install(worker: &mut Worker, heard: Heard, process: usize, processes: usize) -> Control {
        let dataflow = worker.next_dataflow_index();
        let into = Arc::clone(&heard);
        let input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, stream) = scope.new_input::<Told>();
            stream
                .broadcast()
                .sink(Pipeline, "Heard", move |(input, _frontier)| {
                    input.for_each(|_, data| {
                        let mut heard = into.lock().expect("heard lock");
                        for (topic, process, value) in data.drain(..) {
                            let at = heard.entry((topic, process)).or_insert(value);
                            *at = (*at).max(value);
                        }
                    });
                });
            input
        });
        Control {
            input,
            heard,
            dataflow,
            process,
            processes: processes.max(1),
        }
    }

    /// Tells every worker of every process `value` under `topic` (sent at the next step).
    pub fn tell(&mut self, topic: u8, value: u64) {
        self.input.send((topic, self.process as u32, value));
        self.input.flush();
    }

    /// The largest value each process has told under `topic` so far (None: nothing yet).
    pub fn heard(&self, topic: u8) -> Vec<Option<u64>> {
        let heard = self.heard.lock().expect("heard lock");
        (0..self.processes)
            .map(|p| heard.get(&(topic, p as u32)).copied())
            .collect()
    }

    /// The value every process has told under `topic`, at the least (None until all have).
    pub fn heard_from_all(&self, topic: u8) -> Option<u64> {
        self.heard(topic)
            .into_iter()
            .try_fold(u64::MAX, |least, v| v.map(|v| least.min(v)))
    }

    pub fn process(&self) -> usize {
        self.process
    }

    pub fn processes(&self) -> usize {
        self.processes
    }

    pub(crate) fn dataflow(&self) -> usize {
        self.dataflow
    }
}
