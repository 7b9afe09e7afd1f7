//! Errors of opening and reading storage outside openraft's own traits.

use openraft::{AnyError, StorageIOError};
use roost_types::StorageError;
use thiserror::Error;

/// A storage failure.
#[derive(Debug, Error)]
pub enum Error {
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A stored value could not be decoded (corruption or a format change).
    #[error("corrupt record {what}: {source}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's complaint.
        source: postcard::Error,
    },
    /// A record could not be encoded.
    #[error("cannot encode a record: {0}")]
    Encode(postcard::Error),
    /// A column family is missing from an open database.
    #[error("missing column family {0}")]
    MissingColumnFamily(&'static str),
    /// The syncer thread could not be started.
    #[error("cannot start the WAL syncer: {0}")]
    Thread(#[from] std::io::Error),
    /// The state machine could not read what it needed.
    #[error("state lookup: {0}")]
    Lookup(String),
    /// A snapshot carried a key outside its group's data range.
    #[error("snapshot record outside the group's range")]
    ForeignKey,
    /// The data dir's format cannot be read by this build (see `format`).
    #[error("data format: {0}")]
    Format(String),
    /// A lock was poisoned by a panic in another thread.
    #[error("state lock poisoned")]
    Poisoned,
}

/// Wraps `e` as openraft's storage error of the kind `make` names.
pub(crate) fn io<E: std::error::Error + 'static>(
    make: impl FnOnce(AnyError) -> StorageIOError<u64>,
    e: &E,
) -> StorageError {
    make(AnyError::new(e)).into()
}
