//! End-to-end tests of `meritflow run` against a real Kafka-protocol broker (tansu, started by
//! `deploy/kafka-dev`): the sample case, a 100k-event stream compared with `replay`, a broker
//! frozen for 30 s mid-stream, the GPU exporter feeding a running pipeline, and the exporter's
//! spool through a frozen broker. Each test has its own topics and group; the outage tests have
//! brokers of their own, so freezing them disturbs nobody else.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{cases, csvdiff, icp_month, meritflow, replay_csv, scratch, stdout};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::ClientConfig;
use serde_json::Value;

/// Starts (installing if needed) the development broker on `port`; returns its pid.
fn broker(port: u16) -> u32 {
    let started = kafka_dev("start", port);
    assert!(
        started.status.success(),
        "deploy/kafka-dev start: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let pid = kafka_dev("pid", port);
    String::from_utf8_lossy(&pid.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// `deploy/kafka-dev VERB` for the broker on `port`.
fn kafka_dev(verb: &str, port: u16) -> std::process::Output {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kafka-dev"))
        .arg(verb)
        .env("KAFKA_DEV_PORT", port.to_string())
        .output()
        .expect("run deploy/kafka-dev")
}

/// Freezes the broker process `pid` (SIGSTOP) for 30 s, then lets it go on (SIGCONT).
fn freeze_for_30s(pid: u32) {
    let signal = |s: &str| {
        let sent = Command::new("kill").args([s, &pid.to_string()]).status();
        assert!(sent.unwrap().success(), "kill {s} {pid}");
    };
    signal("-STOP");
    std::thread::sleep(Duration::from_secs(30));
    signal("-CONT");
}

/// The moment a `meritflow run` status line says results are complete through.
fn complete_through(line: &str) -> Option<&str> {
    line.split("complete through ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
}

struct Setup {
    name: String,
    brokers: String,
    config: PathBuf,
}

/// Topics `<name>.<role>` on the broker at `port`, and a config file naming them.
fn setup(name: &str, port: u16) -> Setup {
    let name = format!("{name}-{}", std::process::id());
    let brokers = format!("127.0.0.1:{port}");
    let config = scratch(&format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            r#"[kafka]
brokers = "{brokers}"
group_id = "{name}"
input_topics = ["{name}.events", "{name}.telemetry"]
rejects_topic = "{name}.rejects"
scores_topic = "{name}.scores"
triggers_topic = "{name}.triggers"
statements_topic = "{name}.statements"
idle_timeout = "3s"
publish_interval = "300ms"
max_future = "0s"

[statements]
storage_dir = "{store}"

# Tests run many pipelines at once: no SQL server (tests/sql.rs covers it).
[sql]
listen = ""
"#,
            store = scratch(&format!("{name}-store")).display()
        ),
    )
    .unwrap();
    let created = meritflow(&[
        "topics",
        "--config",
        config.to_str().unwrap(),
        "--partitions",
        "4",
    ]);
    assert!(
        created.status.success(),
        "topics: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    Setup {
        name,
        brokers,
        config,
    }
}

impl Setup {
    fn produce(&self, events: &Path) {
        stdout(&meritflow(&[
            "produce",
            "--config",
            self.config.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
        ]));
    }

    fn run(&self) -> Running {
        self.run_with(&[])
    }

    /// `meritflow run` with `extra` arguments; its stdout is kept for [`Running::stop`].
    fn run_with(&self, extra: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meritflow"))
            .args([
                "run",
                "--config",
                self.config.to_str().unwrap(),
                "--status-every",
                "1ms",
            ])
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start meritflow run");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The topic's rows folded by key (the latest value per key; a tombstone removes it).
    fn read(&self, role: &str) -> BTreeMap<String, Value> {
        let mut rows = BTreeMap::new();
        for (key, value) in self.read_all(role) {
            match value {
                Some(v) => rows.insert(key, v),
                None => rows.remove(&key),
            };
        }
        rows
    }

    /// The run's group has committed every input partition to its end: one past the last
    /// offset a reader finds there. (tansu's high watermark can lag the last offset, so the
    /// end is found by reading.)
    fn assert_all_committed(&self) {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", &self.name)
            .create()
            .unwrap();
        let mut list = rdkafka::TopicPartitionList::new();
        let mut ends = BTreeMap::new();
        for role in ["events", "telemetry"] {
            let topic = format!("{}.{role}", self.name);
            for (partition, offset) in self.last_offsets(role) {
                list.add_partition(&topic, partition);
                ends.insert((topic.clone(), partition), offset + 1);
            }
        }
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .unwrap();
        for e in committed.elements() {
            let end = ends[&(e.topic().to_owned(), e.partition())];
            assert_eq!(
                e.offset(),
                rdkafka::Offset::Offset(end),
                "{}/{} committed",
                e.topic(),
                e.partition()
            );
        }
    }

    /// The last offset of each non-empty partition of the topic.
    fn last_offsets(&self, role: &str) -> BTreeMap<i32, i64> {
        let mut last = BTreeMap::new();
        self.each_message(role, |m| {
            last.insert(m.partition(), m.offset());
        });
        last
    }

    /// Every message of the topic, (key, value or None for a tombstone), in each partition's order.
    fn read_all(&self, role: &str) -> Vec<(String, Option<Value>)> {
        let mut rows = Vec::new();
        self.each_message(role, |m| {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            rows.push((key, m.payload().map(|p| serde_json::from_slice(p).unwrap())));
        });
        rows
    }

    /// Calls `each` with every message of the topic, read from the start to each partition's end.
    fn each_message(&self, role: &str, mut each: impl FnMut(&rdkafka::message::BorrowedMessage)) {
        let topic = format!("{}.{role}", self.name);
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", format!("{}-reader-{role}", self.name))
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "true")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let partitions = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .unwrap()
            .topics()[0]
            .partitions()
            .len();
        consumer.subscribe(&[&topic]).unwrap();
        let mut ended = std::collections::HashSet::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while ended.len() < partitions {
            assert!(
                Instant::now() < deadline,
                "{topic}: not read to its end within 60 s"
            );
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => each(&m),
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                    ended.insert(p);
                }
                Some(Err(e)) => panic!("{topic}: {e}"),
                None => {}
            }
        }
    }
}

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Waits for a status line saying results are complete through `through` (RFC 3339).
    fn wait_through(&mut self, through: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = complete_through(&line).is_some_and(|t| t >= through);
                    self.seen.push(line);
                    if done {
                        return;
                    }
                }
                Err(_) => panic!(
                    "not complete through {through} in {timeout:?}; stderr:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Whether a status line read so far says results are complete through `through`.
    fn done_through(&mut self, through: &str) -> bool {
        self.seen.extend(self.lines.try_iter());
        self.seen
            .iter()
            .any(|line| complete_through(line).is_some_and(|t| t >= through))
    }

    /// SIGTERM, then the rest of its stderr once it has drained and exited.
    fn stop(self) -> String {
        self.stop_with_stdout().0
    }

    /// Its stderr once it has exited by itself (successfully) within `timeout`.
    fn ended(mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                self.seen.extend(self.lines.try_iter());
                panic!("still running after {timeout:?}:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.seen.extend(self.lines.iter());
        let text = self.seen.join("\n");
        assert!(status.success(), "meritflow run failed: {text}");
        text
    }

    /// SIGTERM; its stderr and stdout once it has drained and exited.
    fn stop_with_stdout(mut self) -> (String, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
        }
        let status = self.child.wait().unwrap();
        self.seen.extend(self.lines.iter());
        let text = self.seen.join("\n");
        assert!(status.success(), "meritflow run failed: {text}");
        (text, out)
    }
}

/// `meritflow replay` of the same events: `SELECT * FROM table ORDER BY key` as JSON rows.
fn replayed(events: &Path, table: &str, key: &str) -> BTreeMap<String, Value> {
    let sql = format!("SELECT * FROM {table} ORDER BY {key}");
    let out = stdout(&meritflow(&[
        "replay",
        "--events",
        events.to_str().unwrap(),
        "--query",
        &sql,
        "--format",
        "json",
    ]));
    out.lines()
        .map(|l| {
            let row: Value = serde_json::from_str(l).unwrap();
            (row[key].as_str().unwrap().to_owned(), row)
        })
        .collect()
}

/// Equal as results: numbers within 1e-9 (relative), timestamps as instants, the rest exactly;
/// fields only the stream carries (`as_of`) are not compared.
fn same_rows(
    replay: &BTreeMap<String, Value>,
    stream: &BTreeMap<String, Value>,
) -> Result<(), String> {
    let keys = |m: &BTreeMap<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    if keys(replay) != keys(stream) {
        return Err(format!(
            "keys differ:\nreplay {:?}\nstream {:?}",
            keys(replay),
            keys(stream)
        ));
    }
    for (key, want) in replay {
        for (field, w) in want.as_object().unwrap() {
            let g = &stream[key][field];
            let equal = match (w, g) {
                (Value::Number(a), Value::Number(b)) => {
                    let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
                    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
                }
                (Value::String(a), Value::String(b)) => {
                    let instant = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
                    a == b || (instant(a).is_some() && instant(a) == instant(b))
                }
                _ => w == g,
            };
            if !equal {
                return Err(format!("{key}.{field}: replay {w}, stream {g}"));
            }
        }
    }
    Ok(())
}

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

    let scores = setup.read("scores");
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

/// The simulated fleet's events as a JSONL file of about `events` lines, and its last slot.
fn generated(name: &str, events: usize) -> (PathBuf, String) {
    let text = stdout(&meritflow(&[
        "simulate",
        "--nodes",
        "200",
        "--hours",
        "24",
        "--seed",
        "11",
        "--limit",
        &events.to_string(),
    ]));
    let path = scratch(&format!("{name}.jsonl"));
    std::fs::write(&path, &text).unwrap();
    let last = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["ts"].as_u64())
        .max()
        .unwrap();
    let slot = last.div_ceil(60_000) * 60_000;
    let through = chrono::DateTime::from_timestamp_millis(slot as i64).unwrap();
    (path, through.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// Waits until the run has published the stream's last slot, stops it, and checks that every
/// event counted exactly once and that the topics hold what `replay` gives.
fn finish_like_replay(mut run: Running, setup: &Setup, events: &Path, through: &str) {
    run.wait_through(through, Duration::from_secs(300));
    let stderr = run.stop();
    assert_eq!(counted(&stderr), (100_000, 0, 0), "{stderr}");
    assert_same_as_replay(setup, events);
}

/// (events counted, rejected, late) from a run's closing line.
fn counted(stderr: &str) -> (u64, u64, u64) {
    let line = stderr
        .lines()
        .rfind(|l| l.contains(" events counted, "))
        .unwrap_or_else(|| panic!("no closing line:\n{stderr}"));
    let numbers: Vec<u64> = line
        .split([' ', ','])
        .filter_map(|w| w.parse().ok())
        .take(3)
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

fn assert_same_as_replay(setup: &Setup, events: &Path) {
    same_rows(
        &replayed(events, "crynux_qos", "node"),
        &setup.read("scores"),
    )
    .unwrap();
    same_rows(&replayed(events, "triggers", "id"), &setup.read("triggers")).unwrap();
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
    let setup = setup("outage", port);
    let (events, through) = generated("outage", 100_000);
    let mut run = setup.run();
    let producer = {
        let (config, events) = (setup.config.clone(), events.clone());
        std::thread::spawn(move || {
            stdout(&meritflow(&[
                "produce",
                "--config",
                config.to_str().unwrap(),
                "--events",
                events.to_str().unwrap(),
            ]))
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !run.done_through(&through),
        "the stream was over before the broker froze"
    );
    freeze_for_30s(pid);
    producer.join().unwrap();
    finish_like_replay(run, &setup, &events, &through);
    kafka_dev("stop", port);
}

/// The sha256 and row count `meritflow statement` prints for October's statement of `policy`
/// in `store`.
fn statement_sha(store: &Path, policy: &str) -> (String, u64) {
    let output = meritflow(&[
        "statement",
        "--policy",
        policy,
        "--period",
        "2026-10",
        "--store",
        store.to_str().unwrap(),
    ]);
    stdout(&output);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let words: Vec<&str> = stderr.split_whitespace().collect();
    let rows = words
        .get(2)
        .and_then(|w| w.trim_start_matches('(').parse().ok());
    match (words.get(1), rows) {
        (Some(sha), Some(rows)) => (sha.to_string(), rows),
        _ => panic!("no sha256 and row count in {stderr}"),
    }
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
