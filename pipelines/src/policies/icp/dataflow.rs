//! The icp dataflow: every icp input goes to one worker's [`IcpState`], which closes days and
//! periods and refreshes the live rows at ticks once the input frontier has passed them.
//!
//! A day needs all of its nodes at once (subnet percentiles, provider extrapolation and type3
//! groups cross nodes), so the state lives on one worker; its work per day is small next to
//! the input volume (the inputs are a few counter snapshots per node per day, or turns that
//! are only counted).

use differential_dataflow::VecCollection as Collection;
use timely::dataflow::Scope;

use super::config::IcpConfig;
use super::state::{IcpInput, IcpOut, IcpState};
use crate::checkpoint::States;
use crate::moments::{moments, EventInputs, MomentState};
use crate::statement::Period;
use crate::time::Millis;

/// The icp inputs, at the engine's grain.
pub type IcpInputs = EventInputs<IcpInput>;

pub fn inputs(grain: Millis) -> IcpInputs {
    EventInputs::new(grain, Box::new(IcpInput::from_event))
}

/// Builds the icp dataflow over `inputs`; its output holds closed days' rows and statements
/// (inserted once, never retracted) and the open days' live rows.
pub fn build<'s>(
    scope: Scope<'s, Millis>,
    states: &States,
    inputs: &mut IcpInputs,
    cfg: &IcpConfig,
    period: Period,
) -> Collection<'s, Millis, IcpOut> {
    let ticks = IcpTicks {
        state: IcpState::new(cfg, period),
        slide: inputs.slide(),
        refresh: cfg.live_refresh.millis(),
        last_tick: 0,
    };
    let collection = inputs.events.to_collection(scope);
    moments(collection, "IcpDays", |_| 0, states, move || ticks)
}

/// [`IcpState`] driven by ticks: every `live_refresh` and at each day's close while it has
/// something to compute; while it waits for input, the quiet ticks are skipped.
#[derive(serde::Serialize, serde::Deserialize)]
struct IcpTicks {
    state: IcpState,
    slide: Millis,
    refresh: Millis,
    last_tick: Millis,
}

impl MomentState<IcpInput, IcpOut> for IcpTicks {
    fn next_time(&self) -> Option<Millis> {
        (!self.state.waiting()).then(|| self.state.next_tick(self.last_tick))
    }

    /// Inputs are applied when they come (every earlier tick has been taken); a tick falling on
    /// `t` then computes with them.
    fn advance(&mut self, t: Millis, inputs: Vec<IcpInput>) -> Vec<(IcpOut, isize)> {
        if self.state.waiting() {
            // The quiet ticks before `t` have nothing to do.
            self.last_tick = self
                .last_tick
                .max(t.saturating_sub(1) / self.refresh * self.refresh);
            while self.state.next_tick(self.last_tick) < t {
                self.last_tick = self.state.next_tick(self.last_tick);
            }
        }
        for input in inputs {
            self.state.apply(input);
        }
        if self.state.next_tick(self.last_tick) != t {
            return Vec::new();
        }
        self.last_tick = t;
        self.state.tick(t, self.slide)
    }
}
