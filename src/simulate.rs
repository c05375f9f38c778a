//! `meritflow simulate`: writes the seeded simulated fleet's events as JSONL (for trying replay,
//! for benchmarks, for tests).

use std::io::{BufWriter, Write};
use std::ops::ControlFlow;

use clap::Args;
use meritflow_connectors::sim::{generate, FleetSpec};
use meritflow_connectors::sim_icp::{icp_month, IcpSpec};
use meritflow_connectors::sim_sla::{sla_fleet, SlaScenario, SlaSpec};
use meritflow_pipelines::events::Event;

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
    /// Which network to simulate: a crynux task fleet, an ICP-style month of block-maker
    /// counters (with --month, --subnets), or a probed and rated service fleet for policy sla
    /// (with --scenario, --days, --month for its start).
    #[arg(long, value_enum, default_value_t = Network::Crynux)]
    network: Network,
    /// The month an icp simulation covers (its first hours of the next month included, so it
    /// closes).
    #[arg(long, default_value = "2026-10")]
    month: String,
    /// Subnets of an icp simulation.
    #[arg(long, default_value_t = 30)]
    subnets: usize,
    /// What happens in an sla simulation: nothing (healthy), a network-wide outage on day 2
    /// (nobody should be penalised), or one bad node for a day that then recovers, plus GPU
    /// faults (bad-node).
    #[arg(long, value_enum, default_value_t = Scenario::BadNode)]
    scenario: Scenario,
    /// Days of an sla simulation, from the first of --month.
    #[arg(long, default_value_t = 24)]
    days: u64,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Scenario {
    Healthy,
    Outage,
    BadNode,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Network {
    Crynux,
    Icp,
    Sla,
}

fn icp_spec(args: &SimulateArgs) -> anyhow::Result<IcpSpec> {
    let first = chrono::NaiveDate::parse_from_str(&format!("{}-01", args.month), "%Y-%m-%d")
        .map_err(|_| {
            anyhow::anyhow!(
                "--month `{}` is not a month: write YYYY-MM, e.g. 2026-10",
                args.month
            )
        })?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| anyhow::anyhow!("--month {} is out of range", args.month))?;
    let start = first
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_millis();
    if start < 86_400_000 || args.nodes == 0 || args.subnets == 0 {
        anyhow::bail!(
            "an icp simulation needs a month after 1970-01, --nodes and --subnets above 0"
        );
    }
    Ok(IcpSpec {
        nodes: args.nodes,
        subnets: args.subnets,
        start: start as u64,
        days: (next - first).num_days() as u64,
        seed: args.seed,
    })
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
    let icp = match args.network {
        Network::Icp => Some(icp_month(&icp_spec(&args)?)),
        Network::Sla => {
            let month = icp_spec(&args)?;
            Some(sla_fleet(&SlaSpec {
                nodes: args.nodes,
                start: month.start,
                days: args.days,
                scenario: match args.scenario {
                    Scenario::Healthy => SlaScenario::Healthy,
                    Scenario::Outage => SlaScenario::Outage,
                    Scenario::BadNode => SlaScenario::BadNode,
                },
                seed: args.seed,
            }))
        }
        Network::Crynux => None,
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut written = 0u64;
    let limit = args.limit.unwrap_or(u64::MAX);
    let mut failure = None;
    let mut write = |event: Event| {
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
    };
    match icp {
        Some(events) => {
            for event in events {
                if write(event).is_break() {
                    break;
                }
            }
        }
        None => generate(&spec, write),
    }
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
