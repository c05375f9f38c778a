//! Checkpoints on disk: one directory per cut, `<dir>/cut-<ms>/`, holding each worker's
//! operator states, the captured outputs, what the publisher last wrote, and `manifest.json`
//! naming them with their sha256 and the input offsets the cut covers. A checkpoint is written
//! into a hidden `.cut-<ms>.partial/`, every file synced, the manifest last, then renamed into
//! place and the directory synced: a directory named `cut-*` is complete. Reading takes the
//! newest one whose files match their manifest; older complete ones beyond `keep` are removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use meritflow_pipelines::checkpoint::WorkerStates;
use meritflow_pipelines::time::{format_rfc3339, Millis};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::durable::{failpoint, sync_dir, write_synced};

/// The version of the layout below; a checkpoint of another is not read.
const VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path}: {message} (the run goes on; the next checkpoint tries again, and offsets stay uncommitted until one is written)")]
    Write { path: String, message: String },
    #[error("checkpoint directory {path}: {message}")]
    Read { path: String, message: String },
}

/// What a cut covers of one input partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionCut {
    pub topic: String,
    pub partition: i32,
    /// Where reading resumes: the first offset not in the cut.
    pub resume: i64,
    /// The last offset read when the cut was taken (−1: none).
    pub last: i64,
    /// Offsets from `resume` through `last` that are not in the cut (events after its moment,
    /// waiting in the operators): read again. The others in that range are in the cut already.
    pub after_cut: Vec<i64>,
    /// The `ingest` counters of the messages in the cut.
    pub events: u64,
    pub rejected: u64,
    pub late: u64,
    /// The newest event ts read from it (its watermark plus the allowed lateness).
    pub newest_ts: Option<Millis>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FileEntry {
    name: String,
    sha256: String,
    bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    /// Everything through this moment (ms since the epoch) is in the states.
    at: Millis,
    at_text: String,
    workers: usize,
    /// What the policy settings were; a checkpoint taken under others is not restored.
    config: String,
    files: Vec<FileEntry>,
    partitions: Vec<PartitionCut>,
}

/// What the publisher had written out last, so that a restart can take back what is gone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Per node, the fingerprint of the scores row last written (decimal).
    pub scores: HashMap<String, String>,
    pub triggers: HashMap<String, String>,
}

/// One checkpoint, as written and as read back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    pub at: Millis,
    pub config: String,
    pub workers: Vec<WorkerStates>,
    pub outputs: Vec<Vec<u8>>,
    pub published: Published,
    pub partitions: Vec<PartitionCut>,
}

pub struct CheckpointStore {
    dir: PathBuf,
    keep: usize,
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn cut_name(at: Millis) -> String {
    format!("cut-{at:015}")
}

impl CheckpointStore {
    pub fn new(dir: impl Into<PathBuf>, keep: usize) -> CheckpointStore {
        CheckpointStore {
            dir: dir.into(),
            keep: keep.max(1),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `checkpoint` durably (see the module doc) and removes what it supersedes;
    /// returns its directory.
    pub fn write(&self, checkpoint: &Checkpoint) -> Result<PathBuf, CheckpointError> {
        let partial = self
            .dir
            .join(format!(".{}.partial", cut_name(checkpoint.at)));
        let written = self.write_aside(checkpoint, &partial);
        if written.is_err() {
            // A full disk keeps nothing of a failed attempt.
            let _ = std::fs::remove_dir_all(&partial);
        }
        written
    }

    fn write_aside(
        &self,
        checkpoint: &Checkpoint,
        partial: &Path,
    ) -> Result<PathBuf, CheckpointError> {
        let name = cut_name(checkpoint.at);
        let fail = |path: &Path, e: &dyn std::fmt::Display| CheckpointError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if partial.exists() {
            std::fs::remove_dir_all(partial).map_err(|e| fail(partial, &e))?;
        }
        std::fs::create_dir_all(partial).map_err(|e| fail(partial, &e))?;
        let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, states) in checkpoint.workers.iter().enumerate() {
            blobs.push((format!("worker-{i}.bin"), encode(states)));
        }
        blobs.push(("outputs.bin".into(), encode(&checkpoint.outputs)));
        blobs.push(("published.bin".into(), encode(&checkpoint.published)));
        let mut files = Vec::new();
        for (file, bytes) in &blobs {
            let path = partial.join(file);
            write_synced(&path, bytes).map_err(|e| fail(&path, &e))?;
            files.push(FileEntry {
                name: file.clone(),
                sha256: sha256(bytes),
                bytes: bytes.len() as u64,
            });
        }
        failpoint("checkpoint-write");
        let manifest = Manifest {
            version: VERSION,
            at: checkpoint.at,
            at_text: format_rfc3339(checkpoint.at),
            workers: checkpoint.workers.len(),
            config: checkpoint.config.clone(),
            files,
            partitions: checkpoint.partitions.clone(),
        };
        let path = partial.join(MANIFEST);
        let text = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
        write_synced(&path, &text).map_err(|e| fail(&path, &e))?;
        sync_dir(partial).map_err(|e| fail(partial, &e))?;
        let placed = self.dir.join(&name);
        if placed.exists() {
            // The same cut again (a shutdown right after a checkpoint): the new one replaces it.
            std::fs::remove_dir_all(&placed).map_err(|e| fail(&placed, &e))?;
        }
        std::fs::rename(partial, &placed).map_err(|e| fail(&placed, &e))?;
        sync_dir(&self.dir).map_err(|e| fail(&self.dir, &e))?;
        self.prune(checkpoint.at);
        Ok(placed)
    }

    /// Removes complete checkpoints older than the newest `keep` and any partial one left by a
    /// crash. A removal that fails is only logged: it costs disk, not correctness.
    fn prune(&self, newest: Millis) {
        let Ok(cuts) = self.cuts() else { return };
        let mut complete: Vec<Millis> = cuts.iter().filter(|c| c.1).map(|c| c.0).collect();
        complete.sort_unstable();
        let cut_off = complete.len().saturating_sub(self.keep);
        for at in &complete[..cut_off] {
            let path = self.dir.join(cut_name(*at));
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!(path = %path.display(), error = %e, "an old checkpoint could not be removed");
            }
        }
        for (at, _) in cuts.iter().filter(|c| !c.1 && c.0 <= newest) {
            let _ = std::fs::remove_dir_all(self.dir.join(format!(".{}.partial", cut_name(*at))));
        }
    }

    /// (cut, complete) of every checkpoint directory.
    fn cuts(&self) -> Result<Vec<(Millis, bool)>, CheckpointError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(CheckpointError::Read {
                    path: self.dir.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        let mut cuts = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let (complete, number) = match name.strip_prefix("cut-") {
                Some(n) => (true, n),
                None => match name
                    .strip_prefix(".cut-")
                    .and_then(|n| n.strip_suffix(".partial"))
                {
                    Some(n) => (false, n),
                    None => continue,
                },
            };
            if let Ok(at) = number.parse::<Millis>() {
                cuts.push((at, complete));
            }
        }
        Ok(cuts)
    }

    /// The newest complete checkpoint whose files match their manifest (None: there is none).
    /// One that does not is skipped with a warning, and an older one is tried.
    pub fn latest(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let mut complete: Vec<Millis> = self
            .cuts()?
            .into_iter()
            .filter(|c| c.1)
            .map(|c| c.0)
            .collect();
        complete.sort_unstable_by(|a, b| b.cmp(a));
        for at in complete {
            let path = self.dir.join(cut_name(at));
            match read(&path) {
                Ok(checkpoint) => return Ok(Some(checkpoint)),
                Err(message) => {
                    tracing::warn!(path = %path.display(), %message, "checkpoint not usable; trying an older one")
                }
            }
        }
        Ok(None)
    }
}

fn read(path: &Path) -> Result<Checkpoint, String> {
    let text = std::fs::read(path.join(MANIFEST)).map_err(|e| format!("{MANIFEST}: {e}"))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| format!("{MANIFEST}: {e}"))?;
    if manifest.version != VERSION {
        return Err(format!(
            "layout version {} (this meritflow reads {VERSION})",
            manifest.version
        ));
    }
    let mut blobs: HashMap<String, Vec<u8>> = HashMap::new();
    for file in &manifest.files {
        let bytes =
            std::fs::read(path.join(&file.name)).map_err(|e| format!("{}: {e}", file.name))?;
        if sha256(&bytes) != file.sha256 {
            return Err(format!(
                "{} does not match its sha256 in the manifest",
                file.name
            ));
        }
        blobs.insert(file.name.clone(), bytes);
    }
    fn decode<T: serde::de::DeserializeOwned>(
        blobs: &HashMap<String, Vec<u8>>,
        name: &str,
    ) -> Result<T, String> {
        let bytes = blobs
            .get(name)
            .ok_or_else(|| format!("the manifest names no {name}"))?;
        bincode::deserialize(bytes).map_err(|e| format!("{name}: {e}"))
    }
    let workers = (0..manifest.workers)
        .map(|i| decode(&blobs, &format!("worker-{i}.bin")))
        .collect::<Result<Vec<WorkerStates>, String>>()?;
    Ok(Checkpoint {
        at: manifest.at,
        config: manifest.config,
        workers,
        outputs: decode(&blobs, "outputs.bin")?,
        published: decode(&blobs, "published.bin")?,
        partitions: manifest.partitions,
    })
}

fn encode<T: Serialize>(part: &T) -> Vec<u8> {
    bincode::serialize(part).expect("checkpoint parts serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(at: Millis) -> Checkpoint {
        let mut states = WorkerStates::new();
        states.insert("op".into(), vec![1, 2, 3]);
        Checkpoint {
            at,
            config: "cfg".into(),
            workers: vec![states.clone(), states],
            outputs: vec![vec![9; 10]],
            published: Published::default(),
            partitions: vec![PartitionCut {
                topic: "t".into(),
                partition: 0,
                resume: 5,
                last: 9,
                after_cut: vec![5, 8],
                events: 7,
                rejected: 1,
                late: 0,
                newest_ts: Some(99),
            }],
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("meritflow-ckpt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_newest_complete_checkpoint_is_read_back_and_old_ones_go() {
        let store = CheckpointStore::new(scratch("newest"), 2);
        for at in [1_000, 2_000, 3_000] {
            store.write(&checkpoint(at)).unwrap();
        }
        assert_eq!(store.latest().unwrap(), Some(checkpoint(3_000)));
        let mut names: Vec<String> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec![cut_name(2_000), cut_name(3_000)]);
    }

    #[test]
    fn a_partial_or_damaged_checkpoint_is_passed_over() {
        let store = CheckpointStore::new(scratch("damaged"), 3);
        store.write(&checkpoint(1_000)).unwrap();
        store.write(&checkpoint(2_000)).unwrap();
        // A crash during a write leaves a partial directory: never read.
        let partial = store.dir().join(format!(".{}.partial", cut_name(3_000)));
        std::fs::create_dir_all(&partial).unwrap();
        std::fs::write(partial.join("worker-0.bin"), b"half").unwrap();
        // A damaged file in the newest complete one: the one before it is read.
        std::fs::write(store.dir().join(cut_name(2_000)).join("outputs.bin"), b"x").unwrap();
        assert_eq!(store.latest().unwrap(), Some(checkpoint(1_000)));
        // The next write clears the partial directory away.
        store.write(&checkpoint(4_000)).unwrap();
        assert!(!partial.exists());
    }

    #[test]
    fn a_full_disk_fails_the_write_leaves_nothing_and_keeps_the_last_checkpoint() {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !root {
            eprintln!("not root: a small tmpfs cannot be mounted, the full-disk case is not run");
            return;
        }
        let dir = scratch("full");
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            mounted,
            "as root this test mounts a small tmpfs, and could not"
        );
        let store = CheckpointStore::new(&dir, 2);
        store.write(&checkpoint(1_000)).unwrap();
        let mut big = checkpoint(2_000);
        big.outputs = vec![vec![7; 1 << 20]];
        let err = store.write(&big).unwrap_err().to_string();
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let latest = store.latest().unwrap();
        let _ = std::process::Command::new("umount").arg(&dir).status();
        assert!(
            err.contains("No space left") && err.contains("offsets stay uncommitted"),
            "{err}"
        );
        assert_eq!(
            names,
            vec![cut_name(1_000)],
            "nothing of the failed write is left"
        );
        assert_eq!(latest, Some(checkpoint(1_000)));
    }

    #[test]
    fn no_directory_means_no_checkpoint() {
        let store = CheckpointStore::new(scratch("none"), 2);
        assert_eq!(store.latest().unwrap(), None);
    }
}
