//! Refused credentials leave a trace for the operator: a warning naming the client's address,
//! the route (an HTTP path or a gRPC method) and how many requests it had refused since the
//! last warning — never the key or token itself. At most one warning per address every
//! [`EVERY`], so a client hammering with a wrong key cannot flood the log. Both edges report
//! here, so the count covers them together.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// Records a refused request of `from` on `route` and warns if one is due.
    pub fn note(&self, from: Option<IpAddr>, route: &str, status: &str) {
        if let Some(refused) = self.count(from, Instant::now()) {
            let from = from.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
            tracing::warn!(%from, %route, %status, refused, "refused credentials");
        }
    }

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
