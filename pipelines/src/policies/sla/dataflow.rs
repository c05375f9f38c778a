//! The sla dataflow: every sla input goes to one worker's [`SlaState`], which processes each
//! moment once the input frontier has passed it.
//!
//! The network medians, ranks and hourly checks cross all nodes, so the state lives on one
//! worker; per moment it only touches the nodes whose events arrived or expired (plus every
//! active node once per check).

use differential_dataflow::VecCollection as Collection;
use timely::dataflow::Scope;

use super::config::SlaConfig;
use super::state::{SlaInput, SlaOut, SlaState};
use crate::checkpoint::States;
use crate::moments::{moments, EventInputs};
use crate::statement::Period;
use crate::time::Millis;

/// The sla inputs, at sla slots (`policy.sla.slide`).
pub type SlaInputs = EventInputs<SlaInput>;

pub fn inputs(cfg: &SlaConfig) -> SlaInputs {
    EventInputs::new(cfg.slide.millis(), Box::new(SlaInput::from_event))
}

/// Builds the sla dataflow over `inputs`: the figures, targets and levels shown now, and the
/// trigger edges and statements (inserted once, never retracted).
pub fn build<'s>(
    scope: Scope<'s, Millis>,
    states: &States,
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
        states,
        move || SlaState::new(&cfg, period),
    )
}
