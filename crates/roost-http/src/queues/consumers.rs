//! Consumer cursors: ack, and the registered roster.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roost_api::ErrorCode;
use roost_state::{Command, Query, QueryResult, Response as Applied};
use serde::Deserialize;
use serde_json::json;

use super::{unexpected, QueueReq};
use crate::wire::consumer_id;
use crate::{body, ApiError, AppState};

/// Most consumers one roster change names.
const MAX_CHANGE: usize = 100;

const ROSTER_HELP: &str = "Consumer roster updated. New consumers see ONLY future messages (RabbitMQ semantics — no historical replay). Removed consumers stop gating GC immediately.";

/// Body of `POST /q/{id}/ack`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AckBody {
    cursor: u64,
    consumer_id: String,
}

pub(super) async fn ack(
    State(s): State<AppState>,
    q: QueueReq,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: AckBody = body::json(&bytes)?;
    let consumer = consumer_id(&req.consumer_id)?;
    let command = s.limits.queue_caps.limit(Command::Ack {
        queue: q.id.clone(),
        auth: q.auth,
        consumer: consumer.clone(),
        cursor: req.cursor,
    });
    match q.write(&s, command).await? {
        Applied::Acked { cursor } => Ok(q.reply(
            StatusCode::OK,
            json!({"ok": true, "consumer_id": consumer, "cursor": cursor}),
            "Cursor advanced (UPSERT MAX — sending a lower cursor is a no-op). Future pulls will skip messages with seq <= cursor.",
        )),
        other => Err(unexpected(&other)),
    }
}

pub(super) async fn list(State(s): State<AppState>, q: QueueReq) -> Result<Response, ApiError> {
    let query = Query::Info {
        queue: q.id.clone(),
        auth: q.auth,
    };
    match q.read(&s, query).await? {
        QueryResult::Info { queue } => {
            let cursors: serde_json::Map<String, serde_json::Value> = queue
                .consumers
                .iter()
                .map(|(c, cursor)| (c.clone(), json!(cursor)))
                .collect();
            Ok(q.reply(
                StatusCode::OK,
                json!({"consumers": queue.consumers.keys().collect::<Vec<_>>(), "cursors": cursors}),
                ROSTER_HELP,
            ))
        }
        other => Err(unexpected(&other)),
    }
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
    if req.add.len() + req.remove.len() > MAX_CHANGE {
        return Err(ApiError::new(
            ErrorCode::TooManyConsumersInRequest,
            format!("at most {MAX_CHANGE} consumers per change"),
            "Split the change into several requests.",
        ));
    }
    let check = |list: &[String]| {
        list.iter()
            .map(|c| consumer_id(c))
            .collect::<Result<Vec<_>, _>>()
    };
    let command = s.limits.queue_caps.limit(Command::SetConsumers {
        queue: q.id.clone(),
        auth: q.auth,
        add: check(&req.add)?,
        remove: check(&req.remove)?,
    });
    match q.write(&s, command).await? {
        Applied::Consumers { consumers } => {
            let cursors: serde_json::Map<String, serde_json::Value> = consumers
                .iter()
                .map(|(c, cursor)| (c.clone(), json!(cursor)))
                .collect();
            Ok(q.reply(
                StatusCode::OK,
                json!({"consumers": consumers.keys().collect::<Vec<_>>(), "cursors": cursors}),
                ROSTER_HELP,
            ))
        }
        other => Err(unexpected(&other)),
    }
}
