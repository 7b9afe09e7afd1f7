//! One group's applied state: queue metadata in memory, envelopes and records in RocksDB.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use rocksdb::{ColumnFamily, WriteBatch, WriteOptions, DB};
use roost_state::{
    Account, Form, GroupId, Header, Job, Query, QueryResult, Queue, Response, Roster, ShardParts,
    ShardState, Task, Topic, WorkQueue,
};
use roost_types::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::error::io;
use crate::lookup::{scan, DbLookup, Pending};
use crate::stats::SnapshotStats;
use crate::{keys, Error};

/// The applied position, membership and clock, stored with every applied batch.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct AppliedMeta {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    header: Header,
}

impl AppliedMeta {
    /// The same data under no cluster: no applied position or membership, the clock kept (a
    /// restored group starts a new log on top of its data; see `backup`).
    pub(crate) fn forget_cluster(&self) -> AppliedMeta {
        AppliedMeta {
            last_applied: None,
            membership: StoredMembership::default(),
            header: self.header,
        }
    }
}

/// A snapshot's contents: the applied meta and every record of the group's data range.
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotData {
    header: Header,
    records: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A snapshot's contents with `header` and `records`, for the pinned encodings.
#[cfg(test)]
pub(crate) fn snapshot_sample(header: Header, records: Vec<(Vec<u8>, Vec<u8>)>) -> SnapshotData {
    SnapshotData { header, records }
}

/// What readers and the apply task share.
struct Applied {
    meta: AppliedMeta,
    state: ShardState,
}

/// The state machine store of one group. Clones share the same state.
#[derive(Clone)]
pub struct StateMachineStore {
    /// The node's database.
    db: Arc<DB>,
    /// Which group this is.
    group: GroupId,
    /// Applied state; the apply task writes it, readers (queries, snapshots) read it.
    applied: Arc<RwLock<Applied>>,
    /// Told what each applied batch changed.
    on_apply: Option<OnApply>,
    /// Snapshots built and installed, for metrics.
    snapshots: Arc<SnapshotStats>,
}

/// Receives the topics an applied batch changed, after the batch is written, so waiters of
/// exactly those re-read (see [`Topic`]).
pub type OnApply = Arc<dyn Fn(&[Topic]) + Send + Sync>;

/// Read access to a group's applied state, for linearizable queries on the leader.
#[derive(Clone)]
pub struct ShardReader {
    /// The store whose state is read.
    store: StateMachineStore,
}

fn sm_err(e: Error) -> StorageError {
    io(StorageIOError::write_state_machine, &e)
}

impl StateMachineStore {
    /// Opens `group`'s applied state from `db`.
    pub(crate) fn open(
        db: Arc<DB>,
        group: GroupId,
        on_apply: Option<OnApply>,
    ) -> Result<Self, Error> {
        let store = StateMachineStore {
            db,
            group,
            on_apply,
            snapshots: Arc::default(),
            applied: Arc::new(RwLock::new(Applied {
                meta: AppliedMeta::default(),
                state: ShardState::new(group),
            })),
        };
        let loaded = store.load()?;
        *store.write_lock()? = loaded;
        Ok(store)
    }

    /// The group's snapshot builds and installs on this node, for metrics.
    pub fn snapshot_stats(&self) -> Arc<SnapshotStats> {
        self.snapshots.clone()
    }

    /// A reader for queries.
    pub fn reader(&self) -> ShardReader {
        ShardReader {
            store: self.clone(),
        }
    }

    fn cf(&self, name: &'static str) -> Result<&ColumnFamily, Error> {
        self.db
            .cf_handle(name)
            .ok_or(Error::MissingColumnFamily(name))
    }

    fn read_lock(&self) -> Result<RwLockReadGuard<'_, Applied>, Error> {
        self.applied.read().map_err(|_| Error::Poisoned)
    }

    fn write_lock(&self) -> Result<RwLockWriteGuard<'_, Applied>, Error> {
        self.applied.write().map_err(|_| Error::Poisoned)
    }

    /// Reads the persisted applied state of the group.
    fn load(&self) -> Result<Applied, Error> {
        let cf = self.cf(keys::CF_SM)?;
        let meta: AppliedMeta = match self.db.get_pinned_cf(cf, keys::sm_meta(self.group))? {
            Some(b) => decode("applied meta", &b)?,
            None => AppliedMeta::default(),
        };
        let (lo, hi) = keys::queues(self.group);
        let mut queues = Vec::new();
        for item in scan(&self.db, cf, &lo, hi, None) {
            let (_, v) = item?;
            queues.push(decode::<Queue>("queue", &v)?);
        }
        let (lo, hi) = keys::forms(self.group);
        let mut forms = Vec::new();
        for item in scan(&self.db, cf, &lo, hi, None) {
            let (_, v) = item?;
            forms.push(decode::<Form>("form", &v)?);
        }
        let (lo, hi) = keys::accounts(self.group);
        let mut accounts = Vec::new();
        for item in scan(&self.db, cf, &lo, hi, None) {
            let (_, v) = item?;
            accounts.push(decode::<Account>("account", &v)?);
        }
        let (lo, hi) = keys::ip_usages(self.group);
        let mut ip_usage = Vec::new();
        for item in scan(&self.db, cf, &lo, hi, None) {
            let (k, v) = item?;
            if let Some(ip) = keys::parse_ip_usage(self.group, &k) {
                ip_usage.push((ip, decode::<(u32, u64)>("ip usage", &v)?));
            }
        }
        let (lo, hi) = keys::jobs(self.group);
        let mut jobs = Vec::new();
        for item in scan(&self.db, cf, &lo, hi, None) {
            let (_, v) = item?;
            jobs.push(decode::<Job>("job", &v)?);
        }
        let (lo, hi) = keys::work_queues(self.group);
        let mut work_queues = Vec::new();
        for item in scan(&self.db, cf, &lo, hi, None) {
            let (_, v) = item?;
            work_queues.push(decode::<WorkQueue>("work queue", &v)?);
        }
        let (lo, hi) = keys::tasks(self.group);
        let mut tasks = Vec::new();
        for item in scan(&self.db, cf, &lo, hi, None) {
            let (_, v) = item?;
            tasks.push(decode::<Task>("task", &v)?);
        }
        let roster = match self.db.get_pinned_cf(cf, keys::roster(self.group))? {
            Some(b) => decode("roster", &b)?,
            None => Roster::default(),
        };
        let parts = ShardParts {
            roster,
            work_queues,
            tasks,
            header: meta.header,
            queues,
            forms,
            accounts,
            ip_usage,
            jobs,
        };
        let state = ShardState::from_parts(self.group, parts);
        Ok(Applied { meta, state })
    }

    /// Applies `entries`. If anything fails, the in-memory state is reloaded from disk so it
    /// never runs ahead of what was persisted (openraft stops the group on the error).
    fn apply_entries(&self, entries: Vec<Entry>) -> Result<Vec<Vec<Response>>, Error> {
        let mut guard = self.write_lock()?;
        let result = self.apply_batch(&mut guard, entries);
        if result.is_err() {
            if let Ok(fresh) = self.load() {
                *guard = fresh;
            }
        }
        result
    }

    fn apply_batch(
        &self,
        applied: &mut Applied,
        entries: Vec<Entry>,
    ) -> Result<Vec<Vec<Response>>, Error> {
        let cf = self.cf(keys::CF_SM)?;
        let mut batch = WriteBatch::default();
        let mut pending = Pending::default();
        let mut responses = Vec::with_capacity(entries.len());
        for entry in entries {
            applied.meta.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => responses.push(Vec::new()),
                EntryPayload::Membership(m) => {
                    applied.meta.membership = StoredMembership::new(Some(entry.log_id), m);
                    responses.push(Vec::new());
                }
                EntryPayload::Normal(proposed) => {
                    let mut answers = Vec::with_capacity(proposed.commands.len());
                    for command in &proposed.commands {
                        let lookup = DbLookup {
                            db: &self.db,
                            group: self.group,
                            pending: Some(&pending),
                        };
                        let (response, effects) = applied
                            .state
                            .apply(proposed.stamped_ms, command, &lookup)
                            .map_err(|e| Error::Lookup(e.0))?;
                        for effect in effects {
                            pending.record(effect, &mut batch, cf, self.group)?;
                        }
                        answers.push(response);
                    }
                    responses.push(answers);
                }
            }
        }
        let topics = self
            .on_apply
            .as_ref()
            .map(|_| topics(&applied.state, &pending));
        for id in std::mem::take(&mut pending.touched_work_queues) {
            match applied.state.work_queue(&id) {
                Some(q) => batch.put_cf(cf, keys::work_queue(self.group, &id), encode(q)?),
                None => batch.delete_cf(cf, keys::work_queue(self.group, &id)),
            }
        }
        for id in std::mem::take(&mut pending.touched_tasks) {
            match applied.state.task(&id) {
                Some(t) => batch.put_cf(cf, keys::task(self.group, &id), encode(t)?),
                None => batch.delete_cf(cf, keys::task(self.group, &id)),
            }
        }
        for id in std::mem::take(&mut pending.touched_jobs) {
            match applied.state.job(&id) {
                Some(j) => batch.put_cf(cf, keys::job(self.group, &id), encode(j)?),
                None => batch.delete_cf(cf, keys::job(self.group, &id)),
            }
        }
        for id in std::mem::take(&mut pending.touched_accounts) {
            match applied.state.account(&id) {
                Some(a) => batch.put_cf(cf, keys::account(self.group, &id), encode(a)?),
                None => batch.delete_cf(cf, keys::account(self.group, &id)),
            }
        }
        if std::mem::take(&mut pending.touched_roster) {
            let roster = encode(applied.state.roster())?;
            batch.put_cf(cf, keys::roster(self.group), roster);
        }
        for ip in std::mem::take(&mut pending.touched_ips) {
            if let Some(usage) = applied.state.ip_usage(&ip) {
                batch.put_cf(cf, keys::ip_usage(self.group, &ip), encode(&usage)?);
            }
        }
        for id in std::mem::take(&mut pending.touched_forms) {
            match applied.state.form(&id) {
                Some(f) => batch.put_cf(cf, keys::form(self.group, &id), encode(f)?),
                None => batch.delete_cf(cf, keys::form(self.group, &id)),
            }
        }
        for id in std::mem::take(&mut pending.touched) {
            match applied.state.queue(&id) {
                Some(q) => batch.put_cf(cf, keys::queue(self.group, &id), encode(q)?),
                None => batch.delete_cf(cf, keys::queue(self.group, &id)),
            }
        }
        applied.meta.header = applied.state.header();
        batch.put_cf(cf, keys::sm_meta(self.group), encode(&applied.meta)?);
        // Not synced: every applied entry is in the synced log, which is only purged after a
        // synced write (see `LogStore::purge`).
        self.db.write_opt(batch, &WriteOptions::default())?;
        if let (Some(on_apply), Some(topics)) = (&self.on_apply, topics) {
            if !topics.is_empty() {
                on_apply(&topics);
            }
        }
        Ok(responses)
    }

    /// Builds a snapshot from a RocksDB snapshot taken together with the applied meta, so
    /// applying goes on while the records are copied.
    fn build(&self) -> Result<Snapshot<TypeConfig>, Error> {
        let cf = self.cf(keys::CF_SM)?;
        let guard = self.read_lock()?;
        let applied = guard.meta.clone();
        let view = self.db.snapshot();
        drop(guard);
        let (lo, hi) = keys::snapshot_data(self.group);
        let records = scan(&self.db, cf, &lo, hi, Some(&view))
            .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<Vec<_>, _>>()?;
        drop(view);
        let data = encode(&SnapshotData {
            header: applied.header,
            records,
        })?;
        let last = applied.last_applied;
        let snapshot_id = match last {
            Some(l) => format!("{}-{}-{}", self.group, l.leader_id, l.index),
            None => format!("{}-empty", self.group),
        };
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: applied.membership,
            snapshot_id,
        };
        // Under the write lock, which `install` holds too: a build that raced an install of a
        // newer snapshot must not replace it.
        let guard = self.write_lock()?;
        if self.stored_snapshot_meta()?.map(|m| m.last_log_id) < Some(meta.last_log_id) {
            let mut batch = WriteBatch::default();
            self.put_snapshot(&mut batch, &meta, &data)?;
            self.db.write_opt(batch, &WriteOptions::default())?;
        }
        drop(guard);
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }

    fn stored_snapshot_meta(&self) -> Result<Option<SnapshotMeta>, Error> {
        let cf = self.cf(keys::CF_SNAP)?;
        match self.db.get_pinned_cf(cf, keys::snapshot_meta(self.group))? {
            Some(b) => Ok(Some(decode("snapshot meta", &b)?)),
            None => Ok(None),
        }
    }

    fn put_snapshot(
        &self,
        batch: &mut WriteBatch,
        meta: &SnapshotMeta,
        data: &[u8],
    ) -> Result<(), Error> {
        let cf = self.cf(keys::CF_SNAP)?;
        batch.put_cf(cf, keys::snapshot_meta(self.group), encode(meta)?);
        batch.put_cf(cf, keys::snapshot_data_blob(self.group), data);
        Ok(())
    }

    fn install(&self, meta: &SnapshotMeta, data: Vec<u8>) -> Result<(), Error> {
        let snapshot: SnapshotData = decode("snapshot", &data)?;
        let cf = self.cf(keys::CF_SM)?;
        let (lo, hi) = keys::snapshot_data(self.group);
        let mut guard = self.write_lock()?;
        let mut batch = WriteBatch::default();
        let (group_lo, group_hi) = keys::group_range(self.group);
        batch.delete_range_cf(cf, &group_lo, &group_hi);
        for (k, v) in &snapshot.records {
            if k.as_slice() < lo.as_slice() || k.as_slice() >= hi.as_slice() {
                return Err(Error::ForeignKey);
            }
            batch.put_cf(cf, k, v);
        }
        let applied_meta = AppliedMeta {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
            header: snapshot.header,
        };
        batch.put_cf(cf, keys::sm_meta(self.group), encode(&applied_meta)?);
        self.put_snapshot(&mut batch, meta, &data)?;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
        *guard = self.load()?;
        Ok(())
    }

    fn current_snapshot(&self) -> Result<Option<Snapshot<TypeConfig>>, Error> {
        let _guard = self.read_lock()?;
        let Some(meta) = self.stored_snapshot_meta()? else {
            return Ok(None);
        };
        let cf = self.cf(keys::CF_SNAP)?;
        let data = self
            .db
            .get_cf(cf, keys::snapshot_data_blob(self.group))?
            .unwrap_or_default();
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    /// Builds on a blocking thread: a large state takes seconds to scan and encode, and on
    /// a runtime worker that starved the group's Raft core and the peer server of the same
    /// process, so heartbeats timed out and elections started under a 10-million-message
    /// backlog.
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let store = self.clone();
        let started = Instant::now();
        let built = tokio::task::spawn_blocking(move || store.build())
            .await
            .map_err(|e| io(|a| StorageIOError::write_snapshot(None, a), &e))?;
        if built.is_ok() {
            self.snapshots.builds.record(started.elapsed());
        }
        built.map_err(|e| io(|a| StorageIOError::write_snapshot(None, a), &e))
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let guard = self
            .read_lock()
            .map_err(|e| io(StorageIOError::read_state_machine, &e))?;
        Ok((guard.meta.last_applied, guard.meta.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<Response>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        self.apply_entries(entries.into_iter().collect())
            .map_err(sm_err)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        // On a blocking thread, as `build_snapshot`: a large snapshot takes seconds to load.
        let (store, owned) = (self.clone(), meta.clone());
        let signature = Some(meta.signature());
        let started = Instant::now();
        let installed =
            tokio::task::spawn_blocking(move || store.install(&owned, snapshot.into_inner()))
                .await
                .map_err(|e| io(|a| StorageIOError::write_snapshot(signature.clone(), a), &e))?;
        if installed.is_ok() {
            self.snapshots.installs.record(started.elapsed());
        }
        installed.map_err(|e| io(|a| StorageIOError::write_snapshot(signature, a), &e))
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        self.current_snapshot()
            .map_err(|e| io(|a| StorageIOError::read_snapshot(None, a), &e))
    }
}

impl ShardReader {
    /// Answers `query` from the applied state.
    pub fn query(&self, query: &Query) -> Result<QueryResult, Error> {
        let guard = self.store.read_lock()?;
        let lookup = DbLookup {
            db: &self.store.db,
            group: self.store.group,
            pending: None,
        };
        guard
            .state
            .query(query, &lookup)
            .map_err(|e| Error::Lookup(e.0))
    }

    /// The applied log index, for status pages.
    pub fn applied_index(&self) -> Option<u64> {
        self.store
            .read_lock()
            .ok()
            .and_then(|g| g.meta.last_applied.map(|l| l.index))
    }

    /// The group clock as applied here, ms since the Unix epoch.
    pub fn clock_ms(&self) -> u64 {
        self.store
            .read_lock()
            .map(|g| g.meta.header.clock_ms)
            .unwrap_or_default()
    }

    /// The roster as applied here (metadata group), which may trail the leader's.
    pub fn roster(&self) -> Roster {
        self.store
            .read_lock()
            .map(|g| g.state.roster().clone())
            .unwrap_or_default()
    }

    /// How many queues the group holds.
    pub fn queue_count(&self) -> usize {
        self.store
            .read_lock()
            .map(|g| g.state.queues().count())
            .unwrap_or(0)
    }
}

/// The topics a batch changed: its queues, and the workspaces of its jobs, work queues and
/// tasks (a job deleted in the batch has no workspace left to tell).
fn topics(state: &ShardState, pending: &Pending) -> Vec<Topic> {
    let queues = pending.touched.iter().cloned().map(Topic::Queue);
    let workspaces: BTreeSet<&str> = pending
        .touched_jobs
        .iter()
        .filter_map(|id| state.job(id).map(|j| j.workspace.as_str()))
        .chain(
            pending
                .touched_tasks
                .iter()
                .filter_map(|id| state.task(id).map(|t| t.workspace.as_str())),
        )
        .chain(
            pending
                .touched_work_queues
                .iter()
                .filter_map(|id| state.work_queue(id).map(|q| q.workspace.as_str())),
        )
        .collect();
    queues
        .chain(
            workspaces
                .into_iter()
                .map(|w| Topic::Workspace(w.to_owned())),
        )
        .collect()
}
