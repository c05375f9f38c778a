//! The sla rows computed the plain way, for testing the dataflow: every figure, median and
//! check recomputed from all the events, nothing kept between moments but each node's list
//! of check results.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::config::SlaConfig;
use super::formulas::{
    medians_of, next_level, scores, targets, CheckCounts, Counts, Figures, Level,
};
use super::state::{
    statement_rows, LevelRow, SlaEvent, SlaInput, SlaOut, TargetsRow, BREACH, GPU_FAULT,
};
use crate::events::Event;
use crate::id::Id;
use crate::statement::{next_period_end, period_ending, Period};
use crate::time::{slot, Millis};
use crate::triggers::{Cause, TriggerEdges};

/// The rows the sla dataflow shows as of `as_of` (a slide boundary), sorted.
pub fn sla_reference(
    events: &[(Event, u64)],
    as_of: Millis,
    cfg: &SlaConfig,
    period: Period,
) -> Vec<SlaOut> {
    let slide = cfg.slide.millis();
    let mut inputs: Vec<SlaInput> = events
        .iter()
        .filter_map(|(e, seq)| SlaInput::from_event(e, *seq))
        .filter(|i| slot(i.ts, slide) <= as_of)
        .collect();
    inputs.sort();
    let Some(first) = inputs.iter().map(|i| slot(i.ts, slide)).min() else {
        return Vec::new();
    };
    let mut out = Vec::new();

    let now = active_at(&inputs, as_of);
    let figures = window_figures(&inputs, &now, as_of, cfg.window.millis(), cfg, true);
    out.push(SlaOut::Targets(TargetsRow::from(&medians_of(
        figures.values(),
    ))));
    out.extend(figures.iter().map(|(n, f)| SlaOut::Node(n.clone(), *f)));

    // Checks, in order, each from scratch.
    let every = cfg.check_every.millis();
    let mut history: BTreeMap<Id, Vec<(Millis, bool)>> = BTreeMap::new();
    let mut levels: BTreeMap<Id, (Level, Option<Millis>)> = BTreeMap::new();
    let mut last_rows: BTreeMap<Id, LevelRow> = BTreeMap::new();
    let mut edges = TriggerEdges::default();
    let mut triggers = Vec::new();
    let mut level_at_ends: BTreeMap<Millis, BTreeMap<Id, Level>> = BTreeMap::new();
    let mut c = first.div_ceil(every) * every;
    while c <= as_of {
        let active = active_at(&inputs, c);
        let hour = window_figures(&inputs, &active, c, cfg.check_window.millis(), cfg, false);
        let hour_targets = targets(&medians_of(hour.values()), cfg);
        for (node, f) in &hour {
            let breach = scores(f, &hour_targets, 0.5, cfg).breaches();
            let checks = history.entry(node.clone()).or_default();
            checks.push((c, breach));
            let counts = counts_of(checks, c, cfg);
            let (level, since) = levels.entry(node.clone()).or_default();
            let (new, cause) = next_level(*level, breach, &counts, cfg);
            if new != *level {
                *level = new;
                *since = Some(c);
                let name = (new != Level::None).then(|| new.name());
                let cause = Cause {
                    value: cause.0,
                    threshold: cause.1,
                };
                triggers.extend(edges.set(node, BREACH, name.as_deref(), c, cause));
            }
            last_rows.insert(
                node.clone(),
                LevelRow {
                    node: node.clone(),
                    level: *level,
                    since: *since,
                    breaches_lookback: counts.breaches_lookback,
                    consecutive_breaches: counts.consecutive_breaches,
                    consecutive_clean: counts.consecutive_clean,
                    checked: c,
                },
            );
        }
        level_at_ends.insert(
            c,
            levels.iter().map(|(n, (l, _))| (n.clone(), *l)).collect(),
        );
        c += every;
    }
    out.extend(last_rows.into_values().map(SlaOut::Level));
    triggers.extend(gpu_faults(&inputs, cfg));
    out.extend(triggers.into_iter().map(SlaOut::Trigger));

    // Statements at each period end after the first input, with the levels after its check.
    let mut end = next_period_end(first, period);
    while end <= as_of {
        let active = active_at(&inputs, end);
        let at_end = window_figures(&inputs, &active, end, cfg.window.millis(), cfg, true);
        let t = targets(&medians_of(at_end.values()), cfg);
        let level_of = |node: &Id| {
            let checked = level_at_ends.range(..=end).next_back();
            checked
                .and_then(|(_, l)| l.get(node).copied())
                .unwrap_or_default()
        };
        let name = period_ending(end, period);
        let rows = statement_rows(&name, at_end.into_iter(), &t, level_of, cfg);
        out.extend(rows.into_iter().map(SlaOut::Statement));
        end = next_period_end(end, period);
    }
    out.sort();
    out
}

/// The nodes whose last registry event at or before `t` is a registration.
fn active_at(inputs: &[SlaInput], t: Millis) -> BTreeSet<Id> {
    let mut last: HashMap<&Id, bool> = HashMap::new();
    for i in inputs.iter().filter(|i| i.ts <= t) {
        match i.what {
            SlaEvent::Registered => last.insert(&i.node, true),
            SlaEvent::Left => last.insert(&i.node, false),
            _ => None,
        };
    }
    last.into_iter()
        .filter(|(_, a)| *a)
        .map(|(n, _)| n.clone())
        .collect()
}

/// Each active node's figures over the events whose slot lies in `(t - span, t]`.
fn window_figures(
    inputs: &[SlaInput],
    active: &BTreeSet<Id>,
    t: Millis,
    span: Millis,
    cfg: &SlaConfig,
    with_ratings: bool,
) -> BTreeMap<Id, Figures> {
    let slide = cfg.slide.millis();
    let mut counts: BTreeMap<Id, Counts> = active
        .iter()
        .map(|n| (n.clone(), Counts::default()))
        .collect();
    let mut latest: BTreeMap<(Id, Id), (Millis, u64, u8)> = BTreeMap::new();
    for i in inputs {
        let at = slot(i.ts, slide);
        if at > t || !active.contains(&i.node) {
            continue;
        }
        match &i.what {
            SlaEvent::Rating { user, stars } => {
                let key = (i.node.clone(), user.clone());
                if latest
                    .get(&key)
                    .is_none_or(|(ts, seq, _)| (*ts, *seq) < (i.ts, i.seq))
                {
                    latest.insert(key, (i.ts, i.seq, *stars));
                }
            }
            _ if at + span <= t => {}
            SlaEvent::Probe { ok } => counts.get_mut(&i.node).unwrap().probe(*ok),
            SlaEvent::Request {
                class,
                ok,
                latency_ms,
            } => counts
                .get_mut(&i.node)
                .unwrap()
                .request(*class as usize, *ok, latency_ms.0),
            _ => {}
        }
    }
    let mut ratings: BTreeMap<Id, (u64, u64)> = BTreeMap::new();
    for ((node, _), (ts, _, stars)) in latest {
        if with_ratings && slot(ts, slide) + cfg.window.millis() > t {
            let r = ratings.entry(node).or_default();
            r.0 += stars as u64;
            r.1 += 1;
        }
    }
    counts
        .into_iter()
        .map(|(n, c)| {
            let (sum, count) = ratings.get(&n).copied().unwrap_or_default();
            (n, Figures::of(&c, sum, count))
        })
        .collect()
}

/// B7 and the consecutive counts of a node's checks up to and including `c`.
fn counts_of(checks: &[(Millis, bool)], c: Millis, cfg: &SlaConfig) -> CheckCounts {
    let lookback = cfg.lookback.millis();
    let b7 = checks
        .iter()
        .filter(|(t, b)| *b && t + lookback > c)
        .count();
    let last = checks.last().map(|(_, b)| *b).unwrap_or(false);
    let run = checks.iter().rev().take_while(|(_, b)| *b == last).count() as u32;
    CheckCounts {
        breaches_lookback: b7 as u32,
        consecutive_breaches: if last { run } else { 0 },
        consecutive_clean: if last { 0 } else { run },
    }
}

/// Rule 9, walking every sample in order.
fn gpu_faults(inputs: &[SlaInput], cfg: &SlaConfig) -> Vec<crate::triggers::TriggerRow> {
    let mut active: HashMap<Id, bool> = HashMap::new();
    let mut ecc: HashMap<(Id, Id), u64> = HashMap::new();
    let mut faulty: BTreeMap<(Id, Id), bool> = BTreeMap::new();
    let mut edges = TriggerEdges::default();
    let mut rows = Vec::new();
    for i in inputs {
        let SlaEvent::Gpu {
            gpu,
            xid,
            ecc_dbe_total,
        } = &i.what
        else {
            if let SlaEvent::Registered | SlaEvent::Left = i.what {
                active.insert(i.node.clone(), matches!(i.what, SlaEvent::Registered));
            }
            continue;
        };
        let key = (i.node.clone(), gpu.clone());
        let critical = xid.filter(|x| cfg.critical_xids.contains(x));
        let before = ecc.get(&key).copied();
        let rose = matches!((before, ecc_dbe_total), (Some(b), Some(n)) if *n > b);
        if let Some(n) = ecc_dbe_total {
            ecc.insert(key.clone(), *n);
        }
        faulty.insert(key, critical.is_some() || rose);
        let node_faulty = faulty.iter().any(|((n, _), f)| *n == i.node && *f);
        let raised = edges.current(&i.node, GPU_FAULT).is_some();
        let cause = match critical {
            Some(x) => Cause {
                value: x as f64,
                threshold: 0.0,
            },
            None if rose => Cause {
                value: ecc_dbe_total.unwrap() as f64,
                threshold: before.unwrap() as f64,
            },
            None => Cause {
                value: ecc_dbe_total.unwrap_or(0) as f64,
                threshold: ecc_dbe_total.unwrap_or(0) as f64,
            },
        };
        let is_active = active.get(&i.node).copied().unwrap_or(false);
        if node_faulty && !raised && is_active {
            rows.extend(edges.set(&i.node, GPU_FAULT, Some("warning"), i.ts, cause));
        } else if !node_faulty && raised {
            rows.extend(edges.set(&i.node, GPU_FAULT, None, i.ts, cause));
        }
    }
    rows
}
