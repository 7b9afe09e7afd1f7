//! Reading request bodies with the size limit applied before the body is buffered.

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::ApiError;

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
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
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))
}

/// Parses a JSON body whatever its Content-Type (curl's `-d` sends form encoding by default);
/// an empty body is `{}`.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("request body is not valid JSON of the expected shape: {e}"),
            "Send a JSON object with the fields this endpoint documents.",
        )
    })
}
