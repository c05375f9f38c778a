//! The streaming run: Kafka in, the same dataflow as `replay`, results and rejects back out.
//!
//! ```text
//! ingest thread ── raw batches, by partition ──► timely workers: decode, feed at the event's slot
//!   │ polls, tracks watermarks                          │ reports (offset, slot), rejects, late
//!   │ sets the completed slot ◄── watermarks ──────────┘
//!   ▼
//! publisher thread: every publish_interval, once outputs are complete through T:
//!   changed crynux_qos rows and trigger rows ─► sinks; rejects ─► sink; flush (waits out an
//!   outage); then commit each partition up to its first message not yet out.
//! ```
//!
//! Events are fed at their slot as they come, in any order, as long as the slot is after the
//! completed one; the completed slot follows the minimum watermark over partitions (see
//! `watermark` for idle partitions and the end of a quiet stream). An event at
//! or before it is late: counted in `ingest`, written to the rejects topic, not fed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meritflow_pipelines::config::Config;
use meritflow_pipelines::control::Control;
use meritflow_pipelines::engine::{self, Cluster, Outputs, Restore, Session, WorkerCut};
use meritflow_pipelines::events::decode;
use meritflow_pipelines::flood::FloodGuard;
use meritflow_pipelines::id::Id;
use meritflow_pipelines::policies::crynux::policy::CrynuxPolicy;
use meritflow_pipelines::policies::crynux::scores::{
    fingerprint, network_json, node_row, CrynuxChanges, ScoreBook, NETWORK_KEY,
};
use meritflow_pipelines::snapshot::{closed_statements, LatestTables, PolicySnapshot};
use meritflow_pipelines::statement::{statement_table, StatementRow};
use meritflow_pipelines::triggers::trigger_table;

use crate::checkpoint_store::{Checkpoint, CheckpointStore, PartitionCut, Published};
use crate::statement_store::{by_statement, StatementStore, Written};
use meritflow_pipelines::table::{int, Cell, ColumnType::*, Table};
use meritflow_pipelines::time::{format_rfc3339, Millis};

use super::commit::{CommitTracker, OUT_WITH_NEXT_PUBLICATION};
use super::sink::{Record, Sink, SinkStats};
use super::source::{Message, Rebalanced, Source};
use super::watermark::{Outcome, PartitionId, PartitionStats, Watermarks};
use crate::file::{shown_payload, Reject, MAX_LINE_BYTES};
use meritflow_pipelines::policy::PolicyReject;

/// How the streaming run is laid out.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Timely worker threads of this process (partitions are spread over them), and the other
    /// processes of the cluster, if any: each reads its own share of the partitions (see
    /// `Source::connect`), process 0 gathers the outputs and publishes them.
    pub cluster: Cluster,
    /// Most messages taken from the consumer in one poll.
    pub batch: usize,
    /// Rejects kept in memory for the `rejects` table (all of them go to the rejects topic).
    pub keep_rejects: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            cluster: Cluster::local(1),
            batch: 4096,
            keep_rejects: 1000,
        }
    }
}

/// What a publication made visible, for whoever watches (the demo, the status line).
pub struct Publication<'a> {
    /// Outputs are complete through this moment.
    pub through: Millis,
    /// The policies' tables, built when read (as of the latest publication by then).
    pub tables: &'a Arc<LatestTables>,
    /// `ingest(topic, partition, offset, committed, events, rejected, late, watermark)`.
    pub ingest: Table,
    /// The most recent rejects, late events included.
    pub rejects: &'a VecDeque<Reject>,
    /// Messages consumed whose results are not yet out.
    pub in_flight: usize,
    pub sink: SinkStats,
}

/// Totals of a run, at its end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub events: u64,
    pub rejected: u64,
    pub late: u64,
    pub through: Option<Millis>,
    pub sink: SinkStats,
}

/// A message that goes to the rejects topic.
struct Rejected {
    partition: PartitionId,
    offset: i64,
    kind: Option<String>,
    reason: String,
    payload: Vec<u8>,
}

/// What a worker did with one batch, in offset order per partition.
#[derive(Default)]
struct WorkerReport {
    /// (partition, offset, slot whose publication makes it out).
    consumed: Vec<(PartitionId, i64, Millis)>,
    rejected: Vec<Rejected>,
}

/// What the workers tell the publisher, in order.
enum ToPublisher {
    Batch(WorkerReport),
    /// A worker's part of the checkpoint at `at`, after every report it covers.
    Cut(CutPiece),
}

struct CutPiece {
    /// The worker's index in this process.
    worker: usize,
    at: Millis,
    cut: WorkerCut,
    /// The worker's partitions: counters and newest ts as of the cut.
    partitions: Vec<(PartitionId, PartitionStats, Option<Millis>)>,
}

/// Per partition, what a restored run does not count again.
struct Skip {
    /// Messages before it are in the checkpoint.
    resume: i64,
    /// From `resume` through `last`, the messages not in `after_cut` are in the checkpoint too.
    last: i64,
    after_cut: std::collections::HashSet<i64>,
}

impl Skip {
    fn covers(&self, offset: i64) -> bool {
        offset < self.resume || (offset <= self.last && !self.after_cut.contains(&offset))
    }
}

type Skips = HashMap<PartitionId, Skip>;

/// How far before a checkpoint's position a restored partition is read from. Kafka answers a
/// fetch at an offset inside a record batch with that whole batch (the client drops what
/// comes before the offset); some Kafka-protocol brokers (tansu 0.6) answer with the batch
/// *after* it, which would lose the rest of the batch. Reading from this many messages earlier
/// (librdkafka's largest producer batch by default) lands at or before the position on both;
/// what comes before it is skipped, and a partition whose first message is still after its
/// position is reported as an error.
pub const SEEK_BACK: i64 = 10_000;

/// Where a run restored from `checkpoint` reads each partition from: (topic, partition, offset).
pub fn start_positions(checkpoint: &Checkpoint) -> Vec<(String, i32, i64)> {
    checkpoint
        .partitions
        .iter()
        .map(|p| (p.topic.clone(), p.partition, (p.resume - SEEK_BACK).max(0)))
        .collect()
}

/// State shared by the threads of a run.
struct Shared {
    marks: Mutex<Watermarks>,
    /// The completed slot plus one (0: nothing completed yet): workers advance their input to it.
    target: AtomicU64,
    /// Results are out through this moment minus one (0: nothing yet). Process 0's publisher
    /// sets it; on the other processes it is what process 0 told them, and releases commits.
    published: AtomicU64,
    /// Another process of the cluster is stopping: this one stops too (a cluster drains whole).
    stopping: AtomicBool,
    /// A checkpoint asked for at this moment minus one (0: none): `target` stays at or before it
    /// until every worker has taken its part.
    cut: AtomicU64,
    /// The last checkpoint's moment plus one (0: none yet).
    last_cut: AtomicU64,
    /// Checkpoints are taken (one process, `checkpoints.every` not zero).
    checkpointing: bool,
    skips: Skips,
    started: Instant,
}

impl Shared {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// Runs until `stop` is set, then drains: what was received is decoded and fed, outputs are
/// published through the completed slot, and offsets committed for what is out.
///
/// With `from` (see [`load_checkpoint`]; `source` must read from its offsets), the run starts
/// from that checkpoint: the states, the tables, the counters and what was written before.
pub fn run(
    config: &Config,
    options: &RunOptions,
    source: Source,
    sink: Sink,
    stop: &AtomicBool,
    from: Option<Checkpoint>,
    on_publish: impl FnMut(&Publication) + Send,
) -> Result<RunSummary, String> {
    let kafka = &config.kafka;
    let slide = meritflow_pipelines::engine::grain(config);
    let workers = options.cluster.workers.max(1);
    let primary = options.cluster.process == 0;
    let checkpointing = takes_checkpoints(config, &options.cluster);
    if !checkpointing && config.checkpoints.every.millis() > 0 {
        tracing::warn!("checkpoints are not taken on a cluster of processes yet: a restart re-reads from the committed offsets with empty windows");
    }
    let mut marks = Watermarks::new(
        kafka.allowed_lateness.millis(),
        kafka.idle_timeout.millis(),
        slide,
    );
    let mut skips = Skips::new();
    let mut restore = None;
    let mut published_before = Published::default();
    let started = Instant::now();
    if let Some(checkpoint) = from {
        for cut in &checkpoint.partitions {
            let Some(id) = source.partition_id(&cut.topic, cut.partition) else {
                continue; // a topic no longer read
            };
            // The messages after the cut are counted when they are read again.
            let stats = PartitionStats {
                last_offset: (cut.last >= 0).then_some(cut.last),
                committed: None,
                events: cut.events,
                rejected: cut.rejected,
                late: cut.late,
            };
            marks.restore(id, stats, cut.newest_ts, 0);
            skips.insert(
                id,
                Skip {
                    resume: cut.resume,
                    last: cut.last,
                    after_cut: cut.after_cut.iter().copied().collect(),
                },
            );
        }
        published_before = checkpoint.published;
        restore = Some(Restore {
            at: checkpoint.at,
            workers: checkpoint.workers,
            outputs: checkpoint.outputs,
        });
    }
    let resumed_at = restore.as_ref().map(|r| r.at);
    let shared = Arc::new(Shared {
        marks: Mutex::new(marks),
        target: AtomicU64::new(resumed_at.map_or(0, |at| at + 1)),
        published: AtomicU64::new(0),
        stopping: AtomicBool::new(false),
        cut: AtomicU64::new(0),
        last_cut: AtomicU64::new(resumed_at.map_or(0, |at| at + 1)),
        checkpointing,
        skips,
        started,
    });
    let (batch_txs, batch_rxs): (Vec<_>, Vec<_>) = (0..workers)
        .map(|_| mpsc::sync_channel::<Vec<Message>>(64))
        .unzip();
    let (report_tx, report_rx) = mpsc::channel::<ToPublisher>();
    let (outputs_tx, outputs_rx) = mpsc::channel::<Arc<Outputs>>();
    let done = AtomicBool::new(false);

    let driver = worker_driver(
        Arc::clone(&shared),
        batch_rxs,
        report_tx,
        outputs_tx,
        kafka.max_future.millis(),
        FloodGuard::new(config),
    );
    let idle = Duration::from_millis(kafka.idle_timeout.millis());
    let every = Duration::from_millis(config.checkpoints.every.millis());
    std::thread::scope(|scope| {
        let ingest = scope.spawn(|| {
            ingest(
                &source,
                batch_txs,
                &shared,
                stop,
                options.batch,
                idle,
                every,
            )
        });
        let publisher = scope.spawn(|| {
            let mut publisher = Publisher {
                config,
                sink,
                source: &source,
                tracker: CommitTracker::default(),
                // Only the keys matter after a restart: every row is written again.
                scores: published_before
                    .scores
                    .into_iter()
                    .map(|(node, digest)| (Id::from(node.as_str()), digest.parse().unwrap_or(0)))
                    .collect(),
                triggers: published_before.triggers,
                store: StatementStore::new(&config.statements.storage_dir),
                stated: Default::default(),
                published: None,
                recent: VecDeque::new(),
                keep: options.keep_rejects,
                summary: RunSummary::default(),
                primary,
                checkpoints: checkpointing.then(|| {
                    CheckpointStore::new(config.checkpoint_dir(), config.checkpoints.keep)
                }),
                fingerprint: config_fingerprint(config),
                workers,
                pieces: Vec::new(),
                cut: None,
                refresh: resumed_at.is_some(),
                resumed_at,
                book: None,
            };
            publisher.run(outputs_rx, report_rx, &shared, &done, on_publish)
        });
        let ran = engine::run_from(config, &options.cluster, restore, driver);
        // Whatever ended the workers, the ingest thread must end too.
        stop.store(true, Ordering::SeqCst);
        done.store(true, Ordering::SeqCst);
        ingest
            .join()
            .map_err(|_| "the ingest thread panicked".to_owned())?;
        let summary = publisher
            .join()
            .map_err(|_| "the publisher thread panicked".to_owned())?;
        ran?;
        Ok(summary)
    })
}

fn owner(id: PartitionId, workers: usize) -> usize {
    (id.topic as usize * 31 + id.partition as usize) % workers
}

/// The ingest thread's line to the drain checker: quiet partitions out, the broker's answers
/// back, each with the moment it was asked.
struct Asked {
    ask: SyncSender<(Vec<PartitionId>, u64)>,
    answers: Receiver<(Vec<(PartitionId, bool)>, u64)>,
}

impl Asked {
    /// Starts the drain checker on `scope`: each answer is a round trip per partition (up to
    /// 2 s when the broker is away), and reading the partitions that are not quiet must not
    /// wait for it. It ends when this is dropped.
    fn start<'s>(scope: &'s std::thread::Scope<'s, '_>, source: &'s Source) -> Asked {
        let (ask, questions) = mpsc::sync_channel::<(Vec<PartitionId>, u64)>(0);
        let (tell, answers) = mpsc::channel();
        scope.spawn(move || {
            for (quiet, asked_at) in questions {
                let answer = (source.drained(&quiet, Duration::from_secs(2)), asked_at);
                if tell.send(answer).is_err() {
                    return;
                }
            }
        });
        Asked { ask, answers }
    }
}

/// Polls in batches and hands each message to the worker that owns its partition; after each
/// batch, moves the completed slot on from the watermarks.
fn ingest(
    source: &Source,
    senders: Vec<SyncSender<Vec<Message>>>,
    shared: &Shared,
    stop: &AtomicBool,
    batch: usize,
    idle_timeout: Duration,
    checkpoint_every: Duration,
) {
    std::thread::scope(|scope| {
        let asked = Asked::start(scope, source);
        let mut last_cut_asked = Instant::now();
        let mut read: HashMap<PartitionId, i64> = HashMap::new();
        let workers = senders.len();
        let mut polled = Vec::with_capacity(batch);
        let mut routed: Vec<Vec<Message>> = vec![Vec::new(); workers];
        let mut last_drain_check = Instant::now();
        let mut drained_since: Option<Instant> = None;
        let mut was_all_idle = false;
        while !stop.load(Ordering::SeqCst) && !shared.stopping.load(Ordering::SeqCst) {
            source.poll_batch(batch, Duration::from_millis(50), &mut polled);
            polled.retain(|m| first_delivery(m, &mut read, &shared.skips));
            let polled_any = !polled.is_empty();
            let now = shared.now();
            if polled_any && was_all_idle {
                shared.marks.lock().expect("watermark lock").wake_all(now);
            }
            {
                let mut marks = shared.marks.lock().expect("watermark lock");
                for change in source.take_rebalances() {
                    match change {
                        Rebalanced::Assigned(ids) => {
                            ids.into_iter().for_each(|id| marks.assigned(id, now))
                        }
                        Rebalanced::Revoked(ids) => {
                            ids.into_iter().for_each(|id| marks.revoked(id))
                        }
                    }
                }
                let mut counts: HashMap<PartitionId, u64> = HashMap::new();
                for m in &polled {
                    *counts.entry(m.partition).or_default() += 1;
                }
                for (id, count) in counts {
                    marks.handed_on(id, count, now);
                }
            }
            for m in polled.drain(..) {
                routed[owner(m.partition, workers)].push(m);
            }
            for (worker, messages) in routed.iter_mut().enumerate() {
                if !messages.is_empty() && senders[worker].send(std::mem::take(messages)).is_err() {
                    return; // the workers are gone (they failed); the run is ending
                }
            }
            // Silence excuses a partition only once the broker confirms it has been read to its
            // end; asked at most every half second, one question at a time.
            while let Ok((answers, asked_at)) = asked.answers.try_recv() {
                let mut marks = shared.marks.lock().expect("watermark lock");
                for (id, drained) in answers {
                    marks.confirm_drained(id, drained, asked_at);
                }
            }
            if last_drain_check.elapsed() >= Duration::from_millis(500) {
                let quiet = shared.marks.lock().expect("watermark lock").quiet(now);
                if !quiet.is_empty() && asked.ask.try_send((quiet, now)).is_ok() {
                    last_drain_check = Instant::now();
                }
            }
            // The end of a quiet stream: every partition idle over a whole idle timeout. One
            // confirmation is not enough: after an outage the broker answers before the producers
            // it also held up have written again.
            let all_idle = shared.marks.lock().expect("watermark lock").all_idle(now);
            if !all_idle || polled_any {
                drained_since = None;
            } else {
                drained_since.get_or_insert_with(Instant::now);
            }
            let drained = drained_since.is_some_and(|since| since.elapsed() >= idle_timeout);
            was_all_idle = all_idle;
            let complete = shared
                .marks
                .lock()
                .expect("watermark lock")
                .advance(now, drained);
            // While a checkpoint is being taken the completed slot stays at its cut.
            let cut = shared.cut.load(Ordering::SeqCst);
            if let Some(c) = complete {
                let target = if cut == 0 { c + 1 } else { (c + 1).min(cut) };
                shared.target.fetch_max(target, Ordering::SeqCst);
            }
            if shared.checkpointing && cut == 0 && last_cut_asked.elapsed() >= checkpoint_every {
                let target = shared.target.load(Ordering::SeqCst);
                if target > shared.last_cut.load(Ordering::SeqCst) {
                    last_cut_asked = Instant::now();
                    shared.cut.store(target, Ordering::SeqCst);
                }
            }
        }
    });
}

/// Whether `m` is new in this run: a broker may deliver again what it delivered already (after
/// a seek back), and the copy is dropped here. A restored partition's first message is checked
/// against the checkpoint's position.
fn first_delivery(m: &Message, read: &mut HashMap<PartitionId, i64>, skips: &Skips) -> bool {
    let seen = read.entry(m.partition).or_insert(-1);
    if m.offset <= *seen {
        return false;
    }
    let first = *seen < 0;
    *seen = m.offset;
    if let Some(skip) = skips
        .get(&m.partition)
        .filter(|s| first && m.offset > s.resume)
    {
        tracing::error!(
            topic = m.partition.topic,
            partition = m.partition.partition,
            first = m.offset,
            resume = skip.resume,
            "after the restart the broker's first message is past the checkpoint's position: messages {}..{} are not read (a broker that answers a fetch with the batch after the one holding the offset, and batches of over {SEEK_BACK} messages); move the checkpoint directory away to rebuild the state from the log",
            skip.resume,
            m.offset - 1
        );
    }
    true
}

type Driver = Box<dyn Fn(Session) + Send + Sync>;

fn worker_driver(
    shared: Arc<Shared>,
    receivers: Vec<Receiver<Vec<Message>>>,
    reports: mpsc::Sender<ToPublisher>,
    outputs: mpsc::Sender<Arc<Outputs>>,
    max_future: Millis,
    guard: FloodGuard,
) -> Driver {
    let workers = receivers.len();
    let receivers = Mutex::new(receivers.into_iter().map(Some).collect::<Vec<_>>());
    let reports = Mutex::new(reports);
    let outputs = Mutex::new(Some(outputs));
    Box::new(move |mut session: Session| {
        // This process's workers are numbered from process × workers on.
        let index = session.index() % workers;
        if let Some(tx) = outputs.lock().expect("outputs lock").take() {
            let _ = tx.send(Arc::clone(session.outputs()));
        }
        let rx = receivers.lock().expect("receivers lock")[index]
            .take()
            .expect("one receiver per worker");
        let reports = reports.lock().expect("reports lock").clone();
        // One worker per process speaks for it to the other processes.
        let lead = index == 0;
        let mut told = 0;
        let mut closed = false;
        // The last checkpoint this worker took part in, as its moment plus one.
        let mut taken = shared.last_cut.load(Ordering::SeqCst);
        let mut guard = guard.clone();
        while !closed {
            let mut batches = Vec::new();
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(batch) => batches.push(batch),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => closed = true,
            }
            while !closed && batches.len() < 16 {
                match rx.try_recv() {
                    Ok(batch) => batches.push(batch),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => closed = true,
                }
            }
            for batch in batches {
                let report = feed(&mut session, batch, &shared, max_future, &mut guard);
                let _ = reports.send(ToPublisher::Batch(report));
            }
            // Every worker sees every cut, the last one too: ingest asks for none once it has
            // ended, and a worker's last round comes after that.
            let cut = shared.cut.load(Ordering::SeqCst);
            if cut > taken {
                take_cut(&mut session, cut - 1, &shared, &reports, workers);
                taken = cut;
            }
            let target = shared.target.load(Ordering::SeqCst);
            if target > session.input_time() {
                session.advance_to(target);
                guard.forget_before(session.input_time());
            }
            if lead {
                pass_on(session.control(), &shared, &mut told);
            }
            session.step();
        }
        // Every worker has fed all it was given: the completed slot no longer moves.
        session.rendezvous();
        let target = shared.target.load(Ordering::SeqCst);
        let through = target.saturating_sub(1);
        if session.control().processes() == 1 {
            // A clean stop leaves a checkpoint of where it stopped.
            if shared.checkpointing && target > taken {
                take_cut(&mut session, through, &shared, &reports, workers);
            }
            session.stop_after(through);
            return;
        }
        // A cluster ends at the least of its processes' completed slots: results past it
        // would miss what the slowest process had not read yet.
        if lead {
            session.control().tell(told::STOPPING, through + 1);
        }
        let as_of = loop {
            if let Some(stopping) = session.control().heard_from_all(told::STOPPING) {
                break stopping - 1;
            }
            session.step();
            std::thread::sleep(Duration::from_millis(1));
        };
        if !lead {
            session.stop_after(as_of);
            return;
        }
        let mut ending = Ending::default();
        session.stop_then(as_of, |control| {
            ending.over(control, &shared, as_of, &mut told)
        });
    })
}

/// Takes this worker's part of the checkpoint at `at` and hands it to the publisher.
fn take_cut(
    session: &mut Session,
    at: Millis,
    shared: &Shared,
    reports: &mpsc::Sender<ToPublisher>,
    workers: usize,
) {
    let index = session.index() % workers;
    session.checkpoint(at, |cut| {
        let marks = shared.marks.lock().expect("watermark lock");
        let partitions = marks
            .ids()
            .into_iter()
            .filter(|id| owner(*id, workers) == index)
            .filter_map(|id| marks.saved(id).map(|(stats, newest)| (id, stats, newest)))
            .collect();
        let _ = reports.send(ToPublisher::Cut(CutPiece {
            worker: index,
            at,
            cut,
            partitions,
        }));
    });
}

/// What the processes of a cluster tell each other (see `Control`).
mod told {
    /// Results are out (written and acknowledged) through this moment minus one; told by
    /// process 0, it releases the other processes' offset commits.
    pub const PUBLISHED: u8 = 0;
    /// This process has stopped reading; its input is complete through this moment minus one.
    pub const STOPPING: u8 = 1;
    /// This process has heard the final publication and ends.
    pub const DONE: u8 = 2;
}

/// Passes publications on (process 0 tells, the others hear) and spreads a stop.
fn pass_on(control: &mut Control, shared: &Shared, told: &mut u64) {
    if control.processes() == 1 {
        return;
    }
    if control.process() == 0 {
        let published = shared.published.load(Ordering::SeqCst);
        if published > *told {
            control.tell(told::PUBLISHED, published);
            *told = published;
        }
    } else if let Some(published) = control.heard(told::PUBLISHED)[0] {
        shared.published.fetch_max(published, Ordering::SeqCst);
    }
    if control.heard(told::STOPPING).iter().any(Option::is_some) {
        shared.stopping.store(true, Ordering::SeqCst);
    }
}

/// The end of a cluster's run, as its processes' lead workers see it.
#[derive(Default)]
struct Ending {
    /// When this process told that it is done (process 0: when it told the final publication).
    told_at: Option<Instant>,
}

impl Ending {
    /// How long process 0 waits for the others to hear its final publication.
    const WAIT_FOR_OTHERS: Duration = Duration::from_secs(30);

    /// Whether this process may end: process 0 once its results through `as_of` are out and
    /// the others have heard so (or stopped listening); the others once they have heard it,
    /// so their publishers can commit the offsets those results cover.
    fn over(
        &mut self,
        control: &mut Control,
        shared: &Shared,
        as_of: Millis,
        told: &mut u64,
    ) -> bool {
        pass_on(control, shared, told);
        let out = shared.published.load(Ordering::SeqCst) > as_of;
        if control.process() == 0 {
            if !out {
                return false;
            }
            let told_at = *self.told_at.get_or_insert_with(Instant::now);
            let others_done = control.heard(told::DONE)[1..].iter().all(Option::is_some);
            return others_done || told_at.elapsed() >= Self::WAIT_FOR_OTHERS;
        }
        if out && self.told_at.is_none() {
            control.tell(told::DONE, 1);
            self.told_at = Some(Instant::now());
        }
        // Our own word back means it has gone out to the others too.
        control.heard(told::DONE)[control.process()].is_some()
    }
}

fn wall_clock_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Decodes a batch and feeds the valid, timely events at their slots.
fn feed(
    session: &mut Session,
    batch: Vec<Message>,
    shared: &Shared,
    max_future: Millis,
    guard: &mut FloodGuard,
) -> WorkerReport {
    let mut report = WorkerReport::default();
    let mut outcomes = Vec::with_capacity(batch.len());
    let latest_allowed = (max_future > 0).then(|| wall_clock_ms().saturating_add(max_future));
    for m in batch {
        if let Some(skip) = shared.skips.get(&m.partition) {
            if skip.covers(m.offset) {
                report
                    .consumed
                    .push((m.partition, m.offset, OUT_WITH_NEXT_PUBLICATION));
                let ts = (m.offset >= skip.resume)
                    .then(|| decode(&m.payload).ok().map(|e| e.ts))
                    .flatten();
                outcomes.push((m.partition, m.offset, Outcome::Skipped(ts)));
                continue;
            }
        }
        let mut reject = |kind: Option<String>, reason: String| {
            report
                .consumed
                .push((m.partition, m.offset, OUT_WITH_NEXT_PUBLICATION));
            report.rejected.push(Rejected {
                partition: m.partition,
                offset: m.offset,
                kind,
                reason,
                payload: m.payload.clone(),
            });
        };
        let decoded = if m.payload.len() > MAX_LINE_BYTES {
            Err((
                None,
                format!("message longer than {MAX_LINE_BYTES} bytes: not read"),
            ))
        } else if m.payload.is_empty() {
            Err((None, "empty message (no value)".to_owned()))
        } else {
            decode(&m.payload).map_err(|r| (r.kind.clone(), r.reason()))
        };
        match decoded {
            Err((kind, reason)) => {
                reject(kind, reason);
                outcomes.push((m.partition, m.offset, Outcome::Rejected));
            }
            Ok(event) if latest_allowed.is_some_and(|latest| event.ts > latest) => {
                reject(
                    Some(event.kind().to_owned()),
                    format!(
                        "field `ts`: {} is more than kafka.max_future ahead of the wall clock (check the producer's clock)",
                        format_rfc3339(event.ts)
                    ),
                );
                outcomes.push((m.partition, m.offset, Outcome::Rejected));
            }
            Ok(event) => {
                let at = session.slot_of(event.ts);
                if at < session.input_time() {
                    reject(
                        Some(event.kind().to_owned()),
                        format!(
                            "late: field `ts` {} is at or before the completed event time {} (raise kafka.allowed_lateness to wait longer)",
                            format_rfc3339(event.ts),
                            format_rfc3339(session.input_time() - 1)
                        ),
                    );
                    outcomes.push((m.partition, m.offset, Outcome::Late(event.ts)));
                } else if let Err(over) = guard.admit(&event) {
                    reject(over.kind.clone(), over.reason());
                    outcomes.push((m.partition, m.offset, Outcome::Rejected));
                } else {
                    session.feed_ahead(&event, m.partition.seq(m.offset));
                    report.consumed.push((m.partition, m.offset, at));
                    outcomes.push((m.partition, m.offset, Outcome::Counted(event.ts)));
                }
            }
        }
    }
    let now = shared.now();
    let mut marks = shared.marks.lock().expect("watermark lock");
    for (id, offset, outcome) in outcomes {
        marks.observe(id, offset, outcome, now);
    }
    report
}

struct Publisher<'a> {
    config: &'a Config,
    sink: Sink,
    source: &'a Source,
    tracker: CommitTracker,
    /// The [`fingerprint`] of the parts last written per node, and the last written trigger
    /// row per id and state (without `as_of`).
    scores: HashMap<Id, u64, foldhash::fast::FixedState>,
    triggers: HashMap<String, String>,
    /// Where closed statements go first; (policy, period) pairs already stored and sent.
    store: StatementStore,
    stated: std::collections::HashSet<(String, String)>,
    published: Option<Millis>,
    recent: VecDeque<Reject>,
    keep: usize,
    summary: RunSummary,
    /// Process 0 (or the only one): it holds the outputs and publishes them; the others only
    /// write their rejects and commit what process 0 has published.
    primary: bool,
    /// Where checkpoints go, when they are taken: then offsets are committed only as far as
    /// the newest one on disk covers them.
    checkpoints: Option<CheckpointStore>,
    /// The policy settings' [`config_fingerprint`], written into every checkpoint.
    fingerprint: String,
    workers: usize,
    /// The parts of the checkpoint being taken, as they come.
    pieces: Vec<CutPiece>,
    /// A checkpoint put together, written once what it covers of the rejects is out.
    cut: Option<Checkpoint>,
    /// Restored: the next publication writes every row, and takes back what is gone since what
    /// was last written before the restart.
    refresh: bool,
    /// The checkpoint's moment, when restored: nothing before it can be read any more.
    resumed_at: Option<Millis>,
    /// What the scores topic's rows are made from, from the first publication on.
    book: Option<ScoreBook>,
}

impl Publisher<'_> {
    fn run(
        &mut self,
        outputs: Receiver<Arc<Outputs>>,
        reports: Receiver<ToPublisher>,
        shared: &Shared,
        done: &AtomicBool,
        mut on_publish: impl FnMut(&Publication),
    ) -> RunSummary {
        let Ok(outputs) = outputs.recv() else {
            return self.summary.clone(); // the dataflow never started
        };
        let latest = Arc::new(LatestTables::new(Arc::clone(&outputs)));
        let interval = Duration::from_millis(self.config.kafka.publish_interval.millis());
        let mut next = Instant::now() + interval;
        loop {
            let finished = done.load(Ordering::SeqCst);
            while !finished && Instant::now() < next && !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10).min(next - Instant::now()));
            }
            next = Instant::now() + interval;
            self.cycle(&outputs, &latest, &reports, shared, &mut on_publish);
            if finished {
                break;
            }
        }
        self.summary.sink = self.sink.stats();
        self.summary.through = self.published;
        self.summary.clone()
    }

    fn cycle(
        &mut self,
        outputs: &Outputs,
        latest: &Arc<LatestTables>,
        reports: &Receiver<ToPublisher>,
        shared: &Shared,
        on_publish: &mut impl FnMut(&Publication),
    ) {
        let mut fresh = false;
        // Published moments are slot boundaries, as in replay: the tables depend on the moment
        // (health recovers with time), and a boundary is what every event was counted at.
        let slide = meritflow_pipelines::engine::grain(self.config);
        let boundary = outputs
            .complete_through()
            .map(|t| t / slide * slide)
            .filter(|t| self.resumed_at.is_none_or(|at| *t >= at));
        if !self.primary {
            self.published = shared.published.load(Ordering::SeqCst).checked_sub(1);
        } else if let Some(through) = boundary {
            if self.published.is_none_or(|p| through > p) {
                let started = Instant::now();
                latest.advance(through, || self.publish(outputs, through));
                // With event times from the wall clock (a live network), how far behind the
                // results are as they go out, and what the publication itself took.
                tracing::debug!(
                    through = %format_rfc3339(through),
                    behind_ms = wall_clock_ms().saturating_sub(through),
                    took_ms = started.elapsed().as_millis() as u64,
                    "published"
                );
                self.published = Some(through);
                fresh = true;
            }
        }
        while let Ok(told) = reports.try_recv() {
            let report = match told {
                ToPublisher::Batch(report) => report,
                ToPublisher::Cut(piece) => {
                    self.pieces.push(piece);
                    if self.pieces.len() == self.workers {
                        self.put_together(shared);
                    }
                    continue;
                }
            };
            for (id, offset, needs) in report.consumed {
                self.tracker.record(id, offset, needs);
            }
            for rejected in report.rejected {
                self.write_reject(rejected);
            }
        }
        let flushing = Instant::now();
        self.sink.flush(Duration::from_secs(10));
        tracing::debug!(took_ms = flushing.elapsed().as_millis() as u64, "flushed");
        if let (true, Some(published)) = (self.primary, self.published) {
            shared.published.fetch_max(published + 1, Ordering::SeqCst);
        }
        // Popped as they are out either way; committed here only without checkpoints.
        let positions = self.tracker.release(self.published);
        let positions = match self.checkpoints.is_some() {
            true => self.write_checkpoint(),
            false => positions,
        };
        if !positions.is_empty() {
            match self.source.commit(&positions) {
                Ok(()) => {
                    let mut marks = shared.marks.lock().expect("watermark lock");
                    for (id, position) in positions {
                        self.tracker.committed(id, position);
                        marks.committed(id, position);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "offset commit failed; retried at the next publication")
                }
            }
        }
        let (ingest, events) = {
            let marks = shared.marks.lock().expect("watermark lock");
            ingest_table(&marks, self.source)
        };
        self.summary.events = events.0;
        self.summary.rejected = events.1;
        self.summary.late = events.2;
        // The other processes of a cluster show their own ingest and what process 0 published.
        if let (true, Some(through)) = (fresh || !self.primary, self.published) {
            on_publish(&Publication {
                through,
                tables: latest,
                ingest,
                rejects: &self.recent,
                in_flight: self.tracker.in_flight(),
                sink: self.sink.stats(),
            });
        }
    }

    /// Every worker's part of a checkpoint is in: what it covers of each partition is read off
    /// the commit tracker now, before any later publication releases what comes after the cut.
    /// The workers may go on past the cut from here.
    fn put_together(&mut self, shared: &Shared) {
        let mut pieces = std::mem::take(&mut self.pieces);
        let at = pieces[0].at;
        debug_assert!(pieces.iter().all(|p| p.at == at), "one cut at a time");
        let outputs = pieces
            .iter_mut()
            .find_map(|p| p.cut.outputs.take())
            .expect("the gathering worker's part holds the outputs");
        let mut partitions = Vec::new();
        for piece in &pieces {
            for (id, stats, newest_ts) in &piece.partitions {
                let Some(last) = stats.last_offset else {
                    continue; // nothing read from it: it starts from its committed position
                };
                let after_cut = self.tracker.after(*id, at, last);
                partitions.push(PartitionCut {
                    topic: self.source.topic_name(*id).to_owned(),
                    partition: id.partition,
                    resume: after_cut.first().copied().unwrap_or(last + 1),
                    last,
                    events: stats.events.saturating_sub(after_cut.len() as u64),
                    after_cut,
                    rejected: stats.rejected,
                    late: stats.late,
                    newest_ts: *newest_ts,
                });
            }
        }
        partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        pieces.sort_by_key(|p| p.worker);
        self.cut = Some(Checkpoint {
            at,
            config: self.fingerprint.clone(),
            workers: pieces.into_iter().map(|p| p.cut.states).collect(),
            outputs,
            published: Published::default(),
            partitions,
        });
        shared.last_cut.store(at + 1, Ordering::SeqCst);
        shared.cut.store(0, Ordering::SeqCst);
    }

    /// Writes the checkpoint put together, now that the rejects it covers are out; returns the
    /// commit positions it makes safe (none when there is nothing new or the write failed).
    fn write_checkpoint(&mut self) -> Vec<(PartitionId, i64)> {
        let (Some(store), Some(mut checkpoint)) = (&self.checkpoints, self.cut.take()) else {
            return Vec::new();
        };
        // What has been written and acknowledged so far (a superset of what the cut's tables
        // gave): after a restart, keys gone from the tables are taken back from it.
        checkpoint.published = Published {
            scores: self
                .scores
                .iter()
                .map(|(node, digest)| (node.to_string(), digest.to_string()))
                .collect(),
            triggers: self.triggers.clone(),
        };
        let started = Instant::now();
        match store.write(&checkpoint) {
            Ok(path) => {
                tracing::info!(
                    at = %format_rfc3339(checkpoint.at),
                    path = %path.display(),
                    took_ms = started.elapsed().as_millis() as u64,
                    "checkpoint written"
                );
                checkpoint
                    .partitions
                    .iter()
                    .filter_map(|p| {
                        self.source
                            .partition_id(&p.topic, p.partition)
                            .map(|id| (id, p.resume))
                    })
                    .collect()
            }
            Err(e) => {
                tracing::error!(error = %e, "checkpoint not written");
                Vec::new()
            }
        }
    }

    /// Stores each newly closed statement (once, ever) and then sends its rows to the
    /// statements topic, each with the statement's sha256 and row count so that a payout job
    /// can tell it has all of them. A statement the store already holds with other rows is
    /// not sent: the stored one is final.
    fn write_statements(&mut self, rows: &[StatementRow]) {
        let fresh: Vec<&StatementRow> = rows
            .iter()
            .filter(|r| !self.stated.contains(&(r.policy.clone(), r.period.clone())))
            .collect();
        for ((policy, period), rows) in by_statement(fresh) {
            let (policy, period) = (policy.as_str(), period.as_str());
            let sha = match self.store.write(&rows) {
                Ok(Written::New { sha256 }) => {
                    tracing::info!(
                        policy,
                        period,
                        rows = rows.len(),
                        sha256,
                        "statement written"
                    );
                    sha256
                }
                Ok(Written::Same { sha256 }) => sha256,
                Ok(Written::Conflict { stored, computed }) => {
                    tracing::error!(policy, period, stored, computed, store = %self.store.dir().display(),
                        "the stored statement is final and differs from the one these events give: not sent again");
                    self.stated.insert((policy.to_owned(), period.to_owned()));
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, policy, period, "statement not stored yet; retried at the next publication");
                    continue;
                }
            };
            let table = statement_table(&rows);
            for (i, row) in rows.iter().enumerate() {
                let mut object = table.row_json(i);
                object.insert("sha256".into(), sha.clone().into());
                object.insert("rows".into(), rows.len().into());
                let key = match &row.node {
                    Some(node) => format!("{policy}/{period}/{}/{node}", row.provider),
                    None => format!("{policy}/{period}/{}", row.provider),
                };
                self.sink.send(&Record {
                    topic: self.config.kafka.statements_topic.clone(),
                    key: key.into_bytes(),
                    payload: Some(serde_json::to_vec(&object).expect("JSON object")),
                });
            }
            self.stated.insert((policy.to_owned(), period.to_owned()));
        }
    }

    /// Writes what changed through `through` and folds it away. The first publication (of a
    /// run, or after a restart) reads the whole snapshot; later ones only the captures' changes
    /// since the last, and the statements when a period closed.
    fn publish(&mut self, outputs: &Outputs, through: Millis) {
        match self.book.as_mut() {
            Some(book) => {
                let started = Instant::now();
                let folded = outputs.fold(through);
                let fold_ms = started.elapsed().as_millis() as u64;
                let dirty = folded
                    .changes::<CrynuxChanges>()
                    .map_or_else(Vec::new, |changes| book.apply(changes));
                let apply_ms = started.elapsed().as_millis() as u64 - fold_ms;
                self.write_scores(&dirty, through);
                self.write_triggers(&trigger_table(&folded.triggers), through);
                for (policy, reject) in &folded.rejects {
                    self.write_policy_reject(policy, reject);
                }
                if folded.closed {
                    self.write_statements(&closed_statements(outputs, through));
                }
                tracing::debug!(
                    fold_ms,
                    apply_ms,
                    nodes = dirty.len(),
                    triggers = folded.triggers.len(),
                    closed = folded.closed,
                    took_ms = started.elapsed().as_millis() as u64,
                    "changes written"
                );
            }
            None => {
                let snapshot = PolicySnapshot::take(outputs, through);
                // The scores topic is crynux's: without it, the book stays empty.
                self.book = Some(
                    outputs
                        .policy::<CrynuxPolicy>()
                        .map_or_else(ScoreBook::default, |crynux| {
                            ScoreBook::of(&crynux.parts(through))
                        }),
                );
                // Every node of the book, and every key written before a restart that is gone.
                let mut all: Vec<Id> = self.scores.keys().cloned().collect();
                all.extend(self.book.as_ref().map_or(Vec::new(), ScoreBook::nodes));
                all.sort();
                all.dedup();
                self.write_scores(&all, through);
                if let Some(triggers) = snapshot.tables.iter().find(|t| t.name == "triggers") {
                    self.write_triggers(triggers, through);
                }
                self.write_statements(&snapshot.closed_statements());
                // Rejects are keyed by their input's place: after a restart, writing them
                // again replaces them.
                for (policy, reject) in snapshot.rejects() {
                    self.write_policy_reject(policy, reject);
                }
                outputs.compact(through);
            }
        }
        self.refresh = false;
    }

    /// Writes the own parts of each of `nodes` that differ from what was last written (a null
    /// value when a node left `crynux_qos`), then the network's row: see
    /// `meritflow_pipelines::policies::crynux::scores`.
    fn write_scores(&mut self, nodes: &[Id], through: Millis) {
        if !self.config.runs("crynux") {
            return; // the scores topic is crynux's
        }
        let Some(book) = &mut self.book else { return };
        let topic = &self.config.kafka.scores_topic;
        let as_of = format_rfc3339(through);
        for node in nodes {
            let Some(own) = book.own(node) else {
                if self.scores.remove(node).is_some() {
                    self.sink.send(&Record {
                        topic: topic.clone(),
                        key: node.as_bytes().to_vec(),
                        payload: None,
                    });
                }
                continue;
            };
            let digest = fingerprint(own);
            if !self.refresh && self.scores.get(node) == Some(&digest) {
                continue;
            }
            self.sink.send(&Record {
                topic: topic.clone(),
                key: node.as_bytes().to_vec(),
                payload: Some(node_row(node, own, &as_of)),
            });
            self.scores.insert(node.clone(), digest);
        }
        let cfg = &self.config.policy.crynux;
        let network = network_json(&book.network(through, cfg), cfg);
        self.sink.send(&Record {
            topic: topic.clone(),
            key: NETWORK_KEY.as_bytes().to_vec(),
            payload: Some(serde_json::to_vec(&network).expect("JSON object")),
        });
    }

    /// Writes each trigger edge of `table` not written before: the `triggers` table is a log
    /// whose raised and cleared rows share the trigger's id, the message key.
    fn write_triggers(&mut self, table: &Table, through: Millis) {
        let key_at = table.column("id").expect("key column");
        let state_at = table.column("state").expect("state column");
        for (i, row) in table.rows.iter().enumerate() {
            let (Cell::Text(Some(key)), Cell::Text(Some(state))) = (&row[key_at], &row[state_at])
            else {
                continue;
            };
            let shown = format!("{key}/{state}");
            let mut object = table.row_json(i);
            let text = serde_json::to_string(&object).expect("JSON object");
            if !self.refresh && self.triggers.get(&shown) == Some(&text) {
                continue;
            }
            object.insert("as_of".into(), format_rfc3339(through).into());
            self.sink.send(&Record {
                topic: self.config.kafka.triggers_topic.clone(),
                key: key.clone().into_bytes(),
                payload: Some(serde_json::to_vec(&object).expect("JSON object")),
            });
            self.triggers.insert(shown, text);
        }
    }

    /// A valid event that policy `policy` could not take, as bad input is written, with the
    /// policy's name: its place comes back from its sequence number.
    fn write_policy_reject(&mut self, policy: &str, r: &PolicyReject) {
        let (partition, offset) = PartitionId::of_seq(r.seq);
        self.write_reject_from(
            Rejected {
                partition,
                offset,
                kind: Some(r.kind.clone()),
                reason: r.reason.clone(),
                payload: r.payload.clone().into_bytes(),
            },
            Some(policy),
        );
    }

    fn write_reject(&mut self, r: Rejected) {
        self.write_reject_from(r, None);
    }

    /// Writes a reject; `policy` names the policy that refused a valid event.
    fn write_reject_from(&mut self, r: Rejected, policy: Option<&str>) {
        let topic = self.source.topic_name(r.partition).to_owned();
        let mut object = serde_json::Map::new();
        if let Some(policy) = policy {
            object.insert("policy".into(), policy.into());
        }
        object.insert("topic".into(), topic.clone().into());
        object.insert("partition".into(), r.partition.partition.into());
        object.insert("offset".into(), r.offset.into());
        object.insert("kind".into(), r.kind.clone().into());
        object.insert("reason".into(), r.reason.clone().into());
        match std::str::from_utf8(&r.payload) {
            Ok(text) => object.insert("payload".into(), text.into()),
            Err(_) => object.insert("payload_hex".into(), hex(&r.payload).into()),
        };
        let key = format!("{topic}/{}/{}", r.partition.partition, r.offset);
        self.sink.send(&Record {
            topic: self.config.kafka.rejects_topic.clone(),
            key: key.into_bytes(),
            payload: Some(serde_json::Value::Object(object).to_string().into_bytes()),
        });
        if self.keep > 0 {
            if self.recent.len() == self.keep {
                self.recent.pop_front();
            }
            let place = format!("{topic}/{}", r.partition.partition);
            self.recent.push_back(Reject {
                source: policy.map_or_else(|| place.clone(), |p| format!("policy {p}: {place}")),
                line: r.offset as u64,
                kind: r.kind,
                reason: r.reason,
                payload: shown_payload(&r.payload),
            });
        }
    }
}

/// Checkpoints are taken when `checkpoints.every` is not zero, by a single process.
fn takes_checkpoints(config: &Config, cluster: &Cluster) -> bool {
    config.checkpoints.every.millis() > 0 && cluster.addresses.len() <= 1
}

/// What a checkpoint's states depend on: the policies' settings, the engine's grain and the
/// layout of the operator states. A checkpoint taken under others is not restored.
pub fn config_fingerprint(config: &Config) -> String {
    use sha2::{Digest, Sha256};
    let settings = serde_json::to_vec(&(
        &config.policy,
        &config.statements.period,
        &config.limits,
        meritflow_pipelines::checkpoint::STATE_FORMAT,
    ))
    .expect("settings serialise");
    Sha256::digest(&settings)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The newest checkpoint a run with `config` and `options` may start from: None when
/// checkpoints are off or there is none yet; an error that says what to do when the newest
/// one does not fit.
pub fn load_checkpoint(
    config: &Config,
    options: &RunOptions,
) -> Result<Option<Checkpoint>, String> {
    if !takes_checkpoints(config, &options.cluster) {
        return Ok(None);
    }
    let store = CheckpointStore::new(config.checkpoint_dir(), config.checkpoints.keep);
    let Some(checkpoint) = store.latest().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let dir = store.dir().display();
    if checkpoint.config != config_fingerprint(config) {
        return Err(format!(
            "the newest checkpoint in {dir} (through {}) was taken under other policy settings or by a version of meritflow whose states are laid out otherwise: restore those settings, or move the checkpoint directory away to rebuild the state from the log",
            format_rfc3339(checkpoint.at)
        ));
    }
    let workers = options.cluster.workers.max(1);
    if checkpoint.workers.len() != workers {
        return Err(format!(
            "the newest checkpoint in {dir} was taken with {} workers: run with --workers {} (or move the checkpoint directory away to rebuild the state from the log)",
            checkpoint.workers.len(),
            checkpoint.workers.len()
        ));
    }
    Ok(Some(checkpoint))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `ingest` table, and the totals (events, rejected, late) over all partitions.
fn ingest_table(marks: &Watermarks, source: &Source) -> (Table, (u64, u64, u64)) {
    let mut table = Table::new(
        "ingest",
        &[
            ("topic", Text),
            ("partition", Int),
            ("offset", Int),
            ("committed", Int),
            ("events", Int),
            ("rejected", Int),
            ("late", Int),
            ("watermark", Timestamp),
        ],
    );
    let mut totals = (0, 0, 0);
    for (id, watermark, stats) in marks.rows() {
        totals.0 += stats.events;
        totals.1 += stats.rejected;
        totals.2 += stats.late;
        table.push(vec![
            source.topic_name(id).into(),
            int(id.partition),
            Cell::Int(stats.last_offset),
            Cell::Int(stats.committed),
            int(stats.events),
            int(stats.rejected),
            int(stats.late),
            Cell::Timestamp(watermark),
        ]);
    }
    (table, totals)
}
