//! `[policy.icp]`: the constants of `shared/reference/icp-node-rewards.md`, with their defaults.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::time::Span;

/// How type3 / type3.1 nodes of one provider in one country share a base reward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Type3Algorithm {
    V1,
    V2,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IcpConfig {
    /// The reduction curve: (relative failure rate, reduction) points, linear in between and
    /// flat outside.
    pub reduction_points: [(Decimal, Decimal); 2],
    /// The subnet failure rate is this nearest-rank percentile of its nodes' failure rates.
    pub percentile: u32,
    /// `v1` (mean rate × geometric mean of coefficients) or `v2` (sorted product).
    pub type3_algorithm: Type3Algorithm,
    /// Days per month: a monthly rate divided by this is the daily rate.
    pub days_per_month: Decimal,
    /// `reward_coefficient_percent` of a `reward_rate` that carries none.
    pub default_coefficient_percent: u32,
    /// A UTC day (and a period) is closed, final, this long after its end.
    pub grace: Span,
    /// How often (event time) `icp_node_daily_live` is recomputed for the open days.
    pub live_refresh: Span,
}

impl Default for IcpConfig {
    fn default() -> Self {
        IcpConfig {
            reduction_points: [
                (Decimal::new(1, 1), Decimal::ZERO),
                (Decimal::new(6, 1), Decimal::new(8, 1)),
            ],
            percentile: 75,
            type3_algorithm: Type3Algorithm::V1,
            days_per_month: Decimal::new(304375, 4),
            default_coefficient_percent: 80,
            grace: Span::hours(1),
            live_refresh: Span::hours(1),
        }
    }
}

impl IcpConfig {
    /// Every problem of the values, each naming its field; `slide` is the engine's time grain.
    pub fn problems(&self, slide: Span) -> Vec<String> {
        let mut problems = Vec::new();
        let [(x0, y0), (x1, y1)] = self.reduction_points;
        if x0 >= x1 {
            problems.push(format!(
                "policy.icp.reduction_points: the first x ({x0}) must be below the second ({x1})"
            ));
        }
        for y in [y0, y1] {
            if y < Decimal::ZERO || y > Decimal::ONE {
                problems.push(format!(
                    "policy.icp.reduction_points: reduction {y} is outside 0..=1"
                ));
            }
        }
        if !(1..=100).contains(&self.percentile) {
            problems.push(format!(
                "policy.icp.percentile: {} is outside 1..=100",
                self.percentile
            ));
        }
        if self.days_per_month <= Decimal::ZERO {
            problems.push("policy.icp.days_per_month: must be above 0".to_owned());
        }
        if self.default_coefficient_percent > 100 {
            problems.push(format!(
                "policy.icp.default_coefficient_percent: {} is outside 0..=100",
                self.default_coefficient_percent
            ));
        }
        if self.grace < slide {
            problems.push(format!(
                "policy.icp.grace ({}) must be at least engine.grain ({slide}): an event counts at its slide boundary, which must come before its day closes",
                self.grace
            ));
        }
        if self.live_refresh.millis() == 0 {
            problems.push("policy.icp.live_refresh: must be above 0".to_owned());
        }
        problems
    }
}
