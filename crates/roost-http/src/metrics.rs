//! `/metrics` (the node's Prometheus metrics, public like `/healthz`: counts and Raft
//! positions, never an id, a payload or a key) and the one place the HTTP edge records its
//! requests: latency by route template and status, and the optional access log.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roost_node::{noting_forwards, Edge, METRICS_CONTENT_TYPE};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::openapi::ScrapeFailed;
use crate::AppState;

/// [`roost_wire::LEADER_HEADER`] (the last leader, if the request touched several groups).
pub const LEADER_HEADER: HeaderName = HeaderName::from_static(roost_wire::LEADER_HEADER);

/// `/metrics`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Every metric of this node, in Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "This node's metrics in Prometheus text format 0.0.4: counts, latencies, Raft positions, storage health; never an id of a queue or job, a payload or a key.", content_type = "text/plain", body = String),
        ScrapeFailed,
    ),
)]
async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let node = s.api.node().clone();
    // Reading RocksDB's properties and `/proc` is quick but is file IO.
    match tokio::task::spawn_blocking(move || node.metrics_text()).await {
        Ok(text) => ([(CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Records every routed request under its route template (never the raw path, which holds
/// ids), and logs it when `[http] access_log` is on. For a streamed reply (server-sent
/// events) the latency ends when the headers are sent.
pub async fn record(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // A client may send any method name: only the standard ones become labels.
    let method = match *req.method() {
        Method::GET | Method::POST | Method::PUT | Method::DELETE => req.method().as_str(),
        Method::PATCH | Method::HEAD | Method::OPTIONS => req.method().as_str(),
        _ => "OTHER",
    };
    let operation = format!("{method} {route}");
    let (mut resp, forwards) = noting_forwards(next.run(req)).await;
    if let Some(leader) = forwards.leader {
        // The hint for leader-aware clients: this request would have skipped a hop there.
        resp.headers_mut()
            .insert(LEADER_HEADER, HeaderValue::from(leader));
    }
    let took = started.elapsed();
    let status = resp.status();
    s.api
        .node()
        .metrics()
        .request(Edge::Http, &operation, status.as_str(), took);
    if s.limits.access_log {
        tracing::info!(
            route = %operation,
            status = status.as_u16(),
            latency_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            forwarded = forwards.forwarded,
            "request"
        );
    }
    resp
}
