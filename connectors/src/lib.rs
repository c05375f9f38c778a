//! Where events come from and where results go: JSONL files and the simulated fleet for now;
//! Kafka arrives with its issue (`kafka/{source,sink}`).

pub mod file;
pub mod sim;
