//! Policy `swap`: Ethereum Swarm's bandwidth ledger per (debtor, creditor), observed from the
//! events peers report (`shared/reference/swap-bandwidth.md`).

pub mod config;
pub mod dataflow;
pub mod ledger;
pub mod policy;
pub mod reference;
pub mod state;
pub mod tables;

pub use config::SwapConfig;
