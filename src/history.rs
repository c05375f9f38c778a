//! History for analysts: every `snapshot_every` of event time the live tables are kept, and
//! served as `history.<table>` with a `snapshot_ts` column in front, so "how did node X's QoS
//! move over the month" is one query. Kept in memory, the newest `history_keep` snapshots.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use meritflow_pipelines::table::{timestamp, ColumnType, Table};
use meritflow_pipelines::time::Millis;

pub struct History {
    every: Millis,
    keep: usize,
    /// (snapshot_ts, the tables then), oldest first.
    snapshots: VecDeque<(Millis, Vec<Table>)>,
    /// The `history.*` tables built from them, rebuilt when a snapshot is added.
    tables: Arc<Vec<Table>>,
}

/// `history.<name>` as a `'static` name (tables carry static names; there is one per table).
fn history_name(name: &'static str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .expect("names lock");
    names
        .entry(name)
        .or_insert_with(|| Box::leak(format!("history.{name}").into_boxed_str()))
}

impl History {
    pub fn new(every: Millis, keep: usize) -> History {
        History {
            every,
            keep,
            snapshots: VecDeque::new(),
            tables: Arc::default(),
        }
    }

    /// Keeps the `tables` (built only then) if `through` is the first publication at or after
    /// a snapshot boundary. Returns whether the history changed.
    pub fn offer(&mut self, through: Millis, tables: impl FnOnce() -> Vec<Table>) -> bool {
        if self.every == 0 || self.keep == 0 {
            return false;
        }
        let boundary = through / self.every * self.every;
        if self.snapshots.back().is_some_and(|(ts, _)| *ts >= boundary) {
            return false;
        }
        self.snapshots.push_back((boundary, tables()));
        while self.snapshots.len() > self.keep {
            self.snapshots.pop_front();
        }
        self.rebuild();
        true
    }

    fn rebuild(&mut self) {
        let Some((_, newest)) = self.snapshots.back() else {
            return;
        };
        self.tables = Arc::new(
            newest
                .iter()
                .map(|table| {
                    let mut columns = vec![("snapshot_ts", ColumnType::Timestamp)];
                    columns.extend(table.columns.iter().cloned());
                    let mut history = Table::new(history_name(table.name), &columns);
                    for (ts, tables) in &self.snapshots {
                        let Some(then) = tables.iter().find(|t| t.name == table.name) else {
                            continue;
                        };
                        for row in &then.rows {
                            let mut cells = vec![timestamp(*ts)];
                            cells.extend(row.iter().cloned());
                            history.push(cells);
                        }
                    }
                    history
                })
                .collect(),
        );
    }

    pub fn tables(&self) -> Arc<Vec<Table>> {
        Arc::clone(&self.tables)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meritflow_pipelines::table::{int, ColumnType::*};

    #[test]
    fn one_snapshot_per_boundary_newest_kept_with_its_time() {
        let table = |v: i64| {
            let mut t = Table::new("t", &[("v", Int)]);
            t.push(vec![int(v)]);
            t
        };
        let mut h = History::new(3_600_000, 2);
        assert!(h.offer(3_600_500, || vec![table(1)]));
        assert!(!h.offer(3_601_000, || vec![table(2)]), "same hour");
        assert!(h.offer(7_200_000, || vec![table(3)]));
        assert!(h.offer(10_900_000, || vec![table(4)]));
        let t = &h.tables()[0];
        assert_eq!(t.name, "history.t");
        assert_eq!(t.rows.len(), 2, "the newest two snapshots");
        assert_eq!(t.rows[0], vec![timestamp(7_200_000), int(3)]);
        assert_eq!(t.rows[1], vec![timestamp(10_800_000), int(4)]);
    }
}
