//! Secrets a node keeps in its data dir (the generated JWT and webhook signing secrets, the
//! default workspace token): files only the node's user can read, in a data dir only that user
//! can enter. Older versions wrote them `0644` in a `0755` dir; every start tightens both.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Owner only: read, write and enter.
const DIR_MODE: u32 = 0o700;
/// Owner only: read and write.
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its parents) or, when it exists, restricts it to its owner.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
        .with_context(|| format!("restricting {} to its owner", dir.display()))
}

/// Writes `contents` to `path` readable by its owner alone. The file is written beside its
/// destination and renamed over it, so a reader never sees half a secret and the secret never
/// sits in a file with a wider mode.
pub fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    let _ = fs::remove_file(&partial);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", partial.display()))?;
    fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
}

/// The secret in `path` (trimmed), created by `make` on first use; the file's mode is
/// restricted to its owner first.
pub fn read_or_create(path: &Path, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    if !path.exists() {
        write(path, &make())?;
    }
    fs::set_permissions(path, Permissions::from_mode(FILE_MODE))
        .with_context(|| format!("restricting {} to its owner", path.display()))?;
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> anyhow::Result<u32> {
        Ok(fs::metadata(path)?.permissions().mode() & 0o777)
    }

    #[test]
    fn secrets_are_created_for_their_owner_alone() -> anyhow::Result<()> {
        let root = tempfile::tempdir()?;
        let data = root.path().join("a/data");
        let path = data.join("x.secret");
        assert_eq!(read_or_create(&path, || " made \n".into())?, "made");
        assert_eq!(mode(&data)?, 0o700);
        assert_eq!(mode(&path)?, 0o600);
        // Existing: read, not made again.
        assert_eq!(read_or_create(&path, || "other".into())?, "made");
        write(&path, "replaced")?;
        assert_eq!(mode(&path)?, 0o600);
        assert_eq!(fs::read_to_string(&path)?, "replaced");
        assert!(!path.with_extension("partial").exists());
        Ok(())
    }

    #[test]
    fn secrets_left_open_by_older_versions_are_closed() -> anyhow::Result<()> {
        let data = tempfile::tempdir()?;
        let path = data.path().join("jwt.secret");
        fs::set_permissions(data.path(), Permissions::from_mode(0o755))?;
        fs::write(&path, "old")?;
        fs::set_permissions(&path, Permissions::from_mode(0o644))?;
        assert_eq!(read_or_create(&path, || "new".into())?, "old");
        assert_eq!(mode(data.path())?, 0o700);
        assert_eq!(mode(&path)?, 0o600);
        Ok(())
    }
}
