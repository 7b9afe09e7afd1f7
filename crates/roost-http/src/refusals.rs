//! Refused credentials (401 or 403) are reported to the node's rate-limited warnings
//! (`roost_node::Refusals`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Answers the request, then reports it if its credentials were refused.
pub async fn log_refused(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let from = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let route = format!("{} {}", req.method(), req.uri().path());
    let resp = next.run(req).await;
    if matches!(
        resp.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        s.api
            .node()
            .refusals()
            .note(from, &route, resp.status().as_str());
    }
    resp
}
