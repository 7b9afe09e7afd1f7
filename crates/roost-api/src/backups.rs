//! Backups for the operator: the node takes one into its data dir (`backups/<id>`, on the
//! database's file system, so the checkpoint hard-links its tables), the operator's client
//! downloads its files and checks them against the manifest, then deletes it.

use std::path::PathBuf;

use roost_node::backup::{Manifest, MANIFEST};

use crate::{Api, Error, ErrorCode};

/// Where a node keeps the backups it took, under its data dir.
const BACKUPS: &str = "backups";

/// A backup the node took.
#[derive(Clone, Debug)]
pub struct TakenBackup {
    /// Its id, for downloading and deleting it.
    pub id: String,
    /// What it holds.
    pub manifest: Manifest,
}

impl Api {
    /// Takes an online backup of the cluster through this node (see `roost_node::backup`).
    pub async fn take_backup(&self, operator_key: Option<&str>) -> Result<TakenBackup, Error> {
        self.operator(operator_key)?;
        let id = format!("b{:016x}", self.random());
        let dir = self.backup_dir(&id)?;
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::internal(e.to_string()))?;
        }
        match self.node().backup(&dir).await {
            Ok(manifest) => Ok(TakenBackup { id, manifest }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e.into())
            }
        }
    }

    /// The path of file `name` of backup `id`: one its manifest lists.
    pub fn backup_file(
        &self,
        operator_key: Option<&str>,
        id: &str,
        name: &str,
    ) -> Result<PathBuf, Error> {
        self.operator(operator_key)?;
        let dir = self.backup_dir(id)?;
        let text = std::fs::read(dir.join(MANIFEST)).map_err(|_| not_found(id))?;
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| Error::internal(e.to_string()))?;
        if name == MANIFEST {
            return Ok(dir.join(MANIFEST));
        }
        if !manifest.files.iter().any(|f| f.name == name) {
            return Err(Error::new(
                ErrorCode::BackupNotFound,
                format!("backup {id} has no file {name:?}"),
                "Download the files its manifest lists.",
            ));
        }
        Ok(dir.join("db").join(name))
    }

    /// Deletes backup `id` from the node.
    pub fn delete_backup(&self, operator_key: Option<&str>, id: &str) -> Result<(), Error> {
        self.operator(operator_key)?;
        let dir = self.backup_dir(id)?;
        if !dir.exists() {
            return Err(not_found(id));
        }
        std::fs::remove_dir_all(&dir).map_err(|e| Error::internal(e.to_string()))
    }

    /// Where backup `id` lives, refusing anything that is not a backup id.
    fn backup_dir(&self, id: &str) -> Result<PathBuf, Error> {
        let valid =
            id.len() == 17 && id.starts_with('b') && id[1..].chars().all(|c| c.is_ascii_hexdigit());
        if !valid {
            return Err(Error::new(
                ErrorCode::InvalidField,
                format!("{id:?} is not a backup id"),
                "Use the id POST /admin/backups answered with.",
            ));
        }
        Ok(self.node().config().data_dir.join(BACKUPS).join(id))
    }
}

fn not_found(id: &str) -> Error {
    Error::new(
        ErrorCode::BackupNotFound,
        format!("no backup {id} on this node"),
        "Backups live on the node that took them until they are deleted.",
    )
}
