//! Every SQL table of a snapshot: the policies' tables and the `rejects` of the input.

use meritflow_connectors::file::Reject;
use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine::Outputs;
use meritflow_pipelines::policies::crynux::tables::tables as crynux_tables;
use meritflow_pipelines::table::{int, ColumnType::*, Table};
use meritflow_pipelines::time::Millis;

pub fn snapshot(
    outputs: &Outputs,
    as_of: Millis,
    config: &Config,
    rejects: &[Reject],
) -> Vec<Table> {
    let mut tables = crynux_tables(&outputs.crynux(as_of), as_of, &config.policy.crynux);
    tables.push(rejects_table(rejects));
    tables
}

pub fn rejects_table(rejects: &[Reject]) -> Table {
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
