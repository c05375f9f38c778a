//! The same generated month replayed on 1 worker, 2 workers, and a timely cluster of 2 processes
//! × 1 worker (on loopback): identical tables and identical statement hashes.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{icp_month, meritflow, scratch, stdout};

const QUERIES: [&str; 5] = [
    "SELECT * FROM icp_node_daily ORDER BY day, node",
    "SELECT * FROM icp_provider_daily ORDER BY day, provider",
    "SELECT * FROM sla ORDER BY node",
    "SELECT * FROM nodes ORDER BY node",
    "SELECT * FROM triggers ORDER BY ts, node, rule, state",
];

fn args<'a>(events: &'a Path, store: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "replay",
        "--events",
        events.to_str().unwrap(),
        "--store",
        store,
        "--format",
        "csv",
    ];
    for q in QUERIES {
        args.extend(["--query", q]);
    }
    args.extend(extra);
    args
}

/// The sha256 of the month's icp statement in `store`, as `meritflow statement` prints it.
fn statement_sha(store: &str) -> String {
    let output = meritflow(&[
        "statement",
        "--policy",
        "icp",
        "--period",
        "2026-10",
        "--store",
        store,
    ]);
    stdout(&output);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    stderr
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("{stderr}"))
        .to_owned()
}

#[test]
fn one_worker_two_workers_and_two_processes_agree() {
    let events = icp_month("cluster-month.jsonl");
    let store = |name: &str| scratch(name).display().to_string();
    let (s1, s2, s3) = (
        store("cluster-w1"),
        store("cluster-w2"),
        store("cluster-p2"),
    );
    let one = stdout(&meritflow(&args(&events, &s1, &[])));
    let two = stdout(&meritflow(&args(&events, &s2, &["--workers", "2"])));
    assert_eq!(one, two, "1 and 2 workers");

    let base = 20_000 + (std::process::id() % 1000) as u16 * 2;
    let hostfile = scratch("cluster-hosts");
    std::fs::write(
        &hostfile,
        format!("127.0.0.1:{base}\n127.0.0.1:{}\n", base + 1),
    )
    .unwrap();
    let hosts = hostfile.to_str().unwrap();
    let other_store = store("cluster-p2-process1");
    let process1 = Command::new(env!("CARGO_BIN_EXE_meritflow"))
        .args(args(
            &events,
            &other_store,
            &["--processes", "2", "--process", "1", "--hostfile", hosts],
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let process0 = meritflow(&args(
        &events,
        &s3,
        &["--processes", "2", "--process", "0", "--hostfile", hosts],
    ));
    let rest = process1.wait_with_output().unwrap();
    assert!(
        rest.status.success(),
        "process 1: {}",
        String::from_utf8_lossy(&rest.stderr)
    );
    assert!(
        rest.stdout.is_empty(),
        "process 1 prints nothing: process 0 has the results"
    );
    assert_eq!(stdout(&process0), one, "2 processes x 1 worker");

    let sha = statement_sha(&s1);
    assert_eq!(statement_sha(&s2), sha);
    assert_eq!(statement_sha(&s3), sha);
}
