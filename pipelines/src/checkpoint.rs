//! Operator states for checkpoints. Each stateful operator keeps its state in a [`StateRegistry`]
//! under a name of its own; the registry can serialise every state of one worker between two
//! steps (the worker's thread owns both, so no operator is running then), and a registry made
//! from such a save hands each operator its state back when the dataflow is built again.
//!
//! A save is only meaningful at a cut: when every operator has processed every moment up to
//! the checkpoint's time and none after it (see `Session::checkpoint`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The layout of the operator states a checkpoint holds: raised whenever a state's fields change
/// (bincode is not self-describing, so an old layout might otherwise decode into nonsense).
/// 2: the icp live days and per-node registry changes, the sla standings caught up lazily.
/// 3: the icp live days keep node parts and subnet figures, not finished rows.
pub const STATE_FORMAT: u32 = 5;

/// One worker's operator states, by operator name, serialised.
pub type WorkerStates = BTreeMap<String, Vec<u8>>;

/// The registry as the operators of one worker share it while the dataflow is built.
pub type States = Rc<RefCell<StateRegistry>>;

type Saver = Box<dyn Fn() -> Vec<u8>>;

#[derive(Default)]
pub struct StateRegistry {
    /// What a checkpoint brought, taken by the operators as they are built.
    restored: WorkerStates,
    restoring: bool,
    savers: Vec<(String, Saver)>,
    /// What went wrong while restoring; reported by [`StateRegistry::check`].
    errors: Vec<String>,
}

impl StateRegistry {
    /// A registry for a fresh start.
    pub fn fresh() -> States {
        Rc::new(RefCell::new(StateRegistry::default()))
    }

    /// A registry that restores every operator from `saved`.
    pub fn restoring(saved: WorkerStates) -> States {
        Rc::new(RefCell::new(StateRegistry {
            restored: saved,
            restoring: true,
            ..StateRegistry::default()
        }))
    }

    /// The state of operator `name`: the restored one, or `make()`'s on a fresh start. It stays
    /// registered for saves.
    pub fn keep<S>(&mut self, name: &str, make: impl FnOnce() -> S) -> Rc<RefCell<S>>
    where
        S: Serialize + DeserializeOwned + 'static,
    {
        assert!(
            !self.savers.iter().any(|(n, _)| n == name),
            "two stateful operators are named {name}: their checkpoints would mix"
        );
        let state = match (self.restoring, self.restored.remove(name)) {
            (_, Some(bytes)) => match bincode::deserialize::<S>(&bytes) {
                Ok(state) => state,
                Err(e) => {
                    self.errors
                        .push(format!("the state of `{name}` does not decode: {e}"));
                    make()
                }
            },
            (true, None) => {
                self.errors
                    .push(format!("the checkpoint holds no state for `{name}`"));
                make()
            }
            (false, None) => make(),
        };
        let shared = Rc::new(RefCell::new(state));
        let saving = Rc::clone(&shared);
        let saver: Saver = Box::new(move || {
            bincode::serialize(&*saving.borrow()).expect("operator states serialise")
        });
        self.savers.push((name.to_owned(), saver));
        shared
    }

    /// Every registered operator's state, serialised now.
    pub fn save(&self) -> WorkerStates {
        self.savers
            .iter()
            .map(|(name, saver)| (name.clone(), saver()))
            .collect()
    }

    /// After the dataflow is built: whether every operator got back what it saved and every
    /// saved state found its operator.
    pub fn check(&self) -> Result<(), String> {
        let mut errors = self.errors.clone();
        errors.extend(self.restored.keys().map(|name| {
            format!("the checkpoint holds a state for `{name}`, which no operator has")
        }));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_state_comes_back_to_the_operator_of_its_name() {
        let fresh = StateRegistry::fresh();
        let counter = fresh.borrow_mut().keep("counter", || vec![1u64, 2]);
        counter.borrow_mut().push(3);
        let _other = fresh.borrow_mut().keep("other", || 7u32);
        let saved = fresh.borrow().save();

        let again = StateRegistry::restoring(saved);
        let counter = again.borrow_mut().keep("counter", Vec::<u64>::new);
        let other = again.borrow_mut().keep("other", || 0u32);
        assert_eq!(*counter.borrow(), vec![1, 2, 3]);
        assert_eq!(*other.borrow(), 7);
        assert_eq!(again.borrow().check(), Ok(()));
    }

    #[test]
    fn a_checkpoint_that_does_not_fit_the_dataflow_is_an_error() {
        let fresh = StateRegistry::fresh();
        let _ = fresh.borrow_mut().keep("gone", || 1u8);
        let saved = fresh.borrow().save();
        let again = StateRegistry::restoring(saved);
        let _ = again.borrow_mut().keep("new", || 1u8);
        let err = again.borrow().check().unwrap_err();
        assert!(err.contains("no state for `new`"), "{err}");
        assert!(err.contains("`gone`, which no operator has"), "{err}");
    }
}
