//! Checkpoints against the plain run: a run that stops at a cut and one restored from that cut
//! together give the tables and statements of one run over all the events — at several cuts,
//! with events after the cut already fed when it is taken, on one and two workers.

mod common;

use std::sync::{Arc, Mutex};

use meritflow_connectors::sim::{generate, FleetSpec};
use meritflow_connectors::sim_icp::{icp_month, IcpSpec};
use meritflow_connectors::sim_sla::{sla_fleet, SlaScenario, SlaSpec};
use meritflow_pipelines::config::Config;
use meritflow_pipelines::engine::{self, Cluster, Restore};
use meritflow_pipelines::events::Event;
use meritflow_pipelines::snapshot::PolicySnapshot;
use meritflow_pipelines::table::Table;
use meritflow_pipelines::time::{slot, Millis};

const DAY: Millis = 86_400_000;
const START: Millis = 1_790_812_800_000; // 2026-10-01T00:00Z

/// Every kind of network at once, two and a half days, in ts order with input numbers.
fn events() -> Vec<(Event, u64)> {
    let mut all: Vec<Event> = Vec::new();
    let fleet = FleetSpec {
        nodes: 12,
        start: START,
        duration: 2 * DAY + DAY / 2,
        task_every: 60_000,
        sample_every: 600_000,
        seed: 3,
    };
    generate(&fleet, |e| {
        all.push(e);
        std::ops::ControlFlow::Continue(())
    });
    all.extend(icp_month(&IcpSpec {
        nodes: 20,
        subnets: 3,
        start: START,
        days: 2,
        seed: 5,
    }));
    all.extend(sla_fleet(&SlaSpec {
        nodes: 8,
        start: START,
        days: 2,
        scenario: SlaScenario::BadNode,
        seed: 9,
    }));
    for case in ["swap-example.jsonl", "relay-example.jsonl"] {
        let loaded = meritflow_connectors::file::load(&[common::cases().join(case)], |_| {})
            .expect("shared case");
        all.extend(loaded.events.into_iter().map(|(e, _)| e));
    }
    all.sort_by_key(|e| e.ts);
    all.into_iter().zip(0u64..).collect()
}

fn config() -> Config {
    let mut config = Config::default();
    config.statements.period = meritflow_pipelines::statement::Period::Day;
    config
}

fn tables(outputs: &engine::Outputs, at: Millis) -> Vec<Table> {
    PolicySnapshot::take(outputs, at).tables
}

/// Feeds `events` in slot order from `restore` on (all of them without one) and stops at
/// `end`; with `cut`, takes a checkpoint there after feeding, ahead of it, the events of the
/// next `ahead` ms, and stops at the cut instead.
fn run(
    config: &Config,
    workers: usize,
    events: &[(Event, u64)],
    restore: Option<Restore>,
    cut: Option<(Millis, Millis)>,
    end: Millis,
) -> (Arc<engine::Outputs>, Option<Restore>) {
    let grain = engine::grain(config);
    let from = restore.as_ref().map_or(0, |r| r.at + 1);
    let events: Vec<(Event, u64)> = events
        .iter()
        .filter(|(e, _)| slot(e.ts, grain) >= from)
        .cloned()
        .collect();
    let events = Arc::new(events);
    let cuts: Arc<Mutex<Vec<(usize, engine::WorkerCut)>>> = Arc::default();
    let taken = Arc::clone(&cuts);
    let outputs = engine::run_from(
        config,
        &Cluster::local(workers),
        restore,
        move |mut session| {
            let index = session.index();
            let stop = cut.map_or(end, |(at, _)| at);
            if index == 0 {
                for (event, seq) in events.iter() {
                    if slot(event.ts, grain) > stop {
                        break;
                    }
                    session.feed(event, *seq);
                }
                if let Some((at, ahead)) = cut {
                    for (event, seq) in events.iter() {
                        let at_slot = slot(event.ts, grain);
                        if at_slot > at && at_slot <= at + ahead {
                            session.feed_ahead(event, *seq);
                        }
                    }
                }
            }
            if let Some((at, _)) = cut {
                let taken = Arc::clone(&taken);
                session.checkpoint(at, move |c| taken.lock().unwrap().push((index, c)));
            }
            session.stop_after(stop);
        },
    )
    .expect("engine run");
    let restore = cut.map(|(at, _)| {
        let mut cuts = std::mem::take(&mut *cuts.lock().unwrap());
        cuts.sort_by_key(|(i, _)| *i);
        let outputs = cuts[0]
            .1
            .outputs
            .clone()
            .expect("worker 0 gathers the outputs");
        Restore {
            at,
            workers: cuts.into_iter().map(|(_, c)| c.states).collect(),
            outputs,
        }
    });
    (outputs, restore)
}

#[test]
fn a_restored_run_gives_what_one_run_gives() {
    let config = config();
    let events = events();
    let grain = engine::grain(&config);
    let last = events.last().unwrap().0.ts;
    let end = slot(last, grain) + grain;
    let (whole, _) = run(&config, 1, &events, None, None, end);
    let expected = tables(&whole, end);
    assert!(
        expected.iter().map(|t| t.rows.len()).sum::<usize>() > 100,
        "the stream fills the tables"
    );
    // Cuts at a period's close, in the middle of a busy day and near the end; events of the
    // next 10 minutes already waiting in the operators at each.
    let cuts = [
        START + DAY,
        START + DAY + 7 * 3_600_000 + 17 * 60_000,
        end - 3 * grain,
    ];
    for workers in [1, 2] {
        for at in cuts {
            let at = slot(at, grain);
            let (stopped, saved) = run(&config, workers, &events, None, Some((at, 600_000)), at);
            assert_eq!(
                tables(&stopped, at),
                tables(&whole, at),
                "before the cut at {at} ({workers} workers)"
            );
            let (restored, _) = run(&config, workers, &events, saved, None, end);
            let got = tables(&restored, end);
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!(
                    g, e,
                    "table {} after a restore at {at} ({workers} workers)",
                    e.name
                );
            }
            assert_eq!(got.len(), expected.len());
        }
    }
}
