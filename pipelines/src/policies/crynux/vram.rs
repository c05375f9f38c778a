//! Each node's largest GPU memory over its GPUs' latest samples still inside the window, one
//! [`VramState`] per worker (samples routed by node).
//!
//! A sample counts from its slot for one window. A GPU's latest sample (by ts, then input
//! order) is also the one that leaves the window last, so per GPU only the latest is kept: when
//! it leaves, no older sample of that GPU is left either.

use std::collections::BTreeSet;

use foldhash::{HashMap, HashMapExt};
use serde::{Deserialize, Serialize};

use crate::id::Id;
use crate::moments::MomentState;
use crate::time::Millis;

/// A GPU sample as the VRAM computation keeps it: ((node, gpu), (ts, seq, vram_total_bytes)).
pub type GpuReading = ((Id, Id), (Millis, u64, u64));

#[derive(Clone, Copy, Serialize, Deserialize)]
struct Latest {
    ts: Millis,
    seq: u64,
    vram: u64,
    leaves: Millis,
}

#[derive(Serialize, Deserialize)]
pub struct VramState {
    window: Millis,
    gpus: HashMap<Id, HashMap<Id, Latest>>,
    /// (moment, node, gpu): that GPU's latest sample leaves the window then.
    expiries: BTreeSet<(Millis, Id, Id)>,
    shown: HashMap<Id, u64>,
}

impl VramState {
    pub fn new(window: Millis) -> VramState {
        VramState {
            window,
            gpus: HashMap::new(),
            expiries: BTreeSet::new(),
            shown: HashMap::new(),
        }
    }
}

impl MomentState<GpuReading, (Id, u64)> for VramState {
    fn next_time(&self) -> Option<Millis> {
        self.expiries.first().map(|(t, _, _)| *t)
    }

    fn advance(&mut self, t: Millis, inputs: Vec<GpuReading>) -> Vec<((Id, u64), isize)> {
        let mut touched: BTreeSet<Id> = BTreeSet::new();
        let leaves = t.saturating_add(self.window);
        for ((node, gpu), (ts, seq, vram)) in inputs {
            let gpus = self.gpus.entry(node.clone()).or_default();
            if gpus.get(&gpu).is_some_and(|l| (l.ts, l.seq) >= (ts, seq)) {
                continue;
            }
            let latest = Latest {
                ts,
                seq,
                vram,
                leaves,
            };
            if let Some(old) = gpus.insert(gpu.clone(), latest) {
                self.expiries
                    .remove(&(old.leaves, node.clone(), gpu.clone()));
            }
            self.expiries.insert((leaves, node.clone(), gpu));
            touched.insert(node);
        }
        while let Some((at, _, _)) = self.expiries.first() {
            if *at > t {
                break;
            }
            let (_, node, gpu) = self.expiries.pop_first().expect("first expiry");
            if let Some(gpus) = self.gpus.get_mut(&node) {
                gpus.remove(&gpu);
                if gpus.is_empty() {
                    self.gpus.remove(&node);
                }
            }
            touched.insert(node);
        }
        let mut out = Vec::new();
        for node in touched {
            let now = self
                .gpus
                .get(&node)
                .and_then(|gpus| gpus.values().map(|l| l.vram).max());
            let before = self.shown.get(&node).copied();
            if now == before {
                continue;
            }
            out.extend(before.map(|v| ((node.clone(), v), -1)));
            out.extend(now.map(|v| ((node.clone(), v), 1)));
            match now {
                Some(v) => self.shown.insert(node, v),
                None => self.shown.remove(&node),
            };
        }
        out
    }
}
