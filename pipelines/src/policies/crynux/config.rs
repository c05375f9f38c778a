//! `[policy.crynux]`: every constant of `shared/reference/crynux-qos.md`, with its default.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::time::Span;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrynuxConfig {
    /// Sliding window of counted tasks and telemetry.
    pub window: Span,
    /// Granularity of the window: an event counts at `ceil(ts / slide) * slide`.
    pub slide: Span,
    /// Round score by finishing order 1, 2, 3 (submitted or error_reported).
    pub round_scores: [u32; 3],
    /// `O_min` of the timeout score, in seconds.
    pub min_timeout_s: u64,
    /// Weight `α` of the VRAM score in QoS.
    pub alpha: f64,
    /// Weight `β` of the timeout score in QoS.
    pub beta: f64,
    /// Weight `γ` of the submission speed score in QoS.
    pub gamma: f64,
    /// Recovery time constant `τ` of health.
    pub health_tau: Span,
    /// Health at or above this takes the mild penalty on a timeout/abort, below it the severe one.
    pub health_mild_above: f64,
    /// Mild penalty factor.
    pub health_mild_factor: f64,
    /// Severe penalty factor.
    pub health_severe_factor: f64,
    /// Health added by a submitted disclosure (capped at 1).
    pub health_boost: f64,
    /// A node is excluded from new tasks when health falls below this.
    pub exclusion_enter: f64,
    /// An excluded node is let back when its effective health reaches this.
    pub exclusion_leave: f64,
    /// Kick-out looks at this many most recent counted tasks since the last join.
    pub kickout_tasks: u32,
    /// Kick-out when their mean score is below this fraction of the maximum task score.
    pub kickout_fraction: f64,
    /// Reward pool of a period (calendar month), in the smallest unit.
    pub incentive_pool: Decimal,
    /// How long after a task's first event its later events (rounds, slashing, fee) still change
    /// it; events between one and two graces later are ignored, and beyond that start the task
    /// anew. Raw task events are kept twice this long.
    pub task_grace: Span,
}

impl Default for CrynuxConfig {
    fn default() -> Self {
        CrynuxConfig {
            window: Span::days(30),
            slide: Span::minutes(1),
            round_scores: [10, 5, 2],
            min_timeout_s: 60,
            alpha: 1.0 / 3.0,
            beta: 1.0 / 3.0,
            gamma: 1.0 / 3.0,
            health_tau: Span::minutes(30),
            health_mild_above: 0.99,
            health_mild_factor: 0.95,
            health_severe_factor: 0.3,
            health_boost: 0.15,
            exclusion_enter: 0.2,
            exclusion_leave: 0.8,
            kickout_tasks: 50,
            kickout_fraction: 0.2,
            incentive_pool: Decimal::ZERO,
            task_grace: Span::days(1),
        }
    }
}

impl CrynuxConfig {
    /// The highest score a task can give: both rounds at the best order.
    pub fn max_task_score(&self) -> u32 {
        2 * self.round_scores.iter().copied().max().unwrap_or(0)
    }

    /// Every problem with the values, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let field = |name: &str| format!("policy.crynux.{name}");
        if self.slide.millis() == 0 {
            out.push(format!("{} must be positive", field("slide")));
        }
        if self.window.millis() == 0 {
            out.push(format!("{} must be positive", field("window")));
        } else if self.slide.millis() > 0 && self.window.millis() % self.slide.millis() != 0 {
            out.push(format!(
                "{} ({}) must be a whole number of slides ({})",
                field("window"),
                self.window,
                self.slide
            ));
        }
        let weights = [
            ("alpha", self.alpha),
            ("beta", self.beta),
            ("gamma", self.gamma),
        ];
        for (name, w) in weights {
            if !(0.0..=1.0).contains(&w) {
                out.push(format!("{} = {w} must be within 0..=1", field(name)));
            }
        }
        let sum: f64 = weights.iter().map(|(_, w)| w).sum();
        if (sum - 1.0).abs() > 1e-9 {
            out.push(format!(
                "policy.crynux weights alpha + beta + gamma = {sum} must sum to 1 (alpha={}, beta={}, gamma={})",
                self.alpha, self.beta, self.gamma
            ));
        }
        for (name, v) in [
            ("health_mild_above", self.health_mild_above),
            ("health_mild_factor", self.health_mild_factor),
            ("health_severe_factor", self.health_severe_factor),
            ("health_boost", self.health_boost),
            ("exclusion_enter", self.exclusion_enter),
            ("exclusion_leave", self.exclusion_leave),
            ("kickout_fraction", self.kickout_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                out.push(format!("{} = {v} must be within 0..=1", field(name)));
            }
        }
        if self.exclusion_enter > self.exclusion_leave {
            out.push(format!(
                "{} ({}) must not exceed {} ({})",
                field("exclusion_enter"),
                self.exclusion_enter,
                field("exclusion_leave"),
                self.exclusion_leave
            ));
        }
        if self.health_tau.millis() == 0 {
            out.push(format!("{} must be positive", field("health_tau")));
        }
        if self.task_grace.millis() == 0
            || (self.slide.millis() > 0 && self.task_grace.millis() % self.slide.millis() != 0)
        {
            out.push(format!(
                "{} ({}) must be a positive whole number of slides ({})",
                field("task_grace"),
                self.task_grace,
                self.slide
            ));
        }
        if self.kickout_tasks == 0 {
            out.push(format!("{} must be at least 1", field("kickout_tasks")));
        }
        if self.incentive_pool.is_sign_negative() && !self.incentive_pool.is_zero() {
            out.push(format!("{} must not be negative", field("incentive_pool")));
        }
        out
    }
}
