//! The swap dataflow against the plain reference (`policies::swap::reference`) on random
//! three-day streams over 4 peers: chunks by proximity or price, refreshes at random gaps and
//! amounts, cheques that increase, repeat or bounce, light and full registrations, fractional
//! amounts, equal timestamps, a low disconnect limit so overdraw comes and goes. Same events,
//! same rows (pairs, triggers, rejects, period income), on one to three workers, mid-stream
//! and at the end.

mod common;

use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine;
use meritflow_pipelines::events::{Body, ChunkPrice, Event};
use meritflow_pipelines::policies::swap::policy::SwapPolicy;
use meritflow_pipelines::policies::swap::reference::swap_reference;
use meritflow_pipelines::policies::swap::state::SwapOut;
use meritflow_pipelines::statement::Period;
use meritflow_pipelines::time::slot;
use proptest::prelude::*;
use rust_decimal::Decimal;

/// 2026-10-01T00:00:00Z.
const BASE: u64 = 1_790_812_800_000;
const STEP: u64 = 13 * 60_000;
const STEPS: u64 = 3 * 24 * 60 / 13;

fn peer() -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(vec!["a", "b", "c", "d"]).prop_map(str::to_owned)
}

fn amount() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        8 => (0u64..600_000).prop_map(Decimal::from),
        1 => Just(Decimal::new(105, 1)),
    ]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        10 => (peer(), peer(), prop_oneof![(0u8..=31).prop_map(ChunkPrice::Po), (1u64..100_000).prop_map(ChunkPrice::Price)])
            .prop_map(|(from, to, price)| Body::ChunkTransfer { from: from.into(), to: to.into(), price, originated: None }),
        3 => (peer(), peer(), amount()).prop_map(|(payer, payee, amount)| Body::Refresh { payer: payer.into(), payee: payee.into(), amount }),
        3 => (peer(), peer(), amount(), proptest::option::of(amount())).prop_map(|(issuer, beneficiary, cumulative_payout, chequebook_balance)| Body::Cheque {
            issuer: issuer.into(), beneficiary: beneficiary.into(), cumulative_payout, chequebook_balance,
        }),
        1 => (peer(), any::<bool>()).prop_map(|(node, light)| Body::NodeRegistered {
            node: node.into(), provider: None, region: None, node_type: Some(if light { "light" } else { "full" }.into()),
            dc: None, vram_bytes: None, timeout_s: None, stake: None,
        }),
    ]
}

fn stream() -> impl Strategy<Value = Vec<(Event, u64)>> {
    proptest::collection::vec((0u64..STEPS, 0u64..STEP, body()), 1..300).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(seq, (step, within, body))| {
                let ts = BASE + step * STEP + if seq % 3 == 0 { 0 } else { within };
                (Event { ts, body }, seq as u64)
            })
            .collect()
    })
}

fn rows_of(parts: meritflow_pipelines::policies::swap::tables::SwapParts) -> Vec<SwapOut> {
    let mut rows: Vec<SwapOut> = Vec::new();
    rows.extend(
        parts
            .pairs
            .into_iter()
            .map(|(d, c, p)| SwapOut::Pair(d, c, p)),
    );
    rows.extend(parts.triggers.into_iter().map(SwapOut::Trigger));
    rows.extend(parts.rejects.into_iter().map(SwapOut::Reject));
    rows.extend(parts.income.into_iter().map(SwapOut::Income));
    rows.sort();
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn dataflow_matches_reference(
        events in stream(),
        workers in 1usize..=3,
        middle in 0u64..STEPS,
        period in prop_oneof![Just(Period::Day), Just(Period::Week)],
    ) {
        let mut config = Config::default();
        config.statements.period = period;
        config.policy.swap.payment_threshold = 400_000;
        let grain = engine::grain(&config);
        let end = BASE + 4 * 86_400_000;
        let mid = slot(BASE + middle * STEP + 5 * 60_000, grain);
        let outputs = engine::replay(&config, workers, events.clone(), end, mid).unwrap();
        for as_of in [mid, end] {
            let rows = rows_of(outputs.policy::<SwapPolicy>().unwrap().parts(as_of));
            let plain = swap_reference(&events, as_of, grain, &config.policy.swap, period);
            let diff = common::first_difference("rows", &rows, &plain).unwrap_or_default();
            prop_assert!(rows == plain, "as of {}: {}", as_of, diff);
        }
    }
}
