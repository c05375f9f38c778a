//! `meritflow demo`: a seeded simulated fleet fed into the dataflow as simulated time advances;
//! the live `crynux_qos` table is redrawn at every step, read through SQL like any analyst would.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use meritflow_connectors::sim::{generate, FleetSpec};
use meritflow_pipelines::engine;
use meritflow_pipelines::events::Event;
use meritflow_pipelines::time::{format_rfc3339, Millis, Span};
use meritflow_queries::format::{render, Format};
use meritflow_queries::Catalog;

#[derive(Args)]
pub struct DemoArgs {
    /// Nodes in the simulated fleet.
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Simulated hours.
    #[arg(long, default_value_t = 4)]
    hours: u64,
    /// Seed of the simulation (same seed, same fleet, same figures).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Simulated time between two redraws.
    #[arg(long, default_value = "15m")]
    every: Span,
    /// Real milliseconds to pause on each redraw (0: as fast as possible).
    #[arg(long, default_value_t = 700)]
    frame_ms: u64,
    /// Configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

const VIEW: &str =
    "SELECT node, tasks, round(node_score, 2) AS node_score, round(speed_score, 3) AS speed, \
     round(vram_score, 3) AS vram, round(timeout_score, 3) AS timeout, round(qos, 3) AS qos, \
     round(health, 3) AS health, excluded, round(selection_prob, 4) AS selection_prob \
     FROM crynux_qos ORDER BY qos DESC, node LIMIT 12";
const SUMMARY: &str =
    "SELECT count(*) AS active, sum(CASE WHEN excluded THEN 1 ELSE 0 END) AS excluded, \
     round(avg(qos), 3) AS mean_qos, round(min(health), 3) AS lowest_health FROM crynux_qos";

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let config = crate::load_config(args.config.as_ref())?;
    if args.every.millis() == 0 || args.hours == 0 || args.nodes == 0 {
        anyhow::bail!("--every, --hours and --nodes must be positive");
    }
    let spec = FleetSpec {
        nodes: args.nodes,
        duration: args.hours * 3_600_000,
        seed: args.seed,
        ..FleetSpec::demo()
    };
    let mut events: Vec<Event> = Vec::new();
    generate(&spec, |e| {
        events.push(e);
        std::ops::ControlFlow::Continue(())
    });
    let total = events.len();
    let events = Arc::new(Mutex::new(Some(events)));
    let slide = config.policy.crynux.slide.millis();
    let every = args.every.millis().div_ceil(slide) * slide;
    let frame = Duration::from_millis(args.frame_ms);
    let clear = std::io::stdout().is_terminal();
    let cfg = config.clone();
    let start = spec.start;

    engine::run(&config, 1, move |mut session| {
        let events = events
            .lock()
            .expect("events lock")
            .take()
            .unwrap_or_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        let mut boundary = start.div_ceil(every) * every + every;
        let mut fed = 0usize;
        let draw = |session: &mut engine::Session, upto: Millis, fed: usize| {
            session.advance_to(upto + slide);
            session.settle();
            let tables = crate::tables::snapshot(session.outputs(), upto, &cfg, &[], &[]);
            session.outputs().compact(upto);
            let catalog = Catalog::new(&tables).expect("tables build");
            let view = runtime
                .block_on(catalog.query(VIEW))
                .expect("demo view query");
            let summary = runtime
                .block_on(catalog.query(SUMMARY))
                .expect("demo summary query");
            let mut out = String::new();
            if clear {
                out.push_str("\x1b[2J\x1b[H");
            }
            out.push_str(&format!(
                "meritflow demo · simulated time {} · {} nodes · {fed} of {total} events in\n\n",
                format_rfc3339(upto),
                spec.nodes
            ));
            out.push_str(&render(&summary, Format::Table).expect("render"));
            out.push_str(
                "\ncrynux_qos, best 12 by QoS (live, recomputed incrementally as events arrive):\n",
            );
            out.push_str(&render(&view, Format::Table).expect("render"));
            let _ = crate::emit(&out);
            std::thread::sleep(frame);
        };
        for (seq, event) in events.iter().enumerate() {
            while session.slot_of(event.ts) > boundary {
                draw(&mut session, boundary, fed);
                boundary += every;
            }
            session.feed(event, seq as u64);
            fed += 1;
        }
        draw(&mut session, boundary, fed);
        session.stop_after(boundary);
    })
    .map_err(|e| anyhow::anyhow!("dataflow failed: {e}"))?;

    crate::emit(&format!(
        "\nWhere next:\n\
         - Replay your own events:  meritflow replay --events events.jsonl --query 'SELECT * FROM crynux_qos' --format table\n\
         - The event contract and tables: README.md; every setting: meritflow config --print-defaults\n\
         - Try other fleets: meritflow demo --nodes 200 --hours 12 --seed 3 --frame-ms 100\n"
    ))?;
    Ok(())
}
