//! The sla penalty standings, sharded by node: each worker keeps its nodes' check history and
//! judges them at every check against the check's network targets, which the network stage
//! ([`super::network`]) computes from every shard's check figures and hands to every worker.

use std::collections::{BTreeSet, VecDeque};

use foldhash::{HashMap, HashMapExt, HashSet};
use serde::{Deserialize, Serialize};

use super::config::SlaConfig;
use super::formulas::{next_level, scores, targets, CheckCounts, Figures, Level};
use super::state::{LevelRow, SlaFlow, SlaNote, SlaOut, BREACH};
use crate::id::Id;
use crate::moments::MomentState;
use crate::statement::{is_period_end, next_period_end, Period};
use crate::time::Millis;
use crate::triggers::{Cause, TriggerEdges};

/// A node's check history as the level rule needs it, exact as of check `through`.
///
/// A node with no data in a check's window cannot breach (it adds nothing to the medians and
/// every score it would be judged on is NULL), so while it is active (`accruing`) and idle each
/// later check is a clean one. Those checks are not made node by node: the counts are caught
/// up in closed form when the node is next touched, checked with data, or read. A clean check
/// changes the level only at every `recover_after`-th consecutive one, and that check is
/// always scheduled ([`Standing::next_wake`]), so a catch-up never crosses a level change.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Standing {
    level: Level,
    since: Option<Millis>,
    /// Times of the breaching checks inside the lookback.
    breaches: VecDeque<Millis>,
    consecutive_breaches: u32,
    consecutive_clean: u32,
    /// The last check the node took part in (None: not checked yet).
    checked: Option<Millis>,
    /// Every check at or before this is counted.
    through: Millis,
    /// Active: each check after `through` counts (clean unless the node is touched).
    accruing: bool,
}

impl Standing {
    /// Counts the clean checks after `through` up to `upto`, a check time (none while the node
    /// is not active).
    fn catch_up(&mut self, upto: Millis, cfg: &SlaConfig) {
        if !self.accruing || upto <= self.through {
            return;
        }
        let every = cfg.check_every.millis();
        self.consecutive_clean += ((upto - self.through) / every) as u32;
        self.consecutive_breaches = 0;
        self.checked = Some(upto);
        self.through = upto;
        self.forget_breaches_before(upto, cfg);
    }

    fn forget_breaches_before(&mut self, c: Millis, cfg: &SlaConfig) {
        let lookback = cfg.lookback.millis();
        while self.breaches.front().is_some_and(|b| *b + lookback <= c) {
            self.breaches.pop_front();
        }
    }

    /// The check at which clean checks alone would next change the level, if any.
    fn next_wake(&self, cfg: &SlaConfig) -> Option<Millis> {
        if !self.accruing || self.level == Level::None {
            return None;
        }
        let left = cfg.recover_after - self.consecutive_clean % cfg.recover_after;
        Some(self.through + left as Millis * cfg.check_every.millis())
    }

    /// The `sla_levels` row of `node` as of `as_of` (None before its first check).
    pub fn at(&self, node: &Id, as_of: Millis, cfg: &SlaConfig) -> Option<LevelRow> {
        let every = cfg.check_every.millis();
        let mut now = self.clone();
        now.catch_up(as_of / every * every, cfg);
        Some(LevelRow {
            node: node.clone(),
            level: now.level,
            since: now.since,
            breaches_lookback: now.breaches.len() as u32,
            consecutive_breaches: now.consecutive_breaches,
            consecutive_clean: now.consecutive_clean,
            checked: now.checked?,
        })
    }
}

/// Records a check at `c` in `standing`: the breach list over the lookback, the consecutive
/// counts and the level. Returns (old level, new level, cause of the change).
fn record_check(
    standing: &mut Standing,
    c: Millis,
    breach: bool,
    cfg: &SlaConfig,
) -> (Level, Level, (f64, f64)) {
    standing.forget_breaches_before(c, cfg);
    standing.checked = Some(c);
    standing.through = c;
    if breach {
        standing.breaches.push_back(c);
        standing.consecutive_breaches += 1;
        standing.consecutive_clean = 0;
    } else {
        standing.consecutive_clean += 1;
        standing.consecutive_breaches = 0;
    }
    let counts = CheckCounts {
        breaches_lookback: standing.breaches.len() as u32,
        consecutive_breaches: standing.consecutive_breaches,
        consecutive_clean: standing.consecutive_clean,
    };
    let old = standing.level;
    let (new, cause) = next_level(old, breach, &counts, cfg);
    if new != old {
        standing.level = new;
        standing.since = Some(c);
    }
    (old, new, cause)
}

/// One worker's standings: its nodes' check histories, the wakes of idle nodes whose level a
/// clean check changes, and the breach triggers.
#[derive(Serialize, Deserialize)]
pub struct SlaStandings {
    cfg: SlaConfig,
    period: Period,
    standings: HashMap<Id, Standing>,
    /// (check, node): the checks at which idle nodes' levels change.
    wakes: BTreeSet<(Millis, Id)>,
    edges: TriggerEdges,
    /// How many nodes are at a level other than `none` (they are in the period's statement).
    raised: usize,
    last: Option<Millis>,
}

type Flows = Vec<(SlaFlow, isize)>;

impl SlaStandings {
    pub fn new(cfg: &SlaConfig, period: Period) -> SlaStandings {
        SlaStandings {
            cfg: cfg.clone(),
            period,
            standings: HashMap::new(),
            wakes: BTreeSet::new(),
            edges: TriggerEdges::default(),
            raised: 0,
            last: None,
        }
    }

    /// Processes moment `t`: the registry changes of its nodes in (ts, seq) order, then the
    /// check at `t` (the nodes with data against the check's targets, and the woken idle
    /// ones), then, at a period's end, every node's level for the statement.
    pub fn process(&mut self, t: Millis, mut notes: Vec<SlaNote>) -> Flows {
        debug_assert!(self.last.is_none_or(|l| l < t), "moments in order");
        self.last = Some(t);
        let mut rows = Flows::new();
        notes.sort();
        let mut checked: Vec<(Id, Figures)> = Vec::new();
        let mut hour_targets = None;
        for note in notes {
            match note {
                SlaNote::Activity { node, active, .. } => {
                    self.activity_changed(t, &node, active, &mut rows)
                }
                SlaNote::Checked(node, figures) => checked.push((node, figures)),
                SlaNote::CheckTargets(_, row) => hour_targets = Some(row),
                other => unreachable!("not a standings note: {other:?}"),
            }
        }
        if t % self.cfg.check_every.millis() == 0 {
            self.check(t, checked, hour_targets, &mut rows);
        }
        if is_period_end(t, self.period) {
            rows.extend(
                self.standings
                    .iter()
                    .filter(|(_, s)| s.level != Level::None)
                    .map(|(node, s)| (SlaFlow::Note(SlaNote::Level(node.clone(), s.level)), 1)),
            );
        }
        rows
    }

    /// The node became active or inactive at moment `t`: the checks before `t` counted while
    /// it was active, the check at `t` (if any) counts only if it is active now.
    fn activity_changed(&mut self, t: Millis, node: &Id, active: bool, rows: &mut Flows) {
        let every = self.cfg.check_every.millis();
        let before_t = t.saturating_sub(1) / every * every;
        self.update_standing(node, rows, |s, cfg| {
            if active {
                s.through = before_t;
            } else {
                s.catch_up(before_t, cfg);
            }
            s.accruing = active;
        });
    }

    /// Changes the node's standing with `change`, then reschedules its wake and shows the row.
    fn update_standing(
        &mut self,
        node: &Id,
        rows: &mut Flows,
        change: impl FnOnce(&mut Standing, &SlaConfig),
    ) {
        let old = self.standings.get(node).cloned();
        let standing = self.standings.entry(node.clone()).or_default();
        change(standing, &self.cfg);
        if old.as_ref() == Some(standing) {
            return;
        }
        let new = standing.clone();
        let was_raised = old.as_ref().is_some_and(|o| o.level != Level::None);
        self.raised = self.raised + (new.level != Level::None) as usize - was_raised as usize;
        if let Some(wake) = old.as_ref().and_then(|o| o.next_wake(&self.cfg)) {
            self.wakes.remove(&(wake, node.clone()));
        }
        if let Some(wake) = new.next_wake(&self.cfg) {
            self.wakes.insert((wake, node.clone()));
        }
        if let Some(old) = old {
            rows.push((SlaFlow::Out(SlaOut::Standing(node.clone(), old)), -1));
        }
        rows.push((SlaFlow::Out(SlaOut::Standing(node.clone(), new)), 1));
    }

    /// The hourly check at `c` (rule 8) of this worker's active nodes with data in its window
    /// (`checked`, judged against `hour_targets`, the network medians of every node checked)
    /// and of those whose level it changes; every other active node's clean check is counted
    /// when it is next touched or read (see [`Standing`]).
    fn check(
        &mut self,
        c: Millis,
        checked: Vec<(Id, Figures)>,
        hour_targets: Option<super::state::TargetsRow>,
        rows: &mut Flows,
    ) {
        let every = self.cfg.check_every.millis();
        let mut due: Vec<(Id, bool)> = Vec::with_capacity(checked.len());
        if !checked.is_empty() {
            let row = hour_targets.expect("a check with figures comes with its targets");
            let hour_targets = targets(&row.medians(), &self.cfg);
            due.extend(checked.into_iter().map(|(node, f)| {
                let breach = scores(&f, &hour_targets, 0.5, &self.cfg).breaches();
                (node, breach)
            }));
        }
        let judged: HashSet<Id> = due.iter().map(|(node, _)| node.clone()).collect();
        while let Some((at, node)) = self.wakes.first().cloned() {
            if at > c {
                break;
            }
            self.wakes.pop_first();
            let active = self.standings.get(&node).is_some_and(|s| s.accruing);
            if active && !judged.contains(&node) {
                due.push((node, false));
            }
        }
        for (node, breach) in due {
            let mut edge = None;
            self.update_standing(&node, rows, |standing, cfg| {
                standing.catch_up(c - every, cfg);
                let (old, new, cause) = record_check(standing, c, breach, cfg);
                if new != old {
                    edge = Some(((new != Level::None).then(|| new.name()), cause));
                }
            });
            if let Some((level, cause)) = edge {
                let cause = Cause {
                    value: cause.0,
                    threshold: cause.1,
                };
                let edges = self.edges.set(&node, BREACH, level.as_deref(), c, cause);
                rows.extend(
                    edges
                        .into_iter()
                        .map(|e| (SlaFlow::Out(SlaOut::Trigger(e)), 1)),
                );
            }
        }
    }
}

impl MomentState<SlaNote, SlaFlow> for SlaStandings {
    /// The next wake, or the next period's end while some node's level is raised.
    fn next_time(&self) -> Option<Millis> {
        let last = self.last?;
        let wake = self.wakes.first().map(|w| w.0);
        let close = (self.raised > 0).then(|| next_period_end(last, self.period));
        [wake, close].into_iter().flatten().min()
    }

    fn advance(&mut self, t: Millis, notes: Vec<SlaNote>) -> Flows {
        self.process(t, notes)
    }
}
