//! Publishing envelopes and pulling them (with long polling).

use roost_api::ErrorCode;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use roost_state::{Command, Query, QueryResult, Response as Applied, Source, Topic};
use serde::Deserialize;
use serde_json::json;

use super::{unexpected, QueueReq};
use crate::auth::digest;
use crate::wire::{consumer_id, timestamp, EnvelopeJson};
use crate::{body, ApiError, AppState};

/// Most messages one pull returns.
const MAX_PULL: usize = 1000;
/// Messages a pull returns when `limit` is not given.
const DEFAULT_PULL: usize = 10;
/// Longest long poll, in seconds.
const MAX_WAIT_SECS: u64 = 30;

/// The `Idempotency-Key` header, if any, checked.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidIdempotencyKey,
            format!(
                "Idempotency-Key must be 1-{} visible ASCII characters",
                roost_api::input::MAX_IDEMPOTENCY_KEY
            ),
            "Use a UUID or another unique string per logical message.",
        )
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    // RFC 8941 allows the key as a quoted string; accept both forms.
    let s = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s);
    if !roost_api::input::is_valid_idempotency_key(s) {
        return Err(bad());
    }
    Ok(Some(s.to_owned()))
}

pub(super) async fn publish(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let payload = std::str::from_utf8(&bytes)
        .ok()
        .filter(|p| roost_api::input::is_json_document(p))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidJson,
                "message body must be a JSON document, nested at most 128 deep",
                "Send the message as JSON, e.g. -d '{\"task\":\"...\"}'.",
            )
        })?;
    let command = Command::Publish {
        queue: q.id.clone(),
        auth: q.auth,
        id: roost_state::ids::message_id(rand::rng().random()),
        payload: payload.to_owned(),
        source: Source::Publish,
        idempotency: key.map(|k| (k, digest(&bytes))),
        hold: None,
    };
    let publisher = q
        .peer
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let charged = s.node.publish_charged(command, &publisher).await?;
    let denied = charged.denied;
    match charged.response {
        Applied::Refused(e) => Err(e.into()),
        Applied::Held { pending_id } => match &denied {
            Some(d) => Ok(super::quota::over_quota(&s, &q, d, Some(&pending_id))),
            // A retry of a publish that was held earlier, now under the limit: still held.
            None => Ok(q.reply(
                StatusCode::ACCEPTED,
                json!({"auto_enqueued": true, "pending_publish_id": pending_id}),
                "This publish was held back by the quota earlier; it replays when the plan is raised.",
            )),
        },
        Applied::Published {
            seq,
            id,
            published_at_ms,
            replayed,
        } => {
            let qid = &q.id;
            let help = format!(
                "Message accepted. Pull it with GET /q/{qid}/pull?cursor={}&consumer_id=<x>; ack with POST /q/{qid}/ack {{cursor:{seq}, consumer_id:<x>}}.",
                seq - 1
            );
            let body = json!({"seq": seq, "id": id, "published_at": timestamp(published_at_ms)});
            let mut resp = q.reply(StatusCode::CREATED, body, &help);
            if replayed {
                resp.headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            Ok(resp)
        }
        other => Err(unexpected(&other)),
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

/// Checks `limit` (1..=max, default `default`).
pub fn limit_param(raw: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    let limit = parse_param("limit", raw, ErrorCode::InvalidLimit)?.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::new(
            ErrorCode::InvalidLimit,
            format!("limit must be between 1 and {max}"),
            format!("Omit limit for {default} per page."),
        ));
    }
    Ok(limit)
}

pub(super) async fn pull(
    State(s): State<AppState>,
    q: QueueReq,
    UrlQuery(params): UrlQuery<PullParams>,
) -> Result<Response, ApiError> {
    let consumer = consumer_id(params.consumer_id.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingConsumerId,
            "consumer_id is required",
            "Add ?consumer_id=<your worker name> to the pull URL.",
        )
    })?)?;
    let cursor: Option<u64> =
        parse_param("cursor", params.cursor.as_deref(), ErrorCode::InvalidCursor)?;
    let limit = limit_param(params.limit.as_deref(), DEFAULT_PULL, MAX_PULL)?;
    let wait: u64 =
        parse_param("wait", params.wait.as_deref(), ErrorCode::InvalidWait)?.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::new(
            ErrorCode::InvalidWait,
            format!("wait must be at most {MAX_WAIT_SECS} seconds"),
            "Use wait=30 or less and poll again when it returns empty.",
        ));
    }
    let query = Query::Pull {
        queue: q.id.clone(),
        auth: q.auth,
        consumer: consumer.clone(),
        cursor,
        limit,
    };
    // Long poll: re-read whenever this node applies a change of the queue, until a message
    // shows up or the wait is over.
    let deadline = Instant::now() + Duration::from_secs(wait);
    let _slot = if wait > 0 {
        crate::waiters::slot(&s, q.peer)?
    } else {
        None
    };
    let mut changes = (wait > 0).then(|| s.node.subscribe(Topic::Queue(q.id.clone())));
    let result = loop {
        let result = q.read(&s, query.clone()).await?;
        let empty = matches!(&result, QueryResult::Pulled { messages, .. } if messages.is_empty());
        let left = deadline.saturating_duration_since(Instant::now());
        match &mut changes {
            Some(changes) if empty && !left.is_zero() => changes.changed(left).await,
            _ => break result,
        }
    };
    let QueryResult::Pulled {
        messages,
        cursor,
        next_cursor,
        has_more,
        floor,
        below_floor,
    } = result
    else {
        return Err(unexpected(&result));
    };
    let envelopes = messages
        .iter()
        .map(|m| EnvelopeJson::new(&q.id, m))
        .collect::<Result<Vec<_>, _>>()?;
    let next_url = format!(
        "{}/q/{}/pull?consumer_id={consumer}&cursor={next_cursor}&limit={limit}",
        q.base, q.id
    );
    let help = if below_floor {
        "The cursor was below the garbage-collected floor: messages at or below 'floor' were reaped, so this page starts at the floor. Save next_cursor and ack it when done."
    } else {
        "Returns up to 'limit' messages with seq > cursor. Save next_cursor and POST /q/{id}/ack {cursor:next_cursor, consumer_id:X} when done. has_more=true means more available; pull again with cursor=next_cursor."
    };
    // Serialized in one pass so payloads go out exactly as they were published.
    let reply = PullReply {
        queue_id: q.id.as_str(),
        consumer_id: &consumer,
        cursor,
        messages: envelopes,
        next_cursor,
        has_more,
        next_url,
        floor,
        cursor_below_floor: below_floor.then_some(true),
        help,
        links: q.links(),
    };
    Ok((StatusCode::OK, axum::Json(reply)).into_response())
}

/// The body of a pull.
#[derive(serde::Serialize)]
struct PullReply<'a> {
    queue_id: &'a str,
    consumer_id: &'a str,
    cursor: u64,
    messages: Vec<EnvelopeJson<'a>>,
    next_cursor: u64,
    has_more: bool,
    next_url: String,
    floor: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor_below_floor: Option<bool>,
    #[serde(rename = "_help")]
    help: &'static str,
    #[serde(rename = "_links")]
    links: serde_json::Value,
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

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit_param(None, 10, 1000).ok(), Some(10));
        assert_eq!(limit_param(Some("1000"), 10, 1000).ok(), Some(1000));
        for bad in ["0", "1001", "-1", "x"] {
            assert_eq!(
                limit_param(Some(bad), 10, 1000).expect_err(bad).code(),
                "invalid_limit"
            );
        }
    }
}
