//! Batched proposals: concurrent commands for a group share one Raft entry.
//!
//! Openraft 0.9 writes each proposal as its own log append and waits for its fsync before
//! taking the next, so one command per entry would cap a group at one command per fsync. The
//! proposer instead collects whatever commands arrive while the previous entry is being made
//! durable and proposes them together: one append, one fsync, one replication round for all.

use std::time::{SystemTime, UNIX_EPOCH};

use openraft::error::{ClientWriteError, RaftError};
use std::sync::Arc;

use roost_state::{Batch, Command, GroupId, Response};
use roost_types::Raft;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::{Kind, Metrics};

/// Most commands in one entry.
const MAX_COMMANDS: usize = 512;
/// Most bytes (roughly) in one entry.
const MAX_BYTES: usize = 2 * 1024 * 1024;

/// How a proposed command ended.
#[derive(Debug)]
pub enum Proposed {
    /// Applied; the state machine's answer.
    Applied(Box<Response>),
    /// Certainly not proposed (this node did not lead): safe to retry elsewhere.
    NotCommitted(String),
    /// Raft failed in a way that leaves the outcome unknown.
    Unknown(String),
}

/// A command waiting for the next entry.
struct Pending {
    command: Command,
    reply: oneshot::Sender<Proposed>,
}

/// Queues commands for a group's batching task.
#[derive(Clone)]
pub struct Proposer {
    /// Commands wait here while the current entry is in flight.
    tx: mpsc::UnboundedSender<Pending>,
}

/// This node's clock, ms since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Proposer {
    /// Starts the batching task of `raft` (group `group`), counting its entries and what
    /// they did in `metrics`; it ends when every `Proposer` clone is dropped.
    pub fn start(raft: Raft, group: GroupId, metrics: Arc<Metrics>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Pending>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut bytes = Batch::weight(&first.command);
                let mut batch = vec![first];
                while batch.len() < MAX_COMMANDS && bytes < MAX_BYTES {
                    match rx.try_recv() {
                        Ok(p) => {
                            bytes += Batch::weight(&p.command);
                            batch.push(p);
                        }
                        Err(_) => break,
                    }
                }
                let (commands, replies): (Vec<_>, Vec<_>) =
                    batch.into_iter().map(|p| (p.command, p.reply)).unzip();
                // Only a node that does not lead proves a write was never proposed: openraft
                // also answers `ForwardToLeader` for an entry it appended and then truncated
                // for a newer leader's log, and such an entry can still commit through another
                // node that holds it.
                if !raft.metrics().borrow().state.is_leader() {
                    for reply in replies {
                        let _ = reply.send(Proposed::NotCommitted("not the leader".into()));
                    }
                    continue;
                }
                let kinds: Vec<Kind> = commands.iter().map(Kind::of).collect();
                metrics.proposed(group, commands.len());
                let proposal = Batch {
                    stamped_ms: now_ms(),
                    commands,
                };
                match raft.client_write(proposal).await {
                    Ok(written) => {
                        let mut answers = written.data.into_iter();
                        for (reply, kind) in replies.into_iter().zip(kinds) {
                            let answer = answers.next().map_or_else(
                                || Proposed::Unknown("missing response in the batch".into()),
                                |r| {
                                    metrics.applied(kind, &r);
                                    Proposed::Applied(Box::new(r))
                                },
                            );
                            let _ = reply.send(answer);
                        }
                    }
                    Err(e) => {
                        let outcome = |e: &RaftError<
                            u64,
                            ClientWriteError<u64, roost_types::Node>,
                        >| match e {
                            // Leadership moved after the check above: the entry may have been
                            // appended, replicated and truncated here, and still commit.
                            RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => {
                                Proposed::Unknown(
                                    "leadership changed before the write committed".into(),
                                )
                            }
                            other => Proposed::Unknown(other.to_string()),
                        };
                        for reply in replies {
                            let _ = reply.send(outcome(&e));
                        }
                    }
                }
            }
        });
        Proposer { tx }
    }

    /// Proposes `command` in the next entry and waits for its outcome.
    pub async fn propose(&self, command: Command) -> Proposed {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Pending { command, reply }).is_err() {
            return Proposed::NotCommitted("proposer stopped".into());
        }
        rx.await
            .unwrap_or_else(|_| Proposed::Unknown("proposer dropped the command".into()))
    }
}
