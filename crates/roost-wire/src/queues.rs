//! The queue API (`/q/*`) and binding a form to a queue. Every per-queue reply is framed with
//! `queue_id`, `_help` and `_links`, in that order after the body's own fields.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Doc;

/// A new queue (`POST /q/create`); every field optional.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"consumers": ["worker-1"], "max_deliveries": 5}))]
pub struct CreateQueue {
    /// Consumers registered from the start (at most 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = crate::schema::consumer_ids)]
    pub consumers: Vec<String>,
    /// Failed deliveries before a message is dead-lettered (1-100, default 5).
    #[serde(
        default,
        deserialize_with = "crate::whole::opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 1, maximum = 100)]
    pub max_deliveries: Option<u32>,
    /// Browser origins allowed to call the queue with its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schema::allowed_origins)]
    pub allowed_origins: Option<OriginsField>,
}

/// `allowed_origins` as given at create: `"*"`, a comma-separated string, or a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OriginsField {
    /// `"*"` or `"https://a.example,https://b.example"`.
    One(String),
    /// `["https://a.example"]` (a `"*"` in it allows every origin).
    Many(Vec<String>),
}

/// A pull (`GET /q/{id}/pull`, the query string).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Pull {
    /// Who is reading (its cursor is where an absent `cursor` starts).
    pub consumer_id: String,
    /// Read messages with seq greater than this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Most messages (1-1000, default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Seconds to wait for a message when there is none (0-30, default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
}

/// An ack (`POST /q/{id}/ack`): everything at or below `cursor` is done.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"cursor": 1, "consumer_id": "worker-1"}))]
pub struct Ack {
    /// The cursor to move to.
    #[serde(deserialize_with = "crate::whole::one")]
    #[schema(maximum = 18446744073709551615_f64)]
    pub cursor: u64,
    /// Whose cursor.
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,128}$")]
    pub consumer_id: String,
}

/// A failed delivery (`POST /q/{id}/nack`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"consumer_id": "worker-1", "seq": 2, "error": "bad input"}))]
pub struct Nack {
    /// Who failed to process it.
    #[schema(pattern = "^[A-Za-z0-9_.:-]{1,128}$")]
    pub consumer_id: String,
    /// The message.
    #[serde(deserialize_with = "crate::whole::one")]
    #[schema(maximum = 18446744073709551615_f64)]
    pub seq: u64,
    /// Why (at most 4096 bytes).
    #[serde(default)]
    #[schema(max_length = 4096)]
    pub error: String,
    /// Dead-letter it now rather than after `max_deliveries` failures.
    #[serde(default)]
    pub dead_letter: bool,
}

/// A replay of a dead letter (`POST /q/{id}/dlq/replay`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"dlq_msg_id": "qm_00000000000000a1"}))]
pub struct Replay {
    /// The dead letter's envelope id.
    pub dlq_msg_id: String,
}

/// Binding a form to a queue (`PUT /api/forms/{id}`, the form key as Bearer).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"queue_id": "q_01a3f9c2e4b6d8f0", "queue_api_key": "qk_..."}))]
pub struct BindForm {
    /// The queue its submissions go to.
    pub queue_id: String,
    /// That queue's key (or the `X-Queue-Api-Key` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_api_key: Option<String>,
}

/// The `_links` of a queue: where each of its operations is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueLinks {
    /// The queue itself.
    #[serde(rename = "self")]
    pub this: String,
    /// Publish.
    pub publish: String,
    /// Pull (with a `<consumer>` placeholder).
    pub pull: String,
    /// Ack.
    pub ack: String,
    /// Nack.
    pub nack: String,
    /// The consumer roster.
    pub consumers: String,
    /// The dead letters.
    pub dlq: String,
}

/// What the HTTP edge adds to every per-queue reply, after the reply's own fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFrame {
    /// The queue.
    pub queue_id: String,
    /// What to do next.
    #[serde(rename = "_help")]
    pub help: String,
    /// Its operations.
    #[serde(rename = "_links")]
    pub links: QueueLinks,
}

/// A created queue, with its key shown this once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueueCreated {
    /// The key every per-queue call presents.
    pub queue_api_key: String,
    /// The consumers registered at create.
    pub consumers: Vec<String>,
    /// Failed deliveries before dead-lettering.
    pub max_deliveries: u32,
    /// `*`, the allowed origins joined by commas, or empty.
    pub allowed_origins: String,
    /// Where to publish.
    pub publish_url: String,
    /// Where to pull.
    pub pull_url: String,
    /// The queue, what to do next, and its operations.
    #[serde(flatten)]
    pub frame: QueueFrame,
}

/// One consumer's place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerCursor {
    /// The consumer.
    pub consumer_id: String,
    /// Its acked cursor.
    pub cursor: u64,
    /// Messages past its cursor.
    pub lag: u64,
}

/// A queue's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    /// Failed deliveries before dead-lettering.
    pub max_deliveries: u32,
    /// `*`, the allowed origins joined by commas, or empty.
    pub allowed_origins: String,
    /// Oldest message kept while no consumer is registered.
    pub retention_max_age_secs: Option<u64>,
    /// Most messages kept while no consumer is registered.
    pub retention_max_messages: Option<u64>,
}

/// A queue's state (`GET /q/{id}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueueInfo {
    /// The newest seq.
    pub head_seq: u64,
    /// Every seq at or below this was garbage-collected.
    pub floor_seq: u64,
    /// Messages kept.
    pub message_count: u64,
    /// Dead letters.
    pub dlq_count: u64,
    /// Publishes held back by the quota.
    pub held_count: u64,
    /// Every registered consumer's place.
    pub consumers: Vec<ConsumerCursor>,
    /// When it was created.
    pub created_at: String,
    /// Its settings.
    pub settings: QueueSettings,
    /// The queue, what to do next, and its operations.
    #[serde(flatten)]
    pub frame: QueueFrame,
}

/// A stored publish.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Published {
    /// Its place in the queue.
    pub seq: u64,
    /// The envelope id.
    pub id: String,
    /// When it was stored.
    pub published_at: String,
    /// The queue, what to do next, and its operations.
    #[serde(flatten)]
    pub frame: QueueFrame,
}

/// Several messages for one queue (`POST /q/{id}/publish/batch`), published in order, each
/// as if alone.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"messages": [
    {"payload": {"task": "summarize", "url": "https://example.com/1"}, "idempotency_key": "job-1"},
    {"payload": {"task": "summarize", "url": "https://example.com/2"}}
]}))]
pub struct PublishBatch {
    /// The messages, in order (1-100: `schema::MAX_BATCH`).
    #[schema(min_items = 1, max_items = 100)]
    pub messages: Vec<BatchMessage>,
}

/// One message of a batch publish.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
// Read by the impl below; said here so the schema closes the object too.
#[serde(deny_unknown_fields)]
pub struct BatchMessage {
    /// The message: any JSON document.
    #[schema(value_type = serde_json::Value)]
    pub payload: Doc,
    /// What the `Idempotency-Key` header is to a single publish: the same key and payload
    /// within 24 h answer the first publish; the same key with another payload is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[!-~]{1,255}$")]
    pub idempotency_key: Option<String>,
}

/// The fields of a [`BatchMessage`], as serde derives them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchMessageFields {
    payload: Doc,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// Only the object form: serde's derive would also read `[payload, key]` as a message.
impl<'de> Deserialize<'de> for BatchMessage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = BatchMessageFields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object {payload, idempotency_key}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                BatchMessageFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        let f = d.deserialize_map(Object)?;
        Ok(BatchMessage {
            payload: f.payload,
            idempotency_key: f.idempotency_key,
        })
    }
}

/// What became of one message of a batch publish.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchResult {
    /// Stored.
    Stored {
        /// Its place in the queue.
        seq: u64,
        /// The envelope id.
        id: String,
        /// When it was stored.
        published_at: String,
        /// Whether this answers an earlier publish with the same idempotency key.
        idempotent_replayed: bool,
    },
    /// Held back by the payer's monthly quota; published when the plan is raised.
    Held {
        /// Always true.
        held: bool,
        /// The held publish.
        pending_publish_id: String,
    },
    /// Refused; the other messages are unaffected.
    Refused(crate::ErrorBody),
}

/// A batch publish's outcome (`POST /q/{id}/publish/batch`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublishedBatch {
    /// Messages stored (idempotent repeats included).
    pub stored: usize,
    /// Each message's outcome, in the batch's order.
    pub results: Vec<BatchResult>,
    /// The queue, what to do next, and its operations.
    #[serde(flatten)]
    pub frame: QueueFrame,
}

/// What every form of a message says about it besides its payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeHead {
    /// The envelope id.
    pub id: String,
    /// Its place in the queue.
    pub seq: u64,
    /// The queue.
    pub queue_id: String,
    /// When it was stored.
    pub published_at: String,
    /// `publish`, `dlq-replay` or `form-mirror`.
    pub source: String,
    /// The dead letter a replay came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_from: Option<String>,
    /// The form a mirrored submission came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
}

/// A publish held back by the payer's quota earlier, retried while still held (202).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueueHeld {
    /// Always true: it is published when the plan is raised.
    pub auto_enqueued: bool,
    /// The held publish.
    pub pending_publish_id: String,
    /// The queue, what to do next, and its operations.
    #[serde(flatten)]
    pub frame: QueueFrame,
}

/// A message as pulls and replays return it; the payload is the published JSON byte for byte.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// Id, seq, queue, time and source.
    #[serde(flatten)]
    pub head: EnvelopeHead,
    /// The published JSON.
    pub payload: Box<RawValue>,
}

/// A page of a pull.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pulled {
    /// The queue.
    pub queue_id: String,
    /// Who read.
    pub consumer_id: String,
    /// The cursor the read started from.
    pub cursor: u64,
    /// The messages, in seq order.
    pub messages: Vec<Envelope>,
    /// The cursor to ack, and to pull from next.
    pub next_cursor: u64,
    /// Whether more messages wait past `next_cursor`.
    pub has_more: bool,
    /// The next page.
    pub next_url: String,
    /// Every seq at or below this was garbage-collected.
    pub floor: u64,
    /// Present (true) when the cursor asked for was below the floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_below_floor: Option<bool>,
    /// What to do next.
    #[serde(rename = "_help")]
    pub help: String,
    /// The queue's operations.
    #[serde(rename = "_links")]
    pub links: QueueLinks,
}

/// A moved cursor.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Acked {
    /// Always true.
    pub ok: bool,
    /// Whose cursor.
    pub consumer_id: String,
    /// The cursor now (an ack never lowers it).
    pub cursor: u64,
    /// The queue, what to do next, and its operations.
    #[serde(flatten)]
    pub frame: QueueFrame,
}

/// What a nack did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Nacked {
    /// Always true.
    pub ok: bool,
    /// The message.
    pub seq: u64,
    /// Its failures so far.
    pub nack_count: u32,
    /// Whether it is now in the dead-letter queue.
    pub dead_lettered: bool,
    /// The queue, what to do next, and its operations.
    #[serde(flatten)]
    pub frame: QueueFrame,
}

/// A dead letter: the envelope (its payload byte for byte) and why it was given up. The
/// payload is a field of its own: a `RawValue` does not survive being flattened.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Id (what a replay names), seq, queue, time and source.
    #[serde(flatten)]
    pub head: EnvelopeHead,
    /// The published JSON.
    pub payload: Box<RawValue>,
    /// Its failures.
    pub nack_count: u32,
    /// The last failure's reason.
    pub last_error: String,
    /// When it was given up.
    pub dead_lettered_at: String,
    /// Its row: the cursor a listing after it starts from.
    pub dlq_cursor: u64,
}

/// A page of dead letters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeadLetters {
    /// The dead letters.
    pub messages: Vec<DeadLetter>,
    /// The cursor of the next page.
    pub next_cursor: u64,
    /// Whether there is a next page.
    pub has_more: bool,
    /// The next page.
    pub next_url: String,
    /// The queue, what to do next, and its operations.
    #[serde(flatten)]
    pub frame: QueueFrame,
}

/// A replayed dead letter.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Replayed {
    /// Always true.
    pub ok: bool,
    /// The new envelope.
    pub replayed: Envelope,
    /// The queue, what to do next, and its operations.
    #[serde(flatten)]
    pub frame: QueueFrame,
}

/// The `_links` of a form: where each of its operations is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormLinks {
    /// Public submissions.
    pub submit: String,
    /// The submissions, for the form's key.
    pub submissions: String,
    /// Binding it to a queue.
    pub bind: String,
}

/// A form bound to a queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FormBound {
    /// Always true.
    pub ok: bool,
    /// The form.
    pub form_id: String,
    /// The queue its submissions now go to.
    pub queue_id: String,
    /// What it did.
    #[serde(rename = "_help")]
    pub help: String,
    /// The form's operations.
    #[serde(rename = "_links")]
    pub links: FormLinks,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_message_is_an_object_only() {
        let ok: PublishBatch =
            serde_json::from_str(r#"{"messages":[{"payload":[1],"idempotency_key":"k"}]}"#)
                .expect("an object");
        assert_eq!(ok.messages[0].payload.as_str(), "[1]");
        for bad in [
            r#"{"messages":[[null, null]]}"#,
            r#"{"messages":[{"payload":1,"other":2}]}"#,
            r#"{"messages":[{"idempotency_key":"k"}]}"#,
        ] {
            assert!(serde_json::from_str::<PublishBatch>(bad).is_err(), "{bad}");
        }
    }
}
