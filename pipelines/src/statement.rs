//! Reward periods (UTC day, ISO week, calendar month) and the final statement rows every policy
//! that pays writes when one closes.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::id::Id;
use crate::table::{ColumnType::*, Table};
use crate::time::{date_of, day_of_date};

/// A UTC day, days since 1970-01-01.
pub type Day = i32;

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

const DAY_MS: u64 = 86_400_000;

/// The end (exclusive, ms) of the period holding the moment just after `after`.
pub fn next_period_end(after: u64, period: Period) -> u64 {
    let (_, last_day) = period_of((after / DAY_MS) as Day, period);
    (last_day as u64 + 1) * DAY_MS
}

/// Whether a period ends at `t`.
pub fn is_period_end(t: u64, period: Period) -> bool {
    t > 0 && t % DAY_MS == 0 && next_period_end(t - 1, period) == t
}

/// The name of the period ending at `end`.
pub fn period_ending(end: u64, period: Period) -> String {
    period_of(((end - 1) / DAY_MS) as Day, period).0
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

/// The `statements` table's columns, shared by the live rows and the Parquet store.
pub fn statement_table(rows: &[StatementRow]) -> Table {
    let mut table = Table::new(
        "statements",
        &[
            ("period", Text),
            ("policy", Text),
            ("provider", Text),
            ("node", Text),
            ("amount", Decimal),
            ("detail", Text),
        ],
    );
    for r in rows {
        table.push(vec![
            r.period.clone().into(),
            r.policy.clone().into(),
            r.provider.clone().into(),
            r.node.clone().into(),
            r.amount.into(),
            r.detail.clone().into(),
        ]);
    }
    table
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
