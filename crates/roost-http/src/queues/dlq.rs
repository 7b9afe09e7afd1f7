//! Failed deliveries (nack), dead-letter listing and replay.

use axum::body::Body;
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rand::Rng;
use roost_state::{Command, Query, QueryResult, Response as Applied};
use serde::Deserialize;
use serde_json::{json, Value};

use super::messages::{limit_param, parse_param};
use super::{unexpected, QueueReq};
use crate::wire::{consumer_id, timestamp, EnvelopeJson};
use crate::{body, ApiError, AppState};
use roost_state::input::MAX_ERROR_BYTES;

/// Body of `POST /q/{id}/nack`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NackBody {
    consumer_id: String,
    seq: u64,
    #[serde(default)]
    error: String,
    #[serde(default)]
    dead_letter: bool,
}

pub(super) async fn nack(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: NackBody = body::json(&bytes)?;
    let consumer = consumer_id(&req.consumer_id)?;
    if req.error.len() > MAX_ERROR_BYTES {
        return Err(ApiError::bad_request(
            "invalid_error",
            format!("error must be at most {MAX_ERROR_BYTES} bytes"),
            "Send a shorter error description.",
        ));
    }
    let command = Command::Nack {
        queue: q.id.clone(),
        auth: q.auth,
        consumer,
        seq: req.seq,
        error: req.error,
        dead_letter: req.dead_letter,
    };
    match q.write(&s, command).await? {
        Applied::Nacked {
            seq,
            nack_count,
            dead_lettered,
        } => {
            let help = if dead_lettered {
                "The message is in the dead-letter queue (GET /q/{id}/dlq). Ack past it to move on; replay it with POST /q/{id}/dlq/replay once the cause is fixed."
            } else {
                "Failure counted. Retry the message; after max_deliveries failures it moves to the dead-letter queue."
            };
            Ok(q.reply(
                StatusCode::OK,
                json!({"ok": true, "seq": seq, "nack_count": nack_count, "dead_lettered": dead_lettered}),
                help,
            ))
        }
        other => Err(unexpected(&other)),
    }
}

/// Query string of `GET /q/{id}/dlq`.
#[derive(Deserialize)]
pub(super) struct DlqParams {
    cursor: Option<String>,
    limit: Option<String>,
}

pub(super) async fn list(
    State(s): State<AppState>,
    q: QueueReq,
    UrlQuery(params): UrlQuery<DlqParams>,
) -> Result<Response, ApiError> {
    let after: u64 =
        parse_param("cursor", params.cursor.as_deref(), "invalid_cursor")?.unwrap_or(0);
    let limit = limit_param(params.limit.as_deref(), 50, 1000)?;
    let query = Query::Dlq {
        queue: q.id.clone(),
        auth: q.auth,
        after,
        limit,
    };
    let QueryResult::DlqPage {
        rows,
        next_cursor,
        has_more,
    } = q.read(&s, query).await?
    else {
        return Err(ApiError::queue_not_found());
    };
    let messages = rows
        .iter()
        .map(|(row, e)| {
            let mut v = serde_json::to_value(EnvelopeJson::new(&q.id, &e.envelope)?)
                .map_err(|err| unexpected(&err))?;
            v["nack_count"] = json!(e.nack_count);
            v["last_error"] = json!(e.last_error);
            v["dead_lettered_at"] = json!(timestamp(e.dead_lettered_at_ms));
            v["dlq_cursor"] = json!(row);
            Ok(v)
        })
        .collect::<Result<Vec<Value>, ApiError>>()?;
    let next_url = format!(
        "{}/q/{}/dlq?cursor={next_cursor}&limit={limit}",
        q.base, q.id
    );
    Ok(q.reply(
        StatusCode::OK,
        json!({"messages": messages, "next_cursor": next_cursor, "has_more": has_more, "next_url": next_url}),
        "Replay a message via POST /q/{queue_id}/dlq/replay {dlq_msg_id: <envelope.id>}. Replay creates a NEW envelope with source=dlq-replay (and replayed_from preserving the original id). Pagination is exact: pass next_cursor as cursor for the next page.",
    ))
}

/// Body of `POST /q/{id}/dlq/replay`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplayBody {
    dlq_msg_id: String,
}

pub(super) async fn replay(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: ReplayBody = body::json(&bytes)?;
    let command = Command::ReplayDlq {
        queue: q.id.clone(),
        auth: q.auth,
        dlq_msg_id: req.dlq_msg_id,
        id: roost_state::ids::message_id(rand::rng().random()),
    };
    match q.write(&s, command).await? {
        Applied::Replayed { envelope } => {
            let replayed = EnvelopeJson::new(&q.id, &envelope)?;
            Ok(q.reply(
                StatusCode::OK,
                json!({"ok": true, "replayed": replayed}),
                "Replayed envelope published to the main queue. Every registered consumer can pull it (cursor < new seq). Source=dlq-replay; replayed_from preserves the original id for audit.",
            ))
        }
        other => Err(unexpected(&other)),
    }
}
