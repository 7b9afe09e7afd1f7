//! The Bearer credential a request presents (a queue, form or operator key, or a workspace
//! token); what it is worth is decided by `roost_api`.

use axum::http::{header, HeaderMap};

/// The Bearer token in `headers`, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
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
    fn bearer_is_parsed_case_insensitively() {
        assert_eq!(bearer_token(&headers("Bearer qk_abc")), Some("qk_abc"));
        assert_eq!(bearer_token(&headers("bearer  qk_abc ")), Some("qk_abc"));
        for bad in ["qk_abc", "Basic qk_abc", "Bearer ", "Bearer"] {
            assert_eq!(bearer_token(&headers(bad)), None, "{bad}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
