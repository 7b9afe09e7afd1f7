//! Backups are RocksDB checkpoints of a running node; a restore turns one into the data dir
//! of a node of a **new** cluster.
//!
//! A checkpoint is one consistent view of every group's applied state (and of their logs, which
//! a restore drops). Restoring keeps each group's applied data and its clock (so times never
//! run backwards for what was stored) and forgets everything that tied the data to its old
//! cluster: the Raft logs, votes and snapshots, the applied positions and memberships, and the
//! roster. The new cluster then bootstraps its groups on top of the data as it would on empty
//! ones, and every member restored from the same backup holds the same state.

use std::path::Path;

use rocksdb::checkpoint::Checkpoint;
use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, DB};
use roost_state::{GroupId, META_GROUP};

use crate::codec::{decode, encode};
use crate::state_machine::AppliedMeta;
use crate::{keys, Error, Storage};

/// The most groups a data dir can hold (the metadata group and 255 shards).
const MAX_GROUPS: GroupId = 256;

/// What a restore found in the backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The groups that hold applied state.
    pub groups: Vec<GroupId>,
}

impl Storage {
    /// Writes a checkpoint of the whole database into `to`, which must not exist (RocksDB
    /// hard-links the table files and copies the rest).
    pub fn checkpoint(&self, to: &Path) -> Result<(), Error> {
        Checkpoint::new(&self.db)?.create_checkpoint(to)?;
        Ok(())
    }
}

/// Prepares the database in `dir` (a copy of a checkpoint) to start a new cluster (see the
/// module doc).
pub fn prepare_restore(dir: &Path) -> Result<Restored, Error> {
    let opts = Options::default();
    let cfs = [keys::CF_RAFT, keys::CF_SM, keys::CF_SNAP]
        .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
    let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
    let cf = |name: &'static str| db.cf_handle(name).ok_or(Error::MissingColumnFamily(name));
    let (raft, sm, snap) = (cf(keys::CF_RAFT)?, cf(keys::CF_SM)?, cf(keys::CF_SNAP)?);
    let mut batch = WriteBatch::default();
    let mut groups = Vec::new();
    for group in 0..MAX_GROUPS {
        let (lo, hi) = keys::group_range(group);
        batch.delete_range_cf(raft, &lo, &hi);
        batch.delete_range_cf(snap, &lo, &hi);
        let Some(bytes) = db.get_pinned_cf(sm, keys::sm_meta(group))? else {
            continue;
        };
        let meta: AppliedMeta = decode("applied meta", &bytes)?;
        batch.put_cf(sm, keys::sm_meta(group), encode(&meta.forget_cluster())?);
        groups.push(group);
    }
    batch.delete_cf(sm, keys::roster(META_GROUP));
    let mut sync = rocksdb::WriteOptions::default();
    sync.set_sync(true);
    db.write_opt(batch, &sync)?;
    // Leave a compact database behind: the dropped logs may be most of it.
    for handle in [raft, snap] {
        db.compact_range_cf(handle, None::<&[u8]>, None::<&[u8]>);
    }
    Ok(Restored { groups })
}
