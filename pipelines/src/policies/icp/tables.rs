//! The icp SQL tables from the dataflow's rows, as of one moment.

use super::config::IcpConfig;
use super::day::{NodeDay, ProviderDay, SubnetDay};
use super::live::live_rows;
use super::state::IcpOut;
use crate::statement::StatementRow;
use crate::table::{int, opt_int, Cell, ColumnType::*, Table};

/// Everything the icp dataflow shows at one moment, each list sorted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IcpParts {
    pub nodes: Vec<NodeDay>,
    pub subnets: Vec<SubnetDay>,
    pub providers: Vec<ProviderDay>,
    pub live: Vec<NodeDay>,
    pub statements: Vec<StatementRow>,
}

impl IcpParts {
    /// Sorts rows out by table (`rows` sorted, as a snapshot comes), the open days' rows
    /// finished with the network's figures (see [`live_rows`]).
    pub fn from_rows(rows: Vec<IcpOut>, cfg: &IcpConfig) -> IcpParts {
        let mut parts = IcpParts::default();
        let mut live = Vec::new();
        for row in rows {
            match row {
                IcpOut::Node(r) => parts.nodes.push(r),
                IcpOut::Subnet(r) => parts.subnets.push(r),
                IcpOut::Provider(r) => parts.providers.push(r),
                IcpOut::Live(r) => live.push(r),
                IcpOut::Statement(r) => parts.statements.push(r),
            }
        }
        parts.live = live_rows(live, cfg);
        parts
    }
}

/// `icp_node_daily` and `icp_node_daily_live` share their columns.
fn node_table(name: &'static str, rows: &[NodeDay]) -> Table {
    let mut table = Table::new(
        name,
        &[
            ("day", Date),
            ("node", Text),
            ("provider", Text),
            ("subnet", Text),
            ("proposed", Int),
            ("failed", Int),
            ("failure_rate", Decimal),
            ("subnet_failure_rate", Decimal),
            ("relative_failure_rate", Decimal),
            ("extrapolated", Bool),
            ("reduction", Decimal),
            ("multiplier", Decimal),
            ("base_xdr_permyriad", Decimal),
            ("adjusted_xdr_permyriad", Decimal),
        ],
    );
    for r in rows {
        table.push(vec![
            Cell::Date(Some(r.day)),
            r.node.clone().into(),
            r.provider.clone().into(),
            r.subnet.clone().into(),
            opt_int(r.proposed),
            opt_int(r.failed),
            r.failure_rate.into(),
            r.subnet_failure_rate.into(),
            r.relative_failure_rate.into(),
            r.extrapolated.into(),
            r.reduction.into(),
            r.multiplier.into(),
            r.base_xdr_permyriad.into(),
            r.adjusted_xdr_permyriad.into(),
        ]);
    }
    table
}

/// The icp tables, without `statements` (which the store serves).
pub fn tables(parts: &IcpParts) -> Vec<Table> {
    let mut subnets = Table::new(
        "icp_subnet_daily",
        &[
            ("day", Date),
            ("subnet", Text),
            ("nodes", Int),
            ("failure_rate", Decimal),
        ],
    );
    for r in &parts.subnets {
        subnets.push(vec![
            Cell::Date(Some(r.day)),
            r.subnet.clone().into(),
            int(r.nodes),
            r.failure_rate.into(),
        ]);
    }
    let mut providers = Table::new(
        "icp_provider_daily",
        &[
            ("day", Date),
            ("provider", Text),
            ("base_xdr_permyriad", Int),
            ("adjusted_xdr_permyriad", Int),
        ],
    );
    for r in &parts.providers {
        providers.push(vec![
            Cell::Date(Some(r.day)),
            r.provider.clone().into(),
            integer(r.base_xdr_permyriad),
            integer(r.adjusted_xdr_permyriad),
        ]);
    }
    vec![
        node_table("icp_node_daily", &parts.nodes),
        node_table("icp_node_daily_live", &parts.live),
        subnets,
        providers,
    ]
}

fn integer(d: rust_decimal::Decimal) -> Cell {
    use rust_decimal::prelude::ToPrimitive;
    Cell::Int(d.trunc().to_i64())
}
