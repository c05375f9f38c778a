//! An embedded Kafka-protocol broker (librdkafka's mock cluster) with meritflow's topics, for
//! the demo and for tests: nothing to install, no network. It keeps only a few megabytes per
//! partition, so it is for watching and testing, never for keeping data.

use meritflow_pipelines::kafka_config::KafkaConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

pub struct Embedded {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl Embedded {
    /// Starts a one-broker cluster with every topic of `cfg`, `partitions` each.
    pub fn start(cfg: &KafkaConfig, partitions: i32) -> Result<Embedded, String> {
        let cluster =
            MockCluster::new(1).map_err(|e| format!("cannot start the embedded Kafka: {e}"))?;
        let outputs = [
            &cfg.rejects_topic,
            &cfg.scores_topic,
            &cfg.triggers_topic,
            &cfg.statements_topic,
        ];
        for topic in cfg.input_topics.iter().chain(outputs) {
            cluster
                .create_topic(topic, partitions, 1)
                .map_err(|e| format!("cannot create topic {topic} in the embedded Kafka: {e}"))?;
        }
        Ok(Embedded { cluster })
    }

    /// `cfg` pointed at this cluster.
    pub fn config(&self, cfg: &KafkaConfig) -> KafkaConfig {
        KafkaConfig {
            brokers: self.cluster.bootstrap_servers(),
            ..cfg.clone()
        }
    }
}
