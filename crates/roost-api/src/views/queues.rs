//! Queue replies. The HTTP edge frames each with `queue_id`, `_help` and `_links`.

use std::collections::BTreeMap;

use roost_state::{DlqEntry, Envelope, Origins, Queue, QueueId, Source};
use serde::Serialize;
use serde_json::value::RawValue;

use super::ErrorView;
use crate::{timestamp, CreatedQueue, Error, Nacked, Published};

/// How an origin set is shown: `*`, or the origins joined by commas.
pub fn origins_text(origins: &Origins) -> String {
    match origins {
        Origins::Any => "*".into(),
        Origins::List(set) => set.iter().cloned().collect::<Vec<_>>().join(","),
        Origins::None => String::new(),
    }
}

/// An envelope as pulls return it; the payload is embedded verbatim, never re-encoded.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EnvelopeView<'a> {
    id: &'a str,
    seq: u64,
    queue_id: &'a str,
    published_at: String,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    replayed_from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    form_id: Option<&'a str>,
    #[schema(value_type = serde_json::Value)]
    payload: &'a RawValue,
}

impl<'a> EnvelopeView<'a> {
    /// Envelope `e` of `queue`. Payloads were checked as JSON when published; one that is not
    /// is a server fault.
    pub fn new(queue: &'a QueueId, e: &'a Envelope) -> Result<Self, Error> {
        let payload: &RawValue = serde_json::from_str(&e.payload).map_err(|err| {
            Error::internal(format!(
                "stored payload of seq {} is not JSON: {err}",
                e.seq
            ))
        })?;
        Ok(EnvelopeView {
            id: &e.id,
            seq: e.seq,
            queue_id: queue.as_str(),
            published_at: timestamp(e.published_at_ms),
            source: e.source.as_str(),
            replayed_from: match &e.source {
                Source::DlqReplay { replayed_from } => Some(replayed_from),
                _ => None,
            },
            form_id: match &e.source {
                Source::FormMirror { form_id } => Some(form_id),
                _ => None,
            },
            payload,
        })
    }
}

/// A created queue, with its key shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedView<'a> {
    queue_api_key: &'a str,
    consumers: Vec<&'a str>,
    max_deliveries: u32,
    allowed_origins: String,
}

impl<'a> CreatedView<'a> {
    /// Queue `c`.
    pub fn of(c: &'a CreatedQueue) -> Self {
        CreatedView {
            queue_api_key: &c.key,
            consumers: c.queue.consumers.keys().map(String::as_str).collect(),
            max_deliveries: c.queue.settings.max_deliveries,
            allowed_origins: origins_text(&c.queue.settings.allowed_origins),
        }
    }
}

/// One consumer's place.
#[derive(Serialize, utoipa::ToSchema)]
struct ConsumerView<'a> {
    consumer_id: &'a str,
    cursor: u64,
    lag: u64,
}

/// A queue's settings.
#[derive(Serialize, utoipa::ToSchema)]
struct SettingsView {
    max_deliveries: u32,
    allowed_origins: String,
    retention_max_age_secs: Option<u64>,
    retention_max_messages: Option<u64>,
}

/// A queue's state (`GET /q/{id}`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct QueueInfoView<'a> {
    head_seq: u64,
    floor_seq: u64,
    message_count: u64,
    dlq_count: u64,
    held_count: u64,
    consumers: Vec<ConsumerView<'a>>,
    created_at: String,
    settings: SettingsView,
}

impl<'a> QueueInfoView<'a> {
    /// Queue `q`.
    pub fn of(q: &'a Queue) -> Self {
        let r = q.settings.retention;
        QueueInfoView {
            head_seq: q.head_seq,
            floor_seq: q.floor_seq,
            message_count: q.message_count(),
            dlq_count: q.dlq_len,
            held_count: q.held_len,
            consumers: q
                .consumers
                .iter()
                .map(|(c, cursor)| ConsumerView {
                    consumer_id: c,
                    cursor: *cursor,
                    lag: q.head_seq.saturating_sub(*cursor),
                })
                .collect(),
            created_at: timestamp(q.created_at_ms),
            settings: SettingsView {
                max_deliveries: q.settings.max_deliveries,
                allowed_origins: origins_text(&q.settings.allowed_origins),
                retention_max_age_secs: r.max_age_ms.map(|ms| ms / 1000),
                retention_max_messages: r.max_messages,
            },
        }
    }
}

/// The registered consumers and their cursors.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsumersView<'a> {
    consumers: Vec<&'a str>,
    cursors: &'a BTreeMap<String, u64>,
}

impl<'a> ConsumersView<'a> {
    /// `cursors`, by consumer.
    pub fn of(cursors: &'a BTreeMap<String, u64>) -> Self {
        ConsumersView {
            consumers: cursors.keys().map(String::as_str).collect(),
            cursors,
        }
    }
}

/// A stored publish.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StoredView<'a> {
    /// Its place in the queue.
    pub seq: u64,
    /// The envelope id.
    pub id: &'a str,
    /// When it was stored.
    pub published_at: String,
}

/// What became of one message of a batch publish, in the batch's order.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum BatchItemView<'a> {
    /// Stored.
    Stored {
        /// Its place in the queue.
        seq: u64,
        /// The envelope id.
        id: &'a str,
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
        pending_publish_id: &'a str,
    },
    /// Refused; the others are unaffected.
    Refused(ErrorView<'a>),
}

impl<'a> BatchItemView<'a> {
    /// The view of one message's outcome.
    pub fn of(result: &'a Result<Published, Error>) -> Self {
        match result {
            Ok(Published::Stored {
                seq,
                id,
                published_at_ms,
                replayed,
            }) => BatchItemView::Stored {
                seq: *seq,
                id,
                published_at: timestamp(*published_at_ms),
                idempotent_replayed: *replayed,
            },
            Ok(Published::Held { pending_id, .. }) => BatchItemView::Held {
                held: true,
                pending_publish_id: pending_id,
            },
            Err(e) => BatchItemView::Refused(ErrorView::of(e)),
        }
    }
}

/// A batch publish: how many were stored, and each message's outcome.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchView<'a> {
    /// Messages stored (idempotent repeats included).
    stored: usize,
    /// Each message's outcome, in the batch's order.
    results: Vec<BatchItemView<'a>>,
}

impl<'a> BatchView<'a> {
    /// The view of a batch's outcomes.
    pub fn of(results: &'a [Result<Published, Error>]) -> Self {
        BatchView {
            stored: results
                .iter()
                .filter(|r| matches!(r, Ok(Published::Stored { .. })))
                .count(),
            results: results.iter().map(BatchItemView::of).collect(),
        }
    }
}

/// What a nack did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NackedView {
    ok: bool,
    seq: u64,
    nack_count: u32,
    dead_lettered: bool,
}

impl NackedView {
    /// Nack `n`.
    pub fn of(n: Nacked) -> Self {
        NackedView {
            ok: true,
            seq: n.seq,
            nack_count: n.nack_count,
            dead_lettered: n.dead_lettered,
        }
    }
}

/// A dead letter as listed: the envelope (its payload byte for byte) and why it was given up.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeadLetterView<'a> {
    #[serde(flatten)]
    envelope: EnvelopeView<'a>,
    nack_count: u32,
    last_error: &'a str,
    dead_lettered_at: String,
    dlq_cursor: u64,
}

impl<'a> DeadLetterView<'a> {
    /// Dead letter `e` of `queue`, at row `row`.
    pub fn new(queue: &'a QueueId, row: u64, e: &'a DlqEntry) -> Result<Self, Error> {
        Ok(DeadLetterView {
            envelope: EnvelopeView::new(queue, &e.envelope)?,
            nack_count: e.nack_count,
            last_error: &e.last_error,
            dead_lettered_at: timestamp(e.dead_lettered_at_ms),
            dlq_cursor: row,
        })
    }
}

/// A page of dead letters.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeadLetterPage<'a> {
    /// The dead letters.
    pub messages: Vec<DeadLetterView<'a>>,
    /// The cursor of the next page.
    pub next_cursor: u64,
    /// Whether there is a next page.
    pub has_more: bool,
}

/// A replayed dead letter.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplayedView<'a> {
    /// Always true.
    pub ok: bool,
    /// The new envelope.
    pub replayed: EnvelopeView<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_embed_the_payload_verbatim() -> Result<(), Error> {
        let q = QueueId::new(1, 1);
        let e = Envelope {
            id: "qm_1".into(),
            seq: 3,
            published_at_ms: 0,
            source: Source::DlqReplay {
                replayed_from: "qm_0".into(),
            },
            payload: r#"{"b": [1, 2.50], "n": 1e400}"#.into(),
        };
        let json = serde_json::to_string(&EnvelopeView::new(&q, &e)?)
            .map_err(|e| Error::internal(e.to_string()))?;
        assert!(
            json.contains(r#""payload":{"b": [1, 2.50], "n": 1e400}"#),
            "{json}"
        );
        assert!(json.contains(r#""replayed_from":"qm_0""#), "{json}");
        let broken = Envelope {
            payload: "not json".into(),
            ..e
        };
        assert_eq!(
            EnvelopeView::new(&q, &broken).err().map(|e| e.code),
            Some(crate::ErrorCode::Internal)
        );
        Ok(())
    }
}
