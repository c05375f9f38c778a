//! The file source: JSONL event files, read in order. Every line is either a valid event (with
//! its input sequence number, which breaks ties of equal timestamps) or a rejection that keeps
//! the line, its reason and where it came from.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use meritflow_pipelines::events::{decode, Event, Rejection};

/// Lines longer than this are rejected unread: no event needs a megabyte.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A line that was not a valid event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// The file it came from, as given.
    pub source: String,
    /// 1-based line number within that file.
    pub line: u64,
    pub kind: Option<String>,
    pub reason: String,
    /// The line as read (cut at 4 KiB), so a person can see what was sent.
    pub payload: String,
}

#[derive(Debug, Default)]
pub struct Loaded {
    /// Valid events with their global input sequence numbers (file order, then line order).
    pub events: Vec<(Event, u64)>,
    pub rejects: Vec<Reject>,
}

#[derive(Debug, thiserror::Error)]
pub enum FileSourceError {
    #[error("cannot open event file {path}: {source} (check the path given to --events)")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read event file {path} at line {line}: {source}")]
    Read {
        path: PathBuf,
        line: u64,
        source: std::io::Error,
    },
}

/// How much of a rejected input is kept in the `rejects` table.
pub const PAYLOAD_KEEP: usize = 4096;

/// The start of a rejected input as text, for a person to read.
pub fn shown_payload(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(PAYLOAD_KEEP)]).into_owned()
}

/// Reads the files in order. `progress` is called with the bytes read so far, now and then.
pub fn load(paths: &[PathBuf], progress: impl FnMut(u64)) -> Result<Loaded, FileSourceError> {
    load_admitting(paths, |_| Ok(()), progress)
}

/// [`load`], with each valid event, in input order, put to `admit` (a [`FloodGuard`]'s cap):
/// what it refuses is a reject too.
///
/// [`FloodGuard`]: meritflow_pipelines::flood::FloodGuard
pub fn load_admitting(
    paths: &[PathBuf],
    mut admit: impl FnMut(&Event) -> Result<(), Rejection>,
    mut progress: impl FnMut(u64),
) -> Result<Loaded, FileSourceError> {
    let mut loaded = Loaded::default();
    let mut seq = 0u64;
    let mut bytes = 0u64;
    for path in paths {
        let file = File::open(path).map_err(|source| FileSourceError::Open {
            path: path.clone(),
            source,
        })?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut line_no = 0u64;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let read =
                read_line(&mut reader, &mut buf).map_err(|source| FileSourceError::Read {
                    path: path.clone(),
                    line: line_no + 1,
                    source,
                })?;
            let Some(too_long) = read else { break };
            line_no += 1;
            bytes += buf.len() as u64 + 1;
            if line_no % 65_536 == 0 {
                progress(bytes);
            }
            let text = trim_line(&buf);
            if text.is_empty() && !too_long {
                continue;
            }
            let result = if too_long {
                Err((
                    None,
                    format!("line longer than {MAX_LINE_BYTES} bytes: not read"),
                ))
            } else {
                decode(text)
                    .and_then(|event| admit(&event).map(|()| event))
                    .map_err(|r| (r.kind.clone(), r.reason()))
            };
            match result {
                Ok(event) => loaded.events.push((event, seq)),
                Err((kind, reason)) => loaded.rejects.push(Reject {
                    source: display(path),
                    line: line_no,
                    kind,
                    reason,
                    payload: shown_payload(text),
                }),
            }
            seq += 1;
        }
    }
    progress(bytes);
    Ok(loaded)
}

/// Reads one line into `buf` (without the newline), keeping at most `MAX_LINE_BYTES`.
/// `None` at end of file; `Some(true)` when the line was longer and was cut.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    let read = reader
        .by_ref()
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', buf)?;
    if read == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(false));
    }
    if buf.len() <= MAX_LINE_BYTES {
        return Ok(Some(false)); // last line without a newline
    }
    // Skip the rest of an overlong line.
    let mut skip = Vec::new();
    loop {
        skip.clear();
        let n = reader.by_ref().take(1 << 16).read_until(b'\n', &mut skip)?;
        if n == 0 || skip.last() == Some(&b'\n') {
            break;
        }
    }
    buf.truncate(PAYLOAD_KEEP);
    Ok(Some(true))
}

fn trim_line(buf: &[u8]) -> &[u8] {
    let end = buf
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let start = buf[..end]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(end);
    &buf[start..end]
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Total size of the files, for a progress bar; unreadable files count 0 (they fail later).
pub fn total_bytes(paths: &[PathBuf]) -> u64 {
    paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn bad_lines_are_kept_with_their_reason_and_good_lines_count() {
        let dir = std::env::temp_dir().join(format!("meritflow-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let mut f = File::create(&path).unwrap();
        writeln!(f, r#"{{"kind":"node_left","ts":1,"node":"a"}}"#).unwrap();
        writeln!(f).unwrap();
        writeln!(f, "garbage").unwrap();
        write!(f, r#"{{"kind":"node_left","ts":2,"node":"b"}}"#).unwrap();
        drop(f);
        let loaded = load(&[path], |_| {}).unwrap();
        assert_eq!(loaded.events.len(), 2);
        assert_eq!(
            loaded.events[1].1, 2,
            "sequence numbers follow the lines that carry something"
        );
        assert_eq!(loaded.rejects.len(), 1);
        assert_eq!(loaded.rejects[0].line, 3);
        assert_eq!(loaded.rejects[0].payload, "garbage");
        assert!(loaded.rejects[0].reason.starts_with("not valid JSON"));
    }

    #[test]
    fn a_missing_file_says_which() {
        let err = load(&[PathBuf::from("/nonexistent/x.jsonl")], |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/nonexistent/x.jsonl") && err.contains("--events"),
            "{err}"
        );
    }
}
