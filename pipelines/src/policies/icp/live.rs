//! An open day's live rows (`icp_node_daily_live`), kept current by recomputing only what the
//! inputs since the last refresh reach, rather than the whole day at every `live_refresh`.
//!
//! A day's rows hang together through three network-wide figures: each subnet's failure-rate
//! percentile (step 4), each provider's mean relative failure rate for its unassigned nodes
//! (step 7) and each type3 group's shared base (step 9). The first two move with every block
//! maker's counters (every subnet's percentile moves every hour on a busy network), so a node's
//! row here holds only its own part ([`NodePart`]) and each subnet's figure is a row of its own:
//! a change of counters touches the node's part and its subnet's row, never the subnet's other
//! members. [`live_rows`] adds the figures when the rows are read. The type3 base moves only
//! with registrations and the rewards table, so it stays in the parts. Figures are recomputed
//! from their members, in node-id order as [`compute_day`](super::day::compute_day) does
//! (decimal sums round by order), only when a member changed. Same rows as `compute_day` over
//! the same inputs: the icp property tests compare the two.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashSet};
use rust_decimal::Decimal;

use super::config::IcpConfig;
use super::day::{
    finish_day, is_type3, node_rate, Assigned, Day, NodeDay, NodePart, RateEntry, Rewardable,
    SubnetDay,
};
use super::formulas::{country_of, type3_base, NodeRate};
use crate::id::Id;

/// Where a live day reads its inputs as they stand (the icp state).
pub trait DaySource {
    /// The (proposed, failed) counts of (node, subnet) on `day`; None when it has none.
    fn count(&self, key: &(Id, Id), day: Day) -> Option<(u64, u64)>;
    /// Every (node, subnet) with counts on `day`.
    fn count_keys(&self, day: Day) -> Vec<(Id, Id)>;
    /// The node's registry fields on `day`, when it is rewardable then.
    fn rewardable(&self, node: &Id, day: Day) -> Option<Rewardable>;
    /// Every node the registry knows or has a change for.
    fn registry_nodes(&self) -> Vec<Id>;
    /// The rewards table at the end of `day`.
    fn rates(&self, day: Day) -> BTreeMap<(Id, Id), RateEntry>;
}

/// A type3 group: (provider, country).
type Group = (Id, String);

fn group_of(reg: &Rewardable) -> Option<Group> {
    is_type3(&reg.node_type).then(|| (reg.provider.clone(), country_of(&reg.region).to_owned()))
}

/// What an open day shows: each rewardable node's own part, and each subnet's figure.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum LiveRow {
    Node(NodePart),
    Subnet(SubnetDay),
}

/// The live rows of `icp_node_daily_live` from an open day's [`LiveRow`]s (any order): each
/// node's part with its subnet's figure and its provider's mean added, sorted.
pub fn live_rows(rows: impl IntoIterator<Item = LiveRow>, cfg: &IcpConfig) -> Vec<NodeDay> {
    /// One open day's parts and its subnets' failure rates.
    type Open = (Vec<NodePart>, HashMap<Id, Decimal>);
    let mut days: BTreeMap<Day, Open> = BTreeMap::new();
    for row in rows {
        match row {
            LiveRow::Node(part) => days.entry(part.day).or_default().0.push(part),
            LiveRow::Subnet(s) => {
                days.entry(s.day)
                    .or_default()
                    .1
                    .insert(s.subnet, s.failure_rate);
            }
        }
    }
    let mut out = Vec::new();
    for (mut parts, subnets) in days.into_values() {
        parts.sort_unstable_by(|a, b| a.node.cmp(&b.node));
        let subnet_fr = |subnet: &Id| {
            *subnets
                .get(subnet)
                .expect("an assigned node's subnet has its figure")
        };
        out.extend(finish_day(&parts, subnet_fr, cfg));
    }
    out
}

/// Sets the figure of `key` (a subnet or group) to `new`, dropping the key and its members when
/// it has none left; the figure it replaced, or None when unchanged.
fn set_figure<K, M, V>(
    figures: &mut HashMap<K, V>,
    members: &mut HashMap<K, M>,
    key: &K,
    new: Option<V>,
) -> Option<Option<V>>
where
    K: Eq + std::hash::Hash + Clone,
    V: PartialEq,
{
    if figures.get(key) == new.as_ref() {
        return None;
    }
    Some(match new {
        Some(value) => figures.insert(key.clone(), value),
        None => {
            members.remove(key);
            figures.remove(key)
        }
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct LiveDay {
    day: Day,
    counts: BTreeMap<(Id, Id), (u64, u64)>,
    assigned: HashMap<Id, Assigned>,
    /// Per subnet, the nodes assigned to it (rewardable or not) and its figure.
    subnet_nodes: HashMap<Id, HashSet<Id>>,
    subnets: HashMap<Id, SubnetDay>,
    rewardable: HashMap<Id, Rewardable>,
    node_rates: HashMap<Id, (Option<(Id, Id)>, NodeRate)>,
    rates: BTreeMap<(Id, Id), RateEntry>,
    /// Per type3 group, its nodes in id order, and their shared base and count.
    groups: HashMap<Group, BTreeSet<Id>>,
    group_base: HashMap<Group, (Decimal, u32)>,
    parts: HashMap<Id, NodePart>,
    /// What changed since the last refresh.
    dirty_counts: BTreeSet<(Id, Id)>,
    dirty_nodes: BTreeSet<Id>,
    rates_dirty: bool,
}

impl LiveDay {
    /// A day seen for the first time: everything it reads is to be computed.
    pub fn new(day: Day, source: &impl DaySource) -> LiveDay {
        LiveDay {
            day,
            counts: BTreeMap::new(),
            assigned: HashMap::default(),
            subnet_nodes: HashMap::default(),
            subnets: HashMap::default(),
            rewardable: HashMap::default(),
            node_rates: HashMap::default(),
            rates: BTreeMap::new(),
            groups: HashMap::default(),
            group_base: HashMap::default(),
            parts: HashMap::default(),
            dirty_counts: source.count_keys(day).into_iter().collect(),
            dirty_nodes: source.registry_nodes().into_iter().collect(),
            rates_dirty: true,
        }
    }

    pub fn day(&self) -> Day {
        self.day
    }

    /// The counts of `key` on this day may have changed.
    pub fn count_changed(&mut self, key: (Id, Id)) {
        self.dirty_counts.insert(key);
    }

    /// The node's registry fields on this day may have changed.
    pub fn node_changed(&mut self, node: Id) {
        self.dirty_nodes.insert(node);
    }

    /// The rewards table on this day may have changed.
    pub fn rates_changed(&mut self) {
        self.rates_dirty = true;
    }

    /// Every live row of the day, as a retraction (the day closed or left the live table).
    pub fn retract_all(self) -> impl Iterator<Item = (LiveRow, isize)> {
        let parts = self.parts.into_values().map(LiveRow::Node);
        let subnets = self.subnets.into_values().map(LiveRow::Subnet);
        parts.chain(subnets).map(|row| (row, -1))
    }

    /// Whether the day shows nothing.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.subnets.is_empty()
    }

    /// Brings the rows up to date with `source`; returns their changes.
    pub fn refresh(&mut self, source: &impl DaySource, cfg: &IcpConfig) -> Vec<(LiveRow, isize)> {
        let day = self.day;
        let mut out = Vec::new();
        let mut parts_due: HashSet<Id> = HashSet::default();
        let mut subnets_due: BTreeSet<Id> = BTreeSet::new();
        let mut groups_due: BTreeSet<Group> = BTreeSet::new();

        // Steps 1-2: counts, then each touched node's subnet.
        let mut counted: BTreeSet<Id> = BTreeSet::new();
        for key in std::mem::take(&mut self.dirty_counts) {
            match source.count(&key, day) {
                Some(c) => self.counts.insert(key.clone(), c),
                None => self.counts.remove(&key),
            };
            counted.insert(key.0);
        }
        for node in counted {
            let first: (Id, Id) = (node.clone(), Id::from(""));
            let mine = self
                .counts
                .range(first..)
                .take_while(|((n, _), _)| *n == node)
                .map(|((_, subnet), c)| (subnet, *c));
            let new = Assigned::pick(mine);
            let old = self.assigned.get(&node);
            if old == new.as_ref() {
                continue;
            }
            if let Some(old) = old {
                subnets_due.insert(old.subnet.clone());
                if let Some(members) = self.subnet_nodes.get_mut(&old.subnet) {
                    members.remove(&node);
                }
            }
            match new {
                Some(a) => {
                    subnets_due.insert(a.subnet.clone());
                    self.subnet_nodes
                        .entry(a.subnet.clone())
                        .or_default()
                        .insert(node.clone());
                    self.assigned.insert(node.clone(), a);
                }
                None => {
                    self.assigned.remove(&node);
                }
            }
            parts_due.insert(node);
        }

        // Step 4: the figures of the subnets whose members changed.
        for subnet in subnets_due {
            let members = self.subnet_nodes.get(&subnet);
            let new = members.filter(|m| !m.is_empty()).map(|members| {
                let rates = members.iter().map(|n| self.assigned[n].fr).collect();
                SubnetDay::new(day, &subnet, rates, cfg)
            });
            if let Some(old) = set_figure(
                &mut self.subnets,
                &mut self.subnet_nodes,
                &subnet,
                new.clone(),
            ) {
                out.extend(old.map(|r| (LiveRow::Subnet(r), -1)));
                out.extend(new.map(|r| (LiveRow::Subnet(r), 1)));
            }
        }

        // The registry and the rewards table.
        if std::mem::take(&mut self.rates_dirty) {
            let rates = source.rates(day);
            if rates != self.rates {
                self.rates = rates;
                self.dirty_nodes.extend(self.rewardable.keys().cloned());
            }
        }
        for node in std::mem::take(&mut self.dirty_nodes) {
            let new = source.rewardable(&node, day);
            let new_rate = new.as_ref().map(|reg| node_rate(reg, &self.rates, cfg));
            let old = self.rewardable.get(&node);
            if old == new.as_ref() && self.node_rates.get(&node) == new_rate.as_ref() {
                continue;
            }
            if let Some(old) = self.rewardable.remove(&node) {
                if let Some(group) = group_of(&old) {
                    if let Some(members) = self.groups.get_mut(&group) {
                        members.remove(&node);
                    }
                    groups_due.insert(group);
                }
                self.node_rates.remove(&node);
            }
            if let (Some(reg), Some(rate)) = (new, new_rate) {
                if let Some(group) = group_of(&reg) {
                    self.groups
                        .entry(group.clone())
                        .or_default()
                        .insert(node.clone());
                    groups_due.insert(group);
                }
                self.node_rates.insert(node.clone(), rate);
                self.rewardable.insert(node.clone(), reg);
            }
            parts_due.insert(node);
        }

        // Step 9: the type3 groups whose members changed.
        for group in groups_due {
            let members = self.groups.get(&group);
            let new = members.filter(|m| !m.is_empty()).map(|members| {
                let rates: Vec<NodeRate> = members.iter().map(|n| self.node_rates[n].1).collect();
                (type3_base(&rates, cfg.type3_algorithm), rates.len() as u32)
            });
            if set_figure(&mut self.group_base, &mut self.groups, &group, new).is_some() {
                parts_due.extend(self.groups.get(&group).into_iter().flatten().cloned());
            }
        }

        for node in parts_due {
            let new = self.part(&node);
            let old = match &new {
                Some(part) => self.parts.insert(node, part.clone()),
                None => self.parts.remove(&node),
            };
            if old != new {
                out.extend(old.map(|r| (LiveRow::Node(r), -1)));
                out.extend(new.map(|r| (LiveRow::Node(r), 1)));
            }
        }
        out
    }

    fn part(&self, node: &Id) -> Option<NodePart> {
        let reg = self.rewardable.get(node)?;
        let group = group_of(reg).map(|g| self.group_base[&g]);
        Some(NodePart::new(
            self.day,
            node,
            reg,
            &self.node_rates[node],
            group,
            self.assigned.get(node),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::icp::config::Type3Algorithm;
    use crate::policies::icp::day::{compute_day, DayInputs};
    use proptest::prelude::*;

    /// A day's inputs held as they are, for a live day to read.
    struct Plain(DayInputs);

    impl DaySource for Plain {
        fn count(&self, key: &(Id, Id), _: Day) -> Option<(u64, u64)> {
            self.0.counts.get(key).copied()
        }
        fn count_keys(&self, _: Day) -> Vec<(Id, Id)> {
            self.0.counts.keys().cloned().collect()
        }
        fn rewardable(&self, node: &Id, _: Day) -> Option<Rewardable> {
            self.0.rewardable.get(node).cloned()
        }
        fn registry_nodes(&self) -> Vec<Id> {
            self.0.rewardable.keys().cloned().collect()
        }
        fn rates(&self, _: Day) -> BTreeMap<(Id, Id), RateEntry> {
            self.0.rates.clone()
        }
    }

    #[derive(Clone, Debug)]
    enum Edit {
        Count(u8, u8, Option<(u64, u64)>),
        Register(u8, Option<(u8, u8, u8)>),
        Rate(u8, u8, Option<u64>),
    }

    const NODES: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
    const SUBNETS: [&str; 3] = ["s1", "s2", "s3"];
    const PROVIDERS: [&str; 3] = ["p1", "p2", "p3"];
    const REGIONS: [&str; 3] = ["Europe,CH,Zurich", "Europe,DE,Berlin", "Europe,CH,Geneva"];
    const TYPES: [&str; 3] = ["type1", "type3", "type3.1"];

    fn edit() -> impl Strategy<Value = Edit> {
        let counts = proptest::option::weighted(0.8, (0u64..30, 0u64..12));
        prop_oneof![
            5 => (0u8..8, 0u8..3, counts).prop_map(|(n, s, c)| Edit::Count(n, s, c)),
            3 => (0u8..8, proptest::option::weighted(0.8, (0u8..3, 0u8..3, 0u8..3)))
                .prop_map(|(n, r)| Edit::Register(n, r)),
            1 => (0u8..3, 0u8..3, proptest::option::of(1u64..2_000_000))
                .prop_map(|(r, t, m)| Edit::Rate(r, t, m)),
        ]
    }

    fn apply(inputs: &mut DayInputs, live: &mut LiveDay, edit: &Edit) {
        match edit {
            Edit::Count(n, s, c) => {
                let key: (Id, Id) = (NODES[*n as usize].into(), SUBNETS[*s as usize].into());
                match c {
                    Some(c) => inputs.counts.insert(key.clone(), *c),
                    None => inputs.counts.remove(&key),
                };
                live.count_changed(key);
            }
            Edit::Register(n, r) => {
                let node: Id = NODES[*n as usize].into();
                match r {
                    Some((p, r, t)) => inputs.rewardable.insert(
                        node.clone(),
                        Rewardable {
                            provider: PROVIDERS[*p as usize].into(),
                            region: REGIONS[*r as usize].into(),
                            node_type: TYPES[*t as usize].into(),
                        },
                    ),
                    None => inputs.rewardable.remove(&node),
                };
                live.node_changed(node);
            }
            Edit::Rate(r, t, m) => {
                let region = ["Europe", "Europe,CH", "Europe,DE"][*r as usize];
                let key: (Id, Id) = (region.into(), TYPES[*t as usize].into());
                match m {
                    Some(m) => inputs.rates.insert(
                        key,
                        RateEntry {
                            monthly: (*m).into(),
                            coefficient_percent: Some(Decimal::from(m % 100)),
                        },
                    ),
                    None => inputs.rates.remove(&key),
                };
                live.rates_changed();
            }
        }
    }

    proptest! {
        /// After every batch of edits, the live rows (the changes it returned, added up) are
        /// exactly `compute_day`'s over the same inputs.
        #[test]
        fn live_rows_equal_the_whole_day_computed_again(
            batches in proptest::collection::vec(proptest::collection::vec(edit(), 0..6), 1..12),
            v1 in any::<bool>(),
        ) {
            let mut cfg = IcpConfig::default();
            if v1 {
                cfg.type3_algorithm = Type3Algorithm::V1;
            }
            let mut source = Plain(DayInputs::default());
            let mut live = LiveDay::new(7, &source);
            let mut shown: BTreeMap<LiveRow, isize> = BTreeMap::new();
            for batch in batches {
                for e in &batch {
                    apply(&mut source.0, &mut live, e);
                }
                for (row, diff) in live.refresh(&source, &cfg) {
                    *shown.entry(row).or_default() += diff;
                }
                shown.retain(|_, d| *d != 0);
                prop_assert!(shown.values().all(|d| *d == 1));
                let shown_rows = live_rows(shown.keys().cloned(), &cfg);
                let expected = compute_day(7, &source.0, &cfg);
                prop_assert_eq!(shown_rows, expected.nodes);
                let shown_subnets: Vec<&SubnetDay> = shown
                    .keys()
                    .filter_map(|r| match r {
                        LiveRow::Subnet(s) => Some(s),
                        LiveRow::Node(_) => None,
                    })
                    .collect();
                prop_assert_eq!(shown_subnets, expected.subnets.iter().collect::<Vec<_>>());
            }
        }
    }
}
