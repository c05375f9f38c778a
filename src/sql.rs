//! The SQL server beside `run` and `demo`: started before the first publication, handed every
//! publication's tables (with `ingest`, the latest `rejects`, the stored `statements` and the
//! `history.*` snapshots) as the snapshot new queries read.

use std::sync::Mutex;

use meritflow_connectors::kafka::pipeline::Publication;
use meritflow_connectors::statement_store::StatementStore;
use meritflow_pipelines::config::Config;
use meritflow_pipelines::statement::{statement_table, StatementRow};
use meritflow_queries::server::SqlServer;

use crate::history::History;

pub struct LiveSql {
    server: Option<SqlServer>,
    history: Mutex<History>,
    store: StatementStore,
    /// The stored statements, re-read when the store lists other periods.
    stored: Mutex<(Vec<(String, String)>, Vec<StatementRow>)>,
}

impl LiveSql {
    /// Starts the server unless `sql.listen` is empty, and says where on stderr.
    pub fn start(config: &Config) -> anyhow::Result<LiveSql> {
        let cfg = &config.sql;
        let mut live = LiveSql {
            server: None,
            history: Mutex::new(History::new(cfg.snapshot_every.millis(), cfg.history_keep)),
            store: StatementStore::new(&config.statements.storage_dir),
            stored: Mutex::default(),
        };
        if !cfg.enabled() {
            return Ok(live);
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
        live.server = Some(server);
        Ok(live)
    }

    pub fn publish(&self, p: &Publication) {
        let Some(server) = &self.server else { return };
        let mut history = self.history.lock().expect("history lock");
        history.offer(p.through, p.tables);
        let mut tables = p.tables.to_vec();
        tables.push(p.ingest.clone());
        tables.push(crate::tables::rejects_table(p.rejects));
        tables.push(statement_table(&self.statements()));
        tables.extend(history.tables().iter().cloned());
        server.publish(tables, p.through);
    }
}

impl LiveSql {
    /// The stored statements; the store is read again only when its list of periods changed.
    fn statements(&self) -> Vec<StatementRow> {
        let mut stored = self.stored.lock().expect("statements lock");
        match self.store.periods() {
            Ok(periods) if periods != stored.0 => match self.store.read_all() {
                Ok(rows) => *stored = (periods, rows),
                Err(e) => {
                    tracing::warn!(error = %e, "statement store not readable; served as before")
                }
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "statement store not listable"),
        }
        stored.1.clone()
    }
}
