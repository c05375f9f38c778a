//! Every SQL table of a snapshot: the policies' tables, the `rejects` of the input and the
//! task events that came too late to count.

use meritflow_connectors::file::Reject;
use meritflow_pipelines::policies::crynux::late::LateTaskEvent;
use meritflow_pipelines::snapshot::PolicySnapshot;
use meritflow_pipelines::statement::{statement_table, StatementRow};
use meritflow_pipelines::table::{int, timestamp, ColumnType::*, Table};

/// Every table of a replay: the policies' as of its moment; `statements` are the stored ones
/// (the history).
pub fn snapshot(
    policies: PolicySnapshot,
    rejects: &[Reject],
    late: &[LateTaskEvent],
    statements: &[StatementRow],
) -> Vec<Table> {
    // Valid events a policy could not take (a cheque that does not increase, a fractional
    // amount) are rejects too: `line` is the event's position among the input's events.
    let policy_rejects: Vec<Reject> = policies
        .rejects()
        .map(|(policy, r)| Reject {
            source: format!("policy {policy}"),
            line: r.seq + 1,
            kind: Some(r.kind.clone()),
            reason: r.reason.clone(),
            payload: r.payload.clone(),
        })
        .collect();
    let mut tables = policies.tables;
    tables.push(statement_table(statements));
    tables.push(rejects_table(rejects.iter().chain(&policy_rejects)));
    tables.push(late_table(late));
    tables
}

pub fn rejects_table<'r>(rejects: impl IntoIterator<Item = &'r Reject>) -> Table {
    let mut table = Table::new(
        "rejects",
        &[
            ("line", Int),
            ("kind", Text),
            ("reason", Text),
            ("source", Text),
            ("payload", Text),
        ],
    );
    for r in rejects {
        table.push(vec![
            int(r.line),
            r.kind.clone().into(),
            r.reason.clone().into(),
            r.source.clone().into(),
            r.payload.clone().into(),
        ]);
    }
    table
}

/// Valid task events that came too late to change their task (`policies::crynux::late`).
pub fn late_table(late: &[LateTaskEvent]) -> Table {
    let mut table = Table::new(
        "late_events",
        &[
            ("seq", Int),
            ("kind", Text),
            ("task", Text),
            ("ts", Timestamp),
            ("task_start", Timestamp),
            ("reason", Text),
        ],
    );
    for l in late {
        table.push(vec![
            int(l.seq),
            l.kind.into(),
            l.task.clone().into(),
            timestamp(l.ts),
            timestamp(l.task_start),
            l.reason.clone().into(),
        ]);
    }
    table
}
