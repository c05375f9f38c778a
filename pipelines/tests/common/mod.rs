//! Helpers shared by the dataflow-against-reference tests.

use std::fmt::Debug;

/// Where two row lists first disagree, for a failure message (None when they are equal).
pub fn first_difference<T: Debug + PartialEq>(name: &str, a: &[T], b: &[T]) -> Option<String> {
    let at = (0..a.len().max(b.len())).find(|i| a.get(*i) != b.get(*i))?;
    Some(format!(
        "{name}[{at}] (of {} vs {}):\n  dataflow:  {:?}\n  reference: {:?}",
        a.len(),
        b.len(),
        a.get(at),
        b.get(at)
    ))
}
