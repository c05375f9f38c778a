//! `meritflow topics`: creates the topics of a configuration on any Kafka.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use meritflow_connectors::kafka::admin::{create, plan, Created};

#[derive(Args)]
pub struct TopicsArgs {
    /// Configuration file ([kafka] brokers and topic names).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Partitions per topic: the most consumers (workers) that can share the input.
    #[arg(long, default_value_t = 8)]
    partitions: i32,
    /// Replicas per partition (3 on a production cluster; 1 on a one-broker test setup).
    #[arg(long, default_value_t = 1)]
    replication: i32,
    /// How long input topics keep events: at least the longest policy window, so results can
    /// be rebuilt from the log.
    #[arg(long, default_value = "35d")]
    input_retention: meritflow_pipelines::time::Span,
}

pub fn run(args: TopicsArgs) -> anyhow::Result<()> {
    let config = crate::load_config(args.config.as_ref())?;
    let plans = plan(
        &config.kafka,
        args.partitions,
        args.input_retention.millis(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let results = runtime.block_on(create(
        &config.kafka,
        &plans,
        args.replication,
        Duration::from_secs(30),
    ))?;
    let mut failed = 0;
    for (name, created) in results {
        match created {
            Created::Created => eprintln!("created {name}"),
            Created::AlreadyThere => eprintln!("{name} exists already (left as it is)"),
            Created::Failed(why) => {
                failed += 1;
                eprintln!("cannot create {name}: {why}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} topics could not be created on {}",
            config.kafka.brokers
        );
    }
    Ok(())
}
