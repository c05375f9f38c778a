//! From the dataflow's parts to the SQL tables, at a moment `as_of`. Normalised scores change
//! for every node when a maximum changes, so the dataflow keeps the parts (per-node counts and
//! sums, maxima inputs, health as last set) and the division happens here, once per snapshot.

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::config::CrynuxConfig;
use super::formulas::{effective_health, qos, relative, selection_weight, timeout_score};
use super::node_machine::{NodeRow, Status};
use crate::id::Id;
use crate::table::{int, opt_int, Cell, ColumnType::*, Table};
use crate::time::Millis;
use crate::triggers::TriggerRow;

/// One node's share of a task fee.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct PayRow {
    pub task: Id,
    pub node: Id,
    pub time: Millis,
    pub score: u32,
    pub fee: Decimal,
    pub pay: Decimal,
}

/// Everything the crynux dataflow maintains, as of one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrynuxParts {
    pub nodes: Vec<NodeRow>,
    /// Counted tasks in the window per node: (count, sum of task scores).
    pub tasks: BTreeMap<Id, (i64, i64)>,
    /// Largest VRAM of the node's GPUs, latest sample per GPU within the window.
    pub gpu_vram: BTreeMap<Id, u64>,
    pub pay: Vec<PayRow>,
    pub triggers: Vec<TriggerRow>,
}

impl CrynuxParts {
    /// Puts every list in a canonical order, so equal states compare equal.
    pub fn canonical(mut self) -> CrynuxParts {
        self.nodes.sort();
        self.pay.sort();
        self.triggers.sort();
        self
    }
}

struct Scored<'a> {
    row: &'a NodeRow,
    tasks: i64,
    node_score: Option<f64>,
    vram: Option<u64>,
    health: f64,
    excluded: bool,
}

/// The tables `nodes`, `crynux_qos` and `crynux_task_pay` as of `as_of` (its triggers go to
/// the shared `triggers` table).
pub fn tables(parts: &CrynuxParts, as_of: Millis, cfg: &CrynuxConfig) -> Vec<Table> {
    let mut nodes = Table::new(
        "nodes",
        &[
            ("node", Text),
            ("provider", Text),
            ("region", Text),
            ("node_type", Text),
            ("vram_bytes", Int),
            ("timeout_s", Int),
            ("stake", Decimal),
            ("status", Text),
        ],
    );
    let mut sorted: Vec<&NodeRow> = parts.nodes.iter().collect();
    sorted.sort_by(|a, b| a.node.cmp(&b.node));
    for row in &sorted {
        let a = &row.attrs;
        nodes.push(vec![
            row.node.clone().into(),
            a.provider.clone().into(),
            a.region.clone().into(),
            a.node_type.clone().into(),
            opt_int(a.vram_bytes),
            opt_int(a.timeout_s),
            a.stake.into(),
            row.status.name().into(),
        ]);
    }

    let active: Vec<Scored> = sorted
        .iter()
        .filter(|r| r.status == Status::Active)
        .map(|row| {
            let (count, sum) = parts.tasks.get(&row.node).copied().unwrap_or((0, 0));
            let health = effective_health(row.health.0, row.health_ts, as_of, cfg);
            Scored {
                row,
                tasks: count,
                node_score: (count > 0).then(|| sum as f64 / count as f64),
                vram: parts
                    .gpu_vram
                    .get(&row.node)
                    .copied()
                    .or(row.attrs.vram_bytes),
                health,
                excluded: row.excluded && health < cfg.exclusion_leave,
            }
        })
        .collect();
    let max_of =
        |f: &dyn Fn(&Scored) -> Option<f64>| active.iter().filter_map(f).fold(0.0f64, f64::max);
    let max_score = max_of(&|s| s.node_score);
    let max_vram = max_of(&|s| s.vram.map(|v| v as f64));
    let max_stake = max_of(&|s| s.row.attrs.stake.and_then(|d| d.to_f64()));
    let max_timeout = active
        .iter()
        .filter_map(|s| s.row.attrs.timeout_s)
        .max()
        .unwrap_or(0);

    let mut qos_table = Table::new(
        "crynux_qos",
        &[
            ("node", Text),
            ("tasks", Int),
            ("node_score", Float),
            ("speed_score", Float),
            ("vram_score", Float),
            ("timeout_score", Float),
            ("qos", Float),
            ("health", Float),
            ("excluded", Bool),
            ("selection_prob", Float),
        ],
    );
    let mut rows = Vec::with_capacity(active.len());
    let mut weights = Vec::with_capacity(active.len());
    for s in &active {
        let speed = relative(s.node_score, max_score);
        let vram = relative(s.vram.map(|v| v as f64), max_vram);
        let timeout = timeout_score(s.row.attrs.timeout_s, max_timeout, cfg);
        let stake_ratio = match s.row.attrs.stake.and_then(|d| d.to_f64()) {
            Some(stake) if max_stake > 0.0 => stake / max_stake,
            _ => 0.0,
        };
        weights.push(selection_weight(stake_ratio, speed, s.health, s.excluded));
        rows.push(vec![
            s.row.node.clone().into(),
            int(s.tasks),
            s.node_score.into(),
            speed.into(),
            vram.into(),
            timeout.into(),
            qos(vram, timeout, speed, cfg).into(),
            s.health.into(),
            s.excluded.into(),
        ]);
    }
    let total: f64 = weights.iter().sum();
    for (mut row, w) in rows.into_iter().zip(weights) {
        row.push(Cell::from(if total > 0.0 { w / total } else { 0.0 }));
        qos_table.push(row);
    }

    let mut pay = Table::new(
        "crynux_task_pay",
        &[
            ("task", Text),
            ("node", Text),
            ("task_score", Int),
            ("fee", Decimal),
            ("pay", Decimal),
        ],
    );
    let mut pay_rows: Vec<&PayRow> = parts.pay.iter().collect();
    pay_rows.sort_by(|a, b| (&a.task, &a.node).cmp(&(&b.task, &b.node)));
    for p in pay_rows {
        pay.push(vec![
            p.task.clone().into(),
            p.node.clone().into(),
            int(p.score),
            p.fee.into(),
            p.pay.into(),
        ]);
    }

    vec![nodes, qos_table, pay]
}
