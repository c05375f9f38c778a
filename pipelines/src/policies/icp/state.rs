//! The icp policy's running state: what it must remember to close each UTC day (the registry and
//! rewards table as they change, each counter's last snapshot per day, the day's turns) and the
//! period sums. Inputs are applied in any order within the open days; outputs come at "ticks"
//! (every `live_refresh`, and each day's close) and depend only on the inputs at or before the
//! tick, so the rows at any time are the same however the inputs were batched.

use std::collections::{BTreeMap, BTreeSet};

use super::config::IcpConfig;
use super::day::{
    compute_day, day_end, day_of, day_start, Day, DayInputs, NodeDay, ProviderDay, RateEntry,
    Rewardable, SubnetDay,
};
use super::period::PeriodSums;
use crate::events::{BlockOutcome, Body, Event};
use crate::id::{Id, Interner};
use crate::statement::{period_of, Period, StatementRow};
use crate::time::Millis;

/// An event as the icp policy uses it.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct IcpInput {
    pub ts: Millis,
    pub seq: u64,
    pub change: Change,
}

#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Change {
    Registered {
        node: Id,
        provider: Option<Id>,
        region: Option<Id>,
        node_type: Option<Id>,
    },
    Left {
        node: Id,
    },
    Counters {
        node: Id,
        subnet: Id,
        proposed_total: u64,
        failed_total: u64,
    },
    Round {
        node: Id,
        subnet: Id,
        made: bool,
    },
    Rate {
        region: Id,
        node_type: Id,
        entry: RateEntry,
    },
}

impl IcpInput {
    pub fn from_event(event: &Event, seq: u64, ids: &mut Interner) -> Option<IcpInput> {
        let change = match &event.body {
            Body::NodeRegistered {
                node,
                provider,
                region,
                node_type,
                ..
            } => Change::Registered {
                node: ids.id(node),
                provider: provider.as_deref().map(|p| ids.id(p)),
                region: region.as_deref().map(|r| ids.id(r)),
                node_type: node_type.as_deref().map(|t| ids.id(t)),
            },
            Body::NodeLeft { node } => Change::Left { node: ids.id(node) },
            Body::BlockMakerCounters {
                node,
                subnet,
                proposed_total,
                failed_total,
            } => Change::Counters {
                node: ids.id(node),
                subnet: ids.id(subnet),
                proposed_total: *proposed_total,
                failed_total: *failed_total,
            },
            Body::BlockRound {
                node,
                subnet,
                outcome,
            } => Change::Round {
                node: ids.id(node),
                subnet: ids.id(subnet),
                made: *outcome == BlockOutcome::Made,
            },
            Body::RewardRate {
                region,
                node_type,
                xdr_permyriad_per_node_per_month,
                reward_coefficient_percent,
            } => Change::Rate {
                region: ids.id(region),
                node_type: ids.id(node_type),
                entry: RateEntry {
                    monthly: (*xdr_permyriad_per_node_per_month).into(),
                    coefficient_percent: reward_coefficient_percent.map(Into::into),
                },
            },
            _ => return None,
        };
        Some(IcpInput {
            ts: event.ts,
            seq,
            change,
        })
    }

    /// Days are computed from the first day with block making on: the registry is shared with
    /// other policies and a rewards table may be loaded long before, so neither starts them.
    pub fn starts_days(&self) -> bool {
        matches!(self.change, Change::Counters { .. } | Change::Round { .. })
    }
}

/// Everything the icp policy outputs.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum IcpOut {
    Node(NodeDay),
    Subnet(SubnetDay),
    Provider(ProviderDay),
    /// A row of an open day, replaced at each refresh.
    Live(NodeDay),
    Statement(StatementRow),
}

/// A node's registry fields as they stand.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Registration {
    provider: Option<Id>,
    region: Option<Id>,
    node_type: Option<Id>,
    active: bool,
}

/// A counter snapshot: (ts, seq) orders them; the last of a day is the day's total.
type Snapshot = (Millis, u64, u64, u64);

#[derive(serde::Serialize, serde::Deserialize)]
pub struct IcpState {
    cfg: IcpConfig,
    period: Period,
    /// The day of the first block-making input: days are computed from it on. Kept apart from
    /// `next_open` because an input of an earlier day may still lower it, but only until the
    /// first day has closed.
    first_day: Option<Day>,
    /// The earliest day not yet closed.
    next_open: Option<Day>,
    registry: BTreeMap<Id, Registration>,
    rates: BTreeMap<(Id, Id), RateEntry>,
    /// Registry and rate changes not yet folded into `registry` / `rates`.
    changes: Vec<IcpInput>,
    snapshots: BTreeMap<(Id, Id), BTreeMap<Day, Snapshot>>,
    rounds: BTreeMap<Day, BTreeMap<(Id, Id), (u64, u64)>>,
    periods: BTreeMap<String, (Day, PeriodSums)>,
    live: BTreeSet<NodeDay>,
    /// The last day the live rows were computed through.
    live_today: Option<Day>,
    /// An input came since the live rows were computed.
    dirty: bool,
}

impl IcpState {
    pub fn new(cfg: &IcpConfig, period: Period) -> IcpState {
        IcpState {
            cfg: cfg.clone(),
            period,
            first_day: None,
            next_open: None,
            registry: BTreeMap::new(),
            rates: BTreeMap::new(),
            changes: Vec::new(),
            snapshots: BTreeMap::new(),
            rounds: BTreeMap::new(),
            periods: BTreeMap::new(),
            live: BTreeSet::new(),
            live_today: None,
            dirty: false,
        }
    }

    /// Takes one input (any order among those not yet ticked past).
    pub fn apply(&mut self, input: IcpInput) {
        let day = day_of(input.ts);
        if input.starts_days() && self.first_day.is_none_or(|f| day < f) {
            debug_assert!(
                self.next_open.is_none_or(|n| day >= n),
                "input for a closed day"
            );
            self.first_day = Some(day);
            self.next_open = Some(self.next_open.map_or(day, |n| n.min(day)));
        }
        self.dirty = true;
        match input.change {
            Change::Counters {
                node,
                subnet,
                proposed_total,
                failed_total,
            } => {
                let snapshot = (input.ts, input.seq, proposed_total, failed_total);
                let last = self
                    .snapshots
                    .entry((node, subnet))
                    .or_default()
                    .entry(day)
                    .or_insert(snapshot);
                if (snapshot.0, snapshot.1) > (last.0, last.1) {
                    *last = snapshot;
                }
            }
            Change::Round { node, subnet, made } => {
                let counts = self
                    .rounds
                    .entry(day)
                    .or_default()
                    .entry((node, subnet))
                    .or_default();
                if made {
                    counts.0 += 1;
                } else {
                    counts.1 += 1;
                }
            }
            Change::Registered { .. } | Change::Left { .. } | Change::Rate { .. } => {
                self.changes.push(input)
            }
        }
    }

    /// The next tick after `t`: the next multiple of `live_refresh` or day close, whichever
    /// comes first.
    pub fn next_tick(&self, t: Millis) -> Millis {
        let refresh = self.cfg.live_refresh.millis();
        let next_refresh = (t / refresh + 1) * refresh;
        let grace = self.cfg.grace.millis();
        let next_close = match t.checked_sub(grace) {
            Some(since) => day_end(day_of(since)) + grace,
            None => grace,
        };
        next_refresh.min(next_close)
    }

    /// Everything due at tick `t` (all inputs at or before `t` applied): the days and periods
    /// that close, then the live rows of the open days, as (row, +1/−1).
    pub fn tick(&mut self, t: Millis, slide: Millis) -> Vec<(IcpOut, isize)> {
        let mut out = Vec::new();
        let grace = self.cfg.grace.millis();
        while let Some(day) = self.next_open.filter(|d| day_end(*d) + grace <= t) {
            let result = compute_day(day, &self.inputs_of(day), &self.cfg);
            let (period, last) = period_of(day, self.period);
            self.periods
                .entry(period)
                .or_insert_with(|| (last, PeriodSums::default()))
                .1
                .add_day(&result.nodes, &result.providers);
            out.extend(result.nodes.into_iter().map(|r| (IcpOut::Node(r), 1)));
            out.extend(result.subnets.into_iter().map(|r| (IcpOut::Subnet(r), 1)));
            out.extend(
                result
                    .providers
                    .into_iter()
                    .map(|r| (IcpOut::Provider(r), 1)),
            );
            self.forget_through(day);
            self.next_open = Some(day + 1);
            self.dirty = true;
        }
        let due: Vec<String> = self
            .periods
            .iter()
            .filter(|(_, (last, _))| day_end(*last) + grace <= t)
            .map(|(name, _)| name.clone())
            .collect();
        for name in due {
            let (_, sums) = self.periods.remove(&name).expect("due period");
            out.extend(
                sums.statement(&name, "icp")
                    .into_iter()
                    .map(|r| (IcpOut::Statement(r), 1)),
            );
        }
        if self.next_open.is_none() {
            self.fold_changes_before(day_start(day_of(t.saturating_sub(slide))));
        }
        let today = day_of(t.saturating_sub(1));
        if self.dirty || self.live_today != Some(today) {
            self.dirty = false;
            self.live_today = Some(today);
            let mut live = Vec::new();
            if let Some(first) = self.next_open {
                for day in first..=today {
                    live.extend(compute_day(day, &self.inputs_of(day), &self.cfg).nodes);
                }
            }
            let live: BTreeSet<NodeDay> = live.into_iter().collect();
            let before = std::mem::replace(&mut self.live, live);
            out.extend(
                before
                    .difference(&self.live)
                    .map(|r| (IcpOut::Live(r.clone()), -1)),
            );
            out.extend(
                self.live
                    .difference(&before)
                    .map(|r| (IcpOut::Live(r.clone()), 1)),
            );
        }
        out
    }

    /// Day `day`'s inputs as the state holds them now.
    fn inputs_of(&self, day: Day) -> DayInputs {
        let end = day_end(day);
        let mut registry = self.registry.clone();
        let mut rates = self.rates.clone();
        let mut left_today: Vec<&Id> = Vec::new();
        let mut changes: Vec<&IcpInput> = self.changes.iter().filter(|c| c.ts < end).collect();
        changes.sort_by_key(|c| (c.ts, c.seq));
        for change in changes {
            if let Change::Left { node } = &change.change {
                if change.ts >= day_start(day) {
                    left_today.push(node);
                }
            }
            apply_change(&mut registry, &mut rates, &change.change);
        }
        let rewardable = registry
            .into_iter()
            .filter(|(node, r)| r.active && !left_today.contains(&node))
            .filter_map(|(node, r)| {
                Some((
                    node,
                    Rewardable {
                        provider: r.provider?,
                        region: r.region?,
                        node_type: r.node_type?,
                    },
                ))
            })
            .collect();
        let mut counts: BTreeMap<(Id, Id), (u64, u64)> = BTreeMap::new();
        for (key, days) in &self.snapshots {
            let Some(&(_, _, p, f)) = days.get(&day) else {
                continue;
            };
            let (bp, bf) = match days.get(&(day - 1)) {
                Some(&(_, _, bp, bf)) if bp <= p && bf <= f => (bp, bf),
                _ => (0, 0),
            };
            counts.insert(key.clone(), (p - bp, f - bf));
        }
        for (key, (made, failed)) in self.rounds.get(&day).into_iter().flatten() {
            let entry = counts.entry(key.clone()).or_default();
            entry.0 += made;
            entry.1 += failed;
        }
        DayInputs {
            counts,
            rewardable,
            rates,
        }
    }

    /// Drops what no open day needs once `day` has closed.
    fn forget_through(&mut self, day: Day) {
        self.fold_changes_before(day_end(day));
        self.rounds = self.rounds.split_off(&(day + 1));
        for days in self.snapshots.values_mut() {
            *days = days.split_off(&day);
        }
        self.snapshots.retain(|_, days| !days.is_empty());
    }

    fn fold_changes_before(&mut self, limit: Millis) {
        let (mut done, later): (Vec<IcpInput>, Vec<IcpInput>) = std::mem::take(&mut self.changes)
            .into_iter()
            .partition(|c| c.ts < limit);
        done.sort_by_key(|c| (c.ts, c.seq));
        for change in &done {
            apply_change(&mut self.registry, &mut self.rates, &change.change);
        }
        self.changes = later;
    }

    /// Nothing to compute until an input comes: no day started and nothing changed.
    pub fn waiting(&self) -> bool {
        self.next_open.is_none() && !self.dirty && self.live.is_empty()
    }
}

fn apply_change(
    registry: &mut BTreeMap<Id, Registration>,
    rates: &mut BTreeMap<(Id, Id), RateEntry>,
    change: &Change,
) {
    match change {
        Change::Registered {
            node,
            provider,
            region,
            node_type,
        } => {
            let r = registry.entry(node.clone()).or_default();
            r.active = true;
            for (field, value) in [
                (&mut r.provider, provider),
                (&mut r.region, region),
                (&mut r.node_type, node_type),
            ] {
                if value.is_some() {
                    field.clone_from(value);
                }
            }
        }
        Change::Left { node } => {
            if let Some(r) = registry.get_mut(node) {
                r.active = false;
            }
        }
        Change::Rate {
            region,
            node_type,
            entry,
        } => {
            rates.insert((region.clone(), node_type.clone()), entry.clone());
        }
        Change::Counters { .. } | Change::Round { .. } => {}
    }
}
