//! Every SQL table of a snapshot: the policies' tables, the `rejects` of the input and the
//! task events that came too late to count.

use meritflow_connectors::file::Reject;
use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine::Outputs;
use meritflow_pipelines::policies::crynux::late::LateTaskEvent;
use meritflow_pipelines::policies::crynux::tables::tables as crynux_tables;
use meritflow_pipelines::policies::icp::period::StatementRow;
use meritflow_pipelines::policies::icp::tables::{statement_table, tables as icp_tables, IcpParts};
use meritflow_pipelines::table::{int, timestamp, ColumnType::*, Table};
use meritflow_pipelines::time::Millis;

/// Every table as of `as_of`; `statements` are the stored ones (the history).
pub fn snapshot(
    outputs: &Outputs,
    as_of: Millis,
    config: &Config,
    icp: &IcpParts,
    rejects: &[Reject],
    late: &[LateTaskEvent],
    statements: &[StatementRow],
) -> Vec<Table> {
    let mut tables = crynux_tables(&outputs.crynux(as_of), as_of, &config.policy.crynux);
    tables.extend(icp_tables(icp));
    tables.push(statement_table(statements));
    tables.push(rejects_table(rejects));
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
