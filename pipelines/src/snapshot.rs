//! Every policy's tables as of one completed moment, assembled once for the CLI, the Kafka
//! publisher and the SQL layer: the shared `triggers` table gathers every policy's edges.

use crate::engine::Outputs;
use crate::policy::{ExplainError, ExplainRequest, PolicyReject, View};
use crate::statement::StatementRow;
use crate::table::Table;
use crate::time::Millis;
use crate::triggers::trigger_table;

pub struct PolicySnapshot {
    /// Every policy table, then `triggers` (not `statements`, which the store serves).
    pub tables: Vec<Table>,
    /// Each policy's name and view, its tables moved into `tables`. No policy itself: its
    /// captured outputs are not kept alive by a snapshot.
    views: Vec<(&'static str, View)>,
}

impl PolicySnapshot {
    pub fn take(outputs: &Outputs, as_of: Millis) -> PolicySnapshot {
        let mut tables = Vec::new();
        let mut triggers = Vec::new();
        // Each policy's view reads only its own captures: they are built side by side (a large
        // fleet's view takes a second or more, and the workers are idle or done meanwhile).
        let views: Vec<(&'static str, View)> = std::thread::scope(|scope| {
            let building: Vec<_> = outputs
                .policies()
                .iter()
                .map(|policy| scope.spawn(move || (policy.name(), policy.view(as_of))))
                .collect();
            building
                .into_iter()
                .map(|view| {
                    view.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let views = views
            .into_iter()
            .map(|(name, mut view)| {
                tables.append(&mut view.tables);
                triggers.extend(view.triggers.iter().cloned());
                (name, view)
            })
            .collect();
        tables.push(trigger_table(&triggers));
        PolicySnapshot { tables, views }
    }

    /// The statements of the periods closed so far, every policy's.
    pub fn closed_statements(&self) -> Vec<StatementRow> {
        self.views
            .iter()
            .flat_map(|(_, view)| view.statements.iter().cloned())
            .collect()
    }

    /// Valid events a policy could not take, with the policy's name.
    pub fn rejects(&self) -> impl Iterator<Item = (&'static str, &PolicyReject)> {
        self.views
            .iter()
            .flat_map(|(name, view)| view.rejects.iter().map(move |r| (*name, r)))
    }

    /// How `request`'s figures of policy `policy` came out (see [`crate::policy::Explain`]).
    pub fn explain(
        &self,
        policy: &str,
        request: ExplainRequest<'_>,
    ) -> Result<String, ExplainError> {
        let names = |explaining: bool| {
            let names: Vec<&str> = self
                .views
                .iter()
                .filter(|(_, view)| !explaining || view.explain.is_some())
                .map(|(name, _)| *name)
                .collect();
            names.join(", ")
        };
        let Some((name, view)) = self.views.iter().find(|(n, _)| *n == policy) else {
            return Err(ExplainError::UnknownPolicy {
                policy: policy.to_owned(),
                known: names(false),
            });
        };
        match &view.explain {
            Some(explain) => explain.explain(request),
            None => Err(ExplainError::Unsupported {
                policy: name,
                supported: names(true),
            }),
        }
    }
}

/// The policies' tables of the latest publication, built when someone reads them: building
/// them is a pass over every node, which a publication nobody reads should not pay for.
pub struct LatestTables {
    outputs: std::sync::Arc<Outputs>,
    /// The latest published moment; held while the outputs are folded up to the next one, so
    /// no read sees a capture folded past the moment it reads at.
    published: std::sync::Mutex<Option<Millis>>,
}

impl LatestTables {
    pub fn new(outputs: std::sync::Arc<Outputs>) -> LatestTables {
        LatestTables {
            outputs,
            published: std::sync::Mutex::new(None),
        }
    }

    /// Publishes `through`: `fold` (which folds the outputs up to it) runs while no read is
    /// under way, and later reads are as of `through`.
    pub fn advance<T>(&self, through: Millis, fold: impl FnOnce() -> T) -> T {
        let mut published = self.published.lock().expect("published lock");
        let folded = fold();
        *published = Some(through);
        folded
    }

    /// The latest published moment and the tables then (`None` before the first
    /// publication). A publication waits while they are built.
    pub fn read(&self) -> Option<(Millis, Vec<Table>)> {
        let published = self.published.lock().expect("published lock");
        published.map(|at| (at, PolicySnapshot::take(&self.outputs, at).tables))
    }
}

/// The statements of the periods closed through `as_of` (a completed time), read from the
/// captured outputs without building any table.
pub fn closed_statements(outputs: &Outputs, as_of: Millis) -> Vec<StatementRow> {
    outputs
        .policies()
        .iter()
        .flat_map(|policy| policy.statements(as_of))
        .collect()
}
