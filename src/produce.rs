//! `meritflow produce`: JSONL event files into the input topics, as a producer in the field
//! would write them (telemetry to the telemetry topic, keyed by node).

use std::path::PathBuf;

use clap::Args;
use meritflow_connectors::kafka::produce::produce_files;
use meritflow_connectors::kafka::sink::Sink;

use crate::run::CONNECT_TIMEOUT;

#[derive(Args)]
pub struct ProduceArgs {
    /// JSONL event files, written in the order given, line by line (bad lines included).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    events: Vec<PathBuf>,
    /// Configuration file ([kafka] brokers and input_topics).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Brokers, overriding the configuration.
    #[arg(long, value_name = "HOST:PORT")]
    brokers: Option<String>,
}

pub fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let mut config = crate::load_config(args.config.as_ref())?;
    if let Some(brokers) = args.brokers {
        config.kafka.brokers = brokers;
    }
    let kafka = &config.kafka;
    let topics: Vec<&str> = kafka.input_topics.iter().map(String::as_str).collect();
    let mut sink = Sink::connect(kafka, &topics, CONNECT_TIMEOUT)?;
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    let written = produce_files(kafka, &mut sink, &args.events, |n| bar.set_position(n))?;
    bar.finish_and_clear();
    eprintln!(
        "meritflow: {written} messages written to {}",
        topics.join(" / ")
    );
    Ok(())
}
