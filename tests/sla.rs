//! Policy sla end to end through the binary, on generated fleets (`simulate --network sla`):
//! a network-wide outage penalises nobody; one bad node walks warning → penalty → severe and
//! recovers step by step once fixed, with GPU faults raised and cleared on the way (the exact
//! trigger sequence); its period statements; `explain` telling every figure of the row.

mod common;

use std::path::PathBuf;

use common::{meritflow, replay_csv, scratch, stdout};

fn fleet(scenario: &str, days: &str, name: &str) -> PathBuf {
    let events = scratch(name);
    let generated = meritflow(&[
        "simulate",
        "--network",
        "sla",
        "--scenario",
        scenario,
        "--nodes",
        "10",
        "--days",
        days,
    ]);
    std::fs::write(&events, stdout(&generated)).unwrap();
    events
}

fn store(name: &str) -> String {
    scratch(name).to_str().unwrap().to_owned()
}

const TRIGGERS: &str =
    "SELECT ts, node, rule, level, state FROM triggers ORDER BY ts, node, rule, state";

#[test]
fn a_network_wide_outage_penalises_nobody() {
    let events = fleet("outage", "4", "outage.jsonl");
    let s = store("outage-store");
    // During the outage the bar is lowered for everyone: the median uptime of the last hour is 0.
    let during = stdout(&replay_csv(
        &events,
        &["SELECT count(*) AS down FROM sla WHERE uptime < 1"],
        &["--as-of", "2026-10-02T11:00:00Z", "--store", &s],
    ));
    assert_eq!(during, "down\n10\n", "every node's window shows the outage");
    let after = stdout(&replay_csv(
        &events,
        &[
            TRIGGERS,
            "SELECT level, count(*) AS nodes, sum(consecutive_clean) AS clean FROM sla_levels GROUP BY level",
        ],
        &["--store", &s],
    ));
    // 4 days of hourly checks for 10 nodes, all clean.
    assert_eq!(
        after,
        "ts,node,rule,level,state\n\nlevel,nodes,clean\nnone,10,960\n"
    );
}

#[test]
fn a_bad_node_walks_up_the_levels_and_recovers_step_by_step() {
    let events = fleet("bad-node", "24", "bad-node.jsonl");
    let out = stdout(&replay_csv(
        &events,
        &[TRIGGERS],
        &["--store", &store("bad-store")],
    ));
    let up = [
        ("2026-10-02T01:00:00Z", None, "warning"),
        ("2026-10-02T03:00:00Z", Some("warning"), "penalty_1"),
        ("2026-10-02T06:00:00Z", Some("penalty_1"), "penalty_2"),
        ("2026-10-02T09:00:00Z", Some("penalty_2"), "penalty_3"),
        ("2026-10-02T12:00:00Z", Some("penalty_3"), "penalty_4"),
        ("2026-10-02T15:00:00Z", Some("penalty_4"), "penalty_5"),
        ("2026-10-03T00:00:00Z", Some("penalty_5"), "severe"),
    ];
    // Fixed from 2026-10-03T00:00: every 72nd clean hourly check is one step down.
    let down = [
        ("2026-10-06T00:00:00Z", Some("severe"), "penalty_5"),
        ("2026-10-09T00:00:00Z", Some("penalty_5"), "penalty_4"),
        ("2026-10-12T00:00:00Z", Some("penalty_4"), "penalty_3"),
        ("2026-10-15T00:00:00Z", Some("penalty_3"), "penalty_2"),
        ("2026-10-18T00:00:00Z", Some("penalty_2"), "penalty_1"),
        ("2026-10-21T00:00:00Z", Some("penalty_1"), "warning"),
    ];
    let mut want = vec!["ts,node,rule,level,state".to_owned()];
    let mut breach = |ts: &str, old: Option<&str>, new: &str| {
        if let Some(old) = old {
            want.push(format!("{ts},node-000,breach,{old},cleared"));
        }
        want.push(format!("{ts},node-000,breach,{new},raised"));
    };
    for (ts, old, new) in up {
        breach(ts, old, new);
    }
    let gpu = |ts: &str, node: &str, state: &str| format!("{ts},{node},gpu_fault,warning,{state}");
    want.insert(1, gpu("2026-10-01T10:05:00Z", "node-001", "raised"));
    want.insert(2, gpu("2026-10-01T12:05:00Z", "node-001", "cleared"));
    want.push(gpu("2026-10-03T12:05:00Z", "node-002", "raised"));
    want.push(gpu("2026-10-03T18:05:00Z", "node-002", "cleared"));
    for (ts, old, new) in down {
        want.push(format!("{ts},node-000,breach,{},cleared", old.unwrap()));
        want.push(format!("{ts},node-000,breach,{new},raised"));
    }
    want.push("2026-10-24T00:00:00Z,node-000,breach,warning,cleared".to_owned());
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got, want);

    // Each raised/cleared pair shares one id; ids are unique per (id, state).
    let ids = stdout(&replay_csv(
        &events,
        &["SELECT count(DISTINCT id) AS ids, count(*) AS rows, count(DISTINCT id || state) AS edges FROM triggers"],
        &["--store", &store("bad-store-ids")],
    ));
    assert_eq!(ids, "ids,rows,edges\n15,30,30\n");
}

#[test]
fn statements_pay_the_performance_times_the_level() {
    let events = fleet("bad-node", "7", "bad-node-7.jsonl");
    let config = scratch("sla-day.toml");
    std::fs::write(&config, "[statements]\nperiod = \"day\"\n").unwrap();
    let s = store("sla-statements");
    let config = config.to_str().unwrap();
    stdout(&replay_csv(
        &events,
        &["SELECT 1"],
        &["--config", config, "--store", &s],
    ));
    let day = |period: &str| {
        stdout(&meritflow(&[
            "statement",
            "--policy",
            "sla",
            "--period",
            period,
            "--store",
            &s,
            "--format",
            "csv",
        ]))
    };
    // node-000's row of a day: (amount, detail).
    let node0 = |period: &str| {
        let text = day(period);
        assert_eq!(text.lines().count(), 11, "a header and one row per node");
        let line = text
            .lines()
            .find(|l| l.contains(",node-000,"))
            .unwrap()
            .to_owned();
        let (head, detail) = line.split_once(",\"").unwrap();
        let amount: f64 = head.rsplit(',').next().unwrap().parse().unwrap();
        (amount, detail.replace("\"\"", "\""))
    };
    let performance = |detail: &str| -> f64 {
        let at = detail.find("\"performance\":").unwrap() + 14;
        detail[at..]
            .split([',', '}'])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    // 10-01 closes at 10-02 00:00, before the first breach: the performance itself.
    let (amount, detail) = node0("2026-10-01");
    assert!(detail.contains("\"level\":\"none\""), "{detail}");
    assert!(
        (amount - performance(&detail)).abs() < 1e-11,
        "{amount} {detail}"
    );
    // 10-02 closes with the 24th consecutive breach at 10-03 00:00: severe, factor 0.
    let (amount, detail) = node0("2026-10-02");
    assert!(
        amount == 0.0 && detail.contains("\"level\":\"severe\""),
        "{detail}"
    );
    // 10-05 closes with the 72nd clean check: penalty_5, performance x 0.5.
    let (amount, detail) = node0("2026-10-05");
    assert!(
        detail.contains("\"level\":\"penalty_5\",\"multiplier\":0.5"),
        "{detail}"
    );
    assert!(
        (amount - 0.5 * performance(&detail)).abs() < 1e-11,
        "{amount} {detail}"
    );
}

#[test]
fn explain_shows_every_figure_of_the_row() {
    let events = fleet("bad-node", "3", "bad-node-3.jsonl");
    let s = store("sla-explain");
    let row = stdout(&replay_csv(
        &events,
        &["SELECT uptime, latency_p95_ms, rating, rating_rank, uptime_score, performance FROM sla WHERE node = 'node-000'"],
        &["--store", &s],
    ));
    let values: Vec<&str> = row.lines().nth(1).unwrap().split(',').collect();
    let text = stdout(&meritflow(&[
        "explain",
        "--policy",
        "sla",
        "--node",
        "node-000",
        "--events",
        events.to_str().unwrap(),
        "--store",
        &s,
    ]));
    for v in values {
        assert!(text.contains(v), "explain lacks {v}:\n{text}");
    }
    for part in [
        "uptime target",
        "latency high",
        "error normal",
        "performance =",
        "level severe",
        "breach severe raised",
    ] {
        assert!(text.contains(part), "explain lacks {part}:\n{text}");
    }
}
