//! Batched read-index: concurrent linearizable reads of a group share one leadership check.

use openraft::error::{CheckIsLeaderError, RaftError};
use roost_types::Raft;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// Why a read could not be made linearizable here.
#[derive(Clone, Debug)]
pub enum BarrierError {
    /// This node does not lead the group.
    NotLeader,
    /// Raft stopped or the quorum could not be reached.
    Failed(String),
}

type Waiter = oneshot::Sender<Result<(), BarrierError>>;

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
    pub fn start(raft: Raft, limit: Duration) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Waiter>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiters = vec![first];
                while let Ok(w) = rx.try_recv() {
                    waiters.push(w);
                }
                let result = match tokio::time::timeout(limit, raft.ensure_linearizable()).await {
                    Err(_) => Err(BarrierError::Failed("leadership check timed out".into())),
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_)))) => {
                        Err(BarrierError::NotLeader)
                    }
                    Ok(Err(e)) => Err(BarrierError::Failed(e.to_string())),
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
