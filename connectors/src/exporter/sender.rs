//! Sends spooled samples to Kafka, oldest segment first: a segment is deleted only when every
//! one of its messages is acknowledged; otherwise it is sent again later (at-least-once; a
//! consumer keeps the latest sample per GPU, so a repeated sample changes nothing). Batched and
//! lz4-compressed; messages time out after 10 s so an unreachable broker shows up as a failed
//! segment rather than an ever-growing in-memory queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meritflow_pipelines::kafka_config::KafkaConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use crate::kafka::client::{self, setting_error, StartError};

#[derive(Clone, Default)]
struct Counting {
    client: client::Context,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl ClientContext for Counting {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.client.log(level, fac, message)
    }
    fn error(&self, error: KafkaError, reason: &str) {
        self.client.error(error, reason)
    }
}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let counter = if result.is_ok() {
            &self.ok
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

pub struct Sender {
    producer: BaseProducer<Counting>,
    context: Counting,
    topic: String,
    key: String,
}

impl Sender {
    pub fn new(cfg: &KafkaConfig, topic: &str, key: &str) -> Result<Sender, StartError> {
        let context = Counting::default();
        let producer = client::base(cfg)
            .set("compression.type", "lz4")
            .set("linger.ms", "50")
            .set("acks", "all")
            .set("message.timeout.ms", "10000")
            .set_log_level(RDKafkaLogLevel::Error)
            .create_with_context(context.clone())
            .map_err(setting_error)?;
        Ok(Sender {
            producer,
            context,
            topic: topic.to_owned(),
            key: key.to_owned(),
        })
    }

    /// Sends one segment; true when every message was acknowledged.
    pub fn send(&self, lines: &[String]) -> bool {
        self.context.ok.store(0, Ordering::SeqCst);
        self.context.failed.store(0, Ordering::SeqCst);
        let mut queued = 0u64;
        for line in lines {
            let record = BaseRecord::to(&self.topic).key(&self.key).payload(line);
            match self.producer.send(record) {
                Ok(()) => queued += 1,
                Err((e, _)) => {
                    tracing::warn!(error = %e, "sample not queued; the segment is sent again later");
                    break;
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let done =
                self.context.ok.load(Ordering::SeqCst) + self.context.failed.load(Ordering::SeqCst);
            if done >= queued {
                break;
            }
            self.producer.poll(Duration::from_millis(50));
        }
        let ok = self.context.ok.load(Ordering::SeqCst);
        ok == queued && queued == lines.len() as u64
    }

    pub fn last_error(&self) -> Option<String> {
        self.context.client.last_error()
    }

    /// Waits for whatever is still queued (at shutdown).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(timeout);
    }
}
