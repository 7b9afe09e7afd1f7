//! Why a command or query was refused. Every variant maps to one stable API error code.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A refusal decided by the state machine; refusals change nothing.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum CommandError {
    /// No queue with that id exists (or it was deleted).
    #[error("queue not found")]
    QueueNotFound,
    /// No form with that id exists.
    #[error("form not found")]
    FormNotFound,
    /// The Bearer key does not match the form's key.
    #[error("invalid form api key")]
    FormUnauthorized,
    /// The Bearer key does not match the queue's key.
    #[error("invalid queue api key")]
    Unauthorized,
    /// A queue with this id exists already (an id collision; the proposer retries).
    #[error("queue already exists")]
    QueueExists,
    /// An ack named a cursor past the newest message.
    #[error("cursor {cursor} is past the queue's last seq {head}")]
    CursorPastHead {
        /// The cursor asked for.
        cursor: u64,
        /// The queue's newest seq.
        head: u64,
    },
    /// No account with that id, or none holding that key.
    #[error("account not found")]
    AccountNotFound,
    /// The queue was already claimed by another account.
    #[error("queue already claimed by another account")]
    QueueClaimed,
    /// No work queue or task with that id in the caller's workspace.
    #[error("{0} not found")]
    WorkNotFound(String),
    /// No job with that id in the caller's workspace.
    #[error("job not found")]
    JobNotFound,
    /// A worker used a lease token that is not the job's current one.
    #[error("stale lease token: the job was reclaimed, finished or timed out")]
    StaleToken,
    /// The job is in a state that does not allow the operation.
    #[error("job is {0}")]
    JobState(String),
    /// A nack named a seq that is not stored (garbage-collected or not yet published).
    #[error("seq {seq} is not in the queue (stored seqs are {floor} < seq <= {head})")]
    SeqOutOfRange {
        /// The seq asked for.
        seq: u64,
        /// The garbage-collection floor.
        floor: u64,
        /// The newest seq.
        head: u64,
    },
    /// A replay named a message that is not in the DLQ.
    #[error("no dead letter with that id")]
    DlqMessageNotFound,
    /// The same Idempotency-Key was used with a different body.
    #[error("idempotency key reused with a different body")]
    IdempotencyMismatch,
    /// A request that the state machine cannot interpret (e.g. sent to the wrong group).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The payer is over its monthly limit and its held publishes reached their bound; the
    /// publish was not kept.
    #[error("monthly publish quota exceeded, and this payer's held publishes reached {max_bytes} bytes this month")]
    HeldFull {
        /// The bound.
        max_bytes: u64,
    },
    /// The queue would have more registered consumers than its cap.
    #[error("a queue may have at most {max} registered consumers")]
    TooManyConsumers {
        /// The cap.
        max: u32,
    },
    /// The queue would allow more CORS origins than its cap.
    #[error("a queue may allow at most {max} origins")]
    TooManyOrigins {
        /// The cap.
        max: u32,
    },
    /// No member has that id.
    #[error("no member has that id")]
    MemberNotFound,
    /// The id was removed from the cluster and may never be used again.
    #[error("node id {0} was removed from the cluster and can never be used again")]
    MemberRemoved(u64),
    /// The member conflicts with one the roster holds (another address, or an address in use).
    #[error("{0}")]
    MemberConflict(String),
    /// A data dir other than the one the cluster knew serves under this id.
    #[error("node id {0} was used by another data dir; add a new node and remove the old id")]
    IdReused(u64),
}

/// Storage could not answer a read the state machine needed.
#[derive(Debug, Error)]
#[error("storage lookup failed: {0}")]
pub struct LookupError(pub String);
