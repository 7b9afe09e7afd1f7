//! Queue keys: minted at create, presented as Bearer tokens, known to the cluster only as digests.

use axum::http::{header, HeaderMap, StatusCode};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::ApiError;

/// Mints a new queue key: 256 random bits, `qk_` + 64 hex digits.
pub fn mint_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("qk_{}", hex::encode(bytes))
}

/// The SHA-256 digest of some bytes; what the cluster stores and compares.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The digest of the Bearer key in `headers`, or a 401.
pub fn bearer_digest(headers: &HeaderMap) -> Result<[u8; 32], ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "missing Authorization: Bearer <queue_api_key>",
            "Send the queue_api_key returned by POST /q/create as 'Authorization: Bearer <key>'.",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(digest(token.trim().as_bytes()))
}
