//! `meritflow explain --policy sla --node N`: every target, figure and part of a node's
//! performance figure, with the rule that produced it, and the node's penalty history.

use std::fmt::Write;

use super::config::SlaConfig;
use super::formulas::{bucket_edge, CLASSES};
use super::state::{all_scores, TargetsRow};
use super::tables::SlaParts;
use crate::time::{format_rfc3339, Millis};

fn opt(v: Option<f64>) -> String {
    v.map_or("NULL".into(), |v| format!("{v}"))
}

pub fn explain(
    parts: &SlaParts,
    node: &str,
    as_of: Millis,
    cfg: &SlaConfig,
) -> Result<String, String> {
    let medians = parts
        .targets
        .as_ref()
        .map(TargetsRow::medians)
        .ok_or("no sla input in these events (probe, request, rating, node_registered)")?;
    let targets = super::formulas::targets(&medians, cfg);
    let scored = all_scores(&parts.nodes, &targets, cfg);
    let Some((_, f, rank, s)) = scored.iter().find(|(n, ..)| &**n == node) else {
        let known: Vec<&str> = parts.nodes.iter().take(10).map(|(n, _)| &**n).collect();
        return Err(format!(
            "node {node} is not active at {} (active nodes include: {})",
            format_rfc3339(as_of),
            known.join(", ")
        ));
    };
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(
        w,
        "sla for node {node} as of {} (window {}, slide {})",
        format_rfc3339(as_of),
        cfg.window,
        cfg.slide
    );
    let _ = writeln!(
        w,
        "\nTargets (network-relative, medians over the {} active nodes; NULL: none has the figure):",
        parts.nodes.len()
    );
    let _ = writeln!(
        w,
        "  uptime target     = min({}, network median uptime {}) = {}",
        cfg.uptime_target,
        opt(medians.uptime),
        targets.uptime
    );
    for (c, name) in CLASSES {
        let _ = writeln!(
            w,
            "  latency {name:<6}    = max({} ms, {} x network median p95 {}) = {} ms",
            cfg.latency_floor_ms,
            cfg.latency_factor,
            opt(medians.p95[c]),
            targets.latency_ms[c]
        );
        let _ = writeln!(
            w,
            "  error {name:<6}      = max({}, {} x network median error rate {}) = {}",
            super::formulas::error_base(c, cfg),
            cfg.error_factor,
            opt(medians.error[c]),
            targets.error[c]
        );
    }
    let _ = writeln!(w, "\nFigures over the window:");
    let _ = writeln!(
        w,
        "  uptime            = {} ok / {} probes = {}{}",
        f.ok_probes,
        f.probes,
        opt(f.uptime()),
        if f.probes == 0 {
            "  (unmonitored: nobody probed this node; not scored 0)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        w,
        "  latency p95 (all) = {} ms",
        opt(f.p95_all.map(bucket_edge))
    );
    for (c, name) in CLASSES {
        let _ = writeln!(
            w,
            "  {name:<6} requests   = {}, failed {}, error rate {}, p95 of ok {} ms",
            f.requests[c],
            f.failed[c],
            opt(f.error_rate(c)),
            opt(f.p95_ms(c))
        );
    }
    let _ = writeln!(
        w,
        "  rating            = {} stars / {} ratings = {}; rank {} (needs {} ratings to be ranked, else 0.5)",
        f.rating_sum,
        f.ratings,
        opt(f.rating()),
        rank,
        cfg.min_ratings
    );
    let _ = writeln!(w, "\nScores (each 0..=1; NULL drops out of the mean):");
    let _ = writeln!(
        w,
        "  uptime  = {}  (1 at/above target, 0 at {})",
        opt(s.uptime),
        cfg.uptime_floor
    );
    let _ = writeln!(
        w,
        "  latency = {}  (worst class: 1 at/below target, 0 at 2 x target)",
        opt(s.latency)
    );
    let _ = writeln!(
        w,
        "  errors  = {}  (worst class: 1 at/below target, 0 at {})",
        opt(s.errors),
        cfg.error_ceiling
    );
    let _ = writeln!(w, "  rating  = {}  (the rank)", s.rating);
    let parts_of = [
        ("uptime", cfg.weight_uptime, s.uptime),
        ("latency", cfg.weight_latency, s.latency),
        ("errors", cfg.weight_errors, s.errors),
        ("rating", cfg.weight_rating, Some(s.rating)),
    ];
    let terms: Vec<String> = parts_of
        .iter()
        .filter_map(|(n, wt, s)| s.map(|s| format!("{wt} x {s} ({n})")))
        .collect();
    let weights: f64 = parts_of.iter().filter(|p| p.2.is_some()).map(|p| p.1).sum();
    let _ = writeln!(
        w,
        "  performance = ({}) / {} = {}",
        terms.join(" + "),
        weights,
        opt(s.performance)
    );
    let _ = writeln!(
        w,
        "\nPenalty standing (hourly checks of the last {}):",
        cfg.check_window
    );
    match parts.levels.iter().find(|l| &*l.node == node) {
        Some(l) => {
            let _ = writeln!(
                w,
                "  level {} since {}; {} breaching checks in the last {}, {} consecutive breaching, {} consecutive clean (last check {})",
                l.level.name(),
                l.since.map_or("-".into(), format_rfc3339),
                l.breaches_lookback,
                cfg.lookback,
                l.consecutive_breaches,
                l.consecutive_clean,
                format_rfc3339(l.checked)
            );
            let m = l.level.multiplier(cfg);
            let _ = writeln!(
                w,
                "  reward factor now = performance x {m} = {}",
                opt(s.performance.map(|p| p * m))
            );
        }
        None => {
            let _ = writeln!(w, "  not checked yet");
        }
    }
    let triggers: Vec<_> = parts.triggers.iter().filter(|t| t.node == node).collect();
    if !triggers.is_empty() {
        let _ = writeln!(w, "\nTriggers:");
        for t in triggers {
            let _ = writeln!(
                w,
                "  {} {} {} {} (value {}, threshold {}) id {}",
                format_rfc3339(t.ts),
                t.rule,
                t.level,
                t.state.name(),
                t.value.0,
                t.threshold.0,
                t.id
            );
        }
    }
    Ok(o)
}
