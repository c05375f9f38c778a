//! Identifiers inside the dataflows: shared immutable strings, so the many copies an id gets as
//! it flows through operators and arrangements are reference-count bumps, not allocations.
//! Ids are compared and serialised by content, so where one was made does not matter.

use foldhash::{HashSet, HashSetExt};
use std::sync::Arc;

pub type Id = Arc<str>;

/// Hands out one shared `Id` per distinct string seen recently. A cache only: it is cleared
/// when it grows past `capacity`, which costs a few duplicate allocations, never correctness.
pub struct Interner {
    seen: HashSet<Id>,
    capacity: usize,
}

impl Interner {
    pub fn new(capacity: usize) -> Interner {
        Interner {
            seen: HashSet::new(),
            capacity,
        }
    }

    pub fn id(&mut self, text: &str) -> Id {
        if let Some(id) = self.seen.get(text) {
            return Arc::clone(id);
        }
        if self.seen.len() >= self.capacity {
            self.seen.clear();
        }
        let id: Id = Arc::from(text);
        self.seen.insert(Arc::clone(&id));
        id
    }
}

impl Default for Interner {
    fn default() -> Interner {
        Interner::new(1 << 20)
    }
}
