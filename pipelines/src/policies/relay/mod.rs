//! Policy `relay`: which contracts a Freenet peer should relay, by request rate per unit of
//! cost, with isotonic-regression estimates for new contracts
//! (`shared/reference/freenet-relay.md`).

pub mod config;
pub mod dataflow;
pub mod formulas;
pub mod pav;
pub mod policy;
pub mod reference;
pub mod state;
pub mod tables;

pub use config::RelayConfig;
