//! `meritflow-bench report` writes `benches/RESULTS.md` with every performance target beside
//! its measured value (see `report.rs`; `benches/run` builds, starts a broker and runs it).
//!
//! `meritflow-bench`: replay throughput and memory of the release binary on a generated Crynux
//! stream, or (`--stream swap`) on SWAP chunk transfers over `--pairs` peer pairs beside the
//! Crynux stream of the same size, to give their ratio from one run. Run in release mode,
//! outside the test suite:
//!
//! ```sh
//! cargo build --release --workspace
//! target/release/meritflow-bench --events 1000000 --nodes 10000
//! target/release/meritflow-bench --stream swap --events 1000000 --pairs 10000
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

mod baseline;
mod kafka;
mod mixed;
mod report;
mod streamed;

struct Args {
    events: u64,
    nodes: usize,
    /// `crynux`, or `swap` (SWAP chunk transfers, measured beside a crynux stream).
    stream: String,
    pairs: u64,
    seed: u64,
    workers: u16,
    meritflow: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let exe = std::env::current_exe()?;
    let mut out = Args {
        events: 1_000_000,
        nodes: 10_000,
        stream: "crynux".into(),
        pairs: 10_000,
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
            "--stream" => out.stream = value()?,
            "--pairs" => out.pairs = value()?.parse()?,
            "--seed" => out.seed = value()?.parse()?,
            "--workers" => out.workers = value()?.parse()?,
            "--meritflow" => out.meritflow = value()?.into(),
            "-h" | "--help" => {
                println!("meritflow-bench [--stream crynux|swap] [--events N] [--nodes N] [--pairs N] [--seed S] [--workers N] [--meritflow PATH]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}; see --help"),
        }
    }
    release_binary_exists(&out.meritflow)?;
    Ok(out)
}

/// The bench drives the release `meritflow` binary: say how to get it when it is missing.
fn release_binary_exists(path: &std::path::Path) -> anyhow::Result<()> {
    if !path.exists() {
        bail!(
            "{} not found: build it first with cargo build --release --workspace",
            path.display()
        );
    }
    Ok(())
}

/// Runs `command` to its end, its output gathered: (output, seconds, the child's own peak RSS).
///
/// The peak is `VmHWM` of the child's /proc status, polled while it runs, not
/// `getrusage(RUSAGE_CHILDREN)`: at exec the kernel records the address space the child leaves
/// (this process's, shared by vfork) in the child's maxrss, so after a large in-process run
/// every child would read as large as this process once was.
fn run_measured(command: &mut Command) -> anyhow::Result<(std::process::Output, f64, u64)> {
    use std::io::Read;
    use std::process::Stdio;
    fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Some(hwm) = streamed::proc_bytes(&status_file, "VmHWM:") {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let seconds = started.elapsed().as_secs_f64();
    let output = std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    Ok((output, seconds, peak))
}

/// `events` chunk transfers over `pairs` (debtor, creditor) pairs of sqrt(pairs) peers each
/// side, a few per second over the stream, proximity orders spread over 0..=31.
fn swap_stream(path: &std::path::Path, events: u64, pairs: u64, seed: u64) -> anyhow::Result<u64> {
    let side = (pairs as f64).sqrt().ceil() as u64;
    let mut rng = sim::Rng::new(seed);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let start: u64 = 1_790_812_800_000;
    for i in 0..events {
        let pair = rng.below(pairs);
        let (from, to) = (pair / side, pair % side);
        let ts = start + i * 20;
        writeln!(
            out,
            r#"{{"kind":"chunk_transfer","ts":{ts},"from":"d{from:05}","to":"c{to:05}","po":{}}}"#,
            rng.below(32)
        )?;
    }
    out.flush()?;
    Ok(events)
}

/// Times `meritflow replay` of `path` with `query` as a child process: (seconds, peak RSS).
fn replay(args: &Args, path: &std::path::Path, query: &str) -> anyhow::Result<(f64, u64, String)> {
    let (output, seconds, peak) = run_measured(
        Command::new(&args.meritflow)
            .args(["replay", "--events"])
            .arg(path)
            .args(["--workers", &args.workers.to_string(), "--format", "csv"])
            .args([
                "--store",
                &std::env::temp_dir()
                    .join("meritflow-bench-store")
                    .display()
                    .to_string(),
            ])
            .args(["--query", query]),
    )?;
    if !output.status.success() {
        bail!(
            "meritflow replay failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((
        seconds,
        peak,
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .replace('\n', " / "),
    ))
}

/// Decoding alone, in-process: seconds.
fn decode(path: &std::path::Path) -> anyhow::Result<f64> {
    let t = Instant::now();
    let loaded = file::load(&[path.to_path_buf()], |_| {})?;
    let seconds = t.elapsed().as_secs_f64();
    assert!(loaded.rejects.is_empty(), "the generated stream is valid");
    Ok(seconds)
}

fn swap_main(args: &Args) -> anyhow::Result<()> {
    let dir = std::env::temp_dir();
    let swap_path = dir.join(format!(
        "meritflow-bench-swap-{}-{}.jsonl",
        args.events, args.pairs
    ));
    swap_stream(&swap_path, args.events, args.pairs, args.seed)?;
    let crynux_path = dir.join(format!(
        "meritflow-bench-{}-{}.jsonl",
        args.events, args.nodes
    ));
    let (written, _) = crynux_stream(args, &crynux_path)?;
    let swap_decode = decode(&swap_path)?;
    let crynux_decode = decode(&crynux_path)?;
    let (swap_s, swap_peak, swap_result) = replay(
        args,
        &swap_path,
        "SELECT count(*) AS pairs, sum(chunks) AS chunks FROM swap_balances",
    )?;
    let (crynux_s, _, _) = replay(
        args,
        &crynux_path,
        "SELECT count(*) AS nodes FROM crynux_qos",
    )?;
    let (swap_rate, crynux_rate) = (args.events as f64 / swap_s, written as f64 / crynux_s);
    println!(
        "| figure | swap ({} pairs) | crynux ({} nodes) |",
        args.pairs, args.nodes
    );
    println!("|---|---|---|");
    println!("| events | {} | {written} |", args.events);
    println!(
        "| decode only (in-process, 1 thread) | {:.0} events/s | {:.0} events/s |",
        args.events as f64 / swap_decode,
        written as f64 / crynux_decode
    );
    println!(
        "| replay, whole binary, {} worker(s) | {swap_s:.2} s = {swap_rate:.0} events/s | {crynux_s:.2} s = {crynux_rate:.0} events/s |",
        args.workers
    );
    println!(
        "| swap / crynux replay rate | {:.2} | |",
        swap_rate / crynux_rate
    );
    println!(
        "| peak RSS of the swap replay | {:.0} MB | |",
        swap_peak as f64 / 1e6
    );
    println!("\nswap result: {swap_result}");
    let _ = std::fs::remove_file(&swap_path);
    let _ = std::fs::remove_file(&crynux_path);
    Ok(())
}

/// The generated crynux stream of `args.events` events; returns how many were written, by kind.
fn crynux_stream(
    args: &Args,
    path: &std::path::Path,
) -> anyhow::Result<(u64, std::collections::BTreeMap<&'static str, u64>)> {
    let spec = sim::FleetSpec {
        nodes: args.nodes,
        duration: 30 * 24 * 3_600_000,
        task_every: 50,
        sample_every: 600_000,
        seed: args.seed,
        ..sim::FleetSpec::demo()
    };
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
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
    Ok((written, kinds))
}

fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("report") => return report::main(std::env::args().skip(2)),
        Some("inprocess") => return report::inprocess(std::env::args().skip(2)),
        Some("decode") => return report::decode(std::env::args().skip(2)),
        _ => {}
    }
    let args = args()?;
    match args.stream.as_str() {
        "swap" => return swap_main(&args),
        "crynux" => {}
        other => bail!("--stream {other}: use crynux or swap"),
    }
    let path = std::env::temp_dir().join(format!(
        "meritflow-bench-{}-{}.jsonl",
        args.events, args.nodes
    ));
    let started = Instant::now();
    let (written, kinds) = crynux_stream(&args, &path)?;
    let bytes = std::fs::metadata(&path)?.len();
    eprintln!(
        "generated {written} events ({:.0} MB) in {:.1}s: {kinds:?}",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let decode_s = decode(&path)?;
    let (replay_s, peak, result) = replay(
        &args,
        &path,
        "SELECT count(*) AS nodes, sum(tasks) AS tasks_in_window FROM crynux_qos",
    )?;

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
    println!("\nresult: {result}");
    let _ = std::fs::remove_file(&path);
    Ok(())
}
