//! The SQL server beside `run` and `demo`: started before the first publication, handed every
//! publication's tables (with `ingest`, the latest `rejects`, the stored `statements` and the
//! `history.*` snapshots) as the snapshot new queries read.

use std::sync::{Arc, Mutex};

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
    stored: Mutex<(Vec<(String, String)>, Arc<Vec<StatementRow>>)>,
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

    /// Makes `p` what new queries read. Nothing is built here: the policies' tables (a pass
    /// over every node) are built when the first query after it arrives, or at a history
    /// snapshot's boundary.
    pub fn publish(&self, p: &Publication) {
        let Some(server) = &self.server else { return };
        let history = {
            let mut history = self.history.lock().expect("history lock");
            history.offer(p.through, || {
                p.tables
                    .read()
                    .map(|(_, tables)| tables)
                    .unwrap_or_default()
            });
            history.tables()
        };
        let latest = Arc::clone(p.tables);
        let (ingest, rejects) = (p.ingest.clone(), crate::tables::rejects_table(p.rejects));
        let statements = self.statements();
        server.publish_with(Box::new(move || {
            let (as_of, mut tables) = latest.read()?;
            tables.push(ingest);
            tables.push(rejects);
            tables.push(statement_table(&statements));
            tables.extend(history.iter().cloned());
            Some((tables, as_of))
        }));
    }
}

impl LiveSql {
    /// The stored statements; the store is read again only when its list of periods changed.
    fn statements(&self) -> Arc<Vec<StatementRow>> {
        let mut stored = self.stored.lock().expect("statements lock");
        match self.store.periods() {
            Ok(periods) if periods != stored.0 => match self.store.read_all() {
                Ok(rows) => *stored = (periods, Arc::new(rows)),
                Err(e) => {
                    tracing::warn!(error = %e, "statement store not readable; served as before")
                }
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "statement store not listable"),
        }
        Arc::clone(&stored.1)
    }
}
