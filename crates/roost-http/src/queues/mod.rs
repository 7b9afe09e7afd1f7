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
use axum::routing::{get, post};
use axum::{Json, Router};
use roost_api::views::{CreatedView, QueueInfoView};
use roost_api::{CreateQueue, QueueRef};
use serde::Serialize;

use crate::auth::bearer_token;
use crate::wire::base_url;
use crate::{body, ApiError, AppState};

/// The `/q` routes.
pub fn routes(state: AppState) -> Router<AppState> {
    // Every per-queue path answers CORS preflights (OPTIONS) as well as its own methods.
    let per_queue = [
        ("/q/{id}", get(info).delete(delete)),
        ("/q/{id}/publish", post(messages::publish)),
        ("/q/{id}/pull", get(messages::pull)),
        ("/q/{id}/ack", post(consumers::ack)),
        (
            "/q/{id}/consumers",
            get(consumers::list).post(consumers::change),
        ),
        ("/q/{id}/nack", post(dlq::nack)),
        ("/q/{id}/dlq", get(dlq::list)),
        ("/q/{id}/dlq/replay", post(dlq::replay)),
        ("/q/{id}/origins", post(cors::change)),
    ]
    .into_iter()
    .fold(Router::new(), |r, (path, methods)| {
        r.route(path, methods.options(cors::preflight))
    })
    .layer(axum::middleware::from_fn_with_state(state, cors::grant));
    Router::new()
        .route("/q/create", post(create))
        .merge(per_queue)
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
#[derive(Serialize)]
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

/// `body` with `queue_id`, `_help` and `_links` added.
fn framed<T: Serialize>(
    status: StatusCode,
    body: T,
    queue_id: &str,
    help: &str,
    links: QueueLinks,
) -> Response {
    #[derive(Serialize)]
    struct Framed<'a, T> {
        #[serde(flatten)]
        body: T,
        queue_id: &'a str,
        #[serde(rename = "_help")]
        help: &'a str,
        #[serde(rename = "_links")]
        links: QueueLinks,
    }
    let framed = Framed {
        body,
        queue_id,
        help,
        links,
    };
    (status, Json(framed)).into_response()
}

/// `{"ok": true, ...}` around `body`.
#[derive(Serialize)]
pub struct Done<T> {
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
    #[derive(Serialize)]
    struct Urls {
        publish_url: String,
        pull_url: String,
    }
    #[derive(Serialize)]
    struct Created<'a> {
        #[serde(flatten)]
        queue: CreatedView<'a>,
        #[serde(flatten)]
        urls: Urls,
    }
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

async fn info(State(s): State<AppState>, q: QueueReq) -> Result<Response, ApiError> {
    let queue = s.api.get_queue(&q.queue).await?;
    Ok(q.reply(
        StatusCode::OK,
        QueueInfoView::of(&queue),
        "Queue state: lag is how many messages each consumer has not acked yet; messages at or below floor_seq were garbage-collected.",
    ))
}

async fn delete(State(s): State<AppState>, q: QueueReq) -> Result<Response, ApiError> {
    s.api.delete_queue(&q.queue).await?;
    #[derive(Serialize)]
    struct Deleted {
        deleted: bool,
    }
    Ok(q.reply(
        StatusCode::OK,
        Done::of(Deleted { deleted: true }),
        "Queue deleted with all its messages, cursors and dead letters; its key no longer works.",
    ))
}
