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

/// A node's own inputs to `crynux_qos`, as its events set them: nothing here moves with the
/// network or the clock, so it changes only when the node's rows do.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnParts {
    /// Counted tasks in the window.
    pub tasks: i64,
    /// Mean task score over them (`None` without a counted task).
    pub node_score: Option<f64>,
    /// Largest VRAM of its GPUs' latest samples, else the registered one.
    pub vram: Option<u64>,
    pub timeout_s: Option<u64>,
    pub stake: Option<f64>,
    /// Health as last set, at `health_ts`; it recovers from there.
    pub health: f64,
    pub health_ts: Millis,
    /// Excluded as of `health_ts`.
    pub excluded: bool,
}

impl OwnParts {
    /// The parts of an active node's row, its counted tasks (count, sum of scores) and its
    /// GPUs' largest sampled VRAM.
    pub fn of(row: &NodeRow, (count, sum): (i64, i64), vram_sample: Option<u64>) -> OwnParts {
        OwnParts {
            tasks: count,
            node_score: (count > 0).then(|| sum as f64 / count as f64),
            vram: vram_sample.or(row.attrs.vram_bytes),
            timeout_s: row.attrs.timeout_s,
            stake: row.attrs.stake.and_then(|d| d.to_f64()),
            health: row.health.0,
            health_ts: row.health_ts,
            excluded: row.excluded,
        }
    }
}

/// What every node's normalised figures divide by: maxima over the active nodes. They move
/// only with the nodes' own parts, never with the clock.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Normalisers {
    pub max_node_score: f64,
    pub max_vram: f64,
    pub max_stake: f64,
    pub max_timeout_s: u64,
}

impl Normalisers {
    pub fn over<'a>(nodes: impl Iterator<Item = &'a OwnParts> + Clone) -> Normalisers {
        let max_of = |f: &dyn Fn(&OwnParts) -> Option<f64>| {
            nodes.clone().filter_map(f).fold(0.0f64, f64::max)
        };
        Normalisers {
            max_node_score: max_of(&|o| o.node_score),
            max_vram: max_of(&|o| o.vram.map(|v| v as f64)),
            max_stake: max_of(&|o| o.stake),
            max_timeout_s: nodes.clone().filter_map(|o| o.timeout_s).max().unwrap_or(0),
        }
    }
}

/// A node's `crynux_qos` figures at a moment, from its own parts and the network's normalisers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QosFigures {
    pub speed: Option<f64>,
    pub vram: Option<f64>,
    pub timeout: Option<f64>,
    pub qos: f64,
    /// Effective health at the moment, and whether the node is still excluded then.
    pub health: f64,
    pub excluded: bool,
    /// Selection weight; its share of the network's total is the selection probability.
    pub weight: f64,
}

impl QosFigures {
    pub fn of(own: &OwnParts, n: &Normalisers, as_of: Millis, cfg: &CrynuxConfig) -> QosFigures {
        let health = effective_health(own.health, own.health_ts, as_of, cfg);
        let excluded = own.excluded && health < cfg.exclusion_leave;
        let speed = relative(own.node_score, n.max_node_score);
        let vram = relative(own.vram.map(|v| v as f64), n.max_vram);
        let timeout = timeout_score(own.timeout_s, n.max_timeout_s, cfg);
        let stake_ratio = match own.stake {
            Some(stake) if n.max_stake > 0.0 => stake / n.max_stake,
            _ => 0.0,
        };
        QosFigures {
            speed,
            vram,
            timeout,
            qos: qos(vram, timeout, speed, cfg),
            health,
            excluded,
            weight: selection_weight(stake_ratio, speed, health, excluded),
        }
    }
}

/// The network's total selection weight at `as_of`: `nodes` in node order, as the table adds
/// them up (a float sum depends on its order).
pub fn total_weight<'a>(
    nodes: impl Iterator<Item = &'a OwnParts>,
    n: &Normalisers,
    as_of: Millis,
    cfg: &CrynuxConfig,
) -> f64 {
    nodes
        .map(|own| QosFigures::of(own, n, as_of, cfg).weight)
        .sum()
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

    let active: Vec<(&Id, OwnParts)> = sorted
        .iter()
        .filter(|r| r.status == Status::Active)
        .map(|row| {
            let tasks = parts.tasks.get(&row.node).copied().unwrap_or((0, 0));
            let vram = parts.gpu_vram.get(&row.node).copied();
            (&row.node, OwnParts::of(row, tasks, vram))
        })
        .collect();
    let normalisers = Normalisers::over(active.iter().map(|(_, own)| own));
    let total = total_weight(active.iter().map(|(_, own)| own), &normalisers, as_of, cfg);

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
    for (node, own) in &active {
        let f = QosFigures::of(own, &normalisers, as_of, cfg);
        qos_table.push(vec![
            (*node).clone().into(),
            int(own.tasks),
            own.node_score.into(),
            f.speed.into(),
            f.vram.into(),
            f.timeout.into(),
            f.qos.into(),
            f.health.into(),
            f.excluded.into(),
            Cell::from(if total > 0.0 { f.weight / total } else { 0.0 }),
        ]);
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
