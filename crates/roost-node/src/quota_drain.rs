//! Releasing held publishes after a plan was raised: for every account the metadata group
//! marks, drain each of its queues (one atomic command per queue, in original order), then
//! record the drain. Repeating a drain is harmless, so a leader change midway only repeats work.

use roost_state::{Command, Query, QueryResult, Response, META_GROUP};

use crate::{Node, NodeError};

/// Drains the held publishes of every upgraded account.
pub async fn drain(node: &Node) -> Result<(), NodeError> {
    let QueryResult::DrainWork(work) = node.read(META_GROUP, Query::DrainWork).await? else {
        return Ok(());
    };
    for (account, upgrade, queues) in work {
        for queue in queues {
            let shard = queue.shard();
            match node.write(shard, Command::DrainHeld { queue }).await? {
                Response::Drained { .. } | Response::Refused(_) => {}
                other => tracing::warn!(?other, "unexpected drain response"),
            }
        }
        node.write(META_GROUP, Command::DrainDone { account, upgrade })
            .await?;
    }
    Ok(())
}
