//! One debtor's side of the SWAP ledger: its pairs (debtor → creditor) and the rules of the
//! page applied to one event at a time, in (ts, input order). Pure: the dataflow keeps one per
//! debtor, keyed across workers, and a replay of the same events gives the same ledger.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::SwapConfig;
use crate::id::Id;
use crate::time::Millis;

/// One ordered pair's account. Amounts in the smallest unit.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Pair {
    pub debt: u128,
    /// Credit left by over-payment, consumed by the next chunks.
    pub surplus: u128,
    pub chunks: u64,
    /// Full price of the chunks served (the creditor's served income).
    pub served: u128,
    pub paid_refresh: u128,
    pub paid_cheques: u128,
    pub last_refresh: Option<Millis>,
    pub last_payout: u128,
}

/// What one ledger event is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LedgerEvent {
    Chunk {
        price: u64,
    },
    Refresh {
        amount: u128,
    },
    Cheque {
        cumulative: u128,
        balance: Option<u128>,
    },
}

/// What applying an event caused besides the new pair state.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// The event is rejected (the pair unchanged); the reason names the field.
    Rejected(String),
    /// A refresh above its allowance: (amount, allowance); only the allowance was applied.
    RefreshAboveAllowance(u128, u128),
    /// A cheque the chequebook cannot cover: (cumulative payout, balance); nothing applied.
    Bounced(u128, u128),
}

/// Applies one event at `ts` to `pair` (None: the pair has had no valid event yet) and returns
/// the pair after it (None if still none) and what else happened.
pub fn apply(
    pair: Option<Pair>,
    ts: Millis,
    event: &LedgerEvent,
    rate: u64,
) -> (Option<Pair>, Option<Effect>) {
    let mut p = pair.unwrap_or_default();
    let mut effect = None;
    match *event {
        LedgerEvent::Chunk { price } => {
            let price = price as u128;
            let from_surplus = p.surplus.min(price);
            p.surplus -= from_surplus;
            p.debt += price - from_surplus;
            p.chunks += 1;
            p.served += price;
        }
        LedgerEvent::Refresh { amount } => {
            let allowance = match p.last_refresh {
                None => p.debt,
                Some(prev) => {
                    let seconds = ts.saturating_sub(prev) / 1000;
                    (seconds as u128 * rate as u128).min(p.debt)
                }
            };
            let applied = amount.min(allowance);
            if amount > allowance {
                effect = Some(Effect::RefreshAboveAllowance(amount, allowance));
            }
            p.debt -= applied;
            p.paid_refresh += applied;
            p.last_refresh = Some(ts);
        }
        LedgerEvent::Cheque {
            cumulative,
            balance,
        } => {
            if cumulative <= p.last_payout {
                let reason = format!(
                    "cumulative_payout: {cumulative} is not above the pair's previous cumulative payout {} (cheque_not_increasing)",
                    p.last_payout
                );
                return (pair, Some(Effect::Rejected(reason)));
            }
            if let Some(balance) = balance.filter(|b| *b < cumulative) {
                return (Some(p), Some(Effect::Bounced(cumulative, balance)));
            }
            let amount = cumulative - p.last_payout;
            p.last_payout = cumulative;
            p.paid_cheques += amount;
            let to_debt = amount.min(p.debt);
            p.debt -= to_debt;
            p.surplus += amount - to_debt;
        }
    }
    (Some(p), effect)
}

/// A debtor's pairs, by creditor.
pub type Pairs = BTreeMap<Id, Pair>;

/// The refresh rate of a payer.
pub fn rate_of(light: bool, cfg: &SwapConfig) -> u64 {
    if light {
        cfg.light_refresh_rate
    } else {
        cfg.refresh_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_worked_example() {
        let cfg = SwapConfig::default();
        assert_eq!(cfg.disconnect_limit(), 16_875_000);
        let prices: Vec<u64> = [31u8, 30, 0].iter().map(|po| cfg.price(*po)).collect();
        assert_eq!(prices, [10_000, 20_000, 320_000]);
        let mut p = None;
        for price in prices {
            p = apply(p, 0, &LedgerEvent::Chunk { price }, cfg.refresh_rate).0;
        }
        assert_eq!(p.unwrap().debt, 350_000);
        let (after, effect) = apply(
            p,
            3_000,
            &LedgerEvent::Refresh { amount: 350_000 },
            cfg.refresh_rate,
        );
        assert_eq!(
            (after.unwrap().debt, effect),
            (0, None),
            "first refresh: up to the debt"
        );
        let cheque = LedgerEvent::Cheque {
            cumulative: 100_000,
            balance: None,
        };
        let (after, _) = apply(after, 3_000, &cheque, cfg.refresh_rate);
        assert_eq!(after.unwrap().surplus, 100_000);
        let (after, _) = apply(
            after,
            4_000,
            &LedgerEvent::Chunk { price: 320_000 },
            cfg.refresh_rate,
        );
        let p = after.unwrap();
        assert_eq!(
            (p.surplus, p.debt, p.chunks, p.paid_refresh, p.paid_cheques),
            (0, 220_000, 4, 350_000, 100_000)
        );
    }

    #[test]
    fn refresh_allowance_counts_whole_seconds_since_the_last_refresh() {
        let p = Some(Pair {
            debt: 10_000_000,
            last_refresh: Some(1_000),
            ..Pair::default()
        });
        let (after, effect) = apply(
            p,
            2_999,
            &LedgerEvent::Refresh { amount: 5_000_000 },
            4_500_000,
        );
        assert_eq!(
            effect,
            Some(Effect::RefreshAboveAllowance(5_000_000, 4_500_000)),
            "1.999 s → 1 s"
        );
        assert_eq!(after.unwrap().debt, 5_500_000);
        assert_eq!(after.unwrap().last_refresh, Some(2_999));
    }

    #[test]
    fn cheques_are_tested_in_the_page_order() {
        let p = Some(Pair {
            debt: 50,
            last_payout: 100,
            ..Pair::default()
        });
        // Not increasing: rejected even if it would also bounce; the pair stays as it was.
        let same = LedgerEvent::Cheque {
            cumulative: 100,
            balance: Some(0),
        };
        assert!(
            matches!(apply(p, 0, &same, 1), (q, Some(Effect::Rejected(r))) if q == p && r.starts_with("cumulative_payout"))
        );
        let bounce = LedgerEvent::Cheque {
            cumulative: 200,
            balance: Some(199),
        };
        assert_eq!(
            apply(p, 0, &bounce, 1),
            (p, Some(Effect::Bounced(200, 199)))
        );
        let covered = LedgerEvent::Cheque {
            cumulative: 200,
            balance: Some(200),
        };
        let q = apply(p, 0, &covered, 1).0.unwrap();
        assert_eq!(
            (q.debt, q.surplus, q.paid_cheques, q.last_payout),
            (0, 50, 100, 200)
        );
    }

    fn event() -> impl Strategy<Value = (u64, LedgerEvent)> {
        prop_oneof![
            (
                0u64..10_000,
                (1u64..400_000).prop_map(|price| LedgerEvent::Chunk { price })
            ),
            (
                0u64..10_000,
                (0u128..2_000_000).prop_map(|amount| LedgerEvent::Refresh { amount })
            ),
            (
                0u64..10_000,
                (0u128..3_000_000, proptest::option::of(0u128..3_000_000)).prop_map(
                    |(cumulative, balance)| LedgerEvent::Cheque {
                        cumulative,
                        balance
                    }
                )
            ),
        ]
    }

    proptest! {
        /// Debt never goes negative (it is unsigned: an underflow would panic), surplus and
        /// debt are never both positive, and paid amounts only grow.
        #[test]
        fn debt_and_surplus_are_never_both_positive(events in proptest::collection::vec(event(), 1..60)) {
            let mut pair = None;
            let mut ts = 0;
            for (gap, e) in events {
                ts += gap;
                let before: Option<Pair> = pair;
                pair = apply(pair, ts, &e, 4_500).0;
                let p = pair.unwrap_or_default();
                prop_assert!(p.debt == 0 || p.surplus == 0, "{p:?}");
                let b = before.unwrap_or_default();
                prop_assert!(p.paid_refresh >= b.paid_refresh && p.paid_cheques >= b.paid_cheques);
            }
        }
    }
}
