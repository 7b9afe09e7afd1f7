//! JSON shapes shared by handlers: envelopes, links, timestamps, validated identifiers.

use std::time::{Duration, UNIX_EPOCH};

use axum::http::{header, HeaderMap};
use roost_state::{Envelope, QueueId, Source};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::ApiError;

/// RFC 3339 with milliseconds, UTC.
pub fn timestamp(ms: u64) -> String {
    // RFC 3339 ends with year 9999 (the formatter panics past it); clients cannot name later
    // times (`roost_state::input::time_ms`), and no clock reaches them.
    let ms = ms.min(roost_state::input::MAX_TIME_MS);
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Parses an optional RFC 3339 time into ms since the epoch; a bad value is a 400 naming `field`.
pub fn time_field(field: &str, raw: Option<&str>) -> Result<Option<u64>, ApiError> {
    raw.map(|s| {
        humantime::parse_rfc3339(s)
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64)
            .ok_or_else(|| ApiError::invalid_field(field, "must be an RFC 3339 time"))
    })
    .transpose()
}

/// An envelope as pulls return it; the payload is embedded verbatim, never re-encoded.
#[derive(Serialize)]
pub struct EnvelopeJson<'a> {
    id: &'a str,
    seq: u64,
    queue_id: &'a str,
    published_at: String,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    replayed_from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    form_id: Option<&'a str>,
    payload: &'a RawValue,
}

impl<'a> EnvelopeJson<'a> {
    /// Renders `e` of `queue`. Payloads were validated as JSON when published.
    pub fn new(queue: &'a QueueId, e: &'a Envelope) -> Result<Self, ApiError> {
        let payload: &RawValue = serde_json::from_str(&e.payload).map_err(|err| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("stored payload of seq {} is not JSON: {err}", e.seq),
                "This is a server fault; report it.",
            )
        })?;
        Ok(EnvelopeJson {
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

/// The base URL clients reached this node by, for absolute links.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// Parses a queue id from a path; a malformed id, or one naming a shard this cluster does
/// not have, is simply not found (and costs no Raft round).
pub fn queue_id(raw: &str, shards: u32) -> Result<QueueId, ApiError> {
    QueueId::parse(raw)
        .filter(|id| (1..=shards).contains(&id.shard()))
        .ok_or_else(ApiError::queue_not_found)
}

/// Checks a consumer id: 1–128 characters of letters, digits and `_ - . :`.
pub fn consumer_id(raw: &str) -> Result<String, ApiError> {
    if roost_state::ids::is_valid_consumer_id(raw) {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::bad_request(
            "invalid_consumer_id",
            format!("invalid consumer_id {raw:?}"),
            "Use 1-128 characters of letters, digits, '_', '-', '.' or ':'.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_millis_utc() {
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn queue_ids_must_name_an_existing_shard() {
        assert!(queue_id(QueueId::new(2, 5).as_str(), 4).is_ok());
        for (id, shards) in [(QueueId::new(0, 5), 4), (QueueId::new(5, 5), 4)] {
            assert_eq!(
                queue_id(id.as_str(), shards)
                    .expect_err("no such shard")
                    .code,
                "queue_not_found"
            );
        }
    }

    #[test]
    fn consumer_ids_are_checked() {
        for ok in ["me", "worker-1", "_dash_view", "a.b:c"] {
            assert!(consumer_id(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(129);
        for bad in ["", "has space", "semi;colon", "ünï", long.as_str()] {
            assert_eq!(consumer_id(bad).expect_err(bad).code, "invalid_consumer_id");
        }
    }

    #[test]
    fn envelopes_embed_the_payload_verbatim() -> Result<(), ApiError> {
        let q = QueueId::new(1, 1);
        let e = Envelope {
            id: "qm_1".into(),
            seq: 3,
            published_at_ms: 0,
            source: Source::Publish,
            payload: r#"{"b": [1, 2.50]}"#.into(),
        };
        let json = serde_json::to_string(&EnvelopeJson::new(&q, &e)?)
            .map_err(|e| ApiError::bad_request("x", e.to_string(), ""))?;
        assert!(json.contains(r#""payload":{"b": [1, 2.50]}"#), "{json}");
        Ok(())
    }
}
