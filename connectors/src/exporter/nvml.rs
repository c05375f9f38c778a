//! The real source: NVML through nvml-wrapper, which loads `libnvidia-ml.so.1` at run time, so
//! the exporter builds and starts everywhere and says clearly when there is no driver. This is
//! the only part that cannot be tested on machines without a GPU; it only maps NVML calls to a
//! [`GpuReading`], leaving out what a GPU does not support.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use meritflow_pipelines::time::Millis;
use nvml_wrapper::enum_wrappers::device::{Clock, EccCounter, MemoryError, TemperatureSensor};
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::Nvml;

use super::source::{GpuReading, GpuSource};

pub struct NvmlGpus {
    nvml: Nvml,
    /// The last critical XID per GPU UUID since the previous reading, filled by a watcher thread.
    xids: Arc<Mutex<HashMap<String, u64>>>,
}

impl NvmlGpus {
    /// Loads NVML; the error says why it is not available.
    pub fn open() -> Result<NvmlGpus, String> {
        let nvml = Nvml::init().map_err(|e| describe(&e))?;
        let count = nvml.device_count().map_err(|e| describe(&e))?;
        if count == 0 {
            return Err("the NVIDIA driver reports no GPU".to_owned());
        }
        let xids = Arc::new(Mutex::new(HashMap::new()));
        watch_xids(Arc::clone(&xids));
        Ok(NvmlGpus { nvml, xids })
    }
}

fn describe(e: &NvmlError) -> String {
    match e {
        NvmlError::LibloadingError(inner) => format!("cannot load libnvidia-ml.so.1 ({inner})"),
        other => other.to_string(),
    }
}

/// `Ok(v)` → `Some(v)`; "not supported" (or any other failure of one reading) → `None`.
fn supported<T>(r: Result<T, NvmlError>) -> Option<T> {
    r.ok()
}

impl GpuSource for NvmlGpus {
    fn read(&mut self, _now: Millis) -> (Vec<GpuReading>, Vec<String>) {
        let mut readings = Vec::new();
        let mut warnings = Vec::new();
        let count = match self.nvml.device_count() {
            Ok(n) => n,
            Err(e) => return (readings, vec![format!("NVML device count: {e}")]),
        };
        let mut xids = self
            .xids
            .lock()
            .map(|mut x| std::mem::take(&mut *x))
            .unwrap_or_default();
        for index in 0..count {
            let device = match self.nvml.device_by_index(index) {
                Ok(d) => d,
                Err(e) => {
                    warnings.push(format!("GPU {index}: {e}"));
                    continue;
                }
            };
            let uuid = supported(device.uuid()).unwrap_or_else(|| format!("GPU-index-{index}"));
            let Some(memory) = supported(device.memory_info()) else {
                warnings.push(format!(
                    "GPU {uuid}: memory size not readable; sample left out"
                ));
                continue;
            };
            let utilization = supported(device.utilization_rates());
            readings.push(GpuReading {
                vram_total_bytes: memory.total,
                vram_used_bytes: Some(memory.used),
                gpu_util_pct: utilization.as_ref().map(|u| u.gpu as f64),
                mem_util_pct: utilization.as_ref().map(|u| u.memory as f64),
                temp_c: supported(device.temperature(TemperatureSensor::Gpu)).map(|t| t as f64),
                power_w: supported(device.power_usage()).map(|mw| mw as f64 / 1000.0),
                energy_j: supported(device.total_energy_consumption()).map(|mj| mj as f64 / 1000.0),
                sm_clock_mhz: supported(device.clock_info(Clock::SM)).map(|c| c as f64),
                ecc_dbe_total: supported(
                    device.total_ecc_errors(MemoryError::Uncorrected, EccCounter::Aggregate),
                ),
                xid: xids.remove(&uuid),
                gpu: uuid,
            });
        }
        (readings, warnings)
    }
}

/// Waits for critical XID events on a thread of its own (with its own NVML handle: an event set
/// borrows the handle it came from). Where the platform has no event sets it does nothing.
#[cfg(target_os = "linux")]
fn watch_xids(into: Arc<Mutex<HashMap<String, u64>>>) {
    use nvml_wrapper::bitmasks::event::EventTypes;
    use nvml_wrapper::enums::event::XidError;
    std::thread::spawn(move || {
        let Ok(nvml) = Nvml::init() else { return };
        let Ok(mut set) = nvml.create_event_set() else {
            return;
        };
        let count = nvml.device_count().unwrap_or(0);
        for index in 0..count {
            let Ok(device) = nvml.device_by_index(index) else {
                continue;
            };
            match device.register_events(EventTypes::CRITICAL_XID_ERROR, set) {
                Ok(s) => set = s,
                Err(e) => {
                    tracing::warn!(gpu = index, error = %e.error, "XID events not available for this GPU");
                    return;
                }
            }
        }
        loop {
            match set.wait(1_000) {
                Ok(event) => {
                    if let (Ok(uuid), Some(XidError::Value(xid))) =
                        (event.device.uuid(), event.event_data)
                    {
                        if let Ok(mut xids) = into.lock() {
                            xids.insert(uuid, xid);
                        }
                    }
                }
                Err(NvmlError::Timeout) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "XID event watch stopped");
                    return;
                }
            }
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn watch_xids(_into: Arc<Mutex<HashMap<String, u64>>>) {}
