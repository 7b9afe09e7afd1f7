//! Queue keys: minted at create, presented as Bearer tokens, known to the cluster only as digests.

use axum::http::{header, HeaderMap};
use rand::RngCore;
use roost_api::ErrorCode;
use sha2::{Digest, Sha256};

use crate::ApiError;

/// Mints a new queue key: 256 random bits, `qk_` + 64 hex digits.
pub fn mint_key() -> String {
    mint_key_with("qk_")
}

/// Mints a key of 256 random bits: `prefix` + 64 hex digits.
pub fn mint_key_with(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// The SHA-256 digest of some bytes; what the cluster stores and compares.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The Bearer token in `headers`, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The digest of the Bearer key in `headers`, or a 401.
pub fn bearer_digest(headers: &HeaderMap) -> Result<[u8; 32], ApiError> {
    let missing = || {
        ApiError::new(
            ErrorCode::MissingApiKey,
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(v).expect("header"),
        );
        h
    }

    #[test]
    fn keys_are_256_bit_hex_and_unique() {
        let (a, b) = (mint_key(), mint_key());
        assert_eq!(a.len(), 3 + 64);
        assert!(a[3..].bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn bearer_is_parsed_case_insensitively_and_digested() {
        let d = digest(b"qk_abc");
        assert_eq!(bearer_digest(&headers("Bearer qk_abc")).ok(), Some(d));
        assert_eq!(bearer_digest(&headers("bearer  qk_abc ")).ok(), Some(d));
        for bad in ["qk_abc", "Basic qk_abc", "Bearer ", "Bearer"] {
            let e = bearer_digest(&headers(bad)).expect_err(bad);
            assert_eq!(e.code(), "missing_api_key");
        }
        assert!(bearer_digest(&HeaderMap::new()).is_err());
    }
}
