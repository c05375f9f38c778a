//! SQL over meritflow's tables: the dataflow's snapshot as Arrow tables in a DataFusion
//! session, and the result formats of the CLI.

pub mod arrow_tables;
pub mod format;
pub mod server;

use std::borrow::Borrow;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use meritflow_pipelines::table::Table;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("query failed: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("building table `{table}`: {message}")]
    Table { table: String, message: String },
    #[error("SQL server: {0}")]
    Server(String),
}

/// A query's result: its schema (kept even when no row comes back) and its batches.
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// A DataFusion session over one consistent snapshot of the tables.
pub struct Catalog {
    ctx: SessionContext,
}

impl Catalog {
    /// Tables given by value are turned into Arrow one at a time, each one's rows dropped as soon
    /// as its batch is made: a large snapshot is never held twice over.
    pub fn new<T: Borrow<Table>>(
        tables: impl IntoIterator<Item = T>,
    ) -> Result<Catalog, QueryError> {
        // One partition and one target partition: results do not depend on the machine's cores.
        let config = SessionConfig::new()
            .with_target_partitions(1)
            .with_information_schema(true);
        let ctx = SessionContext::new_with_config(config);
        register_tables(&ctx, tables)?;
        Ok(Catalog { ctx })
    }

    pub async fn query(&self, sql: &str) -> Result<QueryResult, QueryError> {
        let frame = self.ctx.sql(sql).await?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await?;
        Ok(QueryResult { schema, batches })
    }
}

/// Registers each table in `ctx` as an in-memory table of one batch; a name `schema.table`
/// goes into that schema of the default catalog, created when missing.
pub fn register_tables<T: Borrow<Table>>(
    ctx: &SessionContext,
    tables: impl IntoIterator<Item = T>,
) -> Result<(), QueryError> {
    for table in tables {
        let table = table.borrow();
        if let Some((schema, _)) = table.name.split_once('.') {
            let catalog = ctx
                .catalog(&ctx.state().config().options().catalog.default_catalog)
                .ok_or_else(|| QueryError::Server("no default catalog".into()))?;
            if catalog.schema(schema).is_none() {
                let provider = Arc::new(datafusion::catalog::MemorySchemaProvider::new());
                catalog.register_schema(schema, provider)?;
            }
        }
        let batch = arrow_tables::to_batch(table)?;
        let mem = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        ctx.register_table(table.name, Arc::new(mem))?;
    }
    Ok(())
}
