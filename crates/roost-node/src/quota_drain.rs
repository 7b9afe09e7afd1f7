//! Releasing held publishes after a plan was raised: for every account the metadata group
//! marks, drain each of its queues (in original order, [`CHUNK`] publishes per command so no
//! entry grows with the backlog), then record the drain. Repeating a drain is harmless, so a
//! leader change midway only repeats work.

use roost_state::command as cmd;
use roost_state::{Command, Query, QueryResult, Response, META_GROUP};

use crate::{Node, NodeError};

/// Held publishes appended per command.
const CHUNK: u64 = 256;

/// Drains the held publishes of every upgraded account, unless a backup paused the outboxes
/// (see `backup`).
pub async fn drain(node: &Node) -> Result<(), NodeError> {
    let Some(_turn) = node.outboxes().turn().await else {
        return Ok(());
    };
    let QueryResult::DrainWork(work) = node.read(META_GROUP, Query::DrainWork).await? else {
        return Ok(());
    };
    let mut left: u64 = work.iter().map(|(_, _, queues)| queues.len() as u64).sum();
    node.metrics().set_drain_backlog(left);
    for (account, upgrade, queues) in work {
        for queue in queues {
            let shard = queue.shard();
            loop {
                let chunk = Command::DrainHeldChunk(cmd::DrainHeldChunk {
                    queue: queue.clone(),
                    max: CHUNK,
                });
                match node.write(shard, chunk).await? {
                    Response::Drained { count } if count == CHUNK => {}
                    Response::Drained { .. } | Response::Refused(_) => break,
                    other => {
                        tracing::warn!(?other, "unexpected drain response");
                        break;
                    }
                }
            }
            left = left.saturating_sub(1);
            node.metrics().set_drain_backlog(left);
        }
        node.write(
            META_GROUP,
            Command::DrainDone(cmd::DrainDone { account, upgrade }),
        )
        .await?;
    }
    Ok(())
}
