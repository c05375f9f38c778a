//! What an icp period's closed days add up to: its statement rows.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::day::{NodeDay, ProviderDay};
use crate::id::Id;
use crate::statement::StatementRow;

/// What a period's closed days add up to, gathered day by day: per provider (node None) the
/// days, the sum of its truncated daily base and adjusted totals; per (provider, node) the days
/// and the exact sums of its daily base and adjusted rewards.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PeriodSums {
    sums: BTreeMap<(Id, Option<Id>), (u32, Decimal, Decimal)>,
}

impl PeriodSums {
    pub fn add_day(&mut self, nodes: &[NodeDay], providers: &[ProviderDay]) {
        let providers = providers.iter().map(|p| {
            let key = (p.provider.clone(), None);
            (key, p.base_xdr_permyriad, p.adjusted_xdr_permyriad)
        });
        let nodes = nodes.iter().map(|n| {
            let key = (n.provider.clone(), Some(n.node.clone()));
            (key, n.base_xdr_permyriad, n.adjusted_xdr_permyriad)
        });
        for (key, base, adjusted) in providers.chain(nodes) {
            let e = self.sums.entry(key).or_default();
            e.0 += 1;
            e.1 += base;
            e.2 += adjusted;
        }
    }

    /// The statement rows of period `name`, in (provider, node) order, the provider's first.
    pub fn statement(&self, name: &str, policy: &str) -> Vec<StatementRow> {
        self.sums
            .iter()
            .map(|((provider, node), (days, base, adjusted))| {
                let rule = match node {
                    None => "sum of the provider's daily adjusted totals, each truncated",
                    Some(_) => "sum of the node's daily adjusted rewards, exact",
                };
                StatementRow {
                    period: name.to_owned(),
                    policy: policy.to_owned(),
                    provider: provider.clone(),
                    node: node.clone(),
                    amount: *adjusted,
                    detail: format!(
                        r#"{{"days":{days},"base_xdr_permyriad":"{}","rule":"{rule}"}}"#,
                        base.normalize()
                    ),
                }
            })
            .collect()
    }
}
