//! What a call presents: the Bearer token and account key of its metadata, and the client's
//! address (waits and quota payers are counted by it).

use std::net::IpAddr;

use roost_api::Api;
use roost_auth::Claims;
use tonic::{Request, Status};

use crate::status::status;

/// The token in the call's `authorization: Bearer <token>` metadata.
pub(crate) fn bearer<T>(req: &Request<T>) -> Option<&str> {
    req.metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim())
}

/// The account key in the call's `x-account-key` metadata, which claims the queue it names.
pub(crate) fn account_key<T>(req: &Request<T>) -> Option<&str> {
    req.metadata()
        .get("x-account-key")
        .and_then(|v| v.to_str().ok())
}

/// The client's address, which waiting calls are counted against.
pub(crate) fn addr<T>(req: &Request<T>) -> Option<IpAddr> {
    req.remote_addr().map(|a| a.ip())
}

/// The caller of a workspace call (jobs, work queues), from its workspace token.
pub(crate) fn caller<T>(api: &Api, req: &Request<T>) -> Result<Claims, Status> {
    api.caller(bearer(req)).map_err(status)
}
