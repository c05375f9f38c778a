//! The sla SQL tables from the dataflow's rows, as of one moment. Scores, ranks and the
//! performance figure are computed here, at read time, from the figures and targets the
//! dataflow keeps: a change of a median or a rank moves every node's score, which is cheap to
//! compute once per read and expensive to keep as rows.

use super::config::SlaConfig;
use super::formulas::{Figures, HIGH, NORMAL};
use super::state::{all_scores, LevelRow, SlaOut, TargetsRow};
use crate::id::Id;
use crate::statement::StatementRow;
use crate::table::{int, timestamp, Cell, ColumnType::*, Table};
use crate::time::Millis;
use crate::triggers::TriggerRow;

/// Everything the sla dataflow shows at one moment, each list sorted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlaParts {
    pub nodes: Vec<(Id, Figures)>,
    pub targets: Option<TargetsRow>,
    pub levels: Vec<LevelRow>,
    pub triggers: Vec<TriggerRow>,
    pub statements: Vec<StatementRow>,
}

impl SlaParts {
    /// Sorts rows out by table (`rows` sorted, as a snapshot comes), the standings caught up
    /// to `as_of`.
    pub fn from_rows(rows: Vec<SlaOut>, as_of: Millis, cfg: &SlaConfig) -> SlaParts {
        let mut parts = SlaParts::default();
        for row in rows {
            match row {
                SlaOut::Node(node, f) => parts.nodes.push((node, f)),
                SlaOut::Targets(t) => parts.targets = Some(t),
                SlaOut::Level(l) => parts.levels.push(l),
                SlaOut::Standing(node, s) => parts.levels.extend(s.at(&node, as_of, cfg)),
                SlaOut::Trigger(t) => parts.triggers.push(t),
                SlaOut::Statement(s) => parts.statements.push(s),
            }
        }
        parts
    }
}

/// `sla`, `sla_targets` and `sla_levels` (triggers and statements are shared tables).
pub fn tables(parts: &SlaParts, cfg: &SlaConfig) -> Vec<Table> {
    let medians = parts.targets.as_ref().map(TargetsRow::medians);
    let targets = super::formulas::targets(&medians.unwrap_or_default(), cfg);
    let mut sla = Table::new(
        "sla",
        &[
            ("node", Text),
            ("uptime", Float),
            ("probes", Int),
            ("latency_p95_ms", Float),
            ("requests", Int),
            ("error_rate_high", Float),
            ("error_rate_normal", Float),
            ("rating", Float),
            ("ratings", Int),
            ("rating_rank", Float),
            ("uptime_score", Float),
            ("latency_score", Float),
            ("error_score", Float),
            ("rating_score", Float),
            ("performance", Float),
            ("unmonitored", Bool),
        ],
    );
    for (node, f, rank, s) in all_scores(&parts.nodes, &targets, cfg) {
        sla.push(vec![
            node.into(),
            f.uptime().into(),
            int(f.probes),
            f.p95_all.map(super::formulas::bucket_edge).into(),
            int(f.requests[HIGH] + f.requests[NORMAL]),
            f.error_rate(HIGH).into(),
            f.error_rate(NORMAL).into(),
            f.rating().into(),
            int(f.ratings),
            rank.into(),
            s.uptime.into(),
            s.latency.into(),
            s.errors.into(),
            s.rating.into(),
            s.performance.into(),
            (f.probes == 0).into(),
        ]);
    }
    let mut target_table = Table::new(
        "sla_targets",
        &[
            ("uptime_target", Float),
            ("latency_target_ms_high", Float),
            ("latency_target_ms_normal", Float),
            ("error_target_high", Float),
            ("error_target_normal", Float),
            ("network_median_uptime", Float),
        ],
    );
    if parts.targets.is_some() {
        target_table.push(vec![
            targets.uptime.into(),
            targets.latency_ms[HIGH].into(),
            targets.latency_ms[NORMAL].into(),
            targets.error[HIGH].into(),
            targets.error[NORMAL].into(),
            targets.median_uptime.into(),
        ]);
    }
    let mut levels = Table::new(
        "sla_levels",
        &[
            ("node", Text),
            ("level", Text),
            ("level_since", Timestamp),
            ("breaches_lookback", Int),
            ("consecutive_breaches", Int),
            ("consecutive_clean", Int),
            ("multiplier", Float),
            ("checked", Timestamp),
        ],
    );
    for l in &parts.levels {
        levels.push(vec![
            l.node.clone().into(),
            l.level.name().into(),
            l.since.map_or(Cell::Timestamp(None), timestamp),
            int(l.breaches_lookback),
            int(l.consecutive_breaches),
            int(l.consecutive_clean),
            l.level.multiplier(cfg).into(),
            timestamp(l.checked),
        ]);
    }
    vec![sla, target_table, levels]
}
