//! Where a command's dataflow runs: worker threads here, and the other processes of a timely
//! cluster if there are any (`replay` and `run` take the same flags).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use meritflow_pipelines::engine;

#[derive(Args, Clone, Debug)]
pub struct ClusterArgs {
    /// Worker threads of the dataflow in this process.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
    /// Processes of a timely cluster running together, each started with the same arguments
    /// and its own --process (see deploy/cluster/).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub processes: u16,
    /// This process's number in the cluster, 0..processes; process 0 holds the results.
    #[arg(long, default_value_t = 0)]
    pub process: u16,
    /// The cluster's addresses, one host:port per line in process order (default: 127.0.0.1,
    /// ports 2101 and up).
    #[arg(long, value_name = "FILE")]
    pub hostfile: Option<PathBuf>,
}

impl ClusterArgs {
    /// The timely cluster these flags describe.
    pub fn cluster(&self) -> anyhow::Result<engine::Cluster> {
        let processes = self.processes as usize;
        if self.process >= self.processes {
            anyhow::bail!(
                "--process {} is not below --processes {}",
                self.process,
                self.processes
            );
        }
        let addresses: Vec<String> = match &self.hostfile {
            None if processes > 1 => (0..processes)
                .map(|i| format!("127.0.0.1:{}", 2101 + i))
                .collect(),
            None => Vec::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --hostfile {}", path.display()))?;
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned)
                    .collect()
            }
        };
        if processes > 1 && addresses.len() != processes {
            anyhow::bail!(
                "--hostfile lists {} addresses for --processes {}: one host:port per process",
                addresses.len(),
                processes
            );
        }
        Ok(engine::Cluster {
            workers: self.workers as usize,
            process: self.process as usize,
            addresses,
        })
    }
}

/// timely's cluster set-up prints its connection progress on stdout, where results go: this
/// points file descriptor 1 at stderr until dropped.
pub struct StdoutToStderr {
    saved: i32,
}

impl StdoutToStderr {
    pub fn new() -> StdoutToStderr {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // SAFETY: dup/dup2 on the process's own standard descriptors; restored on drop.
        let saved = unsafe { libc::dup(1) };
        unsafe { libc::dup2(2, 1) };
        StdoutToStderr { saved }
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        if self.saved >= 0 {
            // SAFETY: as above.
            unsafe {
                libc::dup2(self.saved, 1);
                libc::close(self.saved);
            }
        }
    }
}
