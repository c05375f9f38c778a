//! The file source: JSONL event files, read in order. Every line is either a valid event (with
//! its input sequence number, which breaks ties of equal timestamps) or a rejection that keeps
//! the line, its reason and where it came from.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};

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

/// Reads the files in order, holding every event. `progress` is called with the bytes read so
/// far, now and then.
pub fn load(paths: &[PathBuf], progress: impl FnMut(u64)) -> Result<Loaded, FileSourceError> {
    let mut events = Vec::new();
    let rejects = stream(
        paths,
        |event, seq| {
            events.push((event, seq));
            Ok(ControlFlow::Continue(()))
        },
        progress,
    )?;
    Ok(Loaded { events, rejects })
}

/// Why `take` refused an event: it becomes a reject, with the line it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub kind: Option<String>,
    pub reason: String,
}

impl From<Rejection> for Refused {
    fn from(r: Rejection) -> Refused {
        Refused {
            reason: r.reason(),
            kind: r.kind,
        }
    }
}

/// Reads the files in order and hands each valid event, with its input sequence number, to
/// `take` as soon as it is decoded, in input order: nothing is held but a few chunks of lines.
/// Returns the lines that were not valid events or that `take` refused. Reading stops early
/// when `take` says `Break`.
pub fn stream(
    paths: &[PathBuf],
    mut take: impl FnMut(Event, u64) -> Result<ControlFlow<()>, Refused>,
    mut progress: impl FnMut(u64),
) -> Result<Vec<Reject>, FileSourceError> {
    // This thread reads lines in chunks and hands them to decoding threads; the decoded chunks
    // come back and are taken here in input order (the flood guard counts in that order), so
    // sequence numbers, admissions and rejects are what one thread reading it all gives.
    let decoders = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Vec<RawLine>)>(IN_FLIGHT);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<(u64, Vec<RawLine>, Vec<Decoded>)>();
    std::thread::scope(|scope| {
        for _ in 0..decoders {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            scope.spawn(move || loop {
                let next = work_rx.lock().expect("decode queue lock").recv();
                let Ok((index, lines)) = next else { break };
                let decoded = lines.iter().map(RawLine::decode).collect();
                if done_tx.send((index, lines, decoded)).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let mut order = InOrder::default();
        let mut admission = Admission {
            paths,
            take: &mut take,
            rejects: Vec::new(),
            seq: 0,
            stopped: false,
        };
        let read = read_chunks(paths, &mut progress, |index, chunk| {
            work_tx
                .send((index, chunk))
                .expect("decoding threads run until the queue closes");
            // Take what has come back in order, without waiting.
            while let Ok(done) = done_rx.try_recv() {
                order.put(done, &mut admission);
            }
            !admission.stopped
        });
        drop(work_tx);
        for done in done_rx.iter() {
            order.put(done, &mut admission);
        }
        read.map(|()| admission.rejects)
    })
}

/// Decoded lines taken in input order: each gets the next sequence number, and is an event
/// taken or a reject.
struct Admission<'p, T> {
    paths: &'p [PathBuf],
    take: T,
    rejects: Vec<Reject>,
    seq: u64,
    /// `take` asked to stop: nothing more is taken.
    stopped: bool,
}

impl<T: FnMut(Event, u64) -> Result<ControlFlow<()>, Refused>> Admission<'_, T> {
    fn chunk(&mut self, lines: Vec<RawLine>, decoded: Vec<Decoded>) {
        for (line, result) in lines.into_iter().zip(decoded) {
            if self.stopped {
                return;
            }
            let taken = result.and_then(|event| (self.take)(event, self.seq));
            if let Ok(ControlFlow::Break(())) = taken {
                self.stopped = true;
            }
            if let Err(Refused { kind, reason }) = taken {
                self.rejects.push(Reject {
                    source: display(&self.paths[line.file]),
                    line: line.line,
                    kind,
                    reason,
                    payload: shown_payload(&line.text),
                });
            }
            self.seq += 1;
        }
    }
}

/// Lines per chunk handed to a decoding thread, and chunks queued for them.
const CHUNK_LINES: usize = 8192;
const IN_FLIGHT: usize = 4;

/// One non-empty line as read: which file, its number there, its trimmed text.
struct RawLine {
    file: usize,
    line: u64,
    text: Vec<u8>,
    too_long: bool,
}

/// A line decoded, or why not.
type Decoded = Result<Event, Refused>;

impl RawLine {
    fn decode(&self) -> Decoded {
        if self.too_long {
            return Err(Refused {
                kind: None,
                reason: format!("line longer than {MAX_LINE_BYTES} bytes: not read"),
            });
        }
        decode(&self.text).map_err(Refused::from)
    }
}

/// Decoded chunks put back in input order.
#[derive(Default)]
struct InOrder {
    next: u64,
    waiting: std::collections::BTreeMap<u64, (Vec<RawLine>, Vec<Decoded>)>,
}

impl InOrder {
    /// Takes chunk `done` and admits every chunk now next in order.
    fn put<T: FnMut(Event, u64) -> Result<ControlFlow<()>, Refused>>(
        &mut self,
        (index, lines, decoded): (u64, Vec<RawLine>, Vec<Decoded>),
        admission: &mut Admission<'_, T>,
    ) {
        self.waiting.insert(index, (lines, decoded));
        while let Some((lines, decoded)) = self.waiting.remove(&self.next) {
            self.next += 1;
            admission.chunk(lines, decoded);
        }
    }
}

/// Reads the files' non-empty lines in order, in chunks of [`CHUNK_LINES`] numbered from 0,
/// until `chunk_read` says to stop.
fn read_chunks(
    paths: &[PathBuf],
    progress: &mut impl FnMut(u64),
    mut chunk_read: impl FnMut(u64, Vec<RawLine>) -> bool,
) -> Result<(), FileSourceError> {
    let mut bytes = 0u64;
    let mut chunk = Vec::with_capacity(CHUNK_LINES);
    let mut index = 0u64;
    for (file_index, path) in paths.iter().enumerate() {
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
            chunk.push(RawLine {
                file: file_index,
                line: line_no,
                text: text.to_vec(),
                too_long,
            });
            if chunk.len() == CHUNK_LINES {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_LINES));
                if !chunk_read(index, full) {
                    return Ok(());
                }
                index += 1;
            }
        }
    }
    if !chunk.is_empty() {
        chunk_read(index, chunk);
    }
    progress(bytes);
    Ok(())
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
