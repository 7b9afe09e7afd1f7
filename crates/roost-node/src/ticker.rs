//! Time-driven work: each shard's leader proposes a `Tick` now and then, so retention reaps
//! messages even when nobody writes (the state machine has no clock of its own), and drains
//! the form-mirroring outbox in case a submission's own drain was cut short.

use std::sync::Arc;
use std::time::Duration;

use roost_state::Command;
use tokio_util::sync::CancellationToken;

use crate::Node;

/// Proposes a tick in every shard this node leads, every `every`, until `shutdown`.
pub async fn run(node: Arc<Node>, every: Duration, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        if node.leads(roost_state::META_GROUP) {
            if let Err(e) = crate::quota_drain::drain(&node).await {
                tracing::debug!(error = %e, "held publishes will drain at the next tick");
            }
        }
        for group in 1..=node.shards() {
            if node.leads(group) {
                if let Err(e) = node.write(group, Command::Tick).await {
                    tracing::debug!(group, error = %e, "tick not applied");
                }
                if let Err(e) = crate::mirror::drain(&node, group).await {
                    tracing::debug!(group, error = %e, "form mirroring will retry");
                }
            }
        }
    }
}
