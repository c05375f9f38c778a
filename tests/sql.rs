//! The SQL server with real clients, against `meritflow demo` (embedded broker, no Kafka to
//! install): psql over the simple protocol (`\dt`, the README's query, `as_of()`), tokio-postgres
//! over the extended protocol with SCRAM-SHA-256 (a wrong password refused), DDL and DML refused,
//! and a runaway query cancelled by its time limit while another connection keeps being served.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::scratch;

/// `meritflow demo` with its SQL server on `port`, running until the returned child is killed.
struct Demo {
    child: Child,
    port: u16,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn demo(name: &str, port: u16, password: Option<&str>) -> Demo {
    let password = password
        .map(|p| format!("password = \"{p}\"\n"))
        .unwrap_or_default();
    demo_with(name, port, &password)
}

/// A demo whose `[sql]` section also has the `extra` lines.
fn demo_with(name: &str, port: u16, extra: &str) -> Demo {
    let config = scratch(&format!("{name}.toml"));
    std::fs::write(
        &config,
        format!("[sql]\nlisten = \"127.0.0.1:{port}\"\nquery_timeout = \"2s\"\n{extra}"),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_meritflow"))
        .args([
            "demo", "--hours", "48", "--speed", "600", "--for", "120s", "--config",
        ])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start meritflow demo");
    Demo { child, port }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A tokio-postgres client of the server on `port` (its connection driven in the background).
async fn connect(
    port: u16,
    password: Option<&str>,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let password = password
        .map(|p| format!(" password={p}"))
        .unwrap_or_default();
    let config = format!("host=127.0.0.1 port={port} user=meritflow{password} connect_timeout=5");
    let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

fn psql(port: u16, command: &str) -> std::process::Output {
    psql_with(port, command, "disable")
}

fn psql_with(port: u16, command: &str, sslmode: &str) -> std::process::Output {
    let ensured = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/psql-client"))
        .status()
        .expect("run deploy/psql-client");
    assert!(ensured.success(), "psql could not be installed");
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "meritflow",
            "-X",
            "-A",
            "-t",
            "-c",
            command,
        ])
        .env("PGCONNECT_TIMEOUT", "5")
        .env("PGSSLMODE", sslmode)
        .output()
        .expect("run psql")
}

/// Waits until `crynux_qos` has at least `rows` rows through psql.
fn wait_for_rows(port: u16, rows: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = psql(port, "SELECT count(*) FROM crynux_qos");
        let text = String::from_utf8_lossy(&out.stdout);
        if text.trim().parse::<usize>().is_ok_and(|n| n >= rows) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no rows over SQL: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn psql_reads_the_live_tables_and_lists_them() {
    let d = demo("sql-psql", 15_433 + (std::process::id() % 200) as u16, None);
    wait_for_rows(d.port, 5);
    let out = psql(d.port, "select * from crynux_qos order by qos desc limit 5");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim().lines().count(),
        5
    );
    let tables = psql(d.port, "\\dt");
    let listed = String::from_utf8_lossy(&tables.stdout);
    for table in [
        "crynux_qos",
        "triggers",
        "sla",
        "swap_balances",
        "gpu_latest",
        "ingest",
    ] {
        assert!(
            listed.contains(table),
            "\\dt lacks {table}: {listed}{}",
            String::from_utf8_lossy(&tables.stderr)
        );
    }
    let described = psql(d.port, "\\d crynux_qos");
    assert!(
        String::from_utf8_lossy(&described.stdout).contains("selection_prob"),
        "{described:?}"
    );
    let as_of = psql(d.port, "select as_of()");
    let text = String::from_utf8_lossy(&as_of.stdout);
    assert!(
        text.trim().starts_with("20"),
        "as_of(): {text}{}",
        String::from_utf8_lossy(&as_of.stderr)
    );
}

#[test]
fn clients_are_authenticated_read_only_and_limited() {
    let port = 15_733 + (std::process::id() % 200) as u16;
    let d = demo("sql-secure", port, Some("s3cret"));
    let runtime = runtime();
    runtime.block_on(async {
        // The server may still be starting.
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            match connect(port, Some("s3cret")).await {
                Ok(c) => match c.query_one("SELECT count(*) FROM crynux_qos", &[]).await {
                    Ok(row) if row.get::<_, i64>(0) > 0 => break c,
                    _ => {}
                },
                Err(_) => {}
            }
            assert!(Instant::now() < deadline, "no connection to the demo's SQL server");
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        let wrong = connect(port, Some("guess")).await;
        assert!(wrong.is_err(), "a wrong password is refused");

        // Extended protocol with a parameter.
        let rows = client
            .query("SELECT node, qos FROM crynux_qos WHERE qos >= $1 ORDER BY node", &[&0.0f64])
            .await
            .unwrap();
        assert!(!rows.is_empty());

        for statement in ["CREATE TABLE x (a INT)", "INSERT INTO crynux_qos (node) VALUES ('x')", "DROP TABLE crynux_qos"] {
            let err = client.simple_query(statement).await.unwrap_err();
            assert!(format!("{err:?}").contains("read-only"), "{statement}: {err:?}");
        }

        // A runaway query is cancelled by sql.query_timeout (2 s) while another client is served.
        let runaway = tokio::spawn({
            let slow = connect(port, Some("s3cret")).await.unwrap();
            async move {
                let started = Instant::now();
                let result = slow
                    .simple_query("SELECT sum(a.qos * b.qos * c.qos * d.qos * e.qos) FROM crynux_qos a, crynux_qos b, crynux_qos c, crynux_qos d, crynux_qos e")
                    .await;
                (result.map(|_| ()), started.elapsed())
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        client.query_one("SELECT as_of()", &[]).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1), "served while the runaway runs");
        let (result, took) = runaway.await.unwrap();
        let err = result.unwrap_err();
        assert!(format!("{err:?}").contains("query_timeout"), "{err:?}");
        assert!(took < Duration::from_secs(10), "cancelled near its limit, took {took:?}");
    });
    drop(d);
}

/// Grafana's `$__timeFilter(column)`, expanded as its PostgreSQL data source does (a wide range).
fn grafana_macros(sql: &str) -> String {
    let mut out = sql.to_owned();
    while let Some(start) = out.find("$__timeFilter(") {
        let end = start + out[start..].find(')').expect("closing parenthesis");
        let column = &out[start + "$__timeFilter(".len()..end];
        let expanded =
            format!("{column} BETWEEN '2000-01-01T00:00:00Z' AND '2100-01-01T00:00:00Z'");
        out.replace_range(start..=end, &expanded);
    }
    out
}

#[test]
fn every_grafana_panel_gets_rows_from_the_demo() {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/dashboards/meritflow.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let queries: Vec<(String, String)> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap().to_owned();
            p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |t| (title.clone(), grafana_macros(t["rawSql"].as_str().unwrap())))
        })
        .collect();
    assert!(queries.len() >= 4);
    let port = 16_033 + (std::process::id() % 200) as u16;
    let _demo = demo("sql-grafana", port, None);
    let runtime = runtime();
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(90);
        // Wait for at least two hourly history snapshots (about 6 s each at x600).
        let client = loop {
            if let Ok(client) = connect(port, None).await {
                if let Ok(row) = client
                    .query_one(
                        "SELECT count(DISTINCT snapshot_ts) FROM history.crynux_qos",
                        &[],
                    )
                    .await
                {
                    if row.get::<_, i64>(0) >= 2 {
                        break client;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no history over SQL");
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        for (title, sql) in queries {
            let messages = client
                .simple_query(&sql)
                .await
                .unwrap_or_else(|e| panic!("{title}: {e:?}\n{sql}"));
            let rows = messages
                .iter()
                .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
                .count();
            assert!(rows > 0, "{title}: no rows\n{sql}");
        }
    });
}

#[test]
fn tls_a_memory_limit_and_a_connection_limit() {
    let (cert, key) = (scratch("sql-cert.pem"), scratch("sql-key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = 16_333 + (std::process::id() % 200) as u16;
    let extra = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"\nmax_connections = 2\nquery_memory_mb = 1\n",
        cert.display(),
        key.display()
    );
    let d = demo_with("sql-tls", port, &extra);
    wait_for_rows(d.port, 1);
    let encrypted = psql_with(d.port, "SELECT count(*) FROM crynux_qos", "require");
    assert!(
        encrypted.status.success(),
        "a TLS connection: {}",
        String::from_utf8_lossy(&encrypted.stderr)
    );
    // A query needing more than query_memory_mb (1 MiB here) for its aggregation is refused.
    let big = psql(
        d.port,
        "SELECT count(*) FROM (SELECT a.node, b.node AS b, c.node AS c, count(*) FROM crynux_qos a, crynux_qos b, crynux_qos c GROUP BY 1, 2, 3) g",
    );
    let said = String::from_utf8_lossy(&big.stderr);
    assert!(
        !big.status.success() && said.contains("Failed to allocate"),
        "{said}"
    );
    // Two connections held open: a third is turned away.
    let runtime = runtime();
    runtime.block_on(async {
        let mut held = Vec::new();
        for _ in 0..2 {
            let client = connect(port, None).await.unwrap();
            client.simple_query("SELECT 1").await.unwrap();
            held.push(client);
        }
        let third = async { connect(port, None).await?.simple_query("SELECT 1").await };
        assert!(
            third.await.is_err(),
            "a third connection beyond max_connections = 2"
        );
        drop(held);
    });
}
