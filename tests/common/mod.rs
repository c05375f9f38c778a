//! Helpers shared by the end-to-end tests: the binary, the shared cases, scratch files.
#![allow(dead_code)] // each test file uses its own share

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn meritflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meritflow"))
        .args(args)
        .output()
        .expect("run meritflow")
}

pub fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cases")
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meritflow-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

pub fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "meritflow failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A generated ICP-style October 2026 (1,000 nodes, 30 subnets, the first hours of November so
/// the month closes), written to the scratch file `name`.
pub fn icp_month(name: &str) -> PathBuf {
    let events = scratch(name);
    let generated = meritflow(&[
        "simulate",
        "--network",
        "icp",
        "--nodes",
        "1000",
        "--subnets",
        "30",
        "--month",
        "2026-10",
    ]);
    std::fs::write(&events, stdout(&generated)).unwrap();
    events
}

/// `meritflow replay --events EVENTS --format csv`, each query as `--query`, then `extra`.
pub fn replay_csv(events: &Path, queries: &[&str], extra: &[&str]) -> Output {
    let mut args = vec![
        "replay",
        "--events",
        events.to_str().unwrap(),
        "--format",
        "csv",
    ];
    for query in queries {
        args.extend(["--query", query]);
    }
    args.extend(extra);
    meritflow(&args)
}

pub mod kafka;

/// `shared/tools/csvdiff EXPECTED ACTUAL`: Ok, or its report of the first differences.
pub fn csvdiff(expected: &Path, actual: &Path) -> Result<(), String> {
    let diff = Command::new("python3")
        .arg(cases().join("../tools/csvdiff"))
        .arg(expected)
        .arg(actual)
        .output()
        .expect("python3 runs shared/tools/csvdiff");
    if diff.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&diff.stdout).into_owned())
    }
}
