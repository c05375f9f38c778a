//! Simulated GPUs for machines without one: seeded and reproducible (same seed, node and read
//! times → same readings). Each card follows a daily load curve with noise; memory use,
//! temperature, power and SM clock follow the load; energy adds up; now and then an XID (some
//! critical) or an ECC double-bit error; and the last card reports less VRAM (20 GiB) than the
//! 24 GiB its siblings have, as a misreporting or cut-down card would.

use meritflow_pipelines::time::Millis;

use super::source::{GpuReading, GpuSource};
use crate::sim::Rng;

const GIB: u64 = 1 << 30;
/// XIDs the simulator emits: 13 and 31 (application faults), 43, and 79 (fallen off the bus).
const XIDS: [u64; 4] = [13, 31, 43, 79];

struct SimGpu {
    uuid: String,
    total: u64,
    /// Where in the day its load peaks, as a fraction of the day.
    phase: f64,
    energy_j: f64,
    ecc: u64,
    last: Option<Millis>,
}

pub struct SimGpus {
    rng: Rng,
    gpus: Vec<SimGpu>,
}

impl SimGpus {
    pub fn new(count: usize, node: &str, seed: u64) -> SimGpus {
        let node_seed = node.bytes().fold(seed ^ 0x9e37_79b9_7f4a_7c15, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        let mut rng = Rng::new(node_seed);
        let gpus = (0..count)
            .map(|i| SimGpu {
                uuid: format!("GPU-{:08x}-sim-{node}-{i}", rng.next_u64() as u32),
                total: if i + 1 == count && count > 1 {
                    20 * GIB
                } else {
                    24 * GIB
                },
                phase: rng.unit(),
                energy_j: 1e6 * rng.unit(),
                ecc: 0,
                last: None,
            })
            .collect();
        SimGpus { rng, gpus }
    }
}

impl GpuSource for SimGpus {
    fn read(&mut self, now: Millis) -> (Vec<GpuReading>, Vec<String>) {
        let day = (now % 86_400_000) as f64 / 86_400_000.0;
        let rng = &mut self.rng;
        let readings = self
            .gpus
            .iter_mut()
            .map(|g| {
                let curve = (std::f64::consts::TAU * (day - g.phase)).cos();
                let util = (55.0 + 40.0 * curve + 10.0 * (rng.unit() - 0.5)).clamp(0.0, 100.0);
                let power = 60.0 + 2.9 * util + 5.0 * rng.unit();
                if let Some(last) = g.last {
                    g.energy_j += power * now.saturating_sub(last) as f64 / 1000.0;
                }
                g.last = Some(now);
                if rng.chance(0.0005) {
                    g.ecc += 1;
                }
                let xid = rng
                    .chance(0.001)
                    .then(|| XIDS[rng.below(XIDS.len() as u64) as usize]);
                let round = |v: f64| (v * 10.0).round() / 10.0;
                GpuReading {
                    gpu: g.uuid.clone(),
                    vram_total_bytes: g.total,
                    vram_used_bytes: Some((g.total as f64 * (0.15 + 0.75 * util / 100.0)) as u64),
                    gpu_util_pct: Some(round(util)),
                    mem_util_pct: Some(round(util * 0.6)),
                    temp_c: Some(round(34.0 + 0.45 * util + 2.0 * rng.unit())),
                    power_w: Some(round(power)),
                    energy_j: Some(g.energy_j.round()),
                    sm_clock_mhz: Some((1_395.0 + 13.0 * util).round()),
                    ecc_dbe_total: Some(g.ecc),
                    xid,
                }
            })
            .collect();
        (readings, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meritflow_pipelines::events::decode;

    fn run(seed: u64) -> Vec<GpuReading> {
        let mut sim = SimGpus::new(4, "n1", seed);
        (0..50)
            .flat_map(|i| sim.read(1_790_812_800_000 + i * 10_000).0)
            .collect()
    }

    #[test]
    fn same_seed_same_readings() {
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn readings_are_valid_events_of_our_own_contract() {
        for (i, r) in run(3).iter().enumerate() {
            let event = r.event("n1", 1_790_812_800_000 + i as u64);
            let back = decode(event.to_json().as_bytes())
                .unwrap_or_else(|e| panic!("{}: {}", event.to_json(), e.reason()));
            assert_eq!(back, event);
        }
    }

    #[test]
    fn the_last_card_reports_less_vram() {
        let (readings, _) = SimGpus::new(3, "n1", 1).read(0);
        let totals: Vec<u64> = readings.iter().map(|r| r.vram_total_bytes).collect();
        assert_eq!(totals, [24 * GIB, 24 * GIB, 20 * GIB]);
    }
}
