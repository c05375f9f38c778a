//! The GPU exporter's parts: where readings come from ([`source`]: NVML or the simulator), the
//! bounded on-disk spool that keeps them while the broker is away, the Kafka sender that drains
//! it in order, and the Prometheus text exposition of the latest readings.

pub mod nvml;
pub mod prometheus;
pub mod sender;
pub mod sim;
pub mod source;
pub mod spool;
