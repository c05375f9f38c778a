//! The Kafka source: one group consumer over the input topics, read in batches with the polling
//! client (no future per message). Messages are handed on raw; decoding happens on the timely
//! worker that owns the partition. Offsets are never committed automatically: the publisher
//! commits them once everything derived from them is out (see `commit`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use meritflow_pipelines::kafka_config::KafkaConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

use super::client::{self, check_cluster, setting_error, StartError};
use super::watermark::PartitionId;

/// One consumed message, as the source hands it on.
#[derive(Clone, Debug)]
pub struct Message {
    pub partition: PartitionId,
    pub offset: i64,
    /// The value; an absent value is an empty payload (and is rejected as such).
    pub payload: Vec<u8>,
}

/// A change of the partitions this consumer owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rebalanced {
    Assigned(Vec<PartitionId>),
    Revoked(Vec<PartitionId>),
}

/// Consumer callbacks: the client's logs and errors, and rebalances noted for the ingest loop.
#[derive(Clone)]
pub struct SourceContext {
    client: client::Context,
    topics: Arc<Vec<String>>,
    rebalances: Arc<Mutex<Vec<Rebalanced>>>,
}

impl ClientContext for SourceContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.client.log(level, fac, message)
    }
    fn error(&self, error: KafkaError, reason: &str) {
        self.client.error(error, reason)
    }
}

impl ConsumerContext for SourceContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let ids = |list: &TopicPartitionList| -> Vec<PartitionId> {
            list.elements()
                .iter()
                .filter_map(|e| partition_id(&self.topics, e.topic(), e.partition()))
                .collect()
        };
        let change = match rebalance {
            Rebalance::Assign(list) => Rebalanced::Assigned(ids(list)),
            Rebalance::Revoke(list) => Rebalanced::Revoked(ids(list)),
            Rebalance::Error(e) => {
                tracing::warn!(error = %e, "consumer group rebalance failed");
                return;
            }
        };
        tracing::info!(?change, "consumer group rebalanced");
        self.rebalances.lock().expect("rebalance lock").push(change);
    }
}

fn partition_id(topics: &[String], topic: &str, partition: i32) -> Option<PartitionId> {
    let index = topics.iter().position(|t| t == topic)?;
    Some(PartitionId {
        topic: index as u16,
        partition,
    })
}

pub struct Source {
    consumer: BaseConsumer<SourceContext>,
    topics: Arc<Vec<String>>,
}

impl Source {
    /// Connects, checks that the input topics exist and joins the group, which spreads the
    /// partitions over its members.
    pub fn connect(cfg: &KafkaConfig, timeout: Duration) -> Result<Source, StartError> {
        Source::connect_share(cfg, timeout, 0, 1, &[])
    }

    /// [`Source::connect`] for process `process` of a timely cluster of `processes`: each
    /// process reads a fixed share of the partitions (every `processes`-th of them all, in
    /// topic and partition order) from the group's committed positions. Fixed, not left to the
    /// group: a partition moving between processes mid-run would be read twice.
    ///
    /// `start` gives (topic, partition, offset) to read from instead of the committed position:
    /// a checkpoint's. With any, the partitions are assigned rather than left to the group.
    pub fn connect_share(
        cfg: &KafkaConfig,
        timeout: Duration,
        process: usize,
        processes: usize,
        start: &[(String, i32, i64)],
    ) -> Result<Source, StartError> {
        let topics = Arc::new(cfg.input_topics.clone());
        let context = SourceContext {
            client: client::Context::default(),
            topics: Arc::clone(&topics),
            rebalances: Arc::default(),
        };
        let mut settings = client::base(cfg);
        // librdkafka's broker-side fetch wait (500 ms) would otherwise dominate freshness when
        // results go out more often than that; a quarter of the publish interval keeps fetches
        // few while adding little delay. A `fetch.wait.max.ms` in [kafka.properties] wins.
        if !cfg.properties.contains_key("fetch.wait.max.ms") {
            let wait = (cfg.publish_interval.millis() / 4).clamp(10, 500);
            settings.set("fetch.wait.max.ms", wait.to_string());
        }
        let consumer: BaseConsumer<SourceContext> = settings
            .set("group.id", &cfg.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", cfg.start_from.name())
            .set("enable.partition.eof", "false")
            .set_log_level(RDKafkaLogLevel::Warning)
            .create_with_context(context.clone())
            .map_err(setting_error)?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        let counts = check_cluster(
            consumer.client(),
            &context.client,
            &cfg.brokers,
            &names,
            timeout,
        )?;
        if processes <= 1 && start.is_empty() {
            consumer.subscribe(&names).map_err(setting_error)?;
            return Ok(Source { consumer, topics });
        }
        let all: Vec<PartitionId> = counts
            .iter()
            .enumerate()
            .flat_map(|(topic, &count)| {
                (0..count as i32).map(move |partition| PartitionId {
                    topic: topic as u16,
                    partition,
                })
            })
            .collect();
        let mine: Vec<PartitionId> = all
            .iter()
            .copied()
            .skip(process)
            .step_by(processes)
            .collect();
        if mine.is_empty() {
            return Err(StartError::NoPartitionsLeft {
                process,
                processes,
                partitions: all.len(),
            });
        }
        let mut list = TopicPartitionList::new();
        for id in &mine {
            let topic = &topics[id.topic as usize];
            let offset = start
                .iter()
                .find(|(t, p, _)| t == topic && *p == id.partition)
                .map_or(Offset::Stored, |(_, _, offset)| Offset::Offset(*offset));
            list.add_partition_offset(topic, id.partition, offset)
                .map_err(setting_error)?;
        }
        consumer.assign(&list).map_err(setting_error)?;
        tracing::info!(process, partitions = ?mine, "reading a fixed share of the partitions");
        context
            .rebalances
            .lock()
            .expect("rebalance lock")
            .push(Rebalanced::Assigned(mine));
        Ok(Source { consumer, topics })
    }

    pub fn topic_name(&self, id: PartitionId) -> &str {
        &self.topics[id.topic as usize]
    }

    /// The id of an input topic's partition, by the topic's name (None: not an input topic).
    pub fn partition_id(&self, topic: &str, partition: i32) -> Option<PartitionId> {
        let index = self.topics.iter().position(|t| t == topic)?;
        Some(PartitionId {
            topic: index as u16,
            partition,
        })
    }

    /// Waits up to `wait` for a first message, then takes what is already there, up to `max`.
    pub fn poll_batch(&self, max: usize, wait: Duration, out: &mut Vec<Message>) {
        let mut timeout = wait;
        while out.len() < max {
            match self.consumer.poll(timeout) {
                None => break,
                Some(Ok(m)) => {
                    if let Some(partition) = partition_id(&self.topics, m.topic(), m.partition()) {
                        out.push(Message {
                            partition,
                            offset: m.offset(),
                            payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                        });
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "consumer error (retrying)");
                    break;
                }
            }
            timeout = Duration::ZERO;
        }
    }

    pub fn take_rebalances(&self) -> Vec<Rebalanced> {
        std::mem::take(
            &mut *self
                .consumer
                .context()
                .rebalances
                .lock()
                .expect("rebalance lock"),
        )
    }

    /// Commits positions (the next offset to read) synchronously.
    pub fn commit(&self, positions: &[(PartitionId, i64)]) -> KafkaResult<()> {
        let mut list = TopicPartitionList::new();
        for (id, position) in positions {
            list.add_partition_offset(
                self.topic_name(*id),
                id.partition,
                Offset::Offset(*position),
            )?;
        }
        self.consumer.commit(&list, CommitMode::Sync)
    }

    /// For each of `ids`, whether the broker confirms it has been read to its end. Stops at the
    /// first partition the broker does not answer for within `timeout` (it is away): that one
    /// and the rest are not confirmed.
    pub fn drained(&self, ids: &[PartitionId], timeout: Duration) -> Vec<(PartitionId, bool)> {
        let Ok(positions) = self.consumer.position() else {
            return ids.iter().map(|id| (*id, false)).collect();
        };
        let mut answered = true;
        ids.iter()
            .map(|id| {
                let topic = self.topic_name(*id);
                let position = positions
                    .find_partition(topic, id.partition)
                    .map_or(Offset::Invalid, |e| e.offset());
                let confirmed = answered
                    && match self.consumer.fetch_watermarks(topic, id.partition, timeout) {
                        Ok((low, high)) => match position {
                            Offset::Offset(position) => position >= high,
                            _ => high <= low,
                        },
                        Err(_) => {
                            answered = false;
                            false
                        }
                    };
                (*id, confirmed)
            })
            .collect()
    }
}
