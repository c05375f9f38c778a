//! Property tests of the event contract: any valid event survives encode → decode unchanged, and
//! no input bytes make the decoder panic.

use meritflow_pipelines::events::{
    decode, Body, ChunkPrice, Event, GpuSample, Priority, Resources, Round, RoundStatus,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.:-]{1,12}"
}

fn amount() -> impl Strategy<Value = Decimal> {
    (0u64..u64::MAX, 0u32..6).prop_map(|(m, s)| Decimal::new(m as i64 & i64::MAX, s).normalize())
}

fn small_f64() -> impl Strategy<Value = f64> {
    (0u32..1_000_000).prop_map(|v| v as f64 / 100.0)
}

fn body() -> impl Strategy<Value = Body> {
    let status = prop_oneof![
        Just(RoundStatus::Submitted),
        Just(RoundStatus::ErrorReported),
        Just(RoundStatus::Timeout),
        Just(RoundStatus::Aborted)
    ];
    let round = prop_oneof![Just(Round::Commitment), Just(Round::Disclosure)];
    let resources = || {
        (any::<u64>(), small_f64(), small_f64(), any::<u64>()).prop_map(|(s, b, c, m)| Resources {
            storage_bytes: s,
            bandwidth_bps: b,
            cpu_millis_per_s: c,
            memory_bytes: m,
        })
    };
    prop_oneof![
        (
            id(),
            proptest::option::of(id()),
            proptest::option::of(id()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(amount())
        )
            .prop_map(
                |(node, provider, region, vram, stake)| Body::NodeRegistered {
                    node: node.into(),
                    provider: provider.map(Into::into),
                    region: region.map(Into::into),
                    node_type: None,
                    dc: None,
                    vram_bytes: vram,
                    timeout_s: Some(60),
                    stake
                }
            ),
        id().prop_map(|node| Body::NodeLeft { node: node.into() }),
        (
            id(),
            id(),
            any::<u64>(),
            proptest::option::of(0u32..=100),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(node, gpu, vram, util, xid)| Body::GpuSample(GpuSample {
                node: node.into(),
                gpu: gpu.into(),
                vram_total_bytes: vram,
                vram_used_bytes: None,
                gpu_util_pct: util.map(f64::from),
                mem_util_pct: None,
                temp_c: Some(-3.5),
                power_w: None,
                energy_j: Some(12.25),
                sm_clock_mhz: None,
                ecc_dbe_total: Some(0),
                xid,
            })),
        (
            id(),
            round,
            id(),
            status,
            1u8..=3,
            proptest::option::of(any::<bool>())
        )
            .prop_map(|(task, round, node, status, order, system)| {
                Body::TaskRound {
                    task: task.into(),
                    round,
                    node: node.into(),
                    status,
                    order: status.needs_order().then_some(order),
                    system,
                }
            }),
        (id(), id()).prop_map(|(task, node)| Body::TaskSlashed {
            task: task.into(),
            node: node.into()
        }),
        (id(), amount()).prop_map(|(task, fee)| Body::TaskFee {
            task: task.into(),
            fee
        }),
        (id(), id(), any::<u64>(), any::<u64>()).prop_map(|(node, subnet, p, f)| {
            Body::BlockMakerCounters {
                node: node.into(),
                subnet: subnet.into(),
                proposed_total: p,
                failed_total: f,
            }
        }),
        (id(), any::<u64>()).prop_map(|(region, rate)| Body::RewardRate {
            region: region.into(),
            node_type: "type3.1".into(),
            xdr_permyriad_per_node_per_month: rate,
            reward_coefficient_percent: Some(95)
        }),
        (id(), any::<bool>(), proptest::option::of(small_f64())).prop_map(
            |(node, ok, latency_ms)| Body::Probe {
                node: node.into(),
                ok,
                latency_ms
            }
        ),
        (id(), small_f64(), any::<bool>()).prop_map(|(node, latency_ms, ok)| Body::Request {
            node: node.into(),
            latency_ms,
            ok,
            priority: Some(Priority::High)
        }),
        (id(), id(), 1u8..=5).prop_map(|(node, user, stars)| Body::Rating {
            node: node.into(),
            user: user.into(),
            stars
        }),
        (
            id(),
            id(),
            prop_oneof![
                (0u8..=31).prop_map(ChunkPrice::Po),
                any::<u64>().prop_map(ChunkPrice::Price)
            ],
            proptest::option::of(any::<bool>())
        )
            .prop_map(|(from, to, price, originated)| Body::ChunkTransfer {
                from: from.into(),
                to: to.into(),
                price,
                originated
            }),
        (id(), id(), amount()).prop_map(|(payer, payee, amount)| Body::Refresh {
            payer: payer.into(),
            payee: payee.into(),
            amount
        }),
        (id(), id(), amount(), proptest::option::of(amount())).prop_map(
            |(issuer, beneficiary, cumulative_payout, chequebook_balance)| {
                Body::Cheque {
                    issuer: issuer.into(),
                    beneficiary: beneficiary.into(),
                    cumulative_payout,
                    chequebook_balance,
                }
            }
        ),
        (id(), resources()).prop_map(|(peer, resources)| Body::PeerCapacity {
            peer: peer.into(),
            resources
        }),
        (id(), id(), resources()).prop_map(|(peer, contract, resources)| Body::ContractUsage {
            peer: peer.into(),
            contract: contract.into(),
            resources
        }),
        (id(), id(), 0u32..=500).prop_map(|(peer, contract, d)| Body::ContractRequest {
            peer: peer.into(),
            contract: contract.into(),
            distance: d as f64 / 1000.0
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_events_round_trip(ts in 0u64..4_102_444_800_000, body in body()) {
        let event = Event { ts, body };
        let json = event.to_json();
        let back = decode(json.as_bytes());
        // `kind()` (and the engine's routing by `index()`) names what the JSON says.
        let tagged: serde_json::Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(tagged["kind"].as_str(), Some(event.kind()));
        prop_assert_eq!(back, Ok(event), "{}", json);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn mangled_valid_events_never_panic(ts in 0u64..4_102_444_800_000, body in body(), cut in 0usize..400, junk in any::<u8>()) {
        let mut json = Event { ts, body }.to_json().into_bytes();
        let at = cut.min(json.len());
        json.insert(at, junk);
        let _ = decode(&json);
        json.truncate(at);
        let _ = decode(&json);
    }
}
