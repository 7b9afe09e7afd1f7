//! Roost's HTTP edge: the client API every node serves.
//!
//! Handlers parse a request, call [`roost_api::Api`], and render the answer; they never decide
//! (validation, credentials, limits and routing are the layer's).
//! Every response is JSON; every error has a stable `code` and a `_help` sentence ([`error`] is
//! the one place that maps error codes to HTTP statuses). Routes are registered with their
//! OpenAPI descriptions ([`openapi`]), so `/openapi.json` describes exactly what is served.

mod admin;
mod auth;
mod body;
mod client_ip;
mod error;
mod forms;
mod jobs;
pub mod jwt;
pub mod llms;
mod metrics;
pub mod openapi;
mod ops;
mod queues;
mod quotas;
mod refusals;
mod server;
mod status;
mod wire;

pub use wire::{is_plain_host, Links};
mod work;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;
pub use server::{serve, serve_tcp, ConnLimits};

/// What the HTTP edge itself needs from the configuration (the layer's limits are
/// `roost_api::Settings`).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted request body (a published message included).
    pub max_body_bytes: usize,
    /// Where over-quota answers send people to upgrade.
    pub upgrade_url: String,
    /// Log one line per request (route template, status, latency, forwarded or not).
    pub access_log: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 256 * 1024,
            upgrade_url: String::new(),
            access_log: false,
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The edge's own limits.
    pub limits: Limits,
    /// The application layer every client route calls.
    pub api: roost_api::Api,
    /// How this edge names itself in links.
    pub links: Links,
}

/// Every route with its description.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(ops::routes())
        .merge(llms::routes())
        .merge(status::routes())
        .merge(metrics::routes())
        .merge(queues::routes())
        .merge(forms::routes())
        .merge(quotas::routes())
        .merge(admin::routes())
        .merge(jobs::routes())
        .merge(work::routes())
}

/// The served routes and the OpenAPI document describing them.
fn documented() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, doc) = routes().split_for_parts();
    let doc = openapi::finish(doc);
    (queues::preflights(router, &doc), doc)
}

/// The whole HTTP API.
pub fn router(api: roost_api::Api, limits: Limits, links: Links) -> Router {
    let state = AppState { limits, api, links };
    let (router, doc) = documented();
    router
        // On the routes alone (after the preflights joined them), so a request is recorded
        // under the template it matched.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            queues::grant_cors,
        ))
        .layer(axum::Extension(openapi::Served::of(&doc)))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refusals::log_refused,
        ))
        .layer(axum::middleware::from_fn(wire::check_head))
        .layer(axum::middleware::map_response(error::json_errors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panicked,
        ))
        .with_state(state)
}
