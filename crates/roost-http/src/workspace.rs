//! Routing of workspace-scoped calls (jobs, work queues): every command and read of a
//! workspace goes to the one shard that holds all of its jobs and work queues.

use roost_state::{ids, Command, Query, QueryResult, Response as Applied};

use crate::{ApiError, AppState};

/// Applies `command` in `workspace`'s shard; a refusal becomes its API error.
pub async fn write(s: &AppState, workspace: &str, command: Command) -> Result<Applied, ApiError> {
    let shard = ids::workspace_shard(workspace, s.node.shards());
    match s.node.write(shard, command).await? {
        Applied::Refused(e) => Err(e.into()),
        other => Ok(other),
    }
}

/// Answers `query` in `workspace`'s shard; a refusal becomes its API error.
pub async fn read(s: &AppState, workspace: &str, query: Query) -> Result<QueryResult, ApiError> {
    let shard = ids::workspace_shard(workspace, s.node.shards());
    match s.node.read(shard, query).await? {
        QueryResult::Refused(e) => Err(e.into()),
        other => Ok(other),
    }
}
