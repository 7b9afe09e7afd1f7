//! Operational endpoints: liveness, readiness and the cluster view.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use roost_api::ErrorCode;
use roost_node::NotReady;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::openapi::Unready;
use crate::{openapi, ApiError, AppState};

/// `/healthz`, `/readyz`, `/cluster`, `/openapi.json`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(cluster))
        .routes(routes!(openapi::document))
}

/// The answer of `/healthz` and `/readyz`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "node_id": 1}))]
struct Health {
    /// `ok` (alive) or `ready`.
    status: &'static str,
    /// This node's id (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    node_id: Option<u64>,
}

/// Alive as long as the process serves HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, description = "The process serves HTTP.", body = Health)),
)]
async fn healthz() -> impl IntoResponse {
    Json(Health {
        status: "ok",
        node_id: None,
    })
}

/// Ready once every group has a known leader.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Every Raft group has a leader.", body = Health),
        Unready,
    ),
)]
async fn readyz(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    match s.api.node().ready() {
        Ok(()) => Ok(Json(Health {
            status: "ready",
            node_id: Some(s.api.node().id()),
        })),
        Err(NotReady::NoLeader) => Err(ApiError::new(
            ErrorCode::NotReady,
            "not every group has a leader yet",
            "Wait for leader election (usually about a second) and retry; GET /cluster shows each group.",
        )),
        Err(NotReady::LayoutMismatch(why)) => Err(ApiError::new(
            ErrorCode::LayoutMismatch,
            why,
            "Start this node with the shard count the cluster was created with.",
        )),
    }
}

/// Nodes, groups, leaders, terms and indexes as this node sees them.
#[utoipa::path(
    get,
    path = "/cluster",
    operation_id = "cluster_status",
    tag = "operations",
    responses((status = 200, description = "Nodes, groups, leaders, terms and Raft indexes as this node sees them; no data.", body = Object)),
)]
async fn cluster(State(s): State<AppState>) -> impl IntoResponse {
    Json(s.api.node().status())
}
