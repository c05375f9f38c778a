//! The swap dataflow: each debtor's events (chunks it requested, refreshes and cheques it paid,
//! its registrations) go to the worker its id hashes to, whose [`SwapState`] applies them in
//! order. Creditors' income is summed across workers where the tables are read.

use differential_dataflow::hashable::Hashable;
use differential_dataflow::input::InputSession;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::Scope;

use super::config::SwapConfig;
use super::state::{SwapInput, SwapOut, SwapState};
use crate::events::Event;
use crate::id::Interner;
use crate::moments::moments;
use crate::statement::Period;
use crate::time::{slot, Millis};

pub struct SwapInputs {
    pub events: InputSession<Millis, SwapInput, isize>,
    ids: Interner,
    cfg: SwapConfig,
    slide: Millis,
}

impl SwapInputs {
    /// `slide`: the engine's time grain; ledger events take effect in order at its boundaries.
    pub fn new(cfg: &SwapConfig, slide: Millis) -> SwapInputs {
        SwapInputs {
            events: InputSession::new(),
            ids: Interner::default(),
            cfg: cfg.clone(),
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
        if let Some(input) = SwapInput::from_event(event, seq, &mut self.ids, &self.cfg) {
            self.events.update_at(input, slot(event.ts, self.slide), 1);
        }
    }
}

pub fn build<'s>(
    scope: Scope<'s, Millis>,
    inputs: &mut SwapInputs,
    cfg: &SwapConfig,
    period: Period,
) -> Collection<'s, Millis, SwapOut> {
    let cfg = cfg.clone();
    let collection = inputs.events.to_collection(scope);
    moments(
        collection,
        "SwapLedger",
        |input: &SwapInput| input.debtor.hashed(),
        move || SwapState::new(&cfg, period),
    )
}
