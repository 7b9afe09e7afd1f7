//! Workspace-scoped calls (jobs, work queues): every command and read of a workspace goes to
//! the one shard that holds all of its jobs and work queues, and team-scoped tokens reach only
//! their teams' work queues.

use roost_auth::Claims;
use roost_state::{ids, Command, GroupId, Query, QueryResult, Response};

use crate::{Api, Error, ErrorCode};

impl Api {
    /// The shard holding `workspace`.
    pub(crate) fn workspace_shard(&self, workspace: &str) -> GroupId {
        ids::workspace_shard(workspace, self.node().shards())
    }

    /// Applies `command` in `workspace`'s shard; a refusal is its error.
    pub(crate) async fn ws_write(
        &self,
        workspace: &str,
        command: Command,
    ) -> Result<Response, Error> {
        match self
            .node()
            .write(self.workspace_shard(workspace), command)
            .await?
        {
            Response::Refused(e) => Err(e.into()),
            other => Ok(other),
        }
    }

    /// Answers `query` in `workspace`'s shard; a refusal is its error.
    pub(crate) async fn ws_read(
        &self,
        workspace: &str,
        query: Query,
    ) -> Result<QueryResult, Error> {
        match self
            .node()
            .read(self.workspace_shard(workspace), query)
            .await?
        {
            QueryResult::Refused(e) => Err(e.into()),
            other => Ok(other),
        }
    }

    /// Refuses a token scoped to other teams acting on work queue or task `id`. A queue's team
    /// never changes, nor a task's queue, so reading it before the write that follows cannot
    /// race.
    pub(crate) async fn team_gate(&self, c: &Claims, id: &str) -> Result<(), Error> {
        if c.teams.is_empty() {
            return Ok(());
        }
        let query = Query::Team {
            workspace: c.workspace.clone(),
            id: id.to_owned(),
        };
        match self.ws_read(&c.workspace, query).await? {
            QueryResult::Team(team) => reaches(c, &team),
            other => Err(Error::unexpected(&other)),
        }
    }
}

/// Refuses a token scoped to other teams than `team`.
pub(crate) fn reaches(c: &Claims, team: &str) -> Result<(), Error> {
    if c.reaches_team(team) {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::TeamForbidden,
        format!("this token acts for teams {:?}, not {team:?}", c.teams),
        "Use a token created with --team for this team, or one without --team (workspace-wide).",
    ))
}

/// An optional idempotency key: 1-255 visible ASCII characters.
pub(crate) fn idempotency(key: Option<String>) -> Result<Option<String>, Error> {
    match key {
        Some(k) if !crate::input::is_valid_idempotency_key(&k) => Err(Error::new(
            ErrorCode::InvalidIdempotencyKey,
            format!(
                "Idempotency-Key must be 1-{} visible ASCII characters",
                crate::input::MAX_IDEMPOTENCY_KEY
            ),
            "Use a UUID or another unique string per logical message.",
        )),
        other => Ok(other),
    }
}
