//! The Kafka sinks: one idempotent producer for the rejects, scores and triggers topics.
//! Messages never time out inside librdkafka (`message.timeout.ms = 0`), and one that fails
//! anyway is sent again: during a broker outage output waits, and so do the offset commits
//! that depend on it, instead of anything being dropped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meritflow_pipelines::kafka_config::KafkaConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use super::client::{self, check_cluster, setting_error, StartError};

/// One message to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub key: Vec<u8>,
    /// `None` writes a tombstone (the key's row is gone).
    pub payload: Option<Vec<u8>>,
}

#[derive(Clone, Default)]
pub struct SinkContext {
    client: client::Context,
    failed: Arc<Mutex<Vec<(Record, String)>>>,
}

impl ClientContext for SinkContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.client.log(level, fac, message)
    }
    fn error(&self, error: KafkaError, reason: &str) {
        self.client.error(error, reason)
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, message)) = result {
            let record = Record {
                topic: message.topic().to_owned(),
                key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
                payload: message.payload().map(<[u8]>::to_vec),
            };
            self.failed
                .lock()
                .expect("failed lock")
                .push((record, error.to_string()));
        }
    }
}

/// Counters of the sinks, for telemetry and the demo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    pub sent: u64,
    pub resent: u64,
}

pub struct Sink {
    producer: BaseProducer<SinkContext>,
    stats: SinkStats,
}

impl Sink {
    /// The topics meritflow writes its results to.
    pub fn output_topics(cfg: &KafkaConfig) -> [&str; 4] {
        [
            cfg.rejects_topic.as_str(),
            cfg.scores_topic.as_str(),
            cfg.triggers_topic.as_str(),
            cfg.statements_topic.as_str(),
        ]
    }

    /// Connects and checks that `topics` exist.
    pub fn connect(
        cfg: &KafkaConfig,
        topics: &[&str],
        timeout: Duration,
    ) -> Result<Sink, StartError> {
        let context = SinkContext::default();
        let producer: BaseProducer<SinkContext> = client::base(cfg)
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", "0")
            .set("linger.ms", "5")
            .set_log_level(RDKafkaLogLevel::Warning)
            .create_with_context(context.clone())
            .map_err(setting_error)?;
        check_cluster(
            producer.client(),
            &context.client,
            &cfg.brokers,
            topics,
            timeout,
        )?;
        Ok(Sink {
            producer,
            stats: SinkStats::default(),
        })
    }

    /// Queues a record; waits for room while the producer's queue is full.
    pub fn send(&mut self, record: &Record) {
        loop {
            let mut base = BaseRecord::to(&record.topic).key(&record.key);
            // librdkafka's partitioner spreads empty keys at random, which would reorder the
            // rows of that one key (the scores topic's network row): they all go to the first.
            if record.key.is_empty() {
                base = base.partition(0);
            }
            if let Some(payload) = &record.payload {
                base = base.payload(payload);
            }
            match self.producer.send(base) {
                Ok(()) => {
                    self.stats.sent += 1;
                    return;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => {
                    // Only a record librdkafka can never send lands here (too large for the
                    // broker's limit, say); waiting would stop the pipeline for good.
                    tracing::error!(error = %e, topic = %record.topic, "output record refused; not written");
                    return;
                }
            }
        }
    }

    /// Returns once every queued record is acknowledged, sending failed ones again; while the
    /// broker is away this waits (and says so every `nag`).
    pub fn flush(&mut self, nag: Duration) {
        let started = Instant::now();
        let mut last_nag = started;
        loop {
            let flushed = self.producer.flush(Duration::from_millis(500)).is_ok();
            let failed =
                std::mem::take(&mut *self.producer.context().failed.lock().expect("failed lock"));
            for (record, error) in &failed {
                tracing::warn!(%error, topic = %record.topic, "output delivery failed; sending again");
                self.stats.resent += 1;
                self.send(record);
            }
            if flushed && failed.is_empty() {
                return;
            }
            if last_nag.elapsed() >= nag {
                last_nag = Instant::now();
                tracing::warn!(
                    waited_s = started.elapsed().as_secs(),
                    in_queue = self.producer.in_flight_count(),
                    "output not yet acknowledged by Kafka; input offsets stay uncommitted until it is"
                );
            }
        }
    }

    /// Serves delivery reports without waiting (a long-lived producer must call this often).
    pub fn poll(&self) {
        self.producer.poll(Duration::ZERO);
    }

    pub fn stats(&self) -> SinkStats {
        self.stats
    }
}
