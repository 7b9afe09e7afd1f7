//! One queue's replicated data: its metadata, its envelopes and its idempotency records.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::QueueId;

/// Where an envelope came from, as the API reports it in `source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// `POST /q/{id}/publish`.
    Publish,
}

impl Source {
    /// The wire name of the source.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Publish => "publish",
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

/// Settings fixed when a queue is created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    /// Deliveries before a nacked message is dead-lettered.
    pub max_deliveries: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings { max_deliveries: 5 }
    }
}

/// The in-memory metadata of one queue (envelopes live in storage).
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
    /// Registered consumers and their acked cursors (`seq <= cursor` is done).
    pub consumers: BTreeMap<String, u64>,
    /// Settings chosen at create.
    pub settings: QueueSettings,
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
