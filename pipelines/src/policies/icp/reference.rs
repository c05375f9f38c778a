//! A plain reference of the icp dataflow: every table recomputed from the whole event list, the
//! obvious way (scan, sort, fold), to test the incremental state and its timing against.

use std::collections::BTreeMap;

use super::config::IcpConfig;
use super::day::{compute_day, day_end, day_of, day_start, Day, DayInputs, Rewardable};
use super::period::PeriodSums;
use super::state::{Change, IcpInput};
use super::tables::IcpParts;
use crate::events::Event;
use crate::id::Id;
use crate::statement::{period_of, Period};
use crate::time::{slot, Millis};

/// The icp tables as of `as_of`, from `events` (with their sequence numbers); `slide` is the
/// engine's time grain.
pub fn icp_reference(
    events: &[(Event, u64)],
    as_of: Millis,
    slide: Millis,
    cfg: &IcpConfig,
    period: Period,
) -> IcpParts {
    let mut inputs: Vec<(Millis, IcpInput)> = events
        .iter()
        .filter_map(|(e, seq)| IcpInput::from_event(e, *seq))
        .map(|i| (slot(i.ts, slide), i))
        .filter(|(at, _)| *at <= as_of)
        .collect();
    inputs.sort_by_key(|(_, i)| (i.ts, i.seq));
    let visible_at = |t: Millis| -> Vec<&IcpInput> {
        inputs
            .iter()
            .filter(|(at, _)| *at <= t)
            .map(|(_, i)| i)
            .collect()
    };
    let first_day = |visible: &[&IcpInput]| {
        visible
            .iter()
            .filter(|i| i.starts_days())
            .map(|i| day_of(i.ts))
            .min()
    };
    let grace = cfg.grace.millis();
    let closed = |d: Day| day_end(d) + grace <= as_of;

    let mut parts = IcpParts::default();
    let all = visible_at(as_of);
    let Some(first) = first_day(&all) else {
        return parts;
    };
    let mut periods: BTreeMap<String, (Day, PeriodSums)> = BTreeMap::new();
    let mut day = first;
    while closed(day) {
        let result = compute_day(day, &day_inputs(&all, day), cfg);
        let (name, last) = period_of(day, period);
        periods
            .entry(name)
            .or_insert_with(|| (last, PeriodSums::default()))
            .1
            .add_day(&result.nodes, &result.providers);
        parts.nodes.extend(result.nodes);
        parts.subnets.extend(result.subnets);
        parts.providers.extend(result.providers);
        day += 1;
    }
    for (name, (last, sums)) in &periods {
        if closed(*last) {
            parts.statements.extend(sums.statement(name, "icp"));
        }
    }

    // The live rows as of the last refresh or close at or before `as_of`.
    let refresh = cfg.live_refresh.millis();
    let last_close = as_of
        .checked_sub(grace)
        .map_or(0, |t| day_start(day_of(t)) + grace)
        .min(as_of);
    let tick = (as_of / refresh * refresh).max(last_close);
    let visible = visible_at(tick);
    if let Some(first) = first_day(&visible) {
        for d in first.max(day)..=day_of(tick.saturating_sub(1)) {
            parts
                .live
                .extend(compute_day(d, &day_inputs(&visible, d), cfg).nodes);
        }
    }
    parts.nodes.sort();
    parts.subnets.sort();
    parts.providers.sort();
    parts.live.sort();
    parts.statements.sort();
    parts
}

#[derive(Clone, Default)]
struct Reg {
    provider: Option<Id>,
    region: Option<Id>,
    node_type: Option<Id>,
    active: bool,
    left_on: Option<Day>,
}

/// Day `day`'s inputs from `visible` (sorted by ts, seq).
fn day_inputs(visible: &[&IcpInput], day: Day) -> DayInputs {
    let end = day_end(day);
    let mut registry: BTreeMap<Id, Reg> = BTreeMap::new();
    let mut inputs = DayInputs::default();
    let mut last: BTreeMap<(Id, Id, Day), (u64, u64)> = BTreeMap::new();
    for input in visible.iter().filter(|i| i.ts < end) {
        let d = day_of(input.ts);
        match &input.change {
            Change::Registered {
                node,
                provider,
                region,
                node_type,
            } => {
                let r = registry.entry(node.clone()).or_default();
                r.active = true;
                r.provider = provider.clone().or(r.provider.take());
                r.region = region.clone().or(r.region.take());
                r.node_type = node_type.clone().or(r.node_type.take());
            }
            Change::Left { node } => {
                // Leaving marks the day even for a node not (yet) registered.
                let r = registry.entry(node.clone()).or_default();
                r.active = false;
                r.left_on = Some(d);
            }
            Change::Rate {
                region,
                node_type,
                entry,
            } => {
                inputs
                    .rates
                    .insert((region.clone(), node_type.clone()), entry.clone());
            }
            Change::Counters {
                node,
                subnet,
                proposed_total,
                failed_total,
            } => {
                // Sorted by (ts, seq): the last one written is the day's last snapshot.
                last.insert(
                    (node.clone(), subnet.clone(), d),
                    (*proposed_total, *failed_total),
                );
            }
            Change::Round { node, subnet, made } if d == day => {
                let c = inputs
                    .counts
                    .entry((node.clone(), subnet.clone()))
                    .or_default();
                if *made {
                    c.0 += 1
                } else {
                    c.1 += 1
                }
            }
            Change::Round { .. } => {}
        }
    }
    for ((node, subnet, d), (p, f)) in &last {
        if *d != day {
            continue;
        }
        let (bp, bf) = match last.get(&(node.clone(), subnet.clone(), day - 1)) {
            Some((bp, bf)) if bp <= p && bf <= f => (*bp, *bf),
            _ => (0, 0),
        };
        let c = inputs
            .counts
            .entry((node.clone(), subnet.clone()))
            .or_default();
        c.0 += p - bp;
        c.1 += f - bf;
    }
    for (node, r) in registry {
        if !r.active || r.left_on == Some(day) {
            continue;
        }
        if let (Some(provider), Some(region), Some(node_type)) = (r.provider, r.region, r.node_type)
        {
            inputs.rewardable.insert(
                node,
                Rewardable {
                    provider,
                    region,
                    node_type,
                },
            );
        }
    }
    inputs
}
