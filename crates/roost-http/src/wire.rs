//! JSON shapes shared by handlers: envelopes, links, timestamps, validated identifiers.

use roost_api::ErrorCode;

use axum::http::{header, HeaderMap};
use roost_state::{Envelope, QueueId, Source};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::ApiError;

pub use roost_api::timestamp;

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
            ApiError(roost_api::Error::internal(format!(
                "stored payload of seq {} is not JSON: {err}",
                e.seq
            )))
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

/// How the HTTP edge names itself in the absolute links it hands out (`_links`,
/// `publish_url`, `status_url`). Agents follow those links with their keys, so a link must
/// never point where the caller's `Host` header says if that is not a plain host.
#[derive(Clone, Debug, Default)]
pub struct Links {
    /// The configured public base URL (`public_url`), used as it is.
    pub public_url: Option<String>,
    /// Whether the listener speaks TLS (`https` links).
    pub https: bool,
    /// The listener's address, for requests that name no host (HTTP/2 carries it in the URI).
    pub listen: String,
}

/// Whether `host` is a plain `host[:port]`: letters, digits and `. - _ : [ ]` only, so no
/// path, query, fragment or user info can ride along into a link.
pub fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
}

/// The base URL of this node for absolute links: the public URL when configured, else the
/// `Host` the client reached it by (checked by [`check_head`]), else the listener's address.
pub fn base_url(links: &Links, headers: &HeaderMap) -> String {
    if let Some(url) = &links.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_plain_host(h))
        .unwrap_or(&links.listen);
    let scheme = if links.https { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// Most header fields a request may carry.
pub const MAX_HEADERS: usize = 100;
/// Most bytes of header names and values a request may carry.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses, before anything runs, a request with too many or too large headers (in JSON; hyper
/// answers only past its own, higher limits) or whose `Host` is not a plain host.
pub async fn check_head(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "the request carries {} header fields and {bytes} bytes of headers; at most {MAX_HEADERS} and {MAX_HEADER_BYTES} are read",
                headers.len()
            ),
            "Send fewer or smaller headers; put data in the body.",
        )
        .into_response();
    }
    let bad = req
        .headers()
        .get(header::HOST)
        .is_some_and(|h| !h.to_str().is_ok_and(is_plain_host));
    if bad {
        return ApiError::new(
            ErrorCode::InvalidHost,
            "the Host header is not a plain host[:port]".to_owned(),
            "Send the host and port you reached this node by, and nothing else.",
        )
        .into_response();
    }
    next.run(req).await
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
        Err(ApiError::new(
            ErrorCode::InvalidConsumerId,
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
                    .code(),
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
            assert_eq!(
                consumer_id(bad).expect_err(bad).code(),
                "invalid_consumer_id"
            );
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
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string(), ""))?;
        assert!(json.contains(r#""payload":{"b": [1, 2.50]}"#), "{json}");
        Ok(())
    }

    #[test]
    fn links_use_the_public_url_or_a_plain_host() {
        use axum::http::HeaderValue;
        for (host, plain) in [
            ("roost.example", true),
            ("roost.example:8443", true),
            ("[::1]:7070", true),
            ("evil.example/x", false),
            ("evil.example?x", false),
            ("evil.example#x", false),
            ("user@evil.example", false),
            ("", false),
        ] {
            assert_eq!(is_plain_host(host), plain, "{host:?}");
        }
        let mut headers = HeaderMap::new();
        let links = Links {
            public_url: None,
            https: true,
            listen: "0.0.0.0:7070".into(),
        };
        assert_eq!(base_url(&links, &headers), "https://0.0.0.0:7070");
        headers.insert(header::HOST, HeaderValue::from_static("roost.example"));
        assert_eq!(base_url(&links, &headers), "https://roost.example");
        let public = Links {
            public_url: Some("https://inbox.example/".into()),
            ..links
        };
        assert_eq!(base_url(&public, &headers), "https://inbox.example");
    }
}
