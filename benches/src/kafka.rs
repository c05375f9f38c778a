//! `meritflow-bench-kafka`: end-to-end through a real broker (start one with
//! `deploy/kafka-dev start`). Two phases, each on topics of its own:
//!
//! 1. Throughput: a simulated stream is written into the input topics first, then
//!    `meritflow run` (release) consumes it; measured from its start until its status line says
//!    results are complete through the stream's last slot. Reported as events/s of wall time and
//!    events per CPU-second of the `meritflow run` process (the broker's CPU is not counted).
//! 2. Freshness: events produced at a steady `--rate` (default: half the measured throughput),
//!    each stamped with the wall clock as it is written; a reader of the scores topic notes when
//!    each publication arrives. An event's freshness is the time from its production to the
//!    arrival of the first publication that includes it (`as_of` at or after its slot).
//!    Run with `slide = 1s`, `allowed_lateness = 1s`, `idle_timeout = 1s` (the sparse telemetry
//!    partitions would otherwise hold time back), `publish_interval = 250ms` (printed).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use meritflow_connectors::kafka::produce::route;
use meritflow_connectors::kafka::sink::Sink;
use meritflow_connectors::sim;
use meritflow_pipelines::config::Config;
use meritflow_pipelines::time::{format_rfc3339, slot};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::ClientConfig;

fn now_ms() -> u64 {
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
    std::fs::write(
        &path,
        format!(
            "[kafka]\nbrokers = \"{brokers}\"\ngroup_id = \"{name}\"\ninput_topics = [\"{name}.events\", \"{name}.telemetry\"]\n\
             rejects_topic = \"{name}.rejects\"\nscores_topic = \"{name}.scores\"\ntriggers_topic = \"{name}.triggers\"\nstatements_topic = \"{name}.statements\"\n{extra}\n[sql]\nlisten = \"\"\n"
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

/// `meritflow run`, with its status lines on a channel.
fn start_run(
    bin: &Path,
    config: &Path,
) -> anyhow::Result<(Child, std::sync::mpsc::Receiver<String>)> {
    let mut child = Command::new(bin)
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

fn main() -> anyhow::Result<()> {
    let mut events = 500_000u64;
    let mut brokers = "127.0.0.1:9092".to_owned();
    let mut rate: Option<u64> = None;
    let mut seconds = 30u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--events" => events = value.parse()?,
            "--brokers" => brokers = value,
            "--rate" => rate = Some(value.parse()?),
            "--seconds" => seconds = value.parse()?,
            _ => bail!("unknown flag {flag} (--events N --brokers B --rate R --seconds S)"),
        }
    }
    let bin = std::env::current_exe()?.with_file_name("meritflow");
    let dir = std::env::temp_dir().join(format!("meritflow-bench-kafka-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let tag = std::process::id();

    // Phase 1: throughput over a backlog.
    let name = format!("tput{tag}");
    let config = phase_config(
        &bin,
        &dir,
        &name,
        &brokers,
        "idle_timeout = \"2s\"\nmax_future = \"0s\"\n",
    )?;
    let spec = sim::FleetSpec {
        nodes: 10_000,
        duration: 30 * 86_400_000,
        task_every: 50,
        seed: 1,
        ..sim::FleetSpec::demo()
    };
    let file = dir.join("stream.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
    let (mut written, mut last_ts) = (0u64, 0u64);
    sim::generate(&spec, |e| {
        writeln!(out, "{}", e.to_json()).unwrap();
        last_ts = last_ts.max(e.ts);
        written += 1;
        if written < events {
            std::ops::ControlFlow::Continue(())
        } else {
            std::ops::ControlFlow::Break(())
        }
    });
    out.flush()?;
    drop(out);
    meritflow(
        &bin,
        &[
            "produce",
            "--config",
            config.to_str().unwrap(),
            "--events",
            file.to_str().unwrap(),
        ],
    )?;
    let through = format_rfc3339(slot(last_ts, 60_000));
    let started = Instant::now();
    let (child, rx) = start_run(&bin, &config)?;
    wait_through(&rx, &through, Duration::from_secs(1800))?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(child.id())?;
    stop(child)?;
    let per_s = written as f64 / wall;
    println!("throughput: {written} events through the broker in {wall:.2} s wall (incl. group join and the final idle wait), {cpu:.2} CPU-s of meritflow run");
    println!(
        "  {per_s:.0} events/s wall; {:.0} events per CPU-second (1 worker)",
        written as f64 / cpu
    );

    // Phase 2: freshness under a steady load.
    let rate = rate.unwrap_or((per_s / 2.0) as u64).max(1);
    let name = format!("fresh{tag}");
    let extra = "allowed_lateness = \"1s\"\nidle_timeout = \"1s\"\npublish_interval = \"250ms\"\n[policy.crynux]\nslide = \"1s\"\nwindow = \"1h\"\n";
    let config = phase_config(&bin, &dir, &name, &brokers, extra)?;
    let cfg = Config::from_toml(&std::fs::read_to_string(&config)?, "bench")?;
    let (child, _rx) = start_run(&bin, &config)?;
    std::thread::sleep(Duration::from_secs(5)); // group join
    let arrivals: Arc<Mutex<BTreeMap<u64, u64>>> = Arc::default(); // as_of -> first arrival
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (arrivals, done, brokers, topic) = (
            Arc::clone(&arrivals),
            Arc::clone(&done),
            brokers.clone(),
            cfg.kafka.scores_topic.clone(),
        );
        std::thread::spawn(move || -> anyhow::Result<()> {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("group.id", format!("{topic}-reader"))
                .set("auto.offset.reset", "earliest")
                .create()?;
            consumer.subscribe(&[&topic])?;
            while !done.load(Ordering::SeqCst) {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
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
    let stream = std::fs::read_to_string(&file)?;
    let mut produced: Vec<u64> = Vec::new();
    let began = Instant::now();
    let total = rate * seconds;
    for line in stream.lines().take(total as usize) {
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
    std::thread::sleep(Duration::from_secs(8)); // the last events' publication
    done.store(true, Ordering::SeqCst);
    reader.join().unwrap()?;
    stop(child)?;
    let arrivals = arrivals.lock().unwrap();
    let mut fresh: Vec<u64> = produced
        .iter()
        .filter_map(|&ts| {
            let s = slot(ts, 1_000);
            arrivals
                .range(s..)
                .next()
                .map(|(_, &at)| at.saturating_sub(ts))
        })
        .collect();
    fresh.sort_unstable();
    if fresh.is_empty() {
        bail!("no publication arrived");
    }
    let q = |p: f64| fresh[((fresh.len() - 1) as f64 * p) as usize];
    println!(
        "freshness at {rate} events/s for {seconds} s ({} of {} events seen published): p50 {} ms, p99 {} ms, max {} ms",
        fresh.len(), produced.len(), q(0.5), q(0.99), fresh[fresh.len() - 1]
    );
    println!("  (slide 1s, allowed_lateness 1s, idle_timeout 1s, publish_interval 250ms: the floor is about slide/2 + lateness)");
    Ok(())
}
