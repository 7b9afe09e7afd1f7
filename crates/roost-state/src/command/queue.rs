//! Commands on one queue: its life, its messages, its consumers and origins. Each names its
//! queue, whose shard applies it.

use serde::{Deserialize, Serialize};

use super::Operation;
use crate::{QueueId, QueueSettings, Source};

/// Creates a queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateQueue {
    /// Id chosen by the proposer (encodes this shard).
    pub id: QueueId,
    /// SHA-256 of the key shown once to the creator.
    pub key_digest: [u8; 32],
    /// Consumers registered from the start (cursor 0).
    pub consumers: Vec<String>,
    /// Settings.
    pub settings: QueueSettings,
}

impl Operation for CreateQueue {
    fn retry_safe(&self) -> bool {
        false
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.id)
    }
}

/// Deletes a queue and all of its data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteQueue {
    /// Target queue.
    pub queue: QueueId,
    /// Digest of the Bearer key presented.
    pub auth: [u8; 32],
}

impl Operation for DeleteQueue {
    fn retry_safe(&self) -> bool {
        false
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.queue)
    }
}

/// Appends one envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    /// Target queue.
    pub queue: QueueId,
    /// Digest of the Bearer key presented.
    pub auth: [u8; 32],
    /// Message id chosen by the proposer.
    pub id: String,
    /// The JSON document (already validated by `roost-api`).
    pub payload: String,
    /// Where the envelope comes from.
    pub source: Source,
    /// `Idempotency-Key` and the body's digest, when the client sent a key.
    pub idempotency: Option<(String, [u8; 32])>,
    /// Set when the publisher is over its quota: hold the envelope under this pending id
    /// instead of appending it.
    pub hold: Option<String>,
}

impl Operation for Publish {
    // An idempotency key makes a repeat answer the first publish.
    fn retry_safe(&self) -> bool {
        self.idempotency.is_some()
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.queue)
    }
}

/// Moves a consumer's cursor forward (UPSERT MAX), registering the consumer if new.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Target queue.
    pub queue: QueueId,
    /// Digest of the Bearer key presented.
    pub auth: [u8; 32],
    /// The consumer.
    pub consumer: String,
    /// Everything with `seq <= cursor` is done.
    pub cursor: u64,
}

impl Operation for Ack {
    fn retry_safe(&self) -> bool {
        true
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.queue)
    }
}

/// Adds consumers (starting at the current head) and removes others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetConsumers {
    /// Target queue.
    pub queue: QueueId,
    /// Digest of the Bearer key presented.
    pub auth: [u8; 32],
    /// Consumers to register.
    pub add: Vec<String>,
    /// Consumers to unregister.
    pub remove: Vec<String>,
}

impl Operation for SetConsumers {
    fn retry_safe(&self) -> bool {
        true
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.queue)
    }
}

/// Records a failed delivery; dead-letters the message at the limit or when asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nack {
    /// Target queue.
    pub queue: QueueId,
    /// Digest of the Bearer key presented.
    pub auth: [u8; 32],
    /// The consumer that failed.
    pub consumer: String,
    /// The message that failed.
    pub seq: u64,
    /// Why it failed.
    pub error: String,
    /// Dead-letter at once, whatever the count.
    pub dead_letter: bool,
}

impl Operation for Nack {
    fn retry_safe(&self) -> bool {
        false
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.queue)
    }
}

/// Appends a dead letter's payload as a new envelope and removes the dead letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayDlq {
    /// Target queue.
    pub queue: QueueId,
    /// Digest of the Bearer key presented.
    pub auth: [u8; 32],
    /// Id of the dead-lettered envelope.
    pub dlq_msg_id: String,
    /// Id of the new envelope, chosen by the proposer.
    pub id: String,
}

impl Operation for ReplayDlq {
    fn retry_safe(&self) -> bool {
        false
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.queue)
    }
}

/// Adds and removes allowed CORS origins (never `*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetOrigins {
    /// Target queue.
    pub queue: QueueId,
    /// Digest of the Bearer key presented.
    pub auth: [u8; 32],
    /// Origins to allow.
    pub add: Vec<String>,
    /// Origins to stop allowing.
    pub remove: Vec<String>,
}

impl Operation for SetOrigins {
    fn retry_safe(&self) -> bool {
        true
    }

    fn queue(&self) -> Option<&QueueId> {
        Some(&self.queue)
    }
}
