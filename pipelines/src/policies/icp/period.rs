//! Reward periods (UTC day, ISO week, calendar month) and the final statement rows written when
//! one closes.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use super::day::{Day, NodeDay, ProviderDay};
use crate::id::Id;
use crate::time::{date_of, day_of_date};
use serde::{Deserialize, Serialize};

/// How long a reward period is; statements are written when one closes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    /// ISO week, Monday to Sunday.
    Week,
    /// Calendar month.
    #[default]
    Month,
}

/// `[statements]`: where closed periods' statements go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatementsConfig {
    /// The reward period.
    pub period: Period,
    /// The Parquet store of closed statements.
    pub storage_dir: String,
}

impl Default for StatementsConfig {
    fn default() -> Self {
        StatementsConfig {
            period: Period::Month,
            storage_dir: "meritflow-store".into(),
        }
    }
}

/// The period holding `day`: its name (`2026-10`, `2026-W41`, `2026-10-05`) and last day.
pub fn period_of(day: Day, period: Period) -> (String, Day) {
    let date = date_of(day).expect("event times are within chrono's range");
    match period {
        Period::Day => (date.format("%Y-%m-%d").to_string(), day),
        Period::Week => {
            let week = date.iso_week();
            let sunday = day + (6 - date.weekday().num_days_from_monday() as Day);
            (format!("{}-W{:02}", week.year(), week.week()), sunday)
        }
        Period::Month => {
            let (y, m) = (date.year(), date.month());
            let next = if m == 12 {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(y, m + 1, 1)
            }
            .expect("valid month start");
            (format!("{y}-{m:02}"), day_of_date(next) - 1)
        }
    }
}

/// One row of a period's statement: a provider's total (`node` None) or a node's share.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct StatementRow {
    pub period: String,
    pub policy: String,
    pub provider: Id,
    pub node: Option<Id>,
    pub amount: Decimal,
    /// How the amount came out, as a JSON object.
    pub detail: String,
}

/// What a period's closed days add up to, gathered day by day: per provider (node None) the
/// days, the sum of its truncated daily base and adjusted totals; per (provider, node) the days
/// and the exact sums of its daily base and adjusted rewards.
#[derive(Clone, Debug, Default, PartialEq)]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> Day {
        day_of_date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn periods() {
        assert_eq!(day(1970, 1, 1), 0);
        let oct5 = day(2026, 10, 5);
        assert_eq!(
            period_of(oct5, Period::Month),
            ("2026-10".into(), day(2026, 10, 31))
        );
        assert_eq!(
            period_of(day(2026, 12, 9), Period::Month).1,
            day(2026, 12, 31)
        );
        assert_eq!(period_of(oct5, Period::Day), ("2026-10-05".into(), oct5));
        // 2026-10-05 is a Monday of ISO week 41.
        assert_eq!(
            period_of(oct5, Period::Week),
            ("2026-W41".into(), day(2026, 10, 11))
        );
        assert_eq!(
            period_of(day(2026, 10, 11), Period::Week).1,
            day(2026, 10, 11)
        );
    }
}
