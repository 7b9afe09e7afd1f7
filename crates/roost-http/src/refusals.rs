//! Refused credentials leave a trace for the operator: a warning naming the client's address,
//! the route and how many requests it had refused since the last warning — never the key or
//! token itself. At most one warning per address every [`EVERY`], so a client hammering with a
//! wrong key cannot flood the log.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The least time between two warnings about one address.
const EVERY: Duration = Duration::from_secs(10);
/// Addresses remembered at most; the oldest are forgotten first.
const REMEMBERED: usize = 10_000;

/// When each address was last warned about, and what it was refused since.
#[derive(Default)]
pub struct Refusals {
    seen: Mutex<HashMap<Option<IpAddr>, (Instant, u64)>>,
}

impl Refusals {
    /// Counts one refusal of `from`; `Some(count)` when a warning is due now.
    fn count(&self, from: Option<IpAddr>, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= REMEMBERED && !seen.contains_key(&from) {
            seen.retain(|_, (at, _)| now.duration_since(*at) < EVERY);
        }
        let entry = seen.entry(from).or_insert((now - EVERY, 0));
        entry.1 += 1;
        if now.duration_since(entry.0) < EVERY {
            return None;
        }
        let refused = entry.1;
        *entry = (now, 0);
        Some(refused)
    }
}

/// Answers the request, then warns if its credentials were refused (401 or 403).
pub async fn log_refused(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let from = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let route = format!("{} {}", req.method(), req.uri().path());
    let resp = next.run(req).await;
    if matches!(
        resp.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        if let Some(refused) = s.refusals.count(from, Instant::now()) {
            let from = from.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
            tracing::warn!(%from, %route, status = resp.status().as_u16(), refused, "refused credentials");
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_address_per_interval_with_the_count() {
        let r = Refusals::default();
        let (a, b) = (
            Some(IpAddr::from([10, 0, 0, 1])),
            Some(IpAddr::from([10, 0, 0, 2])),
        );
        let t0 = Instant::now();
        assert_eq!(r.count(a, t0), Some(1));
        for _ in 0..49 {
            assert_eq!(r.count(a, t0 + Duration::from_secs(1)), None);
        }
        assert_eq!(r.count(b, t0 + Duration::from_secs(1)), Some(1));
        assert_eq!(r.count(a, t0 + EVERY), Some(50));
    }
}
