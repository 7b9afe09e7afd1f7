//! RocksDB storage for every Raft group of a node: Raft logs, votes, applied state, snapshots.
//!
//! One RocksDB instance per node holds all groups, keyed by group id (see [`keys`], the only
//! module that knows the byte layout). Log appends are reported durable only after the write-ahead
//! log is synced; one background syncer thread syncs once for every append that arrived while the
//! previous sync ran (group commit across all groups). Applying entries writes the state changes
//! and the applied position in one `WriteBatch`.

pub mod backup;
mod codec;
pub mod durable;
mod error;
pub mod format;
pub mod keys;
mod log_store;
mod lookup;
mod recent;
#[cfg(test)]
mod records;
mod state_machine;
mod stats;
mod syncer;

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, DBCompressionType, Options, DB};
use roost_state::GroupId;

pub use error::Error;
pub use log_store::LogStore;
pub use state_machine::{OnApply, ShardReader, StateMachineStore};
pub use stats::{Buckets, EngineStats, SnapshotStats, Timed, WalStats};
use syncer::Syncer;

/// A node's open database, shared by all of its groups' stores.
#[derive(Clone)]
pub struct Storage {
    /// The RocksDB instance.
    db: Arc<DB>,
    /// The group-commit WAL syncer shared by every group's log store.
    syncer: Syncer,
    /// Told what each applied batch changed.
    on_apply: Option<OnApply>,
    /// The syncer's counts, for metrics.
    wal: Arc<WalStats>,
}

impl Storage {
    /// Opens (creating if needed) the database under `dir`, migrating a data dir of an older
    /// format and refusing a newer one (see [`format`]).
    pub fn open(dir: &Path) -> Result<Storage, Error> {
        let found = format::check(dir)?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(2);
        opts.set_keep_log_file_num(4);
        // All column families share one write-ahead log, and a WAL file can only be deleted
        // once every family has flushed what it holds. Bounding the total forces flushes of
        // rarely written families (snapshots), so disk use stays flat under steady load.
        opts.set_max_total_wal_size(64 * 1024 * 1024);
        // Every acknowledged write waits on a WAL sync, twice in series (leader, then follower).
        // A new WAL file grows on each append, so its sync also commits the size change to the
        // file system's journal; a recycled file is written over in place and its sync only
        // flushes data: 96–100 µs instead of 143–148 µs per sync here (BENCHMARKS.md §19,
        // `examples/fsync_probe.rs`). Two obsolete files (≤ 64 MiB each, the bound above) are
        // kept for reuse. Safe with the default point-in-time recovery; not with `disableWAL`,
        // which nothing here uses.
        opts.set_recycle_log_file_num(2);
        let cf = |name: &str| {
            let mut o = Options::default();
            o.set_compression_type(DBCompressionType::Lz4);
            // The WAL bound above forces flushes of families that are barely written (the
            // snapshot family); with RocksDB's default of 2 memtables, two such flushes queued
            // behind a busy flush thread stopped every write of the database ("Stopping writes
            // because we have 2 immutable memtables"), long enough for Raft heartbeats to time
            // out and elections to start, under a 10-million-message fill. Room for more
            // memtables lets writes go on while flushes catch up.
            o.set_max_write_buffer_number(6);
            ColumnFamilyDescriptor::new(name, o)
        };
        let cfs = [keys::CF_RAFT, keys::CF_SM, keys::CF_SNAP].map(cf);
        let db = Arc::new(DB::open_cf_descriptors(&opts, dir, cfs)?);
        format::migrate(dir, found)?;
        let wal = Arc::new(WalStats::default());
        let syncer = Syncer::start(&db, wal.clone())?;
        Ok(Storage {
            db,
            syncer,
            on_apply: None,
            wal,
        })
    }

    /// Has every group's state machine announce the topics of each applied batch to
    /// `on_apply`, once the batch is written.
    pub fn announce_to(mut self, on_apply: OnApply) -> Storage {
        self.on_apply = Some(on_apply);
        self
    }

    /// The log store and state machine of `group`, loading its applied state.
    pub fn group(&self, group: GroupId) -> Result<(LogStore, StateMachineStore), Error> {
        let log = LogStore::new(self.db.clone(), group, self.syncer.clone());
        let sm = StateMachineStore::open(self.db.clone(), group, self.on_apply.clone())?;
        Ok((log, sm))
    }

    /// How many records `group`'s applied data holds (queues, envelopes, dead letters,
    /// idempotency records); a full scan, for tests and diagnostics.
    pub fn count_records(&self, group: GroupId) -> Result<u64, Error> {
        let cf = self
            .db
            .cf_handle(keys::CF_SM)
            .ok_or(Error::MissingColumnFamily(keys::CF_SM))?;
        let (lo, hi) = keys::snapshot_data(group);
        let mut n = 0;
        for item in lookup::scan(&self.db, cf, &lo, hi, None) {
            item?;
            n += 1;
        }
        Ok(n)
    }

    /// Approximate bytes on disk (SST files), for status and metrics.
    pub fn approximate_size(&self) -> u64 {
        self.sum_property("rocksdb.total-sst-files-size")
    }

    /// The WAL syncs so far (see `syncer`).
    pub fn wal_stats(&self) -> &WalStats {
        &self.wal
    }

    /// RocksDB's own view of its health: compaction debt, write stalls, data size. Reads a
    /// few in-memory properties, cheap enough for every scrape.
    pub fn engine_stats(&self) -> EngineStats {
        let db_int = |name: &str| self.db.property_int_value(name).ok().flatten().unwrap_or(0);
        EngineStats {
            pending_compaction_bytes: self
                .sum_property("rocksdb.estimate-pending-compaction-bytes"),
            write_stopped: db_int("rocksdb.is-write-stopped") != 0,
            delayed_write_rate: db_int("rocksdb.actual-delayed-write-rate"),
            live_data_bytes: self.sum_property("rocksdb.estimate-live-data-size"),
            sst_bytes: self.approximate_size(),
        }
    }

    /// An integer property summed over every column family.
    fn sum_property(&self, name: &str) -> u64 {
        [keys::CF_RAFT, keys::CF_SM, keys::CF_SNAP]
            .iter()
            .filter_map(|cf| self.db.cf_handle(cf))
            .filter_map(|cf| self.db.property_int_value_cf(cf, name).ok().flatten())
            .sum()
    }
}
