//! Creating meritflow's topics on any Kafka (`meritflow topics`, `deploy/topics.sh`): input
//! topics kept long enough to rebuild a whole window from the log, score and trigger topics
//! compacted to the latest row per key, rejects kept a month for a person to look at.

use std::time::Duration;

use meritflow_pipelines::kafka_config::KafkaConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;

use super::client::{self, setting_error, StartError};

/// One topic to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicPlan {
    pub name: String,
    pub partitions: i32,
    pub configs: Vec<(&'static str, String)>,
}

const DAY_MS: u64 = 86_400_000;

/// The topics of `cfg`: inputs retained for `input_retention_ms`, outputs as described above.
pub fn plan(cfg: &KafkaConfig, partitions: i32, input_retention_ms: u64) -> Vec<TopicPlan> {
    let mut plans: Vec<TopicPlan> = cfg
        .input_topics
        .iter()
        .map(|name| TopicPlan {
            name: name.clone(),
            partitions,
            configs: vec![("retention.ms", input_retention_ms.to_string())],
        })
        .collect();
    // Statement rows have unique keys, so compaction keeps every one of them.
    for name in [
        &cfg.scores_topic,
        &cfg.triggers_topic,
        &cfg.statements_topic,
    ] {
        plans.push(TopicPlan {
            name: name.clone(),
            partitions,
            configs: vec![("cleanup.policy", "compact".to_owned())],
        });
    }
    plans.push(TopicPlan {
        name: cfg.rejects_topic.clone(),
        partitions,
        configs: vec![("retention.ms", (30 * DAY_MS).to_string())],
    });
    plans
}

/// What became of one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    Created,
    AlreadyThere,
    Failed(String),
}

/// Creates the planned topics; topics that exist already are left as they are.
pub async fn create(
    cfg: &KafkaConfig,
    plans: &[TopicPlan],
    replication: i32,
    timeout: Duration,
) -> Result<Vec<(String, Created)>, StartError> {
    let admin: AdminClient<client::Context> = client::base(cfg)
        .create_with_context(client::Context::default())
        .map_err(setting_error)?;
    let topics: Vec<NewTopic> = plans
        .iter()
        .map(|p| {
            p.configs.iter().fold(
                NewTopic::new(&p.name, p.partitions, TopicReplication::Fixed(replication)),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(timeout));
    let results =
        admin
            .create_topics(&topics, &options)
            .await
            .map_err(|e| StartError::Unreachable {
                brokers: cfg.brokers.clone(),
                detail: admin
                    .inner()
                    .context()
                    .last_error()
                    .unwrap_or_else(|| e.to_string()),
            })?;
    Ok(results
        .into_iter()
        .map(|result| match result {
            Ok(name) => (name, Created::Created),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => (name, Created::AlreadyThere),
            Err((name, code)) => (name, Created::Failed(code.to_string())),
        })
        .collect())
}
