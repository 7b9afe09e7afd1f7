//! The HTTP side of the cap on waiting requests per client address (see
//! `roost_node::Waiters`): the client's address, and the 429 past the cap.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use roost_node::WaitSlot;

use crate::{ApiError, AppState};

/// The client's address, when the listener recorded it.
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// A place for a request of `ip` that is about to wait (none needed when the address is not
/// known, which only an in-process caller can be).
pub fn slot(s: &AppState, ip: Option<IpAddr>) -> Result<Option<WaitSlot>, ApiError> {
    let Some(ip) = ip else {
        return Ok(None);
    };
    let cap = s.node.config().max_waiters_per_client;
    s.node.wait_slot(ip).map(Some).ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_waiters",
            format!("this address already has {cap} requests waiting (long polls, job waits, event streams, claims)"),
            "Wait on fewer things at once: one long poll per consumer, or ask without wait. The limit is [http] max_waiters_per_client.",
        )
    })
}
