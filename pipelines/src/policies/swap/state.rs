//! What the swap dataflow keeps per debtor (its pairs, whether it is a light node, which of its
//! pairs are over the disconnect limit) and how one moment's events change it.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::config::SwapConfig;
use super::ledger::{apply, rate_of, Effect, LedgerEvent, Pair};
use crate::events::{Body, ChunkPrice, Event};
use crate::id::Id;
use crate::moments::MomentState;
use crate::statement::{is_period_end, next_period_end, period_ending, Period};
use crate::time::Millis;
use crate::triggers::{Cause, Rule, TriggerEdges, TriggerRow};

pub const OVERDRAW: Rule = Rule {
    policy: "swap",
    name: "overdraw",
};
pub const REFRESH_ABOVE_ALLOWANCE: Rule = Rule {
    policy: "swap",
    name: "refresh_above_allowance",
};
pub const BOUNCED_CHEQUE: Rule = Rule {
    policy: "swap",
    name: "bounced_cheque",
};

/// One swap input, keyed by the debtor (payer, issuer, requester); ordered by (ts, seq).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SwapInput {
    pub ts: Millis,
    pub seq: u64,
    pub debtor: Id,
    pub what: SwapEvent,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SwapEvent {
    Ledger {
        creditor: Id,
        event: LedgerEvent,
    },
    /// A registration of the debtor: whether it is a light node.
    Registered {
        light: bool,
    },
    /// A valid event the ledger cannot take (the reason names the field).
    Invalid {
        kind: String,
        reason: String,
    },
}

fn whole(amount: &Decimal, field: &str) -> Result<u128, String> {
    if amount.fract().is_zero() {
        amount
            .to_u128()
            .ok_or_else(|| format!("{field}: {amount} is out of range"))
    } else {
        Err(format!(
            "{field}: {amount} is not a whole number of the smallest unit"
        ))
    }
}

impl SwapInput {
    pub fn from_event(event: &Event, seq: u64, cfg: &SwapConfig) -> Option<SwapInput> {
        let ledger = |creditor: &Id, event| SwapEvent::Ledger {
            creditor: creditor.clone(),
            event,
        };
        let invalid = |kind: &str, reason| SwapEvent::Invalid {
            kind: kind.to_owned(),
            reason,
        };
        let (debtor, what) = match &event.body {
            Body::ChunkTransfer {
                from, to, price, ..
            } => {
                let price = match price {
                    ChunkPrice::Po(po) => cfg.price(*po),
                    ChunkPrice::Price(p) => *p,
                };
                (from, ledger(to, LedgerEvent::Chunk { price }))
            }
            Body::Refresh {
                payer,
                payee,
                amount,
            } => match whole(amount, "amount") {
                Ok(amount) => (payer, ledger(payee, LedgerEvent::Refresh { amount })),
                Err(reason) => (payer, invalid("refresh", reason)),
            },
            Body::Cheque {
                issuer,
                beneficiary,
                cumulative_payout,
                chequebook_balance,
            } => {
                let amounts = whole(cumulative_payout, "cumulative_payout").and_then(|c| {
                    let b = chequebook_balance
                        .as_ref()
                        .map(|b| whole(b, "chequebook_balance"))
                        .transpose()?;
                    Ok((c, b))
                });
                match amounts {
                    Ok((cumulative, balance)) => {
                        let e = LedgerEvent::Cheque {
                            cumulative,
                            balance,
                        };
                        (issuer, ledger(beneficiary, e))
                    }
                    Err(reason) => (issuer, invalid("cheque", reason)),
                }
            }
            Body::NodeRegistered {
                node, node_type, ..
            } => (
                node,
                SwapEvent::Registered {
                    light: node_type.as_deref() == Some("light"),
                },
            ),
            _ => return None,
        };
        Some(SwapInput {
            ts: event.ts,
            seq,
            debtor: debtor.clone(),
            what,
        })
    }
}

pub use crate::policy::PolicyReject;

/// A pair's income within one closed period.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PeriodIncome {
    pub period: String,
    pub creditor: Id,
    pub debtor: Id,
    pub chunks: u64,
    pub served: u128,
    pub refresh: u128,
    pub cheques: u128,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SwapOut {
    Pair(Id, Id, Pair),
    Trigger(TriggerRow),
    Reject(PolicyReject),
    Income(PeriodIncome),
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Debtor {
    light: bool,
    pairs: HashMap<Id, Pair>,
    over: u32,
    /// Each pair's (chunks, served, refresh, cheques) at the last period close.
    closed: BTreeMap<Id, Pair>,
}

/// One worker's debtors.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SwapState {
    cfg: SwapConfig,
    limit: u128,
    period: Period,
    debtors: HashMap<Id, Debtor>,
    edges: TriggerEdges,
    last: Option<Millis>,
}

type Rows = Vec<(SwapOut, isize)>;

impl SwapState {
    pub fn new(cfg: &SwapConfig, period: Period) -> SwapState {
        SwapState {
            cfg: cfg.clone(),
            limit: cfg.disconnect_limit(),
            period,
            debtors: HashMap::new(),
            edges: TriggerEdges::default(),
            last: None,
        }
    }

    /// Processes moment `t`: its events in (ts, seq) order, closing the period that ends at `t`
    /// before the first of them stamped at or after `t`.
    pub fn process(&mut self, t: Millis, mut inputs: Vec<SwapInput>) -> Rows {
        self.last = Some(t);
        inputs.sort_unstable();
        let mut rows = Rows::new();
        // Each changed pair as it stood before this moment, to retract.
        let mut before: HashMap<(Id, Id), Option<Pair>> = HashMap::new();
        // A period is [start, end) in event time: it closes before the events stamped at its end.
        let closes = is_period_end(t, self.period);
        let mut closed = false;
        for input in inputs {
            if closes && !closed && input.ts >= t {
                self.close_period(t, &mut rows);
                closed = true;
            }
            self.apply(input, &mut before, &mut rows);
        }
        if closes && !closed {
            self.close_period(t, &mut rows);
        }
        for ((debtor, creditor), old) in before {
            let new = self.debtors[&debtor].pairs.get(&creditor).copied();
            if old == new {
                continue;
            }
            if let Some(old) = old {
                rows.push((SwapOut::Pair(debtor.clone(), creditor.clone(), old), -1));
            }
            if let Some(new) = new {
                rows.push((SwapOut::Pair(debtor, creditor, new), 1));
            }
        }
        rows
    }

    fn apply(
        &mut self,
        input: SwapInput,
        before: &mut HashMap<(Id, Id), Option<Pair>>,
        rows: &mut Rows,
    ) {
        let SwapInput {
            ts,
            seq,
            debtor: node,
            what,
        } = input;
        let origin = Origin {
            ts,
            seq,
            debtor: &node,
        };
        let debtor = self.debtors.entry(node.clone()).or_default();
        let (creditor, event) = match what {
            SwapEvent::Registered { light } => {
                debtor.light = light;
                return;
            }
            SwapEvent::Invalid { kind, reason } => {
                rows.push((invalid_row(origin, kind, reason), 1));
                return;
            }
            SwapEvent::Ledger { creditor, event } => (creditor, event),
        };
        let old = debtor.pairs.get(&creditor).copied();
        let (new, effect) = apply(old, ts, &event, rate_of(debtor.light, &self.cfg));
        before
            .entry((node.clone(), creditor.clone()))
            .or_insert(old);
        if let Some(effect) = effect {
            rows.push((effect_row(effect, origin, &creditor, &event), 1));
        }
        let Some(new) = new else { return };
        let was_over = old.is_some_and(|p| p.debt >= self.limit);
        let is_over = new.debt >= self.limit;
        debtor.pairs.insert(creditor, new);
        if was_over != is_over {
            if is_over {
                debtor.over += 1;
            } else {
                debtor.over -= 1;
            }
            let level = (debtor.over > 0).then_some("severe");
            let cause = Cause {
                value: new.debt as f64,
                threshold: self.limit as f64,
            };
            let edges = self.edges.set(&node, OVERDRAW, level, ts, cause);
            rows.extend(edges.into_iter().map(|e| (SwapOut::Trigger(e), 1)));
        }
    }

    /// Each pair's income since the last close, for the period ending at `end`.
    fn close_period(&mut self, end: Millis, rows: &mut Rows) {
        let period = period_ending(end, self.period);
        for (debtor_id, debtor) in &mut self.debtors {
            for (creditor, pair) in &debtor.pairs {
                let was = debtor
                    .closed
                    .insert(creditor.clone(), *pair)
                    .unwrap_or_default();
                let income = income_since(&period, debtor_id, creditor, pair, &was);
                rows.extend(income.map(|i| (SwapOut::Income(i), 1)));
            }
        }
    }
}

/// Where an input came from: its time, input position and debtor.
#[derive(Clone, Copy)]
pub struct Origin<'a> {
    pub ts: Millis,
    pub seq: u64,
    pub debtor: &'a Id,
}

/// The row of a valid event the ledger cannot take (a fractional amount).
pub fn invalid_row(input: Origin, kind: String, reason: String) -> SwapOut {
    let payload = serde_json::json!({"kind": kind, "ts": input.ts, "debtor": &**input.debtor});
    SwapOut::Reject(PolicyReject {
        seq: input.seq,
        ts: input.ts,
        kind,
        reason,
        payload: payload.to_string(),
    })
}

/// The row a ledger effect gives: a reject, or a trigger raised once.
pub fn effect_row(effect: Effect, input: Origin, creditor: &Id, event: &LedgerEvent) -> SwapOut {
    let node = input.debtor;
    let once = |rule, value: u128, threshold: u128| {
        let cause = Cause {
            value: value as f64,
            threshold: threshold as f64,
        };
        SwapOut::Trigger(TriggerEdges::once(node, rule, "warning", input.ts, cause))
    };
    match effect {
        Effect::Rejected(reason) => SwapOut::Reject(PolicyReject {
            seq: input.seq,
            ts: input.ts,
            kind: "cheque".to_owned(),
            reason,
            payload: describe(node, creditor, event, input.ts),
        }),
        Effect::RefreshAboveAllowance(amount, allowance) => {
            once(REFRESH_ABOVE_ALLOWANCE, amount, allowance)
        }
        Effect::Bounced(cumulative, balance) => once(BOUNCED_CHEQUE, cumulative, balance),
    }
}

/// A pair's income since `was` (its state at the last close), if any.
pub fn income_since(
    period: &str,
    debtor: &Id,
    creditor: &Id,
    now: &Pair,
    was: &Pair,
) -> Option<PeriodIncome> {
    let totals = |p: &Pair| (p.chunks, p.served, p.paid_refresh, p.paid_cheques);
    (totals(now) != totals(was)).then(|| PeriodIncome {
        period: period.to_owned(),
        creditor: creditor.clone(),
        debtor: debtor.clone(),
        chunks: now.chunks - was.chunks,
        served: now.served - was.served,
        refresh: now.paid_refresh - was.paid_refresh,
        cheques: now.paid_cheques - was.paid_cheques,
    })
}

/// The event as the policy read it, for a reject's payload.
pub fn describe(debtor: &str, creditor: &str, event: &LedgerEvent, ts: Millis) -> String {
    let value = match event {
        LedgerEvent::Chunk { price } => serde_json::json!({
            "kind": "chunk_transfer", "ts": ts, "from": debtor, "to": creditor, "price": price,
        }),
        LedgerEvent::Refresh { amount } => serde_json::json!({
            "kind": "refresh", "ts": ts, "payer": debtor, "payee": creditor, "amount": amount.to_string(),
        }),
        LedgerEvent::Cheque {
            cumulative,
            balance,
        } => serde_json::json!({
            "kind": "cheque", "ts": ts, "issuer": debtor, "beneficiary": creditor,
            "cumulative_payout": cumulative.to_string(),
            "chequebook_balance": balance.map(|b| b.to_string()),
        }),
    };
    value.to_string()
}

impl MomentState<SwapInput, SwapOut> for SwapState {
    fn next_time(&self) -> Option<Millis> {
        let last = self.last?;
        (!self.debtors.is_empty()).then(|| next_period_end(last, self.period))
    }

    fn advance(&mut self, t: Millis, inputs: Vec<SwapInput>) -> Rows {
        self.process(t, inputs)
    }
}
