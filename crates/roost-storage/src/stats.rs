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

/// Upper bounds, in seconds, of the WAL sync latency buckets: a sync takes a fraction of a
/// millisecond on a good SSD and tens of milliseconds on a disk in trouble, and every
/// acknowledged write waits for one.
pub const SYNC_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// How many operations took how long: one count per bucket of [`SYNC_BUCKETS`], and a last
/// one for those slower than every bound.
#[derive(Debug, Default)]
pub struct Buckets([AtomicU64; SYNC_BUCKETS.len() + 1]);

impl Buckets {
    /// Counts one operation that took `took`.
    pub(crate) fn record(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let i = SYNC_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(SYNC_BUCKETS.len());
        self.0[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Each bucket's upper bound (infinity for the last) with its own count, not cumulative.
    pub fn counts(&self) -> Vec<(f64, u64)> {
        SYNC_BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.0.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect()
    }
}

/// The group-commit WAL syncs of a node's database (see `syncer`).
#[derive(Debug, Default)]
pub struct WalStats {
    /// Every `fdatasync` of the write-ahead log.
    pub syncs: Timed,
    /// How long each took, for latency percentiles.
    pub latency: Buckets,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_is_counted_in_the_first_bucket_that_holds_it() {
        let b = Buckets::default();
        for micros in [50, 100, 300, 2_000_000] {
            b.record(Duration::from_micros(micros));
        }
        let counts = b.counts();
        assert_eq!(counts.len(), SYNC_BUCKETS.len() + 1);
        assert_eq!(counts[0], (0.0001, 2), "50 µs and exactly 100 µs");
        assert_eq!(counts[2], (0.0005, 1), "300 µs");
        assert_eq!(counts[SYNC_BUCKETS.len()], (f64::INFINITY, 1), "2 s");
        assert_eq!(counts.iter().map(|(_, n)| n).sum::<u64>(), 4);
    }
}
