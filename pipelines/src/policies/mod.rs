//! One module per policy: its config, its pure formulas, its dataflow, its tables, and the
//! type through which the engine runs it ([`crate::policy::Policy`]).

pub mod crynux;
pub mod gpu_latest;
pub mod icp;
pub mod relay;
pub mod sla;
pub mod swap;

use std::sync::Arc;

use crate::config::Config;
use crate::policy::Policy;

/// Every policy of this version, made for one run on `workers` workers per process, in the
/// order their tables are listed and their captures checkpointed. Adding a policy is its folder
/// and one line here.
pub fn registry(config: &Config, workers: usize) -> Vec<Arc<dyn Policy>> {
    vec![
        Arc::new(crynux::policy::CrynuxPolicy::new(config, workers)),
        Arc::new(icp::policy::IcpPolicy::new(config, workers)),
        Arc::new(sla::policy::SlaPolicy::new(config, workers)),
        Arc::new(swap::policy::SwapPolicy::new(config, workers)),
        Arc::new(relay::policy::RelayPolicy::new(config, workers)),
        Arc::new(gpu_latest::policy::GpuLatestPolicy::new(config, workers)),
    ]
}
