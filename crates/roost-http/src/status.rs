//! The status page at `/status`: a small page compiled into the binary (no CDN, nothing
//! fetched from elsewhere) that polls two JSON endpoints. `/status/cluster` is public, like
//! `/cluster`: members, their liveness, each group's leader, term and lag. `/admin/status`
//! needs the operator key: queue depths, consumers and their lag, dead letters, jobs and
//! tasks by status. Neither ever carries a payload or a key.

use std::collections::BTreeMap;

use axum::extract::{Query as UrlQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_api::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::bearer_token;
use crate::openapi::OperatorRead;
use crate::queues::parse_param;
use crate::{ApiError, AppState};

const PAGE: &str = include_str!("../status/index.html");
const SCRIPT: &str = include_str!("../status/status.js");
const STYLE: &str = include_str!("../status/status.css");

/// The page may load its own script and style and call this node, nothing else; it is never
/// framed, and it sends no referrer.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `/status` with its script and style, `/status/cluster`, `/admin/status`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(script))
        .routes(routes!(style))
        .routes(routes!(cluster))
        .routes(routes!(workload))
}

/// The status page.
#[utoipa::path(
    get,
    path = "/status",
    operation_id = "status_page",
    tag = "operations",
    responses((status = 200, description = "The status page (HTML).", content_type = "text/html", body = String)),
)]
async fn page() -> Response {
    asset(PAGE, "text/html; charset=utf-8")
}

/// The status page's script.
#[utoipa::path(
    get,
    path = "/status/status.js",
    operation_id = "status_script",
    tag = "operations",
    responses((status = 200, description = "The status page's script.", content_type = "text/javascript", body = String)),
)]
async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// The status page's style.
#[utoipa::path(
    get,
    path = "/status/status.css",
    operation_id = "status_style",
    tag = "operations",
    responses((status = 200, description = "The status page's style sheet.", content_type = "text/css", body = String)),
)]
async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// A static file with the page's security headers; never cached, so an upgraded node serves
/// its own page at once.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in headers {
        resp.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    resp
}

#[derive(Serialize, ToSchema)]
struct HealthView {
    node_id: u64,
    nodes: Vec<NodeView>,
    groups: Vec<GroupView>,
}

#[derive(Serialize, ToSchema)]
struct NodeView {
    id: u64,
    http_addr: String,
    live: bool,
}

#[derive(Serialize, ToSchema)]
struct GroupView {
    group: u32,
    leader: Option<u64>,
    term: u64,
    commit_index: Option<u64>,
    /// Entries each member is behind, by member id (JSON object keys are strings).
    #[schema(value_type = BTreeMap<String, Option<u64>>)]
    lag: BTreeMap<u64, Option<u64>>,
}

/// Members and groups as every member reports them now.
#[utoipa::path(
    get,
    path = "/status/cluster",
    operation_id = "status_cluster",
    tag = "operations",
    responses((status = 200, description = "Every member's liveness and each group's leader, term, commit index and lag per member, from a survey of every member; no data.", body = HealthView)),
)]
async fn cluster(State(s): State<AppState>) -> Json<HealthView> {
    let health = s.api.cluster_health().await;
    Json(HealthView {
        node_id: health.node_id,
        nodes: health
            .nodes
            .into_iter()
            .map(|n| NodeView {
                id: n.id,
                http_addr: n.http_addr,
                live: n.live,
            })
            .collect(),
        groups: health
            .groups
            .into_iter()
            .map(|g| GroupView {
                group: g.group,
                leader: g.leader,
                term: g.term,
                commit_index: g.commit_index,
                lag: g.lag,
            })
            .collect(),
    })
}

/// Query string of `/admin/status`.
#[derive(Deserialize)]
struct Params {
    limit: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct WorkloadView {
    queues: QueuesView,
    jobs: BTreeMap<String, u64>,
    work_queues: u64,
    tasks: BTreeMap<String, u64>,
    unavailable_shards: Vec<Unavailable>,
}

#[derive(Serialize, ToSchema)]
struct QueuesView {
    count: u64,
    message_count: u64,
    dlq_count: u64,
    deepest: Vec<QueueView>,
}

#[derive(Serialize, ToSchema)]
struct QueueView {
    id: String,
    head_seq: u64,
    message_count: u64,
    dlq_count: u64,
    held_count: u64,
    consumer_count: u64,
    consumers: Vec<ConsumerView>,
}

#[derive(Serialize, ToSchema)]
struct ConsumerView {
    consumer_id: String,
    cursor: u64,
    lag: u64,
}

#[derive(Serialize, ToSchema)]
struct Unavailable {
    shard: u32,
    error: String,
}

/// Queues, jobs and work queues across every shard (operator key as Bearer).
#[utoipa::path(
    get,
    path = "/admin/status",
    operation_id = "status_workload",
    tag = "cluster",
    security(("operator_key" = [])),
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "How many of the deepest queues to list (default 20).")),
    responses(
        (status = 200, description = "Queue totals and the deepest queues with their slowest consumers, jobs and tasks by status, across every shard; no payload, no key.", body = WorkloadView),
        OperatorRead,
    ),
)]
async fn workload(
    State(s): State<AppState>,
    headers: HeaderMap,
    UrlQuery(p): UrlQuery<Params>,
) -> Result<Json<WorkloadView>, ApiError> {
    // The key first, so a caller without it learns nothing from how its parameters fail.
    s.api.operator(bearer_token(&headers))?;
    let limit = parse_param("limit", p.limit.as_deref(), ErrorCode::InvalidLimit)?;
    let w = s.api.workload(bearer_token(&headers), limit).await?;
    let deepest = w
        .queues
        .deepest
        .into_iter()
        .map(|q| QueueView {
            id: q.id.to_string(),
            head_seq: q.head_seq,
            message_count: q.messages,
            dlq_count: q.dlq,
            held_count: q.held,
            consumer_count: q.consumer_count,
            consumers: q
                .consumers
                .into_iter()
                .map(|(consumer_id, cursor)| ConsumerView {
                    consumer_id,
                    cursor,
                    lag: q.head_seq.saturating_sub(cursor),
                })
                .collect(),
        })
        .collect();
    Ok(Json(WorkloadView {
        queues: QueuesView {
            count: w.queues.queues,
            message_count: w.queues.messages,
            dlq_count: w.queues.dlq,
            deepest,
        },
        jobs: w.work.jobs,
        work_queues: w.work.work_queues,
        tasks: w.work.tasks,
        unavailable_shards: w
            .unavailable
            .into_iter()
            .map(|(shard, error)| Unavailable { shard, error })
            .collect(),
    }))
}
