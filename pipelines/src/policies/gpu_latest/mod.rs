//! `gpu_latest`: the latest sample of every GPU, for operators and dashboards. Samples go to
//! the worker their (node, gpu) hashes to; a later sample (by ts, then input order) replaces
//! the row. Kept for every GPU ever seen (a GPU that stops reporting keeps its last row, whose
//! `ts` shows how old it is).

use differential_dataflow::hashable::Hashable;
use differential_dataflow::VecCollection as Collection;
use foldhash::{HashMap, HashMapExt};
use serde::{Deserialize, Serialize};
use timely::dataflow::Scope;

use crate::checkpoint::States;
use crate::events::{Body, Event};
use crate::float::F64;
use crate::id::Id;
use crate::moments::{moments, EventInputs, MomentState};
use crate::table::{int, opt_int, timestamp, ColumnType::*, Table};
use crate::time::Millis;

pub mod policy;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GpuLatest {
    pub node: Id,
    pub gpu: Id,
    pub ts: Millis,
    pub seq: u64,
    pub vram_total_bytes: u64,
    pub vram_used_bytes: Option<u64>,
    pub gpu_util_pct: Option<F64>,
    pub temp_c: Option<F64>,
    pub power_w: Option<F64>,
    pub xid: Option<u64>,
}

impl GpuLatest {
    fn from_event(event: &Event, seq: u64) -> Option<GpuLatest> {
        let Body::GpuSample(s) = &event.body else {
            return None;
        };
        Some(GpuLatest {
            node: s.node.clone(),
            gpu: s.gpu.clone(),
            ts: event.ts,
            seq,
            vram_total_bytes: s.vram_total_bytes,
            vram_used_bytes: s.vram_used_bytes,
            gpu_util_pct: s.gpu_util_pct.map(F64),
            temp_c: s.temp_c.map(F64),
            power_w: s.power_w.map(F64),
            xid: s.xid,
        })
    }
}

/// GPU samples, at the engine's grain.
pub type GpuInputs = EventInputs<GpuLatest>;

pub fn inputs(grain: Millis) -> GpuInputs {
    EventInputs::new(grain, Box::new(GpuLatest::from_event))
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Latest {
    rows: HashMap<(Id, Id), GpuLatest>,
}

impl MomentState<GpuLatest, GpuLatest> for Latest {
    fn next_time(&self) -> Option<Millis> {
        None
    }

    fn advance(&mut self, _t: Millis, inputs: Vec<GpuLatest>) -> Vec<(GpuLatest, isize)> {
        let mut before: HashMap<(Id, Id), Option<GpuLatest>> = HashMap::new();
        for sample in inputs {
            let key = (sample.node.clone(), sample.gpu.clone());
            let current = self.rows.get(&key);
            if current.is_some_and(|c| (c.ts, c.seq) >= (sample.ts, sample.seq)) {
                continue;
            }
            before
                .entry(key.clone())
                .or_insert_with(|| current.cloned());
            self.rows.insert(key, sample);
        }
        let mut out = Vec::new();
        for (key, old) in before {
            out.extend(old.map(|o| (o, -1)));
            out.push((self.rows[&key].clone(), 1));
        }
        out
    }
}

pub fn build<'s>(
    scope: Scope<'s, Millis>,
    states: &States,
    inputs: &mut GpuInputs,
) -> Collection<'s, Millis, GpuLatest> {
    let collection = inputs.events.to_collection(scope);
    moments(
        collection,
        "GpuLatest",
        |s: &GpuLatest| (s.node.clone(), s.gpu.clone()).hashed(),
        states,
        Latest::default,
    )
}

/// `gpu_latest(node, gpu, ts, vram_total_bytes, vram_used_bytes, gpu_util_pct, temp_c, power_w, xid)`.
pub fn table(rows: &[GpuLatest]) -> Table {
    let mut table = Table::new(
        "gpu_latest",
        &[
            ("node", Text),
            ("gpu", Text),
            ("ts", Timestamp),
            ("vram_total_bytes", Int),
            ("vram_used_bytes", Int),
            ("gpu_util_pct", Float),
            ("temp_c", Float),
            ("power_w", Float),
            ("xid", Int),
        ],
    );
    let mut sorted: Vec<&GpuLatest> = rows.iter().collect();
    sorted.sort_by(|a, b| (&a.node, &a.gpu).cmp(&(&b.node, &b.gpu)));
    for r in sorted {
        table.push(vec![
            r.node.clone().into(),
            r.gpu.clone().into(),
            timestamp(r.ts),
            int(r.vram_total_bytes),
            opt_int(r.vram_used_bytes),
            r.gpu_util_pct.map(|v| v.0).into(),
            r.temp_c.map(|v| v.0).into(),
            r.power_w.map(|v| v.0).into(),
            opt_int(r.xid),
        ]);
    }
    table
}
