//! Failed deliveries (nack), dead-letter listing and replay: each handler parses, calls
//! `roost_api::Api` and renders.

use axum::body::Body;
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roost_api::views::{DeadLetterPage, DeadLetterView, EnvelopeView, NackedView, ReplayedView};
use roost_api::{ErrorCode, Nack, Replayed};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::messages::parse_param;
use super::quota::OverQuota;
use super::{Framed, QueueReq};
use crate::openapi::{QueuePage, QueueWrite};
use crate::{body, ApiError, AppState};

/// Counts a failed delivery; after the queue's `max_deliveries` (or at once with
/// `dead_letter: true`) the message is copied to the dead-letter queue.
#[utoipa::path(
    post,
    path = "/q/{id}/nack",
    operation_id = "nack",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id.")),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    request_body = Nack,
    responses(
        (status = 200, description = "The failure counted.", body = Framed<NackedView>),
        QueueWrite,
    ),
)]
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
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct DlqParams {
    /// The `next_cursor` of the previous page (default 0: the start).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 18446744073709551615_f64)]
    cursor: Option<String>,
    /// Dead letters per page (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// A page of the dead-letter queue, in the order messages arrived there.
#[derive(Serialize, ToSchema)]
#[schema(as = DeadLetters)]
struct Page<'a> {
    #[serde(flatten)]
    page: DeadLetterPage<'a>,
    /// The next page's URL.
    next_url: String,
}

/// Lists dead letters.
#[utoipa::path(
    get,
    path = "/q/{id}/dlq",
    operation_id = "list_dead_letters",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id."), DlqParams),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    responses(
        (status = 200, description = "A page of dead letters.", body = Framed<Page>),
        QueuePage,
    ),
)]
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

/// Publishes a dead letter again as a new message (`source: dlq-replay`) and removes it from
/// the dead-letter queue.
#[utoipa::path(
    post,
    path = "/q/{id}/dlq/replay",
    operation_id = "replay_dead_letter",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id.")),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    request_body = roost_wire::Replay,
    responses(
        (status = 200, description = "The new message.", body = Framed<ReplayedView>),
        (status = 402, description = "Over the payer's monthly quota: nothing was published; the dead letter stays.", body = Framed<OverQuota>),
        QueueWrite,
    ),
)]
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
