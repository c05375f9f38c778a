//! One GPU's readings at one moment, and the trait every source of them implements. Readings a
//! GPU does not support are `None` and left out of the event (never sent as 0).

use meritflow_pipelines::events::{Body, Event, GpuSample};
use meritflow_pipelines::time::Millis;

#[derive(Clone, Debug, PartialEq)]
pub struct GpuReading {
    /// The GPU's UUID.
    pub gpu: String,
    pub vram_total_bytes: u64,
    pub vram_used_bytes: Option<u64>,
    pub gpu_util_pct: Option<f64>,
    pub mem_util_pct: Option<f64>,
    pub temp_c: Option<f64>,
    pub power_w: Option<f64>,
    pub energy_j: Option<f64>,
    pub sm_clock_mhz: Option<f64>,
    pub ecc_dbe_total: Option<u64>,
    /// The last critical XID since the previous reading.
    pub xid: Option<u64>,
}

impl GpuReading {
    /// The `gpu_sample` event of this reading, taken on `node` at `ts`.
    pub fn event(&self, node: &str, ts: Millis) -> Event {
        Event {
            ts,
            body: Body::GpuSample(GpuSample {
                node: node.to_owned().into(),
                gpu: self.gpu.clone().into(),
                vram_total_bytes: self.vram_total_bytes,
                vram_used_bytes: self.vram_used_bytes,
                gpu_util_pct: self.gpu_util_pct,
                mem_util_pct: self.mem_util_pct,
                temp_c: self.temp_c,
                power_w: self.power_w,
                energy_j: self.energy_j,
                sm_clock_mhz: self.sm_clock_mhz,
                ecc_dbe_total: self.ecc_dbe_total,
                xid: self.xid,
            }),
        }
    }
}

/// Where readings come from.
pub trait GpuSource: Send {
    /// One reading per GPU at `now`; a GPU whose memory size cannot be read is left out (the
    /// event needs it) and named in the returned warnings.
    fn read(&mut self, now: Millis) -> (Vec<GpuReading>, Vec<String>);
}
