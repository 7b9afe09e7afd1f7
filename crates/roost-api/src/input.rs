//! Limits on client input, checked once here before anything reaches Raft, so a request
//! refused over one edge is refused over every other with the same field and reason.

use roost_state::JobSpec;

use crate::{Error, ErrorCode};

/// A field outside its limits; the edges answer it as `invalid_field`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct Invalid {
    /// The field as the HTTP API names it.
    pub field: &'static str,
    /// What its value must be.
    pub why: &'static str,
}

fn invalid<T>(field: &'static str, why: &'static str) -> Result<T, Invalid> {
    Err(Invalid { field, why })
}

/// Longest accepted error text of a failed job, task or nack.
pub const MAX_ERROR_BYTES: usize = 4096;
/// Lease of a claimed job, extended by each heartbeat: short, since a worker heartbeats often
/// and a job whose worker died should run again soon.
pub const JOB_LEASE_MS: u64 = 30_000;
/// Lease of a dequeued work-queue task, extended by heartbeats: tasks are long agent work.
pub const TASK_LEASE_MS: u64 = 300_000;
/// Longest a job claim may wait for work, in seconds.
pub const MAX_CLAIM_WAIT_SECS: u64 = 30;
/// Longest a wait for a job's end may last, in seconds.
pub const MAX_JOB_WAIT_SECS: u64 = 300;
/// How long a wait for a job's end lasts when the client names no time, in seconds.
const DEFAULT_JOB_WAIT_SECS: u64 = 30;
/// The latest time a client may name (9999-12-31T23:59:59.999Z): RFC 3339 ends there.
pub const MAX_TIME_MS: u64 = 253_402_300_799_999;

/// Deepest nesting of arrays and objects accepted in any JSON document (a message, a payload,
/// a result, a request body). Common parsers refuse deeper documents (Python's `json` raises
/// near 1,000, serde_json stops at 128), so a deeper one stored could not be read back.
pub const MAX_JSON_DEPTH: usize = 128;

/// Whether `text` is one JSON document nested at most [`MAX_JSON_DEPTH`] deep.
pub fn is_json_document(text: &str) -> bool {
    json_depth(text) <= MAX_JSON_DEPTH
        && serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok()
}

/// The deepest nesting of arrays and objects in `text` (assumed to be JSON). Counted by hand:
/// serde_json checks a document without building it (`RawValue`, `IgnoredAny`) with no depth
/// limit, and building a `Value` of every message just to learn its depth would cost the
/// publish path an allocation per node.
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

pub use roost_wire::schema::{MAX_CLAIM_TYPES, MAX_CONSUMERS, MAX_ORIGINS};

/// Longest accepted idempotency key.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Whether `key` is a usable idempotency key: 1-255 visible ASCII characters.
pub fn is_valid_idempotency_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY && key.bytes().all(|b| b.is_ascii_graphic())
}

/// `key` if it is a usable idempotency key, else the error every edge answers.
pub fn idempotency_key(key: String) -> Result<String, Error> {
    if is_valid_idempotency_key(&key) {
        return Ok(key);
    }
    Err(Error::new(
        ErrorCode::InvalidIdempotencyKey,
        format!("Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        "Use a UUID or another unique string per logical message.",
    ))
}

/// A new job as a client asks for it; absent fields take their defaults.
#[derive(Clone, Debug, Default)]
pub struct NewJob {
    /// The worker type.
    pub job_type: String,
    /// JSON handed to the worker (a checked [`crate::Doc`]); `{}` when absent.
    pub payload: Option<String>,
    /// Retries after the first attempt (0-10, default 3).
    pub max_retries: Option<i64>,
    /// Seconds one attempt may run (10-86400, default 300).
    pub timeout_secs: Option<i64>,
    /// Higher runs first (-1000..=1000, default 0).
    pub priority: Option<i64>,
    /// Not before this time (ms since the epoch).
    pub run_at_ms: Option<u64>,
    /// Where to POST the outcome, an http(s) URL.
    pub webhook: Option<String>,
}

/// Checks a new job and fills in its defaults.
pub fn job_spec(job: NewJob) -> Result<JobSpec, Invalid> {
    let t = job.job_type.trim();
    if t.is_empty() || t.len() > 100 {
        return invalid("type", "must be 1-100 characters");
    }
    let max_retries = job.max_retries.unwrap_or(3);
    if !(0..=10).contains(&max_retries) {
        return invalid("maxRetries", "must be between 0 and 10");
    }
    let timeout = job.timeout_secs.unwrap_or(300);
    if !(10..=86_400).contains(&timeout) {
        return invalid("timeoutSeconds", "must be between 10 and 86400");
    }
    let priority = job.priority.unwrap_or(0);
    if !(-1000..=1000).contains(&priority) {
        return invalid("priority", "must be between -1000 and 1000");
    }
    if let Some(w) = &job.webhook {
        if !is_webhook_url(w) {
            return invalid(
                "webhook",
                "must be an http(s) URL with a host, at most 2048 bytes",
            );
        }
    }
    Ok(JobSpec {
        job_type: t.to_owned(),
        payload: job.payload.unwrap_or_else(|| "{}".to_owned()),
        max_retries: max_retries as u32,
        timeout_secs: timeout as u32,
        priority: priority as i32,
        run_at_ms: job.run_at_ms,
        webhook: job.webhook,
    })
}

/// Whether `url` can be delivered to: an `http(s)` URL with a host (a name, an IPv4 address or
/// a bracketed IPv6 one), at most 2048 bytes. Refused here rather than retried for hours later.
fn is_webhook_url(url: &str) -> bool {
    url.len() <= 2048
        && url::Url::parse(url).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
}

/// A page size: `limit`, else the page's default (`page.0`), at most `page.1`.
pub fn page_limit(limit: Option<u32>, page: (u32, u32)) -> Result<u32, crate::Error> {
    match limit.unwrap_or(page.0) {
        n if (1..=page.1).contains(&n) => Ok(n),
        _ => Err(crate::Error::new(
            crate::ErrorCode::InvalidLimit,
            format!("limit must be between 1 and {}", page.1),
            format!("Omit limit for {} per page.", page.0),
        )),
    }
}

/// Checks a worker's id.
pub fn worker_id(id: &str) -> Result<(), Invalid> {
    if id.is_empty() || id.len() > 128 {
        return invalid("workerId", "must be 1-128 characters");
    }
    Ok(())
}

/// How many jobs one claim takes (1-100, default 1).
pub fn claim_limit(limit: Option<u32>) -> Result<u32, Invalid> {
    match limit.unwrap_or(1) {
        n @ 1..=100 => Ok(n),
        _ => invalid("limit", "must be between 1 and 100"),
    }
}

/// The job types a claim takes: at most [`MAX_CLAIM_TYPES`], each 1-100 characters (as a
/// job's type). A claim's types travel in every claim command and read, so they are bounded.
pub fn claim_types(types: &[String]) -> Result<(), Invalid> {
    if types.len() > MAX_CLAIM_TYPES {
        return invalid("types", "must list at most 100 types");
    }
    if types.iter().any(|t| t.is_empty() || t.len() > 100) {
        return invalid("types", "each must be 1-100 characters");
    }
    Ok(())
}

/// How long a claim waits for work, in seconds (default 0).
pub fn claim_wait(secs: Option<u64>) -> Result<u64, Invalid> {
    match secs.unwrap_or(0) {
        n if n <= MAX_CLAIM_WAIT_SECS => Ok(n),
        _ => invalid("wait", "must be at most 30 seconds"),
    }
}

/// How long a wait for a job's end lasts, in seconds (default 30).
pub fn job_wait(secs: Option<u64>) -> Result<u64, Invalid> {
    match secs.unwrap_or(DEFAULT_JOB_WAIT_SECS) {
        n if n <= MAX_JOB_WAIT_SECS => Ok(n),
        _ => invalid("timeout", "must be at most 300 seconds"),
    }
}

/// A time a client names (`runAt`, `deadline`), in ms since the epoch.
pub fn time_ms(field: &'static str, ms: u64) -> Result<u64, Invalid> {
    if ms > MAX_TIME_MS {
        return invalid(field, "must be at most 9999-12-31T23:59:59.999Z");
    }
    Ok(ms)
}

/// A heartbeat's progress, a percentage.
pub fn progress(p: Option<i64>) -> Result<Option<u8>, Invalid> {
    match p {
        None => Ok(None),
        Some(p @ 0..=100) => Ok(Some(p as u8)),
        Some(_) => invalid("progress", "must be between 0 and 100"),
    }
}

/// A failure's error text.
pub fn error_text(e: &str) -> Result<(), Invalid> {
    if e.len() > MAX_ERROR_BYTES {
        return invalid("error", "must be at most 4096 bytes");
    }
    Ok(())
}

/// A new work queue's name and team.
pub fn work_queue(name: &str, team: &str) -> Result<(), Invalid> {
    if name.trim().is_empty() || name.len() > 200 {
        return invalid("name", "must be 1-200 characters");
    }
    if team.trim().is_empty() || team.len() > 128 {
        return invalid("teamId", "must be 1-128 characters");
    }
    Ok(())
}

/// A new task's name, and its priority (1-5, 5 the most urgent, default 3).
pub fn task(name: &str, priority: Option<i64>) -> Result<u8, Invalid> {
    if name.trim().is_empty() || name.len() > 500 {
        return invalid("name", "must be 1-500 characters");
    }
    match priority.unwrap_or(3) {
        p @ 1..=5 => Ok(p as u8),
        _ => invalid("priority", "must be between 1 and 5 (5 is the most urgent)"),
    }
}

/// An agent's id (dequeue, steal).
pub fn agent_id(id: &str) -> Result<(), Invalid> {
    if id.is_empty() || id.len() > 128 {
        return invalid("agentId", "must be 1-128 characters");
    }
    Ok(())
}

/// A lease token as claims and dequeues hand it out (16 hex digits).
pub fn lease_token(raw: &str) -> Result<u64, Invalid> {
    u64::from_str_radix(raw, 16)
        .or_else(|_| invalid("token", "must be the token the claim or dequeue returned"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_and_limits_name_their_field() {
        let spec = job_spec(NewJob {
            job_type: " send ".into(),
            ..NewJob::default()
        });
        assert_eq!(
            spec.map(|s| (s.job_type, s.max_retries, s.timeout_secs, s.payload)),
            Ok(("send".into(), 3, 300, "{}".into()))
        );
        let bad = |j: NewJob| job_spec(j).map_err(|e| e.field);
        let base = || NewJob {
            job_type: "t".into(),
            ..NewJob::default()
        };
        assert_eq!(
            bad(NewJob {
                job_type: " ".into(),
                ..base()
            }),
            Err("type")
        );
        assert_eq!(
            bad(NewJob {
                max_retries: Some(11),
                ..base()
            }),
            Err("maxRetries")
        );
        assert_eq!(
            bad(NewJob {
                timeout_secs: Some(9),
                ..base()
            }),
            Err("timeoutSeconds")
        );
        assert_eq!(
            bad(NewJob {
                priority: Some(1001),
                ..base()
            }),
            Err("priority")
        );
        assert_eq!(
            bad(NewJob {
                webhook: Some("ftp://x".into()),
                ..base()
            }),
            Err("webhook")
        );
        assert_eq!(claim_limit(None), Ok(1));
        assert!(claim_limit(Some(0)).is_err() && claim_limit(Some(101)).is_err());
        assert_eq!(claim_wait(Some(31)).map_err(|e| e.field), Err("wait"));
        assert_eq!(job_wait(None), Ok(30));
        assert_eq!(progress(Some(101)).map_err(|e| e.field), Err("progress"));
        assert_eq!(task("t", None), Ok(3));
        assert_eq!(task("t", Some(6)).map_err(|e| e.field), Err("priority"));
        assert_eq!(work_queue("q", " ").map_err(|e| e.field), Err("teamId"));
        assert_eq!(lease_token("00000000000000ff"), Ok(255));
        assert_eq!(lease_token("zz").map_err(|e| e.field), Err("token"));
        assert_eq!(time_ms("runAt", MAX_TIME_MS), Ok(MAX_TIME_MS));
        assert_eq!(
            time_ms("runAt", MAX_TIME_MS + 1).map_err(|e| e.field),
            Err("runAt")
        );
    }

    #[test]
    fn webhooks_need_an_http_url_with_a_host() {
        for ok in [
            "https://hooks.example/x?y=1",
            "http://10.0.0.1:8080/",
            "http://[::1]:9000/hook",
            "https://user:pw@hooks.example/",
        ] {
            assert!(is_webhook_url(ok), "{ok}");
        }
        let long = format!("https://hooks.example/{}", "x".repeat(2048));
        for bad in [
            "http://",
            "ftp://hooks.example/",
            "hooks.example",
            "http://[::1/",
            long.as_str(),
        ] {
            assert!(!is_webhook_url(bad), "{bad}");
        }
    }

    #[test]
    fn json_documents_are_nested_at_most_128_deep() {
        let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(is_json_document(&nested(100)));
        assert!(is_json_document(r#"{"a": [1, {"b": null}], "c": 1e400}"#));
        assert!(!is_json_document(&nested(MAX_JSON_DEPTH + 1)));
        assert!(!is_json_document(&nested(100_000)));
        assert!(!is_json_document("{} {}"));
        assert!(!is_json_document("{"));
        // Brackets inside strings, escaped quotes included, are not nesting.
        let quoted = format!(r#"{{"s": "\"{}"}}"#, "[".repeat(500));
        assert!(is_json_document(&quoted), "{quoted}");
    }
}
