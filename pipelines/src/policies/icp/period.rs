//! Reward periods (UTC day, ISO week, calendar month) and the final statement rows written when
//! one closes.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use super::day::{Day, NodeDay, ProviderDay};
use crate::id::Id;
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

/// The date of a day.
pub fn date_of(day: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + EPOCH_CE_DAYS).expect("day in chrono's range")
}

/// The day of a date.
pub fn day_of_date(date: NaiveDate) -> Day {
    date.num_days_from_ce() - EPOCH_CE_DAYS
}

const EPOCH_CE_DAYS: i32 = 719_163;

/// The period holding `day`: its name (`2026-10`, `2026-W41`, `2026-10-05`) and last day.
pub fn period_of(day: Day, period: Period) -> (String, Day) {
    let date = date_of(day);
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

/// What a period's closed days add up to, gathered day by day.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeriodSums {
    /// Per provider: days, sum of truncated daily base, sum of truncated daily adjusted.
    providers: BTreeMap<Id, (u32, Decimal, Decimal)>,
    /// Per (provider, node): days, sum of base, sum of adjusted (exact).
    nodes: BTreeMap<(Id, Id), (u32, Decimal, Decimal)>,
}

impl PeriodSums {
    pub fn add_day(&mut self, nodes: &[NodeDay], providers: &[ProviderDay]) {
        for p in providers {
            let e = self.providers.entry(p.provider.clone()).or_default();
            e.0 += 1;
            e.1 += p.base_xdr_permyriad;
            e.2 += p.adjusted_xdr_permyriad;
        }
        for n in nodes {
            let e = self
                .nodes
                .entry((n.provider.clone(), n.node.clone()))
                .or_default();
            e.0 += 1;
            e.1 += n.base_xdr_permyriad;
            e.2 += n.adjusted_xdr_permyriad;
        }
    }

    /// The statement rows of period `name`, providers first, each in id order.
    pub fn statement(&self, name: &str, policy: &str) -> Vec<StatementRow> {
        let row =
            |provider: &Id, node: Option<&Id>, amount: Decimal, detail: String| StatementRow {
                period: name.to_owned(),
                policy: policy.to_owned(),
                provider: provider.clone(),
                node: node.cloned(),
                amount,
                detail,
            };
        let mut rows = Vec::new();
        for (provider, (days, base, adjusted)) in &self.providers {
            let detail = format!(
                r#"{{"days":{days},"base_xdr_permyriad":"{}","rule":"sum of the provider's daily adjusted totals, each truncated"}}"#,
                base.normalize()
            );
            rows.push(row(provider, None, *adjusted, detail));
        }
        for ((provider, node), (days, base, adjusted)) in &self.nodes {
            let detail = format!(
                r#"{{"days":{days},"base_xdr_permyriad":"{}","rule":"sum of the node's daily adjusted rewards, exact"}}"#,
                base.normalize()
            );
            rows.push(row(provider, Some(node), *adjusted, detail));
        }
        rows
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
