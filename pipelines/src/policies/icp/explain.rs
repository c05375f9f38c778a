//! `meritflow explain`: how one node's reward for one day came out, step by step, with the
//! same figures as its `icp_node_daily` row.

use std::fmt::Write;

use super::config::{IcpConfig, Type3Algorithm};
use super::day::Day;
use super::tables::IcpParts;
use crate::time::format_date;

/// The explanation of `node` on `day`: from the closed rows, else the live ones; None when the
/// node has no row that day.
pub fn explain(parts: &IcpParts, node: &str, day: Day, cfg: &IcpConfig) -> Option<String> {
    let closed = parts
        .nodes
        .iter()
        .find(|r| r.day == day && &*r.node == node);
    let (row, state) = match closed {
        Some(row) => (row, "closed: final"),
        None => (
            parts
                .live
                .iter()
                .find(|r| r.day == day && &*r.node == node)?,
            "open: these figures still move until the day closes",
        ),
    };
    let mut text = String::new();
    let w = &mut text;
    let _ = writeln!(
        w,
        "node {node}, provider {}, {} (UTC) — {state}",
        row.provider,
        format_date(day)
    );
    let [(x0, y0), (x1, y1)] = cfg.reduction_points;
    match (&row.subnet, row.proposed, row.failed, row.failure_rate) {
        (Some(subnet), Some(p), Some(f), Some(fr)) => {
            let nodes = parts
                .subnets
                .iter()
                .find(|s| s.day == day && s.subnet == *subnet)
                .map_or(String::new(), |s| format!(" of its {} nodes", s.nodes));
            let subnet_fr = row.subnet_failure_rate.unwrap_or_default();
            let _ = writeln!(w, "1. block making in subnet {subnet}: proposed {p}, failed {f} (the subnet where it had the most turns that day)");
            let _ = writeln!(
                w,
                "2. failure rate FR = failed / (proposed + failed) = {f} / {} = {fr}",
                p + f
            );
            let _ = writeln!(
                w,
                "3. subnet failure rate = the {}th percentile (nearest rank){nodes} = {subnet_fr}",
                cfg.percentile
            );
            let _ = writeln!(
                w,
                "4. relative FR = max(0, FR - subnet FR) = max(0, {fr} - {subnet_fr}) = {}",
                row.relative_failure_rate
            );
        }
        _ => {
            let _ = writeln!(w, "1. no block making that day: the node was unassigned");
            let _ = writeln!(w, "2-4. extrapolated FR = the mean relative FR of provider {}'s rewardable nodes with block making that day (0 if none) = {}", row.provider, row.relative_failure_rate);
        }
    }
    let fr = row.relative_failure_rate;
    let curve = if fr < x0 {
        format!("{fr} is below {x0}: r = {y0}")
    } else if fr > x1 {
        format!("{fr} is above {x1}: r = {y1}")
    } else {
        format!("r = ({fr} - {x0}) / ({x1} - {x0}) x ({y1} - {y0}) + {y0}")
    };
    let _ = writeln!(w, "5. reduction: {curve} = {}", row.reduction);
    let _ = writeln!(w, "6. multiplier m = 1 - r = {}", row.multiplier);
    let rate = match &row.rate_key {
        Some((region, node_type)) => format!(
            "reward_rate for region \"{region}\", node_type {node_type}: daily {} (monthly / {}), coefficient {}",
            row.daily_rate, cfg.days_per_month, row.coefficient
        ),
        None => format!(
            "no reward_rate entry for its region and node type: monthly 1, daily {}",
            row.daily_rate
        ),
    };
    let _ = writeln!(w, "7. base: {rate}");
    if row.type3_group > 0 {
        let algorithm = match cfg.type3_algorithm {
            Type3Algorithm::V1 => "v1: mean rate x mean of coefficient powers",
            Type3Algorithm::V2 => {
                "v2: rates sorted, each times the product of the coefficients before it"
            }
        };
        let _ = writeln!(w, "   type3 group of {} nodes (same provider and country) shares one base ({algorithm}): base = {}", row.type3_group, row.base_xdr_permyriad);
    } else {
        let _ = writeln!(w, "   base = daily rate = {}", row.base_xdr_permyriad);
    }
    let _ = writeln!(
        w,
        "8. adjusted = base x m = {} x {} = {} XDR permyriad",
        row.base_xdr_permyriad, row.multiplier, row.adjusted_xdr_permyriad
    );
    if let Some(p) = parts
        .providers
        .iter()
        .find(|p| p.day == day && p.provider == row.provider)
    {
        let _ = writeln!(
            w,
            "   provider {} that day: base {}, adjusted {} (sums over its nodes, truncated)",
            p.provider, p.base_xdr_permyriad, p.adjusted_xdr_permyriad
        );
    }
    Some(text)
}

/// The rows `explain` can speak of, for an error that lists what exists.
pub fn days_of(parts: &IcpParts, node: &str) -> Vec<Day> {
    let mut days: Vec<Day> = parts
        .nodes
        .iter()
        .chain(&parts.live)
        .filter(|r| &*r.node == node)
        .map(|r| r.day)
        .collect();
    days.dedup();
    days
}
