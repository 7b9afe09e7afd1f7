//! Time-driven work: each shard's leader proposes a `Tick` now and then, so retention reaps
//! messages even when nobody writes (the state machine has no clock of its own), and drains
//! the form-mirroring outbox in case a submission's own drain was cut short. When configured,
//! every [`EXPIRE_EVERY`] it also proposes the expiry of queues nobody ever used.

use roost_state::command as cmd;
use std::sync::Arc;
use std::time::Duration;

use roost_state::Command;
use tokio_util::sync::CancellationToken;

use crate::Node;

/// How often unused queues are looked for (or as often as they may stay, if shorter): each
/// look scans the shard's queues.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// Proposes a tick in every shard this node leads, every `every`, until `shutdown`.
pub async fn run(node: Arc<Node>, every: Duration, shutdown: CancellationToken) {
    let mut last_expiry = tokio::time::Instant::now();
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
        let expire = node
            .config()
            .expire_unused_queues
            .filter(|unused| last_expiry.elapsed() >= EXPIRE_EVERY.min(*unused));
        if expire.is_some() {
            last_expiry = tokio::time::Instant::now();
        }
        for group in 1..=node.shards() {
            if node.leads(group) {
                if let Some(unused) = expire {
                    let unused_for_ms = unused.as_millis() as u64;
                    let command = Command::ExpireUnused(cmd::ExpireUnused { unused_for_ms });
                    if let Err(e) = node.write(group, command).await {
                        tracing::debug!(group, error = %e, "unused queues expire at the next look");
                    }
                }
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
