//! `[policy.sla]`: every constant of `shared/reference/swarm-ai-performance.md`, with its default.

use serde::{Deserialize, Serialize};

use crate::time::Span;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaConfig {
    /// Sliding window of the `sla` table's figures.
    pub window: Span,
    /// Its granularity: an event counts at `ceil(ts / slide) * slide`. A whole number of
    /// `engine.grain`.
    pub slide: Span,
    /// Uptime target before the network's median caps it.
    pub uptime_target: f64,
    /// Uptime at or below which the uptime score is 0.
    pub uptime_floor: f64,
    /// The latency target is this times the network median p95 of the class...
    pub latency_factor: f64,
    /// ...and never below this (ms).
    pub latency_floor_ms: f64,
    /// Base error-rate target of `high` priority requests.
    pub error_base_high: f64,
    /// Base error-rate target of `normal` priority requests.
    pub error_base_normal: f64,
    /// The error target is at least this times the network median error rate of the class.
    pub error_factor: f64,
    /// Error rate at or above which the error score is 0.
    pub error_ceiling: f64,
    /// Nodes with fewer ratings than this in the window are ranked 0.5 (neutral).
    pub min_ratings: u32,
    /// Weights of the uptime, latency, error and rating scores in `performance`.
    pub weight_uptime: f64,
    pub weight_latency: f64,
    pub weight_errors: f64,
    pub weight_rating: f64,
    /// Checks run on multiples of this (UTC hour boundaries by default).
    pub check_every: Span,
    /// Each check judges the figures of this trailing span; a whole number of `check_every`.
    pub check_window: Span,
    /// Breaching checks are counted over this trailing span (B7).
    pub lookback: Span,
    /// Every this many breaching checks in the lookback raise the penalty level by one.
    pub penalty_after: u32,
    /// A penalty level k multiplies the reward factor by `1 - penalty_step * k`.
    pub penalty_step: f64,
    /// The highest penalty level.
    pub max_penalty_level: u32,
    /// This many consecutive breaching checks: severe (excluded from rewards, slash proposed).
    pub severe_after: u32,
    /// Every this many consecutive clean checks lower the level by one.
    pub recover_after: u32,
    /// XIDs that raise a `gpu_fault` warning.
    pub critical_xids: Vec<u64>,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            window: Span::days(30),
            slide: Span::minutes(1),
            uptime_target: 0.999,
            uptime_floor: 0.95,
            latency_factor: 1.5,
            latency_floor_ms: 100.0,
            error_base_high: 0.001,
            error_base_normal: 0.01,
            error_factor: 2.0,
            error_ceiling: 0.1,
            min_ratings: 5,
            weight_uptime: 2.0,
            weight_latency: 1.0,
            weight_errors: 2.0,
            weight_rating: 1.0,
            check_every: Span::hours(1),
            check_window: Span::hours(1),
            lookback: Span::days(7),
            penalty_after: 3,
            penalty_step: 0.1,
            max_penalty_level: 5,
            severe_after: 24,
            recover_after: 72,
            critical_xids: vec![48, 62, 64, 74, 79, 95, 119, 120],
        }
    }
}

impl SlaConfig {
    /// Every problem of the values, each naming its field; `grain` is the engine's time grain
    /// (`engine.grain`).
    pub fn problems(&self, grain: Span) -> Vec<String> {
        let mut out = Vec::new();
        let field = |name: &str| format!("policy.sla.{name}");
        let multiple = |out: &mut Vec<String>, name: &str, of_name: &str, span: Span, of: Span| {
            if span.millis() == 0 {
                out.push(format!("{} must be positive", field(name)));
            } else if of.millis() > 0 && span.millis() % of.millis() != 0 {
                out.push(format!(
                    "{} ({span}) must be a whole number of {of_name} ({of})",
                    field(name)
                ));
            }
        };
        multiple(&mut out, "slide", "engine.grain", self.slide, grain);
        multiple(
            &mut out,
            "window",
            "policy.sla.slide",
            self.window,
            self.slide,
        );
        multiple(
            &mut out,
            "check_every",
            "policy.sla.slide",
            self.check_every,
            self.slide,
        );
        multiple(
            &mut out,
            "check_window",
            "policy.sla.check_every",
            self.check_window,
            self.check_every,
        );
        multiple(
            &mut out,
            "lookback",
            "policy.sla.check_every",
            self.lookback,
            self.check_every,
        );
        for (name, v) in [
            ("uptime_target", self.uptime_target),
            ("uptime_floor", self.uptime_floor),
            ("error_base_high", self.error_base_high),
            ("error_base_normal", self.error_base_normal),
            ("error_ceiling", self.error_ceiling),
            ("penalty_step", self.penalty_step),
        ] {
            if !(0.0..=1.0).contains(&v) {
                out.push(format!("{} = {v} must be within 0..=1", field(name)));
            }
        }
        for (name, v) in [
            ("latency_factor", self.latency_factor),
            ("latency_floor_ms", self.latency_floor_ms),
            ("error_factor", self.error_factor),
        ] {
            if !(v.is_finite() && v > 0.0) {
                out.push(format!("{} = {v} must be above 0", field(name)));
            }
        }
        let weights = [
            self.weight_uptime,
            self.weight_latency,
            self.weight_errors,
            self.weight_rating,
        ];
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
            || weights.iter().sum::<f64>() <= 0.0
        {
            out.push(format!(
                "policy.sla weights (weight_uptime, weight_latency, weight_errors, weight_rating) = {weights:?} must be at least 0 with a positive sum"
            ));
        }
        for (name, v) in [
            ("min_ratings", self.min_ratings),
            ("penalty_after", self.penalty_after),
            ("severe_after", self.severe_after),
            ("recover_after", self.recover_after),
        ] {
            if v == 0 {
                out.push(format!("{} must be at least 1", field(name)));
            }
        }
        if self.penalty_step * self.max_penalty_level as f64 > 1.0 {
            out.push(format!(
                "{} x {} = {} must not exceed 1 (a reward factor cannot go negative)",
                field("penalty_step"),
                field("max_penalty_level"),
                self.penalty_step * self.max_penalty_level as f64
            ));
        }
        out
    }

    /// How many `check_every` buckets one check looks at.
    pub fn check_buckets(&self) -> u64 {
        (self.check_window.millis() / self.check_every.millis().max(1)).max(1)
    }
}
