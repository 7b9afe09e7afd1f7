//! What one durable log append costs on this machine's disk, per way of writing the log:
//!
//! - `append`: write at the end and `fdatasync` (the file grows on every append, so each sync
//!   also commits a size change to the file system's journal: how RocksDB's WAL is written);
//! - `prealloc`: write into a file already written to its full size and `fdatasync` (the size
//!   never changes, so the sync flushes data only: how etcd's and RabbitMQ's logs are written);
//! - `append-fsync`: as `append`, with `fsync`;
//! - RocksDB, a fresh WAL: a write without sync, then `flush_wal(true)` as the log store's
//!   syncer does, into a new database (its WAL file grows like `append`);
//! - RocksDB, a recycled WAL: the same with `recycle_log_file_num` set and the database filled
//!   past a few memtable flushes first, so the WAL in use is an older file written over in
//!   place (how `Storage` opens its database).
//!
//! ```sh
//! cargo run --release -p roost-storage --example fsync_probe -- DIR [COUNT] [BYTES]
//! ```
//!
//! Prints the latency percentiles of each, alternating the ways append by append so they meet
//! the same disk. Files go in DIR (the data dir's file system) and are removed afterwards.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use rocksdb::{Options, WriteBatch, WriteOptions, DB};

/// Ways of making an append durable.
#[derive(Clone, Copy)]
enum Way {
    Append,
    Prealloc,
    AppendFsync,
    WalFresh,
    WalRecycled,
}

impl Way {
    const ALL: [Way; 5] = [
        Way::Append,
        Way::Prealloc,
        Way::AppendFsync,
        Way::WalFresh,
        Way::WalRecycled,
    ];

    fn name(self) -> &'static str {
        match self {
            Way::Append => "append + fdatasync (file grows)",
            Way::Prealloc => "preallocated + fdatasync (size fixed)",
            Way::AppendFsync => "append + fsync",
            Way::WalFresh => "RocksDB, fresh WAL (file grows)",
            Way::WalRecycled => "RocksDB, recycled WAL",
        }
    }
}

/// Memtable size of the probe databases: small, so the fill rolls the WAL a few times.
const MEMTABLE: usize = 4 << 20;

/// Where one way appends: a file and where its next record goes, or a database and its next
/// key.
enum Log {
    File { way: Way, file: File, at: u64 },
    Db { db: DB, next: u64 },
}

impl Log {
    fn create(dir: &Path, way: Way, count: usize, bytes: usize) -> anyhow::Result<Log> {
        match way {
            Way::WalFresh => Log::open_db(dir, 0),
            Way::WalRecycled => {
                let log = Log::open_db(dir, 4)?;
                if let Log::Db { db, .. } = &log {
                    fill(db)?;
                }
                Ok(log)
            }
            _ => Log::create_file(dir, way, count, bytes),
        }
    }

    fn open_db(dir: &Path, recycle: usize) -> anyhow::Result<Log> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_write_buffer_size(MEMTABLE);
        opts.set_recycle_log_file_num(recycle);
        let db = DB::open(&opts, dir.join(format!("db-recycle-{recycle}")))?;
        Ok(Log::Db { db, next: 0 })
    }

    fn create_file(dir: &Path, way: Way, count: usize, bytes: usize) -> anyhow::Result<Log> {
        let path = dir.join(format!("probe-{}.log", way as u8));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)?;
        if let Way::Prealloc = way {
            // Written out (not just fallocated) so no extent is left unwritten: a first write
            // into an unwritten extent also changes metadata.
            let zeros = vec![0u8; 1 << 20];
            let mut left = (count * bytes) as u64 + (1 << 20);
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                file.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            file.sync_all()?;
        }
        Ok(Log::File { way, file, at: 0 })
    }

    /// Appends one record durably; how long it took.
    fn append(&mut self, record: &[u8]) -> anyhow::Result<Duration> {
        let start = Instant::now();
        match self {
            Log::File { way, file, at } => {
                file.write_all_at(record, *at)?;
                *at += record.len() as u64;
                match way {
                    Way::AppendFsync => file.sync_all()?,
                    _ => file.sync_data()?,
                }
            }
            Log::Db { db, next } => {
                let mut batch = WriteBatch::default();
                batch.put(next.to_be_bytes(), record);
                *next += 1;
                let mut opts = WriteOptions::default();
                opts.set_sync(false);
                db.write_opt(batch, &opts)?;
                db.flush_wal(true)?;
            }
        }
        Ok(start.elapsed())
    }
}

/// Writes and flushes several memtables' worth, so the WAL files before the current one are
/// obsolete (and, when recycling, reused).
fn fill(db: &DB) -> anyhow::Result<()> {
    let value = vec![0xa5u8; 4096];
    for round in 0..4u32 {
        for i in 0..(MEMTABLE / value.len() + 16) {
            db.put(format!("fill-{round}-{i:08}"), &value)?;
        }
        db.flush()?;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: fsync_probe DIR [COUNT] [BYTES]"))?;
    let count: usize = args.next().map_or(Ok(3000), |a| a.parse())?;
    let bytes: usize = args.next().map_or(Ok(512), |a| a.parse())?;
    let scratch = tempfile::tempdir_in(dir)?;
    let mut logs = Way::ALL
        .iter()
        .map(|w| Log::create(scratch.path(), *w, count, bytes))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let record = vec![0x5au8; bytes];
    let mut took = vec![Vec::with_capacity(count); logs.len()];
    for _ in 0..count {
        for (log, t) in logs.iter_mut().zip(&mut took) {
            t.push(log.append(&record)?);
        }
    }
    println!("{count} appends of {bytes} bytes each, ways alternating");
    println!("| way | p50 µs | p90 µs | p99 µs |\n|---|---|---|---|");
    for (way, mut t) in Way::ALL.iter().zip(took) {
        t.sort_unstable();
        println!(
            "| {} | {:.0} | {:.0} | {:.0} |",
            way.name(),
            percentile(&t, 0.5),
            percentile(&t, 0.9),
            percentile(&t, 0.99)
        );
    }
    Ok(())
}
