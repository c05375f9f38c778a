//! The relay SQL tables.

use super::formulas::RelayRow;
use super::state::{ChangeRow, RelayOut};
use crate::table::{int, timestamp, ColumnType::*, Table};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RelayParts {
    pub rows: Vec<RelayRow>,
    pub changes: Vec<ChangeRow>,
}

impl RelayParts {
    pub fn from_rows(rows: Vec<RelayOut>) -> RelayParts {
        let mut parts = RelayParts::default();
        for row in rows {
            match row {
                RelayOut::Row(r) => parts.rows.push(r),
                RelayOut::Change(c) => parts.changes.push(c),
            }
        }
        parts
    }
}

/// `relay` and `relay_changes` (sorted by (ts, peer, contract)).
pub fn tables(parts: &RelayParts) -> Vec<Table> {
    let mut relay = Table::new(
        "relay",
        &[
            ("peer", Text),
            ("contract", Text),
            ("distance", Float),
            ("requests", Int),
            ("request_rate", Float),
            ("estimated", Bool),
            ("cost", Float),
            ("value", Float),
            ("relayed", Bool),
        ],
    );
    let mut rows: Vec<&RelayRow> = parts.rows.iter().collect();
    rows.sort_by(|a, b| (&a.peer, &a.contract).cmp(&(&b.peer, &b.contract)));
    for r in rows {
        relay.push(vec![
            r.peer.clone().into(),
            r.contract.clone().into(),
            r.distance.0.into(),
            int(r.requests),
            r.rate.0.into(),
            r.estimated.into(),
            r.cost.0.into(),
            r.value.0.into(),
            r.relayed.into(),
        ]);
    }
    let mut changes = Table::new(
        "relay_changes",
        &[
            ("ts", Timestamp),
            ("peer", Text),
            ("contract", Text),
            ("change", Text),
        ],
    );
    let mut sorted: Vec<&ChangeRow> = parts.changes.iter().collect();
    sorted.sort();
    for c in sorted {
        changes.push(vec![
            timestamp(c.ts),
            c.peer.clone().into(),
            c.contract.clone().into(),
            c.change.clone().into(),
        ]);
    }
    vec![relay, changes]
}
