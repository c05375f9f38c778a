//! The relay dataflow: each peer's events go to the worker its id hashes to, whose
//! [`RelayState`] decides the peer again whenever something of it changed.

use differential_dataflow::hashable::Hashable;
use differential_dataflow::input::InputSession;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::Scope;

use super::config::RelayConfig;
use super::state::{RelayInput, RelayOut, RelayState};
use crate::events::Event;
use crate::id::Interner;
use crate::moments::moments;
use crate::time::{slot, Millis};

pub struct RelayInputs {
    pub events: InputSession<Millis, RelayInput, isize>,
    ids: Interner,
    slide: Millis,
}

impl RelayInputs {
    /// `slide`: the engine's grain; peers are decided at its boundaries (minutes by default).
    pub fn new(slide: Millis) -> RelayInputs {
        RelayInputs {
            events: InputSession::new(),
            ids: Interner::default(),
            slide,
        }
    }

    pub fn advance_to(&mut self, time: Millis) {
        self.events.advance_to(time);
    }

    pub fn flush(&mut self) {
        self.events.flush();
    }

    pub fn feed(&mut self, event: &Event, seq: u64) {
        if let Some(input) = RelayInput::from_event(event, seq, &mut self.ids) {
            self.events.update_at(input, slot(event.ts, self.slide), 1);
        }
    }
}

pub fn build<'s>(
    scope: Scope<'s, Millis>,
    inputs: &mut RelayInputs,
    cfg: &RelayConfig,
) -> Collection<'s, Millis, RelayOut> {
    let (cfg, slide) = (cfg.clone(), inputs.slide);
    let collection = inputs.events.to_collection(scope);
    moments(
        collection,
        "RelayDecisions",
        |input: &RelayInput| input.peer.hashed(),
        move || RelayState::new(&cfg, slide),
    )
}
