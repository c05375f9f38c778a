//! The latest readings as Prometheus text (format 0.0.4), with the DCGM exporter's metric names
//! so existing dashboards and alerts apply, and the exporter's own counters; served over plain
//! HTTP for local scraping.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::source::GpuReading;

/// What the exporter knows of itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExporterStats {
    pub samples: u64,
    pub sent: u64,
    pub spooled_segments: u64,
    pub dropped: u64,
}

type Metric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&GpuReading) -> Option<f64>,
);

/// (name, type, help, value); a GPU without the reading has no line for it.
const METRICS: [Metric; 10] = [
    (
        "DCGM_FI_DEV_FB_USED",
        "gauge",
        "Framebuffer memory used (in MiB).",
        |r| r.vram_used_bytes.map(mib),
    ),
    (
        "DCGM_FI_DEV_FB_FREE",
        "gauge",
        "Framebuffer memory free (in MiB).",
        |r| {
            r.vram_used_bytes
                .map(|u| mib(r.vram_total_bytes.saturating_sub(u)))
        },
    ),
    (
        "DCGM_FI_DEV_GPU_UTIL",
        "gauge",
        "GPU utilization (in %).",
        |r| r.gpu_util_pct,
    ),
    (
        "DCGM_FI_DEV_MEM_COPY_UTIL",
        "gauge",
        "Memory utilization (in %).",
        |r| r.mem_util_pct,
    ),
    (
        "DCGM_FI_DEV_GPU_TEMP",
        "gauge",
        "GPU temperature (in C).",
        |r| r.temp_c,
    ),
    (
        "DCGM_FI_DEV_POWER_USAGE",
        "gauge",
        "Power draw (in W).",
        |r| r.power_w,
    ),
    (
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "counter",
        "Total energy consumption since boot (in mJ).",
        |r| r.energy_j.map(|j| j * 1000.0),
    ),
    (
        "DCGM_FI_DEV_SM_CLOCK",
        "gauge",
        "SM clock frequency (in MHz).",
        |r| r.sm_clock_mhz,
    ),
    (
        "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL",
        "counter",
        "Total number of double-bit persistent errors.",
        |r| r.ecc_dbe_total.map(|v| v as f64),
    ),
    (
        "DCGM_FI_DEV_XID_ERRORS",
        "gauge",
        "Value of the last XID error encountered.",
        |r| r.xid.map(|v| v as f64),
    ),
];

fn mib(bytes: u64) -> f64 {
    (bytes / (1 << 20)) as f64
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn render(node: &str, readings: &[GpuReading], stats: &ExporterStats) -> String {
    let mut out = String::new();
    for (name, kind, help, value) in METRICS {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (i, r) in readings.iter().enumerate() {
            if let Some(v) = value(r) {
                let _ = writeln!(
                    out,
                    "{name}{{gpu=\"{i}\",UUID=\"{}\",Hostname=\"{}\"}} {v}",
                    label(&r.gpu),
                    label(node)
                );
            }
        }
    }
    let own = [
        (
            "meritflow_exporter_samples_total",
            "counter",
            "Samples read.",
            stats.samples,
        ),
        (
            "meritflow_exporter_sent_total",
            "counter",
            "Samples acknowledged by Kafka.",
            stats.sent,
        ),
        (
            "meritflow_exporter_spool_segments",
            "gauge",
            "Batches waiting in the spool.",
            stats.spooled_segments,
        ),
        (
            "meritflow_exporter_dropped_total",
            "counter",
            "Samples dropped because the spool was full.",
            stats.dropped,
        ),
    ];
    for (name, kind, help, v) in own {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    }
    out
}

/// What the server shows: the node, the latest readings, the counters.
pub type Shared = Arc<Mutex<(Vec<GpuReading>, ExporterStats)>>;

/// Serves `GET /metrics` (any path) on `listener` from a thread of its own.
pub fn serve(listener: TcpListener, node: String, shared: Shared) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request);
            let body = {
                let guard = shared.lock().expect("metrics lock");
                render(&node, &guard.0, &guard.1)
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
}

/// Checks text against the exposition format: every sample line is `name{labels} value` with a
/// declared TYPE, names and label names well formed, values numbers. Returns the sample count.
pub fn parse(text: &str) -> Result<usize, String> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut typed = std::collections::HashSet::new();
    let mut samples = 0;
    for (i, line) in text.lines().enumerate() {
        let at = |m: &str| format!("line {}: {m}: {line}", i + 1);
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without a type"))?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
                || !name_ok(name)
            {
                return Err(at("bad TYPE"));
            }
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or_else(|| at("no value"))?;
        value
            .parse::<f64>()
            .map_err(|_| at("value is not a number"))?;
        let name = series.split('{').next().unwrap_or("");
        if !name_ok(name) || !typed.contains(name) {
            return Err(at("undeclared or malformed metric name"));
        }
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .ok_or_else(|| at("labels not in braces"))?;
            for pair in inner.split("\",").filter(|p| !p.is_empty()) {
                let (key, v) = pair
                    .split_once("=\"")
                    .ok_or_else(|| at("label without =\""))?;
                if !name_ok(key) || key.contains(':') || v.contains('\n') {
                    return Err(at("bad label"));
                }
            }
        }
        samples += 1;
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::sim::SimGpus;
    use crate::exporter::source::GpuSource;

    #[test]
    fn the_exposition_parses_and_leaves_out_what_a_gpu_does_not_support() {
        let (mut readings, _) = SimGpus::new(2, "node \"7\"", 1).read(0);
        readings[1].power_w = None;
        let text = render("node \"7\"", &readings, &ExporterStats::default());
        let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        // 10 metrics x 2 GPUs, one reading missing, XIDs absent, plus 4 own counters.
        let xids = readings.iter().filter(|r| r.xid.is_some()).count();
        assert_eq!(samples, 20 - 1 - (2 - xids) + 4, "{text}");
        assert!(text.contains(r#"Hostname="node \"7\"""#));
        assert!(
            parse("DCGM_FI_DEV_GPU_UTIL 3").is_err(),
            "a sample needs its TYPE"
        );
        assert!(parse("# TYPE x gauge\nx{a=\"1\"} abc").is_err());
    }
}
