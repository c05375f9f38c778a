//! meritflow's event model, policy formulas and differential dataflows.

pub mod checkpoint;
pub mod config;
pub mod control;
pub mod engine;
pub mod events;
pub mod float;
pub mod flood;
pub mod id;
pub mod kafka_config;
pub mod moments;
pub mod policies;
pub mod policy;
pub mod reorder;
pub mod snapshot;
pub mod sql_config;
pub mod statement;
pub mod table;
pub mod time;
pub mod triggers;
