//! The SQL server beside `run` and `demo`: started before the first publication, handed every
//! publication's tables (with `ingest` and the latest `rejects`) as the snapshot new queries read.

use meritflow_connectors::kafka::pipeline::Publication;
use meritflow_pipelines::sql_config::SqlConfig;
use meritflow_queries::server::SqlServer;

pub struct LiveSql {
    server: Option<SqlServer>,
}

impl LiveSql {
    /// Starts the server unless `sql.listen` is empty, and says where on stderr.
    pub fn start(cfg: &SqlConfig) -> anyhow::Result<LiveSql> {
        if !cfg.enabled() {
            return Ok(LiveSql { server: None });
        }
        let server = SqlServer::start(cfg, &[], 0)?;
        let auth = if cfg.password.is_some() {
            "SCRAM-SHA-256"
        } else {
            "no password: loopback only"
        };
        eprintln!(
            "meritflow: SQL on {} (psql -h {} -p {} -U {}; {auth}); tables appear with the first results",
            cfg.listen,
            cfg.host_port().map(|h| h.0).unwrap_or_default(),
            cfg.host_port().map(|h| h.1).unwrap_or_default(),
            cfg.user
        );
        Ok(LiveSql {
            server: Some(server),
        })
    }

    pub fn publish(&self, p: &Publication) {
        let Some(server) = &self.server else { return };
        let mut tables = p.tables.to_vec();
        tables.push(p.ingest.clone());
        tables.push(crate::tables::rejects_table(p.rejects));
        if let Err(e) = server.publish(&tables, p.through) {
            tracing::error!(error = %e, "SQL snapshot not published; queries keep reading the previous one");
        }
    }
}
