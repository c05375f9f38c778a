//! Identifiers inside the dataflows: shared immutable strings that carry the hash of their text.
//!
//! Every stateful step keys its maps by ids (node, task, GPU, peer), and every record crossing
//! an exchange is routed by one: hashing the text again at each of those lookups, and comparing
//! it byte by byte on each probe, was about a tenth of a worker's time. An `Id` hashes its text
//! once, when it is made; a lookup hashes that number, and a probe compares pointers first (the
//! decoder hands out one shared `Id` per string, so equal ids are nearly always the same one).
//!
//! Ids are compared, ordered and serialised by their text, so where one was made does not matter
//! and every output's order is the order of the strings. The hash is of the text with a fixed
//! seed: the same on every worker and every process of a cluster, which route by it.
//!
//! An `Id` is one pointer wide (a copy of an id is in every row and state entry that names it).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use hashbrown::hash_table::HashTable;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone)]
pub struct Id(Arc<Text>);

struct Text {
    hash: u64,
    text: Box<str>,
}

/// The hash of an id's text (fixed seed: every worker and process must agree).
fn hash_text(text: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6964_735f_6d65_7269).hash_one(text)
}

impl Id {
    pub fn new(text: &str) -> Id {
        Id::hashed(hash_text(text), text.into())
    }

    /// An id of `text`, whose [`hash_text`] is `hash`.
    fn hashed(hash: u64, text: Box<str>) -> Id {
        Id(Arc::new(Text { hash, text }))
    }
}

impl Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0.text
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0.text
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Id) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash && self.0.text == other.0.text)
    }
}

impl Eq for Id {}

impl Hash for Id {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Id {
    fn cmp(&self, other: &Id) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            Ordering::Equal
        } else {
            self.0.text.cmp(&other.0.text)
        }
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0.text, f)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}

impl From<&str> for Id {
    fn from(text: &str) -> Id {
        Id::new(text)
    }
}

impl From<String> for Id {
    fn from(text: String) -> Id {
        Id::hashed(hash_text(&text), text.into_boxed_str())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.text)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Id::new(&text))
    }
}

/// Hands out one shared `Id` per distinct string seen recently. A cache only: it is cleared
/// when it grows past `capacity`, which costs a few duplicate allocations, never correctness.
pub struct Interner {
    seen: HashTable<Id>,
    capacity: usize,
}

impl Interner {
    pub fn new(capacity: usize) -> Interner {
        Interner {
            seen: HashTable::new(),
            capacity,
        }
    }

    pub fn id(&mut self, text: &str) -> Id {
        let hash = hash_text(text);
        let same = |id: &Id| id.0.hash == hash && &*id.0.text == text;
        if let Some(id) = self.seen.find(hash, same) {
            return id.clone();
        }
        if self.seen.len() >= self.capacity {
            self.seen.clear();
        }
        let id = Id::hashed(hash, text.into());
        self.seen.insert_unique(hash, id.clone(), |id| id.0.hash);
        id
    }
}

impl Default for Interner {
    fn default() -> Interner {
        Interner::new(1 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_their_text_wherever_they_were_made() {
        let mut interner = Interner::default();
        let a = interner.id("node-7");
        let b = Id::from(String::from("node-7"));
        assert!(!Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        let hash = |id: &Id| foldhash::fast::FixedState::with_seed(1).hash_one(id);
        assert_eq!(hash(&a), hash(&b));
        assert!(Id::from("node-10") < Id::from("node-7"), "ordered by text");
        assert_ne!(Id::from("a"), Id::from("b"));
        assert!(
            Arc::ptr_eq(&a.0, &interner.id("node-7").0),
            "one shared id per string"
        );
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"node-7\"");
        assert_eq!(serde_json::from_str::<Id>(&json).unwrap(), a);
        assert_eq!(std::mem::size_of::<Id>(), 8);
    }

    #[test]
    fn the_interner_is_a_bounded_cache() {
        let mut interner = Interner::new(2);
        let a = interner.id("a");
        interner.id("b");
        assert!(
            Arc::ptr_eq(&a.0, &interner.id("a").0),
            "a hit at capacity keeps the cache"
        );
        interner.id("c");
        let again = interner.id("a");
        assert!(!Arc::ptr_eq(&a.0, &again.0), "cleared when full");
        assert_eq!(a, again);
        assert!(interner.seen.len() <= 2);
    }
}
