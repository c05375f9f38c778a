//! `meritflow run`: production mode. Kafka in, every policy kept current, results and rejects
//! back to Kafka, input offsets committed once their results are out. Runs until SIGINT or
//! SIGTERM, then drains and commits; a second signal ends it at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use meritflow_connectors::kafka::pipeline::{self, Publication, RunOptions};
use meritflow_connectors::kafka::sink::Sink;
use meritflow_connectors::kafka::source::Source;
use meritflow_pipelines::snapshot::LatestTables;
use meritflow_pipelines::time::format_rfc3339;

#[derive(Args)]
pub struct RunArgs {
    /// Configuration file: [kafka] says where to read and write (see `meritflow config --print-defaults`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Worker threads (input partitions are spread over them) and cluster processes: each
    /// process reads its own share of the partitions; process 0 publishes and serves SQL.
    #[command(flatten)]
    cluster: crate::cluster::ClusterArgs,
    /// How often a status line goes to stderr (0s: never).
    #[arg(long, default_value = "30s")]
    status_every: meritflow_pipelines::time::Span,
    /// A SQL query to run over the last published tables when the run stops (repeatable; on a
    /// cluster, process 0 answers).
    #[arg(long, value_name = "SQL")]
    query: Vec<String>,
    /// How those results are printed.
    #[arg(long, value_enum, default_value_t = crate::OutputFormat::Table)]
    format: crate::OutputFormat,
}

/// How long connecting may take before the broker counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// SIGINT and SIGTERM set the returned flag; a second one exits at once.
pub fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    Ok(stop)
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut config = crate::load_config(args.config.as_ref())?;
    let cluster = args.cluster.cluster()?;
    let primary = cluster.process == 0;
    if !primary {
        // Only process 0 holds the tables.
        config.sql.listen.clear();
    }
    let kafka = &config.kafka;
    let stop = stop_on_signals()?;
    let processes = cluster.addresses.len().max(1);
    let options = RunOptions {
        cluster,
        ..RunOptions::default()
    };
    let from = pipeline::load_checkpoint(&config, &options).map_err(|e| anyhow::anyhow!(e))?;
    let start = from
        .as_ref()
        .map(pipeline::start_positions)
        .unwrap_or_default();
    let cluster = &options.cluster;
    let source = Source::connect_share(kafka, CONNECT_TIMEOUT, cluster.process, processes, &start)?;
    if let Some(checkpoint) = &from {
        eprintln!(
            "meritflow: resuming from the checkpoint through {} in {} ({} partitions read on from its offsets)",
            format_rfc3339(checkpoint.at),
            config.checkpoint_dir().display(),
            checkpoint.partitions.len()
        );
    }
    let sink = Sink::connect(kafka, &Sink::output_topics(kafka), CONNECT_TIMEOUT)?;
    if processes > 1 {
        eprintln!(
            "meritflow: process {} of {}: {}",
            cluster.process,
            processes,
            if primary {
                "gathers the results, publishes them and serves SQL"
            } else {
                "reads its share of the partitions; process 0 publishes"
            }
        );
    }
    eprintln!(
        "meritflow: reading {} from {} as group {}; results to {}, {} and {}, rejects to {}. Ctrl-C drains and stops.",
        kafka.input_topics.join(", "),
        kafka.brokers,
        kafka.group_id,
        kafka.scores_topic,
        kafka.triggers_topic,
        kafka.statements_topic,
        kafka.rejects_topic
    );
    let _stdout_to_stderr = (processes > 1).then(crate::cluster::StdoutToStderr::new);
    let every = Duration::from_millis(args.status_every.millis());
    let mut last_status = Instant::now();
    let sql = crate::sql::LiveSql::start(&config)?;
    let mut last_tables = None;
    let summary = pipeline::run(
        &config,
        &options,
        source,
        sink,
        &stop,
        from,
        |p: &Publication| {
            sql.publish(p);
            if !every.is_zero() && last_status.elapsed() >= every {
                last_status = Instant::now();
                eprintln!("{}", status(p));
            }
            if !args.query.is_empty() && last_tables.is_none() {
                last_tables = Some(Arc::clone(p.tables));
            }
        },
    )
    .map_err(|e| anyhow::anyhow!("dataflow failed: {e}"))?;
    drop(_stdout_to_stderr);
    let stopped = stop.load(Ordering::SeqCst);
    eprintln!(
        "meritflow: {} — {} events counted, {} rejected, {} late; results out through {}; {} records written ({} sent again).",
        if stopped { "stopped" } else { "ended" },
        summary.events,
        summary.rejected,
        summary.late,
        summary.through.map_or("nothing yet".to_owned(), format_rfc3339),
        summary.sink.sent,
        summary.sink.resent
    );
    if !args.query.is_empty() && primary {
        let tables = last_tables
            .and_then(|t: Arc<LatestTables>| t.read())
            .map(|(_, tables)| tables)
            .unwrap_or_default();
        crate::emit(&crate::replay::answer(
            tables.iter(),
            &args.query,
            args.format,
        )?)?;
    }
    Ok(())
}

fn status(p: &Publication) -> String {
    let column = |name: &str| p.ingest.column(name).expect("ingest column");
    let sum = |name: &str| -> i64 {
        let at = column(name);
        p.ingest
            .rows
            .iter()
            .filter_map(|r| match r[at] {
                meritflow_pipelines::table::Cell::Int(v) => v,
                _ => None,
            })
            .sum()
    };
    format!(
        "meritflow: complete through {} · {} events, {} rejected, {} late · {} awaiting output · {} records written",
        format_rfc3339(p.through),
        sum("events"),
        sum("rejected"),
        sum("late"),
        p.in_flight,
        p.sink.sent
    )
}
