//! Failed deliveries (nack), dead-letter listing and replay.

use axum::body::Body;
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rand::Rng;
use roost_api::ErrorCode;
use roost_state::{Command, Query, QueryResult, Response as Applied};
use serde::Deserialize;
use serde_json::json;

use super::messages::{limit_param, parse_param};
use super::{unexpected, QueueReq};
use crate::wire::{consumer_id, timestamp, EnvelopeJson};
use crate::{body, ApiError, AppState};
use roost_api::input::MAX_ERROR_BYTES;

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
        return Err(ApiError::new(
            ErrorCode::InvalidError,
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
        parse_param("cursor", params.cursor.as_deref(), ErrorCode::InvalidCursor)?.unwrap_or(0);
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
            Ok(DeadLetter {
                envelope: EnvelopeJson::new(&q.id, &e.envelope)?,
                nack_count: e.nack_count,
                last_error: &e.last_error,
                dead_lettered_at: timestamp(e.dead_lettered_at_ms),
                dlq_cursor: *row,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let next_url = format!(
        "{}/q/{}/dlq?cursor={next_cursor}&limit={limit}",
        q.base, q.id
    );
    #[derive(serde::Serialize)]
    struct Page<'a> {
        messages: Vec<DeadLetter<'a>>,
        next_cursor: u64,
        has_more: bool,
        next_url: String,
    }
    let page = Page {
        messages,
        next_cursor,
        has_more,
        next_url,
    };
    Ok(q.reply_with(
        StatusCode::OK,
        page,
        "Replay a message via POST /q/{queue_id}/dlq/replay {dlq_msg_id: <envelope.id>}. Replay creates a NEW envelope with source=dlq-replay (and replayed_from preserving the original id). Pagination is exact: pass next_cursor as cursor for the next page.",
    ))
}

/// A dead letter as listed: the envelope (its payload byte for byte) and why it was given up.
#[derive(serde::Serialize)]
struct DeadLetter<'a> {
    #[serde(flatten)]
    envelope: EnvelopeJson<'a>,
    nack_count: u32,
    last_error: &'a str,
    dead_lettered_at: String,
    dlq_cursor: u64,
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
    let publisher = q
        .peer
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let applied = match s.node.replay_charged(command, &publisher).await? {
        roost_node::Replay::OverQuota(d) => {
            return Ok(super::quota::over_quota(&s, &q, &d, None));
        }
        roost_node::Replay::Applied(applied) => *applied,
    };
    match applied {
        Applied::Refused(e) => Err(e.into()),
        Applied::Replayed { envelope } => {
            #[derive(serde::Serialize)]
            struct Replayed<'a> {
                ok: bool,
                replayed: EnvelopeJson<'a>,
            }
            let replayed = EnvelopeJson::new(&q.id, &envelope)?;
            Ok(q.reply_with(
                StatusCode::OK,
                Replayed { ok: true, replayed },
                "Replayed envelope published to the main queue. Every registered consumer can pull it (cursor < new seq). Source=dlq-replay; replayed_from preserves the original id for audit.",
            ))
        }
        other => Err(unexpected(&other)),
    }
}
