//! The data dir's format number, in a `FORMAT` file beside the database. Every change to how
//! anything is stored or encoded raises it and adds a migration step here; a node opens a data
//! dir of an older format by migrating it one step at a time, and refuses a newer one before
//! touching it.
//!
//! 1. Every data dir written before the number existed (no `FORMAT` file).
//! 2. The same records; the number is written.

use std::fs;
use std::path::Path;

use crate::Error;

/// The format this build writes.
pub const CURRENT: u32 = 2;
/// The file holding the number.
const FILE: &str = "FORMAT";
/// What a database that predates the number has (RocksDB's pointer to its manifest).
const EXISTING_DB: &str = "CURRENT";

/// Checks `dir`'s format before its database is opened: a new dir gets the current number, an
/// older one is migrated (the steps that need the open database run in [`migrate`]), a newer
/// one is refused. Returns the format the data dir has now.
pub fn check(dir: &Path) -> Result<u32, Error> {
    let found = match fs::read_to_string(dir.join(FILE)) {
        Ok(text) => text.trim().parse::<u32>().map_err(|_| {
            Error::Format(format!(
                "{}: not a format number: {text:?}",
                dir.join(FILE).display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir.join(EXISTING_DB).exists() {
                1
            } else {
                write(dir, CURRENT)?;
                CURRENT
            }
        }
        Err(e) => return Err(Error::Format(format!("{}: {e}", dir.join(FILE).display()))),
    };
    if found > CURRENT {
        return Err(Error::Format(format!(
            "{} holds data format {found}, newer than this roost reads ({CURRENT}); run the newer roost that wrote it",
            dir.display()
        )));
    }
    Ok(found)
}

/// Migrates the data dir at `dir` (its database open) from format `from` to
/// [`CURRENT`], one step at a time, recording each step so an interrupted migration resumes.
pub fn migrate(dir: &Path, from: u32) -> Result<(), Error> {
    for version in from..CURRENT {
        match version {
            // 1 → 2: the records are unchanged; the number starts being kept.
            1 => {}
            _ => return Err(Error::Format(format!("no migration from format {version}"))),
        }
        write(dir, version + 1)?;
    }
    Ok(())
}

/// Writes `version` as the data dir's format, durably.
pub fn write(dir: &Path, version: u32) -> Result<(), Error> {
    let path = dir.join(FILE);
    crate::durable::write(&path, format!("{version}\n").as_bytes())
        .map_err(|e| Error::Format(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_dirs_get_the_current_format_and_newer_ones_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(check(dir.path()).ok(), Some(CURRENT));
        assert_eq!(
            fs::read_to_string(dir.path().join(FILE)).ok(),
            Some(format!("{CURRENT}\n"))
        );
        fs::write(dir.path().join(FILE), "99\n").expect("write");
        let refused = check(dir.path()).expect_err("newer");
        assert!(
            refused.to_string().contains("newer than this roost reads"),
            "{refused}"
        );
        fs::write(dir.path().join(FILE), "two").expect("write");
        assert!(check(dir.path()).is_err());
        let old = tempfile::tempdir().expect("tempdir");
        fs::write(old.path().join(EXISTING_DB), "MANIFEST-000001\n").expect("write");
        assert_eq!(
            check(old.path()).ok(),
            Some(1),
            "a database without the file is format 1"
        );
    }
}
