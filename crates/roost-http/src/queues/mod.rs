//! The queue API (`/q/*`), split by meaning: `messages` (publish, pull), `consumers` (ack,
//! roster), `dlq` (nack, dead letters, replay), `cors` (origins, preflight, grants). This file
//! has the routes, the shared request context, and create / info / delete.

mod consumers;
mod cors;
mod dlq;
mod messages;
mod quota;

pub use messages::{idempotency_key, limit_param, parse_param};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use roost_api::ErrorCode;
use roost_state::{
    Command, Origins, Query, QueryResult, QueueId, QueueSettings, Response as Applied,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{bearer_digest, digest, mint_key};
use crate::wire::{base_url, consumer_id, queue_id, timestamp};
use crate::{body, ApiError, AppState};

/// Most consumers registered at create.
const MAX_CONSUMERS: usize = 100;

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

/// What every authenticated per-queue request carries: the queue, the key digest, the base
/// URL for links.
pub struct QueueReq {
    /// The queue addressed by the path.
    pub id: QueueId,
    /// SHA-256 of the presented Bearer key.
    pub auth: [u8; 32],
    /// Base URL for `_links`.
    pub base: String,
    /// The client's address, for per-IP quota counting.
    pub peer: Option<std::net::IpAddr>,
}

impl FromRequestParts<AppState> for QueueReq {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, s)
            .await
            .map_err(|_| ApiError::queue_not_found())?;
        let id = queue_id(&raw, s.node.shards())?;
        let auth = bearer_digest(&parts.headers)?;
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let q = QueueReq {
            id,
            auth,
            base: base_url(&s.links, &parts.headers),
            peer,
        };
        quota::claim_if_asked(s, &parts.headers, &q).await?;
        Ok(q)
    }
}

impl QueueReq {
    /// The queue's `_links`.
    pub fn links(&self) -> Value {
        let (base, id) = (&self.base, &self.id);
        json!({
            "self": format!("{base}/q/{id}"),
            "publish": format!("{base}/q/{id}/publish"),
            "pull": format!("{base}/q/{id}/pull?consumer_id=<consumer>"),
            "ack": format!("{base}/q/{id}/ack"),
            "nack": format!("{base}/q/{id}/nack"),
            "consumers": format!("{base}/q/{id}/consumers"),
            "dlq": format!("{base}/q/{id}/dlq"),
        })
    }

    /// A JSON response: `body` plus `queue_id`, `_help` and `_links`.
    pub fn reply(&self, status: StatusCode, mut body: Value, help: &str) -> Response {
        if let Some(obj) = body.as_object_mut() {
            obj.insert("queue_id".into(), json!(self.id));
            obj.insert("_help".into(), json!(help));
            obj.insert("_links".into(), self.links());
        }
        (status, Json(body)).into_response()
    }

    /// Like [`QueueReq::reply`] for a typed body, serialized in one pass so the payloads it
    /// carries go out exactly as they were published.
    pub fn reply_with<T: serde::Serialize>(
        &self,
        status: StatusCode,
        body: T,
        help: &str,
    ) -> Response {
        #[derive(serde::Serialize)]
        struct Framed<'a, T> {
            #[serde(flatten)]
            body: T,
            queue_id: &'a str,
            #[serde(rename = "_help")]
            help: &'a str,
            #[serde(rename = "_links")]
            links: Value,
        }
        let framed = Framed {
            body,
            queue_id: self.id.as_str(),
            help,
            links: self.links(),
        };
        (status, Json(framed)).into_response()
    }

    /// Applies `command` in the queue's shard; a refusal becomes its API error.
    pub async fn write(&self, s: &AppState, command: Command) -> Result<Applied, ApiError> {
        match s.node.write(self.id.shard(), command).await? {
            Applied::Refused(e) => Err(e.into()),
            other => Ok(other),
        }
    }

    /// Answers `query` in the queue's shard; a refusal becomes its API error.
    pub async fn read(&self, s: &AppState, query: Query) -> Result<QueryResult, ApiError> {
        match s.node.read(self.id.shard(), query).await? {
            QueryResult::Refused(e) => Err(e.into()),
            other => Ok(other),
        }
    }
}

/// A response the state machine should never give to that command.
pub fn unexpected<T: std::fmt::Debug>(r: &T) -> ApiError {
    ApiError::new(
        ErrorCode::Internal,
        format!("unexpected state machine response {r:?}"),
        "This is a server fault; report it.",
    )
}

/// `allowed_origins` as given at create: `"*"`, a comma-separated string, or a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum OriginsField {
    One(String),
    Many(Vec<String>),
}

/// Body of `POST /q/create`; every field optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    consumers: Vec<String>,
    #[serde(default)]
    max_deliveries: Option<u32>,
    #[serde(default)]
    allowed_origins: Option<OriginsField>,
}

async fn create(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if !s.creates.allow(peer.ip(), s.limits.creates_per_minute) {
        return Ok(crate::rate::limited("creates"));
    }
    let bytes = body::read(&headers, body, s.limits.max_body_bytes).await?;
    let req: CreateBody = body::json(&bytes)?;
    if req.consumers.len() > MAX_CONSUMERS {
        return Err(ApiError::new(
            ErrorCode::TooManyConsumersInRequest,
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
        return Err(ApiError::new(
            ErrorCode::InvalidMaxDeliveries,
            "max_deliveries must be between 1 and 100",
            "Omit max_deliveries for the default of 5.",
        ));
    }
    let allowed_origins = match req.allowed_origins {
        None => Origins::None,
        Some(OriginsField::One(s)) if s.trim() == "*" => Origins::Any,
        Some(OriginsField::One(s)) => cors::origin_set(s.split(',').map(str::to_owned).collect())?,
        Some(OriginsField::Many(list)) if list.iter().any(|o| o == "*") => Origins::Any,
        Some(OriginsField::Many(list)) => cors::origin_set(list)?,
    };
    let key = mint_key();
    let shard = s.node.pick_shard();
    let id = QueueId::new(shard, rand::rng().random());
    let command = s.limits.queue_caps.limit(Command::CreateQueue {
        id: id.clone(),
        key_digest: digest(key.as_bytes()),
        consumers: consumers.clone(),
        settings: QueueSettings {
            max_deliveries,
            allowed_origins: allowed_origins.clone(),
            retention: s.limits.retention,
        },
    });
    let queue = match s.node.write(shard, command).await? {
        Applied::Created { queue } => queue,
        Applied::Refused(e) => return Err(e.into()),
        other => return Err(unexpected(&other)),
    };
    let ctx = QueueReq {
        id: id.clone(),
        auth: [0; 32],
        base: base_url(&s.links, &headers),
        peer: None,
    };
    let base = &ctx.base;
    let first = consumers.first().map_or("<consumer>", |c| c.as_str());
    let body = json!({
        "queue_api_key": key,
        "consumers": queue.consumers.keys().collect::<Vec<_>>(),
        "max_deliveries": max_deliveries,
        "allowed_origins": cors::render(&allowed_origins),
        "publish_url": format!("{base}/q/{id}/publish"),
        "pull_url": format!("{base}/q/{id}/pull?cursor=0&consumer_id={first}"),
    });
    Ok(ctx.reply(
        StatusCode::CREATED,
        body,
        "Queue created. Capture queue_api_key NOW — it is shown only once. Use it as Authorization: Bearer <key> on every /q/{id}/* call.",
    ))
}

async fn info(State(s): State<AppState>, q: QueueReq) -> Result<Response, ApiError> {
    let queue = match q
        .read(
            &s,
            Query::Info {
                queue: q.id.clone(),
                auth: q.auth,
            },
        )
        .await?
    {
        QueryResult::Info { queue } => queue,
        other => return Err(unexpected(&other)),
    };
    let consumers: Vec<Value> = queue
        .consumers
        .iter()
        .map(|(c, cursor)| json!({"consumer_id": c, "cursor": cursor, "lag": queue.head_seq - cursor}))
        .collect();
    let r = queue.settings.retention;
    let body = json!({
        "head_seq": queue.head_seq,
        "floor_seq": queue.floor_seq,
        "message_count": queue.message_count(),
        "dlq_count": queue.dlq_len,
        "held_count": queue.held_len,
        "consumers": consumers,
        "created_at": timestamp(queue.created_at_ms),
        "settings": {
            "max_deliveries": queue.settings.max_deliveries,
            "allowed_origins": cors::render(&queue.settings.allowed_origins),
            "retention_max_age_secs": r.max_age_ms.map(|ms| ms / 1000),
            "retention_max_messages": r.max_messages,
        },
    });
    Ok(q.reply(
        StatusCode::OK,
        body,
        "Queue state: lag is how many messages each consumer has not acked yet; messages at or below floor_seq were garbage-collected.",
    ))
}

async fn delete(State(s): State<AppState>, q: QueueReq) -> Result<Response, ApiError> {
    match q.write(&s, Command::DeleteQueue { queue: q.id.clone(), auth: q.auth }).await? {
        Applied::Done => Ok(q.reply(
            StatusCode::OK,
            json!({"ok": true, "deleted": true}),
            "Queue deleted with all its messages, cursors and dead letters; its key no longer works.",
        )),
        other => Err(unexpected(&other)),
    }
}
