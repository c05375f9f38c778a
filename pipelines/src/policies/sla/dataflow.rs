//! The sla dataflow: every sla input goes to one worker's [`SlaState`], which processes each
//! moment once the input frontier has passed it.
//!
//! The network medians, ranks and hourly checks cross all nodes, so the state lives on one
//! worker; per moment it only touches the nodes whose events arrived or expired (plus every
//! active node once per check).

use differential_dataflow::input::InputSession;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::Scope;

use super::config::SlaConfig;
use super::state::{SlaInput, SlaOut, SlaState};
use crate::events::Event;
use crate::id::Interner;
use crate::moments::moments;
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
    let cfg = cfg.clone();
    let collection = inputs.events.to_collection(scope);
    moments(
        collection,
        "SlaState",
        |_| 0,
        move || SlaState::new(&cfg, period),
    )
}
