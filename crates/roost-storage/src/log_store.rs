//! One group's Raft log and vote, in the `raft` column family.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError};
use rocksdb::{ColumnFamily, Direction, IteratorMode, WriteBatch, WriteOptions, DB};
use roost_state::GroupId;
use roost_types::{Entry, LogId, StorageError, TypeConfig, Vote};

use crate::codec::{decode, encode};
use crate::error::io;
use crate::recent::Recent;
use crate::syncer::Syncer;
use crate::{keys, Error};

/// The log store of one group. Cheap to clone: clones share the database.
#[derive(Clone)]
pub struct LogStore {
    /// The node's database.
    db: Arc<DB>,
    /// Which group's keys this store reads and writes.
    group: GroupId,
    /// Acknowledges appends once the WAL is synced.
    syncer: Syncer,
    /// The newest entries, which openraft reads back at once; clones share them.
    recent: Arc<Mutex<Recent>>,
}

impl LogStore {
    pub(crate) fn new(db: Arc<DB>, group: GroupId, syncer: Syncer) -> Self {
        LogStore {
            db,
            group,
            syncer,
            recent: Arc::default(),
        }
    }

    /// The in-memory newest entries (a panicked holder left them consistent: every change
    /// completes under the lock).
    fn recent(&self) -> MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cf(&self) -> Result<&ColumnFamily, Error> {
        self.db
            .cf_handle(keys::CF_RAFT)
            .ok_or(Error::MissingColumnFamily(keys::CF_RAFT))
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, Error> {
        match self.db.get_pinned_cf(self.cf()?, key)? {
            Some(bytes) => Ok(Some(decode(what, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Fills one batch of the `raft` column family with `fill` and writes it.
    fn write(
        &self,
        sync: bool,
        fill: impl FnOnce(&mut WriteBatch, &ColumnFamily) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut batch = WriteBatch::default();
        fill(&mut batch, self.cf()?)?;
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        Ok(self.db.write_opt(batch, &opts)?)
    }

    fn last_entry_id(&self) -> Result<Option<LogId>, Error> {
        let end = keys::log(self.group, u64::MAX);
        let mut it = self
            .db
            .iterator_cf(self.cf()?, IteratorMode::From(&end, Direction::Reverse));
        match it.next() {
            Some(item) => {
                let (key, value) = item?;
                if keys::log_index(self.group, &key).is_none() {
                    return Ok(None);
                }
                let entry: Entry = decode("log entry", &value)?;
                Ok(Some(entry.log_id))
            }
            None => Ok(None),
        }
    }

    fn read_range(&self, start: u64, end: Bound<u64>) -> Result<Vec<Entry>, Error> {
        let from = keys::log(self.group, start);
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf()?, IteratorMode::From(&from, Direction::Forward))
        {
            let (key, value) = item?;
            let Some(index) = keys::log_index(self.group, &key) else {
                break;
            };
            let in_range = match end {
                Bound::Included(e) => index <= e,
                Bound::Excluded(e) => index < e,
                Bound::Unbounded => true,
            };
            if !in_range {
                break;
            }
            out.push(decode("log entry", &value)?);
        }
        Ok(out)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(s) => *s,
            Bound::Excluded(s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = range.end_bound().cloned();
        if let Some(entries) = self.recent().get(start, end) {
            return Ok(entries);
        }
        self.read_range(start, end)
            .map_err(|e| io(StorageIOError::read_logs, &e))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let read = || -> Result<_, Error> {
            let purged: Option<LogId> = self.get(&keys::last_purged(self.group), "last purged")?;
            let last = self.last_entry_id()?.or(purged);
            Ok(LogState {
                last_purged_log_id: purged,
                last_log_id: last,
            })
        };
        read().map_err(|e| io(StorageIOError::read_logs, &e))
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.write(true, |batch, cf| {
            batch.put_cf(cf, keys::vote(self.group), encode(vote)?);
            Ok(())
        })
        .map_err(|e| io(StorageIOError::write_vote, &e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.get(&keys::vote(self.group), "vote")
            .map_err(|e| io(StorageIOError::read_vote, &e))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Written now so the entries are readable at once; durable (and acknowledged) only
        // after the syncer's next WAL sync.
        let mut written = Vec::new();
        self.write(false, |batch, cf| {
            for entry in entries {
                let bytes = encode(&entry)?;
                batch.put_cf(cf, keys::log(self.group, entry.log_id.index), &bytes);
                written.push((entry, bytes.len()));
            }
            Ok(())
        })
        .map_err(|e| io(StorageIOError::write_logs, &e))?;
        self.recent().append(written);
        self.syncer.after_sync(callback);
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.recent().truncate(log_id.index);
        self.write(true, |batch, cf| {
            let end = keys::log(self.group, u64::MAX);
            batch.delete_range_cf(cf, keys::log(self.group, log_id.index), end.clone());
            batch.delete_cf(cf, end);
            Ok(())
        })
        .map_err(|e| io(StorageIOError::write_logs, &e))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.recent().purge(log_id.index);
        // Synced: applied state written without sync before this point becomes durable with
        // the same WAL sync, so purged entries are never needed again after a power loss.
        self.write(true, |batch, cf| {
            batch.put_cf(cf, keys::last_purged(self.group), encode(&log_id)?);
            let end = keys::log(self.group, log_id.index.saturating_add(1));
            batch.delete_range_cf(cf, keys::log(self.group, 0), end);
            Ok(())
        })
        .map_err(|e| io(StorageIOError::write_logs, &e))
    }
}
