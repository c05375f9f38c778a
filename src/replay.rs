//! `meritflow replay`: JSONL files in, the dataflow run to the end, queries over the state as of
//! a moment. Same input, byte-identical output, whatever `--workers`.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use anyhow::Context;
use clap::{ArgMatches, Args};
use indicatif::{ProgressBar, ProgressStyle};
use meritflow_connectors::file;
use meritflow_connectors::statement_store::StatementStore;
use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine;
use meritflow_pipelines::events::Event;
use meritflow_pipelines::flood::FloodGuard;
use meritflow_pipelines::policies::crynux::late::{LateTaskEvent, LateTasks};
use meritflow_pipelines::reorder::{FeedKey, Reorder};
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
    let statements = replayed.store.read_all()?;
    let tables = crate::tables::snapshot(
        replayed.policies,
        &replayed.rejects,
        &replayed.late,
        &statements,
    );
    crate::emit(&answer(tables, &queries, args.format)?)?;
    Ok(())
}

/// The results of `queries` over `tables`, one after the other, separated by a blank line.
pub fn answer<T: std::borrow::Borrow<meritflow_pipelines::table::Table>>(
    tables: impl IntoIterator<Item = T>,
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
    pub late: Vec<LateTaskEvent>,
}

/// Reads the files as a stream, runs the dataflow through `as_of` as they come and writes the
/// closed statements. Nothing holds the input whole: decoded events are put in time order
/// within `[engine] replay_reorder` of each other and fed as they leave that buffer.
pub fn replay_input(input: &ReplayInput) -> anyhow::Result<Replayed> {
    let config = Arc::new(crate::load_config(input.config.as_ref())?);
    let started = Instant::now();
    let cluster = input.cluster.cluster()?;
    let primary = cluster.process == 0;
    let bounded = Some(config.engine.replay_reorder);
    // Every process of a cluster must stop at the same moment and read the same way: when no
    // moment is given, they all read the files once first, to find it and whether the files
    // are in order enough to stream.
    let (as_of, reorder) = if cluster.addresses.len() > 1 {
        let scan = scan(&input.events, &config)?;
        let reorder = if scan.in_order { bounded } else { None };
        (input.as_of.or(Some(scan.last)), reorder)
    } else {
        (input.as_of, bounded)
    };
    // timely's cluster set-up prints its connection progress on stdout, where the results go:
    // send it to stderr while the dataflow runs.
    let _stdout_to_stderr = (cluster.addresses.len() > 1).then(crate::cluster::StdoutToStderr::new);
    let mut attempt = replay_with(input, &config, &cluster, as_of, reorder)?;
    if let (Some(out_of_order), Some(capacity)) = (&attempt.read.out_of_order, reorder) {
        eprintln!(
            "meritflow: the files are out of time order by more than engine.replay_reorder ({capacity}) events ({out_of_order}): replaying again with the whole input held and sorted (sort the files or raise engine.replay_reorder to stream them)"
        );
        attempt = replay_with(input, &config, &cluster, as_of, None)?;
    }
    let Attempt { replayed, read } = attempt;
    give_back_freed_memory();
    let as_of = replayed.as_of;
    tracing::info!(
        as_of = %format_rfc3339(as_of),
        events = read.events,
        seconds = started.elapsed().as_secs_f64(),
        "replayed"
    );
    if !read.rejects.is_empty() {
        eprintln!(
            "meritflow: {} of {} lines rejected (query the `rejects` table for each line and its reason)",
            read.rejects.len(),
            read.events + read.rejects.len() as u64
        );
    }
    if !read.late.is_empty() {
        eprintln!(
            "meritflow: {} task events came more than task_grace ({}) after their task started and did not change it (see the `late_events` table)",
            read.late.len(),
            config.policy.crynux.task_grace
        );
    }

    let store = crate::statements::store(input.store.as_ref(), &config.statements.storage_dir);
    let policies = PolicySnapshot::take(&replayed.outputs, as_of);
    // The captures were made on the worker threads: give their memory back for the tables.
    drop(replayed);
    give_back_freed_memory();
    if primary {
        crate::statements::persist(&store, &policies.closed_statements())?;
    }
    Ok(Replayed {
        policies,
        primary,
        store,
        rejects: read.rejects,
        late: read.late,
    })
}

/// Returns memory freed by the worker threads to the system. glibc's malloc keeps what is
/// freed in the arena it came from, and the tables built next (on this thread) cannot reuse
/// the worker threads' arenas: without this, the replay's peak RSS is the dataflow's states
/// plus the tables, not the larger of the two.
fn give_back_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks glibc's own arenas; nothing of ours is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// One replay of the files: the dataflow's outputs and what reading left.
struct Attempt {
    replayed: engine::Replayed,
    read: Read,
}

/// Replays the files, their events put in order within `reorder` of each other (or all of
/// them held and sorted: `None`). Reading stops, and the outputs are incomplete, when an event
/// is further out of place than that ([`Read::out_of_order`]).
fn replay_with(
    input: &ReplayInput,
    config: &Arc<Config>,
    cluster: &engine::Cluster,
    as_of: Option<Millis>,
    reorder: Option<usize>,
) -> anyhow::Result<Attempt> {
    let (chunks, reading) = if cluster.process == 0 {
        let (tx, rx) = mpsc::sync_channel(IN_FLIGHT);
        let reader = Reader {
            config: Arc::clone(config),
            paths: input.events.clone(),
            as_of,
            reorder,
        };
        (
            rx.into_iter(),
            Some(std::thread::spawn(move || reader.read(tx))),
        )
    } else {
        // Only process 0 feeds.
        (mpsc::sync_channel(0).1.into_iter(), None)
    };
    let replayed = engine::replay_stream(config, cluster, chunks, as_of, None);
    let read = match reading {
        Some(reader) => reader
            .join()
            .map_err(|_| anyhow::anyhow!("the file reader panicked"))??,
        None => Read::default(),
    };
    let replayed = replayed.map_err(|e| anyhow::anyhow!("dataflow failed: {e}"))?;
    Ok(Attempt { replayed, read })
}

/// Chunks of events sent to the dataflow, and how many may wait for it.
const CHUNK_EVENTS: usize = 8192;
const IN_FLIGHT: usize = 4;

/// What a first pass over the files finds.
struct Scan {
    /// The slot of the last valid event: the moment a replay runs through when none is given.
    last: Millis,
    /// Whether a reorder of `engine.replay_reorder` puts every event in order.
    in_order: bool,
}

fn scan(paths: &[PathBuf], config: &Config) -> anyhow::Result<Scan> {
    let mut admission = Admission::new(config);
    let mut reorder = Reorder::new(config.engine.replay_reorder);
    let mut found = Scan {
        last: 0,
        in_order: true,
    };
    file::stream(
        paths,
        |event, seq| {
            let key = admission.key(&event, seq)?;
            found.last = found.last.max(key.0);
            found.in_order &= reorder.push(key, (), |_, ()| {}).is_ok();
            Ok(ControlFlow::Continue(()))
        },
        |_| {},
    )?;
    Ok(found)
}

/// What every pass over the files does to each valid event, in input order: the flood guard
/// (the same events refused on every pass), then the event's place in feed order.
struct Admission {
    guard: FloodGuard,
    grain: Millis,
}

impl Admission {
    fn new(config: &Config) -> Admission {
        Admission {
            guard: FloodGuard::new(config),
            grain: engine::grain(config),
        }
    }

    fn key(&mut self, event: &Event, seq: u64) -> Result<FeedKey, file::Refused> {
        self.guard.admit(event)?;
        Ok((slot(event.ts, self.grain), seq))
    }
}

/// What reading the files left beside the events fed.
#[derive(Default)]
struct Read {
    /// Valid events fed to the dataflow.
    events: u64,
    rejects: Vec<file::Reject>,
    late: Vec<LateTaskEvent>,
    /// The first event further out of place than the reorder holds, when reading stopped there.
    out_of_order: Option<String>,
}

/// Reads the files on its own thread: decode, flood guard and sequence numbers in input order
/// (as `file::stream` gives them), then time order through a bounded [`Reorder`], then chunks to
/// the dataflow. Task events that come too late for their task are found on the way, in the
/// order the dataflow sees them.
struct Reader {
    config: Arc<Config>,
    paths: Vec<PathBuf>,
    as_of: Option<Millis>,
    /// How many events are held to put them in order; `None`: all of them.
    reorder: Option<usize>,
}

impl Reader {
    fn read(self, to_dataflow: mpsc::SyncSender<Vec<(Event, u64)>>) -> anyhow::Result<Read> {
        let config = &self.config;
        let bar = progress_bar(file::total_bytes(&self.paths), "replaying");
        let mut admission = Admission::new(config);
        let mut reorder = Reorder::new(self.reorder.unwrap_or(usize::MAX));
        let mut late_tasks = config
            .runs("crynux")
            .then(|| LateTasks::new(&config.policy.crynux));
        let mut read = Read::default();
        let mut chunk = Vec::with_capacity(CHUNK_EVENTS);
        let crynux_slide = config.policy.crynux.slide.millis();
        let mut release = |(_, seq): FeedKey, event: Event| {
            // Listed when it counts at or before the moment, as the dataflow's rows show it.
            if let Some(late) = late_tasks
                .as_mut()
                .and_then(|t| t.observe(&event, seq))
                .filter(|l| self.as_of.is_none_or(|a| slot(l.ts, crynux_slide) <= a))
            {
                read.late.push(late);
            }
            chunk.push((event, seq));
            if chunk.len() == CHUNK_EVENTS {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_EVENTS));
                // A dataflow that stopped has its own error; reading on costs nothing more.
                let _ = to_dataflow.send(full);
            }
        };
        let mut events = 0;
        let mut out_of_order = None;
        read.rejects = file::stream(
            &self.paths,
            |event, seq| {
                let key = admission.key(&event, seq)?;
                let ts = event.ts;
                match reorder.push(key, event, &mut release) {
                    Ok(()) => {
                        events += 1;
                        Ok(ControlFlow::Continue(()))
                    }
                    Err(late) => {
                        out_of_order = Some(format!(
                            "an event at {} came after events counted at {} had been replayed",
                            format_rfc3339(ts),
                            format_rfc3339(late.released)
                        ));
                        Ok(ControlFlow::Break(()))
                    }
                }
            },
            |bytes| bar.set_position(bytes),
        )?;
        if out_of_order.is_none() {
            reorder.finish(&mut release);
        }
        drop(release);
        if !chunk.is_empty() && out_of_order.is_none() {
            let _ = to_dataflow.send(chunk);
        }
        bar.finish_and_clear();
        read.events = events;
        read.out_of_order = out_of_order;
        read.late.sort_by_key(|l| l.seq);
        Ok(read)
    }
}
