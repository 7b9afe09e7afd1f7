//! Plain counters of the storage's own work, kept in atomics so writing them costs next to
//! nothing; the node reads them when its metrics are scraped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A count of operations and the time they took in total.
#[derive(Debug, Default)]
pub struct Timed {
    /// Operations finished.
    count: AtomicU64,
    /// Their total duration, in microseconds.
    micros: AtomicU64,
}

impl Timed {
    /// Counts one operation that took `took`.
    pub(crate) fn record(&self, took: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Operations finished so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Their total duration, in seconds.
    pub fn seconds(&self) -> f64 {
        self.micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// The group-commit WAL syncs of a node's database (see `syncer`).
#[derive(Debug, Default)]
pub struct WalStats {
    /// Every `fdatasync` of the write-ahead log.
    pub syncs: Timed,
    /// Log appends the syncs acknowledged (several per sync when they share it).
    pub appends: AtomicU64,
}

/// One group's snapshots on this node.
#[derive(Debug, Default)]
pub struct SnapshotStats {
    /// Snapshots built (to purge the log, or to send to a lagging member).
    pub builds: Timed,
    /// Snapshots received from a leader and installed.
    pub installs: Timed,
}

/// What RocksDB reports about its own health, read when asked.
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineStats {
    /// Bytes compaction has yet to rewrite; RocksDB slows and then stops writes as it grows.
    pub pending_compaction_bytes: u64,
    /// Whether RocksDB has stopped writes now (a write stall).
    pub write_stopped: bool,
    /// The rate writes are held to while RocksDB delays them (0 when it does not).
    pub delayed_write_rate: u64,
    /// Estimated bytes of live data.
    pub live_data_bytes: u64,
    /// Bytes of SST files on disk.
    pub sst_bytes: u64,
}
