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

/// Makes one policy for a run on `workers` workers per process.
type Make = fn(&Config, usize) -> Arc<dyn Policy>;

/// Every policy of this version, in the order their tables are listed and their captures
/// checkpointed. Adding a policy is its folder and one line here.
const POLICIES: [(&str, Make); 6] = [
    ("crynux", |c, w| {
        Arc::new(crynux::policy::CrynuxPolicy::new(c, w))
    }),
    ("icp", |c, w| Arc::new(icp::policy::IcpPolicy::new(c, w))),
    ("sla", |c, w| Arc::new(sla::policy::SlaPolicy::new(c, w))),
    ("swap", |c, w| Arc::new(swap::policy::SwapPolicy::new(c, w))),
    ("relay", |c, w| {
        Arc::new(relay::policy::RelayPolicy::new(c, w))
    }),
    ("gpu_latest", |c, w| {
        Arc::new(gpu_latest::policy::GpuLatestPolicy::new(c, w))
    }),
];

/// The names of every policy of this version, in registry order.
pub const NAMES: [&str; POLICIES.len()] = {
    let mut names = [""; POLICIES.len()];
    let mut i = 0;
    while i < POLICIES.len() {
        names[i] = POLICIES[i].0;
        i += 1;
    }
    names
};

/// The policies `config` runs (`[engine] policies`), made for one run on `workers` workers
/// per process, in registry order.
pub fn registry(config: &Config, workers: usize) -> Vec<Arc<dyn Policy>> {
    POLICIES
        .iter()
        .filter(|(name, _)| config.runs(name))
        .map(|(_, make)| make(config, workers))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_policy_is_registered_under_its_own_name() {
        let made: Vec<&str> = registry(&Config::default(), 1)
            .iter()
            .map(|p| p.name())
            .collect();
        assert_eq!(made, NAMES);
    }
}
