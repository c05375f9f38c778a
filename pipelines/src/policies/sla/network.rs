//! The sla figures that cross all nodes, kept by one small stage each on worker 0 and fed only
//! with the per-node changes they need: the live network medians (and the targets row) from
//! the shards' changes of shown figures, a check's targets from the figures of the nodes
//! checked, and a period's statement from the shown figures and raised levels at its close.

use foldhash::{HashMap, HashMapExt};
use serde::{Deserialize, Serialize};

use super::config::SlaConfig;
use super::formulas::{medians_of, targets, Figures, Level, Medians, HIGH, NORMAL};
use super::median::RunningMedian;
use super::state::{statement_rows, SlaFlow, SlaNote, SlaOut, TargetsRow};
use crate::id::Id;
use crate::moments::MomentState;
use crate::statement::{is_period_end, period_ending, Period};
use crate::time::Millis;

/// The network medians, kept up to date value by value.
#[derive(Debug, Default, Serialize, Deserialize)]
struct NetworkMedians {
    uptime: RunningMedian,
    p95: [RunningMedian; 2],
    error: [RunningMedian; 2],
}

impl NetworkMedians {
    fn update(&mut self, figures: &Figures, insert: bool) {
        let v = figures.median_values();
        let [p95_high, p95_normal] = &mut self.p95;
        let [error_high, error_normal] = &mut self.error;
        let pairs = [
            (&mut self.uptime, v.uptime),
            (p95_high, v.p95[HIGH]),
            (p95_normal, v.p95[NORMAL]),
            (error_high, v.error[HIGH]),
            (error_normal, v.error[NORMAL]),
        ];
        for (median, value) in pairs {
            if let Some(value) = value {
                if insert {
                    median.insert(value)
                } else {
                    median.remove(value)
                }
            }
        }
    }

    fn medians(&self) -> Medians {
        Medians {
            uptime: self.uptime.median(),
            p95: [HIGH, NORMAL].map(|c| self.p95[c].median()),
            error: [HIGH, NORMAL].map(|c| self.error[c].median()),
        }
    }
}

/// The network stage: the live medians and `sla_targets` row, and each check's targets, sent
/// to every worker's standings.
#[derive(Serialize, Deserialize)]
pub struct SlaNetwork {
    medians: NetworkMedians,
    shown: Option<TargetsRow>,
    /// How many workers the check targets go to.
    workers: u64,
}

impl SlaNetwork {
    pub fn new(workers: usize) -> SlaNetwork {
        SlaNetwork {
            medians: NetworkMedians::default(),
            shown: None,
            workers: workers.max(1) as u64,
        }
    }
}

impl MomentState<SlaNote, SlaFlow> for SlaNetwork {
    fn next_time(&self) -> Option<Millis> {
        None
    }

    fn advance(&mut self, _t: Millis, notes: Vec<SlaNote>) -> Vec<(SlaFlow, isize)> {
        let mut rows = Vec::new();
        let mut checked: Vec<Figures> = Vec::new();
        for note in notes {
            match note {
                SlaNote::Median(figures, insert) => self.medians.update(&figures, insert),
                SlaNote::CheckMedian(figures) => checked.push(figures),
                SlaNote::First => {}
                other => unreachable!("not a network note: {other:?}"),
            }
        }
        let now = TargetsRow::from(&self.medians.medians());
        if self.shown.as_ref() != Some(&now) {
            if let Some(old) = self.shown.take() {
                rows.push((SlaFlow::Out(SlaOut::Targets(old)), -1));
            }
            rows.push((SlaFlow::Out(SlaOut::Targets(now.clone())), 1));
            self.shown = Some(now);
        }
        if !checked.is_empty() {
            let check = TargetsRow::from(&medians_of(checked.iter()));
            rows.extend((0..self.workers).map(|worker| {
                (
                    SlaFlow::Note(SlaNote::CheckTargets(worker, check.clone())),
                    1,
                )
            }));
        }
        rows
    }
}

/// The statement stage: at a period's close, every shown node's figures (from the shards) and
/// raised level (from the standings) make the statement, ranks and targets taken over them.
#[derive(Serialize, Deserialize)]
pub struct SlaClose {
    cfg: SlaConfig,
    period: Period,
    /// The first moment of any input: a period ending then saw none of it.
    first: Option<Millis>,
}

impl SlaClose {
    pub fn new(cfg: &SlaConfig, period: Period) -> SlaClose {
        SlaClose {
            cfg: cfg.clone(),
            period,
            first: None,
        }
    }
}

impl MomentState<SlaNote, SlaFlow> for SlaClose {
    fn next_time(&self) -> Option<Millis> {
        None
    }

    fn advance(&mut self, t: Millis, notes: Vec<SlaNote>) -> Vec<(SlaFlow, isize)> {
        let mut nodes: Vec<(Id, Figures)> = Vec::new();
        let mut levels: HashMap<Id, Level> = HashMap::new();
        for note in notes {
            match note {
                SlaNote::First => {
                    self.first.get_or_insert(t);
                }
                SlaNote::Closing(node, figures) => nodes.push((node, figures)),
                SlaNote::Level(node, level) => {
                    levels.insert(node, level);
                }
                other => unreachable!("not a statement note: {other:?}"),
            }
        }
        let closes = self.first.is_some_and(|f| f < t) && is_period_end(t, self.period);
        if !closes || nodes.is_empty() {
            return Vec::new();
        }
        let targets = targets(&medians_of(nodes.iter().map(|(_, f)| f)), &self.cfg);
        let level_of = |node: &Id| levels.get(node).copied().unwrap_or_default();
        let name = period_ending(t, self.period);
        statement_rows(&name, nodes.into_iter(), &targets, level_of, &self.cfg)
            .into_iter()
            .map(|row| (SlaFlow::Out(SlaOut::Statement(row)), 1))
            .collect()
    }
}
