//! Message bodies for the publish workloads.
//!
//! Every published message is a small JSON object `{"i":N,"pad":"xxx…"}` whose serialized
//! size is exactly the requested `--payload-bytes`, so runs with different payload sizes
//! measure the cost of the bytes and not of JSON encoding quirks.

/// Builds the JSON body of message number `i`, padded to `bytes` bytes.
///
/// The result is always valid JSON. If `bytes` is smaller than the smallest possible body
/// for this `i` (`{"i":N,"pad":""}`), that smallest body is returned instead.
pub fn build(i: u64, bytes: usize) -> String {
    let prefix = format!("{{\"i\":{i},\"pad\":\"");
    const SUFFIX: &str = "\"}";
    let pad = bytes.saturating_sub(prefix.len() + SUFFIX.len());
    let mut body = String::with_capacity(prefix.len() + pad + SUFFIX.len());
    body.push_str(&prefix);
    body.extend(std::iter::repeat_n('x', pad));
    body.push_str(SUFFIX);
    body
}

/// The size of the smallest body [`build`] can produce for message number `i`.
pub fn min_size(i: u64) -> usize {
    build(i, 0).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_valid_json_of_requested_size() {
        for &(i, bytes) in &[(0u64, 200usize), (7, 64), (123_456, 1000), (u64::MAX, 4096)] {
            let body = build(i, bytes);
            assert_eq!(body.len(), bytes, "i={i} bytes={bytes}");
            let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
            assert_eq!(v["i"].as_u64(), Some(i));
            let pad = v["pad"].as_str().expect("pad is a string");
            assert!(pad.bytes().all(|b| b == b'x'));
        }
    }

    #[test]
    fn too_small_request_yields_minimal_body() {
        let body = build(42, 3);
        assert_eq!(body, r#"{"i":42,"pad":""}"#);
        assert_eq!(body.len(), min_size(42));
        let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(v["i"].as_u64(), Some(42));
    }

    #[test]
    fn exact_minimum_has_empty_pad() {
        let min = min_size(9);
        assert_eq!(build(9, min), r#"{"i":9,"pad":""}"#);
        assert_eq!(build(9, min + 1), r#"{"i":9,"pad":"x"}"#);
    }
}
