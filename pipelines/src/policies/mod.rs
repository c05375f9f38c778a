//! One module per policy: its config, its pure formulas, its dataflow, its tables.

pub mod crynux;
pub mod icp;
pub mod relay;
pub mod sla;
pub mod swap;
