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
        let mut rows = self.icp.statements.clone();
        rows.extend(self.sla.statements.iter().cloned());
        rows.extend(self.swap.statements());
        rows
    }
}
