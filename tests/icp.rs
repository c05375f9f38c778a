//! Policy icp end to end through the binary: the reference page's vectors through replay and
//! SQL, v2 through a config, a generated month's statement identical on one and two workers,
//! written once, exported by `statement`, and `explain` telling the same figures as the row.

mod common;

use std::path::{Path, PathBuf};

use common::{csvdiff, icp_month, meritflow, replay_csv, scratch, stdout};

fn own_case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(name)
}

const CLOSED: &str = "2026-10-06T01:00:00Z";

#[test]
fn reference_vectors_through_replay_and_sql() {
    let sql = std::fs::read_to_string(own_case("icp-vectors.sql")).unwrap();
    let store = scratch("vectors-store");
    let out = stdout(&replay_csv(
        &own_case("icp-vectors.jsonl"),
        &[sql.trim()],
        &["--as-of", CLOSED, "--store", store.to_str().unwrap()],
    ));
    let actual = scratch("icp-vectors.csv");
    std::fs::write(&actual, out).unwrap();
    csvdiff(&own_case("icp-vectors.csv"), &actual).unwrap();
}

#[test]
fn the_day_is_not_closed_before_its_grace() {
    let store = scratch("open-store");
    let out = stdout(&replay_csv(
        &own_case("icp-vectors.jsonl"),
        &[
            "SELECT count(*) AS closed FROM icp_node_daily",
            "SELECT count(*) AS live FROM icp_node_daily_live",
        ],
        &[
            "--as-of",
            "2026-10-06T00:59:00Z",
            "--store",
            store.to_str().unwrap(),
        ],
    ));
    assert_eq!(out, "closed\n0\n\nlive\n26\n");
}

#[test]
fn type3_v2_through_the_config() {
    let config = scratch("v2.toml");
    std::fs::write(&config, "[policy.icp]\ntype3_algorithm = \"v2\"\n").unwrap();
    let store = scratch("v2-store");
    let out = stdout(&replay_csv(
        &own_case("icp-vectors.jsonl"),
        &["SELECT DISTINCT CAST(base_xdr_permyriad AS VARCHAR) AS base FROM icp_node_daily WHERE provider = 'pJ'"],
        &[
            "--as-of",
            CLOSED,
            "--config",
            config.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ],
    ));
    let base: rust_decimal::Decimal = out.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(base.normalize().to_string(), "8936.25");
}

/// `meritflow statement` for October from `store`: (stdout, the sha256 it prints).
fn statement(store: &Path, format: &str) -> (String, String) {
    let output = meritflow(&[
        "statement",
        "--period",
        "2026-10",
        "--policy",
        "icp",
        "--format",
        format,
        "--store",
        store.to_str().unwrap(),
    ]);
    let text = stdout(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let sha = stderr
        .split_whitespace()
        .skip_while(|w| *w != "sha256")
        .nth(1)
        .unwrap_or_else(|| panic!("no sha256 in: {stderr}"))
        .to_owned();
    (text, sha)
}

#[test]
fn a_generated_month_gives_one_statement_on_any_worker_count() {
    let events = icp_month("icp-month.jsonl");
    let mut shas = Vec::new();
    for workers in ["1", "2"] {
        let store = scratch(&format!("month-store-{workers}"));
        let _ = std::fs::remove_dir_all(&store);
        let out = stdout(&replay_csv(
            &events,
            &["SELECT count(*) AS providers FROM statements WHERE period = '2026-10' AND node IS NULL"],
            &["--workers", workers, "--store", store.to_str().unwrap()],
        ));
        assert_eq!(out, "providers\n100\n", "one row per provider");
        let (csv, sha) = statement(&store, "csv");
        assert!(
            csv.starts_with("period,policy,provider,node,amount,detail\n"),
            "{csv}"
        );
        assert_eq!(
            csv.lines().count(),
            1 + 1081,
            "providers and rewardable nodes"
        );
        shas.push(sha);

        // A closed statement is final: a replay of other events leaves it as it is, and says so.
        let changed = scratch(&format!("icp-month-changed-{workers}.jsonl"));
        let text = std::fs::read_to_string(&events).unwrap();
        std::fs::write(
            &changed,
            text.replacen("\"failed_total\":0", "\"failed_total\":1", 50),
        )
        .unwrap();
        let again = replay_csv(
            &changed,
            &["SELECT count(*) FROM statements"],
            &["--workers", workers, "--store", store.to_str().unwrap()],
        );
        let stderr = String::from_utf8_lossy(&again.stderr);
        assert!(
            stderr.contains("is final") && stderr.contains("stands"),
            "{stderr}"
        );
        assert_eq!(
            statement(&store, "csv").1,
            shas[shas.len() - 1],
            "unchanged"
        );
    }
    assert_eq!(
        shas[0], shas[1],
        "--workers 1 and 2 give the same statement"
    );
}

#[test]
fn explain_tells_the_rows_figures() {
    let store = scratch("explain-store");
    let row = stdout(&replay_csv(
        &own_case("icp-vectors.jsonl"),
        &["SELECT proposed, failed, failure_rate, subnet_failure_rate, relative_failure_rate, reduction, multiplier, base_xdr_permyriad, adjusted_xdr_permyriad FROM icp_node_daily WHERE node = 'd3'"],
        &["--as-of", CLOSED, "--store", store.to_str().unwrap()],
    ));
    let values: Vec<rust_decimal::Decimal> = row
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse::<rust_decimal::Decimal>().unwrap().normalize())
        .collect();
    let text = stdout(&meritflow(&[
        "explain",
        "--node",
        "d3",
        "--day",
        "2026-10-05",
        "--events",
        own_case("icp-vectors.jsonl").to_str().unwrap(),
        "--as-of",
        CLOSED,
        "--store",
        store.to_str().unwrap(),
    ]));
    assert!(text.contains("closed: final"), "{text}");
    for value in values {
        assert!(
            text.contains(&value.to_string()),
            "{value} missing from:\n{text}"
        );
    }
    let missing = meritflow(&[
        "explain",
        "--node",
        "nobody",
        "--day",
        "2026-10-05",
        "--events",
        own_case("icp-vectors.jsonl").to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no icp row"));
}
