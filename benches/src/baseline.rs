//! The baseline a user would otherwise pick: keep the raw events in DataFusion and recompute
//! the QoS table from scratch with SQL at each refresh. The events sit in memory as Arrow
//! already (loading them is not timed, which favours the baseline); each refresh runs one query
//! over every event up to that moment. It computes the score columns of `crynux_qos` (tasks,
//! node score, the three scores, QoS) by the reference page's rules: the latest event per
//! (task, round, node), misconfigured tasks ignored, slashing, the window by task time, the VRAM
//! of the latest sample per GPU or the registered one, timeouts clamped to min_timeout_s.
//! Health, exclusion, kick-out and selection are sequential per node and not expressed here,
//! so the baseline does less work than the engine; the generated stream triggers none of them.

use std::time::Instant;

use meritflow_pipelines::config::Config;
use meritflow_pipelines::events::{decode, Body};
use meritflow_pipelines::table::{int, Cell, ColumnType::*, Table};
use meritflow_pipelines::time::Millis;
use meritflow_queries::format::{render, Format};
use meritflow_queries::Catalog;

use crate::mixed::{self, MixedSpec};

/// An enum value as the event contract spells it (its serde name).
fn wire_name(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => panic!("not a unit variant: {other:?}"),
    }
}

/// The raw events the query needs, as tables.
pub fn event_tables(spec: &MixedSpec) -> Vec<Table> {
    let mut rounds = Table::new(
        "task_round",
        &[
            ("task", Text),
            ("round", Text),
            ("node", Text),
            ("status", Text),
            ("ord", Int),
            ("ts", Int),
            ("seq", Int),
        ],
    );
    let mut registered = Table::new(
        "node_registered",
        &[
            ("node", Text),
            ("vram_bytes", Int),
            ("timeout_s", Int),
            ("ts", Int),
            ("seq", Int),
        ],
    );
    let mut left = Table::new("node_left", &[("node", Text), ("ts", Int)]);
    let mut slashed = Table::new(
        "task_slashed",
        &[("task", Text), ("node", Text), ("ts", Int)],
    );
    let mut samples = Table::new(
        "gpu_sample",
        &[
            ("node", Text),
            ("gpu", Text),
            ("vram_total_bytes", Int),
            ("ts", Int),
            ("seq", Int),
        ],
    );
    let mut seq = 0i64;
    mixed::generate(spec, |line| {
        let event = decode(line).expect("the generated stream is valid");
        let (ts, s) = (int(event.ts), int(seq));
        seq += 1;
        match event.body {
            Body::TaskRound {
                task,
                round,
                node,
                status,
                order,
                ..
            } => rounds.push(vec![
                task.into(),
                wire_name(round).into(),
                node.into(),
                wire_name(status).into(),
                Cell::Int(order.map(i64::from)),
                ts,
                s,
            ]),
            Body::NodeRegistered {
                node,
                vram_bytes,
                timeout_s,
                ..
            } => registered.push(vec![
                node.into(),
                Cell::Int(vram_bytes.map(|v| v as i64)),
                Cell::Int(timeout_s.map(|v| v as i64)),
                ts,
                s,
            ]),
            Body::NodeLeft { node } => left.push(vec![node.into(), ts]),
            Body::TaskSlashed { task, node } => slashed.push(vec![task.into(), node.into(), ts]),
            Body::GpuSample(g) => samples.push(vec![
                g.node.into(),
                g.gpu.into(),
                int(g.vram_total_bytes),
                ts,
                s,
            ]),
            _ => {}
        }
    });
    vec![rounds, registered, left, slashed, samples]
}

/// The query of one refresh at `as_of`: the score columns of `crynux_qos`, by node.
pub fn qos_sql(config: &Config, as_of: Millis) -> String {
    let cfg = &config.policy.crynux;
    let slide = cfg.slide.millis();
    let window = cfg.window.millis();
    let [first, second, third] = [
        cfg.round_scores[0],
        cfg.round_scores[1],
        cfg.round_scores[2],
    ];
    let min_timeout = cfg.min_timeout_s;
    // An event counts at its slot: ts rounded up to the slide.
    let at = format!("((ts + {slide} - 1) / {slide}) * {slide}");
    format!(
        "WITH rounds AS (
           SELECT task, node, status, ord FROM (
             SELECT task, round, node, status, ord,
                    row_number() OVER (PARTITION BY task, round, node ORDER BY ts DESC, seq DESC) AS rn
             FROM task_round WHERE {at} <= {as_of}) WHERE rn = 1),
         task_time AS (
           SELECT task FROM task_round WHERE {at} <= {as_of}
           GROUP BY task HAVING min({at}) > {as_of} - {window}),
         good AS (SELECT DISTINCT task FROM rounds WHERE status IN ('submitted', 'error_reported')),
         scored AS (
           SELECT r.task, r.node,
                  sum(CASE WHEN r.status IN ('submitted', 'error_reported') THEN
                        CASE r.ord WHEN 1 THEN {first} WHEN 2 THEN {second} WHEN 3 THEN {third} ELSE 0 END
                      ELSE 0 END) AS score
           FROM rounds r JOIN good g ON r.task = g.task JOIN task_time t ON r.task = t.task
           GROUP BY r.task, r.node),
         slashed AS (SELECT DISTINCT task, node FROM task_slashed WHERE {at} <= {as_of}),
         task_scores AS (
           SELECT s.node, CASE WHEN x.task IS NULL THEN s.score ELSE 0 END AS score
           FROM scored s LEFT JOIN slashed x ON s.task = x.task AND s.node = x.node),
         joined AS (
           SELECT node, max({at}) AS at FROM node_registered WHERE {at} <= {as_of} GROUP BY node),
         attrs AS (
           SELECT node, vram_bytes, timeout_s FROM (
             SELECT node, vram_bytes, timeout_s,
                    row_number() OVER (PARTITION BY node ORDER BY ts DESC, seq DESC) AS rn
             FROM node_registered WHERE {at} <= {as_of}) WHERE rn = 1),
         gone AS (SELECT node, max({at}) AS at FROM node_left WHERE {at} <= {as_of} GROUP BY node),
         active AS (
           SELECT a.node, a.vram_bytes, a.timeout_s FROM attrs a JOIN joined j ON a.node = j.node
           LEFT JOIN gone g ON a.node = g.node WHERE g.at IS NULL OR g.at < j.at),
         ns AS (SELECT node, count(*) AS tasks, avg(CAST(score AS DOUBLE)) AS node_score
                FROM task_scores GROUP BY node),
         vram AS (
           SELECT node, max(vram_total_bytes) AS v FROM (
             SELECT node, vram_total_bytes,
                    row_number() OVER (PARTITION BY node, gpu ORDER BY ts DESC, seq DESC) AS rn
             FROM gpu_sample WHERE {at} <= {as_of} AND {at} > {as_of} - {window}) WHERE rn = 1
           GROUP BY node),
         parts AS (
           SELECT a.node, coalesce(n.tasks, 0) AS tasks, n.node_score,
                  CAST(coalesce(v.v, a.vram_bytes) AS DOUBLE) AS v,
                  CAST(CASE WHEN a.timeout_s < {min_timeout} THEN {min_timeout} ELSE a.timeout_s END AS DOUBLE) AS o
           FROM active a LEFT JOIN ns n ON a.node = n.node LEFT JOIN vram v ON a.node = v.node),
         top AS (SELECT max(node_score) AS ns, max(v) AS v, max(o) AS o FROM parts),
         scores AS (
           SELECT p.node, p.tasks, p.node_score,
                  CASE WHEN p.node_score IS NULL THEN NULL WHEN t.ns > 0 THEN p.node_score / t.ns ELSE 0.0 END AS speed_score,
                  CASE WHEN p.v IS NULL THEN NULL WHEN t.v > 0 THEN p.v / t.v ELSE 0.0 END AS vram_score,
                  CASE WHEN p.o IS NULL THEN NULL WHEN t.o = {min_timeout} THEN 1.0
                       ELSE (t.o - p.o) / (t.o - {min_timeout}) END AS timeout_score
           FROM parts p CROSS JOIN top t)
         SELECT node, tasks, node_score, speed_score, vram_score, timeout_score,
                {alpha} * coalesce(vram_score, 0) + {beta} * coalesce(timeout_score, 0)
                  + {gamma} * coalesce(speed_score, 0) AS qos
         FROM scores ORDER BY node",
        alpha = cfg.alpha,
        beta = cfg.beta,
        gamma = cfg.gamma,
    )
}

pub struct Baseline {
    /// Seconds of each refresh's query.
    pub refreshes: Vec<f64>,
    /// The last refresh's result as CSV.
    pub last: String,
}

/// Runs the refresh query at each of `points`, timing each.
pub fn run(config: &Config, tables: &[Table], points: &[Millis]) -> anyhow::Result<Baseline> {
    let catalog = Catalog::new(tables)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut refreshes = Vec::with_capacity(points.len());
    let mut last = String::new();
    for &as_of in points {
        let sql = qos_sql(config, as_of);
        let started = Instant::now();
        let result = runtime.block_on(catalog.query(&sql))?;
        refreshes.push(started.elapsed().as_secs_f64());
        last = render(&result, Format::Csv)?;
    }
    Ok(Baseline { refreshes, last })
}

/// Compares the baseline's last result with the engine's `crynux_qos` on every score column;
/// returns how many nodes agree, or the first disagreement.
pub fn agree(baseline_csv: &str, engine: &Table) -> Result<usize, String> {
    let columns = [
        "tasks",
        "node_score",
        "speed_score",
        "vram_score",
        "timeout_score",
        "qos",
    ];
    let index: Vec<usize> = columns
        .iter()
        .map(|c| engine.column(c).ok_or(format!("crynux_qos has no {c}")))
        .collect::<Result<_, _>>()?;
    let node = engine.column("node").ok_or("crynux_qos has no node")?;
    let mut engine_rows: Vec<(String, Vec<Option<f64>>)> = engine
        .rows
        .iter()
        .map(|row| {
            let name = match &row[node] {
                Cell::Text(Some(t)) => t.clone(),
                other => format!("{other:?}"),
            };
            let values = index
                .iter()
                .map(|&i| match &row[i] {
                    Cell::Int(v) => v.map(|v| v as f64),
                    Cell::Float(v) => *v,
                    _ => None,
                })
                .collect();
            (name, values)
        })
        .collect();
    engine_rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lines = baseline_csv.lines();
    lines.next(); // header
    let baseline_rows: Vec<&str> = lines.collect();
    if baseline_rows.len() != engine_rows.len() {
        return Err(format!(
            "baseline has {} nodes, the engine {}",
            baseline_rows.len(),
            engine_rows.len()
        ));
    }
    for (line, (name, values)) in baseline_rows.iter().zip(&engine_rows) {
        let fields: Vec<&str> = line.split(',').collect();
        if fields[0] != name {
            return Err(format!("node {} in the baseline vs {name}", fields[0]));
        }
        for (k, value) in values.iter().enumerate() {
            let theirs = fields[k + 1].parse::<f64>().ok();
            let same = match (value, theirs) {
                (None, None) => true,
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                _ => false,
            };
            if !same {
                return Err(format!(
                    "{name}.{}: engine {value:?}, baseline {theirs:?}",
                    columns[k]
                ));
            }
        }
    }
    Ok(engine_rows.len())
}
