//! End to end through a real broker (`deploy/kafka-dev start` starts one). Two phases, each on
//! topics of its own, both on the mixed stream:
//!
//! 1. Throughput: the stream is written into the input topics first, then
//!    `meritflow run` (release) consumes it; measured from its start until its status line says
//!    results are complete through the stream's last slot. Reported as events/s of wall time and
//!    events per CPU-second of the `meritflow run` process (the broker's CPU is not counted).
//! 2. Freshness: events produced at a steady `--rate` (default: half the measured throughput),
//!    each stamped with the wall clock as it is written; a reader of the scores topic notes when
//!    each publication arrives. An event's freshness is the time from its production to the
//!    arrival of the first publication that includes it (`as_of` at or after its slot).
//!    Run with the settings of [`FRESHNESS_CONFIG`]: a short slide, lateness and publication
//!    interval, since those bound freshness from below whatever the engine's speed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use meritflow_connectors::kafka::produce::route;
use meritflow_connectors::kafka::sink::Sink;
use meritflow_pipelines::config::Config;
use meritflow_pipelines::time::{format_rfc3339, slot};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::ClientConfig;

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A config naming topics `<name>.<role>` (with `extra` appended), and those topics created.
fn phase_config(
    bin: &Path,
    dir: &Path,
    name: &str,
    brokers: &str,
    extra: &str,
) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{name}.toml"));
    // Each phase's own store: a checkpoint of one phase's settings would be refused by the next
    // (and none belongs in the directory the report runs from).
    let store = dir.join(format!("{name}-store"));
    std::fs::write(
        &path,
        format!(
            "[kafka]\nbrokers = \"{brokers}\"\ngroup_id = \"{name}\"\ninput_topics = [\"{name}.events\", \"{name}.telemetry\"]\n\
             rejects_topic = \"{name}.rejects\"\nscores_topic = \"{name}.scores\"\ntriggers_topic = \"{name}.triggers\"\nstatements_topic = \"{name}.statements\"\n{extra}\n[sql]\nlisten = \"\"\n\
             [statements]\nstorage_dir = \"{}\"\n",
            store.display()
        ),
    )?;
    let path_text = path.to_str().context("temporary path is not UTF-8")?;
    meritflow(bin, &["topics", "--config", path_text, "--partitions", "4"])?;
    Ok(path)
}

fn meritflow(bin: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(bin).args(args).output()?;
    if !out.status.success() {
        bail!(
            "meritflow {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// `meritflow run`, with its status lines on a channel (and, with `timings`, the publisher's
/// debug lines: each publication's lag and duration, each flush's).
fn start_run(
    bin: &Path,
    config: &Path,
    timings: bool,
) -> anyhow::Result<(Child, std::sync::mpsc::Receiver<String>)> {
    let mut command = Command::new(bin);
    if timings {
        command.env(
            "MERITFLOW_LOG",
            "warn,meritflow_connectors::kafka::pipeline=debug",
        );
    }
    let mut child = command
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--status-every",
            "1ms",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Ok((child, rx))
}

fn wait_through(
    rx: &std::sync::mpsc::Receiver<String>,
    through: &str,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))?;
        if line
            .split("complete through ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .is_some_and(|t| t >= through)
        {
            return Ok(());
        }
    }
}

/// user + system CPU seconds of a process, from /proc.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64)
}

fn stop(mut child: Child) -> anyhow::Result<()> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    child.wait()?;
    Ok(())
}

/// Phase 1's result.
pub struct Throughput {
    pub events: u64,
    pub wall: f64,
    /// CPU seconds of the `meritflow run` process.
    pub cpu: f64,
}

/// p50 and p99 of some milliseconds (zeros when there were none).
#[derive(Clone, Copy, Default)]
pub struct Quantiles {
    pub count: usize,
    pub p50: u64,
    pub p99: u64,
}

impl Quantiles {
    fn of(mut values: Vec<u64>) -> Quantiles {
        values.sort_unstable();
        let q = |p: f64| {
            values
                .get(((values.len().max(1) - 1) as f64 * p) as usize)
                .copied()
                .unwrap_or(0)
        };
        Quantiles {
            count: values.len(),
            p50: q(0.5),
            p99: q(0.99),
        }
    }
}

/// Phase 2's result: freshness in milliseconds over the events seen published.
pub struct Freshness {
    pub rate: u64,
    pub seconds: u64,
    pub produced: usize,
    pub seen: usize,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
    /// At each publication (from the publisher's debug lines): the wall clock minus the
    /// moment published (how far behind the results were as they went out), how long the
    /// publication took, and how long the flush after it waited for the broker.
    pub behind: Quantiles,
    pub publishing: Quantiles,
    pub flushing: Quantiles,
}

/// The freshness phase's settings, printed beside its figures.
pub const FRESHNESS_CONFIG: &str = "allowed_lateness = \"20ms\"\nidle_timeout = \"200ms\"\npublish_interval = \"20ms\"\n[policy.crynux]\nslide = \"20ms\"\nwindow = \"1h\"\ntask_grace = \"1s\"\n";

/// Writes `stream` (JSONL, `events` lines, newest ts `last_ts`) into fresh topics, then times
/// `meritflow run` from its start until it says results are complete through the last slot.
pub fn throughput(
    bin: &Path,
    dir: &Path,
    brokers: &str,
    stream: &Path,
    events: u64,
    last_ts: u64,
) -> anyhow::Result<Throughput> {
    let name = format!("tput{}", std::process::id());
    let config = phase_config(
        bin,
        dir,
        &name,
        brokers,
        "idle_timeout = \"2s\"\nmax_future = \"0s\"\n",
    )?;
    let path = |p: &Path| p.to_str().map(str::to_owned).context("path is not UTF-8");
    meritflow(
        bin,
        &[
            "produce",
            "--config",
            &path(&config)?,
            "--events",
            &path(stream)?,
        ],
    )?;
    let through = format_rfc3339(slot(last_ts, 60_000));
    let started = Instant::now();
    let (child, rx) = start_run(bin, &config, false)?;
    wait_through(&rx, &through, Duration::from_secs(1800))?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(child.id())?;
    stop(child)?;
    Ok(Throughput { events, wall, cpu })
}

/// Produces the lines of `stream` at `rate` per second for `seconds`, each stamped with the wall
/// clock as it is written, and notes when the first publication covering it arrives.
pub fn freshness(
    bin: &Path,
    dir: &Path,
    brokers: &str,
    stream: &Path,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<Freshness> {
    let rate = rate.max(1);
    let name = format!("fresh{}", std::process::id());
    let config = phase_config(bin, dir, &name, brokers, FRESHNESS_CONFIG)?;
    let cfg = Config::from_toml(&std::fs::read_to_string(&config)?, "bench")?;
    let slide = meritflow_pipelines::engine::grain(&cfg);
    let (child, run_log) = start_run(bin, &config, true)?;
    std::thread::sleep(Duration::from_secs(5)); // group join
    let arrivals: Arc<Mutex<BTreeMap<u64, u64>>> = Arc::default(); // as_of -> first arrival
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (arrivals, done, brokers, topic) = (
            Arc::clone(&arrivals),
            Arc::clone(&done),
            brokers.to_owned(),
            cfg.kafka.scores_topic.clone(),
        );
        std::thread::spawn(move || -> anyhow::Result<()> {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("group.id", format!("{topic}-reader"))
                .set("auto.offset.reset", "earliest")
                .set("fetch.wait.max.ms", "5")
                .create()?;
            consumer.subscribe(&[&topic])?;
            while !done.load(Ordering::SeqCst) {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(5)) {
                    let at = now_ms();
                    if let Some(p) = m.payload() {
                        let row: serde_json::Value = serde_json::from_slice(p)?;
                        if let Some(as_of) = row["as_of"]
                            .as_str()
                            .and_then(meritflow_pipelines::time::parse_rfc3339)
                        {
                            arrivals.lock().unwrap().entry(as_of).or_insert(at);
                        }
                    }
                }
            }
            Ok(())
        })
    };
    let topics: Vec<&str> = cfg.kafka.input_topics.iter().map(String::as_str).collect();
    let mut sink = Sink::connect(&cfg.kafka, &topics, Duration::from_secs(10))?;
    let reader_lines = BufReader::new(std::fs::File::open(stream)?);
    let mut produced: Vec<u64> = Vec::new();
    let began = Instant::now();
    let total = (rate * seconds) as usize;
    for line in reader_lines.lines().take(total) {
        let line = line?;
        let due = began + Duration::from_secs_f64(produced.len() as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
            sink.poll();
        }
        let mut event = meritflow_pipelines::events::decode(line.as_bytes())
            .map_err(|r| anyhow::anyhow!(r.reason()))?;
        event.ts = now_ms();
        sink.send(&route(&cfg.kafka, event.to_json().as_bytes()));
        produced.push(event.ts);
    }
    sink.flush(Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(5)); // the last events' publication
    done.store(true, Ordering::SeqCst);
    reader.join().expect("reader thread")?;
    stop(child)?;
    let said: Vec<String> = run_log.try_iter().collect();
    let arrivals = arrivals.lock().unwrap();
    let mut fresh: Vec<u64> = produced
        .iter()
        .filter_map(|&ts| {
            arrivals
                .range(slot(ts, slide)..)
                .next()
                .map(|(_, &at)| at.saturating_sub(ts))
        })
        .collect();
    fresh.sort_unstable();
    if fresh.is_empty() {
        // What the run said is the first thing to read: keep its last lines with the error.
        let tail = said[said.len().saturating_sub(8)..].join(" / ");
        bail!(
            "no publication arrived on {} (the run's last lines: {tail})",
            cfg.kafka.scores_topic
        );
    }
    let q = |p: f64| fresh[((fresh.len() - 1) as f64 * p) as usize];
    // The publisher's own lines, from the first publication that covers a produced event on.
    let first_slot = produced.first().map_or(0, |&ts| slot(ts, slide));
    let field = |line: &str, name: &str| -> Option<u64> {
        let after = line.split(&format!("{name}=")).nth(1)?;
        after
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let mut behind = Vec::new();
    let mut publishing = Vec::new();
    let mut flushing = Vec::new();
    let mut started = false;
    for line in &said {
        if line.contains(" published ") || line.ends_with(" published") {
            let through = line
                .split("through=")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(meritflow_pipelines::time::parse_rfc3339);
            started |= through.is_some_and(|t| t >= first_slot);
            if started {
                behind.extend(field(line, "behind_ms"));
                publishing.extend(field(line, "took_ms"));
            }
        } else if started && line.contains(" flushed") {
            flushing.extend(field(line, "took_ms"));
        }
    }
    Ok(Freshness {
        rate,
        seconds,
        produced: produced.len(),
        seen: fresh.len(),
        p50: q(0.5),
        p99: q(0.99),
        max: fresh[fresh.len() - 1],
        behind: Quantiles::of(behind),
        publishing: Quantiles::of(publishing),
        flushing: Quantiles::of(flushing),
    })
}
