//! The scores topic: per publication, the own parts of each node whose parts changed, and one
//! row of the network's normalisers.
//!
//! A `crynux_qos` row divides by network maxima and by the total selection weight, and its
//! health recovers with the clock: written whole, nearly every row would change at every
//! publication, so the topic's cost would follow the fleet. What a node's events set (its
//! [`OwnParts`]) changes only with them; what moves with the network or the clock is one row
//! (key `""`, which no node id can be). A reader finishes the rows with [`finish`], the
//! formulas `crynux_qos` itself uses, to the same values.
//!
//! [`ScoreBook`] keeps what the rows are made from, up to date from the captured outputs'
//! changes at each publication: its cost is that of the changed nodes, plus one pass over the
//! active nodes' parts for the total weight (arithmetic only, no rows built).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasher;

use serde_json::{Map, Number, Value};

use super::config::CrynuxConfig;
use super::node_machine::{NodeOut, NodeRow, Status};
use super::tables::{total_weight, CrynuxParts, Normalisers, OwnParts, QosFigures};
use crate::id::Id;
use crate::time::{format_rfc3339, parse_rfc3339, Millis};

/// The key of the network's row on the scores topic (node ids are never empty).
pub const NETWORK_KEY: &str = "";

/// A multiset of values kept in a total order, for a maximum that values leave as well as join.
#[derive(Default)]
struct Maximum(BTreeMap<u64, u32>);

impl Maximum {
    /// `f64`s in the order of [`f64::total_cmp`], as `u64`s.
    fn key(v: f64) -> u64 {
        let bits = v.to_bits();
        if bits >> 63 == 1 {
            !bits
        } else {
            bits | 1 << 63
        }
    }

    fn value(key: u64) -> f64 {
        f64::from_bits(if key >> 63 == 1 {
            key & !(1 << 63)
        } else {
            !key
        })
    }

    fn add(&mut self, key: Option<u64>) {
        if let Some(key) = key {
            *self.0.entry(key).or_default() += 1;
        }
    }

    fn remove(&mut self, key: Option<u64>) {
        let Some(key) = key else { return };
        if let std::collections::btree_map::Entry::Occupied(mut e) = self.0.entry(key) {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
        }
    }

    fn max(&self) -> Option<u64> {
        self.0.last_key_value().map(|(k, _)| *k)
    }
}

/// What the book holds of one node: its row's fields that count, its counted tasks, its GPUs'
/// largest sampled VRAM, and its own parts while it is active.
#[derive(Default)]
struct Entry {
    row: Option<RowFields>,
    tasks: (i64, i64),
    vram: Option<u64>,
    own: Option<OwnParts>,
    /// Where `own` is in [`ScoreBook::dense`], while the book's order is not stale.
    at: usize,
}

/// The fields of a node's row that its own parts are made from.
struct RowFields {
    active: bool,
    row: NodeRow,
}

type Hasher = foldhash::fast::FixedState;

/// The active nodes' own parts and the maxima over them, kept up to date from the crynux
/// captures' changes.
#[derive(Default)]
pub struct ScoreBook {
    nodes: HashMap<Id, Entry, Hasher>,
    /// The active nodes' parts in node order, side by side for the total weight's pass (a
    /// float sum depends on its order); rebuilt when a node joined or left them.
    dense: Vec<OwnParts>,
    order_stale: bool,
    node_score: Maximum,
    vram: Maximum,
    stake: Maximum,
    timeout_s: Maximum,
}

/// The changes of the crynux captures between two publications, consolidated.
#[derive(Default)]
pub struct CrynuxChanges {
    pub node_out: Vec<(NodeOut, isize)>,
    pub tasks: Vec<(Id, (isize, isize))>,
    pub gpu_vram: Vec<((Id, u64), isize)>,
}

impl ScoreBook {
    /// The book of a whole snapshot (a first publication, or one after a restart).
    pub fn of(parts: &CrynuxParts) -> ScoreBook {
        let mut book = ScoreBook::default();
        let changes = CrynuxChanges {
            node_out: parts
                .nodes
                .iter()
                .map(|r| (NodeOut::Node(r.clone()), 1))
                .collect(),
            tasks: parts
                .tasks
                .iter()
                .map(|(n, (c, s))| (n.clone(), (*c as isize, *s as isize)))
                .collect(),
            gpu_vram: parts
                .gpu_vram
                .iter()
                .map(|(n, v)| ((n.clone(), *v), 1))
                .collect(),
        };
        book.apply(&changes);
        book
    }

    /// Takes in the changes since the last publication; returns the nodes whose own parts may
    /// have changed, in node order.
    pub fn apply(&mut self, changes: &CrynuxChanges) -> Vec<Id> {
        let mut touched: HashSet<Id, Hasher> = HashSet::default();
        // Retractions first: a replaced row comes as the old one taken out, the new one added.
        let mut rows: Vec<&(NodeOut, isize)> = changes.node_out.iter().collect();
        rows.sort_by_key(|(_, diff)| *diff > 0);
        for (out, diff) in rows {
            let NodeOut::Node(row) = out else { continue };
            let entry = self.nodes.entry(row.node.clone()).or_default();
            entry.row = (*diff > 0).then(|| RowFields {
                active: row.status == Status::Active,
                row: row.clone(),
            });
            touched.insert(row.node.clone());
        }
        for (node, (count, sum)) in &changes.tasks {
            let entry = self.nodes.entry(node.clone()).or_default();
            entry.tasks.0 += *count as i64;
            entry.tasks.1 += *sum as i64;
            touched.insert(node.clone());
        }
        let mut vram: Vec<&((Id, u64), isize)> = changes.gpu_vram.iter().collect();
        vram.sort_by_key(|(_, diff)| *diff > 0);
        for ((node, v), diff) in vram {
            let entry = self.nodes.entry(node.clone()).or_default();
            if *diff > 0 {
                entry.vram = Some(*v);
            } else if entry.vram == Some(*v) {
                entry.vram = None;
            }
            touched.insert(node.clone());
        }
        for node in &touched {
            let Some(entry) = self.nodes.get_mut(node) else {
                continue;
            };
            let own = match &entry.row {
                Some(r) if r.active => Some(OwnParts::of(&r.row, entry.tasks, entry.vram)),
                _ => None,
            };
            let was_active = entry.own.is_some();
            if let Some(old) = entry.own.take() {
                self.node_score.remove(old.node_score.map(Maximum::key));
                self.vram.remove(old.vram);
                self.stake.remove(old.stake.map(Maximum::key));
                self.timeout_s.remove(old.timeout_s);
            }
            self.order_stale |= was_active != own.is_some();
            if let (Some(new), false) = (&own, self.order_stale) {
                self.dense[entry.at] = new.clone();
            }
            if let Some(new) = &own {
                self.node_score.add(new.node_score.map(Maximum::key));
                self.vram.add(new.vram);
                self.stake.add(new.stake.map(Maximum::key));
                self.timeout_s.add(new.timeout_s);
            }
            entry.own = own;
            if entry.row.is_none() && entry.tasks == (0, 0) && entry.vram.is_none() {
                self.nodes.remove(node);
            }
        }
        touched.into_iter().collect()
    }

    /// Every node the book holds something of, in order.
    pub fn nodes(&self) -> Vec<Id> {
        let mut nodes: Vec<Id> = self.nodes.keys().cloned().collect();
        nodes.sort();
        nodes
    }

    /// The node's own parts, while it is in `crynux_qos` (active).
    pub fn own(&self, node: &Id) -> Option<&OwnParts> {
        self.nodes.get(node).and_then(|e| e.own.as_ref())
    }

    /// The active nodes' parts in node order.
    fn active(&mut self) -> impl Iterator<Item = &OwnParts> + Clone {
        if self.order_stale {
            let mut active: Vec<(&Id, &mut Entry)> = self
                .nodes
                .iter_mut()
                .filter(|(_, e)| e.own.is_some())
                .collect();
            active.sort_unstable_by(|a, b| a.0.cmp(b.0));
            self.dense = active
                .into_iter()
                .enumerate()
                .filter_map(|(at, (_, entry))| {
                    entry.at = at;
                    entry.own.clone()
                })
                .collect();
            self.order_stale = false;
        }
        self.dense.iter()
    }

    /// The maxima over the active nodes (0 when none has the figure, as the table's).
    pub fn normalisers(&self) -> Normalisers {
        let float = |m: &Maximum| m.max().map_or(0.0, |k| Maximum::value(k).max(0.0));
        Normalisers {
            max_node_score: float(&self.node_score),
            max_vram: self.vram.max().map_or(0.0, |v| v as f64),
            max_stake: float(&self.stake),
            max_timeout_s: self.timeout_s.max().unwrap_or(0),
        }
    }

    /// The network's row at `as_of`.
    pub fn network(&mut self, as_of: Millis, cfg: &CrynuxConfig) -> Network {
        let normalisers = self.normalisers();
        let active = self.active();
        Network {
            as_of,
            nodes: active.clone().count(),
            total_weight: total_weight(active, &normalisers, as_of, cfg),
            normalisers,
        }
    }
}

/// The network's row of one publication: what every node's figures divide by at `as_of`.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub as_of: Millis,
    /// Active nodes (rows of `crynux_qos`).
    pub nodes: usize,
    pub normalisers: Normalisers,
    /// Σ of the active nodes' selection weights at `as_of`.
    pub total_weight: f64,
}

fn float(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn opt_float(v: Option<f64>) -> Value {
    v.map_or(Value::Null, float)
}

/// A digest of a node's own parts: a publication writes the node's row only when it changed.
pub fn fingerprint(own: &OwnParts) -> u64 {
    let float = |v: Option<f64>| v.map(f64::to_bits);
    Hasher::with_seed(0x7363_6f72_6573).hash_one((
        own.tasks,
        float(own.node_score),
        own.vram,
        own.timeout_s,
        float(own.stake),
        own.health.to_bits(),
        own.health_ts,
        own.excluded,
    ))
}

/// A node's row on the scores topic, as written.
#[derive(serde::Serialize)]
struct NodeRowOut<'a> {
    row: &'static str,
    node: &'a str,
    tasks: i64,
    node_score: Option<f64>,
    vram_bytes: Option<u64>,
    timeout_s: Option<u64>,
    stake: Option<f64>,
    health: f64,
    health_at: String,
    excluded: bool,
    as_of: &'a str,
}

/// A node's row on the scores topic, published at `as_of` (RFC 3339), as JSON bytes: written
/// straight from the parts, since a publication writes one per changed node.
pub fn node_row(node: &Id, own: &OwnParts, as_of: &str) -> Vec<u8> {
    serde_json::to_vec(&NodeRowOut {
        row: "node",
        node,
        tasks: own.tasks,
        node_score: own.node_score,
        vram_bytes: own.vram,
        timeout_s: own.timeout_s,
        stake: own.stake,
        health: own.health,
        health_at: format_rfc3339(own.health_ts),
        excluded: own.excluded,
        as_of,
    })
    .expect("a node row serialises")
}

/// The network's row on the scores topic, with the settings a reader needs to finish the
/// nodes' rows.
pub fn network_json(n: &Network, cfg: &CrynuxConfig) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("row".into(), "network".into());
    m.insert("as_of".into(), format_rfc3339(n.as_of).into());
    m.insert("nodes".into(), n.nodes.into());
    m.insert("max_node_score".into(), float(n.normalisers.max_node_score));
    m.insert("max_vram_bytes".into(), float(n.normalisers.max_vram));
    m.insert("max_stake".into(), float(n.normalisers.max_stake));
    m.insert("max_timeout_s".into(), n.normalisers.max_timeout_s.into());
    m.insert("total_weight".into(), float(n.total_weight));
    m.insert("alpha".into(), float(cfg.alpha));
    m.insert("beta".into(), float(cfg.beta));
    m.insert("gamma".into(), float(cfg.gamma));
    m.insert("min_timeout_s".into(), cfg.min_timeout_s.into());
    m.insert("health_tau_ms".into(), cfg.health_tau.millis().into());
    m.insert("exclusion_leave".into(), float(cfg.exclusion_leave));
    m
}

/// Why rows read off the scores topic could not be finished.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    #[error("no network row (key \"\") among the scores")]
    NoNetwork,
    #[error("scores row {key:?}: field `{field}` missing or of the wrong type")]
    Field { key: String, field: &'static str },
}

/// One row read off the scores topic, its fields typed as [`finish`] needs them.
struct Fields<'a> {
    key: &'a str,
    row: &'a Value,
}

impl Fields<'_> {
    fn wrong(&self, field: &'static str) -> FinishError {
        FinishError::Field {
            key: self.key.to_owned(),
            field,
        }
    }

    fn get(&self, field: &'static str) -> Result<&Value, FinishError> {
        self.row.get(field).ok_or_else(|| self.wrong(field))
    }

    fn float(&self, field: &'static str) -> Result<f64, FinishError> {
        self.get(field)?.as_f64().ok_or_else(|| self.wrong(field))
    }

    /// A number or null.
    fn opt<T>(
        &self,
        field: &'static str,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, FinishError> {
        match self.get(field)? {
            Value::Null => Ok(None),
            v => read(v).map(Some).ok_or_else(|| self.wrong(field)),
        }
    }

    fn count(&self, field: &'static str) -> Result<u64, FinishError> {
        self.get(field)?.as_u64().ok_or_else(|| self.wrong(field))
    }

    fn time(&self, field: &'static str) -> Result<Millis, FinishError> {
        self.get(field)?
            .as_str()
            .and_then(parse_rfc3339)
            .ok_or_else(|| self.wrong(field))
    }
}

/// The `crynux_qos` rows (as JSON objects, by node, with `as_of`) from the scores topic's
/// latest value per key: what a reader of the topic computes, by the table's own formulas.
pub fn finish(
    latest: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Map<String, Value>>, FinishError> {
    let network = Fields {
        key: NETWORK_KEY,
        row: latest.get(NETWORK_KEY).ok_or(FinishError::NoNetwork)?,
    };
    let cfg = CrynuxConfig {
        alpha: network.float("alpha")?,
        beta: network.float("beta")?,
        gamma: network.float("gamma")?,
        min_timeout_s: network.count("min_timeout_s")?,
        health_tau: crate::time::Span(network.count("health_tau_ms")?),
        exclusion_leave: network.float("exclusion_leave")?,
        ..CrynuxConfig::default()
    };
    let as_of = network.time("as_of")?;
    let normalisers = Normalisers {
        max_node_score: network.float("max_node_score")?,
        max_vram: network.float("max_vram_bytes")?,
        max_stake: network.float("max_stake")?,
        max_timeout_s: network.count("max_timeout_s")?,
    };
    let total = network.float("total_weight")?;
    let mut rows = BTreeMap::new();
    for (key, row) in latest.iter().filter(|(key, _)| key.as_str() != NETWORK_KEY) {
        let node = Fields { key, row };
        let own = OwnParts {
            tasks: node.count("tasks")? as i64,
            node_score: node.opt("node_score", Value::as_f64)?,
            vram: node.opt("vram_bytes", Value::as_u64)?,
            timeout_s: node.opt("timeout_s", Value::as_u64)?,
            stake: node.opt("stake", Value::as_f64)?,
            health: node.float("health")?,
            health_ts: node.time("health_at")?,
            excluded: node
                .get("excluded")?
                .as_bool()
                .ok_or_else(|| node.wrong("excluded"))?,
        };
        let f = QosFigures::of(&own, &normalisers, as_of, &cfg);
        let mut row = Map::new();
        row.insert("node".into(), Value::String(key.clone()));
        row.insert("tasks".into(), own.tasks.into());
        row.insert("node_score".into(), opt_float(own.node_score));
        row.insert("speed_score".into(), opt_float(f.speed));
        row.insert("vram_score".into(), opt_float(f.vram));
        row.insert("timeout_score".into(), opt_float(f.timeout));
        row.insert("qos".into(), float(f.qos));
        row.insert("health".into(), float(f.health));
        row.insert("excluded".into(), f.excluded.into());
        let share = if total > 0.0 { f.weight / total } else { 0.0 };
        row.insert("selection_prob".into(), float(share));
        row.insert("as_of".into(), format_rfc3339(as_of).into());
        rows.insert(key.clone(), row);
    }
    Ok(rows)
}
