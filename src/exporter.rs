//! `meritflow exporter`: reads the node's GPUs every interval (NVML, or `--simulate N`) and
//! pushes one `gpu_sample` per GPU into Kafka through a bounded on-disk spool; or prints them
//! (`--stdout`); optionally serves the same readings as Prometheus text.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use meritflow_connectors::exporter::nvml::NvmlGpus;
use meritflow_connectors::exporter::prometheus::{self, ExporterStats, Shared};
use meritflow_connectors::exporter::sender::Sender;
use meritflow_connectors::exporter::sim::SimGpus;
use meritflow_connectors::exporter::source::GpuSource;
use meritflow_connectors::exporter::spool::Spool;
use meritflow_pipelines::time::{Millis, Span};

#[derive(Args)]
pub struct ExporterArgs {
    /// This node's id: the `node` of every sample and the Kafka message key.
    #[arg(long)]
    node: String,
    /// Kafka bootstrap brokers (default: the config's kafka.brokers).
    #[arg(long)]
    brokers: Option<String>,
    /// Topic the samples go to.
    #[arg(long, default_value = "meritflow.telemetry")]
    topic: String,
    /// How often the GPUs are read.
    #[arg(long, default_value = "10s")]
    interval: Span,
    /// Read N simulated GPUs instead of NVML (seeded, reproducible).
    #[arg(long, value_name = "N")]
    simulate: Option<usize>,
    /// Seed of the simulated GPUs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Read once, send (or print), and exit.
    #[arg(long)]
    once: bool,
    /// Print the samples as JSONL instead of sending them.
    #[arg(long)]
    stdout: bool,
    /// Serve the readings as Prometheus text on this address, e.g. 127.0.0.1:9400.
    #[arg(long, value_name = "ADDR")]
    prometheus: Option<SocketAddr>,
    /// Spool directory (default: meritflow-spool/<node>).
    #[arg(long)]
    spool: Option<PathBuf>,
    /// Batches the spool keeps while the broker is away (one per interval; the default is a
    /// day at 10 s); beyond that the oldest are dropped and counted.
    #[arg(long, default_value_t = 8_640)]
    spool_batches: usize,
    /// Stop after this long (default: run until interrupted).
    #[arg(long = "for", value_name = "DURATION")]
    run_for: Option<Span>,
    /// Configuration file (kafka.brokers and [kafka.properties] such as TLS/SASL are used).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

pub fn run(args: ExporterArgs) -> anyhow::Result<()> {
    if args.interval.millis() == 0 {
        anyhow::bail!("--interval must be positive, e.g. 10s");
    }
    let mut source: Box<dyn GpuSource> = match args.simulate {
        Some(0) => anyhow::bail!("--simulate needs at least 1 GPU"),
        Some(n) => Box::new(SimGpus::new(n, &args.node, args.seed)),
        None => match NvmlGpus::open() {
            Ok(gpus) => Box::new(gpus),
            Err(e) => {
                anyhow::bail!("NVML not available: {e}; use --simulate N to try without a GPU")
            }
        },
    };
    let shared: Shared = Arc::new(Mutex::new((Vec::new(), ExporterStats::default())));
    if let Some(addr) = args.prometheus {
        let listener = TcpListener::bind(addr)
            .with_context(|| format!("--prometheus {addr}: cannot listen there"))?;
        prometheus::serve(listener, args.node.clone(), Arc::clone(&shared));
        eprintln!("meritflow exporter: Prometheus metrics on http://{addr}/metrics");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let drain = if args.stdout {
        None
    } else {
        Some(start_drain(&args, Arc::clone(&shared), Arc::clone(&stop))?)
    };
    let started = Instant::now();
    let interval = Duration::from_millis(args.interval.millis());
    let mut next = Instant::now();
    loop {
        let ts = now_ms();
        let (readings, warnings) = source.read(ts);
        for w in warnings {
            tracing::warn!("{w}");
        }
        let lines: Vec<String> = readings
            .iter()
            .map(|r| r.event(&args.node, ts).to_json())
            .collect();
        if let Some((spool, _)) = &drain {
            let mut spool = spool.lock().expect("spool lock");
            spool.push(&lines)?;
            let mut s = shared.lock().expect("metrics lock");
            s.1.spooled_segments = spool.segments() as u64;
            s.1.dropped = spool.dropped;
        } else {
            crate::emit(&lines.iter().map(|l| format!("{l}\n")).collect::<String>())?;
        }
        {
            let mut s = shared.lock().expect("metrics lock");
            s.1.samples += lines.len() as u64;
            s.0 = readings;
        }
        let done = args.once
            || args
                .run_for
                .is_some_and(|d| started.elapsed().as_millis() as Millis >= d.millis());
        if done || stop.load(Ordering::SeqCst) {
            break;
        }
        next += interval;
        while Instant::now() < next && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(
                Duration::from_millis(20).min(next.saturating_duration_since(Instant::now())),
            );
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    if let Some((spool, thread)) = drain {
        // Give the sender a last chance to empty the spool; what is left is sent next time.
        let deadline = Instant::now() + Duration::from_secs(20);
        while spool.lock().expect("spool lock").segments() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::SeqCst);
        let _ = thread.join();
        let spool = spool.lock().expect("spool lock");
        let s = shared.lock().expect("metrics lock").1;
        eprintln!(
            "meritflow exporter: {} samples read, {} sent, {} batches left in the spool, {} dropped (spool full)",
            s.samples,
            s.sent,
            spool.segments(),
            spool.dropped
        );
    }
    Ok(())
}

type Drain = (Arc<Mutex<Spool>>, std::thread::JoinHandle<()>);

/// Opens the spool and starts the thread that sends it to Kafka, oldest batch first.
fn start_drain(
    args: &ExporterArgs,
    shared: Shared,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Drain> {
    let config = crate::load_config(args.config.as_ref())?;
    let mut kafka = config.kafka.clone();
    if let Some(brokers) = &args.brokers {
        kafka.brokers = brokers.clone();
    }
    let dir = args
        .spool
        .clone()
        .unwrap_or_else(|| PathBuf::from("meritflow-spool").join(&args.node));
    let spool = Arc::new(Mutex::new(Spool::open(&dir, args.spool_batches)?));
    let sender = Sender::new(&kafka, &args.topic, &args.node)?;
    let queue = Arc::clone(&spool);
    let brokers = kafka.brokers.clone();
    let thread = std::thread::spawn(move || {
        let mut failing = false;
        while !stop.load(Ordering::SeqCst) {
            let oldest = queue.lock().expect("spool lock").oldest();
            let Some((segment, lines)) = oldest else {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            if sender.send(&lines) {
                let mut q = queue.lock().expect("spool lock");
                q.remove(segment);
                let mut s = shared.lock().expect("metrics lock");
                s.1.sent += lines.len() as u64;
                s.1.spooled_segments = q.segments() as u64;
                if failing {
                    tracing::warn!(
                        brokers,
                        "Kafka is back: sending the spooled samples in order"
                    );
                    failing = false;
                }
            } else {
                if !failing {
                    let why = sender
                        .last_error()
                        .unwrap_or_else(|| "no acknowledgement".into());
                    tracing::warn!(
                        brokers,
                        why,
                        "Kafka not reachable: samples are kept in the spool"
                    );
                    failing = true;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        sender.flush(Duration::from_secs(5));
    });
    Ok((spool, thread))
}
