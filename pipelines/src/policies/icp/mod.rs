//! Policy `icp`: daily block-maker failure rates and reward reduction
//! (`shared/reference/icp-node-rewards.md`), and the period statements payout jobs pay from.

pub mod config;
pub mod dataflow;
pub mod day;
pub mod explain;
pub mod formulas;
pub mod live;
pub mod period;
pub mod policy;
pub mod reference;
pub mod state;
pub mod tables;

pub use config::IcpConfig;
