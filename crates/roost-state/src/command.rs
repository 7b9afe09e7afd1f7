//! What travels through Raft (commands) and what is answered from applied state (queries).

use serde::{Deserialize, Serialize};

use crate::{CommandError, Envelope, Queue, QueueId, QueueSettings};

/// A replicated log entry: a command stamped by the proposing leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The proposer's wall clock in ms since the Unix epoch. The machine's own clock is
    /// `max(seen, stamped)`, so time never runs backwards inside a group even when leaders'
    /// clocks disagree.
    pub stamped_ms: u64,
    /// What to do.
    pub command: Command,
}

/// A state change. Every field is chosen before proposing so replicas agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Does nothing; proves a group can commit (readiness, leader changes).
    Noop,
    /// Records the cluster layout in the metadata group (the first value wins), so a node
    /// started with a different shard count can tell it would misroute.
    InitLayout {
        /// Number of shard groups the proposer is configured with.
        shards: u32,
    },
    /// Creates a queue.
    CreateQueue {
        /// Id chosen by the proposer (encodes this shard).
        id: QueueId,
        /// SHA-256 of the key shown once to the creator.
        key_digest: [u8; 32],
        /// Consumers registered from the start (cursor 0).
        consumers: Vec<String>,
        /// Settings.
        settings: QueueSettings,
    },
    /// Appends one envelope.
    Publish {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// Message id chosen by the proposer.
        id: String,
        /// The JSON document (already validated by the edge).
        payload: String,
        /// `Idempotency-Key` and the body's digest, when the client sent a key.
        idempotency: Option<(String, [u8; 32])>,
    },
    /// Moves a consumer's cursor forward (UPSERT MAX), registering the consumer if new.
    Ack {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// The consumer.
        consumer: String,
        /// Everything with `seq <= cursor` is done.
        cursor: u64,
    },
}

impl Command {
    /// Whether applying the command twice has the same effect as once, so a request whose
    /// outcome is unknown (leader lost mid-write) may be retried.
    pub fn is_retry_safe(&self) -> bool {
        match self {
            Command::Noop | Command::InitLayout { .. } | Command::Ack { .. } => true,
            Command::Publish { idempotency, .. } => idempotency.is_some(),
            Command::CreateQueue { .. } => false,
        }
    }

    /// The queue a command is about, used to check it reached the right shard.
    pub fn queue(&self) -> Option<&QueueId> {
        match self {
            Command::Noop | Command::InitLayout { .. } => None,
            Command::CreateQueue { id, .. } => Some(id),
            Command::Publish { queue, .. } | Command::Ack { queue, .. } => Some(queue),
        }
    }
}

/// The outcome of applying a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// `Noop` applied.
    Done,
    /// The layout recorded in the metadata group.
    Layout {
        /// The shard count fixed at bootstrap.
        shards: u32,
    },
    /// The queue exists now.
    Created {
        /// Its metadata.
        queue: Queue,
    },
    /// An envelope was appended, or an idempotent retry found the original.
    Published {
        /// The envelope's seq.
        seq: u64,
        /// The envelope's id.
        id: String,
        /// Publish time (ms since the epoch).
        published_at_ms: u64,
        /// True when the idempotency key matched an earlier publish.
        replayed: bool,
    },
    /// The consumer's cursor after the ack.
    Acked {
        /// The stored cursor (never lower than before).
        cursor: u64,
    },
    /// The command was refused and changed nothing.
    Refused(CommandError),
}

/// A read, answered by the leader after it has confirmed leadership (linearizable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    /// Reads envelopes with `seq > cursor`.
    Pull {
        /// Target queue.
        queue: QueueId,
        /// Digest of the Bearer key presented.
        auth: [u8; 32],
        /// The reading consumer.
        consumer: String,
        /// Exclusive start; `None` means the consumer's acked cursor.
        cursor: Option<u64>,
        /// Most envelopes to return.
        limit: usize,
    },
}

/// The answer to a [`Query`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueryResult {
    /// Envelopes in seq order.
    Pulled {
        /// The envelopes read.
        messages: Vec<Envelope>,
        /// The cursor the read started from (after defaulting).
        cursor: u64,
        /// Highest seq returned, or the start cursor when nothing was.
        next_cursor: u64,
        /// Whether envelopes past `next_cursor` exist.
        has_more: bool,
    },
    /// The query was refused.
    Refused(CommandError),
}
