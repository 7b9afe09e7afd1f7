//! Consumer cursors: ack, and the registered roster. Each handler parses, calls
//! `roost_api::Api` and renders.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roost_api::views::ConsumersView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Done, Framed, QueueReq};
use crate::openapi::{QueueRead, QueueWrite};
use crate::{body, ApiError, AppState};

const ROSTER_HELP: &str = "Consumer roster updated. New consumers see ONLY future messages (RabbitMQ semantics — no historical replay). Removed consumers stop gating GC immediately.";

/// What an ack answers.
#[derive(Serialize, ToSchema)]
struct Acked<'a> {
    /// Who acked.
    consumer_id: &'a str,
    /// The consumer's cursor now (acks never move it back).
    cursor: u64,
}

/// Moves a consumer's cursor forward (never back).
#[utoipa::path(
    post,
    path = "/q/{id}/ack",
    operation_id = "ack",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id.")),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    request_body = roost_wire::Ack,
    responses(
        (status = 200, description = "The cursor.", body = Framed<Done<Acked>>),
        QueueWrite,
    ),
)]
pub(super) async fn ack(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: roost_wire::Ack = body::json(&bytes)?;
    let cursor = s.api.ack(&q.queue, &req.consumer_id, req.cursor).await?;
    Ok(q.reply(
        StatusCode::OK,
        Done::of(Acked {
            consumer_id: &req.consumer_id,
            cursor,
        }),
        "Cursor advanced (UPSERT MAX — sending a lower cursor is a no-op). Future pulls will skip messages with seq <= cursor.",
    ))
}

/// The registered consumers and their cursors.
#[utoipa::path(
    get,
    path = "/q/{id}/consumers",
    operation_id = "list_consumers",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id.")),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    responses(
        (status = 200, description = "The roster.", body = Framed<ConsumersView>),
        QueueRead,
    ),
)]
pub(super) async fn list(State(s): State<AppState>, q: QueueReq) -> Result<Response, ApiError> {
    let queue = s.api.get_queue(&q.queue).await?;
    Ok(q.reply(
        StatusCode::OK,
        ConsumersView::of(&queue.consumers),
        ROSTER_HELP,
    ))
}

/// Body of `POST /q/{id}/consumers`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"add": ["worker-2"], "remove": ["worker-1"]}))]
pub(super) struct RosterBody {
    /// Consumers to register; they start at the head (only future messages).
    #[serde(default)]
    #[schema(schema_with = roost_wire::schema::consumer_ids)]
    add: Vec<String>,
    /// Consumers to forget; they stop gating garbage collection.
    #[serde(default)]
    #[schema(schema_with = roost_wire::schema::consumer_ids)]
    remove: Vec<String>,
}

/// Registers and removes consumers.
#[utoipa::path(
    post,
    path = "/q/{id}/consumers",
    operation_id = "change_consumers",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id.")),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    request_body(content = Option<RosterBody>, description = "Both lists are optional."),
    responses(
        (status = 200, description = "The roster now.", body = Framed<ConsumersView>),
        QueueWrite,
    ),
)]
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
