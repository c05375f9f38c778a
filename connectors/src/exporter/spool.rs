//! The exporter's bounded on-disk spool: each batch of samples is one segment file, written
//! aside and renamed into place, sent and deleted oldest first. When the broker is away the
//! segments pile up to `max_segments`; beyond that the oldest is dropped and its samples
//! counted, never silently. A restarted exporter finds its spool and sends it first.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool directory {dir}: {source}; give --spool DIR somewhere writable")]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("spool segment {path}: {source}")]
    Segment {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct Spool {
    dir: PathBuf,
    max_segments: usize,
    /// Segment numbers on disk, oldest first.
    segments: std::collections::VecDeque<u64>,
    next: u64,
    /// Samples dropped because the spool was full.
    pub dropped: u64,
}

impl Spool {
    pub fn open(dir: &Path, max_segments: usize) -> Result<Spool, SpoolError> {
        let err = |source| SpoolError::Dir {
            dir: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(err)?;
        let mut segments: Vec<u64> = fs::read_dir(dir)
            .map_err(err)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".jsonl")?.parse().ok()
            })
            .collect();
        segments.sort_unstable();
        let next = segments.last().map_or(0, |s| s + 1);
        Ok(Spool {
            dir: dir.to_owned(),
            max_segments: max_segments.max(1),
            segments: segments.into(),
            next,
            dropped: 0,
        })
    }

    fn path(&self, segment: u64) -> PathBuf {
        self.dir.join(format!("{segment:020}.jsonl"))
    }

    /// Appends a segment of lines (one JSON payload each), dropping the oldest when full.
    pub fn push(&mut self, lines: &[String]) -> Result<(), SpoolError> {
        if lines.is_empty() {
            return Ok(());
        }
        while self.segments.len() >= self.max_segments {
            let oldest = self.segments.pop_front().expect("a segment");
            let lost = self.read(oldest).map(|l| l.len()).unwrap_or(0);
            let _ = fs::remove_file(self.path(oldest));
            self.dropped += lost as u64;
            tracing::warn!(
                dropped = lost,
                total_dropped = self.dropped,
                "spool full: oldest samples dropped"
            );
        }
        let path = self.path(self.next);
        let aside = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&aside)?;
            for line in lines {
                f.write_all(line.as_bytes())?;
                f.write_all(b"\n")?;
            }
            f.sync_all()?;
            fs::rename(&aside, &path)
        };
        write().map_err(|source| SpoolError::Segment { path, source })?;
        self.segments.push_back(self.next);
        self.next += 1;
        Ok(())
    }

    fn read(&self, segment: u64) -> std::io::Result<Vec<String>> {
        let text = fs::read_to_string(self.path(segment))?;
        Ok(text.lines().map(str::to_owned).collect())
    }

    /// The oldest segment and its lines.
    pub fn oldest(&self) -> Option<(u64, Vec<String>)> {
        let segment = *self.segments.front()?;
        match self.read(segment) {
            Ok(lines) => Some((segment, lines)),
            Err(e) => {
                tracing::error!(segment, error = %e, "spool segment unreadable");
                None
            }
        }
    }

    /// Removes a segment once sent (it may already be gone, dropped while it was being sent).
    pub fn remove(&mut self, segment: u64) {
        if let Some(i) = self.segments.iter().position(|s| *s == segment) {
            self.segments.remove(i);
            let _ = fs::remove_file(self.path(segment));
        }
    }

    pub fn segments(&self) -> usize {
        self.segments.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_spool_drops_the_oldest_and_counts_it_and_a_reopened_one_keeps_order() {
        let dir = std::env::temp_dir().join(format!("meritflow-spool-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut spool = Spool::open(&dir, 3).unwrap();
        for batch in 0..5 {
            spool
                .push(&[format!("{{\"b\":{batch}}}"), "{}".to_owned()])
                .unwrap();
        }
        assert_eq!((spool.segments(), spool.dropped), (3, 4));
        let reopened = Spool::open(&dir, 3).unwrap();
        let (segment, lines) = reopened.oldest().unwrap();
        assert_eq!(lines[0], "{\"b\":2}");
        let mut reopened = reopened;
        reopened.remove(segment);
        assert_eq!(reopened.oldest().unwrap().1[0], "{\"b\":3}");
        let _ = fs::remove_dir_all(&dir);
    }
}
