//! What the sla shards remember, and how one moment's inputs change them.
//!
//! Per node, on the worker its id hashes to: the window's counts (probes, requests, failures,
//! one latency histogram per class) and, to take expiring events back out, the same counts per
//! slide pane that has events; the latest rating per user; one bucket of counts per
//! `check_every` for the hourly checks. What crosses nodes is kept elsewhere, fed with changes:
//! the network medians and each check's targets ([`super::network`]), the standings
//! ([`super::standing`]) and the statement.
//!
//! Bounded state: a histogram has at most 3,001 buckets per class, so a pane holds at most
//! that many entries whatever the request rate; the window holds `window / slide` panes.

use std::collections::{BTreeMap, BTreeSet};

use differential_dataflow::Hashable;
use foldhash::{HashMap, HashMapExt};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::config::SlaConfig;
use super::formulas::{
    rating_ranks, scores, Counts, Figures, Level, Medians, Scores, Targets, HIGH, NORMAL,
};
use super::standing::Standing;
use crate::events::{Body, Event, Priority};
use crate::float::F64;
use crate::id::Id;
use crate::moments::MomentState;
use crate::statement::{is_period_end, next_period_end, Period, StatementRow};
use crate::time::{slot, Millis};
use crate::triggers::{Cause, Rule, TriggerEdges, TriggerRow};

pub const BREACH: Rule = Rule {
    policy: "sla",
    name: "breach",
};
pub const GPU_FAULT: Rule = Rule {
    policy: "sla",
    name: "gpu_fault",
};

/// One sla input; ordered by (ts, seq), the order the page fixes for equal times.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SlaInput {
    pub ts: Millis,
    pub seq: u64,
    pub node: Id,
    pub what: SlaEvent,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SlaEvent {
    Registered,
    Left,
    Probe {
        ok: bool,
    },
    Request {
        class: u8,
        ok: bool,
        latency_ms: F64,
    },
    Rating {
        user: Id,
        stars: u8,
    },
    Gpu {
        gpu: Id,
        xid: Option<u64>,
        ecc_dbe_total: Option<u64>,
    },
}

impl SlaInput {
    pub fn from_event(event: &Event, seq: u64) -> Option<SlaInput> {
        let (node, what) = match &event.body {
            Body::NodeRegistered { node, .. } => (node, SlaEvent::Registered),
            Body::NodeLeft { node } => (node, SlaEvent::Left),
            Body::Probe { node, ok, .. } => (node, SlaEvent::Probe { ok: *ok }),
            Body::Request {
                node,
                latency_ms,
                ok,
                priority,
            } => {
                let class = match priority {
                    Some(Priority::High) => HIGH,
                    Some(Priority::Normal) | None => NORMAL,
                } as u8;
                let latency_ms = F64(*latency_ms);
                (
                    node,
                    SlaEvent::Request {
                        class,
                        ok: *ok,
                        latency_ms,
                    },
                )
            }
            Body::Rating { node, user, stars } => (
                node,
                SlaEvent::Rating {
                    user: user.clone(),
                    stars: *stars,
                },
            ),
            Body::GpuSample(s) if s.xid.is_some() || s.ecc_dbe_total.is_some() => (
                &s.node,
                SlaEvent::Gpu {
                    gpu: s.gpu.clone(),
                    xid: s.xid,
                    ecc_dbe_total: s.ecc_dbe_total,
                },
            ),
            _ => return None,
        };
        Some(SlaInput {
            ts: event.ts,
            seq,
            node: node.clone(),
            what,
        })
    }
}

/// A node's penalty standing, as the `sla_levels` table shows it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LevelRow {
    pub node: Id,
    pub level: Level,
    /// When the current level was reached (None: never left `none`).
    pub since: Option<Millis>,
    pub breaches_lookback: u32,
    pub consecutive_breaches: u32,
    pub consecutive_clean: u32,
    /// The last check.
    pub checked: Millis,
}

/// The network medians of one moment, which the targets come from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TargetsRow {
    pub uptime: Option<F64>,
    pub p95: [Option<F64>; 2],
    pub error: [Option<F64>; 2],
}

impl TargetsRow {
    pub fn from(m: &Medians) -> TargetsRow {
        TargetsRow {
            uptime: m.uptime.map(F64),
            p95: m.p95.map(|v| v.map(F64)),
            error: m.error.map(|v| v.map(F64)),
        }
    }

    pub fn medians(&self) -> Medians {
        Medians {
            uptime: self.uptime.map(|v| v.0),
            p95: self.p95.map(|v| v.map(|v| v.0)),
            error: self.error.map(|v| v.map(|v| v.0)),
        }
    }
}

/// The rows the sla dataflow shows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SlaOut {
    /// An active node's figures over the window.
    Node(Id, Figures),
    Targets(TargetsRow),
    /// A node's standing as the reference computes it, checked at every check.
    Level(LevelRow),
    /// A node's standing as the dataflow keeps it, caught up at read time ([`Standing::at`]).
    Standing(Id, Standing),
    Trigger(TriggerRow),
    Statement(StatementRow),
}

/// What the sla stages tell each other: the shards ([`SlaShard`]) tell the network stage, the
/// standings and the statement stage what changed of the figures they need, never the whole
/// fleet (but at a period's close); the network stage sends each check's targets back.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SlaNote {
    /// A node became active or inactive; ordered as its registry events were.
    Activity {
        ts: Millis,
        seq: u64,
        node: Id,
        active: bool,
    },
    /// A shown node's figures entered (true) or left (false) the network medians.
    Median(Figures, bool),
    /// A check's figures of an active node with data in its window, for the check's medians.
    CheckMedian(Figures),
    /// The same, for the node's standing.
    Checked(Id, Figures),
    /// A check's network targets, for the standings of the worker numbered first.
    CheckTargets(u64, TargetsRow),
    /// A shown node's figures at a period's close.
    Closing(Id, Figures),
    /// A node's raised level at a period's close.
    Level(Id, Level),
    /// A shard's first moment.
    First,
}

impl SlaNote {
    /// The worker a note goes to: a node's own (as its inputs), or worker 0 for the stages
    /// over the whole network.
    pub fn route(&self) -> u64 {
        match self {
            SlaNote::Activity { node, .. } | SlaNote::Checked(node, _) => node.hashed(),
            SlaNote::CheckTargets(worker, _) => *worker,
            SlaNote::Median(..)
            | SlaNote::CheckMedian(_)
            | SlaNote::Closing(..)
            | SlaNote::Level(..)
            | SlaNote::First => 0,
        }
    }
}

/// What an sla stage puts out: rows shown, or notes for the next stages.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SlaFlow {
    Out(SlaOut),
    Note(SlaNote),
}

/// A node's counts over the window, per pane to take them back out, and its ratings.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct NodeWindow {
    total: Counts,
    panes: BTreeMap<Millis, Counts>,
    /// The latest rating per user: (ts, seq, stars, slot).
    ratings: HashMap<Id, (Millis, u64, u8, Millis)>,
    rating_sum: u64,
}

impl NodeWindow {
    fn figures(&self) -> Figures {
        Figures::of(&self.total, self.rating_sum, self.ratings.len() as u64)
    }

    fn is_empty(&self) -> bool {
        self.panes.is_empty() && self.ratings.is_empty()
    }
}

/// A GPU's fault state: its last ECC double-bit total and whether its latest sample is faulty.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
struct GpuFault {
    ecc: Option<u64>,
    faulty: bool,
}

/// One worker's share of the sla nodes (those whose id hashes to it): their registry, window
/// counts, ratings, check buckets and GPU faults. It shows its nodes' figures and GPU fault
/// triggers, and sends the other stages the changes they need ([`SlaNote`]).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SlaShard {
    cfg: SlaConfig,
    period: Period,
    /// Registry: true while the node's last registry event is `node_registered`.
    active: HashMap<Id, bool>,
    active_count: usize,
    windows: HashMap<Id, NodeWindow>,
    pane_expiry: BTreeSet<(Millis, Id)>,
    rating_expiry: BTreeSet<(Millis, Id, Id)>,
    /// Per `check_every` bucket (its end), each node's counts.
    hours: BTreeMap<Millis, HashMap<Id, Counts>>,
    gpus: HashMap<(Id, Id), GpuFault>,
    faulty_gpus: HashMap<Id, u32>,
    edges: TriggerEdges,
    shown: HashMap<Id, Figures>,
    dirty: BTreeSet<Id>,
    /// The last processed moment.
    last: Option<Millis>,
}

type Rows = Vec<(SlaFlow, isize)>;

fn out(row: SlaOut, diff: isize) -> (SlaFlow, isize) {
    (SlaFlow::Out(row), diff)
}

fn note(note: SlaNote) -> (SlaFlow, isize) {
    (SlaFlow::Note(note), 1)
}

impl SlaShard {
    pub fn new(cfg: &SlaConfig, period: Period) -> SlaShard {
        SlaShard {
            cfg: cfg.clone(),
            period,
            active: HashMap::new(),
            active_count: 0,
            windows: HashMap::new(),
            pane_expiry: BTreeSet::new(),
            rating_expiry: BTreeSet::new(),
            hours: BTreeMap::new(),
            gpus: HashMap::new(),
            faulty_gpus: HashMap::new(),
            edges: TriggerEdges::default(),
            shown: HashMap::new(),
            dirty: BTreeSet::new(),
            last: None,
        }
    }

    /// The next moment after the last processed one at which something happens without new
    /// input: an expiry, a check or a period's end (the last two only while nodes are active).
    fn next_moment(&self) -> Option<Millis> {
        let last = self.last?;
        let mut next = [
            self.pane_expiry.first().map(|e| e.0),
            self.rating_expiry.first().map(|e| e.0),
        ]
        .into_iter()
        .flatten()
        .min();
        if self.active_count > 0 {
            let every = self.cfg.check_every.millis();
            let check = (last / every + 1) * every;
            next = Some(
                next.map_or(check, |n| n.min(check))
                    .min(next_period_end(last, self.period)),
            );
        }
        next
    }

    /// Processes moment `t` (after every earlier one): its inputs in (ts, seq) order, what
    /// expires, the changed nodes' figures, then the check figures and the period's close that
    /// fall on `t`. Returns the changes of the shown rows and the notes for the other stages.
    pub fn process(&mut self, t: Millis, mut inputs: Vec<SlaInput>) -> Rows {
        debug_assert!(self.last.is_none_or(|l| l < t), "moments in order");
        let mut rows = Rows::new();
        if self.last.is_none() {
            rows.push(note(SlaNote::First));
        }
        self.last = Some(t);
        inputs.sort();
        for input in inputs {
            self.apply(t, input, &mut rows);
        }
        self.expire(t);
        self.refresh(&mut rows);
        let cw = self.cfg.check_window.millis();
        while self
            .hours
            .first_key_value()
            .is_some_and(|(b, _)| b + cw <= t)
        {
            self.hours.pop_first();
        }
        if t % self.cfg.check_every.millis() == 0 {
            self.check(t, &mut rows);
        }
        if is_period_end(t, self.period) {
            rows.extend(
                self.shown
                    .iter()
                    .map(|(node, f)| note(SlaNote::Closing(node.clone(), *f))),
            );
        }
        rows
    }

    fn apply(&mut self, t: Millis, input: SlaInput, rows: &mut Rows) {
        let node = input.node;
        match input.what {
            SlaEvent::Registered | SlaEvent::Left => {
                let now = matches!(input.what, SlaEvent::Registered);
                let before = self.active.insert(node.clone(), now).unwrap_or(false);
                self.active_count = self.active_count + now as usize - before as usize;
                if now != before {
                    rows.push(note(SlaNote::Activity {
                        ts: input.ts,
                        seq: input.seq,
                        node: node.clone(),
                        active: now,
                    }));
                }
            }
            SlaEvent::Probe { ok } => self.count(t, &node, |c| c.probe(ok)),
            SlaEvent::Request {
                class,
                ok,
                latency_ms,
            } => self.count(t, &node, |c| c.request(class as usize, ok, latency_ms.0)),
            SlaEvent::Rating { user, stars } => {
                let expires = slot(input.ts, self.cfg.slide.millis()) + self.cfg.window.millis();
                let window = self.windows.entry(node.clone()).or_default();
                let newer = (input.ts, input.seq);
                match window.ratings.get(&user) {
                    Some(&(ts, seq, _, _)) if (ts, seq) > newer => return,
                    Some(&(_, _, old, old_slot)) => {
                        window.rating_sum -= old as u64;
                        let old_expiry = old_slot + self.cfg.window.millis();
                        self.rating_expiry
                            .remove(&(old_expiry, node.clone(), user.clone()));
                    }
                    None => {}
                }
                window.rating_sum += stars as u64;
                let at = slot(input.ts, self.cfg.slide.millis());
                window
                    .ratings
                    .insert(user.clone(), (input.ts, input.seq, stars, at));
                self.rating_expiry.insert((expires, node.clone(), user));
            }
            SlaEvent::Gpu {
                gpu,
                xid,
                ecc_dbe_total,
            } => self.gpu_sample(&node, gpu, input.ts, xid, ecc_dbe_total, rows),
        }
        self.dirty.insert(node);
    }

    fn count(&mut self, t: Millis, node: &Id, add: impl Fn(&mut Counts)) {
        let window = self.windows.entry(node.clone()).or_default();
        add(&mut window.total);
        if !window.panes.contains_key(&t) {
            self.pane_expiry
                .insert((t + self.cfg.window.millis(), node.clone()));
        }
        add(window.panes.entry(t).or_default());
        let bucket = slot(t, self.cfg.check_every.millis());
        add(self
            .hours
            .entry(bucket)
            .or_default()
            .entry(node.clone())
            .or_default());
    }

    /// Rule 9: a sample is faulty if its XID is critical or its ECC double-bit total rose; the
    /// node's warning stands while any of its GPUs' latest sample is faulty. Raised only for
    /// an active node; cleared whenever its last faulty GPU recovers.
    fn gpu_sample(
        &mut self,
        node: &Id,
        gpu: Id,
        ts: Millis,
        xid: Option<u64>,
        ecc: Option<u64>,
        rows: &mut Rows,
    ) {
        let state = self.gpus.entry((node.clone(), gpu)).or_default();
        let critical = xid.filter(|x| self.cfg.critical_xids.contains(x));
        let rise = match (state.ecc, ecc) {
            (Some(before), Some(now)) if now > before => Some((now, before)),
            _ => None,
        };
        if ecc.is_some() {
            state.ecc = ecc;
        }
        let faulty = critical.is_some() || rise.is_some();
        if faulty != state.faulty {
            state.faulty = faulty;
            let count = self.faulty_gpus.entry(node.clone()).or_default();
            if faulty {
                *count += 1;
            } else {
                *count -= 1;
            }
        }
        let node_faulty = self.faulty_gpus.get(node).is_some_and(|c| *c > 0);
        let raised = self.edges.current(node, GPU_FAULT).is_some();
        let active = self.is_active(node);
        let cause = match (critical, rise) {
            (Some(x), _) => Cause {
                value: x as f64,
                threshold: 0.0,
            },
            (None, Some((now, before))) => Cause {
                value: now as f64,
                threshold: before as f64,
            },
            (None, None) => Cause {
                value: ecc.unwrap_or(0) as f64,
                threshold: ecc.unwrap_or(0) as f64,
            },
        };
        let level = match (node_faulty, raised) {
            (true, false) if active => Some("warning"),
            (true, true) => Some("warning"),
            _ => None,
        };
        if level.is_some() || raised {
            let edges = self.edges.set(node, GPU_FAULT, level, ts, cause);
            rows.extend(edges.into_iter().map(|e| out(SlaOut::Trigger(e), 1)));
        }
    }

    fn is_active(&self, node: &Id) -> bool {
        self.active.get(node).copied().unwrap_or(false)
    }

    fn expire(&mut self, t: Millis) {
        while let Some((at, node)) = self.pane_expiry.first().cloned() {
            if at > t {
                break;
            }
            self.pane_expiry.pop_first();
            let pane = at - self.cfg.window.millis();
            let window = self.windows.get_mut(&node).expect("expiring pane's window");
            let counts = window.panes.remove(&pane).expect("expiring pane");
            window.total.merge(&counts, -1);
            self.dirty.insert(node);
        }
        while let Some((at, node, user)) = self.rating_expiry.first().cloned() {
            if at > t {
                break;
            }
            self.rating_expiry.pop_first();
            let window = self
                .windows
                .get_mut(&node)
                .expect("expiring rating's window");
            let (_, _, stars, _) = window.ratings.remove(&user).expect("expiring rating");
            window.rating_sum -= stars as u64;
            self.dirty.insert(node);
        }
    }

    /// Brings the changed nodes' rows up to date, and tells the network stage how their
    /// figures moved.
    fn refresh(&mut self, rows: &mut Rows) {
        for node in std::mem::take(&mut self.dirty) {
            let figures = if self.is_active(&node) {
                Some(
                    self.windows
                        .get(&node)
                        .map(NodeWindow::figures)
                        .unwrap_or_default(),
                )
            } else {
                None
            };
            if self.windows.get(&node).is_some_and(NodeWindow::is_empty) {
                self.windows.remove(&node);
            }
            let old = self.shown.get(&node).copied();
            if old == figures {
                continue;
            }
            if let Some(old) = old {
                rows.push(note(SlaNote::Median(old, false)));
                rows.push(out(SlaOut::Node(node.clone(), old), -1));
                self.shown.remove(&node);
            }
            if let Some(new) = figures {
                rows.push(note(SlaNote::Median(new, true)));
                rows.push(out(SlaOut::Node(node.clone(), new), 1));
                self.shown.insert(node, new);
            }
        }
    }

    /// The hourly check at `c` (rule 8): each active node with data in the check window sends
    /// its figures over that window to the network stage (for the check's medians) and to its
    /// standing (to be judged against them).
    fn check(&mut self, c: Millis, rows: &mut Rows) {
        if self.active_count == 0 {
            return;
        }
        let from = c - self.cfg.check_window.millis();
        let mut counts: HashMap<Id, Counts> = HashMap::new();
        for (_, bucket) in self.hours.range(from + 1..=c) {
            for (node, n) in bucket {
                if self.is_active(node) {
                    counts.entry(node.clone()).or_default().merge(n, 1);
                }
            }
        }
        for (node, counts) in counts {
            let figures = Figures::of(&counts, 0, 0);
            rows.push(note(SlaNote::CheckMedian(figures)));
            rows.push(note(SlaNote::Checked(node, figures)));
        }
    }

    /// Entries kept for `node`: panes, histogram entries over its panes and the window, ratings.
    pub fn footprint(&self, node: &str) -> Option<Footprint> {
        let w = self.windows.get(&Id::from(node))?;
        Some(Footprint {
            panes: w.panes.len(),
            hist_entries: w.total.hist_entries()
                + w.panes.values().map(Counts::hist_entries).sum::<usize>(),
            ratings: w.ratings.len(),
        })
    }
}

impl MomentState<SlaInput, SlaFlow> for SlaShard {
    fn next_time(&self) -> Option<Millis> {
        self.next_moment()
    }

    fn advance(&mut self, t: Millis, inputs: Vec<SlaInput>) -> Rows {
        self.process(t, inputs)
    }
}

/// What one node's window keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    pub panes: usize,
    pub hist_entries: usize,
    pub ratings: usize,
}

/// Every node's scores at one moment: ranks computed over the given nodes.
pub fn all_scores(
    nodes: &[(Id, Figures)],
    targets: &Targets,
    cfg: &SlaConfig,
) -> Vec<(Id, Figures, f64, Scores)> {
    let ranks = rating_ranks(
        nodes
            .iter()
            .map(|(n, f)| (n.clone(), f.rating_sum, f.ratings)),
        cfg,
    );
    nodes
        .iter()
        .map(|(node, f)| {
            let rank = ranks.get(node).copied().unwrap_or(0.5);
            (node.clone(), *f, rank, scores(f, targets, rank, cfg))
        })
        .collect()
}

/// The statement rows of a period: per node, performance at the close times the level's
/// multiplier (0 when severe). Each node is paid on its own: `provider` and `node` name it.
pub fn statement_rows(
    period: &str,
    nodes: impl Iterator<Item = (Id, Figures)>,
    targets: &Targets,
    level_of: impl Fn(&Id) -> Level,
    cfg: &SlaConfig,
) -> Vec<StatementRow> {
    let mut nodes: Vec<(Id, Figures)> = nodes.collect();
    nodes.sort();
    all_scores(&nodes, targets, cfg)
        .into_iter()
        .map(|(node, _, _, s)| {
            let level = level_of(&node);
            let performance = s.performance.unwrap_or(0.0);
            let multiplier = level.multiplier(cfg);
            let factor = performance * multiplier;
            let detail = serde_json::json!({
                "performance": performance,
                "uptime_score": s.uptime,
                "latency_score": s.latency,
                "error_score": s.errors,
                "rating_score": s.rating,
                "level": level.name(),
                "multiplier": multiplier,
                "rule": "reward factor = performance at the period's close x the penalty level's multiplier (1 - penalty_step x level; severe: 0)",
            });
            StatementRow {
                period: period.to_owned(),
                policy: "sla".to_owned(),
                provider: node.clone(),
                node: Some(node),
                amount: Decimal::try_from(factor)
                    .unwrap_or_default()
                    .round_dp(12)
                    .normalize(),
                detail: detail.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(ts: Millis, seq: u64, node: &str, what: SlaEvent) -> SlaInput {
        SlaInput {
            ts,
            seq,
            node: node.into(),
            what,
        }
    }

    #[test]
    fn a_later_rating_of_the_same_user_replaces_the_earlier() {
        let cfg = SlaConfig::default();
        let mut s = SlaShard::new(&cfg, Period::Month);
        let rate = |stars| SlaEvent::Rating {
            user: "u".into(),
            stars,
        };
        s.process(
            60_000,
            vec![
                input(1, 0, "n", SlaEvent::Registered),
                input(2, 1, "n", rate(5)),
            ],
        );
        // Same ts, later input: replaces; an older ts arriving later does not.
        let rows = s.process(
            120_000,
            vec![
                input(61_000, 3, "n", rate(2)),
                input(60_500, 4, "n", rate(4)),
            ],
        );
        let shown: Vec<&Figures> = rows
            .iter()
            .filter_map(|(r, d)| match r {
                SlaFlow::Out(SlaOut::Node(_, f)) if *d > 0 => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(shown.len(), 1);
        assert_eq!((shown[0].rating_sum, shown[0].ratings), (2, 1));
    }

    #[test]
    fn a_node_with_a_million_requests_keeps_bounded_state() {
        // 1M requests in one hour (60 panes): every pane's histogram has at most as many
        // entries as there are distinct buckets, however many requests land in it.
        let cfg = SlaConfig::default();
        let mut s = SlaShard::new(&cfg, Period::Month);
        s.process(60_000, vec![input(1, 0, "n", SlaEvent::Registered)]);
        let mut seq = 1;
        for minute in 2..62u64 {
            let t = minute * 60_000;
            let inputs: Vec<SlaInput> = (0..16_667u64)
                .map(|i| {
                    seq += 1;
                    let latency = 20.0 + ((i * 7919) % 480) as f64; // 20..500 ms
                    input(
                        t - 1,
                        seq,
                        "n",
                        SlaEvent::Request {
                            class: NORMAL as u8,
                            ok: i % 50 != 0,
                            latency_ms: F64(latency),
                        },
                    )
                })
                .collect();
            s.process(t, inputs);
        }
        let f = s.footprint("n").unwrap();
        assert_eq!(f.panes, 60);
        // The window's histogram and each pane's hold at most the buckets 20..500 ms span.
        let spanned = (super::super::formulas::bucket_of(500.0)
            - super::super::formulas::bucket_of(20.0)
            + 1) as usize;
        assert!(f.hist_entries <= 61 * spanned, "{f:?}, {spanned} buckets");
        assert_eq!(
            s.shown.get(&Id::from("n")).unwrap().requests[NORMAL],
            60 * 16_667
        );
    }
}
