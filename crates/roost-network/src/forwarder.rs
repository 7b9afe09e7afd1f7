//! Batched forwarding: the commands a follower forwards to one group's leader travel together.
//!
//! Forwarding each command as its own RPC costs an HTTP/2 stream, its headers and wakeups on
//! both nodes per message; under pipelined load a publish sent through a follower cost the
//! cluster more than twice the CPU of one sent to the leader. So a node keeps one batching task
//! per (leader, group): commands that arrive while earlier batches are in flight leave together
//! in one `ForwardBatch` RPC, which the leader proposes together. With little load a command
//! leaves at once, alone, so nothing waits for a batch to fill.

use std::sync::Arc;
use std::time::Duration;

use roost_state::GroupId;
use roost_types::NodeId;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::{pb, Client, ForwardError};

/// Most commands in one batch.
const MAX_COMMANDS: usize = 256;
/// Most encoded bytes (roughly) in one batch.
const MAX_BYTES: usize = 4 * 1024 * 1024;
/// Batches of one forwarder in flight at once: while they travel, the next one fills.
const IN_FLIGHT: usize = 2;
/// Upper bound on one batch RPC, so a peer that stops answering cannot hold a slot forever.
/// The leader bounds each command by its own request timeout, far below this.
const BATCH_TIMEOUT: Duration = Duration::from_secs(60);

/// One encoded command waiting for a batch, and where its reply goes.
struct Pending {
    /// The command, encoded.
    command: Vec<u8>,
    /// The leader's answer to it.
    reply: oneshot::Sender<Result<pb::forward_reply::Result, ForwardError>>,
}

/// The sending side of one (leader, group) batching task; the task ends when this is dropped.
pub(crate) struct Forwarder {
    /// The leader's address this forwarder sends to.
    pub(crate) addr: String,
    /// Commands wait here for the next batch.
    tx: mpsc::UnboundedSender<Pending>,
}

impl Forwarder {
    /// Starts the batching task sending `group`'s commands to `node` through `client`.
    pub(crate) fn start(node: NodeId, addr: String, group: GroupId, client: Client) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(node, group, client, rx));
        Forwarder { addr, tx }
    }

    /// Queues `command` (encoded) for the next batch now; the returned future waits for the
    /// leader's answer (and holds no borrow of the forwarder).
    pub(crate) fn forward(
        &self,
        node: NodeId,
        command: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<pb::forward_reply::Result, ForwardError>> + 'static
    {
        let gone = move || ForwardError::Unreachable {
            node,
            message: "forwarding task stopped".into(),
        };
        let (reply, answer) = oneshot::channel();
        let queued = self.tx.send(Pending { command, reply }).map_err(|_| gone());
        async move {
            queued?;
            answer.await.map_err(|_| gone())?
        }
    }
}

/// The batching task: takes what is queued, sends it as one RPC (up to [`IN_FLIGHT`] at once)
/// and hands each command its own reply.
async fn run(
    node: NodeId,
    group: GroupId,
    client: Client,
    mut rx: mpsc::UnboundedReceiver<Pending>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // Take what queued up while waiting for a slot, too.
        let batch = take_batch(first, &mut rx);
        let mut client = client.clone();
        tokio::spawn(async move {
            let (commands, replies): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|p| (p.command, p.reply)).unzip();
            let request = pb::ForwardBatchRequest { group, commands };
            let answer = tokio::time::timeout(BATCH_TIMEOUT, client.forward_batch(request)).await;
            let unreachable = |message: String| ForwardError::Unreachable { node, message };
            let results: Vec<_> = match answer {
                Ok(Ok(reply)) => {
                    let reply = reply.into_inner().replies;
                    if reply.len() == replies.len() {
                        reply.into_iter().map(|r| outcome(r.result)).collect()
                    } else {
                        let why =
                            format!("{} replies to a batch of {}", reply.len(), replies.len());
                        replies
                            .iter()
                            .map(|_| Err(ForwardError::Malformed(why.clone())))
                            .collect()
                    }
                }
                Ok(Err(status)) => replies
                    .iter()
                    .map(|_| Err(ForwardError::transport(node, &status)))
                    .collect(),
                Err(_) => replies
                    .iter()
                    .map(|_| Err(unreachable("forward batch timed out".into())))
                    .collect(),
            };
            for (reply, result) in replies.into_iter().zip(results) {
                // A caller that gave up no longer listens; nothing to do for it.
                let _ = reply.send(result);
            }
            drop(slot);
        });
    }
}

/// `first` plus whatever is queued behind it, within [`MAX_COMMANDS`] and [`MAX_BYTES`].
fn take_batch(first: Pending, rx: &mut mpsc::UnboundedReceiver<Pending>) -> Vec<Pending> {
    let mut bytes = first.command.len();
    let mut batch = vec![first];
    while batch.len() < MAX_COMMANDS && bytes < MAX_BYTES {
        match rx.try_recv() {
            Ok(next) => {
                bytes += next.command.len();
                batch.push(next);
            }
            Err(_) => break,
        }
    }
    batch
}

/// One reply of a batch as the caller's result.
pub(crate) fn outcome(
    result: Option<pb::forward_reply::Result>,
) -> Result<pb::forward_reply::Result, ForwardError> {
    match result {
        Some(pb::forward_reply::Result::NotLeader(n)) => {
            Err(ForwardError::NotLeader { leader: n.leader })
        }
        Some(pb::forward_reply::Result::Unavailable(m)) => Err(ForwardError::Unavailable(m)),
        Some(other) => Ok(other),
        None => Err(ForwardError::Malformed("empty forward reply".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(len: usize) -> Pending {
        Pending {
            command: vec![0; len],
            reply: oneshot::channel().0,
        }
    }

    #[test]
    fn a_batch_takes_what_is_queued_within_its_limits() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for _ in 0..300 {
            tx.send(pending(10)).ok();
        }
        assert_eq!(take_batch(pending(10), &mut rx).len(), MAX_COMMANDS);
        // The rest stays queued for the next batch.
        assert_eq!(
            take_batch(pending(10), &mut rx).len(),
            300 - MAX_COMMANDS + 2
        );
        // Nothing queued: the command leaves alone, at once.
        assert_eq!(take_batch(pending(10), &mut rx).len(), 1);
        // Large commands close a batch by size.
        for _ in 0..3 {
            tx.send(pending(MAX_BYTES / 2)).ok();
        }
        assert_eq!(take_batch(pending(MAX_BYTES / 2), &mut rx).len(), 2);
    }
}
