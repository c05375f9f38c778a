//! Files that survive a crash: written, synced, and their directory synced once renamed into
//! place, so a reader sees a whole file or none. And the crash tests' stopping points.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a new file at `path` and syncs it to the disk.
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Syncs a directory, so that a rename or removal in it is on the disk.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A crash test's stopping point: with `MERITFLOW_FAILPOINT` naming it (comma-separated names),
/// the process says so on stderr and waits there for ever, so the test can `kill -9` it at
/// exactly this point. Without the variable it costs one environment look-up.
pub fn failpoint(name: &str) {
    let Ok(names) = std::env::var("MERITFLOW_FAILPOINT") else {
        return;
    };
    if names.split(',').any(|n| n.trim() == name) {
        eprintln!("failpoint {name} reached");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
