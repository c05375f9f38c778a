//! Policy `sla`: uptime, response time, error rate and rating against network-relative
//! targets, with graduated penalties (`shared/reference/swarm-ai-performance.md`).

pub mod config;
pub mod dataflow;
pub mod explain;
pub mod formulas;
pub mod median;
pub mod network;
pub mod policy;
pub mod reference;
pub mod standing;
pub mod state;
pub mod tables;

pub use config::SlaConfig;
