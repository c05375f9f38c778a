//! The icp dataflow: every icp input goes to one worker's [`IcpState`], which closes days and
//! periods and refreshes the live rows at ticks once the input frontier has passed them.
//!
//! A day needs all of its nodes at once (subnet percentiles, provider extrapolation and type3
//! groups cross nodes), so the state lives on one worker; its work per day is small next to
//! the input volume (the inputs are a few counter snapshots per node per day, or turns that
//! are only counted).

use std::collections::BTreeMap;

use differential_dataflow::collection::AsCollection;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::Scope;

use super::config::IcpConfig;
use super::state::{IcpInput, IcpOut, IcpState};
use crate::moments::EventInputs;
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
    inputs: &mut IcpInputs,
    cfg: &IcpConfig,
    period: Period,
) -> Collection<'s, Millis, IcpOut> {
    let slide = inputs.slide();
    let refresh = cfg.live_refresh.millis();
    let mut state = IcpState::new(cfg, period);
    inputs
        .events
        .to_collection(scope)
        .inner
        .unary_frontier(
            Exchange::new(|_: &(IcpInput, Millis, isize)| 0),
            "IcpDays",
            move |capability, _info| {
                let mut held = Some(capability);
                let mut pending: BTreeMap<Millis, Vec<IcpInput>> = BTreeMap::new();
                let mut last_tick: Millis = 0;
                move |(input, frontier), output| {
                    input.for_each(|_cap, data| {
                        for (event, time, diff) in data.drain(..) {
                            debug_assert_eq!(diff, 1, "icp inputs are only inserted");
                            pending.entry(time).or_default().push(event);
                        }
                    });
                    let Some(cap) = held.as_mut() else { return };
                    let Some(&complete) = frontier.frontier().first() else {
                        // The inputs closed: nothing after the last completed time is needed.
                        held = None;
                        return;
                    };
                    loop {
                        if state.waiting() {
                            // Skip the quiet ticks up to the next input.
                            let horizon = pending.keys().next().copied().unwrap_or(complete);
                            let quiet =
                                (horizon.min(complete).saturating_sub(1) / refresh) * refresh;
                            last_tick = last_tick.max(quiet);
                        }
                        let tick = state.next_tick(last_tick);
                        if tick >= complete {
                            break;
                        }
                        while let Some(entry) = pending.first_entry() {
                            if *entry.key() > tick {
                                break;
                            }
                            for event in entry.remove() {
                                state.apply(event);
                            }
                        }
                        let rows = state.tick(tick, slide);
                        if !rows.is_empty() {
                            let at = cap.delayed(&tick);
                            let mut session = output.session(&at);
                            for (row, diff) in rows {
                                session.give((row, tick, diff));
                            }
                        }
                        last_tick = tick;
                    }
                    cap.downgrade(&complete);
                }
            },
        )
        .as_collection()
}
