//! A cap on the requests one client address keeps waiting at once: long polls, job waits,
//! event streams and waiting claims, over HTTP and gRPC together. Each holds a task and a
//! subscription on the node for up to its wait, so one client must not hold thousands of them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Waiting requests per client address.
#[derive(Default)]
pub struct Waiters {
    by_client: Mutex<HashMap<IpAddr, usize>>,
}

/// One waiting request's place; dropping it frees the place.
pub struct WaitSlot {
    waiters: Arc<Waiters>,
    ip: IpAddr,
}

impl Waiters {
    /// Takes a place for a request of `ip` that is about to wait, if it has fewer than `cap`.
    pub fn enter(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<WaitSlot> {
        let mut by_client = self
            .by_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let waiting = by_client.entry(ip).or_default();
        if *waiting >= cap {
            return None;
        }
        *waiting += 1;
        Some(WaitSlot {
            waiters: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        let mut by_client = self
            .waiters
            .by_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(waiting) = by_client.get_mut(&self.ip) {
            *waiting -= 1;
            if *waiting == 0 {
                by_client.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_waits_on_at_most_cap_things_and_a_freed_place_is_reusable() {
        let waiters = Arc::new(Waiters::default());
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let first = waiters.enter(a, 2).expect("first");
        let _second = waiters.enter(a, 2).expect("second");
        assert!(waiters.enter(a, 2).is_none(), "a third is refused");
        let _other = waiters
            .enter(b, 2)
            .expect("another client is counted apart");
        drop(first);
        assert!(
            waiters.enter(a, 2).is_some(),
            "a freed place is taken again"
        );
    }
}
