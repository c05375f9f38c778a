//! The whole dataflow in this process on the mixed stream: its JSON lines are written into
//! memory in small batches before the run, then handed round-robin to the workers, which decode
//! and feed them (each worker's share stays in ts order). Measured: wall time, CPU time of the
//! worker threads (decode + dataflow + output capture), and the process's peak RSS above what
//! it held before the run (the lines are written before it and freed only after it, so the
//! engine never reuses their room).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine;
use meritflow_pipelines::events::decode;
use meritflow_pipelines::snapshot::PolicySnapshot;
use meritflow_pipelines::table::Table;
use meritflow_pipelines::time::slot;

use crate::mixed::{self, MixedSpec};

/// Lines per batch: the unit a worker decodes and feeds before it steps the dataflow.
const BATCH_LINES: usize = 1024;

pub struct Streamed {
    pub events: u64,
    pub wall: f64,
    /// CPU seconds of the worker threads.
    pub cpu: f64,
    /// Peak RSS of the process during the run minus its RSS just before it.
    pub peak_growth: u64,
    /// Refreshes the stream spans: one per slide of the engine's grain.
    pub refreshes: u64,
    pub tables: Vec<Table>,
    /// What the captures held at the end of the run, before the last fold (see
    /// `Outputs::footprint`).
    pub footprint: Vec<(String, usize, usize, usize)>,
}

/// One batch of lines (concatenated) and the sequence number of its first.
struct Batch {
    text: Vec<u8>,
    ends: Vec<usize>,
    first_seq: u64,
}

impl Batch {
    fn starting_at(first_seq: u64) -> Batch {
        Batch {
            text: Vec::with_capacity(BATCH_LINES * 300),
            ends: Vec::with_capacity(BATCH_LINES),
            first_seq,
        }
    }
}

/// The mixed stream's lines in batches of [`BATCH_LINES`].
fn generate(spec: &MixedSpec) -> Vec<Batch> {
    let mut batches = Vec::new();
    let mut batch = Batch::starting_at(0);
    let mut seq = 0u64;
    mixed::generate(spec, |line| {
        batch.text.extend_from_slice(line);
        batch.ends.push(batch.text.len());
        seq += 1;
        if batch.ends.len() == BATCH_LINES {
            batches.push(std::mem::replace(&mut batch, Batch::starting_at(seq)));
        }
    });
    if !batch.ends.is_empty() {
        batches.push(batch);
    }
    for batch in &mut batches {
        batch.text.shrink_to_fit();
    }
    batches
}

fn thread_cpu_seconds() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// (VmRSS, VmHWM) of this process in bytes.
pub fn rss() -> (u64, u64) {
    let field = |name| proc_bytes("/proc/self/status", name).unwrap_or(0);
    (field("VmRSS:"), field("VmHWM:"))
}

/// A `Name:   123 kB` line of a /proc file, in bytes.
pub fn proc_bytes(file: &str, name: &str) -> Option<u64> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Resets the peak RSS to the current RSS (Linux 4.0+), so the peak of this run is its own.
/// Memory an earlier run freed is first handed back to the system: held by the allocator it
/// would still count in the RSS, and this run, reusing it, would show no growth.
fn reset_peak() {
    // SAFETY: malloc_trim only releases free memory of glibc's heap.
    unsafe { libc::malloc_trim(0) };
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn run(config: &Config, spec: &MixedSpec, workers: usize) -> anyhow::Result<Streamed> {
    let workers = workers.max(1);
    let grain = engine::grain(config);
    let as_of = slot(spec.end(), grain);
    // The stream is written out before the run: on two cores a generator thread running beside
    // two workers would take CPU from them, and the 2-worker figure would measure it too. Every
    // batch stays in memory until the run ends, so the engine never reuses its room and the
    // peak growth measured below is the engine's own.
    let batches = Arc::new(generate(spec));
    let cpu_micros = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));

    reset_peak();
    let (before, _) = rss();
    let started = Instant::now();
    let outputs = {
        let (batches, cpu_micros, rejected) = (
            Arc::clone(&batches),
            Arc::clone(&cpu_micros),
            Arc::clone(&rejected),
        );
        engine::run(config, workers, move |mut session| {
            let cpu_at_start = thread_cpu_seconds();
            let mut fed = 0u64;
            // Batch i goes to worker i mod workers: each worker's share stays in ts order.
            for batch in batches.iter().skip(session.index()).step_by(workers) {
                let mut start = 0;
                for (k, &end) in batch.ends.iter().enumerate() {
                    match decode(&batch.text[start..end]) {
                        Ok(event) => session.feed(&event, batch.first_seq + k as u64),
                        Err(_) => {
                            rejected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    start = end;
                }
                session.step();
                fed += batch.ends.len() as u64;
                if fed % (64 * BATCH_LINES as u64) == 0 {
                    // Fold what is complete, as a long-running `meritflow run` does: each
                    // worker its own shard of the captures.
                    let outputs = session.outputs();
                    if let Some(done) = outputs.complete_through() {
                        outputs.compact_shard(session.shard(), done);
                    }
                }
            }
            session.stop_after(as_of);
            let used = thread_cpu_seconds() - cpu_at_start;
            cpu_micros.fetch_add((used * 1e6) as u64, Ordering::Relaxed);
        })
        .map_err(|e| anyhow::anyhow!(e))?
    };
    let wall = started.elapsed().as_secs_f64();
    let (_, peak) = rss();
    drop(batches);
    if rejected.load(Ordering::Relaxed) > 0 {
        bail!(
            "{} generated events were rejected: the generator is out of date with the event contract",
            rejected.load(Ordering::Relaxed)
        );
    }
    let footprint = outputs.footprint();
    outputs.compact(as_of);
    let tables = PolicySnapshot::take(&outputs, as_of).tables;
    Ok(Streamed {
        events: spec.total(),
        wall,
        cpu: cpu_micros.load(Ordering::Relaxed) as f64 / 1e6,
        peak_growth: peak.saturating_sub(before),
        refreshes: spec.span / grain,
        tables,
        footprint,
    })
}
