//! Per-client-address limits on what anyone may do without a key: public form submissions, and
//! creating queues and forms (each create adds state every node keeps, in memory too, for good).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Error, ErrorCode};

/// Addresses tracked at most before windows that ended are forgotten.
const TRACKED: usize = 10_000;

/// Counts requests per client IP in one-minute windows.
#[derive(Default)]
pub struct RateLimiter {
    /// Window start and count per IP.
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    /// Whether `ip` may make one more request (at most `per_minute` a minute); counts it if so.
    pub fn allow(&self, ip: IpAddr, per_minute: u32) -> bool {
        self.allow_at(ip, per_minute, Instant::now())
    }

    fn allow_at(&self, ip: IpAddr, per_minute: u32, now: Instant) -> bool {
        let minute = Duration::from_secs(60);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > TRACKED {
            windows.retain(|_, (start, _)| now.duration_since(*start) < minute);
        }
        let entry = windows.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= minute {
            *entry = (now, 0);
        }
        if entry.1 >= per_minute {
            return false;
        }
        entry.1 += 1;
        true
    }
}

impl RateLimiter {
    /// Counts a request of `addr` (none: an in-process caller, never limited) against
    /// `per_minute`; past it, the request is refused as too many `what`.
    pub fn check(&self, addr: Option<IpAddr>, per_minute: u32, what: &str) -> Result<(), Error> {
        match addr {
            Some(ip) if !self.allow(ip, per_minute) => Err(Error::new(
                ErrorCode::RateLimited,
                format!("too many {what} from this address"),
                "Wait a minute before trying again.",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_own_minute() {
        let r = RateLimiter::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        assert!(r.allow_at(a, 2, t0) && r.allow_at(a, 2, t0));
        assert!(!r.allow_at(a, 2, t0 + Duration::from_secs(59)));
        assert!(r.allow_at(b, 2, t0));
        assert!(r.allow_at(a, 2, t0 + Duration::from_secs(60)));
    }
}
