//! `meritflow replay`: JSONL files in, the dataflow run to the end, queries over the state as of
//! a moment. Same input, byte-identical output, whatever `--workers`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{ArgMatches, Args};
use indicatif::{ProgressBar, ProgressStyle};
use meritflow_connectors::file;
use meritflow_connectors::statement_store::StatementStore;
use meritflow_pipelines::engine;
use meritflow_pipelines::flood::FloodGuard;
use meritflow_pipelines::policies::crynux::late::late_task_events;
use meritflow_pipelines::snapshot::PolicySnapshot;
use meritflow_pipelines::time::{format_rfc3339, parse_rfc3339, slot, Millis};
use meritflow_queries::format::render;
use meritflow_queries::Catalog;

use crate::OutputFormat;

#[derive(Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    input: ReplayInput,
    /// A SQL query to run over the final state (repeatable; runs in the order given).
    #[arg(long, value_name = "SQL")]
    query: Vec<String>,
    /// A file holding one SQL query (repeatable; runs in the order given among --query).
    #[arg(long, value_name = "FILE")]
    query_file: Vec<PathBuf>,
    /// How results are printed.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

/// What to replay, shared by `replay` and `explain`.
#[derive(Args)]
pub struct ReplayInput {
    /// JSONL event files, replayed in the order given.
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    pub events: Vec<PathBuf>,
    /// Configuration file (defaults apply to everything it does not set).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The moment the queries see: RFC 3339 or epoch milliseconds. Default: the largest valid
    /// event ts, rounded up to the slide.
    #[arg(long, value_name = "TS", value_parser = parse_ts)]
    pub as_of: Option<Millis>,
    /// Where closed periods' statements are written (once) and read from (default: the
    /// config's statements.storage_dir).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Worker threads and cluster processes. The output does not depend on them.
    #[command(flatten)]
    pub cluster: crate::cluster::ClusterArgs,
}

fn parse_ts(text: &str) -> Result<Millis, String> {
    text.parse::<Millis>()
        .ok()
        .or_else(|| parse_rfc3339(text))
        .ok_or_else(|| {
            format!("`{text}` is neither RFC 3339 (2026-10-01T00:00:00Z) nor epoch milliseconds")
        })
}

/// One query to run, from `--query` or `--query-file`.
pub enum QuerySource {
    Inline,
    File,
}

/// The order in which `--query` and `--query-file` were given.
pub fn query_order(matches: &ArgMatches) -> Vec<QuerySource> {
    let Some(("replay", sub)) = matches.subcommand() else {
        return Vec::new();
    };
    let mut order: Vec<(usize, QuerySource)> = Vec::new();
    if let Some(indices) = sub.indices_of("query") {
        order.extend(indices.map(|i| (i, QuerySource::Inline)));
    }
    if let Some(indices) = sub.indices_of("query_file") {
        order.extend(indices.map(|i| (i, QuerySource::File)));
    }
    order.sort_by_key(|(i, _)| *i);
    order.into_iter().map(|(_, s)| s).collect()
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    let template = format!("{{spinner}} {what} {{bar:30}} {{percent:>3}}% {{msg}} ({{elapsed}})");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
    bar
}

pub fn run(args: ReplayArgs, order: Vec<QuerySource>) -> anyhow::Result<()> {
    let mut inline = args.query.into_iter();
    let mut files = args.query_file.into_iter();
    let mut queries = Vec::new();
    for source in order {
        queries.push(match source {
            QuerySource::Inline => inline.next().expect("counted by clap"),
            QuerySource::File => {
                let path = files.next().expect("counted by clap");
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read --query-file {}", path.display()))?
            }
        });
    }
    if queries.is_empty() {
        anyhow::bail!("nothing to print: give --query SQL or --query-file FILE (tables: nodes, crynux_qos, crynux_task_pay, triggers, icp_node_daily, icp_node_daily_live, icp_subnet_daily, icp_provider_daily, sla, sla_targets, sla_levels, swap_balances, swap_income, relay, relay_changes, gpu_latest, statements, rejects, late_events)");
    }

    let replayed = replay_input(&args.input)?;
    if !replayed.primary {
        return Ok(()); // process 0 has the results
    }
    let tables = crate::tables::snapshot(
        &replayed.policies,
        &replayed.rejects,
        &replayed.late,
        &replayed.store.read_all()?,
    );
    crate::emit(&answer(&tables, &queries, args.format)?)?;
    Ok(())
}

/// The results of `queries` over `tables`, one after the other, separated by a blank line.
pub fn answer(
    tables: &[meritflow_pipelines::table::Table],
    queries: &[String],
    format: OutputFormat,
) -> anyhow::Result<String> {
    let catalog = Catalog::new(tables)?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let mut out = String::new();
    for (i, sql) in queries.iter().enumerate() {
        let result = runtime
            .block_on(catalog.query(sql))
            .with_context(|| format!("query {} failed", i + 1))?;
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&render(&result, format.into())?);
    }
    Ok(out)
}

/// A finished replay: the outputs complete through `as_of`, and what did not count.
pub struct Replayed {
    /// Every policy's tables and rows as of the replay's moment.
    pub policies: PolicySnapshot,
    /// Process 0 of the cluster (or the only process): it holds the results and prints them.
    pub primary: bool,
    /// The statement store the closed statements went to.
    pub store: StatementStore,
    pub rejects: Vec<file::Reject>,
    pub late: Vec<meritflow_pipelines::policies::crynux::late::LateTaskEvent>,
}

/// Reads the files, runs the dataflow through `as_of` and writes the closed statements.
pub fn replay_input(input: &ReplayInput) -> anyhow::Result<Replayed> {
    let config = crate::load_config(input.config.as_ref())?;
    let started = Instant::now();
    let bytes = file::total_bytes(&input.events);
    let bar = progress_bar(bytes, "reading");
    let mut guard = FloodGuard::new(&config);
    let loaded = file::load_admitting(
        &input.events,
        |event| guard.admit(event),
        |read| bar.set_position(read),
    )?;
    bar.finish_and_clear();
    let total_lines = loaded.events.len() + loaded.rejects.len();
    if !loaded.rejects.is_empty() {
        eprintln!(
            "meritflow: {} of {} lines rejected (query the `rejects` table for each line and its reason)",
            loaded.rejects.len(),
            total_lines
        );
    }
    let slide = engine::grain(&config);
    let as_of = input
        .as_of
        .or_else(|| {
            loaded
                .events
                .iter()
                .map(|(e, _)| e.ts)
                .max()
                .map(|ts| slot(ts, slide))
        })
        .unwrap_or(0);
    tracing::info!(as_of = %format_rfc3339(as_of), events = loaded.events.len(), "replaying");

    // Task events are crynux's: a run without it lists none.
    let late = if config.runs("crynux") {
        late_task_events(&loaded.events, as_of, &config.policy.crynux)
    } else {
        Vec::new()
    };
    if !late.is_empty() {
        eprintln!(
            "meritflow: {} task events came more than task_grace ({}) after their task started and did not change it (see the `late_events` table)",
            late.len(),
            config.policy.crynux.task_grace
        );
    }
    let count = loaded.events.len() as u64;
    let bar = Arc::new(progress_bar(count, "replaying"));
    let tick = Arc::clone(&bar);
    let cluster = input.cluster.cluster()?;
    // timely's cluster set-up prints its connection progress on stdout, where the results go:
    // send it to stderr while the dataflow runs.
    let _stdout_to_stderr = (cluster.addresses.len() > 1).then(crate::cluster::StdoutToStderr::new);
    let outputs = engine::replay_on(
        &config,
        &cluster,
        loaded.events,
        as_of,
        as_of,
        Arc::new(move |n| tick.set_position(n)),
    )
    .map_err(|e| anyhow::anyhow!("dataflow failed: {e}"))?;
    bar.finish_and_clear();
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "replayed");

    let store = crate::statements::store(input.store.as_ref(), &config.statements.storage_dir);
    let policies = PolicySnapshot::take(&outputs, as_of);
    let primary = cluster.process == 0;
    if primary {
        crate::statements::persist(&store, &policies.closed_statements())?;
    }
    Ok(Replayed {
        policies,
        primary,
        store,
        rejects: loaded.rejects,
        late,
    })
}
