//! Every policy's tables as of one completed moment, assembled once for the CLI, the Kafka
//! publisher and the SQL layer: the shared `triggers` table gathers every policy's edges.

use crate::config::Config;
use crate::engine::Outputs;
use crate::policies::crynux::tables::tables as crynux_tables;
use crate::policies::icp::tables::{tables as icp_tables, IcpParts};
use crate::policies::relay::tables::tables as relay_tables;
use crate::policies::sla::tables::{tables as sla_tables, SlaParts};
use crate::policies::swap::tables::{tables as swap_tables, SwapParts};
use crate::statement::StatementRow;
use crate::table::Table;
use crate::time::Millis;
use crate::triggers::trigger_table;

pub struct PolicySnapshot {
    /// Every policy table (not `statements`, which the store serves).
    pub tables: Vec<Table>,
    pub icp: IcpParts,
    pub sla: SlaParts,
    pub swap: SwapParts,
}

impl PolicySnapshot {
    pub fn take(outputs: &Outputs, as_of: Millis, config: &Config) -> PolicySnapshot {
        let crynux = outputs.crynux(as_of);
        let icp = outputs.icp(as_of, &config.policy.icp);
        let sla = outputs.sla(as_of, &config.policy.sla);
        let swap = outputs.swap(as_of);
        let mut tables = crynux_tables(&crynux, as_of, &config.policy.crynux);
        let mut triggers = crynux.triggers.clone();
        triggers.extend(sla.triggers.iter().cloned());
        triggers.extend(swap.triggers.iter().cloned());
        tables.push(trigger_table(&triggers));
        tables.extend(icp_tables(&icp));
        tables.extend(sla_tables(&sla, &config.policy.sla));
        tables.extend(swap_tables(&swap, &config.policy.swap));
        tables.extend(relay_tables(&outputs.relay(as_of)));
        tables.push(crate::gpu_latest::table(&outputs.gpu_latest(as_of)));
        PolicySnapshot {
            tables,
            icp,
            sla,
            swap,
        }
    }

    /// The statements of the periods closed so far, every policy's.
    pub fn closed_statements(&self) -> Vec<StatementRow> {
        statements_of(&self.icp, &self.sla, &self.swap)
    }
}

/// The policies' tables of the latest publication, built when someone reads them: building
/// them is a pass over every node, which a publication nobody reads should not pay for.
pub struct LatestTables {
    outputs: std::sync::Arc<Outputs>,
    config: Config,
    /// The latest published moment; held while the outputs are folded up to the next one, so
    /// no read sees a capture folded past the moment it reads at.
    published: std::sync::Mutex<Option<Millis>>,
}

impl LatestTables {
    pub fn new(outputs: std::sync::Arc<Outputs>, config: &Config) -> LatestTables {
        LatestTables {
            outputs,
            config: config.clone(),
            published: std::sync::Mutex::new(None),
        }
    }

    /// Publishes `through`: `fold` (which folds the outputs up to it) runs while no read is
    /// under way, and later reads are as of `through`.
    pub fn advance<T>(&self, through: Millis, fold: impl FnOnce() -> T) -> T {
        let mut published = self.published.lock().expect("published lock");
        let folded = fold();
        *published = Some(through);
        folded
    }

    /// The latest published moment and the tables then (`None` before the first
    /// publication). A publication waits while they are built.
    pub fn read(&self) -> Option<(Millis, Vec<Table>)> {
        let published = self.published.lock().expect("published lock");
        published.map(|at| {
            (
                at,
                PolicySnapshot::take(&self.outputs, at, &self.config).tables,
            )
        })
    }
}

/// The statements of the periods closed through `as_of` (a completed time), read from the
/// captured outputs without building any table.
pub fn closed_statements(outputs: &Outputs, as_of: Millis, config: &Config) -> Vec<StatementRow> {
    statements_of(
        &outputs.icp(as_of, &config.policy.icp),
        &outputs.sla(as_of, &config.policy.sla),
        &outputs.swap(as_of),
    )
}

fn statements_of(icp: &IcpParts, sla: &SlaParts, swap: &SwapParts) -> Vec<StatementRow> {
    let mut rows = icp.statements.clone();
    rows.extend(sla.statements.iter().cloned());
    rows.extend(swap.statements());
    rows
}
