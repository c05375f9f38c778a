//! The reward queries of `queries/sql/`, each against its sample case, pinned by the golden
//! `.csv` beside it (compared with `../shared/tools/csvdiff`).

mod common;

use std::path::{Path, PathBuf};

use common::{csvdiff, meritflow, replay_csv, scratch, stdout};

fn sql_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/sql")
}

/// The sla bad-node fleet of 7 days (simulate --network sla), its daily statements stored.
fn sla_week(name: &str) -> (PathBuf, Vec<String>) {
    let events = scratch(&format!("{name}.jsonl"));
    let generated = meritflow(&[
        "simulate",
        "--network",
        "sla",
        "--scenario",
        "bad-node",
        "--nodes",
        "10",
        "--days",
        "7",
    ]);
    std::fs::write(&events, stdout(&generated)).unwrap();
    let config = scratch(&format!("{name}.toml"));
    std::fs::write(&config, "[statements]\nperiod = \"day\"\n").unwrap();
    let store = scratch(&format!("{name}-store"));
    let args = vec![
        "--config".to_owned(),
        config.display().to_string(),
        "--store".to_owned(),
        store.display().to_string(),
    ];
    (events, args)
}

fn check(query: &str, events: &Path, args: &[String]) {
    let file = sql_dir().join(format!("{query}.sql"));
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--query-file", file.to_str().unwrap()]);
    let got = stdout(&replay_csv(events, &[], &args));
    let got_path = scratch(&format!("{query}.csv"));
    std::fs::write(&got_path, &got).unwrap();
    if let Err(diff) = csvdiff(&sql_dir().join(format!("{query}.csv")), &got_path) {
        panic!("{query}: {diff}\ngot:\n{got}");
    }
}

#[test]
fn payout_and_top_movers_over_a_week_of_daily_statements() {
    let (events, args) = sla_week("queries-sla");
    check("payout", &events, &args);
    check("top_movers", &events, &args);
}

#[test]
fn nodes_near_a_penalty() {
    let (events, mut args) = sla_week("queries-near");
    args.extend(["--as-of".to_owned(), "2026-10-02T05:00:00Z".to_owned()]);
    check("near_penalty", &events, &args);
}

#[test]
fn providers_reward_loss_by_cause() {
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/icp-vectors.jsonl");
    let store = scratch("queries-icp-store");
    let args = vec![
        "--as-of".to_owned(),
        "2026-10-06T01:00:00Z".to_owned(),
        "--store".to_owned(),
        store.display().to_string(),
    ];
    check("reward_loss_by_cause", &events, &args);
}
