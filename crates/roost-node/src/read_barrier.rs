//! Batched read-index: concurrent linearizable reads of a group share one leadership check,
//! and while the leader's lease holds that check needs no round of heartbeats.

use std::sync::Arc;
use std::time::Duration;

use roost_types::lease::{self, Lease, ReadError};
use roost_types::{Raft, TypeConfig};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

type Waiter = oneshot::Sender<Result<(), ReadError>>;

/// Sends waiters to the group's barrier task.
#[derive(Clone)]
pub struct ReadBarrier {
    /// Waiters queue here while a check is in flight; the next check answers all of them.
    tx: mpsc::UnboundedSender<Waiter>,
}

impl ReadBarrier {
    /// Starts the barrier task of `raft`; it ends when every `ReadBarrier` clone is dropped.
    /// A check that takes longer than `limit` (a leader cut off from its quorum) fails, so
    /// reads queued behind it are not held forever.
    pub fn start(
        raft: Raft,
        limit: Duration,
        lease: Lease<TypeConfig>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Waiter>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiters = vec![first];
                while let Ok(w) = rx.try_recv() {
                    waiters.push(w);
                }
                let result =
                    match tokio::time::timeout(limit, lease::linearizable(&raft, &lease)).await {
                        Err(_) => Err(ReadError::Failed("leadership check timed out".into())),
                        Ok(Ok(by_lease)) => {
                            metrics.read_checked(by_lease);
                            Ok(())
                        }
                        Ok(Err(e)) => Err(e),
                    };
                for w in waiters {
                    let _ = w.send(result.clone());
                }
            }
        });
        ReadBarrier { tx }
    }

    /// Returns once this node's applied state reflects every write committed before the call.
    pub async fn wait(&self) -> Result<(), ReadError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(tx)
            .map_err(|_| ReadError::Failed("read barrier stopped".into()))?;
        rx.await
            .map_err(|_| ReadError::Failed("read barrier stopped".into()))?
    }
}
