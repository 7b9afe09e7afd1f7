//! The queue API (`/q/*`), split by meaning: `messages` (publish, pull), `consumers` (ack,
//! roster), `dlq` (nack, dead letters, replay), `cors` (origins, preflight, grants). This file
//! has the routes, the shared request context, and create / info / delete.

mod consumers;
mod cors;
mod dlq;
mod messages;
mod quota;

pub use messages::{idempotency_key, parse_param};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::options;
use axum::{Json, Router};
use roost_api::views::{CreatedView, QueueInfoView};
use roost_api::{CreateQueue, QueueRef};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::bearer_token;
use crate::openapi::{KeylessCreate, QueueRead};
use crate::wire::base_url;
use crate::{body, ApiError, AppState};

pub use cors::grant as grant_cors;

/// The `/q` routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(info, delete))
        .routes(routes!(messages::publish))
        .routes(routes!(messages::publish_batch))
        .routes(routes!(messages::pull))
        .routes(routes!(consumers::ack))
        .routes(routes!(consumers::list, consumers::change))
        .routes(routes!(dlq::nack))
        .routes(routes!(dlq::list))
        .routes(routes!(dlq::replay))
        .routes(routes!(cors::change))
}

/// Every per-queue path of `doc` also answers CORS preflights (OPTIONS); the document lists
/// them too ([`crate::openapi::finish`]).
pub fn preflights(router: Router<AppState>, doc: &utoipa::openapi::OpenApi) -> Router<AppState> {
    doc.paths
        .paths
        .keys()
        .filter(|path| path.starts_with("/q/{id}"))
        .fold(router, |r, path| r.route(path, options(cors::preflight)))
}

/// The header carrying an account key, which claims the queue it is sent to.
const ACCOUNT_KEY_HEADER: &str = "x-account-key";

/// What every authenticated per-queue request carries: the queue and the key presented, the
/// base URL for links, the client's address.
pub struct QueueReq {
    /// The queue addressed by the path, with the key presented.
    pub queue: QueueRef,
    /// Base URL for `_links`.
    pub base: String,
    /// The client's address (waits and quota payers are counted by it).
    pub peer: Option<std::net::IpAddr>,
}

impl FromRequestParts<AppState> for QueueReq {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, s)
            .await
            .map_err(|_| ApiError::queue_not_found())?;
        let queue = s.api.queue_ref(&raw, bearer_token(&parts.headers))?;
        if let Some(key) = parts
            .headers
            .get(ACCOUNT_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            s.api.claim_queue(&queue, key).await?;
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(QueueReq {
            queue,
            base: base_url(&s.links, &parts.headers),
            peer,
        })
    }
}

impl QueueReq {
    /// The queue's `_links`.
    pub fn links(&self) -> QueueLinks {
        links(&self.base, self.queue.id.as_str())
    }

    /// A JSON response: `body` plus `queue_id`, `_help` and `_links`, serialized in one pass
    /// so the payloads it carries go out exactly as they were published.
    pub fn reply<T: Serialize>(&self, status: StatusCode, body: T, help: &str) -> Response {
        framed(status, body, self.queue.id.as_str(), help, self.links())
    }
}

/// The `_links` of a queue: where each of its operations is.
#[derive(Serialize, ToSchema)]
pub struct QueueLinks {
    #[serde(rename = "self")]
    this: String,
    publish: String,
    pull: String,
    ack: String,
    nack: String,
    consumers: String,
    dlq: String,
}

/// The `_links` of queue `id`.
fn links(base: &str, id: &str) -> QueueLinks {
    let at = |path: &str| format!("{base}/q/{id}{path}");
    QueueLinks {
        this: at(""),
        publish: at("/publish"),
        pull: at("/pull?consumer_id=<consumer>"),
        ack: at("/ack"),
        nack: at("/nack"),
        consumers: at("/consumers"),
        dlq: at("/dlq"),
    }
}

/// A queue's reply: its body with `queue_id`, `_help` and `_links`.
#[derive(Serialize, ToSchema)]
pub struct Framed<'a, T> {
    #[serde(flatten)]
    body: T,
    /// The queue.
    queue_id: &'a str,
    /// What to do next.
    #[serde(rename = "_help")]
    help: &'a str,
    /// Where each of the queue's operations is.
    #[serde(rename = "_links")]
    links: QueueLinks,
}

/// `body` with `queue_id`, `_help` and `_links` added.
fn framed<T: Serialize>(
    status: StatusCode,
    body: T,
    queue_id: &str,
    help: &str,
    links: QueueLinks,
) -> Response {
    let framed = Framed {
        body,
        queue_id,
        help,
        links,
    };
    (status, Json(framed)).into_response()
}

/// `{"ok": true, ...}` around `body`.
#[derive(Serialize, ToSchema)]
pub struct Done<T> {
    /// Always true.
    ok: bool,
    #[serde(flatten)]
    body: T,
}

impl<T> Done<T> {
    /// `body`, marked ok.
    pub fn of(body: T) -> Self {
        Done { ok: true, body }
    }
}

/// The publish and pull URLs of a new queue.
#[derive(Serialize, ToSchema)]
struct Urls {
    /// Where to publish.
    publish_url: String,
    /// Where to pull, from the start, as the first consumer.
    pull_url: String,
}

/// The answer to `POST /q/create`.
#[derive(Serialize, ToSchema)]
#[schema(as = CreatedQueue)]
struct Created<'a> {
    #[serde(flatten)]
    queue: CreatedView<'a>,
    #[serde(flatten)]
    urls: Urls,
}

/// Creates a queue; its key is in the answer, and only there.
#[utoipa::path(
    post,
    path = "/q/create",
    operation_id = "create_queue",
    tag = "queues",
    request_body(content = Option<CreateQueue>, description = "Every field is optional; `{}` (or no body) makes a queue with no consumers."),
    responses(
        (status = 201, description = "The queue, with its key (shown this once).", body = Framed<Created>),
        KeylessCreate,
    ),
)]
async fn create(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: CreateQueue = body::json(&bytes)?;
    let created = s.api.create_queue(Some(peer.ip()), req).await?;
    let base = base_url(&s.links, &headers);
    let id = created.queue.id.as_str();
    let first = created
        .queue
        .consumers
        .keys()
        .next()
        .map_or("<consumer>", String::as_str);
    let body = Created {
        queue: CreatedView::of(&created),
        urls: Urls {
            publish_url: format!("{base}/q/{id}/publish"),
            pull_url: format!("{base}/q/{id}/pull?cursor=0&consumer_id={first}"),
        },
    };
    Ok(framed(
        StatusCode::CREATED,
        body,
        id,
        "Queue created. Capture queue_api_key NOW — it is shown only once. Use it as Authorization: Bearer <key> on every /q/{id}/* call.",
        links(&base, id),
    ))
}

/// The queue's state: head, floor, counts, consumers' cursors and lag, settings.
#[utoipa::path(
    get,
    path = "/q/{id}",
    operation_id = "get_queue",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id.")),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    responses(
        (status = 200, description = "The queue's state.", body = Framed<QueueInfoView>),
        QueueRead,
    ),
)]
async fn info(State(s): State<AppState>, q: QueueReq) -> Result<Response, ApiError> {
    let queue = s.api.get_queue(&q.queue).await?;
    Ok(q.reply(
        StatusCode::OK,
        QueueInfoView::of(&queue),
        "Queue state: lag is how many messages each consumer has not acked yet; messages at or below floor_seq were garbage-collected.",
    ))
}

/// `{"deleted": true}`.
#[derive(Serialize, ToSchema)]
#[schema(as = QueueDeleted)]
struct Deleted {
    /// Always true.
    deleted: bool,
}

/// Deletes the queue with its messages, cursors and dead letters; its key stops working.
#[utoipa::path(
    delete,
    path = "/q/{id}",
    operation_id = "delete_queue",
    tag = "queues",
    params(("id" = String, Path, description = "The queue's id.")),
    security(("queue_key" = []), ("queue_key" = [], "account_key" = [])),
    responses(
        (status = 200, description = "The queue is gone.", body = Framed<Done<Deleted>>),
        QueueRead,
    ),
)]
async fn delete(State(s): State<AppState>, q: QueueReq) -> Result<Response, ApiError> {
    s.api.delete_queue(&q.queue).await?;
    Ok(q.reply(
        StatusCode::OK,
        Done::of(Deleted { deleted: true }),
        "Queue deleted with all its messages, cursors and dead letters; its key no longer works.",
    ))
}
