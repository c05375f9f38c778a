//! Client settings shared by the source and the sinks, librdkafka's own errors and logs routed
//! to `tracing`, and the start-up check that turns "broker unreachable", "topic missing" and
//! "authentication failed" into one line that says what to do.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use meritflow_pipelines::kafka_config::KafkaConfig;
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;

/// Why Kafka could not be used; each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot reach Kafka at {brokers}: {detail} (is the broker running? set [kafka] brokers; `deploy/kafka-dev start` runs one locally)")]
    Unreachable { brokers: String, detail: String },
    #[error("Kafka at {brokers} has no topic {}: create {} with deploy/topics.sh (or your cluster's tooling)", .missing.join(", "), if .missing.len() == 1 { "it" } else { "them" })]
    MissingTopics {
        brokers: String,
        missing: Vec<String>,
    },
    #[error("Kafka client setting refused: {0} (check [kafka.properties])")]
    Setting(String),
    #[error("process {process} of a {processes}-process cluster gets no input partition: the input topics have {partitions} in all (each process reads its own; run at most {partitions} processes, or create the topics with more: meritflow topics --partitions N)")]
    NoPartitionsLeft {
        process: usize,
        processes: usize,
        partitions: usize,
    },
}

/// librdkafka's client callbacks: logs to `tracing`, and the last error kept for start-up
/// messages (an authentication failure only shows up there).
#[derive(Clone, Default)]
pub struct Context {
    last_error: Arc<Mutex<Option<String>>>,
}

impl Context {
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("error lock").clone()
    }
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", facility = fac, "{log_message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(target: "librdkafka", %error, "{reason}");
        *self.last_error.lock().expect("error lock") = Some(reason.to_owned());
    }
}

/// The settings every client gets: brokers, then the pass-through properties.
pub fn base(cfg: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &cfg.brokers);
    config.set("client.id", "meritflow");
    for (key, value) in &cfg.properties {
        config.set(key, value);
    }
    config
}

/// Checks that the cluster answers and that `topics` exist, within `timeout`; returns each
/// topic's partition count, in the order of `topics`.
pub fn check_cluster<C: ClientContext>(
    client: &Client<C>,
    context: &Context,
    brokers: &str,
    topics: &[&str],
    timeout: Duration,
) -> Result<Vec<usize>, StartError> {
    let metadata = client
        .fetch_metadata(None, timeout)
        .map_err(|e| StartError::Unreachable {
            brokers: brokers.to_owned(),
            detail: context.last_error().unwrap_or_else(|| e.to_string()),
        })?;
    let missing: Vec<String> = topics
        .iter()
        .filter(|t| {
            !metadata
                .topics()
                .iter()
                .any(|m| m.name() == **t && m.error().is_none() && !m.partitions().is_empty())
        })
        .map(|t| (*t).to_owned())
        .collect();
    if missing.is_empty() {
        Ok(topics
            .iter()
            .map(|t| {
                metadata
                    .topics()
                    .iter()
                    .find(|m| m.name() == *t)
                    .map_or(0, |m| m.partitions().len())
            })
            .collect())
    } else {
        Err(StartError::MissingTopics {
            brokers: brokers.to_owned(),
            missing,
        })
    }
}

pub fn setting_error(e: KafkaError) -> StartError {
    StartError::Setting(e.to_string())
}
