//! Writing events into the input topics (`meritflow produce`, the demo's fleet, the tests):
//! telemetry to the telemetry topic (the second input topic, when there is one), everything
//! else to the first, keyed by `node` (or `peer`, or `task`) as the event contract suggests.
//! Lines are written as they are, bad ones included: rejecting them is the pipeline's job.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use meritflow_pipelines::kafka_config::KafkaConfig;

use super::sink::{Record, Sink};

/// Kinds that travel on the telemetry topic.
const TELEMETRY_KINDS: [&str; 1] = ["gpu_sample"];

/// The topic and key of one input line.
pub fn route(cfg: &KafkaConfig, line: &[u8]) -> Record {
    let value: Option<serde_json::Value> = serde_json::from_slice(line).ok();
    let field = |name: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
    };
    let telemetry = field("kind").is_some_and(|k| TELEMETRY_KINDS.contains(&k));
    let topic = match (telemetry, cfg.input_topics.get(1)) {
        (true, Some(t)) => t,
        _ => &cfg.input_topics[0],
    };
    let key = field("node")
        .or_else(|| field("peer"))
        .or_else(|| field("task"))
        .unwrap_or("");
    Record {
        topic: topic.clone(),
        key: key.as_bytes().to_vec(),
        payload: Some(line.to_vec()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("cannot read {path}: {source} (check the path given to --events)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes every non-empty line of the files, in order, and waits until all are acknowledged.
/// Returns how many were written.
pub fn produce_files(
    cfg: &KafkaConfig,
    sink: &mut Sink,
    paths: &[PathBuf],
    mut progress: impl FnMut(u64),
) -> Result<u64, ProduceError> {
    let mut written = 0u64;
    for path in paths {
        let read_error = |source| ProduceError::Read {
            path: path.clone(),
            source,
        };
        let reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(read_error)?);
        for line in reader.split(b'\n') {
            let line = line.map_err(read_error)?;
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            sink.send(&route(cfg, line));
            written += 1;
            if written % 65_536 == 0 {
                progress(written);
            }
        }
    }
    sink.flush(std::time::Duration::from_secs(10));
    progress(written);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_and_events_go_to_their_topics_keyed_by_node() {
        let cfg = KafkaConfig::default();
        let r = route(
            &cfg,
            br#"{"kind":"gpu_sample","ts":1,"node":"n1","gpu":"g"}"#,
        );
        assert_eq!(
            (r.topic.as_str(), r.key.as_slice()),
            ("meritflow.telemetry", &b"n1"[..])
        );
        let r = route(&cfg, br#"{"kind":"task_round","ts":1,"task":"t9"}"#);
        assert_eq!(
            (r.topic.as_str(), r.key.as_slice()),
            ("meritflow.events", &b"t9"[..])
        );
        let r = route(&cfg, b"not json");
        assert_eq!(
            (r.topic.as_str(), r.key.as_slice()),
            ("meritflow.events", &b""[..])
        );
    }
}
