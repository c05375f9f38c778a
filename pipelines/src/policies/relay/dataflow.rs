//! The relay dataflow: each peer's events go to the worker its id hashes to, whose
//! [`RelayState`] decides the peer again whenever something of it changed.

use differential_dataflow::hashable::Hashable;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::Scope;

use super::config::RelayConfig;
use super::state::{RelayInput, RelayOut, RelayState};
use crate::checkpoint::States;
use crate::moments::{moments, EventInputs};
use crate::time::Millis;

/// The relay inputs, at the engine's grain: peers are decided at its boundaries.
pub type RelayInputs = EventInputs<RelayInput>;

pub fn inputs(grain: Millis) -> RelayInputs {
    EventInputs::new(grain, Box::new(RelayInput::from_event))
}

pub fn build<'s>(
    scope: Scope<'s, Millis>,
    states: &States,
    inputs: &mut RelayInputs,
    cfg: &RelayConfig,
) -> Collection<'s, Millis, RelayOut> {
    let (cfg, slide) = (cfg.clone(), inputs.slide());
    let collection = inputs.events.to_collection(scope);
    moments(
        collection,
        "RelayDecisions",
        |input: &RelayInput| input.peer.hashed(),
        states,
        move || RelayState::new(&cfg, slide),
    )
}
