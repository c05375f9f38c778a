//! End-to-end tests of `meritflow replay` through the binary: the shared cases, rejects, bad
//! input mixed with good, determinism across worker counts, and config errors.

mod common;

use std::path::Path;

use common::{cases, csvdiff, meritflow, replay_csv, scratch, stdout};

/// Runs a shared case and compares with `shared/tools/csvdiff`.
fn check_case(events: &str, case: &str) {
    let dir = cases();
    let events = dir.join(format!("{events}.jsonl"));
    let query = dir.join(format!("{case}.sql"));
    let got = stdout(&replay_csv(
        &events,
        &[],
        &["--query-file", query.to_str().unwrap()],
    ));
    let got_path = scratch(&format!("{case}.csv"));
    std::fs::write(&got_path, &got).unwrap();
    if let Err(diff) = csvdiff(&dir.join(format!("{case}.csv")), &got_path) {
        panic!("{case}: {diff}\ngot:\n{got}");
    }
}

#[test]
fn crynux_basic_case() {
    check_case("crynux-basic", "crynux-basic");
}

#[test]
fn crynux_basic_pay_case() {
    check_case("crynux-basic", "crynux-basic-pay");
}

#[test]
fn relay_example_case() {
    check_case("relay-example", "relay-example");
}

#[test]
fn swap_example_case() {
    check_case("swap-example", "swap-example");
}

#[test]
fn the_four_malformed_lines_are_the_rejects() {
    let events = cases().join("crynux-basic.jsonl");
    let output = replay_csv(
        &events,
        &["SELECT line, kind, reason FROM rejects ORDER BY line"],
        &[],
    );
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[1].starts_with("42,task_round,field `order`"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("43,teleport,\"field `kind`: unknown kind `teleport`"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("44,gpu_sample,field `vram_total_bytes`: -5 is negative"),
        "{text}"
    );
    assert!(lines[4].starts_with("45,,not valid JSON"), "{text}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("4 of 45 lines rejected"), "{stderr}");
}

fn simulate(nodes: &str, hours: &str, seed: &str) -> String {
    stdout(&meritflow(&[
        "simulate", "--nodes", nodes, "--hours", hours, "--seed", seed,
    ]))
}

const ALL_TABLES: [&str; 5] = [
    "SELECT * FROM crynux_qos ORDER BY node",
    "SELECT * FROM nodes ORDER BY node",
    "SELECT * FROM crynux_task_pay ORDER BY task, node",
    "SELECT * FROM triggers ORDER BY id",
    "SELECT * FROM rejects ORDER BY line",
];

fn replay_all(events: &Path, extra: &[&str]) -> String {
    stdout(&replay_csv(events, &ALL_TABLES, extra))
}

/// 100 garbage and half-valid lines mixed into valid ones: every valid event counts (the tables
/// equal those of the clean file), every bad line is a reject whose reason names the field.
#[test]
fn garbage_mixed_with_valid_events() {
    let clean = simulate("12", "1", "3");
    let bad: Vec<String> = (0..100)
        .map(|i| match i % 10 {
            0 => "}{".to_string(),
            1 => format!("{{\"kind\":\"task_round\",\"ts\":{i},\"task\":\"X\"}}"),
            2 => "[1,2,3]".to_string(),
            3 => format!("{{\"kind\":\"gpu_sample\",\"ts\":\"yesterday\",\"node\":\"n{i}\",\"gpu\":\"g\",\"vram_total_bytes\":1}}"),
            4 => format!("{{\"kind\":\"node_registered\",\"ts\":{i},\"node\":\"\"}}"),
            5 => format!("{{\"kind\":\"gpu_sample\",\"ts\":{i},\"node\":\"n\",\"gpu\":\"g\",\"vram_total_bytes\":1,\"gpu_util_pct\":250}}"),
            6 => format!("{{\"kind\":\"task_fee\",\"ts\":{i},\"task\":\"T\",\"fee\":\"lots\"}}"),
            7 => format!("{{\"kind\":\"rating\",\"ts\":{i},\"node\":\"n\",\"user\":\"u\",\"stars\":9}}"),
            8 => format!("{{\"ts\":{i},\"node\":\"n\"}}"),
            _ => "\u{1}\u{2}binary\u{0}".to_string(),
        })
        .collect();
    let mut mixed = String::new();
    for (i, line) in clean.lines().enumerate() {
        mixed.push_str(line);
        mixed.push('\n');
        if i % 7 == 3 && i / 7 < bad.len() {
            mixed.push_str(&bad[i / 7]);
            mixed.push('\n');
        }
    }
    let placed = mixed.lines().count() - clean.lines().count();
    for line in &bad[placed..] {
        mixed.push_str(line);
        mixed.push('\n');
    }
    let clean_path = scratch("clean.jsonl");
    let mixed_path = scratch("mixed.jsonl");
    std::fs::write(&clean_path, &clean).unwrap();
    std::fs::write(&mixed_path, &mixed).unwrap();

    let q = |path: &Path, sql: &str| stdout(&replay_csv(path, &[sql], &[]));
    for sql in &ALL_TABLES[..4] {
        assert_eq!(q(&clean_path, sql), q(&mixed_path, sql), "{sql}");
    }
    let rejects = q(&mixed_path, "SELECT reason FROM rejects");
    let reasons: Vec<&str> = rejects.lines().skip(1).collect();
    assert_eq!(reasons.len(), 100);
    for reason in reasons {
        let whole_input = reason.contains("not valid JSON") || reason.contains("not a JSON object");
        assert!(
            whole_input || reason.contains("field `"),
            "reason names no field: {reason}"
        );
    }
}

#[test]
fn one_and_two_workers_print_the_same_bytes() {
    let events = scratch("workers.jsonl");
    std::fs::write(&events, simulate("30", "3", "11")).unwrap();
    let one = replay_all(&events, &["--workers", "1"]);
    let two = replay_all(&events, &["--workers", "2"]);
    assert!(one.lines().count() > 100, "{one}");
    assert_eq!(one, two);
}

/// Replay reads its file as a stream and puts events in time order within
/// `engine.replay_reorder` of each other: a file shuffled within that many lines gives the
/// tables of the ordered file. With a smaller buffer it says so and replays again with the
/// whole input sorted: the same tables.
#[test]
fn a_file_out_of_order_replays_as_sorted() {
    let clean = simulate("12", "2", "5");
    let lines: Vec<&str> = clean.lines().collect();
    let mut shuffled = String::new();
    for block in lines.chunks(50) {
        for line in block.iter().rev() {
            shuffled.push_str(line);
            shuffled.push('\n');
        }
    }
    let clean_path = scratch("ordered.jsonl");
    let shuffled_path = scratch("shuffled.jsonl");
    std::fs::write(&clean_path, &clean).unwrap();
    std::fs::write(&shuffled_path, &shuffled).unwrap();
    let config = |name: &str, capacity: usize| {
        let path = scratch(name);
        std::fs::write(&path, format!("[engine]\nreplay_reorder = {capacity}\n")).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let ordered = stdout(&replay_csv(&clean_path, &ALL_TABLES[..4], &[]));
    assert!(ordered.lines().count() > 100, "{ordered}");
    for (capacity, workers) in [(64, "1"), (64, "2"), (8, "1"), (8, "2")] {
        let toml = config(&format!("reorder-{capacity}.toml"), capacity);
        let output = replay_csv(
            &shuffled_path,
            &ALL_TABLES[..4],
            &["--config", &toml, "--workers", workers],
        );
        assert_eq!(
            ordered,
            stdout(&output),
            "{capacity} held, {workers} workers"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.contains("out of time order by more than engine.replay_reorder (8)"),
            capacity == 8,
            "{stderr}"
        );
    }
}

#[test]
fn queries_run_in_the_order_given() {
    let events = cases().join("crynux-basic.jsonl");
    let sql = scratch("count.sql");
    std::fs::write(&sql, "SELECT count(*) AS n FROM nodes").unwrap();
    let out = stdout(&meritflow(&[
        "replay",
        "--events",
        events.to_str().unwrap(),
        "--query",
        "SELECT 'first' AS q",
        "--query-file",
        sql.to_str().unwrap(),
        "--query",
        "SELECT 'third' AS q",
        "--format",
        "csv",
    ]));
    assert_eq!(out, "q\nfirst\n\nn\n5\n\nq\nthird\n");
}

#[test]
fn invalid_config_is_one_clear_error_with_exit_code_2() {
    let events = cases().join("crynux-basic.jsonl");
    let config = scratch("bad.toml");
    std::fs::write(&config, "[policy.crynux]\nalpha = 0.9\nwindow = \"30d\"\n").unwrap();
    let output = meritflow(&[
        "replay",
        "--events",
        events.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--query",
        "SELECT 1",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("must sum to 1") && stderr.contains("bad.toml"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    std::fs::write(&config, "[policy.crynux]\nwindow = \"-30d\"\n").unwrap();
    let output = meritflow(&["config", "--check", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a duration"));
}

#[test]
fn the_sql_password_may_come_from_the_environment() {
    let path = scratch("sql-off-loopback.toml");
    std::fs::write(&path, "[sql]\nlisten = \"0.0.0.0:5433\"\n").unwrap();
    let check = |password: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_meritflow"));
        command.args(["config", "--check", path.to_str().unwrap()]);
        command.env_remove("MERITFLOW_SQL_PASSWORD");
        if let Some(p) = password {
            command.env("MERITFLOW_SQL_PASSWORD", p);
        }
        command.output().expect("run meritflow")
    };
    let refused = check(None);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("set sql.password"));
    let accepted = check(Some("s3cret"));
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
}

#[test]
fn printed_defaults_are_a_valid_config() {
    let defaults = stdout(&meritflow(&["config", "--print-defaults"]));
    assert!(defaults.contains("[policy.crynux]") && defaults.contains("round_scores = [10, 5, 2]"));
    let path = scratch("defaults.toml");
    std::fs::write(&path, defaults).unwrap();
    let output = meritflow(&["config", "--check", path.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_demo_runs_through_the_embedded_broker_to_its_end() {
    // An hour of a 20-node fleet at x1800 through the embedded broker: done in seconds.
    // Its SQL server off: other tests may run a demo at the same time (tests/sql.rs covers it).
    let config = scratch("demo-no-sql.toml");
    std::fs::write(&config, "[sql]\nlisten = \"\"\n").unwrap();
    let out = stdout(&meritflow(&[
        "demo",
        "--nodes",
        "20",
        "--hours",
        "1",
        "--speed",
        "1800",
        "--for",
        "90s",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert!(
        out.contains("crynux_qos") && out.contains("Where next"),
        "{out}"
    );
    assert!(
        out.matches("results complete through").count() >= 2,
        "{out}"
    );
    assert!(
        out.contains("results complete through 2026-10-01T01:00:00.000Z"),
        "the demo ends once the whole simulated hour is in: {out}"
    );
    assert!(out.contains("latest reject: field `ts`: missing"), "{out}");
}

/// A fee two days after its task started no longer changes the task: it is listed, not lost.
#[test]
fn task_events_past_their_grace_are_listed_not_lost() {
    let events = scratch("late.jsonl");
    std::fs::write(
        &events,
        concat!(
            r#"{"kind":"node_registered","ts":"2026-10-01T00:00:00Z","node":"a","timeout_s":60}"#, "\n",
            r#"{"kind":"task_round","ts":"2026-10-01T00:10:00Z","task":"T1","round":"commitment","node":"a","status":"submitted","order":1}"#, "\n",
            r#"{"kind":"task_round","ts":"2026-10-01T00:20:00Z","task":"T1","round":"disclosure","node":"a","status":"submitted","order":1}"#, "\n",
            r#"{"kind":"task_fee","ts":"2026-10-02T12:00:00Z","task":"T1","fee":"10"}"#, "\n",
        ),
    )
    .unwrap();
    let output = replay_csv(
        &events,
        &[
            "SELECT count(*) AS paid FROM crynux_task_pay",
            "SELECT seq, kind, task FROM late_events",
        ],
        &[],
    );
    assert_eq!(stdout(&output), "paid\n0\n\nseq,kind,task\n3,task_fee,T1\n");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("1 task events came more than task_grace")
    );
}

/// `explain` goes through the policy interface: a policy without an explanation, or a name no
/// policy has, is one clear error naming what there is.
#[test]
fn explain_names_the_policies_it_can_explain() {
    let events = cases().join("swap-example.jsonl");
    let store = scratch("explain-policies-store");
    let run = |policy: &str| {
        let out = meritflow(&[
            "explain",
            "--policy",
            policy,
            "--node",
            "a",
            "--events",
            events.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "{policy}: explain should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let unsupported = run("relay");
    assert!(
        unsupported.contains("the relay policy has no explain yet (these do: icp, sla)"),
        "{unsupported}"
    );
    let unknown = run("nope");
    assert!(
        unknown.contains("no policy is named `nope`") && unknown.contains("crynux, icp, sla"),
        "{unknown}"
    );
}

/// `[engine] policies` runs only the policies named: the others write no table, trigger or
/// statement, and what the named ones show is unchanged.
#[test]
fn only_the_configured_policies_run() {
    let events = cases().join("crynux-basic.jsonl");
    let query = cases().join("crynux-basic.sql");
    let config = scratch("crynux-only.toml");
    std::fs::write(&config, "[engine]\npolicies = [\"crynux\"]\n").unwrap();
    let with = |extra: &[&str]| {
        let mut args = vec!["--query-file", query.to_str().unwrap()];
        args.extend_from_slice(extra);
        stdout(&replay_csv(&events, &[], &args))
    };
    assert_eq!(with(&["--config", config.to_str().unwrap()]), with(&[]));
    let tables = stdout(&replay_csv(
        &events,
        &["SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"],
        &["--config", config.to_str().unwrap()],
    ));
    for absent in [
        "sla",
        "icp_node_daily",
        "swap_balances",
        "relay",
        "gpu_latest",
    ] {
        assert!(
            !tables.lines().any(|l| l == absent),
            "{absent} is there:\n{tables}"
        );
    }
    for present in ["crynux_qos", "triggers", "statements", "rejects"] {
        assert!(
            tables.lines().any(|l| l == present),
            "{present} missing:\n{tables}"
        );
    }
    let others = stdout(&replay_csv(
        &events,
        &["SELECT count(*) AS n FROM statements WHERE policy <> 'crynux'"],
        &["--config", config.to_str().unwrap()],
    ));
    assert_eq!(others.trim(), "n\n0");
}
