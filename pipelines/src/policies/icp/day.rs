//! One UTC day of the icp policy, computed from that day's inputs: steps 2–10 of the reference
//! page. The dataflow and the plain reference both gather a day's inputs their own way and
//! hand them here.

use std::collections::BTreeMap;

use foldhash::HashMap;

use rust_decimal::Decimal;

use super::config::IcpConfig;
use super::formulas::{
    country_of, daily_rate, failure_rate, reduction, region_prefixes, relative_failure_rate,
    subnet_failure_rate, type3_base, NodeRate,
};
use crate::id::Id;
use crate::time::Millis;

/// A UTC day: days since 1970-01-01.
pub use crate::statement::Day;

pub const DAY_MS: Millis = 86_400_000;

pub fn day_of(ts: Millis) -> Day {
    (ts / DAY_MS) as Day
}

pub fn day_start(day: Day) -> Millis {
    day as Millis * DAY_MS
}

pub fn day_end(day: Day) -> Millis {
    day_start(day + 1)
}

/// A rewardable node's registry fields on the day.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rewardable {
    pub provider: Id,
    pub region: Id,
    pub node_type: Id,
}

/// An entry of the rewards table: the monthly rate and the coefficient percentage it carries.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct RateEntry {
    pub monthly: Decimal,
    pub coefficient_percent: Option<Decimal>,
}

/// What one day's computation needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DayInputs {
    /// (proposed, failed) per (node, subnet), counters and turns added up.
    pub counts: BTreeMap<(Id, Id), (u64, u64)>,
    /// The nodes rewardable on the day.
    pub rewardable: BTreeMap<Id, Rewardable>,
    /// The rewards table at the day's end, by (region, node_type).
    pub rates: BTreeMap<(Id, Id), RateEntry>,
}

/// A row of `icp_node_daily` (and `icp_node_daily_live`).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodeDay {
    pub day: Day,
    pub node: Id,
    pub provider: Id,
    pub subnet: Option<Id>,
    pub proposed: Option<u64>,
    pub failed: Option<u64>,
    pub failure_rate: Option<Decimal>,
    pub subnet_failure_rate: Option<Decimal>,
    /// The relative FR, or for an unassigned node the extrapolated FR used.
    pub relative_failure_rate: Decimal,
    pub extrapolated: bool,
    pub reduction: Decimal,
    pub multiplier: Decimal,
    pub base_xdr_permyriad: Decimal,
    pub adjusted_xdr_permyriad: Decimal,
    /// How the base came out, for explanations: the rate entry's key used (None: no entry),
    /// the node's daily rate, and the type3 group size (0 when not type3).
    pub rate_key: Option<(Id, Id)>,
    pub daily_rate: Decimal,
    pub coefficient: Decimal,
    pub type3_group: u32,
}

/// A row of `icp_subnet_daily`.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct SubnetDay {
    pub day: Day,
    pub subnet: Id,
    pub nodes: u64,
    pub failure_rate: Decimal,
}

impl SubnetDay {
    /// Step 4: the subnet's row from the failure rates of every node it kept.
    pub fn new(day: Day, subnet: &Id, rates: Vec<Decimal>, cfg: &IcpConfig) -> SubnetDay {
        SubnetDay {
            day,
            subnet: subnet.clone(),
            nodes: rates.len() as u64,
            failure_rate: subnet_failure_rate(rates, cfg.percentile),
        }
    }
}

/// A row of `icp_provider_daily`: the sums over the provider's nodes, truncated.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ProviderDay {
    pub day: Day,
    pub provider: Id,
    pub base_xdr_permyriad: Decimal,
    pub adjusted_xdr_permyriad: Decimal,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DayResult {
    pub nodes: Vec<NodeDay>,
    pub subnets: Vec<SubnetDay>,
    pub providers: Vec<ProviderDay>,
}

/// The subnet a node's day counts in (step 2), with its counts there and failure rate.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Assigned {
    pub subnet: Id,
    pub proposed: u64,
    pub failed: u64,
    pub fr: Decimal,
}

impl Assigned {
    /// Step 2 over one node's (subnet, counts) in ascending subnet order: the subnet with the
    /// most turns, the first of equals.
    pub fn pick<'a>(subnets: impl IntoIterator<Item = (&'a Id, (u64, u64))>) -> Option<Assigned> {
        let mut best: Option<Assigned> = None;
        for (subnet, (proposed, failed)) in subnets {
            if best
                .as_ref()
                .is_none_or(|b| proposed + failed > b.proposed + b.failed)
            {
                best = Some(Assigned {
                    subnet: subnet.clone(),
                    proposed,
                    failed,
                    fr: failure_rate(proposed, failed),
                });
            }
        }
        best
    }
}

/// What a rewardable node's row holds of its own (steps 2, 8 and 9): everything but the figures
/// read from the rest of the network, its subnet's failure rate (step 4) and, unassigned, its
/// provider's mean (step 7). Kept apart so that an open day's rows move only with the node's
/// own inputs; [`finish_day`] adds the network's figures when the rows are read.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodePart {
    pub day: Day,
    pub node: Id,
    pub provider: Id,
    /// Its subnet, counts there and failure rate; None when unassigned.
    pub assigned: Option<(Id, u64, u64, Decimal)>,
    pub base_xdr_permyriad: Decimal,
    pub rate_key: Option<(Id, Id)>,
    pub daily_rate: Decimal,
    pub coefficient: Decimal,
    pub type3_group: u32,
}

impl NodePart {
    /// One rewardable node's own part: `group` is its type3 group's shared base and size (None
    /// when not type3), `assigned` its subnet.
    pub fn new(
        day: Day,
        node: &Id,
        reg: &Rewardable,
        (rate_key, rate): &(Option<(Id, Id)>, NodeRate),
        group: Option<(Decimal, u32)>,
        assigned: Option<&Assigned>,
    ) -> NodePart {
        let (base, type3_group) = group.unwrap_or((rate.daily, 0));
        NodePart {
            day,
            node: node.clone(),
            provider: reg.provider.clone(),
            assigned: assigned.map(|a| (a.subnet.clone(), a.proposed, a.failed, a.fr)),
            base_xdr_permyriad: base,
            rate_key: rate_key.clone(),
            daily_rate: rate.daily,
            coefficient: rate.coefficient,
            type3_group,
        }
    }

    /// The row (step 10), given its subnet's failure rate (when assigned) and its relative
    /// failure rate or, unassigned, its provider's extrapolated one.
    fn finish(&self, subnet_fr: Option<Decimal>, relative: Decimal, cfg: &IcpConfig) -> NodeDay {
        let r = reduction(relative, cfg.reduction_points);
        let multiplier = Decimal::ONE - r;
        let assigned = self.assigned.as_ref();
        NodeDay {
            day: self.day,
            node: self.node.clone(),
            provider: self.provider.clone(),
            subnet: assigned.map(|a| a.0.clone()),
            proposed: assigned.map(|a| a.1),
            failed: assigned.map(|a| a.2),
            failure_rate: assigned.map(|a| a.3),
            subnet_failure_rate: subnet_fr,
            relative_failure_rate: relative,
            extrapolated: assigned.is_none(),
            reduction: r,
            multiplier,
            base_xdr_permyriad: self.base_xdr_permyriad,
            adjusted_xdr_permyriad: self.base_xdr_permyriad * multiplier,
            rate_key: self.rate_key.clone(),
            daily_rate: self.daily_rate,
            coefficient: self.coefficient,
            type3_group: self.type3_group,
        }
    }
}

/// Steps 5-7 and 10 over one day's rewardable nodes' parts, in node-id order (decimal sums
/// round by order): each assigned node's relative failure rate against its subnet's (found by
/// `subnet_fr`, which knows every subnet a part names), each unassigned node's provider mean.
pub fn finish_day(
    parts: &[NodePart],
    subnet_fr: impl Fn(&Id) -> Decimal,
    cfg: &IcpConfig,
) -> Vec<NodeDay> {
    let relative: Vec<Option<(Decimal, Decimal)>> = parts
        .iter()
        .map(|p| {
            p.assigned.as_ref().map(|(subnet, _, _, fr)| {
                let subnet = subnet_fr(subnet);
                (subnet, relative_failure_rate(*fr, subnet))
            })
        })
        .collect();
    let mut provider_relative: HashMap<&Id, (Decimal, u32)> = HashMap::default();
    for (part, relative) in parts.iter().zip(&relative) {
        if let Some((_, relative)) = relative {
            let entry = provider_relative
                .entry(&part.provider)
                .or_insert((Decimal::ZERO, 0));
            entry.0 += relative;
            entry.1 += 1;
        }
    }
    parts
        .iter()
        .zip(relative)
        .map(|(part, relative)| match relative {
            Some((subnet, relative)) => part.finish(Some(subnet), relative, cfg),
            None => {
                let extrapolated = match provider_relative.get(&part.provider) {
                    Some((sum, n)) if *n > 0 => *sum / Decimal::from(*n),
                    _ => Decimal::ZERO,
                };
                part.finish(None, extrapolated, cfg)
            }
        })
        .collect()
}

/// Computes day `day` from its inputs. Rows come in node, subnet and provider id order.
pub fn compute_day(day: Day, inputs: &DayInputs, cfg: &IcpConfig) -> DayResult {
    // Step 2: one subnet per node, the one with more turns (tie: the smallest subnet id).
    let mut assigned: BTreeMap<Id, Assigned> = BTreeMap::new();
    let mut counts = inputs.counts.iter().peekable();
    while let Some(((node, _), _)) = counts.peek() {
        let node = node.clone();
        let mine = std::iter::from_fn(|| {
            counts
                .next_if(|((n, _), _)| *n == node)
                .map(|((_, subnet), c)| (subnet, *c))
        });
        if let Some(a) = Assigned::pick(mine) {
            assigned.insert(node, a);
        }
    }
    // Step 4: each subnet's percentile over every node it kept, rewardable or not.
    let mut by_subnet: BTreeMap<&Id, Vec<Decimal>> = BTreeMap::new();
    for a in assigned.values() {
        by_subnet.entry(&a.subnet).or_default().push(a.fr);
    }
    let subnets: BTreeMap<&Id, SubnetDay> = by_subnet
        .into_iter()
        .map(|(subnet, rates)| (subnet, SubnetDay::new(day, subnet, rates, cfg)))
        .collect();

    // Step 9: rates, and the type3 groups' shared bases.
    let rates: BTreeMap<&Id, (Option<(Id, Id)>, NodeRate)> = inputs
        .rewardable
        .iter()
        .map(|(node, reg)| (node, node_rate(reg, &inputs.rates, cfg)))
        .collect();
    let mut groups: BTreeMap<(&Id, &str), Vec<NodeRate>> = BTreeMap::new();
    for (node, reg) in &inputs.rewardable {
        if is_type3(&reg.node_type) {
            groups
                .entry((&reg.provider, country_of(&reg.region)))
                .or_default()
                .push(rates[node].1);
        }
    }
    let group_bases: BTreeMap<(&Id, &str), (Decimal, u32)> = groups
        .into_iter()
        .map(|(key, members)| {
            let base = type3_base(&members, cfg.type3_algorithm);
            (key, (base, members.len() as u32))
        })
        .collect();

    let parts: Vec<NodePart> = inputs
        .rewardable
        .iter()
        .map(|(node, reg)| {
            let group = is_type3(&reg.node_type)
                .then(|| group_bases[&(&reg.provider, country_of(&reg.region))]);
            NodePart::new(day, node, reg, &rates[node], group, assigned.get(node))
        })
        .collect();
    let nodes = finish_day(&parts, |subnet| subnets[subnet].failure_rate, cfg);
    let mut providers: BTreeMap<&Id, (Decimal, Decimal)> = BTreeMap::new();
    for row in &nodes {
        let totals = providers
            .entry(&row.provider)
            .or_insert((Decimal::ZERO, Decimal::ZERO));
        totals.0 += row.base_xdr_permyriad;
        totals.1 += row.adjusted_xdr_permyriad;
    }
    let providers = providers
        .into_iter()
        .map(|(provider, (base, adjusted))| ProviderDay {
            day,
            provider: provider.clone(),
            base_xdr_permyriad: base.trunc(),
            adjusted_xdr_permyriad: adjusted.trunc(),
        })
        .collect();
    DayResult {
        nodes,
        subnets: subnets.into_values().collect(),
        providers,
    }
}

pub fn is_type3(node_type: &str) -> bool {
    node_type == "type3" || node_type == "type3.1"
}

/// The node's rate entry (searched by ever shorter region prefixes) and its daily rate and
/// coefficient; no entry: monthly 1 and coefficient 1.
pub fn node_rate(
    reg: &Rewardable,
    table: &BTreeMap<(Id, Id), RateEntry>,
    cfg: &IcpConfig,
) -> (Option<(Id, Id)>, NodeRate) {
    for prefix in region_prefixes(&reg.region) {
        let key: (Id, Id) = (prefix.into(), reg.node_type.clone());
        if let Some(entry) = table.get(&key) {
            let percent = entry
                .coefficient_percent
                .unwrap_or(Decimal::from(cfg.default_coefficient_percent));
            let rate = NodeRate {
                daily: daily_rate(entry.monthly, cfg.days_per_month),
                coefficient: percent / Decimal::ONE_HUNDRED,
            };
            return (Some(key), rate);
        }
    }
    let rate = NodeRate {
        daily: daily_rate(Decimal::ONE, cfg.days_per_month),
        coefficient: Decimal::ONE,
    };
    (None, rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn node(provider: &str, region: &str, node_type: &str) -> Rewardable {
        Rewardable {
            provider: provider.into(),
            region: region.into(),
            node_type: node_type.into(),
        }
    }

    fn inputs(counts: &[(&str, &str, u64, u64)], nodes: &[(&str, Rewardable)]) -> DayInputs {
        let mut rates = BTreeMap::new();
        rates.insert(
            ("Europe".into(), "type1".into()),
            RateEntry {
                monthly: d("304375"),
                coefficient_percent: None,
            },
        );
        DayInputs {
            counts: counts
                .iter()
                .map(|(n, s, p, f)| (((*n).into(), (*s).into()), (*p, *f)))
                .collect(),
            rewardable: nodes
                .iter()
                .map(|(n, r)| ((*n).into(), r.clone()))
                .collect(),
            rates,
        }
    }

    #[test]
    fn a_node_in_two_subnets_counts_in_the_busier_one() {
        let i = inputs(
            &[("a", "s1", 75, 25), ("a", "s2", 800, 200)],
            &[("a", node("p", "Europe,CH", "type1"))],
        );
        let out = compute_day(0, &i, &IcpConfig::default());
        let a = &out.nodes[0];
        assert_eq!(a.subnet.as_deref(), Some("s2"));
        assert_eq!(a.failure_rate, Some(d("0.2")));
        assert_eq!(a.subnet_failure_rate, Some(d("0.2")));
        assert_eq!(a.relative_failure_rate, Decimal::ZERO);
        assert_eq!(out.subnets.len(), 1, "s1 lost its only node");
    }

    #[test]
    fn a_failing_node_in_a_healthy_subnet() {
        let nodes = [("a", node("p", "Europe,CH", "type1"))];
        let healthy = [("b", "s", 10, 0), ("c", "s", 10, 0), ("d", "s", 10, 0)];
        let mut counts = healthy.to_vec();
        counts.push(("a", "s", 0, 10));
        let out = compute_day(0, &inputs(&counts, &nodes), &IcpConfig::default());
        let a = &out.nodes[0];
        assert_eq!(a.subnet_failure_rate, Some(Decimal::ZERO));
        assert_eq!(a.failure_rate, Some(Decimal::ONE));
        assert_eq!(a.reduction, d("0.8"));
        assert_eq!(a.adjusted_xdr_permyriad, d("2000"));
        assert_eq!(out.providers[0].adjusted_xdr_permyriad, d("2000"));
        let mut counts = healthy.to_vec();
        counts.push(("a", "s", 0, 0));
        let out = compute_day(0, &inputs(&counts, &nodes), &IcpConfig::default());
        assert_eq!(out.nodes[0].adjusted_xdr_permyriad, d("10000"));
    }

    #[test]
    fn unassigned_nodes_take_their_providers_mean_relative_rate() {
        let nodes = [
            ("a", node("p", "Europe,CH", "type1")),
            ("b", node("p", "Europe,CH", "type1")),
            ("c", node("p", "Europe,CH", "type1")),
            ("z", node("q", "Europe,CH", "type1")),
        ];
        // s: a 0.5, b 0.1, x 0, y 0 → subnet FR (n 4, index 2) 0.1; relative a 0.4, b 0.
        let counts = [
            ("a", "s", 5, 5),
            ("b", "s", 9, 1),
            ("x", "s", 1, 0),
            ("y", "s", 1, 0),
        ];
        let out = compute_day(0, &inputs(&counts, &nodes), &IcpConfig::default());
        let c = out.nodes.iter().find(|n| &*n.node == "c").unwrap();
        assert!(c.extrapolated && c.subnet.is_none() && c.failure_rate.is_none());
        assert_eq!(c.relative_failure_rate, d("0.2"));
        let z = out.nodes.iter().find(|n| &*n.node == "z").unwrap();
        assert_eq!(
            z.relative_failure_rate,
            Decimal::ZERO,
            "provider without counts"
        );
        assert_eq!(out.nodes.len(), 4, "x and y are not rewardable");
        assert_eq!(out.subnets[0].nodes, 4, "but they count in the subnet");
    }

    #[test]
    fn type3_groups_share_a_base_per_provider_and_country() {
        let mut i = inputs(
            &[],
            &[
                ("ca", node("p", "North America,USA,California", "type3")),
                ("nv", node("p", "North America,USA,Nevada", "type3.1")),
            ],
        );
        i.rates.insert(
            ("North America,USA,California".into(), "type3".into()),
            RateEntry {
                monthly: d("913125"),
                coefficient_percent: Some(d("90")),
            },
        );
        i.rates.insert(
            ("North America,USA".into(), "type3.1".into()),
            RateEntry {
                monthly: d("1217500"),
                coefficient_percent: Some(d("70")),
            },
        );
        let out = compute_day(0, &i, &IcpConfig::default());
        for n in &out.nodes {
            assert_eq!(n.base_xdr_permyriad, d("31500"), "{}", n.node);
            assert_eq!(n.type3_group, 2);
        }
        assert_eq!(out.providers[0].base_xdr_permyriad, d("63000"));
    }

    #[test]
    fn no_rate_entry_means_monthly_one() {
        let out = compute_day(
            0,
            &inputs(&[], &[("a", node("p", "Asia,JP", "type1"))]),
            &IcpConfig::default(),
        );
        let a = &out.nodes[0];
        assert_eq!(a.rate_key, None);
        assert_eq!(a.base_xdr_permyriad, Decimal::ONE / d("30.4375"));
        assert_eq!(out.providers[0].base_xdr_permyriad, Decimal::ZERO);
    }
}
