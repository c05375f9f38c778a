//! Trigger rows, shared by every policy: one row per trigger id, showing its current state.
//! Ids are stable (`policy:rule:node:raised_at`) so consumers can drop duplicates.

use serde::{Deserialize, Serialize};

use crate::float::F64;
use crate::time::Millis;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TriggerState {
    Raised,
    Cleared,
}

impl TriggerState {
    pub fn name(self) -> &'static str {
        match self {
            TriggerState::Raised => "raised",
            TriggerState::Cleared => "cleared",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TriggerRow {
    pub id: String,
    /// When the trigger entered its current state.
    pub ts: Millis,
    pub node: String,
    pub policy: String,
    pub rule: String,
    pub level: String,
    pub state: TriggerState,
    /// The measured value that crossed the threshold.
    pub value: F64,
    pub threshold: F64,
}
