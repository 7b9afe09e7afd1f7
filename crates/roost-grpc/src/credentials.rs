//! What a call presents: the Bearer token of its metadata, the digest of a queue key, and the
//! client's address that unclaimed queues' publishes are charged to.

use std::net::IpAddr;

use roost_api::{Error, ErrorCode};
use sha2::{Digest, Sha256};
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

/// The digest of the queue key in the call's metadata.
pub(crate) fn auth<T>(req: &Request<T>) -> Result<[u8; 32], Status> {
    let key = bearer(req).ok_or_else(|| {
        status(Error::new(
            ErrorCode::MissingApiKey,
            "send 'authorization: Bearer <queue_api_key>'",
            "",
        ))
    })?;
    Ok(Sha256::digest(key.as_bytes()).into())
}

/// The client's address, which waiting calls are counted against.
pub(crate) fn addr<T>(req: &Request<T>) -> Option<IpAddr> {
    req.remote_addr().map(|a| a.ip())
}

/// Who a publish is charged to when its queue has no owning account: the client's address.
pub(crate) fn publisher<T>(req: &Request<T>) -> String {
    req.remote_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}
