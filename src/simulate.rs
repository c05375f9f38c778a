//! `meritflow simulate`: writes the seeded simulated fleet's events as JSONL (for trying replay,
//! for benchmarks, for tests).

use std::io::{BufWriter, Write};
use std::ops::ControlFlow;

use clap::Args;
use meritflow_connectors::sim::{generate, FleetSpec};

#[derive(Args)]
pub struct SimulateArgs {
    /// Nodes in the fleet.
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Simulated hours.
    #[arg(long, default_value_t = 4)]
    hours: u64,
    /// A new task every this many milliseconds (network-wide).
    #[arg(long, default_value_t = 5_000)]
    task_every_ms: u64,
    /// Seed (same seed, same events).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Stop after this many events.
    #[arg(long)]
    limit: Option<u64>,
}

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    if args.task_every_ms == 0 {
        anyhow::bail!("--task-every-ms must be positive");
    }
    let spec = FleetSpec {
        nodes: args.nodes,
        duration: args.hours * 3_600_000,
        task_every: args.task_every_ms,
        seed: args.seed,
        ..FleetSpec::demo()
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut written = 0u64;
    let limit = args.limit.unwrap_or(u64::MAX);
    let mut failure = None;
    generate(&spec, |event| {
        if let Err(e) = writeln!(out, "{}", event.to_json()) {
            failure = Some(e);
            return ControlFlow::Break(());
        }
        written += 1;
        if written >= limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if let Some(e) = failure {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    out.flush().or_else(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    Ok(())
}
