//! Consumer cursors: ack, and the registered roster. Each handler parses, calls
//! `roost_api::Api` and renders.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roost_api::views::ConsumersView;
use serde::{Deserialize, Serialize};

use super::{Done, QueueReq};
use crate::{body, ApiError, AppState};

const ROSTER_HELP: &str = "Consumer roster updated. New consumers see ONLY future messages (RabbitMQ semantics — no historical replay). Removed consumers stop gating GC immediately.";

pub(super) async fn ack(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: roost_wire::Ack = body::json(&bytes)?;
    let cursor = s.api.ack(&q.queue, &req.consumer_id, req.cursor).await?;
    #[derive(Serialize)]
    struct Acked<'a> {
        consumer_id: &'a str,
        cursor: u64,
    }
    Ok(q.reply(
        StatusCode::OK,
        Done::of(Acked {
            consumer_id: &req.consumer_id,
            cursor,
        }),
        "Cursor advanced (UPSERT MAX — sending a lower cursor is a no-op). Future pulls will skip messages with seq <= cursor.",
    ))
}

pub(super) async fn list(State(s): State<AppState>, q: QueueReq) -> Result<Response, ApiError> {
    let queue = s.api.get_queue(&q.queue).await?;
    Ok(q.reply(
        StatusCode::OK,
        ConsumersView::of(&queue.consumers),
        ROSTER_HELP,
    ))
}

/// Body of `POST /q/{id}/consumers`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RosterBody {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

pub(super) async fn change(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: RosterBody = body::json(&bytes)?;
    let cursors = s
        .api
        .change_consumers(&q.queue, &req.add, &req.remove)
        .await?;
    Ok(q.reply(StatusCode::OK, ConsumersView::of(&cursors), ROSTER_HELP))
}
