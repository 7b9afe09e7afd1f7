//! Publishing envelopes and pulling them (with long polling): each handler parses, calls
//! `roost_api::Api` and renders.

use axum::body::Body;
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roost_api::views::{BatchView, EnvelopeView, StoredView};
use roost_api::{ErrorCode, Published, Pull};
use roost_wire::PublishBatch;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::quota::OverQuota;
use super::{Framed, QueueLinks, QueueReq};
use crate::openapi::{QueuePage, QueueWrite};
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

/// A publish held back by the quota earlier, retried while still held.
#[derive(Serialize, ToSchema)]
struct StillHeld<'a> {
    /// Always true: the message is kept and replays when the plan is raised.
    auto_enqueued: bool,
    /// The held publish.
    pending_publish_id: &'a str,
}

/// Appends the body, any JSON document, to the queue as one message.
#[utoipa::path(
    post,
    path = "/q/{id}/publish",
    operation_id = "publish",
    tag = "queues",
    params(
        ("id" = String, Path, description = "The queue's id."),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "The same key and body within 24 h answer the first publish (`Idempotent-Replayed: true`); the same key with another body is refused (422)."),
    ),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    request_body(content = serde_json::Value, content_type = "application/json", description = "The message: any JSON document, nested at most 128 deep.", example = json!({"task": "summarize", "url": "https://example.com"})),
    responses(
        (status = 201, description = "Stored, with its seq.", body = Framed<StoredView>,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answers an earlier publish with the same Idempotency-Key."))),
        (status = 202, description = "Held back by the quota earlier; still held.", body = Framed<StillHeld>),
        (status = 402, description = "Over the payer's monthly quota: the message is kept and replays when the plan is raised.", body = Framed<OverQuota>),
        QueueWrite,
    ),
)]
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
        } => Ok(q.reply(
            StatusCode::ACCEPTED,
            StillHeld {
                auto_enqueued: true,
                pending_publish_id: &pending_id,
            },
            "This publish was held back by the quota earlier; it replays when the plan is raised.",
        )),
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

/// Appends the messages to the queue in their order, each as if published alone: its own
/// idempotency key and its own outcome. One request for many messages, for publishers that
/// have many at hand.
#[utoipa::path(
    post,
    path = "/q/{id}/publish/batch",
    operation_id = "publish_batch",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id.")),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    request_body(content = PublishBatch, content_type = "application/json", description = "1-100 messages, each a JSON document with an optional idempotency key; the whole body within the request size limit."),
    responses(
        (status = 200, description = "Each message's outcome, in the batch's order: stored (with its seq), held back by the quota, or refused (the others are unaffected). Every message is checked first: a bad one refuses the whole batch (400) and nothing is published; a refusal every message shares (a wrong key, no such queue) is the batch's.", body = Framed<BatchView>),
        QueueWrite,
    ),
)]
pub(super) async fn publish_batch(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let batch: PublishBatch = body::json(&bytes)?;
    let messages: Vec<(&[u8], Option<String>)> = batch
        .messages
        .iter()
        .map(|m| (m.payload.as_str().as_bytes(), m.idempotency_key.clone()))
        .collect();
    let results = s.api.publish_batch(&q.queue, q.peer, &messages).await?;
    let view = BatchView::of(&results);
    let qid = &q.queue.id;
    let help = format!(
        "Each message's outcome is in results, in the batch's order. Pull with GET /q/{qid}/pull?consumer_id=<x>; publish a refused message again once its problem is fixed."
    );
    Ok(q.reply(StatusCode::OK, view, &help))
}

/// Query string of `GET /q/{id}/pull`, read as text so bad values get our own error.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PullParams {
    /// Who is pulling (1-128 letters, digits, `_ - . :`); ids starting `_dash_` only inspect.
    #[param(required = true, value_type = String, pattern = "^[A-Za-z0-9_.:-]{1,128}$", example = "worker-1")]
    consumer_id: Option<String>,
    /// Return messages with seq above this; default: the consumer's acked cursor.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 18446744073709551615_f64)]
    cursor: Option<String>,
    /// Most messages to return (default 10).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Seconds to wait for a message when there is none (long poll; default 0).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 30)]
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

/// Reads messages after a cursor; moves nothing (ack does).
#[utoipa::path(
    get,
    path = "/q/{id}/pull",
    operation_id = "pull",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id."), PullParams),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    responses(
        (status = 200, description = "A page of messages.", body = PullReply),
        QueuePage,
    ),
)]
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
#[derive(Serialize, ToSchema)]
struct PullReply<'a> {
    /// The queue.
    queue_id: &'a str,
    /// Who pulled.
    consumer_id: &'a str,
    /// The cursor the page starts after.
    cursor: u64,
    /// The messages, in seq order.
    messages: Vec<EnvelopeView<'a>>,
    /// Ack this when done with the page; pull from it next.
    next_cursor: u64,
    /// Whether more messages follow.
    has_more: bool,
    /// The next page's URL.
    next_url: String,
    /// Messages at or below this seq were garbage-collected.
    floor: u64,
    /// Present (true) when the cursor was below the floor and the page starts there.
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor_below_floor: Option<bool>,
    /// What to do next.
    #[serde(rename = "_help")]
    help: &'static str,
    /// Where each of the queue's operations is.
    #[serde(rename = "_links")]
    links: QueueLinks,
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
