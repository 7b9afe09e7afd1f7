//! Operational endpoints: liveness, readiness and the cluster view.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use roost_api::ErrorCode;
use roost_node::NotReady;
use serde::Serialize;

use crate::{ApiError, AppState};

/// `/healthz`, `/readyz`, `/cluster`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/cluster", get(cluster))
}

/// The answer of `/healthz` and `/readyz`.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_id: Option<u64>,
}

/// Alive as long as the process serves HTTP.
async fn healthz() -> impl IntoResponse {
    Json(Health {
        status: "ok",
        node_id: None,
    })
}

/// Ready once every group has a known leader.
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
async fn cluster(State(s): State<AppState>) -> impl IntoResponse {
    Json(s.api.node().status())
}
