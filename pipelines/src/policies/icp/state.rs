//! The icp policy's running state: what it must remember to close each UTC day (the registry and
//! rewards table as they change, each counter's last snapshot per day, the day's turns) and the
//! period sums. Inputs are applied in any order within the open days; outputs come at "ticks"
//! (every `live_refresh`, and each day's close) and depend only on the inputs at or before the
//! tick, so the rows at any time are the same however the inputs were batched.

use std::collections::BTreeMap;

use super::config::IcpConfig;
use super::day::{
    compute_day, day_end, day_of, day_start, Day, DayInputs, NodeDay, ProviderDay, RateEntry,
    Rewardable, SubnetDay,
};
use super::live::{DaySource, LiveDay, LiveRow};
use super::period::PeriodSums;
use crate::events::{BlockOutcome, Body, Event};
use crate::id::Id;
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
    pub fn from_event(event: &Event, seq: u64) -> Option<IcpInput> {
        let change = match &event.body {
            Body::NodeRegistered {
                node,
                provider,
                region,
                node_type,
                ..
            } => Change::Registered {
                node: node.clone(),
                provider: provider.clone(),
                region: region.clone(),
                node_type: node_type.clone(),
            },
            Body::NodeLeft { node } => Change::Left { node: node.clone() },
            Body::BlockMakerCounters {
                node,
                subnet,
                proposed_total,
                failed_total,
            } => Change::Counters {
                node: node.clone(),
                subnet: subnet.clone(),
                proposed_total: *proposed_total,
                failed_total: *failed_total,
            },
            Body::BlockRound {
                node,
                subnet,
                outcome,
            } => Change::Round {
                node: node.clone(),
                subnet: subnet.clone(),
                made: *outcome == BlockOutcome::Made,
            },
            Body::RewardRate {
                region,
                node_type,
                xdr_permyriad_per_node_per_month,
                reward_coefficient_percent,
            } => Change::Rate {
                region: region.clone(),
                node_type: node_type.clone(),
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
    /// A row of an open day: a node's own part or a subnet's figure, replaced as they change.
    Live(LiveRow),
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
    /// Registry changes not yet folded into `registry`, per node in (ts, seq) order: a node's
    /// registration depends on its own changes only.
    node_changes: BTreeMap<Id, Vec<IcpInput>>,
    /// Rate changes not yet folded into `rates`, in (ts, seq) order.
    rate_changes: Vec<IcpInput>,
    snapshots: BTreeMap<(Id, Id), BTreeMap<Day, Snapshot>>,
    rounds: BTreeMap<Day, BTreeMap<(Id, Id), (u64, u64)>>,
    periods: BTreeMap<String, (Day, PeriodSums)>,
    /// The open days' live rows.
    live_days: BTreeMap<Day, LiveDay>,
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
            node_changes: BTreeMap::new(),
            rate_changes: Vec::new(),
            snapshots: BTreeMap::new(),
            rounds: BTreeMap::new(),
            periods: BTreeMap::new(),
            live_days: BTreeMap::new(),
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
                // The day's counts, and the next day's baseline.
                for d in [day, day + 1] {
                    if let Some(live) = self.live_days.get_mut(&d) {
                        live.count_changed((node.clone(), subnet.clone()));
                    }
                }
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
                if let Some(live) = self.live_days.get_mut(&day) {
                    live.count_changed((node.clone(), subnet.clone()));
                }
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
            Change::Registered { ref node, .. } | Change::Left { ref node } => {
                // Every day ending after the change sees it.
                for live in self.live_days.range_mut(day..).map(|(_, l)| l) {
                    live.node_changed(node.clone());
                }
                let changes = self.node_changes.entry(node.clone()).or_default();
                insert_in_order(changes, input);
            }
            Change::Rate { .. } => {
                for live in self.live_days.range_mut(day..).map(|(_, l)| l) {
                    live.rates_changed();
                }
                insert_in_order(&mut self.rate_changes, input);
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
            // Days before the first open one have closed: their live rows go.
            let mut open = std::mem::take(&mut self.live_days);
            let mut gone = open;
            open = gone.split_off(&self.next_open.unwrap_or(Day::MAX));
            for (_, live) in gone {
                out.extend(live.retract_all().map(|(r, d)| (IcpOut::Live(r), d)));
            }
            if let Some(first) = self.next_open {
                for day in first..=today {
                    let live = open.entry(day).or_insert_with(|| LiveDay::new(day, &*self));
                    let changes = live.refresh(&*self, &self.cfg);
                    out.extend(changes.into_iter().map(|(r, d)| (IcpOut::Live(r), d)));
                }
            }
            self.live_days = open;
        }
        out
    }

    /// Day `day`'s inputs as the state holds them now (at a day's close; the live days read
    /// the same through [`DaySource`], node by node).
    fn inputs_of(&self, day: Day) -> DayInputs {
        let rewardable = self
            .registry_nodes()
            .into_iter()
            .filter_map(|node| Some((node.clone(), self.rewardable(&node, day)?)))
            .collect();
        let counts = self
            .count_keys(day)
            .into_iter()
            .filter_map(|key| Some((key.clone(), self.count(&key, day)?)))
            .collect();
        DayInputs {
            counts,
            rewardable,
            rates: DaySource::rates(self, day),
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
        self.node_changes.retain(|node, changes| {
            let later = changes.partition_point(|c| c.ts < limit);
            if later > 0 {
                let registration = self.registry.entry(node.clone()).or_default();
                for change in changes.drain(..later) {
                    register(registration, &change.change);
                }
                // A node that only left, never registered, leaves no entry.
                if *registration == Registration::default() {
                    self.registry.remove(node);
                }
            }
            !changes.is_empty()
        });
        let later = self.rate_changes.partition_point(|c| c.ts < limit);
        for change in self.rate_changes.drain(..later) {
            if let Change::Rate {
                region,
                node_type,
                entry,
            } = change.change
            {
                self.rates.insert((region, node_type), entry);
            }
        }
    }

    /// Nothing to compute until an input comes: no day started and nothing changed.
    pub fn waiting(&self) -> bool {
        self.next_open.is_none() && !self.dirty && self.live_days.values().all(LiveDay::is_empty)
    }
}

/// Inserts `input` at its (ts, seq) place (inputs come in any order within the open days).
fn insert_in_order(changes: &mut Vec<IcpInput>, input: IcpInput) {
    let at = changes.partition_point(|c| (c.ts, c.seq) <= (input.ts, input.seq));
    changes.insert(at, input);
}

/// A registry change applied to the node's registration.
fn register(r: &mut Registration, change: &Change) {
    match change {
        Change::Registered {
            provider,
            region,
            node_type,
            ..
        } => {
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
        Change::Left { .. } => r.active = false,
        Change::Counters { .. } | Change::Round { .. } | Change::Rate { .. } => {}
    }
}

impl DaySource for IcpState {
    fn count(&self, key: &(Id, Id), day: Day) -> Option<(u64, u64)> {
        let from_counters = self.snapshots.get(key).and_then(|days| {
            let &(_, _, p, f) = days.get(&day)?;
            let (bp, bf) = match days.get(&(day - 1)) {
                Some(&(_, _, bp, bf)) if bp <= p && bf <= f => (bp, bf),
                _ => (0, 0),
            };
            Some((p - bp, f - bf))
        });
        let from_rounds = self.rounds.get(&day).and_then(|r| r.get(key)).copied();
        match (from_counters, from_rounds) {
            (None, None) => None,
            (c, r) => {
                let (c, r) = (c.unwrap_or_default(), r.unwrap_or_default());
                Some((c.0 + r.0, c.1 + r.1))
            }
        }
    }

    fn count_keys(&self, day: Day) -> Vec<(Id, Id)> {
        let mut keys: Vec<(Id, Id)> = self
            .snapshots
            .iter()
            .filter(|(_, days)| days.contains_key(&day))
            .map(|(key, _)| key.clone())
            .collect();
        keys.extend(
            self.rounds
                .get(&day)
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone()),
        );
        keys.sort();
        keys.dedup();
        keys
    }

    fn rewardable(&self, node: &Id, day: Day) -> Option<Rewardable> {
        let (start, end) = (day_start(day), day_end(day));
        let mut r = self.registry.get(node).cloned().unwrap_or_default();
        let mut left_today = false;
        for change in self.node_changes.get(node).into_iter().flatten() {
            if change.ts >= end {
                break;
            }
            left_today |= matches!(change.change, Change::Left { .. }) && change.ts >= start;
            register(&mut r, &change.change);
        }
        if !r.active || left_today {
            return None;
        }
        Some(Rewardable {
            provider: r.provider?,
            region: r.region?,
            node_type: r.node_type?,
        })
    }

    fn registry_nodes(&self) -> Vec<Id> {
        let mut nodes: Vec<Id> = self.registry.keys().cloned().collect();
        nodes.extend(self.node_changes.keys().cloned());
        nodes.sort();
        nodes.dedup();
        nodes
    }

    fn rates(&self, day: Day) -> BTreeMap<(Id, Id), RateEntry> {
        let mut rates = self.rates.clone();
        for change in self.rate_changes.iter().take_while(|c| c.ts < day_end(day)) {
            if let Change::Rate {
                region,
                node_type,
                entry,
            } = &change.change
            {
                rates.insert((region.clone(), node_type.clone()), entry.clone());
            }
        }
        rates
    }
}
