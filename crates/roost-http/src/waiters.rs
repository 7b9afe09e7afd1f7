//! The HTTP side of the cap on waiting requests per client address (see
//! `roost_node::Waiters`): the client's address, and the 429 past the cap.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
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

/// A place for a request of `ip` that is about to wait.
pub fn slot(s: &AppState, ip: Option<IpAddr>) -> Result<Option<WaitSlot>, ApiError> {
    Ok(s.api.wait_slot(ip)?)
}
