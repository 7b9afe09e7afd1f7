//! Failed deliveries (nack), dead-letter listing and replay: each handler parses, calls
//! `roost_api::Api` and renders.

use axum::body::Body;
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roost_api::views::{DeadLetterPage, DeadLetterView, EnvelopeView, NackedView, ReplayedView};
use roost_api::{ErrorCode, Nack, Replayed};
use serde::{Deserialize, Serialize};

use super::messages::parse_param;
use super::QueueReq;
use crate::{body, ApiError, AppState};

pub(super) async fn nack(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: Nack = body::json(&bytes)?;
    let nacked = s.api.nack(&q.queue, req).await?;
    let help = if nacked.dead_lettered {
        "The message is in the dead-letter queue (GET /q/{id}/dlq). Ack past it to move on; replay it with POST /q/{id}/dlq/replay once the cause is fixed."
    } else {
        "Failure counted. Retry the message; after max_deliveries failures it moves to the dead-letter queue."
    };
    Ok(q.reply(StatusCode::OK, NackedView::of(nacked), help))
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
    let cursor = parse_param("cursor", params.cursor.as_deref(), ErrorCode::InvalidCursor)?;
    let limit = parse_param("limit", params.limit.as_deref(), ErrorCode::InvalidLimit)?;
    let page = s.api.dead_letters(&q.queue, cursor, limit).await?;
    let id = &q.queue.id;
    let messages = page
        .rows
        .iter()
        .map(|(row, e)| DeadLetterView::new(id, *row, e))
        .collect::<Result<Vec<_>, _>>()?;
    #[derive(Serialize)]
    struct Page<'a> {
        #[serde(flatten)]
        page: DeadLetterPage<'a>,
        next_url: String,
    }
    let next_url = format!(
        "{}/q/{id}/dlq?cursor={}&limit={}",
        q.base, page.next_cursor, page.limit
    );
    let body = Page {
        page: DeadLetterPage {
            messages,
            next_cursor: page.next_cursor,
            has_more: page.has_more,
        },
        next_url,
    };
    Ok(q.reply(
        StatusCode::OK,
        body,
        "Replay a message via POST /q/{queue_id}/dlq/replay {dlq_msg_id: <envelope.id>}. Replay creates a NEW envelope with source=dlq-replay (and replayed_from preserving the original id). Pagination is exact: pass next_cursor as cursor for the next page.",
    ))
}

pub(super) async fn replay(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: roost_wire::Replay = body::json(&bytes)?;
    match s.api.replay(&q.queue, q.peer, &req.dlq_msg_id).await? {
        Replayed::OverQuota(d) => Ok(super::quota::over_quota(&s, &q, &d, None)),
        Replayed::Done(envelope) => Ok(q.reply(
            StatusCode::OK,
            ReplayedView {
                ok: true,
                replayed: EnvelopeView::new(&q.queue.id, &envelope)?,
            },
            "Replayed envelope published to the main queue. Every registered consumer can pull it (cursor < new seq). Source=dlq-replay; replayed_from preserves the original id for audit.",
        )),
    }
}
