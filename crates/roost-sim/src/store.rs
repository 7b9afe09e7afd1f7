//! In-memory storage behind openraft's storage traits. The log, vote, commit index and latest
//! snapshot live on a [`Disk`] that outlives a crashed host (what a real node makes durable
//! before answering); the applied state ([`Machine`]) is volatile: a restarted node rebuilds
//! it from the snapshot, then openraft re-applies the committed log.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    AnyError, EntryPayload, OptionalSend, RaftLogReader, RaftSnapshotBuilder, StorageIOError,
};
use roost_state::mem::MemStore;
use roost_state::{Batch, GroupId, Query, QueryResult, Response, ShardState};
use serde::{Deserialize, Serialize};

use crate::{Entry, LogId, NodeId, SimConfig, StorageError};

/// A vote.
type Vote = openraft::Vote<NodeId>;
/// Snapshot metadata.
type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
/// Membership as last applied.
type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;

/// Locks `m`, recovering from a panicked holder (the data stays consistent: every write is
/// one assignment).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A state-machine failure as openraft reports it.
fn sm_err(e: impl ToString) -> StorageError {
    StorageIOError::write_state_machine(AnyError::error(e.to_string())).into()
}

/// What survives a crash: clones share it.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    /// The data.
    inner: Arc<Mutex<DiskData>>,
}

impl Disk {
    /// A deliberately broken store, to show the simulation catches storage bugs: its
    /// snapshots leave out the newest applied batch while claiming to cover it (an
    /// off-by-one), so a node restored from one runs behind its own log.
    pub fn with_broken_snapshots() -> Self {
        let disk = Disk::default();
        lock(&disk.inner).broken_snapshots = true;
        disk
    }

    fn broken_snapshots(&self) -> bool {
        lock(&self.inner).broken_snapshots
    }

    /// Whether this is the node's first start (and marks it started).
    pub fn first_start(&self) -> bool {
        !std::mem::replace(&mut lock(&self.inner).started, true)
    }
}

/// The durable data of one node.
#[derive(Debug, Default)]
struct DiskData {
    /// The node has started before.
    started: bool,
    /// Snapshots miss their newest batch (see [`Disk::with_broken_snapshots`]).
    broken_snapshots: bool,
    /// The last vote.
    vote: Option<Vote>,
    /// The last commit index openraft saved.
    committed: Option<LogId>,
    /// Entries by index.
    log: BTreeMap<u64, Entry>,
    /// Entries up to here were purged (they are in the snapshot).
    purged: Option<LogId>,
    /// The latest snapshot and its data.
    snapshot: Option<(SnapshotMeta, Vec<u8>)>,
}

/// The log store on a [`Disk`].
#[derive(Clone, Debug)]
pub struct LogStore {
    /// Where the log lives.
    disk: Disk,
}

impl LogStore {
    /// The log on `disk`.
    pub fn new(disk: Disk) -> Self {
        LogStore { disk }
    }
}

impl RaftLogReader<SimConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let d = lock(&self.disk.inner);
        Ok(d.log.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<SimConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<SimConfig>, StorageError> {
        let d = lock(&self.disk.inner);
        let last = d.log.values().next_back().map(|e| e.log_id).or(d.purged);
        Ok(LogState {
            last_purged_log_id: d.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        lock(&self.disk.inner).vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(lock(&self.disk.inner).vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        lock(&self.disk.inner).committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(lock(&self.disk.inner).committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<SimConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut d = lock(&self.disk.inner);
        for e in entries {
            d.log.insert(e.log_id.index, e);
        }
        drop(d);
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        lock(&self.disk.inner).log.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut d = lock(&self.disk.inner);
        d.log = d.log.split_off(&(log_id.index + 1));
        d.purged = Some(log_id);
        Ok(())
    }
}

/// A snapshot's contents: every batch applied so far, in order. Applying is deterministic, so
/// replaying them rebuilds the state exactly (simple, and fine at simulation sizes).
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    /// The batches.
    batches: Vec<Batch>,
}

/// The applied state of one node's group.
struct Applied {
    /// The shard's metadata.
    state: ShardState,
    /// The bulk data (envelopes, idempotency records, ...).
    bulk: MemStore,
    /// The last applied log id.
    last_applied: Option<LogId>,
    /// The last applied membership.
    membership: StoredMembership,
    /// Every batch applied, for snapshots.
    batches: Vec<Batch>,
}

impl Applied {
    fn new(group: GroupId) -> Self {
        Applied {
            state: ShardState::new(group),
            bulk: MemStore::default(),
            last_applied: None,
            membership: StoredMembership::default(),
            batches: Vec::new(),
        }
    }

    /// Applies one batch: one response per command.
    fn apply(&mut self, batch: Batch) -> Result<Vec<Response>, StorageError> {
        let mut answers = Vec::with_capacity(batch.commands.len());
        for command in &batch.commands {
            let (response, effects) = self
                .state
                .apply(batch.stamped_ms, command, &self.bulk)
                .map_err(|e| sm_err(e.0))?;
            self.bulk.apply(effects).map_err(sm_err)?;
            answers.push(response);
        }
        self.batches.push(batch);
        Ok(answers)
    }
}

/// The state machine store: volatile applied state, snapshots kept on the [`Disk`].
#[derive(Clone)]
pub struct Machine {
    /// The applied state; queries read it.
    applied: Arc<Mutex<Applied>>,
    /// Where snapshots are kept.
    disk: Disk,
    /// The group this is.
    group: GroupId,
}

impl Machine {
    /// The state of `group` after a (re)start: the snapshot on `disk`, if any, replayed.
    pub fn open(disk: Disk, group: GroupId) -> Result<Self, StorageError> {
        let machine = Machine {
            applied: Arc::new(Mutex::new(Applied::new(group))),
            disk,
            group,
        };
        let stored = lock(&machine.disk.inner).snapshot.clone();
        if let Some((meta, data)) = stored {
            machine.restore(&meta, &data)?;
        }
        Ok(machine)
    }

    /// Answers `query` from the applied state (the caller makes it linearizable).
    pub fn query(&self, query: &Query) -> Result<QueryResult, StorageError> {
        let a = lock(&self.applied);
        a.state.query(query, &a.bulk).map_err(|e| sm_err(e.0))
    }

    /// Replaces the applied state by the snapshot's.
    fn restore(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StorageError> {
        let snapshot: SnapshotData = serde_json::from_slice(data).map_err(sm_err)?;
        let mut fresh = Applied::new(self.group);
        for batch in snapshot.batches {
            fresh.apply(batch)?;
        }
        fresh.last_applied = meta.last_log_id;
        fresh.membership = meta.last_membership.clone();
        *lock(&self.applied) = fresh;
        Ok(())
    }
}

impl RaftSnapshotBuilder<SimConfig> for Machine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<SimConfig>, StorageError> {
        let broken = self.disk.broken_snapshots();
        let (meta, data) = {
            let a = lock(&self.applied);
            let keep = a.batches.len() - usize::from(broken && !a.batches.is_empty());
            let data = serde_json::to_vec(&SnapshotData {
                batches: a.batches[..keep].to_vec(),
            })
            .map_err(sm_err)?;
            let id = a.last_applied.map_or(0, |l| l.index);
            let meta = SnapshotMeta {
                last_log_id: a.last_applied,
                last_membership: a.membership.clone(),
                snapshot_id: format!("{}-{id}", self.group),
            };
            (meta, data)
        };
        lock(&self.disk.inner).snapshot = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<SimConfig> for Machine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let a = lock(&self.applied);
        Ok((a.last_applied, a.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<Response>>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut a = lock(&self.applied);
        let mut out = Vec::new();
        for entry in entries {
            a.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => out.push(Vec::new()),
                EntryPayload::Membership(m) => {
                    a.membership = StoredMembership::new(Some(entry.log_id), m);
                    out.push(Vec::new());
                }
                EntryPayload::Normal(batch) => out.push(a.apply(batch)?),
            }
        }
        Ok(out)
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
        let data = snapshot.into_inner();
        self.restore(meta, &data)?;
        lock(&self.disk.inner).snapshot = Some((meta.clone(), data));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<SimConfig>>, StorageError> {
        Ok(lock(&self.disk.inner)
            .snapshot
            .clone()
            .map(|(meta, data)| Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(data)),
            }))
    }
}
