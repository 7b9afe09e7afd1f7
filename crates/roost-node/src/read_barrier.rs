//! Batched read-index: concurrent linearizable reads of a group share one leadership check,
//! and while the leader's lease holds that check needs no round of heartbeats.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};
use roost_types::lease::{self, AckClock};
use roost_types::{Raft, TypeConfig};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// Why a read could not be made linearizable here.
#[derive(Clone, Debug)]
pub enum BarrierError {
    /// This node does not lead the group.
    NotLeader,
    /// Raft stopped or the quorum could not be reached.
    Failed(String),
}

type Waiter = oneshot::Sender<Result<(), BarrierError>>;

/// What the group's leader lease is made of: the peers' recorded acknowledgements and how
/// long one vouches for (`lease::lease_for`).
pub struct Lease {
    pub acks: Arc<AckClock<TypeConfig>>,
    pub length: Duration,
}

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
    pub fn start(raft: Raft, limit: Duration, lease: Lease, metrics: Arc<Metrics>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Waiter>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiters = vec![first];
                while let Ok(w) = rx.try_recv() {
                    waiters.push(w);
                }
                let result = match tokio::time::timeout(limit, check(&raft, &lease)).await {
                    Err(_) => Err(BarrierError::Failed("leadership check timed out".into())),
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
    pub async fn wait(&self) -> Result<(), BarrierError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(tx)
            .map_err(|_| BarrierError::Failed("read barrier stopped".into()))?;
        rx.await
            .map_err(|_| BarrierError::Failed("read barrier stopped".into()))?
    }
}

/// Waits until the applied state is linearizable; says whether the lease vouched for it.
async fn check(raft: &Raft, lease: &Lease) -> Result<bool, BarrierError> {
    if let Some(index) = lease::read_index(raft, &lease.acks, lease.length).await {
        raft.wait(None)
            .applied_index_at_least(Some(index), "lease read")
            .await
            .map_err(|e| BarrierError::Failed(e.to_string()))?;
        return Ok(true);
    }
    match raft.ensure_linearizable().await {
        Ok(_) => Ok(false),
        Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_))) => {
            Err(BarrierError::NotLeader)
        }
        Err(e) => Err(BarrierError::Failed(e.to_string())),
    }
}
