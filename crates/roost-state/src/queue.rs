//! One queue's replicated data: its metadata, its envelopes, its dead letters and its
//! idempotency records.

use crate::command as cmd;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::QueueId;

/// Where an envelope came from, as the API reports it in `source`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// `POST /q/{id}/publish`.
    Publish,
    /// A form submission mirrored into the queue.
    FormMirror {
        /// The form the submission came from.
        form_id: String,
    },
    /// A dead letter replayed into the queue.
    DlqReplay {
        /// Id of the envelope that was dead-lettered.
        replayed_from: String,
    },
    /// A publish held back by a quota and drained after the plan was raised.
    QuotaDrain,
}

impl Source {
    /// The wire name of the source.
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Publish => "publish",
            Source::FormMirror { .. } => "form-mirror",
            Source::DlqReplay { .. } => "dlq-replay",
            Source::QuotaDrain => "quota-drain",
        }
    }
}

/// A stored message, exactly as pulls return it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Server-chosen message id (`qm_…`).
    pub id: String,
    /// Position in the queue: unique, starting at 1, strictly increasing.
    pub seq: u64,
    /// Leader-stamped publish time in milliseconds since the Unix epoch.
    pub published_at_ms: u64,
    /// How the envelope entered the queue.
    pub source: Source,
    /// The published JSON document, kept as the client sent it so it is never re-encoded.
    pub payload: String,
}

/// Which browser origins get a CORS grant for a queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origins {
    /// Every origin (`*`, settable only at create).
    Any,
    /// Exactly these origins.
    List(BTreeSet<String>),
    /// None (the default).
    #[default]
    None,
}

impl Origins {
    /// Whether `origin` gets a CORS grant.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            Origins::Any => true,
            Origins::List(list) => list.contains(origin),
            Origins::None => false,
        }
    }
}

/// How many consumers and allowed origins one queue may have. Carried in
/// [`crate::Command::Capped`] rather than configured in the state machine, so every replica
/// applies the limit the proposer had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCaps {
    /// Registered consumers.
    pub max_consumers: u32,
    /// Allowed CORS origins.
    pub max_origins: u32,
}

impl QueueCaps {
    /// `command` limited by these caps.
    pub fn limit(self, command: crate::Command) -> crate::Command {
        crate::Command::Capped(cmd::Capped {
            caps: self,
            command: Box::new(command),
        })
    }
}

impl Default for QueueCaps {
    fn default() -> Self {
        QueueCaps {
            max_consumers: 1000,
            max_origins: 100,
        }
    }
}

/// Limits that reap messages of a queue with no registered consumer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Messages older than this are reaped.
    pub max_age_ms: Option<u64>,
    /// At most this many messages are kept.
    pub max_messages: Option<u64>,
}

/// Settings fixed when a queue is created (origins change through their own command).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    /// Failed deliveries (nacks) before a message is dead-lettered.
    pub max_deliveries: u32,
    /// CORS grants.
    pub allowed_origins: Origins,
    /// Reaping without registered consumers.
    pub retention: Retention,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            max_deliveries: 5,
            allowed_origins: Origins::None,
            retention: Retention::default(),
        }
    }
}

/// Failed deliveries of one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NackRecord {
    /// How many nacks the message received.
    pub count: u32,
    /// The error of the latest nack.
    pub last_error: String,
    /// Whether the message was copied to the DLQ (it is, at most once).
    pub dead_lettered: bool,
}

/// The in-memory metadata of one queue (envelopes and dead letters live in storage).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// The queue's id.
    pub id: QueueId,
    /// SHA-256 digest of the queue's Bearer key; the key itself is never stored.
    pub key_digest: [u8; 32],
    /// Leader-stamped creation time, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// Seq of the newest envelope; 0 while the queue is empty.
    pub head_seq: u64,
    /// Every envelope with `seq <= floor_seq` was garbage-collected.
    pub floor_seq: u64,
    /// Registered consumers and their acked cursors (`seq <= cursor` is done).
    pub consumers: BTreeMap<String, u64>,
    /// Nack counts of messages above the floor that were nacked.
    pub nacks: BTreeMap<u64, NackRecord>,
    /// Row number the next dead letter gets (rows are never reused, so pages are exact).
    pub dlq_next_row: u64,
    /// Dead letters waiting in the DLQ.
    pub dlq_len: u64,
    /// The account that claimed the queue, if any.
    pub owner: Option<String>,
    /// Row number the next held (over-quota) publish gets.
    pub held_next_row: u64,
    /// Held publishes waiting to be drained into the queue.
    pub held_len: u64,
    /// Settings.
    pub settings: QueueSettings,
}

impl Queue {
    /// Envelopes currently stored (seqs are contiguous above the floor).
    pub fn message_count(&self) -> u64 {
        self.head_seq - self.floor_seq
    }
}

/// A dead letter: the envelope as it was, and why it was given up on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DlqEntry {
    /// The envelope, unchanged.
    pub envelope: Envelope,
    /// Nacks it received.
    pub nack_count: u32,
    /// The error of the last nack.
    pub last_error: String,
    /// When it was dead-lettered, ms since the epoch.
    pub dead_lettered_at_ms: u64,
}

/// A publish held back by a quota, waiting to be drained into its queue in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldPublish {
    /// Id reported to the publisher (`pp_…`).
    pub pending_id: String,
    /// Id the envelope will have.
    pub id: String,
    /// The JSON document.
    pub payload: String,
    /// When it was held, ms since the epoch.
    pub held_at_ms: u64,
    /// Its `Idempotency-Key` and body digest, so the key answers the real seq once drained.
    pub idempotency: Option<(String, [u8; 32])>,
}

/// What an `Idempotency-Key` recorded: enough to answer a retried publish with the original.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// SHA-256 digest of the body first published with the key.
    pub body_digest: [u8; 32],
    /// The original seq.
    pub seq: u64,
    /// The original message id.
    pub id: String,
    /// When the key was first used, ms since the Unix epoch; the record expires 24 h later.
    pub at_ms: u64,
}

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;

/// The prefix of consumer ids that only inspect: never registered, never gating GC.
pub const INSPECTION_PREFIX: &str = "_dash_";
