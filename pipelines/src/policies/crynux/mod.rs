//! Policy `crynux`: node QoS for a GPU task network (`shared/reference/crynux-qos.md`).

pub mod config;
pub mod dataflow;
pub mod formulas;
pub mod late;
pub mod node_machine;
pub mod policy;
pub mod reference;
pub mod scores;
pub mod tables;
pub mod task_window;
pub mod vram;

pub use config::CrynuxConfig;
