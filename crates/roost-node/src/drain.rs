//! Stopping a node without failing anyone's request.
//!
//! By the time `Node::drain` runs, the client listeners have closed and finished their
//! requests (clients reconnect to other members). What remains is what other members forward
//! here, and leadership. openraft 0.9 cannot transfer leadership, so a draining node lets it
//! lapse: it stops taking proposals and reads (peers retry elsewhere, since a refused attempt
//! was certainly not applied), waits for those under way to finish, stops its groups, and
//! keeps its peer listener answering "not the leader" until every member that answers has
//! elected another leader for each group it led. Nothing in flight is cut off, so nothing
//! ends as `outcome_unknown`; a group it led waits one leader lease (about
//! `raft.election_max_ms`) before another member may win its election.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use roost_state::GroupId;

use crate::Node;

/// How often drain looks at what it waits for.
const POLL: Duration = Duration::from_millis(20);

/// Lets local proposals and reads in until the node drains, and counts those under way.
#[derive(Default)]
pub(crate) struct Gate {
    draining: AtomicBool,
    under_way: AtomicUsize,
}

/// One proposal or read under way; leaves the gate when dropped.
pub(crate) struct Pass<'a>(&'a Gate);

impl Gate {
    /// A pass, unless the node drains. Counted before the check, so `close` never misses a
    /// request that got in.
    pub(crate) fn enter(&self) -> Option<Pass<'_>> {
        self.under_way.fetch_add(1, Ordering::SeqCst);
        if self.draining.load(Ordering::SeqCst) {
            self.under_way.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Pass(self))
    }

    /// Lets nothing new in and waits (at most `within`) for those under way; whether they
    /// all finished.
    async fn close(&self, within: Duration) -> bool {
        self.draining.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + within;
        while self.under_way.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
        true
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.under_way.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Node {
    /// Hands leadership over and stops every group (see the module doc). The peer listener
    /// stops with the shutdown token, after this returns.
    pub async fn drain(&self) {
        let started = Instant::now();
        let led: Vec<GroupId> = (0..=self.shards()).filter(|g| self.leads(*g)).collect();
        let patience = self.config().request_timeout;
        if !self.gate().close(patience).await {
            tracing::warn!(
                ?patience,
                "drain: requests were still under way; stopping anyway"
            );
        }
        self.shutdown().await;
        let deadline = Instant::now() + patience;
        while !self.handed_over(&led).await {
            if Instant::now() >= deadline {
                tracing::warn!(groups = ?led, "drain: no new leader seen for every group this node led");
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        tracing::info!(
            groups = led.len(),
            ms = started.elapsed().as_millis() as u64,
            "drained: leadership handed over"
        );
    }

    /// Whether every other member that answers knows a leader other than this node for each
    /// of `led`.
    async fn handed_over(&self, led: &[GroupId]) -> bool {
        if led.is_empty() {
            return true;
        }
        let me = self.id();
        let survey = self.survey().await;
        survey
            .iter()
            .filter(|(id, _)| **id != me)
            .filter_map(|(_, status)| status.as_ref())
            .all(|status| {
                led.iter().all(|g| {
                    status
                        .groups
                        .iter()
                        .find(|s| s.group == *g)
                        .is_some_and(|s| s.leader.is_some_and(|l| l != me))
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn closing_waits_for_passes_under_way_and_lets_none_in() {
        let gate = Gate::default();
        let pass = gate.enter().expect("open");
        let closing = gate.close(Duration::from_secs(1));
        tokio::pin!(closing);
        tokio::select! {
            _ = &mut closing => panic!("closed with a pass under way"),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        assert!(gate.enter().is_none(), "a draining gate lets nothing in");
        drop(pass);
        assert!(closing.await);
    }

    #[tokio::test(start_paused = true)]
    async fn closing_gives_up_after_its_patience() {
        let gate = Gate::default();
        let _stuck = gate.enter().expect("open");
        assert!(!gate.close(Duration::from_millis(500)).await);
    }
}
