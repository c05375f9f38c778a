//! `meritflow demo`: the whole picture on one machine with nothing installed. An embedded
//! Kafka-protocol broker (librdkafka's mock cluster), a seeded simulated fleet producing into it
//! at an accelerated clock (fast, normal, slow and failing nodes, a card that under-reports its
//! VRAM, now and then a malformed message), `meritflow run`'s pipeline consuming from it, and the
//! live tables redrawn at each publication, read through SQL like any analyst would.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use meritflow_connectors::kafka::mock::Embedded;
use meritflow_connectors::kafka::pipeline::{self, Publication, RunOptions};
use meritflow_connectors::kafka::produce::route;
use meritflow_connectors::kafka::sink::Sink;
use meritflow_connectors::kafka::source::Source;
use meritflow_connectors::sim::{generate, FleetSpec};
use meritflow_pipelines::events::Event;
use meritflow_pipelines::kafka_config::KafkaConfig;
use meritflow_pipelines::time::{format_rfc3339, slot, Millis, Span};
use meritflow_queries::format::{render, Format};
use meritflow_queries::Catalog;

use crate::run::{stop_on_signals, CONNECT_TIMEOUT};

#[derive(Args)]
pub struct DemoArgs {
    /// Nodes in the simulated fleet.
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Simulated hours.
    #[arg(long, default_value_t = 4)]
    hours: u64,
    /// Seed of the simulation (same seed, same fleet).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 240)]
    speed: u64,
    /// Stop after this long (for example 30s); by default the demo ends with the simulated hours.
    #[arg(long = "for", value_name = "DURATION")]
    run_for: Option<Span>,
    /// Configuration file (policies; [kafka] is replaced by the embedded broker).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

const PARTITIONS: i32 = 4;
/// One message in this many is sent malformed, as a misconfigured exporter would.
const MALFORMED_EVERY: usize = 997;

const VIEW: &str =
    "SELECT node, tasks, round(node_score, 2) AS node_score, round(speed_score, 3) AS speed, \
     round(vram_score, 3) AS vram, round(timeout_score, 3) AS timeout, round(qos, 3) AS qos, \
     round(health, 3) AS health, excluded, round(selection_prob, 4) AS selection_prob \
     FROM crynux_qos ORDER BY qos DESC, node LIMIT 12";
const SUMMARY: &str =
    "SELECT count(*) AS active, sum(CASE WHEN excluded THEN 1 ELSE 0 END) AS excluded, \
     round(avg(qos), 3) AS mean_qos, round(min(health), 3) AS lowest_health FROM crynux_qos";
const INGEST: &str = "SELECT topic, sum(events) AS events, sum(rejected) AS rejected, \
     sum(late) AS late, max(watermark) AS watermark FROM ingest GROUP BY topic ORDER BY topic";
const LAST_REJECT: &str = "SELECT reason FROM rejects ORDER BY line DESC LIMIT 1";

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut config = crate::load_config(args.config.as_ref())?;
    if args.hours == 0 || args.nodes == 0 || args.speed == 0 {
        anyhow::bail!("--hours, --nodes and --speed must be positive");
    }
    let spec = FleetSpec {
        nodes: args.nodes,
        duration: args.hours * 3_600_000,
        seed: args.seed,
        ..FleetSpec::demo()
    };
    let mut events: Vec<Event> = Vec::new();
    generate(&spec, |e| {
        events.push(e);
        std::ops::ControlFlow::Continue(())
    });
    let slide = meritflow_pipelines::engine::grain(&config);
    let last_slot = events.iter().map(|e| slot(e.ts, slide)).max().unwrap_or(0);

    // The embedded broker's log goes with the demo: a checkpoint of it could never be resumed.
    config.checkpoints.every = meritflow_pipelines::time::Span(0);
    let embedded = Embedded::start(&config.kafka, PARTITIONS).map_err(anyhow::Error::msg)?;
    config.kafka = KafkaConfig {
        idle_timeout: Span(2_000),
        publish_interval: Span(1_000),
        // Simulated time runs ahead of the wall clock.
        max_future: Span(0),
        ..embedded.config(&config.kafka)
    };
    let stop = stop_on_signals()?;
    let started = Instant::now();
    if let Some(limit) = args.run_for {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let deadline = started + Duration::from_millis(limit.millis());
            while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            stop.store(true, Ordering::SeqCst);
        });
    }
    let fleet = {
        let (kafka, stop) = (config.kafka.clone(), Arc::clone(&stop));
        let topics: Vec<String> = kafka.input_topics.clone();
        let mut sink = Sink::connect(
            &kafka,
            &topics.iter().map(String::as_str).collect::<Vec<_>>(),
            CONNECT_TIMEOUT,
        )?;
        let (start, speed) = (spec.start, args.speed);
        std::thread::spawn(move || produce_paced(&kafka, &mut sink, &events, start, speed, &stop))
    };

    let source = Source::connect(&config.kafka, CONNECT_TIMEOUT)?;
    let sink = Sink::connect(
        &config.kafka,
        &Sink::output_topics(&config.kafka),
        CONNECT_TIMEOUT,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let clear = std::io::stdout().is_terminal();
    let header = format!(
        "meritflow demo · embedded Kafka, {PARTITIONS} partitions per topic · {} simulated nodes · clock x{}",
        spec.nodes, args.speed
    );
    let done_stop = Arc::clone(&stop);
    let sql = crate::sql::LiveSql::start(&config)?;
    let summary = pipeline::run(
        &config,
        &RunOptions::default(),
        source,
        sink,
        &stop,
        None,
        |p: &Publication| {
            sql.publish(p);
            let frame =
                draw(&runtime, p, &header).unwrap_or_else(|e| format!("(cannot draw: {e})\n"));
            let _ = crate::emit(&format!(
                "{}{frame}",
                if clear { "\x1b[2J\x1b[H" } else { "" }
            ));
            if p.through >= last_slot {
                done_stop.store(true, Ordering::SeqCst); // the whole simulated span is in
            }
        },
    )
    .map_err(|e| anyhow::anyhow!("dataflow failed: {e}"))?;
    stop.store(true, Ordering::SeqCst);
    let _ = fleet.join();
    drop(embedded);
    crate::emit(&format!(
        "\nDemo over after {:.0}s: {} events counted, {} rejected, {} late; {} records written to the output topics.\n\
         Where next:\n\
         - Against a real broker:  deploy/kafka-dev start && meritflow run --config deploy/meritflow.toml\n\
         - Feed it events:         meritflow produce --events events.jsonl --config deploy/meritflow.toml\n\
         - Replay files instead:   meritflow replay --events events.jsonl --query 'SELECT * FROM crynux_qos' --format table\n\
         - Every setting:          meritflow config --print-defaults\n",
        started.elapsed().as_secs_f64(),
        summary.events,
        summary.rejected,
        summary.late,
        summary.sink.sent
    ))?;
    Ok(())
}

/// Writes the fleet's events as simulated time reaches them, `speed` simulated ms per real ms.
fn produce_paced(
    kafka: &KafkaConfig,
    sink: &mut Sink,
    events: &[Event],
    start: Millis,
    speed: u64,
    stop: &AtomicBool,
) {
    let began = Instant::now();
    let mut next = 0;
    while next < events.len() && !stop.load(Ordering::SeqCst) {
        let now = start + began.elapsed().as_millis() as u64 * speed;
        while next < events.len() && events[next].ts <= now {
            let mut line = events[next].to_json();
            if next % MALFORMED_EVERY == MALFORMED_EVERY - 1 {
                // A field a broken exporter forgot: rejected with its name, never lost.
                line = line.replacen("\"ts\":", "\"time\":", 1);
            }
            sink.send(&route(kafka, line.as_bytes()));
            next += 1;
        }
        sink.poll();
        std::thread::sleep(Duration::from_millis(20));
    }
    sink.flush(Duration::from_secs(10));
}

fn draw(
    runtime: &tokio::runtime::Runtime,
    p: &Publication,
    header: &str,
) -> anyhow::Result<String> {
    let mut tables = p.tables.read().map(|(_, t)| t).unwrap_or_default();
    tables.push(p.ingest.clone());
    tables.push(crate::tables::rejects_table(p.rejects));
    let catalog = Catalog::new(&tables)?;
    let query = |sql: &str| -> anyhow::Result<String> {
        Ok(render(
            &runtime.block_on(catalog.query(sql))?,
            Format::Table,
        )?)
    };
    let last_reject = runtime.block_on(catalog.query(LAST_REJECT))?;
    let last_reject = meritflow_queries::format::render(&last_reject, Format::Csv)?
        .lines()
        .nth(1)
        .map(|r| format!("latest reject: {r}\n"))
        .unwrap_or_default();
    Ok(format!(
        "{header}\nresults complete through {} · {} messages awaiting output · {} records written\n\n\
         Kafka input (per topic):\n{}{last_reject}\n{}\ncrynux_qos, best 12 by QoS (live, recomputed incrementally as events arrive):\n{}",
        format_rfc3339(p.through),
        p.in_flight,
        p.sink.sent,
        query(INGEST)?,
        query(SUMMARY)?,
        query(VIEW)?,
    ))
}
