//! `[sql]`: the PostgreSQL wire protocol server of `meritflow run` and `meritflow demo`.

use serde::{Deserialize, Serialize};

use crate::time::Span;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqlConfig {
    /// Where the server listens ("" turns it off). Off loopback a password is required.
    pub listen: String,
    /// The user clients log in as.
    pub user: String,
    /// The password (SCRAM-SHA-256). Unset: no authentication, loopback only.
    pub password: Option<String>,
    /// TLS certificate and PKCS#8 key (PEM files): clients may then use TLS.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// Connections beyond this are refused.
    pub max_connections: usize,
    /// A query running longer is cancelled (others keep being served).
    pub query_timeout: Span,
    /// Memory a query's sorts, joins and aggregations may use, in MiB.
    pub query_memory_mb: u64,
    /// Every this much event time the live tables are kept as `history.<table>` snapshots...
    pub snapshot_every: Span,
    /// ...the newest this many of them (in memory).
    pub history_keep: usize,
}

impl Default for SqlConfig {
    fn default() -> Self {
        SqlConfig {
            listen: "127.0.0.1:5433".into(),
            user: "meritflow".into(),
            password: None,
            tls_cert: None,
            tls_key: None,
            max_connections: 32,
            query_timeout: Span(30_000),
            query_memory_mb: 512,
            snapshot_every: Span(3_600_000),
            history_keep: 720,
        }
    }
}

impl SqlConfig {
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty()
    }

    /// The listen address as (host, port).
    pub fn host_port(&self) -> Result<(String, u16), String> {
        let addr: std::net::SocketAddr = self.listen.parse().map_err(|_| {
            format!(
                "sql.listen = \"{}\" is not host:port, e.g. 127.0.0.1:5433",
                self.listen
            )
        })?;
        Ok((addr.ip().to_string(), addr.port()))
    }

    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.enabled() {
            return out;
        }
        match self.listen.parse::<std::net::SocketAddr>() {
            Err(_) => out.push(format!(
                "sql.listen = \"{}\" is not host:port, e.g. 127.0.0.1:5433",
                self.listen
            )),
            Ok(addr) if !addr.ip().is_loopback() && self.password.is_none() => out.push(format!(
                "sql.listen = \"{}\" is reachable from other machines: set sql.password (SCRAM-SHA-256), or listen on 127.0.0.1",
                self.listen
            )),
            Ok(_) => {}
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            out.push("sql.tls_cert and sql.tls_key go together: set both or neither".into());
        }
        if self.query_timeout.millis() == 0 {
            out.push("sql.query_timeout must be positive".into());
        }
        if self.max_connections == 0 {
            out.push("sql.max_connections must be at least 1".into());
        }
        out
    }
}
