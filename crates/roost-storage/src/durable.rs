//! Small files beside the database that must survive a crash whole (the data dir's format, the
//! cluster's id): written to a new file, synced, renamed into place, the directory synced.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` so that after a crash it holds either the old or the new
/// contents, never a part.
pub fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&partial)?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&partial, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
