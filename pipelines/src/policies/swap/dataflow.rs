//! The swap dataflow: each debtor's events (chunks it requested, refreshes and cheques it paid,
//! its registrations) go to the worker its id hashes to, whose [`SwapState`] applies them in
//! order. Creditors' income is summed across workers where the tables are read.

use differential_dataflow::hashable::Hashable;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::Scope;

use super::config::SwapConfig;
use super::state::{SwapInput, SwapOut, SwapState};
use crate::checkpoint::States;
use crate::moments::{moments, EventInputs};
use crate::statement::Period;
use crate::time::Millis;

/// The swap inputs, at the engine's grain: ledger events take effect in order at its boundaries.
pub type SwapInputs = EventInputs<SwapInput>;

pub fn inputs(cfg: &SwapConfig, grain: Millis) -> SwapInputs {
    let cfg = cfg.clone();
    EventInputs::new(
        grain,
        Box::new(move |event, seq| SwapInput::from_event(event, seq, &cfg)),
    )
}

pub fn build<'s>(
    scope: Scope<'s, Millis>,
    states: &States,
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
        states,
        move || SwapState::new(&cfg, period),
    )
}
