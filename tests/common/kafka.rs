//! Helpers of the tests against a real Kafka-protocol broker (tansu, started by
//! `deploy/kafka-dev`): topics and a config per test, `meritflow run` as a child whose status
//! lines are watched, topics read back, and the comparison with `replay`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::ClientConfig;
use serde_json::Value;

use super::{meritflow, scratch, stdout};

/// Starts (installing if needed) the development broker on `port`; returns its pid.
pub fn broker(port: u16) -> u32 {
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
pub fn kafka_dev(verb: &str, port: u16) -> std::process::Output {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kafka-dev"))
        .arg(verb)
        .env("KAFKA_DEV_PORT", port.to_string())
        .output()
        .expect("run deploy/kafka-dev")
}

/// Freezes the broker process `pid` (SIGSTOP) for 30 s, then lets it go on (SIGCONT).
pub fn freeze_for_30s(pid: u32) {
    let signal = |s: &str| {
        let sent = Command::new("kill").args([s, &pid.to_string()]).status();
        assert!(sent.unwrap().success(), "kill {s} {pid}");
    };
    signal("-STOP");
    std::thread::sleep(Duration::from_secs(30));
    signal("-CONT");
}

/// The moment a `meritflow run` status line says results are complete through.
pub fn complete_through(line: &str) -> Option<&str> {
    line.split("complete through ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
}

pub struct Setup {
    pub name: String,
    pub brokers: String,
    pub config: PathBuf,
}

/// Topics `<name>.<role>` on the broker at `port`, and a config file naming them.
pub fn setup(name: &str, port: u16) -> Setup {
    setup_with(name, port, "", "")
}

/// [`setup`] with more `[statements]` lines and more sections at the end of the config.
pub fn setup_with(name: &str, port: u16, statements: &str, sections: &str) -> Setup {
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
{statements}

# Tests run many pipelines at once: no SQL server (tests/sql.rs covers it).
[sql]
listen = ""

{sections}
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
    pub fn produce(&self, events: &Path) {
        produce_with(&self.config, events);
    }

    /// Produces each file in turn on a thread of its own, `pause` after each.
    pub fn produce_meanwhile(
        &self,
        files: Vec<PathBuf>,
        pause: Duration,
    ) -> std::thread::JoinHandle<()> {
        let config = self.config.clone();
        std::thread::spawn(move || {
            for file in files {
                produce_with(&config, &file);
                std::thread::sleep(pause);
            }
        })
    }

    pub fn run(&self) -> Running {
        self.run_with(&[])
    }

    /// `meritflow run` with `extra` arguments; its stdout is kept for [`Running::stop`].
    pub fn run_with(&self, extra: &[&str]) -> Running {
        self.run_env(extra, &[])
    }

    /// [`Setup::run_with`] with environment variables set for the run.
    pub fn run_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meritflow"))
            .envs(env.iter().copied())
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
    pub fn read(&self, role: &str) -> BTreeMap<String, Value> {
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
    pub fn assert_all_committed(&self) {
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
    pub fn last_offsets(&self, role: &str) -> BTreeMap<i32, i64> {
        let mut last = BTreeMap::new();
        self.each_message(role, |m| {
            last.insert(m.partition(), m.offset());
        });
        last
    }

    /// Every message of the topic, (key, value or None for a tombstone), in each partition's order.
    pub fn read_all(&self, role: &str) -> Vec<(String, Option<Value>)> {
        let mut rows = Vec::new();
        self.each_message(role, |m| {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            rows.push((key, m.payload().map(|p| serde_json::from_slice(p).unwrap())));
        });
        rows
    }

    /// Calls `each` with every message of the topic, read from the start to each partition's end.
    pub fn each_message(
        &self,
        role: &str,
        mut each: impl FnMut(&rdkafka::message::BorrowedMessage),
    ) {
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

fn produce_with(config: &Path, events: &Path) {
    stdout(&meritflow(&[
        "produce",
        "--config",
        config.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
    ]));
}

pub struct Running {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Running {
    /// Waits for a status line saying results are complete through `through` (RFC 3339).
    pub fn wait_through(&mut self, through: &str, timeout: Duration) {
        let what = format!("complete through {through}");
        self.wait_for_line(&what, timeout, |line| {
            complete_through(line).is_some_and(|t| t >= through)
        });
    }

    /// Waits for a line of stderr that `wanted` picks; `what` names it when none comes.
    pub fn wait_for_line(&mut self, what: &str, timeout: Duration, wanted: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = wanted(&line);
                    self.seen.push(line);
                    if done {
                        return;
                    }
                }
                Err(_) => panic!(
                    "not {what} in {timeout:?}; stderr:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Whether a status line read so far says results are complete through `through`.
    pub fn done_through(&mut self, through: &str) -> bool {
        self.seen.extend(self.lines.try_iter());
        self.seen
            .iter()
            .any(|line| complete_through(line).is_some_and(|t| t >= through))
    }

    /// SIGTERM, then the rest of its stderr once it has drained and exited.
    pub fn stop(self) -> String {
        self.stop_with_stdout().0
    }

    /// Its stderr once it has exited by itself (successfully) within `timeout`.
    pub fn ended(mut self, timeout: Duration) -> String {
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
    pub fn stop_with_stdout(mut self) -> (String, String) {
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

/// A test that panics while a run is going must not leave it running (and reading) after it.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `meritflow replay` of the same events: `SELECT * FROM table ORDER BY key` as JSON rows.
pub fn replayed(events: &Path, table: &str, key: &str) -> BTreeMap<String, Value> {
    replayed_with(events, table, key, &[])
}

/// [`replayed`] with more arguments for `meritflow replay` (a `--config`).
pub fn replayed_with(
    events: &Path,
    table: &str,
    key: &str,
    extra: &[&str],
) -> BTreeMap<String, Value> {
    let sql = format!("SELECT * FROM {table} ORDER BY {key}");
    let mut args = vec![
        "replay",
        "--events",
        events.to_str().unwrap(),
        "--query",
        &sql,
        "--format",
        "json",
    ];
    args.extend(extra);
    let out = stdout(&meritflow(&args));
    out.lines()
        .map(|l| {
            let row: Value = serde_json::from_str(l).unwrap();
            (row[key].as_str().unwrap().to_owned(), row)
        })
        .collect()
}

/// Equal as results: numbers within 1e-9 (relative), timestamps as instants, the rest exactly;
/// fields only the stream carries (`as_of`) are not compared.
pub fn same_rows(
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

/// The simulated fleet's events as a JSONL file of about `events` lines, and its last slot.
pub fn generated(name: &str, events: usize) -> (PathBuf, String) {
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
pub fn finish_like_replay(mut run: Running, setup: &Setup, events: &Path, through: &str) {
    run.wait_through(through, Duration::from_secs(300));
    let stderr = run.stop();
    assert_eq!(counted(&stderr), (100_000, 0, 0), "{stderr}");
    assert_same_as_replay(setup, events);
}

/// (events counted, rejected, late) from a run's closing line.
pub fn counted(stderr: &str) -> (u64, u64, u64) {
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

/// The `crynux_qos` rows a reader of the scores topic finishes from the nodes' parts and the
/// network's row, by node.
pub fn qos_from_scores(setup: &Setup) -> BTreeMap<String, Value> {
    meritflow_pipelines::policies::crynux::scores::finish(&setup.read("scores"))
        .unwrap()
        .into_iter()
        .map(|(node, row)| (node, Value::Object(row)))
        .collect()
}

pub fn assert_same_as_replay(setup: &Setup, events: &Path) {
    same_rows(
        &replayed(events, "crynux_qos", "node"),
        &qos_from_scores(setup),
    )
    .unwrap();
    same_rows(&replayed(events, "triggers", "id"), &setup.read("triggers")).unwrap();
}

/// The sha256 and row count `meritflow statement` prints for October's statement of `policy`
/// in `store`.
pub fn statement_sha(store: &Path, policy: &str) -> (String, u64) {
    statement_sha_of(store, policy, "2026-10")
}

/// The sha256 and row count of `policy`'s statement for `period` in `store`.
pub fn statement_sha_of(store: &Path, policy: &str, period: &str) -> (String, u64) {
    let output = meritflow(&[
        "statement",
        "--policy",
        policy,
        "--period",
        period,
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
