//! The operator shape the sequential policies share: inputs are buffered by time, and each
//! moment is handed to the policy's state once the input frontier has passed it, together with
//! the moments the state asks for itself (expiries, checks, period ends). What the state returns
//! comes out as a differential collection at that moment.

use std::collections::BTreeMap;

use differential_dataflow::collection::AsCollection;
use differential_dataflow::input::InputSession;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;

use crate::checkpoint::States;
use crate::events::Event;
use crate::time::{slot, Millis};

/// How a policy reads an event: its own input record, if the event concerns it.
pub type Decode<T> = Box<dyn Fn(&Event, u64) -> Option<T>>;

/// A policy's input session: events it reads go in at their slot of `slide`.
pub struct EventInputs<T: differential_dataflow::Data> {
    pub events: InputSession<Millis, T, isize>,
    slide: Millis,
    decode: Decode<T>,
}

impl<T: differential_dataflow::Data> EventInputs<T> {
    pub fn new(slide: Millis, decode: Decode<T>) -> EventInputs<T> {
        EventInputs {
            events: InputSession::new(),
            slide,
            decode,
        }
    }

    pub fn slide(&self) -> Millis {
        self.slide
    }

    pub fn advance_to(&mut self, time: Millis) {
        self.events.advance_to(time);
    }

    pub fn flush(&mut self) {
        self.events.flush();
    }

    /// Feeds one event at its slot (the session must be at or before it).
    pub fn feed(&mut self, event: &Event, seq: u64) {
        if let Some(input) = (self.decode)(event, seq) {
            self.events.update_at(input, slot(event.ts, self.slide), 1);
        }
    }
}

/// A policy's state as one worker keeps it.
pub trait MomentState<I, O> {
    /// The next moment after the last processed one that needs processing without new input.
    fn next_time(&self) -> Option<Millis>;
    /// Processes moment `t` (after every earlier one) with its inputs; returns row changes.
    fn advance(&mut self, t: Millis, inputs: Vec<I>) -> Vec<(O, isize)>;
}

/// Runs one `S` per worker over `inputs`, each input routed to the worker `route` picks
/// (the same for all inputs that must meet in one state). The state is kept in `states` under
/// `name` (restored from a checkpoint, if the registry holds one). Inputs waiting for a moment
/// are not part of it: at a checkpoint's cut they are all after it, and are read again.
pub fn moments<'s, I, O, S>(
    inputs: Collection<'s, Millis, I>,
    name: &str,
    route: impl Fn(&I) -> u64 + 'static,
    states: &States,
    make: impl FnOnce() -> S,
) -> Collection<'s, Millis, O>
where
    I: timely::ExchangeData + 'static,
    O: timely::ExchangeData + 'static,
    S: MomentState<I, O> + serde::Serialize + serde::de::DeserializeOwned + 'static,
{
    let state = states.borrow_mut().keep(name, make);
    inputs
        .inner
        .unary_frontier(
            Exchange::new(move |(input, _, _): &(I, Millis, isize)| route(input)),
            name,
            move |capability, _info| {
                let mut held = Some(capability);
                let mut pending: BTreeMap<Millis, Vec<I>> = BTreeMap::new();
                move |(input, frontier), output| {
                    input.for_each(|_cap, data| {
                        for (event, time, diff) in data.drain(..) {
                            debug_assert_eq!(diff, 1, "inputs are only inserted");
                            pending.entry(time).or_default().push(event);
                        }
                    });
                    let Some(cap) = held.as_mut() else { return };
                    let mut state = state.borrow_mut();
                    let Some(&complete) = frontier.frontier().first() else {
                        // The inputs closed: nothing after the last completed time is needed.
                        held = None;
                        return;
                    };
                    loop {
                        let next = [pending.keys().next().copied(), state.next_time()]
                            .into_iter()
                            .flatten()
                            .min();
                        let Some(t) = next.filter(|t| *t < complete) else {
                            break;
                        };
                        let batch = pending.remove(&t).unwrap_or_default();
                        let rows = state.advance(t, batch);
                        if !rows.is_empty() {
                            let at = cap.delayed(&t);
                            let mut session = output.session(&at);
                            for (row, diff) in rows {
                                session.give((row, t, diff));
                            }
                        }
                    }
                    cap.downgrade(&complete);
                }
            },
        )
        .as_collection()
}
