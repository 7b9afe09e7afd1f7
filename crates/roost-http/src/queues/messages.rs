//! Publishing envelopes and pulling them (with long polling): each handler parses, calls
//! `roost_api::Api` and renders.

use axum::body::Body;
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roost_api::views::{EnvelopeView, StoredView};
use roost_api::{ErrorCode, Published, Pull};
use serde::{Deserialize, Serialize};

use super::QueueReq;
use crate::wire::timestamp;
use crate::{body, ApiError, AppState};

/// The `Idempotency-Key` header, if any, checked.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    // Not visible ASCII: the layer's check refuses it with the right error.
    let s = v.to_str().unwrap_or("").trim();
    let s = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s);
    Ok(Some(roost_api::input::idempotency_key(s.to_owned())?))
}

pub(super) async fn publish(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    match s.api.publish(&q.queue, q.peer, &bytes, key).await? {
        Published::Held {
            pending_id,
            denied: Some(d),
        } => Ok(super::quota::over_quota(&s, &q, &d, Some(&pending_id))),
        // A retry of a publish that was held earlier, now under the limit: still held.
        Published::Held {
            pending_id,
            denied: None,
        } => {
            #[derive(Serialize)]
            struct StillHeld<'a> {
                auto_enqueued: bool,
                pending_publish_id: &'a str,
            }
            Ok(q.reply(
                StatusCode::ACCEPTED,
                StillHeld {
                    auto_enqueued: true,
                    pending_publish_id: &pending_id,
                },
                "This publish was held back by the quota earlier; it replays when the plan is raised.",
            ))
        }
        Published::Stored {
            seq,
            id,
            published_at_ms,
            replayed,
        } => {
            let qid = &q.queue.id;
            let help = format!(
                "Message accepted. Pull it with GET /q/{qid}/pull?cursor={}&consumer_id=<x>; ack with POST /q/{qid}/ack {{cursor:{seq}, consumer_id:<x>}}.",
                seq - 1
            );
            let body = StoredView {
                seq,
                id: &id,
                published_at: timestamp(published_at_ms),
            };
            let mut resp = q.reply(StatusCode::CREATED, body, &help);
            if replayed {
                resp.headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            Ok(resp)
        }
    }
}

/// Query string of `GET /q/{id}/pull`, read as text so bad values get our own error.
#[derive(Deserialize)]
pub(super) struct PullParams {
    consumer_id: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
    wait: Option<String>,
}

/// Parses an optional non-negative integer parameter.
pub fn parse_param<T: std::str::FromStr>(
    name: &'static str,
    raw: Option<&str>,
    code: ErrorCode,
) -> Result<Option<T>, ApiError> {
    raw.map(|v| {
        v.parse::<T>().map_err(|_| {
            ApiError::new(
                code,
                format!("{name} must be a non-negative integer, got {v:?}"),
                format!("Pass {name} as a whole number, e.g. {name}=0."),
            )
        })
    })
    .transpose()
}

pub(super) async fn pull(
    State(s): State<AppState>,
    q: QueueReq,
    UrlQuery(params): UrlQuery<PullParams>,
) -> Result<Response, ApiError> {
    let consumer_id = params.consumer_id.ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingConsumerId,
            "consumer_id is required",
            "Add ?consumer_id=<your worker name> to the pull URL.",
        )
    })?;
    let req = Pull {
        consumer_id,
        cursor: parse_param("cursor", params.cursor.as_deref(), ErrorCode::InvalidCursor)?,
        limit: parse_param("limit", params.limit.as_deref(), ErrorCode::InvalidLimit)?,
        wait: parse_param("wait", params.wait.as_deref(), ErrorCode::InvalidWait)?,
    };
    let pulled = s.api.pull(&q.queue, q.peer, req).await?;
    let id = &q.queue.id;
    let messages = pulled
        .messages
        .iter()
        .map(|m| EnvelopeView::new(id, m))
        .collect::<Result<Vec<_>, _>>()?;
    let next_url = format!(
        "{}/q/{id}/pull?consumer_id={}&cursor={}&limit={}",
        q.base, pulled.consumer_id, pulled.next_cursor, pulled.limit
    );
    let help = if pulled.below_floor {
        "The cursor was below the garbage-collected floor: messages at or below 'floor' were reaped, so this page starts at the floor. Save next_cursor and ack it when done."
    } else {
        "Returns up to 'limit' messages with seq > cursor. Save next_cursor and POST /q/{id}/ack {cursor:next_cursor, consumer_id:X} when done. has_more=true means more available; pull again with cursor=next_cursor."
    };
    // Serialized in one pass so payloads go out exactly as they were published.
    let reply = PullReply {
        queue_id: id.as_str(),
        consumer_id: &pulled.consumer_id,
        cursor: pulled.cursor,
        messages,
        next_cursor: pulled.next_cursor,
        has_more: pulled.has_more,
        next_url,
        floor: pulled.floor,
        cursor_below_floor: pulled.below_floor.then_some(true),
        help,
        links: q.links(),
    };
    Ok((StatusCode::OK, axum::Json(reply)).into_response())
}

/// The body of a pull.
#[derive(Serialize)]
struct PullReply<'a> {
    queue_id: &'a str,
    consumer_id: &'a str,
    cursor: u64,
    messages: Vec<EnvelopeView<'a>>,
    next_cursor: u64,
    has_more: bool,
    next_url: String,
    floor: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor_below_floor: Option<bool>,
    #[serde(rename = "_help")]
    help: &'static str,
    #[serde(rename = "_links")]
    links: super::QueueLinks,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("idempotency-key", HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn idempotency_keys_are_validated() {
        assert_eq!(idempotency_key(&HeaderMap::new()).ok(), Some(None));
        assert_eq!(
            idempotency_key(&with_key("abc-1")).ok(),
            Some(Some("abc-1".into()))
        );
        assert_eq!(
            idempotency_key(&with_key("\"quoted\"")).ok(),
            Some(Some("quoted".into()))
        );
        let long = "k".repeat(256);
        for bad in ["", "\"\"", "has space", long.as_str()] {
            let e = idempotency_key(&with_key(bad)).expect_err(bad);
            assert_eq!(e.code(), "invalid_idempotency_key");
        }
    }
}
