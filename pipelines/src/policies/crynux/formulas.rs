//! The pure formulas of `crynux-qos.md`: round and task scores, health, the normalised scores,
//! QoS, selection weight and the fee split. No dataflow here: the incremental and the reference
//! computations both call these, and they are tested against the page's worked examples.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::config::CrynuxConfig;
use crate::events::{Body, Event, Round, RoundStatus};
use crate::id::Id;
use crate::time::Millis;

/// Round score from the status and finishing order.
pub fn round_score(status: RoundStatus, order: Option<u8>, cfg: &CrynuxConfig) -> u32 {
    match (status.needs_order(), order) {
        (true, Some(k @ 1..=3)) => cfg.round_scores[k as usize - 1],
        _ => 0,
    }
}

/// One input of a task, as the per-task computation sees it. `seq` is the input order, the
/// tie-break of "latest" after `ts`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaskInput {
    Round {
        node: Id,
        round: Round,
        status: RoundStatus,
        order: Option<u8>,
        ts: Millis,
        seq: u64,
    },
    Slash {
        node: Id,
        ts: Millis,
        seq: u64,
    },
    Fee {
        fee: Decimal,
        ts: Millis,
        seq: u64,
    },
}

impl TaskInput {
    /// The task input an event amounts to, with its task id, if any.
    pub fn from_event(event: &Event, seq: u64) -> Option<(Id, TaskInput)> {
        let ts = event.ts;
        Some(match &event.body {
            Body::TaskRound {
                task,
                node,
                round,
                status,
                order,
                ..
            } => (
                task.clone(),
                TaskInput::Round {
                    node: node.clone(),
                    round: *round,
                    status: *status,
                    order: *order,
                    ts,
                    seq,
                },
            ),
            Body::TaskSlashed { task, node } => (
                task.clone(),
                TaskInput::Slash {
                    node: node.clone(),
                    ts,
                    seq,
                },
            ),
            Body::TaskFee { task, fee } => (task.clone(), TaskInput::Fee { fee: *fee, ts, seq }),
            _ => return None,
        })
    }
}

/// What a task amounts to once its inputs are in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskOutcome {
    /// The earliest `task_round` ts over all its nodes.
    pub time: Millis,
    /// Task score of each node with a `task_round` in the task, by node id.
    pub scores: Vec<(Id, u32)>,
    /// The latest fee, when one was paid.
    pub fee: Option<Decimal>,
}

/// Scores a task from all its inputs; `None` when it has no round yet or is misconfigured (no
/// node submitted or reported an error in any round), in which case it counts for no node.
pub fn task_outcome<'a>(
    inputs: impl IntoIterator<Item = &'a TaskInput>,
    cfg: &CrynuxConfig,
) -> Option<TaskOutcome> {
    let mut latest: BTreeMap<(&Id, Round), (Millis, u64, RoundStatus, Option<u8>)> =
        BTreeMap::new();
    let mut slashed: Vec<&Id> = Vec::new();
    let mut fee: Option<(Millis, u64, Decimal)> = None;
    let mut time = Millis::MAX;
    for input in inputs {
        match input {
            TaskInput::Round {
                node,
                round,
                status,
                order,
                ts,
                seq,
            } => {
                time = time.min(*ts);
                let entry = latest
                    .entry((node, *round))
                    .or_insert((*ts, *seq, *status, *order));
                if (*ts, *seq) >= (entry.0, entry.1) {
                    *entry = (*ts, *seq, *status, *order);
                }
            }
            TaskInput::Slash { node, .. } => slashed.push(node),
            TaskInput::Fee {
                fee: amount,
                ts,
                seq,
            } => {
                if fee.as_ref().is_none_or(|(t, s, _)| (*ts, *seq) >= (*t, *s)) {
                    fee = Some((*ts, *seq, *amount));
                }
            }
        }
    }
    if !latest
        .values()
        .any(|(_, _, status, _)| status.needs_order())
    {
        return None;
    }
    let mut scores: BTreeMap<&Id, u32> = BTreeMap::new();
    for ((node, _), (_, _, status, order)) in &latest {
        *scores.entry(node).or_default() += round_score(*status, *order, cfg);
    }
    for node in slashed {
        if let Some(score) = scores.get_mut(node) {
            *score = 0;
        }
    }
    Some(TaskOutcome {
        time,
        scores: scores.into_iter().map(|(n, s)| (Id::clone(n), s)).collect(),
        fee: fee.map(|(_, _, f)| f),
    })
}

/// Splits a fee in proportion to task scores: `floor(fee × ts_i / Σ ts)` each, the remainder to
/// the highest score (tie: the first in the given order, which callers keep sorted by node id).
/// With `Σ ts = 0` the fee is refunded: every pay is 0.
pub fn split_fee(fee: Decimal, scores: &[u32]) -> Vec<Decimal> {
    let total: u64 = scores.iter().map(|&s| s as u64).sum();
    if total == 0 || fee <= Decimal::ZERO {
        return vec![Decimal::ZERO; scores.len()];
    }
    // Exact integer arithmetic on the mantissa: fee = m / 10^scale.
    let scale = fee.scale();
    let m = fee.mantissa();
    let denominator = total as i128 * 10i128.pow(scale);
    let mut pays: Vec<Decimal> = scores
        .iter()
        .map(|&s| Decimal::from_i128_with_scale(m * s as i128 / denominator, 0))
        .collect();
    let paid: Decimal = pays.iter().sum();
    let top = (0..scores.len())
        .max_by_key(|&i| (scores[i], std::cmp::Reverse(i)))
        .expect("non-empty");
    pays[top] += fee - paid;
    pays
}

/// Health as it stands at `now`, having recovered from `h` set at `since`.
pub fn effective_health(h: f64, since: Millis, now: Millis, cfg: &CrynuxConfig) -> f64 {
    let elapsed = now.saturating_sub(since) as f64 / cfg.health_tau.millis() as f64;
    h + (1.0 - h) * (1.0 - (-elapsed).exp())
}

/// Health after a timeout or abort, from the effective health at that moment.
pub fn penalised_health(h_eff: f64, cfg: &CrynuxConfig) -> f64 {
    if h_eff >= cfg.health_mild_above {
        h_eff * cfg.health_mild_factor
    } else {
        h_eff * cfg.health_severe_factor
    }
}

/// Health after a submitted disclosure.
pub fn boosted_health(h_eff: f64, cfg: &CrynuxConfig) -> f64 {
    (h_eff + cfg.health_boost).min(1.0)
}

/// `v / max` over the known values; `None` for an unknown value; 0 when the max is 0.
pub fn relative(value: Option<f64>, max: f64) -> Option<f64> {
    value.map(|v| if max > 0.0 { v / max } else { 0.0 })
}

/// Timeout score `P_i = (max O − O_i) / (max O − O_min)`, 1 when every node is at `O_min`.
pub fn timeout_score(
    timeout_s: Option<u64>,
    max_timeout_s: u64,
    cfg: &CrynuxConfig,
) -> Option<f64> {
    let o_min = cfg.min_timeout_s;
    let o = timeout_s?.max(o_min);
    let max = max_timeout_s.max(o_min);
    if max == o_min {
        return Some(1.0);
    }
    Some((max - o) as f64 / (max - o_min) as f64)
}

/// `Q = α R + β P + γ B`, a NULL part counting 0.
pub fn qos(vram: Option<f64>, timeout: Option<f64>, speed: Option<f64>, cfg: &CrynuxConfig) -> f64 {
    cfg.alpha * vram.unwrap_or(0.0)
        + cfg.beta * timeout.unwrap_or(0.0)
        + cfg.gamma * speed.unwrap_or(0.0)
}

/// Selection weight `w = p q / (p + q)` with `p = sqrt(stake / max stake)` and
/// `q = B × H_eff` (`0.5 × H_eff` without a counted task); 0 when excluded or either part is 0.
pub fn selection_weight(stake_ratio: f64, speed: Option<f64>, health: f64, excluded: bool) -> f64 {
    let p = stake_ratio.max(0.0).sqrt();
    let q = speed.unwrap_or(0.5) * health;
    if excluded || p <= 0.0 || q <= 0.0 {
        return 0.0;
    }
    p * q / (p + q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(
        node: &str,
        round: Round,
        status: RoundStatus,
        order: Option<u8>,
        seq: u64,
    ) -> TaskInput {
        TaskInput::Round {
            node: node.into(),
            round,
            status,
            order,
            ts: 1000 + seq,
            seq,
        }
    }

    /// Worked example 1: scores 20 / 10 / 2 and the fee split 626 / 312 / 62.
    #[test]
    fn example_1_task_scores_and_fee_split() {
        use Round::*;
        use RoundStatus::*;
        let cfg = CrynuxConfig::default();
        let inputs = vec![
            round("a", Commitment, Submitted, Some(1), 0),
            round("b", Commitment, Submitted, Some(2), 1),
            round("c", Commitment, Submitted, Some(3), 2),
            round("a", Disclosure, Submitted, Some(1), 3),
            round("b", Disclosure, Submitted, Some(2), 4),
            round("c", Disclosure, Timeout, None, 5),
            TaskInput::Fee {
                fee: Decimal::from(1000),
                ts: 1006,
                seq: 6,
            },
        ];
        let outcome = task_outcome(&inputs, &cfg).unwrap();
        assert_eq!(
            outcome.scores,
            vec![("a".into(), 20), ("b".into(), 10), ("c".into(), 2)]
        );
        assert_eq!(outcome.time, 1000);
        let pays = split_fee(outcome.fee.unwrap(), &[20, 10, 2]);
        assert_eq!(
            pays,
            vec![Decimal::from(626), Decimal::from(312), Decimal::from(62)]
        );
    }

    /// Worked example 2: a task where every round of every node timed out is ignored.
    #[test]
    fn example_2_all_timeout_task_is_ignored() {
        use Round::*;
        use RoundStatus::*;
        let inputs = vec![
            round("a", Commitment, Timeout, None, 0),
            round("a", Disclosure, Timeout, None, 1),
            round("b", Commitment, Timeout, None, 2),
            round("b", Disclosure, Aborted, None, 3),
        ];
        assert_eq!(task_outcome(&inputs, &CrynuxConfig::default()), None);
    }

    /// Worked example 3: three timeouts at one instant, then recovery to 0.8 after 45.60 min.
    #[test]
    fn example_3_health_penalties_and_recovery() {
        let cfg = CrynuxConfig::default();
        let mut h = 1.0;
        let mut seen = Vec::new();
        for _ in 0..3 {
            h = penalised_health(effective_health(h, 0, 0, &cfg), &cfg);
            seen.push(h);
        }
        assert!((seen[0] - 0.95).abs() < 1e-12);
        assert!((seen[1] - 0.285).abs() < 1e-12);
        assert!((seen[2] - 0.0855).abs() < 1e-12);
        assert!(h < cfg.exclusion_enter);
        let minutes = 30.0 * ((1.0 - 0.0855f64) / 0.2).ln();
        assert!((minutes - 45.60).abs() < 0.005, "{minutes}");
        let at = |m: f64| effective_health(h, 0, (m * 60_000.0) as u64, &cfg);
        assert!(at(45.59) < 0.8 && at(45.61) >= 0.8);
    }

    /// Worked example 4: the contract-era table [10, 9, 6] gives 20, 18, 12.
    #[test]
    fn example_4_contract_era_round_scores() {
        use Round::*;
        use RoundStatus::*;
        let cfg = CrynuxConfig {
            round_scores: [10, 9, 6],
            ..CrynuxConfig::default()
        };
        let mut inputs = Vec::new();
        for (i, node) in ["a", "b", "c"].iter().enumerate() {
            let order = Some(i as u8 + 1);
            inputs.push(round(node, Commitment, Submitted, order, i as u64));
            inputs.push(round(node, Disclosure, Submitted, order, 10 + i as u64));
        }
        let outcome = task_outcome(&inputs, &cfg).unwrap();
        assert_eq!(
            outcome.scores,
            vec![("a".into(), 20), ("b".into(), 18), ("c".into(), 12)]
        );
    }

    #[test]
    fn error_reports_score_like_submissions_and_slashing_zeroes() {
        use Round::*;
        use RoundStatus::*;
        let cfg = CrynuxConfig::default();
        let inputs = vec![
            round("a", Commitment, ErrorReported, Some(3), 0),
            round("a", Disclosure, ErrorReported, Some(3), 1),
            round("b", Commitment, Submitted, Some(1), 2),
            TaskInput::Slash {
                node: "b".into(),
                ts: 5000,
                seq: 3,
            },
        ];
        let outcome = task_outcome(&inputs, &cfg).unwrap();
        assert_eq!(outcome.scores, vec![("a".into(), 4), ("b".into(), 0)]);
    }

    #[test]
    fn the_latest_event_of_a_round_counts_by_ts_then_input_order() {
        use Round::*;
        use RoundStatus::*;
        let cfg = CrynuxConfig::default();
        let at = |status, order, ts, seq| TaskInput::Round {
            node: "a".into(),
            round: Commitment,
            status,
            order,
            ts,
            seq,
        };
        let inputs = vec![
            at(Submitted, Some(1), 10, 5),
            at(Timeout, None, 10, 6),
            at(Submitted, Some(2), 9, 7),
        ];
        // (10, 6) is latest: a timeout, so the task is misconfigured.
        assert_eq!(task_outcome(&inputs, &cfg), None);
        let inputs = vec![at(Timeout, None, 10, 5), at(Submitted, Some(2), 10, 6)];
        assert_eq!(
            task_outcome(&inputs, &cfg).unwrap().scores,
            vec![("a".into(), 5)]
        );
    }

    #[test]
    fn fee_split_gives_the_remainder_to_the_top_score_and_refunds_zero_totals() {
        assert_eq!(
            split_fee(Decimal::from(500), &[10, 4, 20]),
            vec![147.into(), 58.into(), 295.into()]
        );
        assert_eq!(
            split_fee(Decimal::from(10), &[5, 5]),
            vec![5.into(), 5.into()]
        );
        assert_eq!(
            split_fee(Decimal::from(11), &[5, 5]),
            vec![6.into(), 5.into()]
        );
        assert_eq!(
            split_fee(Decimal::from(11), &[0, 0]),
            vec![0.into(), 0.into()]
        );
        let huge = Decimal::from_i128_with_scale(10i128.pow(27), 0);
        let pays = split_fee(huge, &[20, 20, 1]);
        assert_eq!(pays.iter().sum::<Decimal>(), huge);
    }

    #[test]
    fn timeout_score_clamps_to_the_minimum() {
        let cfg = CrynuxConfig::default();
        assert_eq!(timeout_score(Some(90), 180, &cfg), Some(0.75));
        assert_eq!(timeout_score(Some(30), 180, &cfg), Some(1.0));
        assert_eq!(timeout_score(Some(60), 60, &cfg), Some(1.0));
        assert_eq!(timeout_score(None, 180, &cfg), None);
    }

    #[test]
    fn selection_weight_is_zero_when_excluded_or_without_stake() {
        assert_eq!(selection_weight(0.25, Some(1.0), 1.0, false), 0.5 / 1.5);
        assert_eq!(selection_weight(0.0, Some(1.0), 1.0, false), 0.0);
        assert_eq!(selection_weight(1.0, Some(1.0), 1.0, true), 0.0);
        assert_eq!(selection_weight(1.0, None, 1.0, false), 0.5 / 1.5);
    }
}
