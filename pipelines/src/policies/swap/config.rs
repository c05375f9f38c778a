//! `[policy.swap]`: the constants of `shared/reference/swap-bandwidth.md` (bee's defaults).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwapConfig {
    /// Price of a chunk at the largest proximity order; each order closer is one more step.
    pub base_price: u64,
    /// The largest proximity order.
    pub max_po: u8,
    /// Refresh allowance per second of a full node...
    pub refresh_rate: u64,
    /// ...and of a light node (`node_type = "light"` in its latest registration).
    pub light_refresh_rate: u64,
    /// Debt at which a peer should pay.
    pub payment_threshold: u64,
    /// The disconnect limit is `payment_threshold × (100 + this) / 100`.
    pub payment_tolerance_percent: u64,
}

impl Default for SwapConfig {
    fn default() -> Self {
        SwapConfig {
            base_price: 10_000,
            max_po: 31,
            refresh_rate: 4_500_000,
            light_refresh_rate: 450_000,
            payment_threshold: 13_500_000,
            payment_tolerance_percent: 25,
        }
    }
}

impl SwapConfig {
    /// `threshold × (100 + tolerance) / 100`, integer arithmetic.
    pub fn disconnect_limit(&self) -> u128 {
        self.payment_threshold as u128 * (100 + self.payment_tolerance_percent as u128) / 100
    }

    /// `(max_po − min(po, max_po) + 1) × base_price`.
    pub fn price(&self, po: u8) -> u64 {
        (self.max_po - po.min(self.max_po)) as u64 * self.base_price + self.base_price
    }

    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.base_price == 0 {
            out.push("policy.swap.base_price must be above 0".to_owned());
        }
        if self.max_po > 31 {
            out.push(format!(
                "policy.swap.max_po = {} must be at most 31 (po is 0..=31)",
                self.max_po
            ));
        }
        out
    }
}
