//! `meritflow explain`: replays the events and tells, step by step, how one node's figures
//! came out: for `icp` its reward for one day (the figures of its `icp_node_daily` row, or of
//! the live row while the day is open); for `sla` every target, figure and part of its
//! performance at the replay's moment, and its penalty history.

use clap::Args;
use meritflow_pipelines::policy::ExplainRequest;
use meritflow_pipelines::time::day_of_date;

use crate::replay::{replay_input, ReplayInput};

#[derive(Args)]
pub struct ExplainArgs {
    /// The node.
    #[arg(long)]
    node: String,
    /// The policy whose figures to explain (icp, sla).
    #[arg(long, default_value = "icp")]
    policy: String,
    /// The UTC day, YYYY-MM-DD (icp).
    #[arg(long, value_parser = parse_day, required_if_eq("policy", "icp"))]
    day: Option<i32>,
    #[command(flatten)]
    input: ReplayInput,
}

fn parse_day(text: &str) -> Result<i32, String> {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a day: write YYYY-MM-DD, e.g. 2026-10-05"))?;
    Ok(day_of_date(date))
}

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let replayed = replay_input(&args.input)?;
    let request = ExplainRequest {
        node: &args.node,
        day: args.day,
    };
    let text = replayed.policies.explain(&args.policy, request)?;
    crate::emit(&text)?;
    Ok(())
}
