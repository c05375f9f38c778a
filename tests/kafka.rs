//! End-to-end tests of `meritflow run` against a real Kafka-protocol broker (tansu, started by
//! `deploy/kafka-dev`): the sample case, a 100k-event stream compared with `replay`, a broker
//! frozen for 30 s mid-stream, a flooding node capped as in replay, the GPU exporter feeding a
//! running pipeline, and the exporter's spool through a frozen broker. Each test has its own
//! topics and group; the outage tests have brokers of their own, so freezing them disturbs
//! nobody else.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::kafka::*;
use common::{cases, csvdiff, icp_month, replay_csv, scratch, stdout};
use serde_json::Value;

#[test]
fn the_sample_case_through_kafka_gives_the_expected_scores() {
    broker(9092);
    let setup = setup("sample", 9092);
    setup.produce(&cases().join("crynux-basic.jsonl"));
    let mut run = setup.run();
    run.wait_through("2026-10-01T00:52:00.000Z", Duration::from_secs(120));
    let stderr = run.stop();
    assert!(
        stderr.contains("41 events counted, 4 rejected, 0 late"),
        "{stderr}"
    );

    let scores = qos_from_scores(&setup);
    let header = std::fs::read_to_string(cases().join("crynux-basic.csv")).unwrap();
    let columns: Vec<&str> = header.lines().next().unwrap().split(',').collect();
    let mut csv = columns.join(",") + "\n";
    for row in scores.values() {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match &row[*c] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                v => v.to_string(),
            })
            .collect();
        csv += &(cells.join(",") + "\n");
    }
    let got = scratch("sample-stream.csv");
    std::fs::write(&got, &csv).unwrap();
    if let Err(diff) = csvdiff(&cases().join("crynux-basic.csv"), &got) {
        panic!("{diff}\ngot:\n{csv}");
    }
    let rejects = setup.read("rejects");
    assert_eq!(rejects.len(), 4, "{rejects:?}");
    assert!(rejects
        .values()
        .any(|r| r["reason"].as_str().unwrap().starts_with("field `order`")));
}

/// One node floods probes past `[limits] events_per_sender_per_slot`: the run rejects the same
/// events that replay rejects, each with its reason in the rejects topic.
#[test]
fn a_flooding_node_is_capped_as_in_replay() {
    broker(9092);
    let cap = 40;
    let setup = setup_with(
        "flood",
        9092,
        "",
        &format!("[limits]\nevents_per_sender_per_slot = {cap}\n"),
    );
    let start: u64 = 1_790_812_800_000;
    let mut lines = Vec::new();
    for minute in 0..4u64 {
        for i in 0..3 * cap {
            let ts = start + minute * 60_000 + 1 + i * 100;
            lines.push(format!(
                r#"{{"kind":"probe","ts":{ts},"node":"n1","ok":true,"latency_ms":{i}}}"#
            ));
            if i % 10 == 0 {
                lines.push(format!(
                    r#"{{"kind":"probe","ts":{ts},"node":"n2","ok":true}}"#
                ));
            }
        }
    }
    let events = scratch(&format!("{}.jsonl", setup.name));
    std::fs::write(&events, lines.join("\n") + "\n").unwrap();
    setup.produce(&events);
    let mut run = setup.run();
    run.wait_through("2026-10-01T00:04:00.000Z", Duration::from_secs(120));
    let stderr = run.stop();
    let over = 4 * 2 * cap;
    assert_eq!(
        counted(&stderr),
        (lines.len() as u64 - over, over, 0),
        "{stderr}"
    );
    let in_topic: std::collections::BTreeSet<String> = setup
        .read("rejects")
        .values()
        .map(|r| {
            let reason = r["reason"].as_str().unwrap();
            assert!(
                reason.starts_with("field `node`: n1 sent more than 40 probe events in one slot"),
                "{reason}"
            );
            r["payload"].as_str().unwrap().to_owned()
        })
        .collect();
    let in_replay: std::collections::BTreeSet<String> = replayed_with(
        &events,
        "rejects",
        "payload",
        &["--config", setup.config.to_str().unwrap()],
    )
    .into_keys()
    .collect();
    assert_eq!(in_topic.len() as u64, over);
    assert_eq!(in_topic, in_replay, "the same events rejected");
}

/// A valid event a policy cannot take (a swap cheque whose cumulative payout does not grow) is
/// a reject in the rejects topic, named with its policy and its place in the input, with the
/// reason and payload replay's `rejects` table gives it.
#[test]
fn a_policy_reject_reaches_the_rejects_topic_as_in_replay() {
    broker(9092);
    let setup = setup("policy-reject", 9092);
    let mut lines = std::fs::read_to_string(cases().join("swap-example.jsonl")).unwrap();
    lines.push_str(concat!(
        r#"{"kind":"cheque","ts":1790812920000,"issuer":"a","beneficiary":"b","cumulative_payout":100000}"#,
        "\n",
        r#"{"kind":"chunk_transfer","ts":1790812980000,"from":"a","to":"b","po":0}"#,
        "\n"
    ));
    let events = scratch("policy-reject.jsonl");
    std::fs::write(&events, &lines).unwrap();
    setup.produce(&events);
    let mut run = setup.run();
    run.wait_through("2026-10-01T00:03:00.000Z", Duration::from_secs(120));
    run.stop();
    let rejects = setup.read("rejects");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    let (key, topic_row) = rejects.iter().next().unwrap();
    assert_eq!(topic_row["policy"], "swap", "{topic_row}");
    assert_eq!(topic_row["kind"], "cheque", "{topic_row}");
    assert!(key.ends_with(&format!("/{}", topic_row["offset"])), "{key}");
    let replayed = replayed_with(&events, "rejects", "reason", &[]);
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    let (reason, replay_row) = replayed.into_iter().next().unwrap();
    assert!(reason.starts_with("cumulative_payout"), "{reason}");
    assert_eq!(topic_row["reason"].as_str(), Some(reason.as_str()));
    assert_eq!(topic_row["payload"], replay_row["payload"]);
}

#[test]
fn a_100k_event_stream_ends_with_the_tables_replay_gives() {
    broker(9092);
    let setup = setup("stream100k", 9092);
    let (events, through) = generated("stream100k", 100_000);
    let run = setup.run();
    setup.produce(&events);
    finish_like_replay(run, &setup, &events, &through);
}

#[test]
fn a_two_process_cluster_reads_each_partition_once_and_publishes_what_replay_gives() {
    broker(9092);
    let setup = setup("cluster2", 9092);
    let (events, through) = generated("cluster2", 30_000);
    let base = 23_000 + (std::process::id() % 1000) as u16 * 2;
    let hostfile = scratch(&format!("{}-hosts", setup.name));
    std::fs::write(
        &hostfile,
        format!("127.0.0.1:{base}\n127.0.0.1:{}\n", base + 1),
    )
    .unwrap();
    let hosts = hostfile.to_str().unwrap();
    let cluster = |process: &'static str| {
        setup.run_with(&[
            "--processes",
            "2",
            "--process",
            process,
            "--hostfile",
            hosts,
        ])
    };
    let other = cluster("1");
    let mut first = cluster("0");
    setup.produce(&events);
    first.wait_through(&through, Duration::from_secs(300));
    // A stop of process 0 alone drains the whole cluster.
    let stderr0 = first.stop();
    let stderr1 = other.ended(Duration::from_secs(60));
    assert!(
        stderr1
            .lines()
            .any(|l| complete_through(l).is_some_and(|t| t >= through.as_str())),
        "process 1 shows what process 0 published:\n{stderr1}"
    );
    let (c0, c1) = (counted(&stderr0), counted(&stderr1));
    assert!(
        c0.0 > 0 && c1.0 > 0,
        "both processes read partitions: {c0:?} {c1:?}"
    );
    assert_eq!(
        (c0.0 + c1.0, c0.1 + c1.1, c0.2 + c1.2),
        (30_000, 0, 0),
        "process 0:\n{stderr0}\nprocess 1:\n{stderr1}"
    );
    assert_same_as_replay(&setup, &events);
    setup.assert_all_committed();
}

#[test]
fn a_broker_frozen_for_30s_mid_stream_loses_nothing_and_counts_nothing_twice() {
    let port = 9193;
    let pid = broker(port);
    assert!(pid > 0, "the outage test needs the pid of its own broker");
    // Checkpoints every second: they wait out the outage with the results, and commit after.
    let setup = setup_with("outage", port, "", "[checkpoints]\nevery = \"1s\"\n");
    let (events, through) = generated("outage", 100_000);
    let mut run = setup.run();
    let producer = setup.produce_meanwhile(vec![events.clone()], Duration::ZERO);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !run.done_through(&through),
        "the stream was over before the broker froze"
    );
    freeze_for_30s(pid);
    producer.join().unwrap();
    finish_like_replay(run, &setup, &events, &through);
    setup.assert_all_committed();
    kafka_dev("stop", port);
}

#[test]
fn an_icp_month_through_kafka_gives_the_replayed_statement() {
    broker(9092);
    let setup = setup("icp-month", 9092);
    let events = icp_month("icp-month.jsonl");

    let replay_store = scratch("icp-month-replay-store");
    stdout(&replay_csv(
        &events,
        &["SELECT 1"],
        &["--store", replay_store.to_str().unwrap()],
    ));
    let replayed = ["icp", "sla"].map(|policy| statement_sha(&replay_store, policy));
    assert_eq!(
        replayed[0].1, 1081,
        "100 providers and 981 rewardable nodes"
    );

    // Keyed by node over 4 partitions: the broker hands the events over in another order.
    setup.produce(&events);
    let mut run = setup.run();
    run.wait_through("2026-11-01T01:00:00.000Z", Duration::from_secs(600));
    run.stop();
    let store = scratch(&format!("{}-store", setup.name));
    let streamed = ["icp", "sla"].map(|policy| statement_sha(&store, policy));
    assert_eq!(
        streamed, replayed,
        "the same statements through Kafka as in replay"
    );

    let rows = setup.read("statements");
    for (policy, (sha, count)) in ["icp", "sla"].into_iter().zip(&replayed) {
        let of_policy: Vec<&Value> = rows
            .values()
            .filter(|r| r["policy"] == policy && r["period"] == "2026-10")
            .collect();
        assert_eq!(of_policy.len() as u64, *count, "every {policy} row, once");
        assert!(of_policy
            .iter()
            .all(|r| r["sha256"] == Value::String(sha.clone()) && r["rows"] == *count));
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `meritflow exporter --node n1 --simulate GPUS --interval 1s --for SECONDS` into the setup's
/// telemetry topic, with a spool of its own.
fn exporter(setup: &Setup, gpus: &str, seconds: &str) -> Child {
    let spool = scratch(&format!("{}-spool", setup.name));
    Command::new(env!("CARGO_BIN_EXE_meritflow"))
        .args([
            "exporter",
            "--node",
            "n1",
            "--simulate",
            gpus,
            "--interval",
            "1s",
            "--for",
            seconds,
        ])
        .args([
            "--brokers",
            &setup.brokers,
            "--topic",
            &format!("{}.telemetry", setup.name),
        ])
        .args(["--spool", spool.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start meritflow exporter")
}

/// The exporter's closing summary: (samples read, batches left, dropped).
fn exporter_summary(child: Child) -> (u64, u64, u64) {
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "exporter failed: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("samples read"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[2], numbers[3])
}

/// The latest minute boundary at or after the newest sample in the telemetry topic.
fn newest_slot(setup: &Setup) -> String {
    let newest = setup
        .read_all("telemetry")
        .into_iter()
        .filter_map(|(_, v)| v?["ts"].as_u64())
        .max()
        .expect("samples in the telemetry topic");
    meritflow_pipelines::time::format_rfc3339(meritflow_pipelines::time::slot(newest, 60_000))
}

#[test]
fn an_exporter_feeds_gpu_latest_and_the_vram_score_of_a_running_pipeline() {
    broker(9092);
    let setup = setup("exporter", 9092);
    // n1 claims 80 GiB, n2 48 GiB; only n1 has an exporter, whose largest card reports 24 GiB.
    let registered = now_ms() - 120_000;
    let events = scratch("exporter-registry.jsonl");
    std::fs::write(
        &events,
        format!(
            "{{\"kind\":\"node_registered\",\"ts\":{registered},\"node\":\"n1\",\"vram_bytes\":{}}}\n{{\"kind\":\"node_registered\",\"ts\":{registered},\"node\":\"n2\",\"vram_bytes\":{}}}\n",
            80u64 << 30,
            48u64 << 30
        ),
    )
    .unwrap();
    setup.produce(&events);
    let mut run = setup.run_with(&[
        "--query",
        "SELECT count(*) AS gpus, max(vram_total_bytes) AS largest FROM gpu_latest WHERE node = 'n1'",
        "--query",
        "SELECT node, vram_score FROM crynux_qos ORDER BY node",
        "--format",
        "csv",
    ]);
    let (samples, left, dropped) = exporter_summary(exporter(&setup, "8", "20s"));
    assert!(samples >= 8 * 18, "{samples} samples in 20 s at 1 s");
    assert_eq!((left, dropped), (0, 0));
    run.wait_through(&newest_slot(&setup), Duration::from_secs(90));
    let (_, out) = run.stop_with_stdout();
    assert_eq!(
        out,
        format!(
            "gpus,largest\n8,{}\n\nnode,vram_score\nn1,0.5\nn2,1.0\n",
            24u64 << 30
        ),
        "8 GPUs; the VRAM score follows the reported 24 GiB, not the claimed 80"
    );
}

#[test]
fn the_exporter_spool_keeps_every_sample_through_a_30s_broker_outage() {
    let port = 9194;
    let pid = broker(port);
    assert!(pid > 0, "the spool test needs the pid of its own broker");
    let setup = setup("spool", port);
    let child = exporter(&setup, "2", "45s");
    std::thread::sleep(Duration::from_secs(8));
    freeze_for_30s(pid);
    let (samples, left, dropped) = exporter_summary(child);
    assert_eq!(
        (left, dropped),
        (0, 0),
        "everything sent once the broker was back"
    );
    let mut seen = std::collections::BTreeSet::new();
    for (_, value) in setup.read_all("telemetry") {
        let v = value.expect("no tombstones");
        seen.insert((
            v["gpu"].as_str().unwrap().to_owned(),
            v["ts"].as_u64().unwrap(),
        ));
    }
    assert!(samples >= 2 * 40, "{samples}");
    assert_eq!(
        seen.len() as u64,
        samples,
        "every sample read is in the topic (copies aside)"
    );
    kafka_dev("stop", port);
}
