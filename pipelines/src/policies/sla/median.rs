//! A running median of a multiset that changes one value at a time: a lower and an upper half
//! kept balanced, so an insert or removal costs O(log n) and the median is read from the two
//! halves' inner ends. The network medians over 100k nodes are kept this way rather than
//! re-sorted on every change.

use std::collections::BTreeMap;

use crate::float::F64;

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct RunningMedian {
    low: BTreeMap<F64, u32>,
    high: BTreeMap<F64, u32>,
    low_len: usize,
    high_len: usize,
}

impl RunningMedian {
    pub fn len(&self) -> usize {
        self.low_len + self.high_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn insert(&mut self, v: f64) {
        let v = F64(v);
        if self.low_max().is_none_or(|m| v <= m) {
            add(&mut self.low, v);
            self.low_len += 1;
        } else {
            add(&mut self.high, v);
            self.high_len += 1;
        }
        self.rebalance();
    }

    /// Removes one copy of `v`, which must be in the set.
    pub fn remove(&mut self, v: f64) {
        let v = F64(v);
        if self.low.contains_key(&v) {
            take(&mut self.low, v);
            self.low_len -= 1;
        } else {
            assert!(
                self.high.contains_key(&v),
                "removing a value the median never had"
            );
            take(&mut self.high, v);
            self.high_len -= 1;
        }
        self.rebalance();
    }

    /// The middle value, or the mean of the two middle values; None when empty.
    pub fn median(&self) -> Option<f64> {
        let low = self.low_max()?;
        Some(if self.low_len > self.high_len {
            low.0
        } else {
            let high = self.high.keys().next().expect("balanced halves");
            (low.0 + high.0) / 2.0
        })
    }

    fn low_max(&self) -> Option<F64> {
        self.low.keys().next_back().copied()
    }

    /// Keeps `low_len == high_len` or `low_len == high_len + 1`.
    fn rebalance(&mut self) {
        while self.low_len > self.high_len + 1 {
            let v = self.low_max().expect("non-empty low half");
            take(&mut self.low, v);
            add(&mut self.high, v);
            self.low_len -= 1;
            self.high_len += 1;
        }
        while self.high_len > self.low_len {
            let v = *self.high.keys().next().expect("non-empty high half");
            take(&mut self.high, v);
            add(&mut self.low, v);
            self.high_len -= 1;
            self.low_len += 1;
        }
    }
}

fn add(half: &mut BTreeMap<F64, u32>, v: F64) {
    *half.entry(v).or_default() += 1;
}

fn take(half: &mut BTreeMap<F64, u32>, v: F64) {
    let count = half.get_mut(&v).expect("value present");
    *count -= 1;
    if *count == 0 {
        half.remove(&v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::sla::formulas::median;
    use proptest::prelude::*;

    proptest! {
        /// After any sequence of inserts and removals, the running median equals the median of
        /// the values re-sorted from scratch.
        #[test]
        fn equals_the_median_from_scratch(ops in prop::collection::vec((any::<bool>(), 0u8..20), 1..200)) {
            let mut running = RunningMedian::default();
            let mut plain: Vec<f64> = Vec::new();
            for (insert, v) in ops {
                let v = v as f64 / 4.0;
                if insert || plain.is_empty() {
                    running.insert(v);
                    plain.push(v);
                } else {
                    let i = plain.len() / 2;
                    let gone = plain.swap_remove(i);
                    running.remove(gone);
                }
                prop_assert_eq!(running.median(), median(plain.clone()));
                prop_assert_eq!(running.len(), plain.len());
            }
        }
    }
}
