//! The PostgreSQL wire protocol server: psql, Grafana, Metabase and DBeaver ask their own
//! questions over the same tables the CLI queries.
//!
//! Consistency: every publication of the dataflow builds one DataFusion session over that
//! snapshot (its tables, `pg_catalog`, and `as_of()` returning the snapshot's moment), and each
//! query runs entirely on the session that is current when it arrives, so it never sees a
//! half-applied update. A prepared statement keeps the snapshot it was planned on.
//!
//! Security: loopback by default; SCRAM-SHA-256 when `sql.password` is set (required off
//! loopback); TLS when a certificate is configured; read-only (anything but queries, SHOW, SET
//! and transaction control is refused before planning); per-query time and memory limits; a
//! connection limit.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser as SqlParser;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::pgwire::api::auth::noop::NoopStartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::scram::{gen_salted_password, ScramAuth};
use datafusion_postgres::pgwire::api::auth::sasl::SASLAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use datafusion_postgres::pgwire::api::portal::Portal;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionManager, PgWireServerHandlers,
};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::data::DataRow;
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use datafusion_postgres::{serve_with_handlers, DfSessionService, ServerOptions};
use futures::Sink;
use meritflow_pipelines::sql_config::SqlConfig;
use meritflow_pipelines::table::Table;
use meritflow_pipelines::time::Millis;

use crate::{register_tables, QueryError};

/// What new queries read: the latest published tables, whose session is built when a query
/// first asks for it, so that publications nobody queries cost nothing.
struct Snapshot {
    cfg: SqlConfig,
    state: Mutex<SnapshotState>,
}

/// Builds the tables of a publication and says their moment (`None`: nothing to serve yet).
pub type MakeTables = Box<dyn FnOnce() -> Option<(Vec<Table>, Millis)> + Send>;

struct SnapshotState {
    built: Arc<DfSessionService>,
    /// How to build the tables published since `built` was made.
    published: Option<MakeTables>,
}

impl Snapshot {
    fn current(&self) -> Arc<DfSessionService> {
        let mut state = self.state.lock().expect("snapshot lock");
        if let Some((tables, as_of)) = state.published.take().and_then(|make| make()) {
            match session(&tables, as_of, &self.cfg) {
                Ok(next) => state.built = Arc::new(next),
                Err(e) => {
                    tracing::error!(error = %e, "SQL snapshot not built; queries read the previous one")
                }
            }
        }
        Arc::clone(&state.built)
    }
}

type Current = Arc<Snapshot>;

/// A running server; [`SqlServer::publish`] makes a new snapshot current.
pub struct SqlServer {
    current: Current,
}

impl SqlServer {
    /// Binds `cfg.listen` and serves `tables` (as of `as_of`) from a thread of its own.
    pub fn start(
        cfg: &SqlConfig,
        tables: &[Table],
        as_of: Millis,
    ) -> Result<SqlServer, QueryError> {
        let current: Current = Arc::new(Snapshot {
            cfg: cfg.clone(),
            state: Mutex::new(SnapshotState {
                built: Arc::new(session(tables, as_of, cfg)?),
                published: None,
            }),
        });
        let (host, port) = cfg.host_port().map_err(QueryError::Server)?;
        let mut options = ServerOptions::new()
            .with_host(host.clone())
            .with_port(port)
            .with_max_connections(cfg.max_connections);
        if let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) {
            options = options
                .with_tls_cert_path(Some(cert.clone()))
                .with_tls_key_path(Some(key.clone()));
        }
        // Bind here, so that a taken port is an error of `start`, not of a thread later.
        std::net::TcpListener::bind((host.as_str(), port))
            .map_err(|e| QueryError::Server(format!("sql.listen {}: {e}", cfg.listen)))?;
        let handlers = Arc::new(Handlers {
            current: Arc::clone(&current),
            timeout: Duration::from_millis(cfg.query_timeout.millis()),
            password: cfg.password.clone(),
            user: cfg.user.clone(),
            connections: Arc::new(ConnectionManager::new()),
        });
        std::thread::Builder::new()
            .name("sql-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("SQL server runtime");
                if let Err(e) = runtime.block_on(serve_with_handlers(handlers, &options)) {
                    tracing::error!(error = %e, "SQL server stopped");
                }
            })
            .map_err(|e| QueryError::Server(e.to_string()))?;
        Ok(SqlServer { current })
    }

    /// Makes `tables` (complete through `as_of`) what new queries read.
    pub fn publish(&self, tables: Vec<Table>, as_of: Millis) {
        self.publish_with(Box::new(move || Some((tables, as_of))));
    }

    /// Makes the tables `make` builds what new queries read; they are built when the first
    /// query after this arrives, and not at all when another publication comes first.
    pub fn publish_with(&self, make: MakeTables) {
        self.current.state.lock().expect("snapshot lock").published = Some(make);
    }
}

/// One snapshot's session: its tables, `pg_catalog`, `as_of()`, and the memory limit.
fn session(
    tables: &[Table],
    as_of: Millis,
    cfg: &SqlConfig,
) -> Result<DfSessionService, QueryError> {
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .with_information_schema(true);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(cfg.query_memory_mb as usize * (1 << 20), 1.0)
        .build_arc()?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    register_tables(&ctx, tables)?;
    let moment = ScalarValue::TimestampMillisecond(Some(as_of as i64), Some("UTC".into()));
    let as_of_fn = create_udf(
        "as_of",
        vec![],
        moment.data_type(),
        Volatility::Immutable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(moment.clone()))),
    );
    ctx.register_udf(as_of_fn);
    setup_pg_catalog(&ctx, "datafusion", EmptyContextProvider).map_err(|e| *e)?;
    Ok(DfSessionService::new(Arc::new(ctx)))
}

/// Refuses what would change anything: the tables change only through the event stream.
fn read_only(sql: &str) -> PgWireResult<()> {
    let Ok(statements) = SqlParser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Ok(()); // the session reports the syntax error itself
    };
    for statement in &statements {
        let allowed = matches!(
            statement,
            Statement::Query(_)
                | Statement::Explain { .. }
                | Statement::ExplainTable { .. }
                | Statement::ShowVariable { .. }
                | Statement::ShowTables { .. }
                | Statement::ShowColumns { .. }
                | Statement::Set(_)
                | Statement::StartTransaction { .. }
                | Statement::Commit { .. }
                | Statement::Rollback { .. }
                | Statement::Declare { .. }
                | Statement::Fetch { .. }
                | Statement::Close { .. }
                | Statement::Discard { .. }
                | Statement::Deallocate { .. }
        );
        if !allowed {
            let first = statement.to_string();
            let word = first
                .split_whitespace()
                .next()
                .unwrap_or("this")
                .to_uppercase();
            return Err(user_error(
                "25006",
                format!("meritflow's SQL server is read-only: {word} is not allowed; its tables change only through the event stream"),
            ));
        }
    }
    Ok(())
}

fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message,
    )))
}

fn cancelled(timeout: Duration) -> PgWireError {
    user_error(
        "57014",
        format!(
            "query cancelled: it ran longer than sql.query_timeout ({} s)",
            timeout.as_secs_f64()
        ),
    )
}

/// Plans within the time limit and moves the execution (which happens as the rows are pulled)
/// to a thread of its own: a long query then neither holds the connection tasks of other
/// clients nor keeps its own limit from firing. Past the deadline the client gets an error and
/// the rows stop being pulled, which drops the execution at its next yield.
async fn limited(
    timeout: Duration,
    deadline: tokio::time::Instant,
    work: impl std::future::Future<Output = PgWireResult<Response>>,
) -> PgWireResult<Response> {
    let mut response = match tokio::time::timeout_at(deadline, work).await {
        Ok(result) => result?,
        Err(_) => return Err(cancelled(timeout)),
    };
    if let Response::Query(query) = &mut response {
        let rows = std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
        query.data_rows = Box::pin(apart(rows, deadline, timeout));
    }
    Ok(response)
}

type Rows = std::pin::Pin<Box<dyn futures::Stream<Item = PgWireResult<DataRow>> + Send>>;

fn apart(
    mut rows: Rows,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> impl futures::Stream<Item = PgWireResult<DataRow>> {
    use futures::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            loop {
                tokio::select! {
                    _ = tx.closed() => break,
                    next = rows.next() => match next {
                        Some(row) => if tx.send(row).await.is_err() { break },
                        None => break,
                    },
                }
            }
        });
    });
    futures::stream::unfold(Some(rx), move |rx| async move {
        let mut rx = rx?;
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(row)) => Some((row, Some(rx))),
            Ok(None) => None,
            Err(_) => Some((Err(cancelled(timeout)), None)),
        }
    })
}

struct Handlers {
    current: Current,
    timeout: Duration,
    password: Option<String>,
    user: String,
    connections: Arc<ConnectionManager>,
}

/// The query handlers of one connection: each query on the snapshot current when it comes.
struct Snapshots {
    current: Current,
    timeout: Duration,
}

impl Snapshots {
    fn session(&self) -> Arc<DfSessionService> {
        self.current.current()
    }
}

#[async_trait]
impl SimpleQueryHandler for Snapshots {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        read_only(query)?;
        let session = self.session();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let work = SimpleQueryHandler::do_query(&*session, client, query);
        let responses = match tokio::time::timeout_at(deadline, work).await {
            Ok(result) => result?,
            Err(_) => return Err(cancelled(self.timeout)),
        };
        let mut out = Vec::with_capacity(responses.len());
        for response in responses {
            out.push(limited(self.timeout, deadline, async { Ok(response) }).await?);
        }
        Ok(out)
    }
}

type DfStatement = <DfSessionService as ExtendedQueryHandler>::Statement;

#[async_trait]
impl ExtendedQueryHandler for Snapshots {
    type Statement = DfStatement;
    type QueryParser = <DfSessionService as ExtendedQueryHandler>::QueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.session().query_parser()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        read_only(&portal.statement.statement.0)?;
        let session = self.session();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let work = ExtendedQueryHandler::do_query(&*session, client, portal, max_rows);
        limited(self.timeout, deadline, work).await
    }
}

/// The configured user and its password, salted for SCRAM.
#[derive(Debug)]
struct Credentials {
    user: String,
    password: String,
}

const SALT: &[u8] = b"meritflow-scram-salt";

#[async_trait]
impl AuthSource for Credentials {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        if login.user() != Some(self.user.as_str()) {
            return Err(user_error(
                "28P01",
                format!(
                    "password authentication failed for user \"{}\"",
                    login.user().unwrap_or("")
                ),
            ));
        }
        let salted = gen_salted_password(&self.password, SALT, 4096);
        Ok(Password::new(Some(SALT.to_vec()), salted))
    }
}

/// No authentication (loopback without a configured password).
struct Trust {
    connections: Arc<ConnectionManager>,
}

impl NoopStartupHandler for Trust {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.connections))
    }
}

/// The startup handler of one connection.
enum Startup {
    Trust(Trust),
    Scram(SASLAuthStartupHandler<DefaultServerParameterProvider>),
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Trust(t) => t.on_startup(client, message).await,
            Startup::Scram(s) => s.on_startup(client, message).await,
        }
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::new(Snapshots {
            current: Arc::clone(&self.current),
            timeout: self.timeout,
        })
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::new(Snapshots {
            current: Arc::clone(&self.current),
            timeout: self.timeout,
        })
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::new(match &self.password {
            None => Startup::Trust(Trust {
                connections: Arc::clone(&self.connections),
            }),
            Some(password) => {
                let source = Arc::new(Credentials {
                    user: self.user.clone(),
                    password: password.clone(),
                });
                let mut scram = ScramAuth::new(source);
                scram.set_iterations(4096);
                Startup::Scram(
                    SASLAuthStartupHandler::new(
                        Arc::new(DefaultServerParameterProvider::default()),
                    )
                    .with_scram(scram)
                    .with_connection_manager(Arc::clone(&self.connections)),
                )
            }
        })
    }
}
