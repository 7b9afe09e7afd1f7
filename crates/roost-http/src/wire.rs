//! JSON shapes shared by handlers: envelopes, links, timestamps, validated identifiers.

use roost_api::ErrorCode;

use axum::http::{header, HeaderMap};

use crate::ApiError;

pub use roost_api::timestamp;

/// How the HTTP edge names itself in the absolute links it hands out (`_links`,
/// `publish_url`, `status_url`). Agents follow those links with their keys, so a link must
/// never point where the caller's `Host` header says if that is not a plain host.
#[derive(Clone, Debug, Default)]
pub struct Links {
    /// The configured public base URL (`public_url`), used as it is.
    pub public_url: Option<String>,
    /// Whether the listener speaks TLS (`https` links).
    pub https: bool,
    /// The listener's address, for requests that name no host (HTTP/2 carries it in the URI).
    pub listen: String,
}

/// Whether `host` is a plain `host[:port]`: letters, digits and `. - _ : [ ]` only, so no
/// path, query, fragment or user info can ride along into a link.
pub fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
}

/// The base URL of this node for absolute links: the public URL when configured, else the
/// `Host` the client reached it by (checked by [`check_head`]), else the listener's address.
pub fn base_url(links: &Links, headers: &HeaderMap) -> String {
    if let Some(url) = &links.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_plain_host(h))
        .unwrap_or(&links.listen);
    let scheme = if links.https { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// Most header fields a request may carry.
pub const MAX_HEADERS: usize = 100;
/// Most bytes of header names and values a request may carry.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses, before anything runs, a request with too many or too large headers (in JSON; hyper
/// answers only past its own, higher limits) or whose `Host` is not a plain host.
pub async fn check_head(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "the request carries {} header fields and {bytes} bytes of headers; at most {MAX_HEADERS} and {MAX_HEADER_BYTES} are read",
                headers.len()
            ),
            "Send fewer or smaller headers; put data in the body.",
        )
        .into_response();
    }
    let bad = req
        .headers()
        .get(header::HOST)
        .is_some_and(|h| !h.to_str().is_ok_and(is_plain_host));
    if bad {
        return ApiError::new(
            ErrorCode::InvalidHost,
            "the Host header is not a plain host[:port]".to_owned(),
            "Send the host and port you reached this node by, and nothing else.",
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_millis_utc() {
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn links_use_the_public_url_or_a_plain_host() {
        use axum::http::HeaderValue;
        for (host, plain) in [
            ("roost.example", true),
            ("roost.example:8443", true),
            ("[::1]:7070", true),
            ("evil.example/x", false),
            ("evil.example?x", false),
            ("evil.example#x", false),
            ("user@evil.example", false),
            ("", false),
        ] {
            assert_eq!(is_plain_host(host), plain, "{host:?}");
        }
        let mut headers = HeaderMap::new();
        let links = Links {
            public_url: None,
            https: true,
            listen: "0.0.0.0:7070".into(),
        };
        assert_eq!(base_url(&links, &headers), "https://0.0.0.0:7070");
        headers.insert(header::HOST, HeaderValue::from_static("roost.example"));
        assert_eq!(base_url(&links, &headers), "https://roost.example");
        let public = Links {
            public_url: Some("https://inbox.example/".into()),
            ..links
        };
        assert_eq!(base_url(&public, &headers), "https://inbox.example");
    }
}
