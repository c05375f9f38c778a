//! Kafka in and out (librdkafka through `rdkafka`): the group consumer source, the idempotent
//! producer sinks, event time over partitions, offset commits that wait for the results, and
//! an embedded mock cluster for the demo and unit tests.

pub mod admin;
pub mod client;
pub mod commit;
pub mod mock;
pub mod pipeline;
pub mod produce;
pub mod sink;
pub mod source;
pub mod watermark;
