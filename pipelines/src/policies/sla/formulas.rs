//! The page's formulas as pure functions: latency buckets and p95, medians and targets, the
//! compliance scores and `performance`, rating ranks, and the penalty levels.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::config::SlaConfig;

/// Request priority classes, as array indexes.
pub const HIGH: usize = 0;
pub const NORMAL: usize = 1;
pub const CLASSES: [(usize, &str); 2] = [(HIGH, "high"), (NORMAL, "normal")];

/// The last latency bucket.
pub const LAST_BUCKET: u16 = 3000;

/// Bucket edges `E0 = 1`, `Ek = E(k-1) × 1.01` by repeated multiplication (rule 3).
fn edges() -> &'static [f64] {
    static EDGES: OnceLock<Vec<f64>> = OnceLock::new();
    EDGES.get_or_init(|| {
        let mut e = vec![1.0f64];
        for k in 1..=LAST_BUCKET as usize {
            e.push(e[k - 1] * 1.01);
        }
        e
    })
}

/// The upper edge `Ek` of bucket `k`: what a p95 in that bucket reports.
pub fn bucket_edge(k: u16) -> f64 {
    edges()[k as usize]
}

/// The smallest k with `x <= Ek`; `x <= 1` is bucket 0 and anything above `E3000` bucket 3000.
pub fn bucket_of(x: f64) -> u16 {
    let k = edges().partition_point(|e| *e < x);
    k.min(LAST_BUCKET as usize) as u16
}

/// A latency histogram: count per bucket. At most 3001 entries whatever the request count.
pub type Hist = BTreeMap<u16, u64>;

/// The bucket holding the ascending 1-based rank `(95n + 99) div 100` of the values of the
/// histograms together (None when they hold none).
pub fn p95_bucket(hists: &[&Hist]) -> Option<u16> {
    let n: u64 = hists.iter().flat_map(|h| h.values()).sum();
    if n == 0 {
        return None;
    }
    let rank = (95 * n + 99) / 100;
    // Walk the histograms' buckets together in ascending order, without merging them first.
    let mut buckets: Vec<_> = hists.iter().map(|h| h.iter().peekable()).collect();
    let mut seen = 0;
    loop {
        let (k, i) = buckets
            .iter_mut()
            .enumerate()
            .filter_map(|(i, b)| b.peek().map(|(k, _)| (**k, i)))
            .min()?;
        let (_, count) = buckets[i].next()?;
        seen += count;
        if seen >= rank {
            return Some(k);
        }
    }
}

/// The median of `values` (rule 6): the middle one, or the mean of the two middle ones.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The network medians the targets are derived from.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Medians {
    pub uptime: Option<f64>,
    /// Per class, of the nodes' p95 (ms).
    pub p95: [Option<f64>; 2],
    /// Per class, of the nodes' error rates.
    pub error: [Option<f64>; 2],
}

/// The targets of one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Targets {
    pub uptime: f64,
    pub latency_ms: [f64; 2],
    pub error: [f64; 2],
    pub median_uptime: Option<f64>,
}

pub fn error_base(class: usize, cfg: &SlaConfig) -> f64 {
    if class == HIGH {
        cfg.error_base_high
    } else {
        cfg.error_base_normal
    }
}

/// Targets from medians; with no values a target falls back to its configured base (rule 6).
pub fn targets(m: &Medians, cfg: &SlaConfig) -> Targets {
    Targets {
        uptime: m
            .uptime
            .map_or(cfg.uptime_target, |u| u.min(cfg.uptime_target)),
        latency_ms: [HIGH, NORMAL].map(|c| {
            m.p95[c].map_or(cfg.latency_floor_ms, |p| {
                (cfg.latency_factor * p).max(cfg.latency_floor_ms)
            })
        }),
        error: [HIGH, NORMAL].map(|c| {
            let base = error_base(c, cfg);
            m.error[c].map_or(base, |r| (cfg.error_factor * r).max(base))
        }),
        median_uptime: m.uptime,
    }
}

/// Uptime score: 1 at or above target `t`, 0 when `t` is at or below the floor, else linear.
pub fn uptime_score(u: f64, t: f64, cfg: &SlaConfig) -> f64 {
    let floor = cfg.uptime_floor;
    if u >= t {
        1.0
    } else if t <= floor {
        0.0
    } else {
        ((u - floor) / (t - floor)).max(0.0)
    }
}

/// Latency score: 1 at or below target, 0 at twice the target, linear in between.
pub fn latency_score(p: f64, t: f64) -> f64 {
    if p <= t {
        1.0
    } else if p >= 2.0 * t {
        0.0
    } else {
        (2.0 * t - p) / t
    }
}

/// Error score: 1 at or below target, 0 at the ceiling (or a target at or above it).
pub fn error_score(r: f64, t: f64, cfg: &SlaConfig) -> f64 {
    let ceiling = cfg.error_ceiling;
    if r <= t {
        1.0
    } else if t >= ceiling {
        0.0
    } else {
        ((ceiling - r) / (ceiling - t)).max(0.0)
    }
}

/// A node's counts over some span: what its figures come from.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub probes: u64,
    pub ok_probes: u64,
    pub requests: [u64; 2],
    pub failed: [u64; 2],
    /// Latencies of ok requests, per class.
    pub hist: [Hist; 2],
}

impl Counts {
    pub fn is_empty(&self) -> bool {
        self.probes == 0 && self.requests == [0, 0]
    }

    /// Adds (`sign` 1) or takes away (`sign` -1) `other`.
    pub fn merge(&mut self, other: &Counts, sign: i64) {
        let apply = |a: &mut u64, b: u64| {
            *a = if sign > 0 { *a + b } else { *a - b };
        };
        apply(&mut self.probes, other.probes);
        apply(&mut self.ok_probes, other.ok_probes);
        for c in [HIGH, NORMAL] {
            apply(&mut self.requests[c], other.requests[c]);
            apply(&mut self.failed[c], other.failed[c]);
            for (k, n) in &other.hist[c] {
                let entry = self.hist[c].entry(*k).or_default();
                apply(entry, *n);
                if *entry == 0 {
                    self.hist[c].remove(k);
                }
            }
        }
    }

    /// Counts one probe.
    pub fn probe(&mut self, ok: bool) {
        self.probes += 1;
        self.ok_probes += ok as u64;
    }

    /// Counts one request of `class`; an ok one's latency goes to the histogram.
    pub fn request(&mut self, class: usize, ok: bool, latency_ms: f64) {
        self.requests[class] += 1;
        if ok {
            *self.hist[class].entry(bucket_of(latency_ms)).or_default() += 1;
        } else {
            self.failed[class] += 1;
        }
    }

    /// How many histogram entries this holds (the part of the state that grows with spread).
    pub fn hist_entries(&self) -> usize {
        self.hist[HIGH].len() + self.hist[NORMAL].len()
    }
}

/// A node's figures: everything the `sla` row shows before targets and ranks.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Figures {
    pub probes: u64,
    pub ok_probes: u64,
    pub requests: [u64; 2],
    pub failed: [u64; 2],
    /// p95 buckets: over all ok requests, and per class.
    pub p95_all: Option<u16>,
    pub p95: [Option<u16>; 2],
    /// Sum of stars and count of the ratings that count (the latest per user).
    pub rating_sum: u64,
    pub ratings: u64,
}

impl Figures {
    pub fn of(counts: &Counts, rating_sum: u64, ratings: u64) -> Figures {
        Figures {
            probes: counts.probes,
            ok_probes: counts.ok_probes,
            requests: counts.requests,
            failed: counts.failed,
            p95_all: p95_bucket(&[&counts.hist[HIGH], &counts.hist[NORMAL]]),
            p95: [HIGH, NORMAL].map(|c| p95_bucket(&[&counts.hist[c]])),
            rating_sum,
            ratings,
        }
    }

    /// ok probes / probes; None (unmonitored) without probes.
    pub fn uptime(&self) -> Option<f64> {
        (self.probes > 0).then(|| self.ok_probes as f64 / self.probes as f64)
    }

    pub fn p95_ms(&self, class: usize) -> Option<f64> {
        self.p95[class].map(bucket_edge)
    }

    /// failed / requests of the class; None when it has none.
    pub fn error_rate(&self, class: usize) -> Option<f64> {
        (self.requests[class] > 0).then(|| self.failed[class] as f64 / self.requests[class] as f64)
    }

    pub fn rating(&self) -> Option<f64> {
        (self.ratings > 0).then(|| self.rating_sum as f64 / self.ratings as f64)
    }

    /// The values this node adds to the network medians (rule 6: non-NULL figures only).
    pub fn median_values(&self) -> MedianValues {
        MedianValues {
            uptime: self.uptime(),
            p95: [HIGH, NORMAL].map(|c| self.p95_ms(c)),
            error: [HIGH, NORMAL].map(|c| self.error_rate(c)),
        }
    }
}

/// One node's contribution to each median.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MedianValues {
    pub uptime: Option<f64>,
    pub p95: [Option<f64>; 2],
    pub error: [Option<f64>; 2],
}

/// The medians of a set of nodes' figures, computed from scratch (checks and references).
pub fn medians_of<'f>(figures: impl Iterator<Item = &'f Figures>) -> Medians {
    let values: Vec<MedianValues> = figures.map(Figures::median_values).collect();
    let of = |pick: &dyn Fn(&MedianValues) -> Option<f64>| {
        median(values.iter().filter_map(pick).collect())
    };
    Medians {
        uptime: of(&|v| v.uptime),
        p95: [HIGH, NORMAL].map(|c| of(&|v| v.p95[c])),
        error: [HIGH, NORMAL].map(|c| of(&|v| v.error[c])),
    }
}

/// A node's compliance scores and its performance figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    pub uptime: Option<f64>,
    pub latency: Option<f64>,
    pub errors: Option<f64>,
    pub rating: f64,
    /// Σ w·s / Σ w over the non-NULL scores; None if their weights add up to 0.
    pub performance: Option<f64>,
}

impl Scores {
    /// Whether a check breaches: an uptime, latency or error score below 1 (rule 8).
    pub fn breaches(&self) -> bool {
        [self.uptime, self.latency, self.errors]
            .into_iter()
            .flatten()
            .any(|s| s < 1.0)
    }

    /// The lowest of the scores a check judges (for the trigger's value), 1 if none.
    pub fn worst_checked(&self) -> f64 {
        [self.uptime, self.latency, self.errors]
            .into_iter()
            .flatten()
            .fold(1.0, f64::min)
    }
}

/// The minimum over the classes that have data (rule 7).
fn min_over_classes(score: impl Fn(usize) -> Option<f64>) -> Option<f64> {
    [HIGH, NORMAL]
        .into_iter()
        .filter_map(score)
        .reduce(f64::min)
}

pub fn scores(f: &Figures, t: &Targets, rating_rank: f64, cfg: &SlaConfig) -> Scores {
    let uptime = f.uptime().map(|u| uptime_score(u, t.uptime, cfg));
    let latency = min_over_classes(|c| f.p95_ms(c).map(|p| latency_score(p, t.latency_ms[c])));
    let errors = min_over_classes(|c| f.error_rate(c).map(|r| error_score(r, t.error[c], cfg)));
    let parts = [
        (cfg.weight_uptime, uptime),
        (cfg.weight_latency, latency),
        (cfg.weight_errors, errors),
        (cfg.weight_rating, Some(rating_rank)),
    ];
    let (mut sum, mut weights) = (0.0, 0.0);
    for (w, s) in parts {
        if let Some(s) = s {
            sum += w * s;
            weights += w;
        }
    }
    Scores {
        uptime,
        latency,
        errors,
        rating: rating_rank,
        performance: (weights > 0.0).then(|| sum / weights),
    }
}

/// Percentile ranks of the nodes in Q (at least `min_ratings` ratings), from (node, sum of
/// stars, ratings): `(#lower + 0.5 × #equal others) / (|Q| − 1)`, means compared exactly.
/// Nodes outside Q (and everyone when |Q| < 2) are not in the result: their rank is 0.5.
pub fn rating_ranks<K: Clone + Ord>(
    nodes: impl Iterator<Item = (K, u64, u64)>,
    cfg: &SlaConfig,
) -> BTreeMap<K, f64> {
    let mut q: Vec<(K, u64, u64)> = nodes
        .filter(|(_, _, n)| *n >= cfg.min_ratings as u64)
        .collect();
    let mut ranks = BTreeMap::new();
    if q.len() < 2 {
        return ranks;
    }
    let by_mean = |a: &(K, u64, u64), b: &(K, u64, u64)| -> Ordering {
        (a.1 as u128 * b.2 as u128).cmp(&(b.1 as u128 * a.2 as u128))
    };
    q.sort_by(by_mean);
    let others = (q.len() - 1) as f64;
    let mut start = 0;
    while start < q.len() {
        let mut end = start + 1;
        while end < q.len() && by_mean(&q[start], &q[end]) == Ordering::Equal {
            end += 1;
        }
        let rank = (start as f64 + 0.5 * (end - start - 1) as f64) / others;
        for node in &q[start..end] {
            ranks.insert(node.0.clone(), rank);
        }
        start = end;
    }
    ranks
}

/// Penalty levels, lowest first.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Level {
    #[default]
    None,
    Warning,
    Penalty(u32),
    Severe,
}

impl Level {
    pub fn name(self) -> String {
        match self {
            Level::None => "none".into(),
            Level::Warning => "warning".into(),
            Level::Penalty(k) => format!("penalty_{k}"),
            Level::Severe => "severe".into(),
        }
    }

    /// One step down (rule 8's recovery).
    pub fn lower(self, cfg: &SlaConfig) -> Level {
        match self {
            Level::Severe => Level::Penalty(cfg.max_penalty_level),
            Level::Penalty(k) if k > 1 => Level::Penalty(k - 1),
            Level::Penalty(_) => Level::Warning,
            Level::Warning | Level::None => Level::None,
        }
    }

    /// What the level leaves of the reward factor.
    pub fn multiplier(self, cfg: &SlaConfig) -> f64 {
        match self {
            Level::None | Level::Warning => 1.0,
            Level::Penalty(k) => 1.0 - cfg.penalty_step * k as f64,
            Level::Severe => 0.0,
        }
    }
}

/// A node's standing after a check, with the counts that led to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckCounts {
    /// Breaching checks of the node in the lookback, this one included (B7).
    pub breaches_lookback: u32,
    /// Consecutive breaching / clean checks ending with this one (one of them is 0).
    pub consecutive_breaches: u32,
    pub consecutive_clean: u32,
}

/// The level after a check (rule 8) and, when it changed, why: (value, threshold).
pub fn next_level(
    level: Level,
    breach: bool,
    n: &CheckCounts,
    cfg: &SlaConfig,
) -> (Level, (f64, f64)) {
    if breach {
        let (candidate, cause) = if n.consecutive_breaches >= cfg.severe_after {
            (Level::Severe, (n.consecutive_breaches, cfg.severe_after))
        } else if n.breaches_lookback >= cfg.penalty_after {
            let k = (n.breaches_lookback / cfg.penalty_after).min(cfg.max_penalty_level);
            (
                Level::Penalty(k),
                (n.breaches_lookback, k * cfg.penalty_after),
            )
        } else {
            (Level::Warning, (n.breaches_lookback, 1))
        };
        let cause = (cause.0 as f64, cause.1 as f64);
        (level.max(candidate), cause)
    } else {
        let cause = (n.consecutive_clean as f64, cfg.recover_after as f64);
        if n.consecutive_clean > 0 && n.consecutive_clean % cfg.recover_after == 0 {
            (level.lower(cfg), cause)
        } else {
            (level, cause)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SlaConfig {
        SlaConfig::default()
    }

    #[test]
    fn buckets_follow_rule_3() {
        assert_eq!(bucket_of(0.2), 0);
        assert_eq!(bucket_of(1.0), 0);
        assert_eq!(bucket_of(1.005), 1);
        assert_eq!(bucket_of(1.01), 1, "x <= E1 goes to bucket 1");
        assert_eq!(bucket_of(1.0101), 2);
        assert_eq!(bucket_of(1e300), LAST_BUCKET);
        // Every value lies within 1 % of its bucket's edge, at or below it.
        for x in [1.5, 7.0, 99.9, 100.0, 250.0, 1234.5, 98_765.0] {
            let e = bucket_edge(bucket_of(x));
            assert!(x <= e && e <= x * 1.01 + 1e-9, "{x} -> {e}");
            assert!(bucket_edge(bucket_of(x) - 1) < x);
        }
    }

    #[test]
    fn p95_takes_the_rank_95n_plus_99_div_100() {
        // n = 20 → rank 19: the 19th smallest of 1..=20 ms.
        let mut c = Counts::default();
        for ms in 1..=20 {
            c.request(NORMAL, true, ms as f64);
        }
        assert_eq!(p95_bucket(&[&c.hist[NORMAL]]), Some(bucket_of(19.0)));
        // n = 1 → rank 1; n = 0 → None.
        let mut one = Counts::default();
        one.request(HIGH, true, 42.0);
        assert_eq!(p95_bucket(&[&one.hist[HIGH]]), Some(bucket_of(42.0)));
        assert_eq!(p95_bucket(&[&Hist::new()]), None);
        // Both classes together: 20 normal + 1 high → n = 21, rank 20.
        assert_eq!(
            p95_bucket(&[&one.hist[HIGH], &c.hist[NORMAL]]),
            Some(bucket_of(20.0))
        );
    }

    #[test]
    fn medians_take_the_middle_or_the_mean_of_two() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn targets_move_with_the_network_and_fall_back_without_values() {
        let c = cfg();
        let none = targets(&Medians::default(), &c);
        assert_eq!(none.uptime, 0.999);
        assert_eq!(none.latency_ms, [100.0, 100.0]);
        assert_eq!(none.error, [0.001, 0.01]);
        let m = Medians {
            uptime: Some(0.9),
            p95: [Some(50.0), Some(200.0)],
            error: [Some(0.0001), Some(0.02)],
        };
        let t = targets(&m, &c);
        assert_eq!(t.uptime, 0.9, "an outage lowers the bar");
        assert_eq!(t.latency_ms, [100.0, 300.0], "floor, then 1.5 x median");
        assert_eq!(t.error, [0.001, 0.04], "base, then 2 x median");
        let high = Medians {
            uptime: Some(0.9999),
            ..m
        };
        assert_eq!(
            targets(&high, &c).uptime,
            0.999,
            "never above the configured target"
        );
    }

    #[test]
    fn scores_follow_rule_7() {
        let c = cfg();
        assert_eq!(uptime_score(0.999, 0.999, &c), 1.0);
        assert!((uptime_score(0.97, 0.99, &c) - 0.5).abs() < 1e-12);
        assert_eq!(uptime_score(0.9, 0.99, &c), 0.0);
        assert_eq!(
            uptime_score(0.9, 0.9, &c),
            1.0,
            "at target, even below the floor"
        );
        assert_eq!(
            uptime_score(0.89, 0.9, &c),
            0.0,
            "target at or below the floor"
        );
        assert_eq!(latency_score(100.0, 100.0), 1.0);
        assert_eq!(latency_score(150.0, 100.0), 0.5);
        assert_eq!(latency_score(200.0, 100.0), 0.0);
        assert_eq!(error_score(0.01, 0.01, &c), 1.0);
        assert!((error_score(0.055, 0.01, &c) - 0.5).abs() < 1e-12);
        assert_eq!(error_score(0.2, 0.01, &c), 0.0);
        assert_eq!(error_score(0.2, 0.1, &c), 0.0);
    }

    #[test]
    fn performance_is_the_weighted_mean_of_the_non_null_scores() {
        let c = cfg();
        let t = targets(&Medians::default(), &c);
        // Unmonitored, no requests: only the rating counts.
        let empty = scores(&Figures::default(), &t, 0.5, &c);
        assert_eq!(
            (empty.uptime, empty.latency, empty.errors),
            (None, None, None)
        );
        assert_eq!(empty.performance, Some(0.5));
        // uptime 0.97 → 0.4081..., latency fine, errors: high 0 ok, normal 5.5 % → 0.5.
        let mut counts = Counts::default();
        for i in 0..100 {
            counts.probe(i >= 3);
        }
        counts.request(HIGH, true, 20.0);
        for i in 0..200 {
            counts.request(NORMAL, i >= 11, 50.0);
        }
        let f = Figures::of(&counts, 0, 0);
        let s = scores(&f, &t, 0.25, &c);
        let u = (0.97 - 0.95) / (0.999 - 0.95);
        assert!((s.uptime.unwrap() - u).abs() < 1e-12);
        assert_eq!(s.latency, Some(1.0));
        assert!(
            (s.errors.unwrap() - 0.5).abs() < 1e-12,
            "the worse class counts"
        );
        let want = (2.0 * u + 1.0 + 2.0 * 0.5 + 0.25) / 6.0;
        assert!((s.performance.unwrap() - want).abs() < 1e-12);
        assert!(s.breaches());
    }

    #[test]
    fn rating_ranks_follow_rule_5() {
        let c = cfg();
        // Means 4.0, 4.0, 5.0, 2.0; one node with 4 ratings is outside Q.
        let nodes = [
            ("a", 20, 5),
            ("b", 24, 6),
            ("c", 25, 5),
            ("d", 10, 5),
            ("e", 20, 4),
        ];
        let ranks = rating_ranks(nodes.into_iter(), &c);
        assert_eq!(ranks.get("d"), Some(&0.0));
        assert_eq!(ranks.get("a"), Some(&((1.0 + 0.5) / 3.0)));
        assert_eq!(ranks.get("b"), Some(&((1.0 + 0.5) / 3.0)));
        assert_eq!(ranks.get("c"), Some(&1.0));
        assert_eq!(ranks.get("e"), None, "fewer than min_ratings: neutral 0.5");
        assert!(
            rating_ranks([("a", 20, 5)].into_iter(), &c).is_empty(),
            "|Q| < 2"
        );
    }

    fn counts(b7: u32, breaches: u32, clean: u32) -> CheckCounts {
        CheckCounts {
            breaches_lookback: b7,
            consecutive_breaches: breaches,
            consecutive_clean: clean,
        }
    }

    #[test]
    fn levels_follow_rule_8() {
        let c = cfg();
        assert_eq!(
            next_level(Level::None, true, &counts(1, 1, 0), &c).0,
            Level::Warning
        );
        assert_eq!(
            next_level(Level::Warning, true, &counts(2, 2, 0), &c).0,
            Level::Warning
        );
        assert_eq!(
            next_level(Level::Warning, true, &counts(3, 3, 0), &c).0,
            Level::Penalty(1)
        );
        assert_eq!(
            next_level(Level::Penalty(1), true, &counts(6, 1, 0), &c).0,
            Level::Penalty(2)
        );
        assert_eq!(
            next_level(Level::Penalty(4), true, &counts(20, 20, 0), &c).0,
            Level::Penalty(5),
            "at most 5"
        );
        assert_eq!(
            next_level(Level::Penalty(5), true, &counts(24, 24, 0), &c).0,
            Level::Severe
        );
        // Never lowered by a breach with fewer breaches in the lookback.
        assert_eq!(
            next_level(Level::Penalty(3), true, &counts(1, 1, 0), &c).0,
            Level::Penalty(3)
        );
        // Recovery: every 72nd consecutive clean check, one step.
        assert_eq!(
            next_level(Level::Severe, false, &counts(0, 0, 71), &c).0,
            Level::Severe
        );
        assert_eq!(
            next_level(Level::Severe, false, &counts(0, 0, 72), &c).0,
            Level::Penalty(5)
        );
        assert_eq!(
            next_level(Level::Penalty(1), false, &counts(0, 0, 144), &c).0,
            Level::Warning
        );
        assert_eq!(
            next_level(Level::Warning, false, &counts(0, 0, 216), &c).0,
            Level::None
        );
        assert_eq!(Level::Penalty(2).multiplier(&c), 0.8);
        assert_eq!(Level::Severe.multiplier(&c), 0.0);
        assert!(Level::Warning < Level::Penalty(1) && Level::Penalty(5) < Level::Severe);
    }
}
