//! The queue API (`/q/*`): create, publish, pull, ack.

use axum::body::Body;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use roost_state::{Command, Query, QueryResult, QueueId, QueueSettings, Response as Applied};
use serde::Deserialize;
use serde_json::{json, value::RawValue};

use crate::auth::{bearer_digest, digest, mint_key};
use crate::wire::{base_url, consumer_id, queue_id, timestamp, EnvelopeJson};
use crate::{body, ApiError, AppState};

/// Most messages one pull returns.
const MAX_PULL: usize = 1000;
/// Messages a pull returns when `limit` is not given.
const DEFAULT_PULL: usize = 10;
/// Longest accepted Idempotency-Key.
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Most consumers registered at create.
const MAX_CONSUMERS: usize = 100;

/// The `/q` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/q/create", post(create))
        .route("/q/{id}/publish", post(publish))
        .route("/q/{id}/pull", get(pull))
        .route("/q/{id}/ack", post(ack))
}

fn links(base: &str, id: &QueueId) -> serde_json::Value {
    json!({
        "publish": format!("{base}/q/{id}/publish"),
        "pull": format!("{base}/q/{id}/pull?consumer_id=<consumer>"),
        "ack": format!("{base}/q/{id}/ack"),
    })
}

/// Body of `POST /q/create`; every field optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    consumers: Vec<String>,
    #[serde(default)]
    max_deliveries: Option<u32>,
}

async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: CreateBody = body::json(&bytes)?;
    if req.consumers.len() > MAX_CONSUMERS {
        return Err(ApiError::bad_request(
            "too_many_consumers",
            format!("at most {MAX_CONSUMERS} consumers at create"),
            "Register the rest later with POST /q/{id}/consumers.",
        ));
    }
    let consumers = req
        .consumers
        .iter()
        .map(|c| consumer_id(c))
        .collect::<Result<Vec<_>, _>>()?;
    let max_deliveries = req
        .max_deliveries
        .unwrap_or(QueueSettings::default().max_deliveries);
    if !(1..=100).contains(&max_deliveries) {
        return Err(ApiError::bad_request(
            "invalid_max_deliveries",
            "max_deliveries must be between 1 and 100",
            "Omit max_deliveries for the default of 5.",
        ));
    }
    let key = mint_key();
    let shard = s.node.pick_shard();
    let id = QueueId::new(shard, rand::rng().random());
    let command = Command::CreateQueue {
        id: id.clone(),
        key_digest: digest(key.as_bytes()),
        consumers: consumers.clone(),
        settings: QueueSettings { max_deliveries },
    };
    let queue = match s.node.write(shard, command).await? {
        Applied::Created { queue } => queue,
        Applied::Refused(e) => return Err(e.into()),
        other => return Err(unexpected(&other)),
    };
    let base = base_url(&headers);
    let registered: Vec<&String> = queue.consumers.keys().collect();
    let first = consumers.first().map_or("<consumer>", |c| c.as_str());
    let body = json!({
        "queue_id": id,
        "queue_api_key": key,
        "consumers": registered,
        "max_deliveries": max_deliveries,
        "publish_url": format!("{base}/q/{id}/publish"),
        "pull_url": format!("{base}/q/{id}/pull?cursor=0&consumer_id={first}"),
        "_help": "Queue created. Capture queue_api_key NOW — it is shown only once. Use it as Authorization: Bearer <key> on every /q/{id}/* call.",
        "_links": links(&base, &id),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn unexpected(r: &Applied) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("unexpected state machine response {r:?}"),
        "This is a server fault; report it.",
    )
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
            "Use a UUID or another unique string per logical message.",
        )
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    // RFC 8941 allows the key as a quoted string; accept both forms.
    let s = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s);
    if s.is_empty() || s.len() > MAX_IDEMPOTENCY_KEY || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(s.to_owned()))
}

async fn publish(
    State(s): State<AppState>,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = queue_id(&raw_id, s.node.shards())?;
    let auth = bearer_digest(&headers)?;
    let key = idempotency_key(&headers)?;
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let payload = std::str::from_utf8(&bytes)
        .ok()
        .filter(|p| serde_json::from_str::<&RawValue>(p).is_ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_json",
                "message body must be a JSON document",
                "Send the message as JSON, e.g. -d '{\"task\":\"...\"}'.",
            )
        })?;
    let command = Command::Publish {
        queue: id.clone(),
        auth,
        id: roost_state::ids::message_id(rand::rng().random()),
        payload: payload.to_owned(),
        idempotency: key.map(|k| (k, digest(&bytes))),
    };
    match s.node.write(id.shard(), command).await? {
        Applied::Published {
            seq,
            id: msg_id,
            published_at_ms,
            replayed,
        } => {
            let base = base_url(&headers);
            let body = json!({
                "seq": seq,
                "id": msg_id,
                "queue_id": id,
                "published_at": timestamp(published_at_ms),
                "_help": format!("Message accepted. Pull it with GET /q/{id}/pull?cursor={}&consumer_id=<x>; ack with POST /q/{id}/ack {{cursor:{seq}, consumer_id:<x>}}.", seq - 1),
                "_links": links(&base, &id),
            });
            let mut resp = (StatusCode::CREATED, Json(body)).into_response();
            if replayed {
                resp.headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
            }
            Ok(resp)
        }
        Applied::Refused(e) => Err(e.into()),
        other => Err(unexpected(&other)),
    }
}

/// Query string of `GET /q/{id}/pull`, read as text so bad values get our own error.
#[derive(Deserialize)]
struct PullParams {
    consumer_id: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

fn parse_param<T: std::str::FromStr>(
    name: &'static str,
    raw: Option<&str>,
    code: &'static str,
) -> Result<Option<T>, ApiError> {
    raw.map(|v| {
        v.parse::<T>().map_err(|_| {
            ApiError::bad_request(
                code,
                format!("{name} must be a non-negative integer, got {v:?}"),
                format!("Pass {name} as a whole number, e.g. {name}=0."),
            )
        })
    })
    .transpose()
}

async fn pull(
    State(s): State<AppState>,
    Path(raw_id): Path<String>,
    UrlQuery(params): UrlQuery<PullParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = queue_id(&raw_id, s.node.shards())?;
    let auth = bearer_digest(&headers)?;
    let consumer = consumer_id(params.consumer_id.as_deref().ok_or_else(|| {
        ApiError::bad_request(
            "missing_consumer_id",
            "consumer_id is required",
            "Add ?consumer_id=<your worker name> to the pull URL.",
        )
    })?)?;
    let cursor: Option<u64> = parse_param("cursor", params.cursor.as_deref(), "invalid_cursor")?;
    let limit: usize =
        parse_param("limit", params.limit.as_deref(), "invalid_limit")?.unwrap_or(DEFAULT_PULL);
    if !(1..=MAX_PULL).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_PULL}"),
            "Omit limit for 10 messages per pull.",
        ));
    }
    let query = Query::Pull {
        queue: id.clone(),
        auth,
        consumer: consumer.clone(),
        cursor,
        limit,
    };
    match s.node.read(id.shard(), query).await? {
        QueryResult::Pulled {
            messages,
            cursor,
            next_cursor,
            has_more,
        } => {
            let envelopes = messages
                .iter()
                .map(|m| EnvelopeJson::new(&id, m))
                .collect::<Result<Vec<_>, _>>()?;
            let base = base_url(&headers);
            let next_url = format!(
                "{base}/q/{id}/pull?consumer_id={consumer}&cursor={next_cursor}&limit={limit}"
            );
            let body = json!({
                "queue_id": id,
                "consumer_id": consumer,
                "cursor": cursor,
                "messages": envelopes,
                "next_cursor": next_cursor,
                "has_more": has_more,
                "next_url": next_url,
                "_help": "Returns up to 'limit' messages with seq > cursor. Save next_cursor and POST /q/{id}/ack {cursor:next_cursor, consumer_id:X} when done. has_more=true means more available; pull again with cursor=next_cursor.",
                "_links": links(&base, &id),
            });
            Ok(Json(body).into_response())
        }
        QueryResult::Refused(e) => Err(e.into()),
    }
}

/// Body of `POST /q/{id}/ack`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    cursor: u64,
    consumer_id: String,
}

async fn ack(
    State(s): State<AppState>,
    Path(raw_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = queue_id(&raw_id, s.node.shards())?;
    let auth = bearer_digest(&headers)?;
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: AckBody = body::json(&bytes)?;
    let consumer = consumer_id(&req.consumer_id)?;
    let command = Command::Ack {
        queue: id.clone(),
        auth,
        consumer: consumer.clone(),
        cursor: req.cursor,
    };
    match s.node.write(id.shard(), command).await? {
        Applied::Acked { cursor } => {
            let base = base_url(&headers);
            Ok(Json(json!({
                "ok": true,
                "queue_id": id,
                "consumer_id": consumer,
                "cursor": cursor,
                "_help": "Cursor advanced (UPSERT MAX — sending a lower cursor is a no-op). Future pulls will skip messages with seq <= cursor.",
                "_links": links(&base, &id),
            }))
            .into_response())
        }
        Applied::Refused(e) => Err(e.into()),
        other => Err(unexpected(&other)),
    }
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
            assert_eq!(e.code, "invalid_idempotency_key");
        }
    }
}
