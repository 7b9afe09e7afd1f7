//! Values a request carries that the edges spell differently: a JSON document (raw JSON over
//! HTTP and MCP, bytes over gRPC) and a time (RFC 3339 text, or ms since the epoch over gRPC).

use std::time::{Duration, UNIX_EPOCH};

use crate::input::{self, MAX_TIME_MS};
use crate::{Error, ErrorCode};

pub use roost_wire::{Doc, Time};

/// `bytes` as a document of at most `max` bytes, nested at most 128 deep (the gRPC edge's
/// documents arrive as bytes).
pub fn document(field: &str, bytes: Vec<u8>, max: usize) -> Result<Doc, Error> {
    json_document(field, &bytes, max)?;
    // Checked as UTF-8 and JSON just now.
    String::from_utf8(bytes)
        .ok()
        .and_then(|text| Doc::parse(text).ok())
        .ok_or_else(|| Error::internal("a checked document is not JSON"))
}

/// `bytes` as one JSON document of at most `max` bytes, nested at most 128 deep, without
/// copying it; `what` names it in the error.
pub(crate) fn json_document<'a>(what: &str, bytes: &'a [u8], max: usize) -> Result<&'a str, Error> {
    if bytes.len() > max {
        return Err(Error::new(
            ErrorCode::PayloadTooLarge,
            format!("{what} exceeds {max} bytes"),
            format!(
                "Send at most {max} bytes; store large documents elsewhere and send a reference."
            ),
        ));
    }
    std::str::from_utf8(bytes)
        .ok()
        .filter(|s| input::is_json_document(s))
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidJson,
                format!("{what} must be a JSON document, nested at most 128 deep"),
                "Send valid JSON, e.g. '{\"task\":\"...\"}'.",
            )
        })
}

/// Time `t` in ms since the epoch; a bad value is an error naming `field`.
pub fn time_ms(t: &Time, field: &'static str) -> Result<u64, Error> {
    match t {
        Time::Text(s) => humantime::parse_rfc3339(s)
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64)
            .ok_or_else(|| Error::invalid_field(field, "must be an RFC 3339 time")),
        Time::Ms(ms) => Ok(input::time_ms(field, *ms)?),
    }
}

/// RFC 3339 with milliseconds, UTC, as every reply shows times.
pub fn timestamp(ms: u64) -> String {
    // RFC 3339 ends with year 9999 (the formatter panics past it); clients cannot name later
    // times (`input::time_ms`), and no clock reaches them.
    let ms = ms.min(MAX_TIME_MS);
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_bytes_and_times_name_their_field() {
        let d: Doc = serde_json::from_str(r#"{"n": 1e400}"#).expect("json");
        assert_eq!(d.as_str(), r#"{"n": 1e400}"#);
        assert_eq!(
            document("payload", b"{".to_vec(), 10).map_err(|e| e.code),
            Err(ErrorCode::InvalidJson)
        );
        assert_eq!(
            document("payload", b"[1,2]".to_vec(), 4).map_err(|e| e.code),
            Err(ErrorCode::PayloadTooLarge)
        );
        let t = Time::Text("2026-01-01T00:00:00Z".into());
        assert_eq!(time_ms(&t, "runAt"), Ok(1_767_225_600_000));
        let bad = time_ms(&Time::Text("tomorrow".into()), "runAt").expect_err("bad");
        assert!(bad.message.starts_with("runAt:"), "{}", bad.message);
        assert!(time_ms(&Time::Ms(MAX_TIME_MS + 1), "deadline").is_err());
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
    }
}
