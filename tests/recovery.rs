//! Crash recovery through a real broker (tansu, started by `deploy/kafka-dev`): `meritflow run`
//! killed with SIGKILL at random moments, during a checkpoint's write and during a statement's
//! write, and started again each time, ends with the topics, the counters, the committed
//! offsets and the statements that one replay of the same events gives.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::kafka::*;
use common::{meritflow, replay_csv, scratch, stdout};
use serde_json::Value;

/// A crynux fleet and an sla fleet over three days, merged in ts order, with one line in 997
/// replaced by bytes that are not an event. Returns the file, its chunks (in order, for a
/// producer that keeps writing while the run is killed), the last slot, and the counts of
/// valid and broken lines.
fn stream(name: &str) -> (PathBuf, Vec<PathBuf>, String, u64, u64) {
    let crynux = stdout(&meritflow(&[
        "simulate",
        "--nodes",
        "40",
        "--hours",
        "72",
        "--task-every-ms",
        "90000",
        "--seed",
        "13",
        "--limit",
        "24000",
    ]));
    let sla = stdout(&meritflow(&[
        "simulate",
        "--network",
        "sla",
        "--nodes",
        "5",
        "--days",
        "3",
        "--seed",
        "4",
    ]));
    let ts = |line: &str| serde_json::from_str::<Value>(line).ok()?["ts"].as_u64();
    let mut lines: Vec<(u64, String)> = crynux
        .lines()
        .chain(sla.lines())
        .filter_map(|l| Some((ts(l)?, l.to_owned())))
        .collect();
    lines.sort_by_key(|(t, _)| *t);
    let last = lines.last().unwrap().0;
    let mut broken = 0;
    for (i, (_, line)) in lines.iter_mut().enumerate() {
        if i % 997 == 500 {
            *line = format!("{{\"kind\": \"task_round\", \"ts\": \"not a time {i}\"}}");
            broken += 1;
        }
    }
    let valid = lines.len() as u64 - broken;
    let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    let path = scratch(&format!("{name}.jsonl"));
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    let chunks = text
        .chunks(text.len().div_ceil(12))
        .enumerate()
        .map(|(i, chunk)| {
            let chunk_path = scratch(&format!("{name}-{i:02}.jsonl"));
            std::fs::write(&chunk_path, chunk.join("\n") + "\n").unwrap();
            chunk_path
        })
        .collect();
    let slot = last.div_ceil(60_000) * 60_000;
    let through = chrono::DateTime::from_timestamp_millis(slot as i64).unwrap();
    let through = through.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    (path, chunks, through, valid, broken)
}

/// A small deterministic generator (xorshift), seeded and printed so a failure can be rerun.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn kill_9(run: &mut Running) {
    let pid = run.child.id().to_string();
    Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    let _ = run.child.wait();
}

/// The moment a run says it resumed from, if it did.
fn resumed_from(stderr: &str) -> Option<String> {
    let rest = stderr
        .split("resuming from the checkpoint through ")
        .nth(1)?;
    rest.split(' ').next().map(str::to_owned)
}

/// The moment of a `checkpoint written` log line (`at=<RFC 3339>`).
fn checkpoint_written(line: &str) -> Option<&str> {
    if !line.contains("checkpoint written") {
        return None;
    }
    line.split("at=").nth(1)?.split(' ').next()
}

/// Every statement in `store`: (policy, period) → (sha256, rows).
fn statements(store: &Path) -> BTreeMap<(String, String), (String, u64)> {
    let mut all = BTreeMap::new();
    let Ok(policies) = std::fs::read_dir(store) else {
        return all;
    };
    for policy in policies.flatten() {
        let name = policy.file_name().to_string_lossy().into_owned();
        let Some(policy_name) = name.strip_prefix("policy=") else {
            continue;
        };
        for period in std::fs::read_dir(policy.path()).unwrap().flatten() {
            let name = period.file_name().to_string_lossy().into_owned();
            if let Some(period_name) = name.strip_prefix("period=") {
                let sha = statement_sha_of(store, policy_name, period_name);
                all.insert((policy_name.to_owned(), period_name.to_owned()), sha);
            }
        }
    }
    all
}

#[test]
fn killed_at_random_points_and_restarted_it_ends_as_one_replay() {
    crash_and_restart("crash", "1");
}

/// Two workers: each partition's cut comes from the worker that reads it, the states from both.
#[test]
fn on_two_workers_too() {
    crash_and_restart("crash2w", "2");
}

fn crash_and_restart(name: &str, workers: &str) {
    broker(9092);
    let setup = setup_with(
        name,
        9092,
        "period = \"day\"",
        "[checkpoints]\nevery = \"1s\"\nkeep = 2\n",
    );
    // The producer pauses between chunks: no partition may be excused as idle meanwhile, or
    // its next events would be late here and not in the replay.
    let text = std::fs::read_to_string(&setup.config).unwrap();
    std::fs::write(
        &setup.config,
        text.replace("idle_timeout = \"3s\"", "idle_timeout = \"15s\""),
    )
    .unwrap();
    let store = scratch(&format!("{}-store", setup.name));
    let (events, chunks, through, valid, broken) = stream(&setup.name);
    let seed = 0x9e37_79b9 ^ std::process::id() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed | 1);

    let producer = setup.produce_meanwhile(chunks, Duration::from_millis(800));

    // The first run stops inside the first statement's write, the second inside a
    // checkpoint's; the others at a random moment of their first seconds.
    let plan = [
        Some("statement-write"),
        Some("checkpoint-write"),
        None,
        None,
        None,
        None,
    ];
    let mut resumed: Vec<String> = Vec::new();
    for (round, failpoint) in plan.into_iter().enumerate() {
        // The checkpoint lines (info) tell when a newer checkpoint is complete.
        let mut env: Vec<(&str, &str)> = vec![(
            "MERITFLOW_LOG",
            "warn,meritflow_connectors::kafka::pipeline=info",
        )];
        env.extend(failpoint.map(|f| ("MERITFLOW_FAILPOINT", f)));
        let mut run = setup.run_env(&["--workers", workers], &env);
        // Its start-up lines, the one saying where it resumed from among them.
        run.wait_for_line("started", Duration::from_secs(60), |l| {
            l.starts_with("meritflow: reading ")
        });
        match failpoint {
            Some(point) => {
                let needle = format!("failpoint {point} reached");
                run.wait_for_line(&needle, Duration::from_secs(180), |l| l.contains(&needle))
            }
            // Once a checkpoint newer than the one this run resumed from is complete, so that
            // each restart finds a newer one (under load, a kill a second or two after the
            // results moved on could come before it); a run that resumed from none is killed
            // at once.
            None => {
                let resumed = resumed_from(&run.seen.join("\n"));
                if let Some(at) = resumed.filter(|at| *at < through) {
                    run.wait_for_line("a newer checkpoint", Duration::from_secs(60), |l| {
                        checkpoint_written(l).is_some_and(|t| t > at.as_str())
                    });
                }
                std::thread::sleep(Duration::from_millis(rng.below(2_500)));
            }
        }
        if let Some(at) = resumed_from(&run.seen.join("\n")) {
            resumed.push(at);
        }
        kill_9(&mut run);
        run.seen.extend(run.lines.try_iter());
        // The whole of each run's output stays beside the topics' names, for a failure's story.
        let log = scratch(&format!("{}-round-{round}.log", setup.name));
        std::fs::write(&log, run.seen.join("\n")).unwrap();
        eprintln!(
            "round {round}: killed ({failpoint:?}), output in {}, ending:\n{}",
            log.display(),
            run.seen
                .iter()
                .rev()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    producer.join().unwrap();
    resumed.dedup();
    assert!(
        resumed.len() >= 2,
        "the restarts resumed from several checkpoints: {resumed:?}"
    );

    let mut last = setup.run_with(&["--workers", workers]);
    last.wait_through(&through, Duration::from_secs(300));
    let stderr = last.stop();
    assert!(
        stderr.contains("resuming from the checkpoint through"),
        "the last run starts from a checkpoint:\n{stderr}"
    );
    assert_eq!(
        counted(&stderr),
        (valid, broken, 0),
        "every event counted once over all the runs:\n{stderr}"
    );
    assert_same_as_replay(&setup, &events);
    let rejects = setup.read("rejects");
    assert_eq!(
        rejects.len() as u64,
        broken,
        "each broken line in the rejects topic"
    );
    setup.assert_all_committed();

    let replay_store = scratch(&format!("{}-replay-store", setup.name));
    stdout(&replay_csv(
        &events,
        &["SELECT 1"],
        &[
            "--config",
            setup.config.to_str().unwrap(),
            "--store",
            replay_store.to_str().unwrap(),
        ],
    ));
    let replayed = statements(&replay_store);
    assert!(
        replayed.len() >= 2,
        "the stream closes periods: {replayed:?}"
    );
    assert_eq!(
        statements(&store),
        replayed,
        "the same statements as one replay"
    );
}
