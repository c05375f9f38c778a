//! The mixed stream of a network running every policy at once, as JSON lines in ts order: each
//! node registered at the start (provider, region, type, VRAM, timeout, stake), then GPU
//! telemetry, tasks of three nodes (both rounds of each node, and the fee), gateway requests,
//! probes, chunk transfers between nodes and block-maker counters, spread evenly over `span`.
//!
//! The shares are those of a network whose GPUs report every few seconds and whose tasks and
//! requests are the next largest feeds; a task's seven events count as seven of the budget.

use meritflow_connectors::sim::Rng;
use meritflow_pipelines::time::Millis;

/// Which kind the next event is, out of 100.
const GPU_SAMPLE: u64 = 35;
const TASK: u64 = GPU_SAMPLE + 30;
const REQUEST: u64 = TASK + 15;
const PROBE: u64 = REQUEST + 8;
const CHUNK: u64 = PROBE + 7;
/// The rest: block-maker counters.
const EVENTS_PER_TASK: u64 = 7;

#[derive(Clone, Debug)]
pub struct MixedSpec {
    pub nodes: u64,
    /// Events after the registrations (the registrations come on top).
    pub events: u64,
    pub start: Millis,
    /// Event time the stream covers.
    pub span: Millis,
    pub seed: u64,
}

impl MixedSpec {
    /// `per_node` events for each of `nodes` over one day from 2026-10-01.
    pub fn per_node(nodes: u64, per_node: u64, seed: u64) -> MixedSpec {
        MixedSpec {
            nodes,
            events: nodes * per_node,
            start: 1_790_812_800_000,
            span: 86_400_000,
            seed,
        }
    }

    /// Every event's line including the registrations.
    pub fn total(&self) -> u64 {
        self.events + self.nodes + REGIONS.len() as u64
    }

    /// The stream's last ts.
    pub fn end(&self) -> Millis {
        self.start + self.span
    }
}

const REGIONS: [(&str, &str); 3] = [
    ("Europe,CH", "type1"),
    ("North America,USA", "type1"),
    ("Asia,JP", "type3"),
];

fn node(i: u64) -> String {
    format!("n{i:07}")
}

/// Calls `line` with each event's JSON, in ts order, until it has been given `spec.total()`.
pub fn generate(spec: &MixedSpec, mut line: impl FnMut(&[u8])) {
    let mut rng = Rng::new(spec.seed);
    let mut buf = String::with_capacity(512);
    let mut emit = |buf: &mut String| {
        line(buf.as_bytes());
        buf.clear();
    };
    use std::fmt::Write;
    let t0 = spec.start;
    for (k, (region, node_type)) in REGIONS.iter().enumerate() {
        let _ = write!(
            buf,
            r#"{{"kind":"reward_rate","ts":{},"region":"{region}","node_type":"{node_type}","xdr_permyriad_per_node_per_month":913125}}"#,
            t0 - 3_600_000 + k as u64
        );
        emit(&mut buf);
    }
    for i in 0..spec.nodes {
        let (region, node_type) = REGIONS[(i % 3) as usize];
        let _ = write!(
            buf,
            r#"{{"kind":"node_registered","ts":{t0},"node":"{}","provider":"p{:04}","region":"{region},City","node_type":"{node_type}","vram_bytes":{},"timeout_s":{},"stake":"{}"}}"#,
            node(i),
            i % 1000,
            [24u64, 48, 80][(i % 3) as usize] << 30,
            60 + rng.below(240),
            1000 + rng.below(9000)
        );
        emit(&mut buf);
    }
    // Cumulative block-maker counters per node, so each snapshot is not below the last.
    let mut counters = vec![(0u32, 0u32); spec.nodes as usize];
    let mut task = 0u64;
    let mut i = 0u64;
    while i < spec.events {
        let ts = t0 + 1 + (i as u128 * (spec.span - 1) as u128 / spec.events as u128) as Millis;
        let n = rng.below(spec.nodes);
        let pick = rng.below(100);
        if pick < GPU_SAMPLE {
            let util = rng.below(101);
            let _ = write!(
                buf,
                r#"{{"kind":"gpu_sample","ts":{ts},"node":"{}","gpu":"GPU-{n:07}-{}","vram_total_bytes":{},"vram_used_bytes":{},"gpu_util_pct":{util},"temp_c":{},"power_w":{},"ecc_dbe_total":0}}"#,
                node(n),
                rng.below(2),
                [24u64, 48, 80][(n % 3) as usize] << 30,
                util << 28,
                40 + util / 3,
                80 + util * 3
            );
            emit(&mut buf);
            i += 1;
        } else if pick < TASK && i + EVENTS_PER_TASK <= spec.events && spec.nodes >= 3 {
            task += 1;
            let mut nodes = [n, rng.below(spec.nodes), rng.below(spec.nodes)];
            while nodes[1] == nodes[0] {
                nodes[1] = rng.below(spec.nodes);
            }
            while nodes[2] == nodes[0] || nodes[2] == nodes[1] {
                nodes[2] = rng.below(spec.nodes);
            }
            for round in ["commitment", "disclosure"] {
                for (order, &member) in nodes.iter().enumerate() {
                    if rng.chance(0.05) {
                        let _ = write!(
                            buf,
                            r#"{{"kind":"task_round","ts":{ts},"task":"t{task}","round":"{round}","node":"{}","status":"timeout"}}"#,
                            node(member)
                        );
                    } else {
                        let _ = write!(
                            buf,
                            r#"{{"kind":"task_round","ts":{ts},"task":"t{task}","round":"{round}","node":"{}","status":"submitted","order":{}}}"#,
                            node(member),
                            order + 1
                        );
                    }
                    emit(&mut buf);
                }
            }
            let _ = write!(
                buf,
                r#"{{"kind":"task_fee","ts":{ts},"task":"t{task}","fee":"{}"}}"#,
                1000 + rng.below(100_000)
            );
            emit(&mut buf);
            i += EVENTS_PER_TASK;
        } else if pick < REQUEST {
            let _ = write!(
                buf,
                r#"{{"kind":"request","ts":{ts},"node":"{}","latency_ms":{:.1},"ok":{},"priority":"{}"}}"#,
                node(n),
                20.0 + rng.unit() * 200.0,
                !rng.chance(0.02),
                if rng.chance(0.3) { "high" } else { "normal" }
            );
            emit(&mut buf);
            i += 1;
        } else if pick < PROBE {
            let _ = write!(
                buf,
                r#"{{"kind":"probe","ts":{ts},"node":"{}","ok":{},"latency_ms":{}}}"#,
                node(n),
                !rng.chance(0.01),
                5 + rng.below(50)
            );
            emit(&mut buf);
            i += 1;
        } else if pick < CHUNK {
            let _ = write!(
                buf,
                r#"{{"kind":"chunk_transfer","ts":{ts},"from":"{}","to":"{}","po":{}}}"#,
                node(n),
                node(rng.below(spec.nodes)),
                rng.below(32)
            );
            emit(&mut buf);
            i += 1;
        } else {
            let c = &mut counters[n as usize];
            c.0 += 1 + rng.below(20) as u32;
            c.1 += rng.chance(0.05) as u32;
            let _ = write!(
                buf,
                r#"{{"kind":"block_maker_counters","ts":{ts},"node":"{}","subnet":"s{:03}","proposed_total":{},"failed_total":{}}}"#,
                node(n),
                n % 100,
                c.0,
                c.1
            );
            emit(&mut buf);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_a_valid_event_in_ts_order_and_the_count_is_exact() {
        let spec = MixedSpec::per_node(50, 40, 7);
        let (mut count, mut last) = (0u64, 0u64);
        let mut kinds = std::collections::BTreeSet::new();
        generate(&spec, |line| {
            let event = meritflow_pipelines::events::decode(line)
                .unwrap_or_else(|r| panic!("{}: {}", r.reason(), String::from_utf8_lossy(line)));
            assert!(event.ts >= last, "ts order");
            last = event.ts;
            kinds.insert(event.kind());
            count += 1;
        });
        assert_eq!(count, spec.total());
        assert!(last <= spec.end());
        for kind in [
            "reward_rate",
            "node_registered",
            "gpu_sample",
            "task_round",
            "task_fee",
            "request",
            "probe",
            "chunk_transfer",
            "block_maker_counters",
        ] {
            assert!(kinds.contains(kind), "{kind} missing");
        }
    }
}
