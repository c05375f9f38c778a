//! `meritflow-bench`: replay throughput and memory of the release binary on a generated Crynux
//! stream. Run in release mode, outside the test suite:
//!
//! ```sh
//! cargo build --release --workspace
//! target/release/meritflow-bench --events 1000000 --nodes 10000
//! ```
//!
//! It writes the stream as JSONL, times the decoding alone in-process (the parse share), then
//! runs `meritflow replay` on it as a child process and reads the child's peak RSS from
//! `getrusage`. Figures come from one run on this machine; compare ratios, not absolute times.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use meritflow_connectors::{file, sim};

struct Args {
    events: u64,
    nodes: usize,
    seed: u64,
    workers: u16,
    meritflow: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let exe = std::env::current_exe()?;
    let mut out = Args {
        events: 1_000_000,
        nodes: 10_000,
        seed: 1,
        workers: 1,
        meritflow: exe.with_file_name("meritflow"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => out.events = value()?.parse()?,
            "--nodes" => out.nodes = value()?.parse()?,
            "--seed" => out.seed = value()?.parse()?,
            "--workers" => out.workers = value()?.parse()?,
            "--meritflow" => out.meritflow = value()?.into(),
            "-h" | "--help" => {
                println!("meritflow-bench [--events N] [--nodes N] [--seed S] [--workers N] [--meritflow PATH]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}; see --help"),
        }
    }
    if !out.meritflow.exists() {
        bail!(
            "{} not found: build it first with cargo build --release --workspace",
            out.meritflow.display()
        );
    }
    Ok(out)
}

fn children_peak_rss_bytes() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as u64 * 1024
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let path = std::env::temp_dir().join(format!(
        "meritflow-bench-{}-{}.jsonl",
        args.events, args.nodes
    ));
    let spec = sim::FleetSpec {
        nodes: args.nodes,
        duration: 30 * 24 * 3_600_000,
        task_every: 50,
        sample_every: 600_000,
        seed: args.seed,
        ..sim::FleetSpec::demo()
    };
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let mut written = 0u64;
    let mut kinds = std::collections::BTreeMap::<&'static str, u64>::new();
    sim::generate(&spec, |event| {
        *kinds.entry(event.kind()).or_default() += 1;
        writeln!(out, "{}", event.to_json()).expect("write bench stream");
        written += 1;
        if written < args.events {
            std::ops::ControlFlow::Continue(())
        } else {
            std::ops::ControlFlow::Break(())
        }
    });
    out.flush()?;
    drop(out);
    let bytes = std::fs::metadata(&path)?.len();
    eprintln!(
        "generated {written} events ({:.0} MB) in {:.1}s: {kinds:?}",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let loaded = file::load(std::slice::from_ref(&path), |_| {})?;
    let decode_s = t.elapsed().as_secs_f64();
    assert!(loaded.rejects.is_empty(), "the generated stream is valid");
    drop(loaded);

    let baseline_rss = children_peak_rss_bytes();
    let t = Instant::now();
    let output = Command::new(&args.meritflow)
        .args(["replay", "--events"])
        .arg(&path)
        .args(["--workers", &args.workers.to_string(), "--format", "csv"])
        .args([
            "--query",
            "SELECT count(*) AS nodes, sum(tasks) AS tasks_in_window FROM crynux_qos",
        ])
        .output()?;
    let replay_s = t.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "meritflow replay failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let peak = children_peak_rss_bytes().max(baseline_rss);
    let result = String::from_utf8_lossy(&output.stdout);

    let rate = written as f64 / replay_s;
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| events | {written} ({:.0} MB JSONL, {} nodes) |",
        bytes as f64 / 1e6,
        args.nodes
    );
    println!("| workers | {} |", args.workers);
    println!(
        "| decode only (in-process, 1 thread) | {:.2} s = {:.0} events/s |",
        decode_s,
        written as f64 / decode_s
    );
    println!(
        "| replay, whole binary (read + decode + dataflow + SQL) | {:.2} s = {:.0} events/s |",
        replay_s, rate
    );
    println!(
        "| replay events/s per worker | {:.0} |",
        rate / args.workers as f64
    );
    println!(
        "| decode share of replay | {:.0} % |",
        100.0 * decode_s / replay_s
    );
    println!("| peak RSS of replay | {:.0} MB |", peak as f64 / 1e6);
    println!(
        "| peak RSS per tracked node | {:.0} B |",
        peak as f64 / args.nodes as f64
    );
    println!("\nresult: {}", result.trim().replace('\n', " / "));
    let _ = std::fs::remove_file(&path);
    Ok(())
}
