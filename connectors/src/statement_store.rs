//! The statement store: each closed period's statement of each policy, written once as a
//! Parquet file under `<dir>/policy=<policy>/period=<period>/statement.parquet` and never
//! changed afterwards. A statement is identified by the sha256 of its rows in a canonical text
//! form, so a replay that reproduces it can prove it did, and one that would change it is told.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Decimal128Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use meritflow_pipelines::statement::StatementRow;
use meritflow_pipelines::table::{decimal128_scale, decimal128_value, DECIMAL128_DIGITS};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

const FILE_NAME: &str = "statement.parquet";
const SHA_KEY: &str = "meritflow.sha256";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("statement store {path}: {message}")]
    Io { path: String, message: String },
    /// The disk refused the write (full, read-only, no permission): nothing of the statement
    /// is visible, and the caller may try again later.
    #[error("statement store {path}: {message}; {advice} (nothing of this statement is visible; it is written when the store takes it)")]
    Refused {
        path: String,
        message: String,
        advice: &'static str,
    },
    #[error("statement file {path} is not a meritflow statement: {message}")]
    Format { path: String, message: String },
}

/// What writing a statement did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// Written now.
    New { sha256: String },
    /// Already stored with the same rows.
    Same { sha256: String },
    /// Already stored with different rows: the stored one stands.
    Conflict { stored: String, computed: String },
}

pub struct StatementStore {
    dir: PathBuf,
}

impl StatementStore {
    pub fn new(dir: impl Into<PathBuf>) -> StatementStore {
        StatementStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of one statement (which may not exist yet). Policy names and periods are the
    /// only names that reach a path, and only as lowercase letters, digits, `-` and `_`
    /// (`icp`, `2026-10`, `2026-W41`): anything else, `..` or `/` included, is refused.
    pub fn file(&self, policy: &str, period: &str) -> Result<PathBuf, StoreError> {
        for (what, name) in [("policy", policy), ("period", period)] {
            let plain = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !plain {
                return Err(StoreError::Format {
                    path: self.dir.display().to_string(),
                    message: format!(
                        "{what} {name:?} is not a statement name (letters, digits, - and _ only)"
                    ),
                });
            }
        }
        Ok(self
            .dir
            .join(format!("policy={policy}"))
            .join(format!("period={period}"))
            .join(FILE_NAME))
    }

    /// Writes one period's statement (all `rows` of one policy and period) unless it is
    /// stored already; a stored statement is never replaced.
    pub fn write(&self, rows: &[StatementRow]) -> Result<Written, StoreError> {
        let Some(first) = rows.first() else {
            return Err(StoreError::Format {
                path: self.dir.display().to_string(),
                message: "an empty statement cannot be written".into(),
            });
        };
        debug_assert!(rows
            .iter()
            .all(|r| r.policy == first.policy && r.period == first.period));
        let computed = sha256(rows);
        let path = self.file(&first.policy, &first.period)?;
        if path.exists() {
            let stored = sha256(&read_file(&path)?);
            return Ok(if stored == computed {
                Written::Same { sha256: stored }
            } else {
                Written::Conflict { stored, computed }
            });
        }
        let io = |e: std::io::Error| refused(&path, e);
        let parent = path.parent().expect("statement files sit in a directory");
        std::fs::create_dir_all(parent).map_err(io)?;
        // Written aside, synced, renamed into place and the directory synced: a reader never
        // sees half a statement, and a crash after this returns cannot lose it.
        let partial = parent.join(format!(".{FILE_NAME}.partial"));
        let placed = write_file(&partial, rows, &computed)
            .inspect(|()| crate::durable::failpoint("statement-write"))
            .and_then(|()| std::fs::rename(&partial, &path).map_err(io))
            .and_then(|()| crate::durable::sync_dir(parent).map_err(io));
        if let Err(e) = placed {
            // A full disk keeps nothing of a failed attempt.
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        Ok(Written::New { sha256: computed })
    }

    /// One stored statement, or None when that period has none.
    pub fn read(
        &self,
        policy: &str,
        period: &str,
    ) -> Result<Option<Vec<StatementRow>>, StoreError> {
        let path = self.file(policy, period)?;
        if !path.exists() {
            return Ok(None);
        }
        read_file(&path).map(Some)
    }

    /// Every stored statement's rows, by policy and period.
    pub fn read_all(&self) -> Result<Vec<StatementRow>, StoreError> {
        let mut rows = Vec::new();
        for (policy, period) in self.periods()? {
            rows.extend(read_file(&self.file(&policy, &period)?)?);
        }
        Ok(rows)
    }

    /// The (policy, period) pairs stored, sorted.
    pub fn periods(&self) -> Result<Vec<(String, String)>, StoreError> {
        let list = |dir: &Path, prefix: &str| -> Result<Vec<String>, StoreError> {
            let entries = match std::fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => {
                    return Err(StoreError::Io {
                        path: dir.display().to_string(),
                        message: e.to_string(),
                    })
                }
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_prefix(prefix)
                        .map(str::to_owned)
                })
                .collect();
            names.sort();
            Ok(names)
        };
        let mut pairs = Vec::new();
        for policy in list(&self.dir, "policy=")? {
            let dir = self.dir.join(format!("policy={policy}"));
            for period in list(&dir, "period=")? {
                // Only names this store would write (others are not statements of ours).
                if self.file(&policy, &period).is_ok_and(|f| f.exists()) {
                    pairs.push((policy.clone(), period));
                }
            }
        }
        Ok(pairs)
    }
}

/// Rows split into statements, by (policy, period).
pub fn by_statement<'r>(
    rows: impl IntoIterator<Item = &'r StatementRow>,
) -> BTreeMap<(String, String), Vec<StatementRow>> {
    let mut groups: BTreeMap<(String, String), Vec<StatementRow>> = BTreeMap::new();
    for row in rows {
        groups
            .entry((row.policy.clone(), row.period.clone()))
            .or_default()
            .push(row.clone());
    }
    groups
}

/// The sha256 (hex) of rows in canonical form: sorted, one line each, tab-separated fields,
/// amounts normalised (no trailing zeros), a missing node as an empty field.
pub fn sha256(rows: &[StatementRow]) -> String {
    let mut sorted: Vec<&StatementRow> = rows.iter().collect();
    sorted.sort();
    let mut hasher = Sha256::new();
    for r in sorted {
        hasher.update(canonical_line(r).as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn canonical_line(r: &StatementRow) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\n",
        r.period,
        r.policy,
        r.provider,
        r.node.as_deref().unwrap_or(""),
        r.amount.normalize(),
        r.detail
    )
}

/// An I/O error of the store, with what to do about it when the disk refused.
fn refused(path: &Path, e: std::io::Error) -> StoreError {
    use std::io::ErrorKind::*;
    let advice = match e.kind() {
        StorageFull | QuotaExceeded | FileTooLarge => {
            "the disk is full: free space or point statements.storage_dir at a larger disk"
        }
        ReadOnlyFilesystem => {
            "the file system is read-only: remount it read-write or point statements.storage_dir elsewhere"
        }
        PermissionDenied => "no permission: let meritflow's user write statements.storage_dir",
        _ => {
            return StoreError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            }
        }
    };
    StoreError::Refused {
        path: path.display().to_string(),
        message: e.to_string(),
        advice,
    }
}

fn write_file(path: &Path, rows: &[StatementRow], sha: &str) -> Result<(), StoreError> {
    let io = |message: String| StoreError::Io {
        path: path.display().to_string(),
        message,
    };
    let scale = decimal128_scale(rows.iter().map(|r| r.amount));
    if rows.iter().any(|r| r.amount.normalize().scale() > scale) {
        return Err(io(format!(
            "an amount needs more than 38 digits at scale {scale}: it cannot be stored exactly"
        )));
    }
    let text = |f: fn(&StatementRow) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let amounts: Decimal128Array = rows
        .iter()
        .map(|r| Some(decimal128_value(r.amount, scale)))
        .collect::<Decimal128Array>()
        .with_precision_and_scale(DECIMAL128_DIGITS as u8, scale as i8)
        .map_err(|e| io(e.to_string()))?;
    let schema = Arc::new(schema(scale));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            text(|r| Some(r.period.clone())),
            text(|r| Some(r.policy.clone())),
            text(|r| Some(r.provider.to_string())),
            text(|r| r.node.as_ref().map(|n| n.to_string())),
            Arc::new(amounts),
            text(|r| Some(r.detail.clone())),
        ],
    )
    .map_err(|e| io(e.to_string()))?;
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(
            SHA_KEY.to_owned(),
            sha.to_owned(),
        )]))
        .build();
    // Encoded in memory first: the disk's own error (full, read-only) then reaches the
    // caller with its kind, which the Parquet writer's buffering would turn into text.
    let mut writer =
        ArrowWriter::try_new(Vec::new(), schema, Some(props)).map_err(|e| io(e.to_string()))?;
    writer.write(&batch).map_err(|e| io(e.to_string()))?;
    let bytes = writer.into_inner().map_err(|e| io(e.to_string()))?;
    crate::durable::write_synced(path, &bytes).map_err(|e| refused(path, e))
}

fn schema(scale: u32) -> Schema {
    Schema::new(vec![
        Field::new("period", DataType::Utf8, false),
        Field::new("policy", DataType::Utf8, false),
        Field::new("provider", DataType::Utf8, false),
        Field::new("node", DataType::Utf8, true),
        Field::new(
            "amount",
            DataType::Decimal128(DECIMAL128_DIGITS as u8, scale as i8),
            false,
        ),
        Field::new("detail", DataType::Utf8, false),
    ])
}

fn read_file(path: &Path) -> Result<Vec<StatementRow>, StoreError> {
    let format = |message: String| StoreError::Format {
        path: path.display().to_string(),
        message,
    };
    let file = File::open(path).map_err(|e| StoreError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| format(e.to_string()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format(e.to_string()))?;
        let text = |name: &str| -> Result<&StringArray, StoreError> {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .ok_or_else(|| format(format!("no text column `{name}`")))
        };
        let (period, policy, provider, node, detail) = (
            text("period")?,
            text("policy")?,
            text("provider")?,
            text("node")?,
            text("detail")?,
        );
        let amount = batch
            .column_by_name("amount")
            .and_then(|c| c.as_any().downcast_ref::<Decimal128Array>())
            .ok_or_else(|| format("no decimal column `amount`".into()))?;
        let scale = amount.scale() as u32;
        for i in 0..batch.num_rows() {
            rows.push(StatementRow {
                period: period.value(i).to_owned(),
                policy: policy.value(i).to_owned(),
                provider: provider.value(i).into(),
                node: (!node.is_null(i)).then(|| node.value(i).into()),
                amount: decimal(amount.value(i), scale)
                    .map_err(|e| format(format!("amount in row {i}: {e}")))?,
                detail: detail.value(i).to_owned(),
            });
        }
    }
    Ok(rows)
}

/// A stored amount back as a decimal: the file's common scale may put more digits in the
/// mantissa than rust_decimal's 96 bits hold, but only as trailing zeros.
fn decimal(mut mantissa: i128, mut scale: u32) -> Result<Decimal, rust_decimal::Error> {
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    Decimal::try_from_i128_with_scale(mantissa, scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn row(provider: &str, node: Option<&str>, amount: &str) -> StatementRow {
        StatementRow {
            period: "2026-10".into(),
            policy: "icp".into(),
            provider: provider.into(),
            node: node.map(Into::into),
            amount: Decimal::from_str(amount).unwrap(),
            detail: "{}".into(),
        }
    }

    #[test]
    fn written_once_read_back_exactly() {
        let dir = std::env::temp_dir().join(format!("meritflow-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = StatementStore::new(&dir);
        let rows = vec![
            row("p", None, "310000"),
            row("p", Some("a"), "8933.3333333333333333333333"),
            row("q", Some("b"), "0.0328542094455852156057494867"),
        ];
        let Written::New { sha256: sha } = store.write(&rows).unwrap() else {
            panic!("first write")
        };
        let back = store.read("icp", "2026-10").unwrap().unwrap();
        assert_eq!(back, rows);
        assert_eq!(super::sha256(&back), sha);
        assert_eq!(
            store.write(&rows).unwrap(),
            Written::Same {
                sha256: sha.clone()
            }
        );
        let mut changed = rows.clone();
        changed[0].amount = Decimal::from(1);
        assert!(
            matches!(store.write(&changed).unwrap(), Written::Conflict { stored, .. } if stored == sha)
        );
        assert_eq!(
            store.read("icp", "2026-10").unwrap().unwrap(),
            rows,
            "unchanged"
        );
        assert_eq!(
            store.periods().unwrap(),
            [("icp".to_owned(), "2026-10".to_owned())]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("meritflow-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sample() -> Vec<StatementRow> {
        vec![row("p", None, "310000"), row("p", Some("a"), "12.5")]
    }

    /// What a reader of the store sees: no statement at all.
    fn nothing_visible(store: &StatementStore) {
        assert_eq!(store.periods().unwrap(), []);
        assert!(store.read("icp", "2026-10").unwrap().is_none());
        assert!(store.read_all().unwrap().is_empty());
    }

    #[test]
    fn a_full_disk_is_a_clear_error_leaves_nothing_visible_and_a_retry_writes_it() {
        let dir = scratch("full");
        let store = StatementStore::new(&dir);
        let file = store.file("icp", "2026-10").unwrap();
        let parent = file.parent().unwrap();
        std::fs::create_dir_all(parent).unwrap();
        // The file being written is the kernel's always-full device: every write is ENOSPC.
        std::os::unix::fs::symlink("/dev/full", parent.join(".statement.parquet.partial")).unwrap();
        let err = store.write(&sample()).unwrap_err();
        assert!(
            matches!(&err, StoreError::Refused { advice, .. } if advice.contains("disk is full")),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("nothing of this statement is visible"),
            "{err}"
        );
        nothing_visible(&store);
        assert_eq!(
            std::fs::read_dir(parent).unwrap().count(),
            0,
            "the failed attempt left nothing behind"
        );
        // Space again (the attempt's leftovers are gone): the retry stores the statement.
        assert_eq!(
            store.write(&sample()).unwrap(),
            Written::New {
                sha256: super::sha256(&sample())
            }
        );
        assert_eq!(store.read("icp", "2026-10").unwrap().unwrap(), sample());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Makes `dir` refuse writes as a real disk would: a read-only tmpfs mounted on it where
    /// this process may mount (root, where permissions would not stop it), otherwise no write
    /// permission. Dropping it makes the directory writable again.
    struct ReadOnly {
        dir: PathBuf,
        mounted: bool,
    }

    impl ReadOnly {
        fn make(dir: &Path) -> ReadOnly {
            use std::os::unix::fs::PermissionsExt;
            let root = std::process::Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
            if root {
                let mounted = std::process::Command::new("mount")
                    .args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"])
                    .arg(dir)
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(
                    mounted,
                    "as root this test mounts a read-only tmpfs, and could not"
                );
                return ReadOnly {
                    dir: dir.to_owned(),
                    mounted: true,
                };
            }
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
            ReadOnly {
                dir: dir.to_owned(),
                mounted: false,
            }
        }
    }

    impl Drop for ReadOnly {
        fn drop(&mut self) {
            use std::os::unix::fs::PermissionsExt;
            if self.mounted {
                let _ = std::process::Command::new("umount").arg(&self.dir).status();
            } else {
                let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o755));
            }
        }
    }

    #[test]
    fn a_read_only_store_is_a_clear_error_until_it_is_writable_again() {
        let dir = scratch("read-only");
        let store = StatementStore::new(&dir);
        let read_only = ReadOnly::make(&dir);
        let err = store.write(&sample()).unwrap_err();
        assert!(
            matches!(&err, StoreError::Refused { advice, .. }
                if advice.contains("read-only") || advice.contains("no permission")),
            "{err}"
        );
        nothing_visible(&store);
        drop(read_only);
        assert!(matches!(
            store.write(&sample()).unwrap(),
            Written::New { .. }
        ));
        assert_eq!(store.read("icp", "2026-10").unwrap().unwrap(), sample());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_that_would_leave_the_store_are_refused() {
        let store = StatementStore::new("/tmp/meritflow-store-names");
        for (policy, period) in [
            ("../../etc", "2026-10"),
            ("icp", "2026-10/../../x"),
            ("icp/evil", "2026-10"),
            ("", "2026-10"),
            ("icp", "2026 10"),
        ] {
            assert!(store.file(policy, period).is_err(), "{policy:?} {period:?}");
            assert!(store.read(policy, period).is_err(), "{policy:?} {period:?}");
        }
        assert!(store.file("icp", "2026-W41").is_ok());
        assert!(store.file("sla", "2026-10-05").is_ok());
    }
}
