//! A seeded simulated fleet for the demo, the benchmarks and the tests: nodes with different
//! GPUs, timeouts and stakes, some fast, some slow, some failing; tasks of three nodes each with
//! commitment and disclosure rounds, fees, the odd slashing and all-timeout task; GPU telemetry.
//! The same spec and seed always give the same events.

use std::ops::ControlFlow;

use meritflow_pipelines::events::{Body, Event, GpuSample, Round, RoundStatus};
use meritflow_pipelines::time::Millis;
use rust_decimal::Decimal;

/// SplitMix64: tiny, fast, and stable across releases (seeded runs must not change when a
/// dependency does).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// What kind of operator runs a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Fast,
    Normal,
    Slow,
    /// Times out often: health falls, it gets excluded, and may be kicked out.
    Failing,
}

#[derive(Clone, Debug)]
pub struct SimNode {
    pub id: String,
    pub behaviour: Behaviour,
    pub vram_bytes: u64,
    pub timeout_s: u64,
    pub stake: u64,
}

/// The shape of a simulated fleet.
#[derive(Clone, Debug)]
pub struct FleetSpec {
    pub nodes: usize,
    pub start: Millis,
    pub duration: Millis,
    /// A new task starts this often (network-wide).
    pub task_every: Millis,
    /// Each node's GPU reports this often.
    pub sample_every: Millis,
    pub seed: u64,
}

impl FleetSpec {
    /// The demo's fleet: 50 nodes, four hours from 2026-10-01T00:00Z, a task every 5 s.
    pub fn demo() -> FleetSpec {
        FleetSpec {
            nodes: 50,
            start: 1_790_812_800_000,
            duration: 4 * 3_600_000,
            task_every: 5_000,
            sample_every: 600_000,
            seed: 7,
        }
    }
}

const GIB: u64 = 1 << 30;

pub fn nodes(spec: &FleetSpec) -> Vec<SimNode> {
    let mut rng = Rng::new(spec.seed);
    (0..spec.nodes)
        .map(|i| {
            let behaviour = match rng.below(20) {
                0..=3 => Behaviour::Fast,
                4..=14 => Behaviour::Normal,
                15..=17 => Behaviour::Slow,
                _ => Behaviour::Failing,
            };
            SimNode {
                id: format!("node-{i:05}"),
                behaviour,
                vram_bytes: [8, 12, 16, 24, 24, 48, 80][rng.below(7) as usize] * GIB,
                timeout_s: [60, 60, 90, 120, 180, 300][rng.below(6) as usize],
                stake: 500 + rng.below(20) * 250,
            }
        })
        .collect()
}

/// Generates the fleet's events in time order, handing each to `emit`, until the simulated time
/// is over or `emit` says to stop.
pub fn generate(spec: &FleetSpec, mut emit: impl FnMut(Event) -> ControlFlow<()>) {
    let _ = generate_until(spec, &mut emit);
}

fn generate_until(
    spec: &FleetSpec,
    emit: &mut impl FnMut(Event) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let fleet = nodes(spec);
    let mut rng = Rng::new(spec.seed.wrapping_add(1));
    for (i, node) in fleet.iter().enumerate() {
        emit(Event {
            ts: spec.start + i as u64,
            body: Body::NodeRegistered {
                node: node.id.clone().into(),
                provider: Some(format!("provider-{}", i % 7).into()),
                region: Some(
                    [
                        "Europe,DE,Berlin",
                        "North America,US,Dallas",
                        "Asia,SG,Singapore",
                    ][i % 3]
                        .to_owned()
                        .into(),
                ),
                node_type: Some("gpu".to_owned().into()),
                dc: None,
                vram_bytes: Some(node.vram_bytes),
                timeout_s: Some(node.timeout_s),
                stake: Some(Decimal::from(node.stake)),
            },
        })?;
    }
    let end = spec.start + spec.duration;
    let mut next_task = spec.start + 60_000;
    let mut next_sample = spec.start + 30_000;
    let mut task_no = 0u64;
    // Disclosures come a minute after commitments: keep them until their time.
    let mut later: std::collections::BinaryHeap<std::cmp::Reverse<Later>> = Default::default();
    let mut later_seq = 0u64;
    loop {
        let now = next_task.min(next_sample);
        while let Some(std::cmp::Reverse(Later(t, _, _))) = later.peek() {
            if *t > now {
                break;
            }
            let std::cmp::Reverse(Later(_, _, event)) = later.pop().expect("peeked");
            emit(event)?;
        }
        if now >= end {
            break;
        }
        if now == next_sample {
            for (i, node) in fleet.iter().enumerate() {
                // One card in forty claims more VRAM at registration than it reports.
                let reported = if i % 40 == 39 {
                    node.vram_bytes / 2
                } else {
                    node.vram_bytes
                };
                emit(Event {
                    ts: now + i as u64,
                    body: Body::GpuSample(GpuSample {
                        node: node.id.clone().into(),
                        gpu: format!("GPU-{}-0", node.id).into(),
                        vram_total_bytes: reported,
                        vram_used_bytes: Some(reported / 3),
                        gpu_util_pct: Some(rng.below(101) as f64),
                        mem_util_pct: None,
                        temp_c: Some(40.0 + rng.below(40) as f64),
                        power_w: Some(100.0 + rng.below(250) as f64),
                        energy_j: None,
                        sm_clock_mhz: None,
                        ecc_dbe_total: Some(0),
                        xid: None,
                    }),
                })?;
            }
            next_sample += spec.sample_every;
            continue;
        }
        next_task += spec.task_every;
        task_no += 1;
        let task = format!("task-{task_no:08}");
        let mut picked: Vec<&SimNode> = Vec::with_capacity(3);
        while picked.len() < 3.min(fleet.len()) {
            let candidate = &fleet[rng.below(fleet.len() as u64) as usize];
            if !picked.iter().any(|n| n.id == candidate.id) {
                picked.push(candidate);
            }
        }
        let broken_task = rng.chance(0.01);
        for round in [Round::Commitment, Round::Disclosure] {
            let at = if round == Round::Commitment {
                now
            } else {
                now + 60_000
            };
            let mut finishers: Vec<(f64, &SimNode)> = Vec::new();
            let mut statuses: Vec<(&SimNode, RoundStatus)> = Vec::new();
            for node in &picked {
                let (fail, speed) = match node.behaviour {
                    Behaviour::Fast => (0.002, 0.2),
                    Behaviour::Normal => (0.01, 1.0),
                    Behaviour::Slow => (0.03, 3.0),
                    Behaviour::Failing => (0.35, 1.5),
                };
                if broken_task || rng.chance(fail) {
                    statuses.push((node, RoundStatus::Timeout));
                } else {
                    finishers.push((speed * (0.5 + rng.unit()), node));
                }
            }
            finishers.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (order, (delay, node)) in finishers.iter().enumerate() {
                let event = Event {
                    ts: at + (delay * 1000.0) as u64,
                    body: Body::TaskRound {
                        task: task.clone().into(),
                        round,
                        node: node.id.clone().into(),
                        status: RoundStatus::Submitted,
                        order: Some(order as u8 + 1),
                        system: None,
                    },
                };
                later_seq += 1;
                later.push(std::cmp::Reverse(Later(event.ts, later_seq, event)));
            }
            for (node, status) in statuses {
                let event = Event {
                    ts: at + node.timeout_s * 1000 / 10,
                    body: Body::TaskRound {
                        task: task.clone().into(),
                        round,
                        node: node.id.clone().into(),
                        status,
                        order: None,
                        system: None,
                    },
                };
                later_seq += 1;
                later.push(std::cmp::Reverse(Later(event.ts, later_seq, event)));
            }
        }
        let fee_at = now + 120_000;
        let fee = Event {
            ts: fee_at,
            body: Body::TaskFee {
                task: task.clone().into(),
                fee: Decimal::from(100 + rng.below(9_900)),
            },
        };
        later_seq += 1;
        later.push(std::cmp::Reverse(Later(fee_at, later_seq, fee)));
        if rng.chance(0.002) {
            let cheat = picked[rng.below(picked.len() as u64) as usize];
            let slash = Event {
                ts: fee_at + 1,
                body: Body::TaskSlashed {
                    task: task.into(),
                    node: cheat.id.clone().into(),
                },
            };
            later_seq += 1;
            later.push(std::cmp::Reverse(Later(fee_at + 1, later_seq, slash)));
        }
    }
    ControlFlow::Continue(())
}

/// An event due later, ordered by (time, creation order) only.
struct Later(Millis, u64, Event);

impl PartialEq for Later {
    fn eq(&self, other: &Self) -> bool {
        (self.0, self.1) == (other.0, other.1)
    }
}
impl Eq for Later {}
impl PartialOrd for Later {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Later {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(other.0, other.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_events_in_time_order() {
        let spec = FleetSpec {
            duration: 1_800_000,
            ..FleetSpec::demo()
        };
        let mut a = Vec::new();
        generate(&spec, |e| {
            a.push(e);
            ControlFlow::Continue(())
        });
        let mut b = Vec::new();
        generate(&spec, |e| {
            b.push(e);
            ControlFlow::Continue(())
        });
        assert_eq!(a, b);
        assert!(a.len() > 500, "{}", a.len());
        assert!(
            a.windows(2).all(|w| w[0].ts <= w[1].ts),
            "events come in time order"
        );
        for e in &a {
            let back = meritflow_pipelines::events::decode(e.to_json().as_bytes()).unwrap();
            assert_eq!(
                &back, e,
                "every simulated event is valid under our own decoder"
            );
        }
    }
}
