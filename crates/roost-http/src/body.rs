//! Reading request bodies with the size limit applied before the body is buffered.

use axum::body::Body;
use axum::http::{header, HeaderMap};
use roost_api::ErrorCode;
use serde::de::DeserializeOwned;

use crate::ApiError;

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("request body exceeds {limit} bytes"),
        format!("Send at most {limit} bytes; split large payloads or store them elsewhere and send a reference."),
    )
}

/// Reads the whole body, refusing early (by Content-Length) or while reading when over `limit`.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let e = e.into_inner();
        if caused_by::<http_body_util::LengthLimitError>(&*e) {
            too_large(limit)
        } else if caused_by::<tower_http::timeout::TimeoutError>(&*e) {
            ApiError::new(
                ErrorCode::BodyTimeout,
                "the request body stopped arriving",
                "Send the whole body without pausing; [http] body_timeout_secs is the longest pause between chunks.",
            )
        } else {
            ApiError::new(
                ErrorCode::BodyReadFailed,
                format!("could not read the request body: {e}"),
                "Send the whole body again.",
            )
        }
    })
}

/// Whether `e` or an error it wraps is a `T` (body errors arrive boxed in layers).
fn caused_by<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.is::<T>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// Parses a JSON body whatever its Content-Type (curl's `-d` sends form encoding by default);
/// an empty body or `null` is `{}` (no fields given), anything but an object is refused.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.trim_ascii() == b"null" {
        return json(b"{}");
    }
    let bytes = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}".as_slice()
    } else {
        bytes
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "request body must be a JSON object",
            "Send a JSON object with the fields this endpoint documents.",
        ));
    }
    // The documents a body carries (payloads, results) may be 128 deep; the body wraps them.
    let depth = std::str::from_utf8(bytes).map_or(0, roost_api::input::json_depth);
    if depth > roost_api::input::MAX_JSON_DEPTH + 1 {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "a JSON document in the request is nested deeper than 128",
            "Keep JSON documents (payloads and results included) within 128 levels of nesting.",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("request body is not valid JSON of the expected shape: {e}"),
            "Send a JSON object with the fields this endpoint documents.",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct B {
        #[serde(default)]
        n: u32,
    }

    #[test]
    fn empty_bodies_are_empty_objects_and_bad_ones_are_400() {
        assert_eq!(json::<B>(b"").ok(), Some(B { n: 0 }));
        assert_eq!(json::<B>(b" \n").ok(), Some(B { n: 0 }));
        assert_eq!(json::<B>(b" null ").ok(), Some(B { n: 0 }));
        assert_eq!(json::<B>(br#"{"n":4}"#).ok(), Some(B { n: 4 }));
        for bad in [&b"{"[..], b"[]", br#"{"n":-1}"#] {
            let e = json::<B>(bad).expect_err("bad body");
            assert_eq!((e.status().as_u16(), e.code()), (400, "invalid_json"));
        }
    }

    #[tokio::test]
    async fn declared_oversize_is_refused_before_reading() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, "11".parse().expect("value"));
        let e = read(&h, Body::from("0123456789a"), 10)
            .await
            .expect_err("too big");
        assert_eq!(e.status().as_u16(), 413);
        let ok = read(&HeaderMap::new(), Body::from("0123456789"), 10).await;
        assert_eq!(ok.ok().map(|b| b.len()), Some(10));
        let e = read(&HeaderMap::new(), Body::from("0123456789a"), 10)
            .await
            .expect_err("too big");
        assert_eq!(e.code(), "payload_too_large");
    }
}
