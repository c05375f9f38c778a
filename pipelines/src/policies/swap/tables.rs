//! The swap SQL tables, and the period statements of income per node.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::config::SwapConfig;
use super::ledger::Pair;
use super::state::{PeriodIncome, PolicyReject, SwapOut};
use crate::id::Id;
use crate::statement::StatementRow;
use crate::table::{int, ColumnType::*, Table};
use crate::triggers::TriggerRow;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SwapParts {
    pub pairs: Vec<(Id, Id, Pair)>,
    pub triggers: Vec<TriggerRow>,
    pub rejects: Vec<PolicyReject>,
    pub income: Vec<PeriodIncome>,
}

impl SwapParts {
    pub fn from_rows(rows: Vec<SwapOut>) -> SwapParts {
        let mut parts = SwapParts::default();
        for row in rows {
            match row {
                SwapOut::Pair(d, c, p) => parts.pairs.push((d, c, p)),
                SwapOut::Trigger(t) => parts.triggers.push(t),
                SwapOut::Reject(r) => parts.rejects.push(r),
                SwapOut::Income(i) => parts.income.push(i),
            }
        }
        parts
    }

    /// Per closed period and creditor: the full price of the chunks it served in the period
    /// (what bandwidth rewards pay on), with what it was paid in `detail`.
    pub fn statements(&self) -> Vec<StatementRow> {
        let mut sums: BTreeMap<(&str, &Id), (u64, u128, u128, u128, u32)> = BTreeMap::new();
        for i in &self.income {
            let e = sums.entry((&i.period, &i.creditor)).or_default();
            e.0 += i.chunks;
            e.1 += i.served;
            e.2 += i.refresh;
            e.3 += i.cheques;
            e.4 += 1;
        }
        sums.into_iter()
            .map(
                |((period, node), (chunks, served, refresh, cheques, debtors))| StatementRow {
                    period: period.to_owned(),
                    policy: "swap".to_owned(),
                    provider: node.clone(),
                    node: Some(node.clone()),
                    amount: amount(served),
                    detail: serde_json::json!({
                        "chunks": chunks,
                        "served_price": served.to_string(),
                        "received_refresh": refresh.to_string(),
                        "received_cheques": cheques.to_string(),
                        "debtors": debtors,
                        "rule": "amount = full price of the chunks the node served in the period",
                    })
                    .to_string(),
                },
            )
            .collect()
    }
}

fn amount(v: u128) -> Decimal {
    Decimal::try_from_i128_with_scale(v as i128, 0).unwrap_or(Decimal::MAX)
}

/// `swap_balances` and `swap_income`.
pub fn tables(parts: &SwapParts, cfg: &SwapConfig) -> Vec<Table> {
    let limit = cfg.disconnect_limit();
    let mut balances = Table::new(
        "swap_balances",
        &[
            ("debtor", Text),
            ("creditor", Text),
            ("debt", Decimal),
            ("surplus", Decimal),
            ("chunks", Int),
            ("paid_refresh", Decimal),
            ("paid_cheques", Decimal),
            ("over_limit", Bool),
        ],
    );
    let mut income: BTreeMap<&Id, (u128, u128, u128)> = BTreeMap::new();
    for (debtor, creditor, p) in &parts.pairs {
        balances.push(vec![
            debtor.clone().into(),
            creditor.clone().into(),
            amount(p.debt).into(),
            amount(p.surplus).into(),
            int(p.chunks),
            amount(p.paid_refresh).into(),
            amount(p.paid_cheques).into(),
            (p.debt >= limit).into(),
        ]);
        let e = income.entry(creditor).or_default();
        e.0 += p.served;
        e.1 += p.paid_refresh;
        e.2 += p.paid_cheques;
    }
    let mut income_table = Table::new(
        "swap_income",
        &[
            ("node", Text),
            ("served_price", Decimal),
            ("received_refresh", Decimal),
            ("received_cheques", Decimal),
        ],
    );
    for (node, (served, refresh, cheques)) in income {
        income_table.push(vec![
            node.clone().into(),
            amount(served).into(),
            amount(refresh).into(),
            amount(cheques).into(),
        ]);
    }
    vec![balances, income_table]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_row_sums_a_creditors_income_over_its_debtors() {
        let income = |debtor: &str, served| PeriodIncome {
            period: "2026-10".into(),
            creditor: "b".into(),
            debtor: debtor.into(),
            chunks: 2,
            served,
            refresh: 5,
            cheques: 7,
        };
        let parts = SwapParts {
            income: vec![income("a", 30_000), income("c", 640_000)],
            ..SwapParts::default()
        };
        let rows = parts.statements();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].policy.as_str(), &*rows[0].provider), ("swap", "b"));
        assert_eq!(rows[0].amount, Decimal::from(670_000));
        assert!(
            rows[0].detail.contains(r#""received_cheques":"14""#),
            "{}",
            rows[0].detail
        );
        assert!(rows[0].detail.contains(r#""debtors":2"#));
    }
}
