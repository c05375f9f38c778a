//! `[policy.relay]`: the constants of `shared/reference/freenet-relay.md`.

use serde::{Deserialize, Serialize};

use crate::time::Span;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Requests are counted over this trailing window; the rate is per second.
    pub rate_window: Span,
    /// A pair is known (its own rate counts) with this many requests in the window...
    pub min_requests: u64,
    /// ...or once first seen more than this long ago; otherwise its rate is estimated.
    pub ramp_up: Span,
    /// The relayed set keeps every resource's summed usage within this share of the total.
    pub max_usage: f64,
    /// A cost of exactly 0 counts as this.
    pub min_cost: f64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            rate_window: Span::hours(1),
            min_requests: 10,
            ramp_up: Span::minutes(5),
            max_usage: 0.9,
            min_cost: 1e-9,
        }
    }
}

impl RelayConfig {
    pub fn problems(&self, grain: Span) -> Vec<String> {
        let mut out = Vec::new();
        for (name, span) in [("rate_window", self.rate_window), ("ramp_up", self.ramp_up)] {
            if grain.millis() > 0 && span.millis() % grain.millis() != 0 {
                out.push(format!(
                    "policy.relay.{name} ({span}) must be a whole number of engine.grain ({grain})"
                ));
            }
        }
        if self.rate_window.millis() == 0 {
            out.push("policy.relay.rate_window must be positive".to_owned());
        }
        if !(self.max_usage > 0.0 && self.max_usage <= 1.0) {
            out.push(format!(
                "policy.relay.max_usage = {} must be within (0, 1]",
                self.max_usage
            ));
        }
        if !(self.min_cost > 0.0 && self.min_cost.is_finite()) {
            out.push(format!(
                "policy.relay.min_cost = {} must be above 0",
                self.min_cost
            ));
        }
        out
    }
}
