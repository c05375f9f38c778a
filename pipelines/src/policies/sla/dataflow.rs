//! The sla dataflow: every sla input goes to one worker's [`SlaState`], which processes each
//! moment once the input frontier has passed it.
//!
//! The network medians, ranks and hourly checks cross all nodes, so the state lives on one
//! worker; per moment it only touches the nodes whose events arrived or expired (plus every
//! active node once per check).

use std::collections::BTreeMap;

use differential_dataflow::collection::AsCollection;
use differential_dataflow::input::InputSession;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::Scope;

use super::config::SlaConfig;
use super::state::{SlaInput, SlaOut, SlaState};
use crate::events::Event;
use crate::id::Interner;
use crate::statement::Period;
use crate::time::{slot, Millis};

pub struct SlaInputs {
    pub events: InputSession<Millis, SlaInput, isize>,
    ids: Interner,
    slide: Millis,
}

impl SlaInputs {
    pub fn new(cfg: &SlaConfig) -> SlaInputs {
        SlaInputs {
            events: InputSession::new(),
            ids: Interner::default(),
            slide: cfg.slide.millis(),
        }
    }

    pub fn advance_to(&mut self, time: Millis) {
        self.events.advance_to(time);
    }

    pub fn flush(&mut self) {
        self.events.flush();
    }

    /// Feeds one event at its sla slot (the session must be at or before it).
    pub fn feed(&mut self, event: &Event, seq: u64) {
        if let Some(input) = SlaInput::from_event(event, seq, &mut self.ids) {
            self.events.update_at(input, slot(event.ts, self.slide), 1);
        }
    }
}

/// Builds the sla dataflow over `inputs`: the figures, targets and levels shown now, and the
/// trigger edges and statements (inserted once, never retracted).
pub fn build<'s>(
    scope: Scope<'s, Millis>,
    inputs: &mut SlaInputs,
    cfg: &SlaConfig,
    period: Period,
) -> Collection<'s, Millis, SlaOut> {
    let mut state = SlaState::new(cfg, period);
    inputs
        .events
        .to_collection(scope)
        .inner
        .unary_frontier(
            Exchange::new(|_: &(SlaInput, Millis, isize)| 0),
            "SlaState",
            move |capability, _info| {
                let mut held = Some(capability);
                let mut pending: BTreeMap<Millis, Vec<SlaInput>> = BTreeMap::new();
                move |(input, frontier), output| {
                    input.for_each(|_cap, data| {
                        for (event, time, diff) in data.drain(..) {
                            debug_assert_eq!(diff, 1, "sla inputs are only inserted");
                            pending.entry(time).or_default().push(event);
                        }
                    });
                    let Some(cap) = held.as_mut() else { return };
                    let Some(&complete) = frontier.frontier().first() else {
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
                        let inputs = pending.remove(&t).unwrap_or_default();
                        let rows = state.advance(t, inputs);
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
