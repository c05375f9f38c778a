//! The swap rows computed the plain way, for testing the dataflow: one ledger for the whole
//! network, every event applied in (ts, input order), overdraw decided by looking at all of the
//! debtor's pairs after each event, period income from totals taken at each period end.

use std::collections::BTreeMap;

use super::config::SwapConfig;
use super::ledger::{apply, rate_of, LedgerEvent, Pair};
use super::state::{
    effect_row, income_since, invalid_row, Origin, SwapEvent, SwapInput, SwapOut, OVERDRAW,
};
use crate::events::Event;
use crate::id::Id;
use crate::statement::{next_period_end, period_ending, Period};
use crate::time::{slot, Millis};
use crate::triggers::{Cause, TriggerEdges};

/// Every row the swap dataflow shows as of `as_of`, sorted.
pub fn swap_reference(
    events: &[(Event, u64)],
    as_of: Millis,
    grain: Millis,
    cfg: &SwapConfig,
    period: Period,
) -> Vec<SwapOut> {
    let mut inputs: Vec<(Millis, SwapInput)> = events
        .iter()
        .filter_map(|(e, seq)| SwapInput::from_event(e, *seq, cfg))
        .map(|i| (slot(i.ts, grain), i))
        .filter(|(at, _)| *at <= as_of)
        .collect();
    inputs.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut out = Vec::new();
    let Some(first) = inputs.first().map(|(_, i)| i.ts) else {
        return out;
    };
    let limit = cfg.disconnect_limit();
    let mut pairs: BTreeMap<(Id, Id), Pair> = BTreeMap::new();
    let mut light: BTreeMap<Id, bool> = BTreeMap::new();
    let mut edges = TriggerEdges::default();
    let mut closed: BTreeMap<(Id, Id), Pair> = BTreeMap::new();
    let mut end = next_period_end(first.saturating_sub(1), period);
    let mut inputs = inputs.into_iter().peekable();
    loop {
        let next_ts = inputs.peek().map(|(_, i)| i.ts);
        if end <= as_of && next_ts.is_none_or(|ts| ts >= end) {
            let name = period_ending(end, period);
            for ((debtor, creditor), p) in &pairs {
                let was = closed
                    .get(&(debtor.clone(), creditor.clone()))
                    .copied()
                    .unwrap_or_default();
                out.extend(income_since(&name, debtor, creditor, p, &was).map(SwapOut::Income));
            }
            closed = pairs.clone();
            end = next_period_end(end, period);
            continue;
        }
        let Some((_, input)) = inputs.next() else {
            break;
        };
        let SwapInput {
            ts,
            seq,
            debtor: node,
            what,
        } = input;
        let origin = Origin {
            ts,
            seq,
            debtor: &node,
        };
        let (creditor, event): (Id, LedgerEvent) = match what {
            SwapEvent::Registered { light: l } => {
                light.insert(node, l);
                continue;
            }
            SwapEvent::Invalid { kind, reason } => {
                out.push(invalid_row(origin, kind, reason));
                continue;
            }
            SwapEvent::Ledger { creditor, event } => (creditor, event),
        };
        let key = (node.clone(), creditor.clone());
        let rate = rate_of(light.get(&node).copied().unwrap_or(false), cfg);
        let (new, effect) = apply(pairs.get(&key).copied(), ts, &event, rate);
        out.extend(effect.map(|e| effect_row(e, origin, &creditor, &event)));
        if let Some(new) = new {
            let was_over = pairs.get(&key).is_some_and(|p| p.debt >= limit);
            pairs.insert(key, new);
            if was_over != (new.debt >= limit) {
                let any = pairs
                    .iter()
                    .any(|((d, _), p)| *d == node && p.debt >= limit);
                let cause = Cause {
                    value: new.debt as f64,
                    threshold: limit as f64,
                };
                let rows = edges.set(&node, OVERDRAW, any.then_some("severe"), ts, cause);
                out.extend(rows.into_iter().map(SwapOut::Trigger));
            }
        }
    }
    out.extend(pairs.into_iter().map(|((d, c), p)| SwapOut::Pair(d, c, p)));
    out.sort();
    out
}
