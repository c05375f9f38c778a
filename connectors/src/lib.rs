//! Where events come from and where results go: JSONL files, the simulated fleet, and Kafka
//! (`kafka/`: source, sinks, the streaming run, an embedded mock cluster).

pub mod checkpoint_store;
pub mod durable;
pub mod exporter;
pub mod file;
pub mod kafka;
pub mod sim;
pub mod sim_icp;
pub mod sim_sla;
pub mod statement_store;
