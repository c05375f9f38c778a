//! The sla dataflow, sharded by node, in four stages (each processing a moment once its input
//! frontier has passed it):
//!
//! - [`SlaShard`], on the worker each node's id hashes to: windows, ratings, check buckets,
//!   GPU faults; shows the figures and sends the changes below.
//! - [`SlaNetwork`], on worker 0: the live network medians from the shards' figure changes
//!   (the `sla_targets` row), and each check's targets, sent to every worker.
//! - [`SlaStandings`], by node again: registry changes and checks move each node's standing.
//! - [`SlaClose`], on worker 0: a period's statement from the shown figures and raised levels.
//!
//! No stage sweeps the fleet but at a period's close, whose statement names every node.

use differential_dataflow::Hashable;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::Scope;

use super::config::SlaConfig;
use super::network::{SlaClose, SlaNetwork};
use super::standing::SlaStandings;
use super::state::{SlaFlow, SlaInput, SlaNote, SlaOut, SlaShard};
use crate::checkpoint::States;
use crate::moments::{moments, EventInputs};
use crate::statement::Period;
use crate::time::Millis;

/// The sla inputs, at sla slots (`policy.sla.slide`).
pub type SlaInputs = EventInputs<SlaInput>;

pub fn inputs(cfg: &SlaConfig) -> SlaInputs {
    EventInputs::new(cfg.slide.millis(), Box::new(SlaInput::from_event))
}

/// The rows of a stage's flow, and its notes picked by `keep`.
fn split<'s>(
    flow: Collection<'s, Millis, SlaFlow>,
    keep: fn(&SlaNote) -> bool,
) -> (
    Collection<'s, Millis, SlaOut>,
    Collection<'s, Millis, SlaNote>,
) {
    let rows = flow.clone().flat_map(|f| match f {
        SlaFlow::Out(row) => Some(row),
        SlaFlow::Note(_) => None,
    });
    let notes = flow.flat_map(move |f| match f {
        SlaFlow::Note(n) if keep(&n) => Some(n),
        _ => None,
    });
    (rows, notes)
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
    let workers = scope.peers();
    let collection = inputs.events.to_collection(scope);
    let shard_cfg = cfg.clone();
    let shards = moments(
        collection,
        "SlaShard",
        |input: &SlaInput| input.node.hashed(),
        states,
        move || SlaShard::new(&shard_cfg, period),
    );
    let (shard_rows, shard_notes) = split(shards, |_| true);

    let to_network = shard_notes.clone().filter(|n| {
        matches!(
            n,
            SlaNote::Median(..) | SlaNote::CheckMedian(_) | SlaNote::First
        )
    });
    let network = moments(
        to_network,
        "SlaNetwork",
        SlaNote::route,
        states,
        move || SlaNetwork::new(workers),
    );
    let (network_rows, check_targets) = split(network, |n| matches!(n, SlaNote::CheckTargets(..)));

    let to_standings = shard_notes
        .clone()
        .filter(|n| matches!(n, SlaNote::Activity { .. } | SlaNote::Checked(..)))
        .concat(check_targets);
    let standing_cfg = cfg.clone();
    let standings = moments(
        to_standings,
        "SlaStandings",
        SlaNote::route,
        states,
        move || SlaStandings::new(&standing_cfg, period),
    );
    let (standing_rows, levels) = split(standings, |n| matches!(n, SlaNote::Level(..)));

    let to_close = shard_notes
        .filter(|n| matches!(n, SlaNote::Closing(..) | SlaNote::First))
        .concat(levels);
    let close_cfg = cfg.clone();
    let close = moments(to_close, "SlaClose", SlaNote::route, states, move || {
        SlaClose::new(&close_cfg, period)
    });
    let (close_rows, _) = split(close, |_| false);

    shard_rows
        .concat(network_rows)
        .concat(standing_rows)
        .concat(close_rows)
}
