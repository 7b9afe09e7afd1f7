//! Roost's HTTP edge: the client API every node serves.
//!
//! Handlers parse a request, call [`roost_api::Api`] (the queue routes not yet moved there turn
//! it into state-machine commands for [`roost_node::Node`] themselves), and render the answer.
//! Every response is JSON; every error has a stable `code` and a `_help` sentence ([`error`] is
//! the one place that maps error codes to HTTP statuses).

mod auth;
mod body;
mod error;
mod forms;
mod jobs;
pub mod jwt;
mod ops;
mod queues;
mod quotas;
mod rate;
mod refusals;
mod server;
mod waiters;
mod wire;

pub use wire::{is_plain_host, Links};
mod work;

use std::sync::Arc;

use axum::Router;
use roost_node::Node;
use roost_state::Retention;

pub use error::ApiError;
pub use quotas::Quotas;
pub use server::{serve, ConnLimits};

/// The digest Roost keeps of a secret key (for the operator key in configuration).
pub fn key_digest(key: &str) -> [u8; 32] {
    auth::digest(key.as_bytes())
}

/// Limits and defaults the edge applies before anything reaches Raft.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted request body (a published message included).
    pub max_body_bytes: usize,
    /// Retention of new queues while they have no registered consumer.
    pub retention: Retention,
    /// Public form submissions accepted per client IP per minute.
    pub form_submissions_per_minute: u32,
    /// Queues and forms created per client IP per minute (creating needs no key).
    pub creates_per_minute: u32,
    /// Consumers and allowed origins one queue may have.
    pub queue_caps: roost_state::QueueCaps,
    /// Publish quotas; `None` (the default) turns them off.
    pub quotas: Option<Quotas>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 256 * 1024,
            retention: Retention {
                max_age_ms: Some(7 * 24 * 3600 * 1000),
                max_messages: Some(1_000_000),
            },
            form_submissions_per_minute: 30,
            creates_per_minute: 60,
            queue_caps: roost_state::QueueCaps::default(),
            quotas: None,
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The node requests are routed through.
    pub node: Arc<Node>,
    /// Input limits.
    pub limits: Limits,
    /// Per-IP limits of public form submissions.
    pub forms: Arc<rate::RateLimiter>,
    /// Per-IP limits of queue and form creation.
    pub creates: Arc<rate::RateLimiter>,
    /// The application layer the moved routes call.
    pub api: roost_api::Api,
    /// How this edge names itself in links.
    pub links: Links,
}

/// The whole HTTP API.
pub fn router(api: roost_api::Api, limits: Limits, links: Links) -> Router {
    let state = AppState {
        node: Arc::clone(api.node()),
        limits,
        forms: Arc::default(),
        creates: Arc::default(),
        api,
        links,
    };
    Router::new()
        .merge(ops::routes())
        .merge(queues::routes(state.clone()))
        .merge(forms::routes())
        .merge(quotas::routes())
        .merge(jobs::routes())
        .merge(work::routes())
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
