//! Runs the policies' dataflows on timely workers and captures their outputs as consolidated
//! snapshots.
//!
//! Every worker keeps the output updates it made in its own shard of a [`Captured`] store (on
//! a cluster, process 0's workers keep every process's, spread by hash), from which a snapshot
//! "as of" any completed time can be read by adding the shards up. Same input, same snapshot,
//! whatever the number of workers: outputs are differential collections, consolidated before
//! use. The engine names no policy: it runs those of [`crate::policies::registry`] through
//! [`Policy`].

use hashbrown::hash_table::{Entry, HashTable};
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use differential_dataflow::difference::Semigroup;
use differential_dataflow::Hashable;
use differential_dataflow::VecCollection as Collection;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use crate::config::Config;
use crate::control::Control;
use crate::events::{Event, KINDS};
use crate::policy::{AsAny, Feed, FoldNotes, Folded, Policy};
use crate::time::{slot, Millis};

/// Accumulated updates of one output collection, with differences of type `R` (multiplicities,
/// or aggregates such as (count, sum) kept as differences), one shard per worker of the
/// gathering process: a worker appends only to its own, so workers never wait for each other.
pub struct Captured<D, R = isize> {
    shards: Vec<Mutex<CapturedInner<D, R>>>,
    /// Per shard, the input frontier its worker's sink has reached: everything before it is
    /// stored.
    frontiers: Vec<AtomicU64>,
}

/// A record with its hash, computed once when the record is captured (while it is still in the
/// cache): folding it in, and every growth of the table, then reuse it instead of hashing every
/// row's ids again, and rows replaced all the time (each node's current row) leave tombstones
/// that make the table rehash itself in place often.
#[derive(Clone)]
struct Hashed<D, R> {
    hash: u64,
    data: D,
    diff: R,
}

impl<D: Hash, R> Hashed<D, R> {
    fn new(data: D, diff: R) -> Hashed<D, R> {
        Hashed {
            hash: hash_of(&data),
            data,
            diff,
        }
    }
}

struct CapturedInner<D, R> {
    /// Consolidated contents as of `compacted` (inclusive).
    base: Consolidated<D, R>,
    compacted: Option<Millis>,
    pending: Vec<(Hashed<D, R>, Millis)>,
}

/// The hasher of every capture (fixed seed: shards of one collection must agree).
fn hash_of<D: Hash>(data: &D) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6d65_7269_7466_6c6f).hash_one(data)
}

/// Records with their accumulated differences, none zero.
///
/// The records sit in a `Vec` and the hash table holds only their positions: output rows are
/// replaced all the time (each node's current row), and the tombstones that leaves make the
/// table rehash itself in place every few thousand updates. Rehashing moved every row (up to
/// ~300 bytes each) when the table held them; it moves 4-byte positions now, and a table slot
/// left empty by the load factor costs 4 bytes, not a row's size.
struct Consolidated<D, R> {
    records: Vec<Hashed<D, R>>,
    positions: HashTable<u32>,
}

impl<D: Eq, R: Semigroup> Consolidated<D, R> {
    fn new() -> Consolidated<D, R> {
        Consolidated {
            records: Vec::new(),
            positions: HashTable::new(),
        }
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    fn iter(&self) -> impl Iterator<Item = &Hashed<D, R>> {
        self.records.iter()
    }

    fn into_records(self) -> Vec<Hashed<D, R>> {
        self.records
    }

    /// Adds `update.diff` to its record's accumulated difference, dropping the record when it
    /// reaches zero.
    fn add(&mut self, update: Hashed<D, R>) {
        let records = &mut self.records;
        let found = self.positions.entry(
            update.hash,
            |&i| records[i as usize].data == update.data,
            |&i| records[i as usize].hash,
        );
        match found {
            Entry::Occupied(e) => {
                let at = *e.get() as usize;
                records[at].diff.plus_equals(&update.diff);
                if records[at].diff.is_zero() {
                    e.remove();
                    self.remove_at(at);
                }
            }
            Entry::Vacant(_) if update.diff.is_zero() => {}
            Entry::Vacant(e) => {
                let at =
                    u32::try_from(records.len()).expect("a capture shard holds < 2^32 records");
                records.push(update);
                e.insert(at);
            }
        }
    }

    /// Removes the record at `at` (its position already out of the table), moving the last
    /// record into its place.
    fn remove_at(&mut self, at: usize) {
        let last = self.records.len() - 1;
        if at != last {
            let moved = self.records[last].hash;
            let slot = self
                .positions
                .find_mut(moved, |&i| i as usize == last)
                .expect("every record has its position");
            *slot = at as u32;
        }
        self.records.swap_remove(at);
    }
}

impl<D: Clone + Eq + Hash + Ord, R: Semigroup + Clone> Captured<D, R> {
    /// A capture with one shard per worker of this process.
    pub fn new(shards: usize) -> Captured<D, R> {
        let shard = || {
            Mutex::new(CapturedInner {
                base: Consolidated::new(),
                compacted: None,
                pending: Vec::new(),
            })
        };
        Captured {
            shards: (0..shards.max(1)).map(|_| shard()).collect(),
            frontiers: (0..shards.max(1)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn extend(&self, shard: usize, updates: impl IntoIterator<Item = (D, Millis, R)>) {
        let hashed = updates
            .into_iter()
            .map(|(data, t, diff)| (Hashed::new(data, diff), t));
        self.shards[shard]
            .lock()
            .expect("capture lock")
            .pending
            .extend(hashed);
    }

    /// Folds every update at or before `upto` into the consolidated base; later snapshots must
    /// be at or after `upto`.
    pub fn compact(&self, upto: Millis) {
        self.fold_with(upto, |_, _| {});
    }

    /// Folds every update at or before `upto` into the base, telling `folded` of each.
    pub fn fold_with(&self, upto: Millis, mut folded: impl FnMut(&D, &R)) {
        for shard in 0..self.shards.len() {
            self.fold_shard(shard, upto, |u| folded(&u.data, &u.diff));
        }
    }

    /// [`Captured::compact`], returning what it folded in, consolidated: the records whose
    /// multiplicity changed since the last fold, with the change.
    pub fn fold(&self, upto: Millis) -> Vec<(D, R)> {
        let mut changes = Consolidated::new();
        for shard in 0..self.shards.len() {
            self.fold_shard(shard, upto, |update| changes.add(update.clone()));
        }
        changes
            .into_records()
            .into_iter()
            .map(|e| (e.data, e.diff))
            .collect()
    }

    /// [`Captured::fold_with`] of one shard.
    fn fold_shard(&self, shard: usize, upto: Millis, mut folded: impl FnMut(&Hashed<D, R>)) {
        let mut inner = self.shards[shard].lock().expect("capture lock");
        let inner = &mut *inner;
        let held = inner.pending.len().max(4096);
        for (update, _) in inner.pending.extract_if(.., |(_, t)| *t <= upto) {
            folded(&update);
            inner.base.add(update);
        }
        // A burst (every node's first rows at the registrations) leaves the Vec at its
        // high-water mark: give back what is far beyond what this cycle held, so the tables
        // growing later can use it, and keep enough that the next cycles do not grow it again.
        if inner.pending.capacity() > 4 * held {
            inner.pending.shrink_to(2 * held);
        }
        inner.compacted = Some(inner.compacted.map_or(upto, |c| c.max(upto)));
    }

    /// Each record's accumulated difference at `as_of` (zero ones left out), sorted. The
    /// records are gathered and consolidated (sorted once, summed where equal): the result must
    /// be sorted anyway, so this costs one sort instead of a copy of each shard's table too.
    pub fn totals(&self, as_of: Millis) -> Vec<(D, R)> {
        let mut all: Vec<(D, R)> = Vec::new();
        for shard in &self.shards {
            let inner = shard.lock().expect("capture lock");
            debug_assert!(
                inner.compacted.is_none_or(|c| c <= as_of),
                "snapshot before the compacted time"
            );
            all.reserve(inner.base.len());
            all.extend(inner.base.iter().map(|e| (e.data.clone(), e.diff.clone())));
            all.extend(
                inner
                    .pending
                    .iter()
                    .filter(|(_, t)| *t <= as_of)
                    .map(|(e, _)| (e.data.clone(), e.diff.clone())),
            );
        }
        differential_dataflow::consolidation::consolidate(&mut all);
        all
    }
}

/// What every capture can do whatever its record type, so the engine can go over all of them.
pub trait CaptureStore: Send + Sync {
    /// Folds shard `shard`'s updates up to `upto` into its base.
    fn compact_shard(&self, shard: usize, upto: Millis);
    fn shards(&self) -> usize;
    /// The earliest frontier of its shards' sinks: everything before it is stored.
    fn frontier(&self) -> Millis;
    /// Its contents as of `at` (a completed time), serialised for a checkpoint.
    fn save(&self, at: Millis) -> Result<Vec<u8>, String>;
    /// Starts from a [`CaptureStore::save`] at `at`.
    fn restore(&self, bytes: &[u8], at: Millis) -> Result<(), String>;
    /// Consolidated records, updates waiting to be folded, and the size of one record inline
    /// (heap parts such as ids not counted), for reports of what the engine holds.
    fn footprint(&self) -> (usize, usize, usize);
}

impl<D, R> CaptureStore for Captured<D, R>
where
    D: Clone + Eq + Hash + Ord + Send + serde::Serialize + serde::de::DeserializeOwned,
    R: Semigroup + Clone + Send + serde::Serialize + serde::de::DeserializeOwned,
{
    fn compact_shard(&self, shard: usize, upto: Millis) {
        self.fold_shard(shard, upto, |_| {});
    }

    fn shards(&self) -> usize {
        self.shards.len()
    }

    fn frontier(&self) -> Millis {
        self.frontiers
            .iter()
            .map(|f| f.load(Ordering::SeqCst))
            .min()
            .unwrap_or(0)
    }

    fn save(&self, at: Millis) -> Result<Vec<u8>, String> {
        bincode::serialize(&self.totals(at)).map_err(|e| e.to_string())
    }

    /// Starts from a saved collection, complete through `at` (all of it in the first shard).
    fn restore(&self, bytes: &[u8], at: Millis) -> Result<(), String> {
        let totals: Vec<(D, R)> = bincode::deserialize(bytes).map_err(|e| e.to_string())?;
        let mut totals = Some(totals);
        for shard in &self.shards {
            let mut inner = shard.lock().expect("capture lock");
            inner.base = Consolidated::new();
            for (data, diff) in totals.take().unwrap_or_default() {
                inner.base.add(Hashed::new(data, diff));
            }
            inner.pending.clear();
            inner.compacted = Some(at);
        }
        for f in &self.frontiers {
            f.store(at + 1, Ordering::SeqCst);
        }
        Ok(())
    }

    fn footprint(&self) -> (usize, usize, usize) {
        let (rows, pending) = self.shards.iter().fold((0, 0), |(rows, pending), shard| {
            let inner = shard.lock().expect("capture lock");
            (rows + inner.base.len(), pending + inner.pending.len())
        });
        (rows, pending, std::mem::size_of::<(D, Millis, R)>())
    }
}

impl<D: Clone + Eq + Hash + Ord> Captured<D, isize> {
    /// The collection's contents at `as_of`, sorted, each record repeated by its multiplicity.
    pub fn snapshot(&self, as_of: Millis) -> Vec<D> {
        let mut out: Vec<D> = Vec::new();
        for (data, count) in self.totals(as_of) {
            assert!(
                count > 0,
                "negative multiplicity in a captured collection: a dataflow bug"
            );
            out.extend(std::iter::repeat_n(data, count as usize));
        }
        out
    }
}

/// Every output the engine captures: the captures of each policy of the run.
pub struct Outputs {
    /// No snapshot is complete past this (set when a run stops).
    limit: AtomicU64,
    policies: Vec<Arc<dyn Policy>>,
}

impl Outputs {
    fn new(policies: Vec<Arc<dyn Policy>>) -> Outputs {
        Outputs {
            limit: AtomicU64::new(Millis::MAX),
            policies,
        }
    }

    /// The policies of the run, in registry order.
    pub fn policies(&self) -> &[Arc<dyn Policy>] {
        &self.policies
    }

    /// The run's policy of type `P`, if it runs.
    pub fn policy<P: Policy>(&self) -> Option<&P> {
        self.policies
            .iter()
            // Through `&dyn Policy`: the `Arc` is `Any` itself and would never downcast to `P`.
            .find_map(|p| AsAny::as_any(p.as_ref()).downcast_ref::<P>())
    }

    fn stores(&self) -> impl Iterator<Item = (&'static str, &'static str, &dyn CaptureStore)> {
        self.policies.iter().flat_map(|p| {
            let name = p.name();
            p.captures()
                .into_iter()
                .map(move |(capture, store)| (name, capture, store))
        })
    }

    /// The latest time through which every output is complete and stored (None before the
    /// first), so a snapshot at any `t` at or before it is final. Read from the capture sinks'
    /// own frontiers rather than a probe, so no update can still be on its way to a sink.
    pub fn complete_through(&self) -> Option<Millis> {
        let limit = self.limit.load(Ordering::SeqCst);
        self.stores()
            .map(|(_, _, store)| store.frontier())
            .min()
            .and_then(|f| f.checked_sub(1))
            .map(|t| t.min(limit))
    }

    fn limit(&self, as_of: Millis) {
        self.limit.fetch_min(as_of, Ordering::SeqCst);
    }

    /// Every captured collection as of `at` (a completed time), serialised for a checkpoint.
    pub fn save(&self, at: Millis) -> Result<Vec<Vec<u8>>, String> {
        self.stores().map(|(_, _, store)| store.save(at)).collect()
    }

    /// Starts every captured collection from a checkpoint's [`Outputs::save`] at `at`.
    fn restore(&self, saved: &[Vec<u8>], at: Millis) -> Result<(), String> {
        let stores: Vec<_> = self.stores().collect();
        if saved.len() != stores.len() {
            return Err(format!(
                "the checkpoint holds {} captured outputs, this run's policies have {}",
                saved.len(),
                stores.len()
            ));
        }
        for ((policy, capture, store), bytes) in stores.into_iter().zip(saved) {
            store
                .restore(bytes, at)
                .map_err(|e| format!("{policy} {capture}: {e}"))?;
        }
        Ok(())
    }

    /// Per captured collection: its name, consolidated records, updates waiting to be folded,
    /// and the size of one record inline (heap parts such as ids not counted), for reports of
    /// what the engine holds.
    pub fn footprint(&self) -> Vec<(String, usize, usize, usize)> {
        self.stores()
            .map(|(policy, capture, store)| {
                let (rows, pending, inline) = store.footprint();
                (format!("{policy} {capture}"), rows, pending, inline)
            })
            .collect()
    }

    /// Folds everything up to `upto` into the consolidated state, as [`Outputs::compact`], and
    /// returns what a publication writes of it: each policy's changes, the trigger rows added,
    /// and whether a period closed.
    pub fn fold(&self, upto: Millis) -> Folded {
        let mut notes = FoldNotes::default();
        for policy in &self.policies {
            policy.fold(upto, &mut notes);
        }
        notes.finish()
    }

    /// [`Outputs::compact`] of one worker's shard only: each worker can fold what it captured
    /// itself, in parallel with the others, instead of one thread folding them all.
    pub fn compact_shard(&self, worker: usize, upto: Millis) {
        for (_, _, store) in self.stores() {
            store.compact_shard(worker, upto);
        }
    }

    /// Folds everything up to `upto` into the consolidated state (bounded memory in long runs).
    pub fn compact(&self, upto: Millis) {
        for (_, _, store) in self.stores() {
            for shard in 0..store.shards() {
                store.compact_shard(shard, upto);
            }
        }
    }
}

/// One worker's feeds of every policy, and which of them reads each event kind.
struct Inputs {
    feeds: Vec<Box<dyn Feed>>,
    /// Per kind (its index in [`KINDS`]), the feeds that read it.
    routes: Vec<Vec<usize>>,
}

impl Inputs {
    fn new(policies: &[Arc<dyn Policy>], feeds: Vec<Box<dyn Feed>>) -> Inputs {
        let routes = KINDS
            .iter()
            .map(|kind| {
                (0..policies.len())
                    .filter(|&p| policies[p].reads().contains(kind))
                    .collect()
            })
            .collect();
        Inputs { feeds, routes }
    }

    fn advance_to(&mut self, time: Millis) {
        self.feeds.iter_mut().for_each(|f| f.advance_to(time));
    }

    fn flush(&mut self) {
        self.feeds.iter_mut().for_each(|f| f.flush());
    }

    fn feed(&mut self, event: &Event, seq: u64) {
        for &p in &self.routes[event.body.index()] {
            self.feeds[p].feed(event, seq);
        }
    }
}

/// Where a capture keeps its updates: in this process, each worker its own (a worker sends its
/// updates to itself); on a cluster, in process 0, whose `workers` workers share them by hash.
#[derive(Clone, Copy)]
enum Gather {
    Local,
    ToFirstProcess { workers: u64 },
}

/// Where one worker's capture sinks store, and how they report their progress.
pub struct Sinks {
    probe: ProbeHandle<Millis>,
    /// This worker's index among its process's workers.
    worker: usize,
    gather: Gather,
}

impl Sinks {
    /// Stores `collection`'s updates in this worker's shard of `store`.
    pub fn sink<'s, D, R>(
        &self,
        collection: Collection<'s, Millis, D, R>,
        store: &Arc<Captured<D, R>>,
    ) where
        D: timely::ExchangeData + Clone + Eq + Hash + Ord + Hashable<Output = u64>,
        R: Semigroup + timely::ExchangeData + Clone,
    {
        let (store, worker, gather) = (Arc::clone(store), self.worker, self.gather);
        let mut reported = 0;
        collection.probe_with(&self.probe).inner.sink(
            Exchange::new(move |(d, _, _): &(D, Millis, R)| match gather {
                Gather::Local => worker as u64,
                Gather::ToFirstProcess { workers } => d.hashed() % workers,
            }),
            "Capture",
            move |(input, frontier)| {
                input.for_each(|_, data| store.extend(worker, data.drain(..)));
                let reached = frontier.frontier().first().copied().unwrap_or(Millis::MAX);
                if reached != reported {
                    reported = reached;
                    store.frontiers[worker].store(reached, Ordering::SeqCst);
                }
            },
        );
    }
}

/// One worker's handle on the running dataflow.
pub struct Session<'w> {
    worker: &'w mut Worker,
    inputs: Inputs,
    probe: ProbeHandle<Millis>,
    slide: Millis,
    time: Millis,
    outputs: Arc<Outputs>,
    all_settled: Arc<std::sync::Barrier>,
    control: Control,
    /// The policies' dataflow (the control dataflow outlives it at the end of a run).
    main: usize,
    /// This worker's operator states, for checkpoints.
    states: crate::checkpoint::States,
    /// This worker's index among its process's workers: its shard of the captures.
    shard: usize,
}

/// What a worker holds at a checkpoint's cut.
pub struct WorkerCut {
    /// The worker's operator states.
    pub states: crate::checkpoint::WorkerStates,
    /// The captured outputs, every worker's shard (worker 0 of process 0 only, see [`run_on`]).
    pub outputs: Option<Vec<Vec<u8>>>,
}

/// Where a run starts from: a checkpoint's cut at `at` (everything through `at` is in the
/// states), one saved [`WorkerCut`] per worker in worker order.
pub struct Restore {
    pub at: Millis,
    pub workers: Vec<crate::checkpoint::WorkerStates>,
    pub outputs: Vec<Vec<u8>>,
}

impl Session<'_> {
    /// This worker's index; worker 0 is the one that feeds.
    pub fn index(&self) -> usize {
        self.worker.index()
    }

    /// This worker's shard of the captured outputs (see [`Outputs::compact_shard`]).
    pub fn shard(&self) -> usize {
        self.shard
    }

    /// The slot (slide boundary) at which `ts` counts.
    pub fn slot_of(&self, ts: Millis) -> Millis {
        slot(ts, self.slide)
    }

    /// Moves the input to `time` (never backwards); events fed afterwards must be at slots at
    /// or after it.
    pub fn advance_to(&mut self, time: Millis) {
        if time > self.time {
            self.time = time;
            self.inputs.advance_to(time);
        }
    }

    /// Feeds one event at its slot, which must not be before the current input time.
    pub fn feed(&mut self, event: &Event, seq: u64) {
        let at = self.slot_of(event.ts);
        debug_assert!(at >= self.time, "events are fed in slot order");
        self.advance_to(at);
        self.inputs.feed(event, seq);
    }

    /// Feeds one event at its slot without moving the input time, so events may come in any
    /// order as long as none is before the current input time (see [`Session::input_time`]).
    pub fn feed_ahead(&mut self, event: &Event, seq: u64) {
        debug_assert!(
            self.slot_of(event.ts) >= self.time,
            "event before the input time"
        );
        self.inputs.feed(event, seq);
    }

    /// The time the next events are fed at, at the earliest: outputs can complete up to just
    /// before it.
    pub fn input_time(&self) -> Millis {
        self.time
    }

    /// Hands what was fed to the dataflow and does one round of work, without waiting.
    pub fn step(&mut self) {
        self.inputs.flush();
        self.worker.step();
    }

    /// For a worker that does not feed: moves its input along with the feeding worker's
    /// (`fed_to`), so that it never holds the frontier back, and steps its dataflows, parking
    /// while they are idle, until `ready` gives a value (what the feeding worker decides).
    pub fn follow_until<T>(
        &mut self,
        fed_to: &AtomicU64,
        mut ready: impl FnMut() -> Option<T>,
    ) -> T {
        loop {
            if let Some(value) = ready() {
                return value;
            }
            self.advance_to(fed_to.load(Ordering::Acquire));
            self.inputs.flush();
            self.worker
                .step_or_park(Some(std::time::Duration::from_millis(1)));
        }
    }

    /// Waits until every worker has called this (a rendezvous, reusable).
    pub fn rendezvous(&self) {
        self.all_settled.wait();
    }

    /// Works until every output is complete for all times before the current input time.
    pub fn settle(&mut self) {
        self.settle_before(self.time);
    }

    /// Works until every output is complete for all times before `time`: on a cluster the
    /// other processes' inputs count too, so this may wait for them.
    fn settle_before(&mut self, time: Millis) {
        self.inputs.flush();
        let probe = &self.probe;
        self.worker.step_while(|| probe.less_than(&time));
    }

    /// What this worker tells the other processes and hears from them (see [`Control`]).
    pub fn control(&mut self) -> &mut Control {
        &mut self.control
    }

    /// The outputs, shared by all workers.
    pub fn outputs(&self) -> &Arc<Outputs> {
        &self.outputs
    }

    /// Takes this worker's part of a checkpoint at `at`: every operator has processed every
    /// moment through `at` and none after it. Every worker of the run must call this with the
    /// same `at` while its input is not past `at + 1`; events already fed after `at` are not in
    /// the cut (they wait in the operators and are read again after a restore). `handed` is
    /// called with the cut before the workers go on past `at`.
    pub fn checkpoint(&mut self, at: Millis, handed: impl FnOnce(WorkerCut)) {
        let next = at + 1;
        assert!(
            self.time <= next,
            "a checkpoint's cut must not be behind the input"
        );
        self.advance_to(next);
        self.settle_before(next);
        // The captures are sinks after the probe: wait until they hold all of it too. Every
        // worker steps meanwhile, since each reports its own sinks' progress.
        while self.outputs.complete_through().is_none_or(|t| t < at) {
            self.worker.step();
        }
        let gathers = self.worker.index() == 0;
        let states = self.states.borrow().save();
        let outputs = gathers.then(|| self.outputs.save(at).expect("captured outputs serialise"));
        handed(WorkerCut { states, outputs });
        // No worker goes past the cut before every worker has taken its part.
        self.all_settled.wait();
    }

    /// Makes every output complete through `as_of` (inclusive) on this worker. The input may
    /// already be past it (on a cluster, this process may have got further than another).
    pub fn complete_through(&mut self, as_of: Millis) {
        let next = as_of.saturating_add(1);
        self.advance_to(next);
        self.settle_before(next);
    }

    /// Ends the run once every output is complete through `as_of`: the inputs close and, when
    /// all workers are there, the dataflow is dropped rather than run on through retractions
    /// scheduled past `as_of`, which no snapshot at or before `as_of` needs.
    pub fn stop_after(self, as_of: Millis) {
        self.stop_then(as_of, |_| true);
    }

    /// [`Session::stop_after`], then keeps the control dataflow stepping until `linger` says
    /// it is done: a cluster's processes still tell each other how the end went.
    pub fn stop_then(mut self, as_of: Millis, mut linger: impl FnMut(&mut Control) -> bool) {
        self.complete_through(as_of);
        // Inputs closing on one process can move the frontier past `as_of` before the others
        // have closed theirs: snapshots never go past it.
        self.outputs.limit(as_of);
        let Session {
            worker,
            inputs,
            all_settled,
            mut control,
            main,
            ..
        } = self;
        drop(inputs);
        all_settled.wait();
        worker.drop_dataflow(main);
        while !linger(&mut control) {
            worker.step_or_park(Some(std::time::Duration::from_millis(5)));
        }
        worker.drop_dataflow(control.dataflow());
    }
}

/// The engine's time grain: events are fed in order of their slot at this granularity, at or
/// before every policy's own slot (each policy's slide is a whole number of it).
pub fn grain(config: &Config) -> Millis {
    config.grain().millis()
}

/// Where the dataflow's workers run: `workers` threads in each of `addresses.len()` processes
/// (timely's cluster mode), this one being number `process`. One process: no addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub workers: usize,
    pub process: usize,
    pub addresses: Vec<String>,
}

impl Cluster {
    pub fn local(workers: usize) -> Cluster {
        Cluster {
            workers: workers.max(1),
            process: 0,
            addresses: Vec::new(),
        }
    }

    fn timely(&self) -> timely::Config {
        if self.addresses.len() <= 1 {
            return timely::Config::process(self.workers);
        }
        timely::Config {
            communication: timely::CommunicationConfig::Cluster {
                threads: self.workers,
                process: self.process,
                addresses: self.addresses.clone(),
                report: false,
                zerocopy: false,
            },
            worker: timely::WorkerConfig::default(),
        }
    }
}

/// Runs the dataflows on `workers` threads; `driver` runs on every worker with its session and
/// must end by calling [`Session::stop_after`] with the same time on every worker. Returns the
/// captured outputs.
pub fn run<F>(config: &Config, workers: usize, driver: F) -> Result<Arc<Outputs>, String>
where
    F: Fn(Session) + Send + Sync + 'static,
{
    run_on(config, &Cluster::local(workers), driver)
}

/// [`run`] on a cluster. Every output is gathered on the workers of process 0, so that process
/// holds the whole state; the others hold none.
pub fn run_on<F>(config: &Config, cluster: &Cluster, driver: F) -> Result<Arc<Outputs>, String>
where
    F: Fn(Session) + Send + Sync + 'static,
{
    run_from(config, cluster, None, driver)
}

/// [`run_on`] from a checkpoint's cut, when `restore` has one: every operator starts from its
/// saved state, the captured outputs from theirs, and the input at the moment after the cut.
/// One process only, with as many workers as the checkpoint has.
pub fn run_from<F>(
    config: &Config,
    cluster: &Cluster,
    restore: Option<Restore>,
    driver: F,
) -> Result<Arc<Outputs>, String>
where
    F: Fn(Session) + Send + Sync + 'static,
{
    let workers = cluster.workers.max(1);
    let first_local = cluster.process * workers;
    let outputs = Arc::new(Outputs::new(crate::policies::registry(config, workers)));
    let start = match &restore {
        Some(r) if cluster.addresses.len() > 1 => {
            return Err(format!(
                "a checkpoint (through {}) cannot restore a cluster of processes yet: run one process, or remove the checkpoint directory",
                crate::time::format_rfc3339(r.at)
            ))
        }
        Some(r) if r.workers.len() != workers => {
            return Err(format!(
                "the checkpoint was taken with {} workers: run with --workers {} (or remove the checkpoint directory to start from the log)",
                r.workers.len(),
                r.workers.len()
            ))
        }
        Some(r) => {
            outputs.restore(&r.outputs, r.at)?;
            r.at + 1
        }
        None => 0,
    };
    let saved: Mutex<Vec<Option<crate::checkpoint::WorkerStates>>> = Mutex::new(
        restore
            .map(|r| r.workers.into_iter().map(Some).collect())
            .unwrap_or_default(),
    );
    let shared = Arc::clone(&outputs);
    let grain = grain(config);
    let all_settled = Arc::new(std::sync::Barrier::new(workers));
    let heard = crate::control::heard();
    let (process, processes) = (cluster.process, cluster.addresses.len().max(1));
    let guards = timely::execute(cluster.timely(), move |worker| {
        let probe = ProbeHandle::new();
        // Sinks report progress by their index among this process's workers.
        let w = worker.index() - first_local;
        let gather = match processes {
            1 => Gather::Local,
            _ => Gather::ToFirstProcess {
                workers: workers as u64,
            },
        };
        let control = Control::install(worker, Arc::clone(&heard), process, processes);
        let main = worker.next_dataflow_index();
        let mine = saved
            .lock()
            .expect("saved states lock")
            .get_mut(w)
            .and_then(Option::take);
        let states = match mine {
            Some(states) => crate::checkpoint::StateRegistry::restoring(states),
            None => crate::checkpoint::StateRegistry::fresh(),
        };
        let sinks = Sinks {
            probe: probe.clone(),
            worker: w,
            gather,
        };
        let policies = shared.policies();
        let feeds = worker.dataflow::<Millis, _, _>(|scope| {
            policies
                .iter()
                .map(|policy| policy.build(scope.clone(), &states, &sinks))
                .collect()
        });
        let inputs = Inputs::new(policies, feeds);
        if let Err(e) = states.borrow().check() {
            panic!("the checkpoint does not fit this version's dataflow: {e} (remove the checkpoint directory to start from the log)");
        }
        let mut session = Session {
            worker,
            inputs,
            probe,
            slide: grain,
            time: 0,
            outputs: Arc::clone(&shared),
            all_settled: Arc::clone(&all_settled),
            control,
            main,
            states,
            shard: w,
        };
        session.advance_to(start);
        driver(session);
    })?;
    for result in guards.join() {
        result?;
    }
    Ok(outputs)
}

/// Replays events (with their input sequence numbers) in slot order and returns the captured
/// outputs, complete through `as_of`; events after `as_of` are not fed. Snapshots may be read
/// at any time from `read_from` to `as_of`: what comes before is folded away on the way, to
/// bound memory.
pub fn replay(
    config: &Config,
    workers: usize,
    events: Vec<(Event, u64)>,
    as_of: Millis,
    read_from: Millis,
) -> Result<Arc<Outputs>, String> {
    replay_on(config, &Cluster::local(workers), events, as_of, read_from)
}

/// [`replay`] on a cluster: the first worker of process 0 feeds (the other processes' events
/// are not used); process 0 gathers the outputs. The whole of `events` is sorted: no event is
/// late, however far out of order.
pub fn replay_on(
    config: &Config,
    cluster: &Cluster,
    mut events: Vec<(Event, u64)>,
    as_of: Millis,
    read_from: Millis,
) -> Result<Arc<Outputs>, String> {
    let slide = grain(config);
    events.sort_by_key(|(e, seq)| (slot(e.ts, slide), *seq));
    let fed = replay_stream(
        config,
        cluster,
        std::iter::once(events),
        Some(as_of),
        Some(read_from),
    )?;
    Ok(fed.outputs)
}

/// What a streamed replay made: the outputs, complete through `as_of`.
pub struct Replayed {
    pub outputs: Arc<Outputs>,
    /// The moment given, or else the slot of the last event fed (0 when none was).
    pub as_of: Millis,
}

/// Replays chunks of events (with their input sequence numbers) that come in feed order (slot,
/// then sequence number), as they come: nothing but the chunk being fed is held here. Events
/// after `as_of` are not fed; without `as_of`, the replay runs through the last event's slot,
/// which a cluster of processes cannot wait for (each process's workers must stop at the same
/// moment): give it one there. Snapshots may be read at any time from `read_from` (default
/// `as_of`) on: what comes before is folded away on the way, to bound memory.
pub fn replay_stream<I>(
    config: &Config,
    cluster: &Cluster,
    chunks: I,
    as_of: Option<Millis>,
    read_from: Option<Millis>,
) -> Result<Replayed, String>
where
    I: IntoIterator<Item = Vec<(Event, u64)>>,
    I::IntoIter: Send + 'static,
{
    if as_of.is_none() && cluster.addresses.len() > 1 {
        return Err(
            "a replay on a cluster of processes needs its moment up front: give --as-of".to_owned(),
        );
    }
    let read_from = read_from
        .into_iter()
        .chain(as_of)
        .min()
        .unwrap_or(Millis::MAX);
    let chunks = Mutex::new(Some(chunks.into_iter()));
    let ended = Arc::new(std::sync::OnceLock::new());
    let decided = Arc::clone(&ended);
    let fed_to = AtomicU64::new(0);
    let outputs = run_on(config, cluster, move |mut session| {
        let through = if session.index() == 0 {
            let chunks = chunks.lock().expect("chunks lock").take();
            const BATCH: u64 = 1 << 16;
            // Also fold once per day of event time: outputs that are replaced as time passes
            // (the icp live rows) would otherwise pile up between batches of a sparse input.
            const FOLD_EVERY: Millis = 86_400_000;
            let (mut fed, mut folded, mut last) = (0u64, 0, 0);
            for chunk in chunks.into_iter().flatten() {
                for (event, seq) in &chunk {
                    let at = session.slot_of(event.ts);
                    if as_of.is_some_and(|a| at > a) {
                        continue;
                    }
                    session.feed(event, *seq);
                    last = at;
                    fed += 1;
                    if fed % BATCH == 0 || session.time >= folded + FOLD_EVERY {
                        folded = session.time;
                        fed_to.store(session.time, Ordering::Release);
                        session.settle();
                        // Everything before the current input time is complete: fold it.
                        session
                            .outputs()
                            .compact(session.time.saturating_sub(1).min(read_from));
                    }
                }
            }
            let through = as_of.unwrap_or(last);
            let _ = decided.set(through);
            through
        } else {
            match as_of {
                Some(a) => a,
                None => session.follow_until(&fed_to, || decided.get().copied()),
            }
        };
        session.stop_after(through);
    })?;
    let as_of = as_of.or_else(|| ended.get().copied()).unwrap_or(0);
    Ok(Replayed { outputs, as_of })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// The consolidated table holds what a plain map of accumulated differences holds,
        /// through removals that move records and growth that rehashes positions.
        #[test]
        fn consolidated_adds_up_as_a_map_does(
            updates in proptest::collection::vec((0u16..300, -2isize..=2), 0..3000)
        ) {
            let mut table = Consolidated::new();
            let mut model: BTreeMap<u16, isize> = BTreeMap::new();
            for (record, diff) in updates {
                table.add(Hashed::new(record, diff));
                let total = model.entry(record).or_default();
                *total += diff;
                if *total == 0 {
                    model.remove(&record);
                }
            }
            let mut held: Vec<(u16, isize)> =
                table.iter().map(|e| (e.data, e.diff)).collect();
            held.sort();
            prop_assert_eq!(held, model.into_iter().collect::<Vec<_>>());
            for (at, e) in table.records.iter().enumerate() {
                let found = table.positions.find(e.hash, |&i| table.records[i as usize].data == e.data);
                prop_assert_eq!(found.copied(), Some(at as u32));
            }
        }
    }
}
