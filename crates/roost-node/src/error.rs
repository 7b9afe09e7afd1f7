//! Why a node could not carry out an operation.

use thiserror::Error;

/// A node-level failure (refusals by the state machine are responses, not errors).
#[derive(Debug, Error)]
pub enum NodeError {
    /// The configuration is invalid; the text names the field.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Storage failed to open or read.
    #[error("storage: {0}")]
    Storage(#[from] roost_storage::Error),
    /// No leader could be reached in time; nothing was applied.
    #[error("no leader available: {0}")]
    Unavailable(String),
    /// The operation may or may not have been applied (the leader changed or became
    /// unreachable mid-request); retrying with the same Idempotency-Key is safe.
    #[error("outcome unknown: {0}")]
    Indeterminate(String),
    /// The group id is not one this cluster has.
    #[error("no such group {0}")]
    NoSuchGroup(u32),
    /// The state machine answered something the request cannot produce: a server fault.
    #[error("unexpected state machine answer: {0}")]
    Unexpected(String),
    /// A listener could not be started.
    #[error("listen: {0}")]
    Listen(#[from] std::io::Error),
    /// Raft stopped with a fatal error.
    #[error("raft: {0}")]
    Raft(String),
    /// A backup could not be taken, checked or restored; the text says why.
    #[error("backup: {0}")]
    Backup(String),
    /// A configured field is out of its bounds.
    #[error("invalid configuration: {field}: {why}")]
    InvalidField {
        /// The field, as the config file names it.
        field: &'static str,
        /// What its value must be.
        why: &'static str,
    },
}
