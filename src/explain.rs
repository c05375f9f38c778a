//! `meritflow explain`: replays the events and tells, step by step, how one node's figures
//! came out: for `icp` its reward for one day (the figures of its `icp_node_daily` row, or of
//! the live row while the day is open); for `sla` every target, figure and part of its
//! performance at the replay's moment, and its penalty history.

use clap::{Args, ValueEnum};
use meritflow_pipelines::policies::icp::explain::{days_of, explain};
use meritflow_pipelines::policies::icp::tables::IcpParts;
use meritflow_pipelines::policies::sla::explain::explain as explain_sla;
use meritflow_pipelines::policies::sla::tables::SlaParts;
use meritflow_pipelines::time::{day_of_date, format_date};

use crate::replay::{replay_input, ReplayInput};

#[derive(Args)]
pub struct ExplainArgs {
    /// The node.
    #[arg(long)]
    node: String,
    /// The policy whose figures to explain.
    #[arg(long, value_enum, default_value = "icp")]
    policy: ExplainPolicy,
    /// The UTC day, YYYY-MM-DD (icp).
    #[arg(long, value_parser = parse_day, required_if_eq("policy", "icp"))]
    day: Option<i32>,
    #[command(flatten)]
    input: ReplayInput,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExplainPolicy {
    Icp,
    Sla,
}

fn parse_day(text: &str) -> Result<i32, String> {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a day: write YYYY-MM-DD, e.g. 2026-10-05"))?;
    Ok(day_of_date(date))
}

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let replayed = replay_input(&args.input)?;
    let Some(day) = args.day.filter(|_| args.policy == ExplainPolicy::Icp) else {
        let sla = replayed
            .policies
            .parts::<SlaParts>()
            .ok_or_else(|| anyhow::anyhow!("the sla policy did not run"))?;
        let text = explain_sla(sla, &args.node, replayed.as_of, &replayed.config.policy.sla)
            .map_err(anyhow::Error::msg)?;
        crate::emit(&text)?;
        return Ok(());
    };
    let parts = replayed
        .policies
        .parts::<IcpParts>()
        .ok_or_else(|| anyhow::anyhow!("the icp policy did not run"))?;
    match explain(parts, &args.node, day, &replayed.config.policy.icp) {
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
                format_date(day)
            );
        }
    }
    Ok(())
}
