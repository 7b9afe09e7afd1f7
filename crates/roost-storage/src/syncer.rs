//! Group commit: one WAL sync acknowledges every log append that arrived before it.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::thread;
use std::time::Instant;

use openraft::storage::LogFlushed;
use rocksdb::DB;
use roost_types::TypeConfig;

use crate::stats::WalStats;

/// Hands log-append callbacks to the syncer thread.
#[derive(Clone)]
pub struct Syncer {
    /// Callbacks waiting for the next sync; the thread ends when every sender is dropped.
    tx: mpsc::Sender<LogFlushed<TypeConfig>>,
}

impl Syncer {
    /// Starts the syncer thread for `db`, counting its syncs in `stats`.
    pub fn start(db: &Arc<DB>, stats: Arc<WalStats>) -> std::io::Result<Syncer> {
        // Weak, so the database closes as soon as its stores are dropped.
        let db: Weak<DB> = Arc::downgrade(db);
        let (tx, rx) = mpsc::channel::<LogFlushed<TypeConfig>>();
        thread::Builder::new()
            .name("roost-wal-sync".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut waiting = vec![first];
                    waiting.extend(rx.try_iter());
                    let started = Instant::now();
                    let result = match db.upgrade() {
                        Some(db) => db.flush_wal(true).map_err(|e| e.to_string()),
                        None => Err("database closed".to_owned()),
                    };
                    let took = started.elapsed();
                    stats.syncs.record(took);
                    stats.latency.record(took);
                    stats
                        .appends
                        .fetch_add(waiting.len() as u64, Ordering::Relaxed);
                    for callback in waiting {
                        callback.log_io_completed(result.clone().map_err(std::io::Error::other));
                    }
                }
            })?;
        Ok(Syncer { tx })
    }

    /// Reports `callback` done once everything written so far is synced.
    pub fn after_sync(&self, callback: LogFlushed<TypeConfig>) {
        // The thread only stops when every sender is gone, so this send cannot fail while
        // `self` exists; if it somehow did, dropping the callback reports the IO as failed.
        let _ = self.tx.send(callback);
    }
}
