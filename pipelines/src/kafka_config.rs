//! `[kafka]`: where `meritflow run` reads events and writes its results, and how event time
//! advances over Kafka partitions. Every field is documented in [`crate::config::DEFAULTS_TOML`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Span;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Consumer group of the input topics; offsets are committed under it.
    pub group_id: String,
    /// Input topics, all carrying events of `shared/reference/events.md`.
    pub input_topics: Vec<String>,
    /// Where rejected and late input goes, with the reason and where it came from.
    pub rejects_topic: String,
    /// Changes of `crynux_qos` rows, keyed by node.
    pub scores_topic: String,
    /// Trigger rows, keyed by trigger id.
    pub triggers_topic: String,
    /// Closed periods' statement rows, once each, keyed `policy/period/provider[/node]`.
    pub statements_topic: String,
    /// How far behind the newest `ts` of a partition its events may still arrive and count.
    pub allowed_lateness: Span,
    /// A partition that delivers nothing for this long stops holding event time back.
    pub idle_timeout: Span,
    /// Events stamped further than this ahead of the wall clock are rejected: one bad clock
    /// would otherwise push event time ahead and make every honest event late. `0s`: no check.
    pub max_future: Span,
    /// How often completed results are written out and input offsets committed. The consumer
    /// waits at most a quarter of it (10–500 ms) for new data per fetch, unless
    /// `properties` sets `fetch.wait.max.ms`.
    pub publish_interval: Span,
    /// Where a group without committed offsets starts: `earliest` or `latest`.
    pub start_from: StartFrom,
    /// librdkafka properties passed as they are (TLS, SASL, tuning), for example
    /// `"security.protocol" = "SASL_SSL"`.
    pub properties: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartFrom {
    Earliest,
    Latest,
}

impl StartFrom {
    pub fn name(self) -> &'static str {
        match self {
            StartFrom::Earliest => "earliest",
            StartFrom::Latest => "latest",
        }
    }
}

/// Properties meritflow sets itself, each with the field that controls it instead.
pub const OWNED_PROPERTIES: [(&str, &str); 6] = [
    ("bootstrap.servers", "kafka.brokers"),
    ("group.id", "kafka.group_id"),
    (
        "enable.auto.commit",
        "nothing: offsets are committed once results are out",
    ),
    (
        "enable.auto.offset.store",
        "nothing: offsets are committed once results are out",
    ),
    ("auto.offset.reset", "kafka.start_from"),
    (
        "enable.idempotence",
        "nothing: the producer is always idempotent",
    ),
];

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            group_id: "meritflow".into(),
            input_topics: vec!["meritflow.events".into(), "meritflow.telemetry".into()],
            rejects_topic: "meritflow.rejects".into(),
            scores_topic: "meritflow.scores".into(),
            triggers_topic: "meritflow.triggers".into(),
            statements_topic: "meritflow.statements".into(),
            allowed_lateness: Span(5_000),
            idle_timeout: Span(10_000),
            max_future: Span::hours(1),
            publish_interval: Span(1_000),
            start_from: StartFrom::Earliest,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.brokers.trim().is_empty() {
            out.push("kafka.brokers must name at least one broker (host:port)".to_owned());
        }
        if self.group_id.trim().is_empty() {
            out.push("kafka.group_id must not be empty".to_owned());
        }
        if self.input_topics.is_empty() {
            out.push("kafka.input_topics must name at least one topic".to_owned());
        }
        let outputs = [
            ("rejects_topic", &self.rejects_topic),
            ("scores_topic", &self.scores_topic),
            ("triggers_topic", &self.triggers_topic),
            ("statements_topic", &self.statements_topic),
        ];
        for (name, topic) in outputs {
            if topic.trim().is_empty() {
                out.push(format!("kafka.{name} must not be empty"));
            } else if self.input_topics.contains(topic) {
                out.push(format!(
                    "kafka.{name} `{topic}` is also an input topic: meritflow would read its own output"
                ));
            }
        }
        if self.input_topics.iter().any(|t| t.trim().is_empty()) {
            out.push("kafka.input_topics must not contain an empty name".to_owned());
        }
        if self.publish_interval.millis() == 0 {
            out.push("kafka.publish_interval must be positive".to_owned());
        }
        if self.idle_timeout.millis() == 0 {
            out.push("kafka.idle_timeout must be positive".to_owned());
        }
        for (property, instead) in OWNED_PROPERTIES {
            if self.properties.contains_key(property) {
                out.push(format!(
                    "kafka.properties.\"{property}\" is set by meritflow; use {instead}"
                ));
            }
        }
        out
    }
}
