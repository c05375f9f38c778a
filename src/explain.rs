//! `meritflow explain`: replays the events and tells, step by step, how one node's reward for
//! one day came out — the figures of its `icp_node_daily` row (or of the live row while the day
//! is open).

use clap::Args;
use meritflow_pipelines::policies::icp::explain::{days_of, explain};
use meritflow_pipelines::time::{day_of_date, format_date};

use crate::replay::{replay_input, ReplayInput};

#[derive(Args)]
pub struct ExplainArgs {
    /// The node.
    #[arg(long)]
    node: String,
    /// The UTC day, YYYY-MM-DD.
    #[arg(long, value_parser = parse_day)]
    day: i32,
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
    let parts = &replayed.icp;
    match explain(parts, &args.node, args.day, &replayed.config.policy.icp) {
        Some(text) => crate::emit(&text)?,
        None => {
            let days: Vec<String> = days_of(parts, &args.node)
                .into_iter()
                .map(format_date)
                .collect();
            let known = if days.is_empty() {
                "it has no icp row on any day (not rewardable: registered with provider, region and node_type?)".to_owned()
            } else {
                format!("its days: {}", days.join(", "))
            };
            anyhow::bail!(
                "node {} has no icp row on {}; {known}",
                args.node,
                format_date(args.day)
            );
        }
    }
    Ok(())
}
